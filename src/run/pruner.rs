//! ASHA's pruner over a run folder: the rule is `spec::successive_halving`; this reads the
//! scores it compares from the trials' metrics.csv.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RunDir;
use super::state::Status;
use super::state::TrialState;
use crate::interrupt;
use crate::spec::{Monitor, Trial, successive_halving};
use crate::train::{EpochMetrics, schedule};

/// ASHA's decision at a rung, from the run folder's files: a trial goes on only if its monitored
/// validation metric at the rung is among the best `max(1, n / eta)` of the n trials of its
/// grid point that come before it in sweep order and reached the rung, itself included. Before
/// deciding it waits for each of those earlier trials to reach the rung or end, so the decision
/// is the one a sequential run makes, whatever the number of workers, their speed or the nodes
/// they run on.
pub struct Pruner {
    rungs: Vec<u32>,
    reduction: usize,
    monitor: Monitor,
    /// The trial folders of its grid point that come before it in sweep order.
    earlier: Vec<PathBuf>,
    /// Also wait for an earlier trial that was interrupted and is not running: it is one of the
    /// same submission's array tasks, still queued (a worker of a single trial). Without it, a
    /// worker that takes every trial in order gives up on such a trial: its worker has stopped.
    wait_for_stopped: bool,
    poll: Duration,
}

/// What the pruner says after an epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    GoOn,
    /// Ends the trial, with the reason.
    Prune(String),
    /// No decision can be made now (stopped while waiting, or an earlier trial has no worker):
    /// the trial stops resumable at this epoch, and is decided when it resumes.
    Defer(String),
}

impl Pruner {
    /// The pruner of `trial`, when its search is ASHA; `single`: the worker runs this trial only.
    pub fn new(run_dir: &RunDir, trials: &[Trial], trial: &Trial, single: bool) -> Option<Pruner> {
        let rungs = trial.spec.search.rungs(trial.spec.epochs);
        if rungs.is_empty() {
            return None;
        }
        Some(Pruner {
            rungs,
            reduction: trial.spec.search.reduction_factor as usize,
            monitor: trial.spec.monitor,
            earlier: trials
                .iter()
                .filter(|t| t.group == trial.group && t.index < trial.index)
                .map(|t| run_dir.trial_dir(t))
                .collect(),
            wait_for_stopped: single,
            poll: Duration::from_millis(200),
        })
    }

    /// The decision after `epoch` (committed to metrics.csv); `say` tells the console what
    /// it waits for.
    pub fn decide(&self, epoch: &EpochMetrics, say: &dyn Fn(&str)) -> Decision {
        if !self.rungs.contains(&epoch.epoch) {
            return Decision::GoOn;
        }
        let Some(mine) = schedule::monitored(self.monitor, epoch) else { return Decision::GoOn };
        let mut scores = vec![mine];
        for dir in &self.earlier {
            match self.score_at(dir, epoch.epoch, say) {
                Ok(Some(score)) => scores.push(score),
                Ok(None) => {}
                Err(reason) => return Decision::Defer(reason),
            }
        }
        scores.sort_by(f64::total_cmp);
        match successive_halving(mine, &scores, self.reduction) {
            None => Decision::GoOn,
            Some(keep) => Decision::Prune(format!(
                "pruned at epoch {} (ASHA): {} {:.4} is not among the best {keep} of the {} trials at this rung",
                epoch.epoch,
                self.monitor,
                mine.abs(),
                scores.len()
            )),
        }
    }

