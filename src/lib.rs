//! runner: train and compare image classifiers from a TOML spec.
//!
//! Data flows one way: spec -> trials -> (data, model, device) -> metrics -> run folder -> report.

pub mod backend;
pub mod cli;
pub mod commands;
pub mod data;
pub mod error;
pub mod model;
pub mod report;
pub mod run;
pub mod spec;
pub mod train;

pub use error::{Error, Result};
