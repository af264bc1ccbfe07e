// The runner's data parsers, compiled from their own source files (they only use std).
#![allow(dead_code)]

#[path = "../../src/data/idx.rs"]
pub mod idx;

#[path = "../../src/data/cifar.rs"]
pub mod cifar;
