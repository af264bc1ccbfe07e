//! The worker loop over a run folder's trials, shared by every way of running them (`runner
//! SPEC`, `--jobs N`, `runner resume`, `runner worker`, a Slurm task):
//!
//! ```text
//! claim a trial that has not ended -> put its folder in order -> train it from its last
//! verified epoch -> record how it ended (status.json) -> release the claim
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use super::claim::Claim;
use super::pruner::{Decision, Pruner};
use super::resume::{self, Progress};
use super::status::{CLAIM, Ended, claimable_at};
use super::summary::{self, Status};
use super::{RunDir, checkpoint, metrics, trial};
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::spec::Trial;
use crate::{failpoint, interrupt};

/// How a worker runs.
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    pub quiet: bool,
    /// Never download (workers started by a coordinator or by Slurm: the data is in place).
    pub offline: bool,
    /// Only this trial (a Slurm array task); otherwise every claimable trial, in order.
    pub only: Option<usize>,
    /// CPU threads for trials whose spec leaves `threads` at 0 (jobs sharing a machine).
    pub threads: Option<usize>,
    /// GPU for cuda trials instead of the spec's `device` (jobs spread over GPUs).
    pub gpu: Option<u32>,
    /// Several workers share a terminal or a log: one line per event naming its trial, no bars.
    pub tagged: bool,
    /// Rebuild summary.csv at most this often while working; None: the coordinator does.
    pub summary_every: Option<Duration>,
}

/// How a worker's loop ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing left that it may claim.
    Finished,
    /// Stopped by Ctrl-C or SIGTERM, inside a trial (where it was cut off) or between trials.
    Interrupted(Option<Cutoff>),
}

/// Where a stopped worker cut a trial off: the epoch it was in.
#[derive(Debug, Clone, PartialEq)]
pub struct Cutoff {
    pub trial: String,
    pub epoch: u32,
}

/// The worker loop: trains every trial it can claim, until none is left or it is asked to stop.
pub fn work(run_dir: &RunDir, trials: &[Trial], data: &mut DataSets, options: &WorkerOptions) -> Result<Outcome> {
    let mut summarized = Instant::now();
    let indices: Vec<usize> = match options.only {
        Some(i) => vec![i],
        None => (0..trials.len()).collect(),
    };
    for i in indices {
        if interrupt::requested() {
            return Ok(Outcome::Interrupted(None));
        }
        let trial = &trials[i];
        let dir = run_dir.trial_dir(trial);
        if !claimable_at(&dir) {
            continue;
        }
        std::fs::create_dir_all(dir.join(checkpoint::DIR)).map_err(Error::io(&dir))?;
        let Ok(claim) = Claim::acquire(&dir.join(CLAIM), options.quiet, trial.spec.stale_after())? else { continue };
        // Another worker may have ended it between our look and our claim.
        if Ended::read(&dir).is_some_and(|e| e.status.is_final()) {
            continue;
        }
        let pruner = Pruner::new(run_dir, trials, trial, options.only.is_some());
        let ended = train_claimed(trial, &dir, data, options, pruner)?;
        ended.write(&dir)?;
        drop(claim);
        failpoint::hit(|| format!("trial-done:{}", trial.dir_name()));
        if ended.status == Status::Interrupted {
            let epoch = metrics::read_committed(&dir.join(metrics::FILE)).len() as u32 + 1;
            return Ok(Outcome::Interrupted(Some(Cutoff { trial: trial.dir_name(), epoch })));
        }
        if options.summary_every.is_some_and(|every| summarized.elapsed() >= every) {
            summary::rebuild(run_dir, trials)?;
            summarized = Instant::now();
        }
    }
    Ok(Outcome::Finished)
}

/// Puts a claimed trial's folder in order and trains it from its last verified epoch.
fn train_claimed(
    trial: &Trial,
    dir: &Path,
    data: &mut DataSets,
    options: &WorkerOptions,
    pruner: Option<Pruner>,
) -> Result<Ended> {
    let progress = Progress::read(dir);
    progress.check_resumable(&trial.spec, dir)?;
    let done = progress.is_done(&trial.spec);
    resume::settle(dir, &progress, done)?;
    if done {
        // Killed after its last epoch, before it recorded its end: the epoch state can go.
        checkpoint::remove_stale(dir, None)?;
        return Ok(Ended::now(Status::Done, String::new(), None));
    }
    // Killed after a rung's epoch, before its decision: decide now.
    if let (Some(pruner), Some(last)) = (&pruner, progress.kept().last()) {
        let say = |line: &str| {
            if !options.quiet {
                eprintln!("{}: {}", trial.dir_name(), line.trim_start());
            }
        };
        match pruner.decide(last, &say) {
            Decision::GoOn => {}
            Decision::Prune(reason) => {
                checkpoint::remove_stale(dir, None)?;
                return Ok(Ended::now(Status::Pruned, reason, None));
            }
            Decision::Defer(reason) => return Ok(Ended::now(Status::Interrupted, reason, None)),
        }
    }
    let dataset = data.get(&trial.spec, options.offline, options.quiet || options.tagged).clone();
    trial::run(trial, &dataset, progress, dir, options, pruner)
}
