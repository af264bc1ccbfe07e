//! Where a trial continues from ([`ResumePoint`]: its committed epochs and newest verified
//! saved state), and putting its checkpoints in the order that point leaves them.

use std::path::Path;

use crate::error::{Error, Result};
use crate::run::{checkpoint, metrics};
use crate::spec::Spec;
use crate::train::EpochMetrics;

/// Where a trial continues from: its committed epochs, and the newest epoch whose saved state
/// (model and optimizer) exists and matches its checksums.
#[derive(Debug, Default)]
pub struct ResumePoint {
    pub epochs: Vec<EpochMetrics>,
    /// The epoch a resumed trial continues after; below the last committed one when a newer
    /// state is damaged (that epoch is trained again: the results stay exact).
    pub state: Option<u32>,
    /// Damaged state files found newer than `state`, with why.
    pub damaged: Vec<String>,
}

impl ResumePoint {
    /// All its epochs are committed, or early stopping ended it.
    pub fn is_done(&self, spec: &Spec) -> bool {
        self.epochs.len() as u32 >= spec.epochs || crate::train::schedule::stopped_at(spec, &self.epochs).is_some()
    }

    /// The committed epochs a resumed trial keeps: those up to its verified state.
    pub fn kept(&self) -> &[EpochMetrics] {
        &self.epochs[..self.state.unwrap_or(0) as usize]
    }

    /// Reads how far a trial got, changing nothing.
    pub fn read(trial_dir: &Path) -> ResumePoint {
        let epochs = metrics::read_committed(&trial_dir.join(metrics::FILE));
        let mut progress = ResumePoint { epochs, state: None, damaged: Vec::new() };
        for epoch in (1..=progress.epochs.len() as u32).rev() {
            let (model, optim) = checkpoint::epoch_paths(trial_dir, epoch);
            if !(model.is_file() && optim.is_file()) {
                continue;
            }
            match checkpoint::verify(&model).and_then(|()| checkpoint::verify(&optim)) {
                Ok(()) => {
                    progress.state = Some(epoch);
                    break;
                }
                Err(e) => progress.damaged.push(e.to_string()),
            }
        }
        progress
    }

    /// Refuses to resume a trial that has started, whose saved states are all damaged: nothing
    /// it could continue from, and its files are left as they are for the user to look at.
    pub fn check_resumable(&self, spec: &Spec, trial_dir: &Path) -> Result<()> {
        if self.is_done(spec) || self.state.is_some() || self.damaged.is_empty() {
            return Ok(());
        }
        Err(Error::Checkpoint(format!(
            "{}\n  {} has no undamaged saved state to continue from; to train it again from the start, \
             delete its folder and resume: rm -r {}",
            self.damaged.join("\n"),
            trial_dir.display(),
            trial_dir.display()
        )))
    }
}

/// Puts a trial's checkpoints in the state its verified epoch state left: `last.bpk` and
/// `best.bpk` point at the right epoch, uncommitted, damaged and temporary files are gone.
/// Every step a killed runner can leave undone is redone here (see [`checkpoint`] for the order
/// of writes). A finished trial keeps its last and best checkpoints as they are.
pub fn settle(trial_dir: &Path, progress: &ResumePoint, done: bool) -> Result<()> {
    if progress.epochs.is_empty() {
        return settle_fresh(trial_dir);
    }
    let relink = match progress.state {
        Some(epoch) if done => epoch as usize == progress.epochs.len(),
        Some(_) => true,
        None => false,
    };
    if relink {
        checkpoint::link_last_and_best(trial_dir, progress.kept())?;
    }
    checkpoint::remove_stale(trial_dir, progress.state)
}

