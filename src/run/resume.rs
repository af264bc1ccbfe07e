//! What a resumed run finds in its folder: how far each trial got, and whether `--set` would
//! change a trial that has already started.

use std::path::Path;

use crate::error::{Error, Result};
use crate::run::{checkpoint, metrics};
use crate::spec::{Spec, Trial};
use crate::train::EpochMetrics;

/// How far a trial got: its committed epochs, and whether the state after the last one is saved.
#[derive(Debug, Default)]
pub struct Progress {
    pub epochs: Vec<EpochMetrics>,
    /// `checkpoints/epoch-NNN.bpk` and `.optim.bpk` of the last committed epoch exist.
    pub has_state: bool,
}

impl Progress {
    pub fn is_done(&self, spec: &Spec) -> bool {
        self.epochs.len() as u32 >= spec.epochs
    }

    /// Reads how far a trial got, changing nothing.
    pub fn read(trial_dir: &Path) -> Progress {
        let epochs = metrics::read_committed(&trial_dir.join(metrics::FILE));
        let has_state = epochs.last().is_some_and(|last| {
            let (model, optim) = checkpoint::epoch_paths(trial_dir, last.epoch);
            model.is_file() && optim.is_file()
        });
        Progress { epochs, has_state }
    }
}

/// Puts a trial's checkpoints in the state its last committed epoch left: `last.bpk` and
/// `best.bpk` point at the right epoch, uncommitted and temporary files are gone. Every step a
/// killed runner can leave undone is redone here (see [`checkpoint`] for the order of writes).
pub fn settle(trial_dir: &Path, progress: &Progress) -> Result<()> {
    let Some(last) = progress.epochs.last().map(|e| e.epoch) else {
        return settle_fresh(trial_dir);
    };
    if progress.has_state {
        checkpoint::link_last_and_best(trial_dir, &progress.epochs)?;
    }
    checkpoint::remove_stale(trial_dir, progress.has_state.then_some(last))
}

/// Clears a trial that must start over: no epoch state, no last/best checkpoint (metrics.csv is
/// rewritten by its writer).
pub fn settle_fresh(trial_dir: &Path) -> Result<()> {
    checkpoint::remove_stale(trial_dir, None)?;
    for name in ["last", "best"] {
        let _ = std::fs::remove_file(checkpoint::path(trial_dir, name));
    }
    Ok(())
}

/// Keys that say where a trial runs, not what it computes: a resumed run may change them.
const WHERE_IT_RUNS: [&str; 5] = ["backend", "device", "threads", "data_dir", "mirror"];

/// Refuses overrides that would change the recorded sweep, or a trial that has started.
/// `recorded` is each trial as the run folder has it; `progress` how far each got.
pub fn check_changes(run_dir: &Path, recorded: &[Trial], resumed: &[Trial], progress: &[Progress]) -> Result<()> {
    let names = |t: &[Trial]| t.iter().map(Trial::dir_name).collect::<Vec<_>>();
    if names(recorded) != names(resumed) {
        return Err(Error::InvalidValue {
            origin: "--set".into(),
            key: "sweep".into(),
            message: format!(
                "the overrides change the trials of {} ({} -> {} trials); a resumed run continues the \
                 recorded sweep. Start a new run for another sweep: runner SPEC --set ...",
                run_dir.display(),
                recorded.len(),
                resumed.len()
            ),
        });
    }
    for ((old, new), progress) in recorded.iter().zip(resumed).zip(progress) {
        if progress.epochs.is_empty() {
            continue;
        }
        let (old_table, new_table) = (table(&old.spec), table(&new.spec));
        let changed: Vec<String> = old_table
            .iter()
            .filter(|(k, v)| !WHERE_IT_RUNS.contains(&k.as_str()) && new_table.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k} {} -> {}", crate::spec::display_value(v), new_table.get(k).map(crate::spec::display_value).unwrap_or_default()))
            .collect();
        if !changed.is_empty() {
            return Err(Error::InvalidValue {
                origin: "--set".into(),
                key: changed[0].split(' ').next().unwrap_or_default().to_string(),
                message: format!(
                    "would change trial {}, which has {} finished epoch(s): {}. A resumed run may only \
                     change where it runs ({}); start a new run for other values",
                    old.dir_name(),
                    progress.epochs.len(),
                    changed.join(", "),
                    WHERE_IT_RUNS.join(", ")
                ),
            });
        }
    }
    Ok(())
}

