//! The worker loop over a run folder's trials, shared by every way of running them (`runner
//! SPEC`, `--jobs N`, `runner resume`, `runner worker`, a Slurm task):
//!
//! ```text
//! (TPE: draw its round once the rounds before have ended) ->
//! claim a trial that has not ended -> put its folder in order -> train it from its last
//! verified epoch -> record how it ended (status.json) -> release the claim
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use super::claim::{Claim, HeldBy};
use super::draws::{self, Ready};
use super::pruner::{Decision, Pruner};
use super::resume_point::{self, ResumePoint};
use super::state::Status;
use super::state::{CLAIM, TrialEnd, claimable_at};
use super::summary;
use super::{RunDir, WorkerOptions, checkpoint, metrics, trial};
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::spec::Trial;
use crate::{failpoint, interrupt};

/// How a worker's loop ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEnd {
    /// Nothing left that it may claim.
    Finished,
    /// Stopped by Ctrl-C or SIGTERM, inside a trial (where it was cut off) or between trials.
    Interrupted(Option<CutOff>),
}

/// Where a stopped worker cut a trial off: the epoch it was in.
#[derive(Debug, Clone, PartialEq)]
pub struct CutOff {
    pub trial: String,
    pub epoch: u32,
}

/// The worker loop: trains every trial it can claim, until none is left or it is asked to stop.
/// A TPE trial's round is drawn when the rounds before it have ended (see `draws`): until then
/// the worker waits for the trials still running (a worker of one trial, a Slurm task, too).
pub fn work(run_dir: &RunDir, trials: &[Trial], data: &mut DataSets, options: &WorkerOptions) -> Result<WorkerEnd> {
    let mut trials = trials.to_vec();
    let mut summarized = Instant::now();
    let indices: Vec<usize> = match options.only {
        Some(i) => vec![i],
        None => (0..trials.len()).collect(),
    };
    let mut told = false;
    loop {
        let mut waiting: Option<Vec<String>> = None;
        let mut stuck: Option<Vec<String>> = None;
        let mut trained = false;
        // Grid points whose next round cannot be drawn yet: their later rounds cannot either.
        let mut blocked: Vec<usize> = Vec::new();
        for &i in &indices {
            if interrupt::requested() {
                return Ok(WorkerEnd::Interrupted(None));
            }
            let point = trials[i].group;
            if trials[i].undrawn() && blocked.contains(&point) {
                continue;
            }
            match draws::draw(run_dir, &mut trials, i, options.quiet)? {
                Ready::Drawn => {}
                Ready::Waiting(names) => {
                    waiting.get_or_insert(names);
                    blocked.push(point);
                    continue;
                }
                Ready::Stuck(names) => {
                    stuck.get_or_insert(names);
                    blocked.push(point);
                    continue;
                }
            }
            match work_on(run_dir, &trials, i, data, options)? {
                Step::Skipped => {}
                Step::Trained => trained = true,
                Step::Stopped(cut_off) => return Ok(WorkerEnd::Interrupted(Some(cut_off))),
            }
            if options.summary_every.is_some_and(|every| summarized.elapsed() >= every) {
                summary::rebuild(run_dir, &trials)?;
                summarized = Instant::now();
            }
        }
        match (waiting, stuck) {
            (Some(names), _) => {
                if !told && !options.quiet {
                    eprintln!("waiting for {} to end: TPE draws its next round from them", names.join(", "));
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            // A trial freed since this pass looked at it (another worker stopped): look again.
            (None, Some(_)) if trained => {}
            (None, Some(names)) if options.only.is_some() => {
                return Err(Error::Worker(format!(
                    "{}: its TPE round cannot be drawn: {} of the rounds before {} not ended and no worker runs {}; \
                     `runner resume` (or `runner submit --resume`) runs them first",
                    trials[indices[0]].dir_name(),
                    names.join(", "),
                    if names.len() == 1 { "has" } else { "have" },
                    if names.len() == 1 { "it" } else { "them" },
                )));
            }
            (None, _) => return Ok(WorkerEnd::Finished),
        }
    }
}

/// What the worker did with one trial.
enum Step {
    /// Ended, or held by another worker.
    Skipped,
    Trained,
    /// Stopped inside it.
    Stopped(CutOff),
}

/// Claims `trials[i]` if no other worker has it and it has not ended, and trains it.
fn work_on(run_dir: &RunDir, trials: &[Trial], i: usize, data: &mut DataSets, options: &WorkerOptions) -> Result<Step> {
    let trial = &trials[i];
    let dir = run_dir.trial_dir(trial);
    if !claimable_at(&dir) {
        let ended = TrialEnd::read(&dir).filter(|e| e.status.is_final());
        match (options.only, ended) {
            (Some(_), Some(ended)) => {
                if !options.quiet {
                    eprintln!("{}: already {}; nothing to do", trial.dir_name(), ended.status.as_str());
                }
                return Ok(Step::Skipped);
            }
            // Held: the claim below says by whom.
            (Some(_), None) => {}
            (None, _) => return Ok(Step::Skipped),
        }
    }
    std::fs::create_dir_all(dir.join(checkpoint::DIR)).map_err(Error::io(&dir))?;
    let claim = match Claim::acquire(&dir.join(CLAIM), options.quiet, trial.spec.stale_after())? {
        Ok(claim) => claim,
        // A worker asked for this one trial (a Slurm task) that cannot have it must not end
        // as if it had trained it.
        Err(HeldBy(why)) if options.only.is_some() => {
            return Err(Error::Worker(format!("{}: cannot take this trial: held by {why}", trial.dir_name())));
        }
        Err(_) => return Ok(Step::Skipped),
    };
    // Another worker may have ended it between our look and our claim.
    if TrialEnd::read(&dir).is_some_and(|e| e.status.is_final()) {
        return Ok(Step::Skipped);
    }
    let pruner = Pruner::new(run_dir, trials, trial, options.only.is_some());
    let ended = train_claimed(trial, &dir, data, options, pruner)?;
    ended.write(&dir)?;
    drop(claim);
    failpoint::hit(|| format!("trial-done:{}", trial.dir_name()));
    if ended.status == Status::Interrupted {
        let epoch = metrics::read_committed(&dir.join(metrics::FILE)).len() as u32 + 1;
        return Ok(Step::Stopped(CutOff { trial: trial.dir_name(), epoch }));
    }
    Ok(Step::Trained)
}

/// Puts a claimed trial's folder in order and trains it from its last verified epoch.
fn train_claimed(
    trial: &Trial,
    dir: &Path,
    data: &mut DataSets,
    options: &WorkerOptions,
    pruner: Option<Pruner>,
) -> Result<TrialEnd> {
    let point = ResumePoint::read(dir);
    point.check_resumable(&trial.spec, dir)?;
    let done = point.is_done(&trial.spec);
    resume_point::settle(dir, &point, done)?;
    if done {
        // Killed after its last epoch, before it recorded its end: the epoch state can go.
        checkpoint::remove_stale(dir, None)?;
        return Ok(TrialEnd::now(Status::Done, String::new(), None));
    }
    // Killed after a rung's epoch, before its decision: decide now.
    if let (Some(pruner), Some(last)) = (&pruner, point.kept().last()) {
        let say = |line: &str| {
            if !options.quiet {
                eprintln!("{}: {}", trial.dir_name(), line.trim_start());
            }
        };
        match pruner.decide(last, &say) {
            Decision::GoOn => {}
            Decision::Prune(reason) => {
                checkpoint::remove_stale(dir, None)?;
                return Ok(TrialEnd::now(Status::Pruned, reason, None));
            }
            Decision::Defer(reason) => return Ok(TrialEnd::now(Status::Interrupted, reason, None)),
        }
    }
    let dataset = data.get(&trial.spec, options.offline, options.quiet || options.tagged).clone();
    trial::run(trial, &dataset, point, dir, options, pruner)
}