    /// An earlier trial's score at `rung`, once it has one or has ended without reaching it
    /// (None); Err when waiting cannot end (stopped, or nobody will run that trial).
    fn score_at(&self, dir: &Path, rung: u32, say: &dyn Fn(&str)) -> Result<Option<f64>, String> {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let mut told = false;
        loop {
            let state = TrialState::read(dir);
            if let Some(row) = state.epochs.get(rung as usize - 1) {
                return Ok(schedule::monitored(self.monitor, row));
            }
            if state.ended.as_ref().is_some_and(|e| e.status.is_final()) {
                return Ok(None);
            }
            let abandoned = match (&state.claim, &state.ended) {
                (Some(claim), _) => !claim.live,
                (None, Some(ended)) => ended.status == Status::Interrupted && !self.wait_for_stopped,
                (None, None) => false,
            };
            if abandoned {
                return Err(format!(
                    "ASHA decides epoch {rung} in sweep order and waits for trial {name}, which no worker is running; \
                     `runner resume` (or `runner submit --resume`) goes on from here"
                ));
            }
            if interrupt::requested() {
                return Err(String::new());
            }
            if !told {
                say(&format!("  waiting for {name} to reach epoch {rung} (ASHA decides in sweep order)"));
                told = true;
            }
            std::thread::sleep(self.poll);
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::run::claim::Claim;
    use crate::run::metrics::MetricsWriter;
    use crate::run::state::{CLAIM, TrialEnd};

    /// A trial folder whose metrics.csv holds these validation losses, epoch 1 first.
    fn trial_with(dir: &Path, losses: &[f64]) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let mut writer = MetricsWriter::start(dir, &[]).unwrap();
        for (i, &loss) in losses.iter().enumerate() {
            writer
                .append(&EpochMetrics {
                    epoch: i as u32 + 1,
                    val_loss: Some(loss),
                    val_acc: Some(1.0 - loss),
                    ..EpochMetrics::default()
                })
                .unwrap();
        }
        dir.to_path_buf()
    }

    fn pruner(monitor: Monitor, earlier: Vec<PathBuf>, single: bool) -> Pruner {
        Pruner {
            rungs: vec![1, 3],
            reduction: 3,
            monitor,
            earlier,
            wait_for_stopped: single,
            poll: Duration::from_millis(10),
        }
    }

    fn at(epoch: u32, loss: f64) -> EpochMetrics {
        EpochMetrics { epoch, val_loss: Some(loss), val_acc: Some(1.0 - loss), ..EpochMetrics::default() }
    }

    fn silent(_: &str) {}

    #[test]
    fn pruning_compares_with_the_earlier_trials_at_the_rung_from_their_files() {
        let root = tempfile::tempdir().unwrap();
        // a ended after rung 3, b was pruned at rung 1: both done with, as in a sequential run.
        let a = trial_with(&root.path().join("a"), &[0.50, 0.40, 0.30]);
        let b = trial_with(&root.path().join("b"), &[0.60]);
        TrialEnd::now(Status::Done, String::new(), None).write(&a).unwrap();
        TrialEnd::now(Status::Pruned, "rung 1".into(), None).write(&b).unwrap();
        let loss = pruner(Monitor::ValLoss, vec![a.clone(), b.clone()], false);
        // Rung 1 with 0.55: 3 trials, 1 goes on, a's 0.50 is best.
        let Decision::Prune(reason) = loss.decide(&at(1, 0.55), &silent) else { panic!("not pruned") };
        assert!(reason.contains("not among the best 1 of the 3 trials"), "{reason}");
        // Not a rung: no decision.
        assert_eq!(loss.decide(&at(2, 0.9), &silent), Decision::GoOn);
        // At rung 3 only a is there (b ended before it): 2 trials, 1 goes on.
        assert_eq!(loss.decide(&at(3, 0.20), &silent), Decision::GoOn);
        assert!(matches!(loss.decide(&at(3, 0.35), &silent), Decision::Prune(_)));
        // On accuracy (higher is better) the same files rank the same way.
        let acc = pruner(Monitor::ValAcc, vec![a.clone(), b.clone()], false);
        assert_eq!(acc.decide(&at(1, 0.45), &silent), Decision::GoOn);
        assert!(matches!(acc.decide(&at(1, 0.55), &silent), Decision::Prune(_)));
        // The first trial of its grid point has no one to lose to, whoever is ahead of it.
        assert_eq!(pruner(Monitor::ValLoss, vec![], false).decide(&at(1, 0.99), &silent), Decision::GoOn);
    }

    #[test]
    fn a_decision_waits_for_an_earlier_trial_that_is_running() {
        let root = tempfile::tempdir().unwrap();
        let a = trial_with(&root.path().join("a"), &[]);
        let claim = Claim::acquire(&a.join(CLAIM), true, crate::run::claim::STALE_AFTER).unwrap().unwrap();
        let writer = {
            let a = a.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                trial_with(&a, &[0.10]);
                drop(claim);
            })
        };
        let said = std::cell::RefCell::new(Vec::new());
        let decision = pruner(Monitor::ValLoss, vec![a], false)
            .decide(&at(1, 0.20), &|line| said.borrow_mut().push(line.to_string()));
        writer.join().unwrap();
        // Had it not waited, it would have gone on alone.
        assert!(matches!(&decision, Decision::Prune(r) if r.contains("of the 2 trials")), "{decision:?}");
        assert_eq!(said.borrow().len(), 1, "one line says what it waits for: {:?}", said.borrow());
    }

    #[test]
    fn an_earlier_trial_nobody_runs_defers_the_decision() {
        let root = tempfile::tempdir().unwrap();
        let a = trial_with(&root.path().join("a"), &[]);
        TrialEnd::now(Status::Interrupted, String::new(), None).write(&a).unwrap();
        // A worker that takes every trial in order passed it: nobody will run it now.
        let Decision::Defer(reason) = pruner(Monitor::ValLoss, vec![a.clone()], false).decide(&at(1, 0.2), &silent)
        else {
            panic!()
        };
        assert!(
            reason.contains("waits for trial a, which no worker is running") && reason.contains("runner resume"),
            "{reason}"
        );
        // A claim its holder left (kill -9) is the same.
        TrialEnd::clear(&a).unwrap();
        std::fs::write(a.join(CLAIM), format!("999999999 {}\n", crate::run::this_host())).unwrap();
        assert!(matches!(
            pruner(Monitor::ValLoss, vec![a.clone()], false).decide(&at(1, 0.2), &silent),
            Decision::Defer(_)
        ));
    }
}