fn table(spec: &Spec) -> toml::Table {
    toml::Table::try_from(spec).expect("a Spec always serializes")
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
            })
            .collect()
    }

    #[test]
    fn settle_relinks_last_and_best_and_drops_uncommitted_files() {
        let dir = tempfile::tempdir().unwrap();
        let trial = dir.path();
        std::fs::create_dir(trial.join(checkpoint::DIR)).unwrap();
        let mut writer = metrics::MetricsWriter::start(trial, &[]).unwrap();
        for e in epochs(&[0.5, 0.9]) {
            writer.append(&e).unwrap();
        }
        let write = |path: std::path::PathBuf, text: &str| std::fs::write(path, text).unwrap();
        let (m2, o2) = checkpoint::epoch_paths(trial, 2);
        let (m3, o3) = checkpoint::epoch_paths(trial, 3);
        write(m2.clone(), "model 2");
        write(o2.clone(), "optim 2");
        // Killed after epoch 3's files were written, before its row: epoch 3 is not committed.
        write(m3.clone(), "model 3");
        write(o3.clone(), "optim 3");
        write(checkpoint::path(trial, "last"), "model 1");
        write(trial.join(checkpoint::DIR).join(".epoch-004.bpk.tmp-42"), "half");

        let progress = Progress::read(trial);
        assert_eq!(progress.epochs.len(), 2);
        assert!(progress.has_state);
        assert!(m3.exists(), "reading changes nothing");
        settle(trial, &progress).unwrap();
        assert_eq!(std::fs::read_to_string(checkpoint::path(trial, "last")).unwrap(), "model 2");
        assert_eq!(std::fs::read_to_string(checkpoint::path(trial, "best")).unwrap(), "model 2");
        let mut left: Vec<String> =
            std::fs::read_dir(trial.join(checkpoint::DIR)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["best.bpk", "epoch-002.bpk", "epoch-002.optim.bpk", "last.bpk"]);
    }

    #[test]
    fn a_trial_without_rows_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(checkpoint::DIR)).unwrap();
        let (m1, _) = checkpoint::epoch_paths(dir.path(), 1);
        std::fs::write(&m1, "model 1").unwrap();
        let progress = Progress::read(dir.path());
        assert!(progress.epochs.is_empty() && !progress.has_state);
        settle(dir.path(), &progress).unwrap();
        assert!(!m1.exists());
    }

    #[test]
    fn overrides_may_move_a_started_trial_but_not_change_it() {
        let spec = Spec { sweep: [("seed".to_string(), vec![1.into(), 2.into()])].into(), ..Spec::default() };
        let recorded = crate::spec::expand(&spec).unwrap();
        let progress = [Progress { epochs: epochs(&[0.5]), has_state: true }, Progress::default()];
        let dir = Path::new("runs/x");

        let moved = crate::spec::expand(&Spec { data_dir: "elsewhere".into(), ..spec.clone() }).unwrap();
        check_changes(dir, &recorded, &moved, &progress).unwrap();

        let changed = crate::spec::expand(&Spec { lr: 0.5, ..spec.clone() }).unwrap();
        let err = check_changes(dir, &recorded, &changed, &progress).unwrap_err().to_string();
        assert!(err.contains("would change trial 000_seed=1") && err.contains("lr 0.01 -> 0.5"), "{err}");

        // The second trial has not started: changing only it is fine.
        let mut later = recorded.clone();
        later[1].spec.lr = 0.5;
        check_changes(dir, &recorded, &later, &progress).unwrap();

        let resized = crate::spec::expand(&Spec { sweep: [("seed".to_string(), vec![1.into()])].into(), ..spec }).unwrap();
        let err = check_changes(dir, &recorded, &resized, &progress).unwrap_err().to_string();
        assert!(err.contains("change the trials"), "{err}");
    }
}
