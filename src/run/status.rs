//! Where each trial stands, read from its own files: `trials/<trial>/status.json` (written once
//! the trial ends: done, failed or interrupted), its claim (a worker is on it) and its committed
//! metrics. summary.csv and `runner status` are built from these; workers share no file, so any
//! number of them, on any machines that mount the run folder, can work on one run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::claim::{self, ClaimState};
use super::metrics;
use super::summary::Status;
use crate::error::Result;
use crate::train::EpochMetrics;

pub const FILE: &str = "status.json";
/// The claim file of a trial: held by the worker that trains it.
pub const CLAIM: &str = "claim";

/// How a trial ended, as the worker that ran it recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub host: String,
    pub at: String,
    /// Seconds a GPU trial spent compiling and autotuning kernels before its first epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_seconds: Option<f64>,
    /// Test images per second the trial's model evaluates at (inference only), last epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_images_per_second: Option<f64>,
}

impl Ended {
    pub fn now(status: Status, reason: String, warmup_seconds: Option<f64>) -> Ended {
        Ended {
            status,
            reason,
            host: super::this_host(),
            at: super::manifest::now(),
            warmup_seconds,
            eval_images_per_second: None,
        }
    }

    pub fn write(&self, trial_dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("an Ended always serializes") + "\n";
        super::write_file(&trial_dir.join(FILE), json.as_bytes())?;
        if self.status.is_final() {
            // However it got here (trained, or found complete at resume): no epoch runs any more.
            InEpoch::remove(trial_dir);
        }
        Ok(())
    }

    /// The recorded end of a trial; None if it has not ended (or the file is unreadable).
    pub fn read(trial_dir: &Path) -> Option<Ended> {
        serde_json::from_str(&std::fs::read_to_string(trial_dir.join(FILE)).ok()?).ok()
    }

    /// Forgets how a trial ended, so that a worker takes it again (`runner resume`).
    pub fn clear(trial_dir: &Path) -> Result<()> {
        let path = trial_dir.join(FILE);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(crate::Error::io(&path)(e)),
            _ => Ok(()),
        }
    }
}

/// Where a running trial is inside its epoch: `trials/<trial>/progress.json`, replaced about once
/// a second while it trains and removed when it stops. `runner status` and the `--jobs` bars read
/// it; nothing else does (a stale one, of a killed worker, is ignored when no live claim is held).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InEpoch {
    pub epoch: u32,
    pub epochs: u32,
    /// Training images of this epoch done so far, and in all.
    pub images: usize,
    pub of: usize,
    /// Since the epoch's start.
    pub images_per_second: f64,
}

impl InEpoch {
    pub const FILE: &str = "progress.json";

    /// Best effort, not synced: it is stale within a second anyway, and training must not fail
    /// because it could not be written.
    pub fn write(&self, trial_dir: &Path) {
        let path = trial_dir.join(Self::FILE);
        let tmp = crate::fs::temp_path(&path);
        let json = serde_json::to_string(self).expect("an InEpoch always serializes");
        if std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    pub fn read(trial_dir: &Path) -> Option<InEpoch> {
        serde_json::from_str(&std::fs::read_to_string(trial_dir.join(Self::FILE)).ok()?).ok()
    }

    pub fn remove(trial_dir: &Path) {
        let _ = std::fs::remove_file(trial_dir.join(Self::FILE));
    }

    /// Seconds left in this epoch's training at the rate so far; None before a rate is known.
    pub fn seconds_left(&self) -> Option<f64> {
        (self.images_per_second > 0.0).then(|| self.of.saturating_sub(self.images) as f64 / self.images_per_second)
    }
}

/// A trial as its folder shows it now.
#[derive(Debug, Clone)]
pub struct Observed {
    pub ended: Option<Ended>,
    pub claim: Option<ClaimState>,
    pub epochs: Vec<EpochMetrics>,
    /// Where it is in its running epoch, while a live worker holds it.
    pub in_epoch: Option<InEpoch>,
}

impl Observed {
    pub fn read(trial_dir: &Path) -> Observed {
        let ended = Ended::read(trial_dir);
        let claim = claim::inspect(&trial_dir.join(CLAIM));
        let epochs = metrics::read_committed(&trial_dir.join(metrics::FILE));
        let running = !ended.as_ref().is_some_and(|e| e.status.is_final()) && held(claim.as_ref());
        // The epoch after the committed ones: an older file is from before the last commit.
        let in_epoch = InEpoch::read(trial_dir).filter(|p| running && p.epoch as usize == epochs.len() + 1);
        Observed { ended, claim, epochs, in_epoch }
    }

    /// The status summary.csv shows: how it ended, else running while a live worker holds it,
    /// else pending.
    pub fn status(&self) -> Status {
        match &self.ended {
            // An interrupted trial a worker took again runs.
            Some(ended) if !ended.status.is_final() && self.held() => Status::Running,
            Some(ended) => ended.status,
            None if self.held() => Status::Running,
            None => Status::Pending,
        }
    }

    /// A live worker holds its claim: nobody else touches it.
    pub fn held(&self) -> bool {
        held(self.claim.as_ref())
    }

    /// Ended done or pruned (see [`Status::is_complete`]).
    pub fn is_complete(&self) -> bool {
        self.ended.as_ref().is_some_and(|e| e.status.is_complete())
    }
}

/// A worker may take the trial: not ended as done, failed or pruned, and no live worker on it.
/// Read from its status.json and claim alone (the worker loop asks it of every trial: no need
/// to read metrics.csv).
pub fn claimable_at(trial_dir: &Path) -> bool {
    let ended = Ended::read(trial_dir);
    !ended.is_some_and(|e| e.status.is_final()) && !held(claim::inspect(&trial_dir.join(CLAIM)).as_ref())
}

fn held(claim: Option<&ClaimState>) -> bool {
    claim.is_some_and(|c| c.live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_from_the_trial_folder() {
        let dir = tempfile::tempdir().unwrap();
        let observed = Observed::read(dir.path());
        assert_eq!((observed.status(), observed.held(), claimable_at(dir.path())), (Status::Pending, false, true));

        let claim = claim::Claim::acquire(&dir.path().join(CLAIM), true, claim::STALE_AFTER).unwrap().unwrap();
        let observed = Observed::read(dir.path());
        assert_eq!((observed.status(), observed.held(), claimable_at(dir.path())), (Status::Running, true, false));
        drop(claim);

        Ended::now(Status::Interrupted, String::new(), None).write(dir.path()).unwrap();
        let observed = Observed::read(dir.path());
        assert_eq!(
            (observed.status(), observed.is_complete(), claimable_at(dir.path())),
            (Status::Interrupted, false, true)
        );

        Ended::now(Status::Failed, "diverged".into(), Some(1.5)).write(dir.path()).unwrap();
        let observed = Observed::read(dir.path());
        assert_eq!(
            (observed.status(), observed.is_complete(), claimable_at(dir.path())),
            (Status::Failed, false, false)
        );
        assert_eq!(observed.ended.unwrap().warmup_seconds, Some(1.5));
        Ended::clear(dir.path()).unwrap();
        Ended::clear(dir.path()).unwrap();
        assert!(claimable_at(dir.path()));
        Ended::now(Status::Pruned, "rung 1".into(), None).write(dir.path()).unwrap();
        assert!(Observed::read(dir.path()).is_complete() && !claimable_at(dir.path()));
    }
}
