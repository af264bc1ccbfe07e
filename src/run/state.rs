//! Where a trial stands: [`TrialState`], the one record of it, read from the trial's own files.
//! Its parts have one writer each: `status.json` ([`TrialEnd`], written by [`TrialEnd::write`]
//! once the trial ends), the claim (held by the worker on it), metrics.csv (one row per committed
//! epoch) and `progress.json` ([`EpochProgress`], where the running epoch is). summary.csv, the
//! `--jobs` bars, `runner status`, the pruner and resume all derive what they show from it;
//! workers share no file, so any number of them, on any machines that mount the run folder, can
//! work on one run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::claim::{self, ClaimState};
use super::metrics;
use crate::error::Result;
use crate::train::EpochMetrics;

pub const FILE: &str = "status.json";
/// The claim file of a trial: held by the worker that trains it.
pub const CLAIM: &str = "claim";

/// A trial's status, as summary.csv records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    /// A live worker holds the trial's claim.
    Running,
    Done,
    Failed,
    /// Stopped by Ctrl-C or SIGTERM; `runner resume` continues it from its last finished epoch.
    Interrupted,
    /// Stopped by ASHA at a rung: its validation metric was not among the best there.
    Pruned,
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Status, String> {
        serde_json::from_value(serde_json::Value::String(text.into())).map_err(|_| format!("unknown status {text:?}"))
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::Pruned => "pruned",
        }
    }

    /// Done, failed or pruned: no worker takes it again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Pruned)
    }

    /// Done or pruned: ran its course. `runner resume` and `submit --resume` leave it and take
    /// failed and interrupted trials again.
    pub fn is_complete(self) -> bool {
        matches!(self, Status::Done | Status::Pruned)
    }
}

/// How a trial ended, as the worker that ran it recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialEnd {
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
    /// Where the trial's seconds went in the process that ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<super::timings::Timings>,
}

impl TrialEnd {
    pub fn now(status: Status, reason: String, warmup_seconds: Option<f64>) -> TrialEnd {
        TrialEnd {
            status,
            reason,
            host: super::this_host(),
            at: super::manifest::now(),
            warmup_seconds,
            eval_images_per_second: None,
            timings: None,
        }
    }

    pub fn write(&self, trial_dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a TrialEnd always serializes") + "\n";
        super::write_file(&trial_dir.join(FILE), json.as_bytes())?;
        if self.status.is_final() {
            // However it got here (trained, or found complete at resume): no epoch runs any more.
            EpochProgress::remove(trial_dir);
        }
        Ok(())
    }

    /// The recorded end of a trial; None if it has not ended (or the file is unreadable).
    pub fn read(trial_dir: &Path) -> Option<TrialEnd> {
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
pub struct EpochProgress {
    pub epoch: u32,
    pub epochs: u32,
    /// Training images of this epoch done so far, and in all.
    pub images: usize,
    pub of: usize,
    /// Since the epoch's start.
    pub images_per_second: f64,
}

impl EpochProgress {
    pub const FILE: &str = "progress.json";

    /// Best effort, not synced: it is stale within a second anyway, and training must not fail
    /// because it could not be written.
    pub fn write(&self, trial_dir: &Path) {
        let path = trial_dir.join(Self::FILE);
        let tmp = crate::fs::temp_path(&path);
        let json = serde_json::to_string(self).expect("an EpochProgress always serializes");
        if std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    pub fn read(trial_dir: &Path) -> Option<EpochProgress> {
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

/// A trial as its folder shows it now: the one record of where it stands.
#[derive(Debug, Clone)]
pub struct TrialState {
    pub ended: Option<TrialEnd>,
    pub claim: Option<ClaimState>,
    pub epochs: Vec<EpochMetrics>,
    /// Where it is in its running epoch, while a live worker holds it.
    pub in_epoch: Option<EpochProgress>,
}

impl TrialState {
    pub fn read(trial_dir: &Path) -> TrialState {
        let ended = TrialEnd::read(trial_dir);
        let claim = claim::inspect(&trial_dir.join(CLAIM));
        let epochs = metrics::read_committed(&trial_dir.join(metrics::FILE));
        let running = !ended.as_ref().is_some_and(|e| e.status.is_final()) && held(claim.as_ref());
        // The epoch after the committed ones: an older file is from before the last commit.
        let in_epoch = EpochProgress::read(trial_dir).filter(|p| running && p.epoch as usize == epochs.len() + 1);
        TrialState { ended, claim, epochs, in_epoch }
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

    /// TrialEnd done or pruned (see [`Status::is_complete`]).
    pub fn is_complete(&self) -> bool {
        self.ended.as_ref().is_some_and(|e| e.status.is_complete())
    }

    /// TrialEnd done, failed or pruned: no worker takes it again.
    pub fn is_final(&self) -> bool {
        self.ended.as_ref().is_some_and(|e| e.status.is_final())
    }

    /// Claimed by a worker that is gone, and not ended for good: `runner resume` or another
    /// worker takes it over (`runner status` shows it as stale).
    pub fn is_stale(&self) -> bool {
        self.claim.as_ref().is_some_and(|c| !c.live) && !self.is_final()
    }

    /// Why it ended as it did; empty when nothing was recorded.
    pub fn reason(&self) -> &str {
        self.ended.as_ref().map_or("", |e| e.reason.as_str())
    }
}

/// A worker may take the trial: not ended as done, failed or pruned, and no live worker on it.
/// Read from its status.json and claim alone (the worker loop asks it of every trial: no need
/// to read metrics.csv).
pub fn claimable_at(trial_dir: &Path) -> bool {
    let ended = TrialEnd::read(trial_dir);
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
        let state = TrialState::read(dir.path());
        assert_eq!((state.status(), state.held(), claimable_at(dir.path())), (Status::Pending, false, true));

        let claim = claim::Claim::acquire(&dir.path().join(CLAIM), true, claim::STALE_AFTER).unwrap().unwrap();
        let state = TrialState::read(dir.path());
        assert_eq!((state.status(), state.held(), claimable_at(dir.path())), (Status::Running, true, false));
        drop(claim);

        TrialEnd::now(Status::Interrupted, String::new(), None).write(dir.path()).unwrap();
        let state = TrialState::read(dir.path());
        assert_eq!((state.status(), state.is_complete(), claimable_at(dir.path())), (Status::Interrupted, false, true));

        TrialEnd::now(Status::Failed, "diverged".into(), Some(1.5)).write(dir.path()).unwrap();
        let state = TrialState::read(dir.path());
        assert_eq!((state.status(), state.is_complete(), claimable_at(dir.path())), (Status::Failed, false, false));
        assert_eq!(state.ended.unwrap().warmup_seconds, Some(1.5));
        TrialEnd::clear(dir.path()).unwrap();
        TrialEnd::clear(dir.path()).unwrap();
        assert!(claimable_at(dir.path()));
        TrialEnd::now(Status::Pruned, "rung 1".into(), None).write(dir.path()).unwrap();
        assert!(TrialState::read(dir.path()).is_complete() && !claimable_at(dir.path()));
    }
}
