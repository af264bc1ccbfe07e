//! runner: train and compare image classifiers from a TOML spec.
//!
//! Data flows one way: spec -> trials -> (data, model, device) -> metrics -> run folder -> report.

pub mod backend;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod data;
pub mod error;
pub mod failpoint;
pub mod fs;
pub mod interrupt;
pub mod model;
pub mod ops;
pub mod report;
pub mod run;
pub mod sched;
pub mod spec;
pub mod train;

pub use error::{Error, Result};

/// Burn's CPU backends seed one process-wide RNG: tests that create weights take this lock so
/// that a seeded test never sees another test's draws in between.
#[cfg(test)]
pub(crate) fn burn_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
