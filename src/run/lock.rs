//! `run.lock`: one coordinating runner (`runner SPEC`, `runner resume`) per run folder, a
//! [`Claim`] on the folder. Workers claim trials instead (`trials/<trial>/claim`).

use std::path::Path;
use std::time::Duration;

use super::claim::{Claim, HeldBy};
use crate::error::{Error, Result};

pub const FILE: &str = "run.lock";

/// Held while a runner coordinates a run folder; removed on drop.
#[derive(Debug)]
pub struct RunLock {
    _claim: Claim,
}

impl RunLock {
    /// Takes the run folder's lock, taking over a stale one with a notice, or says who holds it;
    /// `stale_after`: the run's `stale_after_seconds`.
    pub fn acquire(run_dir: &Path, stale_after: Duration) -> Result<RunLock> {
        let path = run_dir.join(FILE);
        match Claim::acquire(&path, false, stale_after)? {
            Ok(claim) => {
                crate::interrupt::set_lock_file(Some(path));
                Ok(RunLock { _claim: claim })
            }
            Err(HeldBy(why)) => Err(Error::RunLocked(format!("{} is in use by {why}", path.display()))),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        crate::interrupt::set_lock_file(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runner_per_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(dir.path(), crate::run::claim::STALE_AFTER).unwrap();
        let err = RunLock::acquire(dir.path(), crate::run::claim::STALE_AFTER).unwrap_err().to_string();
        assert!(err.contains("run.lock is in use by runner pid"), "{err}");
        drop(lock);
        assert!(!dir.path().join(FILE).exists());
    }
}