/// Clears a trial that must start over: no epoch state, no last/best checkpoint (metrics.csv is
/// rewritten by its writer).
pub fn settle_fresh(trial_dir: &Path) -> Result<()> {
    checkpoint::remove_stale(trial_dir, None)?;
    for name in ["last", "best"] {
        let checkpoint = checkpoint::path(trial_dir, name);
        let _ = std::fs::remove_file(checkpoint::checksum_path(&checkpoint));
        let _ = std::fs::remove_file(checkpoint);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epochs(accs: &[f64]) -> Vec<EpochMetrics> {
        accs.iter()
            .enumerate()
            .map(|(i, &test_acc)| EpochMetrics {
                epoch: i as u32 + 1,
                train_loss: 0.0,
                train_acc: 0.0,
                test_loss: 0.0,
                test_acc,
                lr: 0.01,
                epoch_seconds: 0.0,
                images_per_second: 0.0,
                finished_at: String::new(),
                ..EpochMetrics::default()
            })
            .collect()
    }

    /// A trial folder whose metrics.csv has committed epochs 1 and 2, with no checkpoints yet.
    fn two_committed_epochs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(checkpoint::DIR)).unwrap();
        let mut writer = metrics::MetricsWriter::start(dir.path(), &[]).unwrap();
        for e in epochs(&[0.5, 0.9]) {
            writer.append(&e).unwrap();
        }
        dir
    }

    fn write(path: std::path::PathBuf, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn settle_relinks_last_and_best_and_drops_uncommitted_files() {
        let dir = two_committed_epochs();
        let trial = dir.path();
        let (m2, o2) = checkpoint::epoch_paths(trial, 2);
        let (m3, o3) = checkpoint::epoch_paths(trial, 3);
        write(m2.clone(), "model 2");
        write(o2.clone(), "optim 2");
        // Killed after epoch 3's files were written, before its row: epoch 3 is not committed.
        write(m3.clone(), "model 3");
        write(o3.clone(), "optim 3");
        write(checkpoint::path(trial, "last"), "model 1");
        write(trial.join(checkpoint::DIR).join(".epoch-004.bpk.tmp-42"), "half");

        let progress = ResumePoint::read(trial);
        assert_eq!(progress.epochs.len(), 2);
        assert_eq!(progress.state, Some(2));
        assert!(m3.exists(), "reading changes nothing");
        settle(trial, &progress, false).unwrap();
        assert_eq!(std::fs::read_to_string(checkpoint::path(trial, "last")).unwrap(), "model 2");
        assert_eq!(std::fs::read_to_string(checkpoint::path(trial, "best")).unwrap(), "model 2");
        let mut left: Vec<String> = std::fs::read_dir(trial.join(checkpoint::DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["best.bpk", "epoch-002.bpk", "epoch-002.optim.bpk", "last.bpk"]);
    }

    #[test]
    fn a_damaged_state_falls_back_to_the_newest_verified_one_or_is_refused() {
        let dir = two_committed_epochs();
        let trial = dir.path();
        let (m1, o1) = checkpoint::epoch_paths(trial, 1);
        let (m2, o2) = checkpoint::epoch_paths(trial, 2);
        for path in [&m1, &o1, &m2, &o2] {
            write(path.clone(), "state");
        }
        // epoch-002.bpk's recorded checksum does not match what is on disk.
        write(checkpoint::checksum_path(&m2), &format!("{}  epoch-002.bpk\n", "0".repeat(64)));
        let spec = Spec { epochs: 3, ..Spec::default() };

        let progress = ResumePoint::read(trial);
        assert_eq!((progress.epochs.len(), progress.state, progress.kept().len()), (2, Some(1), 1));
        assert!(progress.damaged[0].contains("epoch-002.bpk: damaged checkpoint"), "{:?}", progress.damaged);
        progress.check_resumable(&spec, trial).unwrap();
        settle(trial, &progress, false).unwrap();
        assert!(m1.exists() && o1.exists() && !m2.exists(), "the damaged state goes, the verified one stays");
        assert_eq!(std::fs::read_to_string(checkpoint::path(trial, "last")).unwrap(), "state");

        // Nothing verified to fall back to: refused, and every file left as it was.
        std::fs::remove_file(&m1).unwrap();
        write(m2.clone(), "state");
        write(o2.clone(), "state");
        write(checkpoint::checksum_path(&m2), &format!("{}  epoch-002.bpk\n", "0".repeat(64)));
        let progress = ResumePoint::read(trial);
        assert_eq!(progress.state, None);
        let err = progress.check_resumable(&spec, trial).unwrap_err().to_string();
        assert!(err.contains("epoch-002.bpk: damaged") && err.contains("rm -r"), "{err}");
        // A finished trial needs no state.
        progress.check_resumable(&Spec { epochs: 2, ..spec }, trial).unwrap();
    }

    #[test]
    fn a_trial_without_rows_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(checkpoint::DIR)).unwrap();
        let (m1, _) = checkpoint::epoch_paths(dir.path(), 1);
        std::fs::write(&m1, "model 1").unwrap();
        let progress = ResumePoint::read(dir.path());
        assert!(progress.epochs.is_empty() && progress.state.is_none());
        settle(dir.path(), &progress, false).unwrap();
        assert!(!m1.exists());
    }
}
