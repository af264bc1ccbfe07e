//! ASHA's pruner over a run folder: the rule is `spec::successive_halving`; this reads the
//! scores it compares from the trials' metrics.csv.

use std::path::PathBuf;

use super::{RunDir, metrics};
use crate::spec::{Monitor, Trial, successive_halving};
use crate::train::{EpochMetrics, schedule};

/// ASHA's decision at a rung, from the run folder's files: a trial goes on only if its monitored
/// validation metric at the rung is among the best `max(1, n / eta)` of the n trials of its
/// grid point that have reached the rung so far (itself included). The same files give the same
/// decision to any worker on any node, and a sequential run decides the same way every time.
pub struct Pruner {
    rungs: Vec<u32>,
    reduction: usize,
    monitor: Monitor,
    /// The trial folders of its grid point, itself included.
    bracket: Vec<PathBuf>,
}

impl Pruner {
    /// The pruner of `trial`, when its search is ASHA.
    pub fn new(run_dir: &RunDir, trials: &[Trial], trial: &Trial) -> Option<Pruner> {
        let rungs = trial.spec.search.rungs(trial.spec.epochs);
        if rungs.is_empty() {
            return None;
        }
        Some(Pruner {
            rungs,
            reduction: trial.spec.search.reduction_factor as usize,
            monitor: trial.spec.monitor,
            bracket: trials.iter().filter(|t| t.group == trial.group).map(|t| run_dir.trial_dir(t)).collect(),
        })
    }

    /// None to go on after `epoch`; else why the trial is pruned.
    pub fn decide(&self, epoch: &EpochMetrics) -> Option<String> {
        if !self.rungs.contains(&epoch.epoch) {
            return None;
        }
        let mine = schedule::monitored(self.monitor, epoch)?;
        let at_rung = |dir: &PathBuf| {
            let rows = metrics::read_committed(&dir.join(metrics::FILE));
            rows.get(epoch.epoch as usize - 1).and_then(|e| schedule::monitored(self.monitor, e))
        };
        let mut scores: Vec<f64> = self.bracket.iter().filter_map(at_rung).collect();
        scores.sort_by(f64::total_cmp);
        successive_halving(mine, &scores, self.reduction).map(|keep| {
            format!(
                "pruned at epoch {} (ASHA): {} {:.4} is not among the best {keep} of the {} trials at this rung",
                epoch.epoch,
                self.monitor,
                mine.abs(),
                scores.len()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::run::metrics::MetricsWriter;

    /// A trial folder whose metrics.csv holds these validation losses, epoch 1 first.
    fn trial_with(dir: &Path, losses: &[f64]) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let mut writer = MetricsWriter::start(dir, &[]).unwrap();
        for (i, &loss) in losses.iter().enumerate() {
            writer.append(&EpochMetrics { epoch: i as u32 + 1, val_loss: Some(loss), val_acc: Some(1.0 - loss), ..EpochMetrics::default() }).unwrap();
        }
        dir.to_path_buf()
    }

    #[test]
    fn pruning_reads_the_rung_of_each_trial_of_the_bracket_from_its_files() {
        let root = tempfile::tempdir().unwrap();
        // Trial a is ahead (it reached rungs 1 and 3), b only rung 1, c none yet: rungs are
        // reached out of order, and each decision counts who has reached that rung.
        let a = trial_with(&root.path().join("a"), &[0.50, 0.40, 0.30]);
        let b = trial_with(&root.path().join("b"), &[0.60]);
        let c = trial_with(&root.path().join("c"), &[]);
        let pruner = |monitor| Pruner { rungs: vec![1, 3], reduction: 3, monitor, bracket: vec![a.clone(), b.clone(), c.clone()] };
        let at = |epoch: u32, loss: f64| EpochMetrics { epoch, val_loss: Some(loss), val_acc: Some(1.0 - loss), ..EpochMetrics::default() };
        let loss = pruner(Monitor::ValLoss);
        // c reaches rung 1 with 0.55 (its row written first): 3 trials, 1 goes on, a's 0.50 is best.
        trial_with(&c, &[0.55]);
        let reason = loss.decide(&at(1, 0.55)).unwrap();
        assert!(reason.contains("not among the best 1 of the 3 trials"), "{reason}");
        // Not a rung: no decision.
        assert_eq!(loss.decide(&at(2, 0.9)), None);
        // At rung 3 only a is there: it goes on whatever its value.
        assert_eq!(loss.decide(&at(3, 0.30)), None);
        // On accuracy (higher is better) the same files rank the same way.
        let acc = pruner(Monitor::ValAcc);
        assert_eq!(acc.decide(&at(1, 0.50)), None);
        assert!(acc.decide(&at(1, 0.55)).is_some());
    }
}
