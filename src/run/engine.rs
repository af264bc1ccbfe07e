//! The run engine: one worker loop over a run folder's trials, shared by every way of running
//! them (`runner SPEC`, `--jobs N`, `runner resume`, `runner worker`, a Slurm task):
//!
//! ```text
//! claim a trial that has not ended -> put its folder in order -> train it from its last
//! verified epoch -> record how it ended (status.json) -> release the claim
//! ```
//!
//! and the coordinator around it: run N workers, then rebuild summary.csv, finish the manifest
//! and write the report.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::optim::ModuleOptimizer;
use indicatif::{ProgressBar, ProgressStyle};

use super::claim::Claim;
use super::lock::RunLock;
use super::metrics::MetricsWriter;
use super::resume::{self, Progress};
use super::status::{CLAIM, Ended, claimable_at};
use super::summary::{self, Status, TrialSummary};
use super::{Manifest, RunDir, checkpoint, manifest, spec_toml, write_file};
use crate::data::{self, Dataset, FetchOptions};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::spec::{BackendName, DatasetName, Spec, Trial};
use crate::train::{self, EpochMetrics, Observer, TrainError, TrainState, TrialData};
use crate::{backend, failpoint, interrupt, report};

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
    /// Stopped by Ctrl-C or SIGTERM; `trial` was cut off in `epoch` (None: between trials).
    Interrupted { trial: Option<String>, epoch: u32 },
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
            return Ok(Outcome::Interrupted { trial: None, epoch: 0 });
        }
        let trial = &trials[i];
        let dir = run_dir.trial_dir(trial);
        if !claimable_at(&dir) {
            continue;
        }
        std::fs::create_dir_all(dir.join(checkpoint::DIR)).map_err(Error::io(&dir))?;
        let Ok(claim) = Claim::acquire(&dir.join(CLAIM), options.quiet)? else { continue };
        // Another worker may have ended it between our look and our claim.
        if Ended::read(&dir).is_some_and(|e| e.status.is_final()) {
            continue;
        }
        let pruner = Pruner::new(run_dir, trials, trial);
        let ended = train_claimed(trial, &dir, data, options, pruner)?;
        ended.write(&dir)?;
        drop(claim);
        failpoint::hit(|| format!("trial-done:{}", trial.dir_name()));
        if ended.status == Status::Interrupted {
            let epoch = super::metrics::read_committed(&dir.join(super::metrics::FILE)).len() as u32 + 1;
            return Ok(Outcome::Interrupted { trial: Some(trial.dir_name()), epoch });
        }
        if options.summary_every.is_some_and(|every| summarized.elapsed() >= every) {
            summary::rebuild(run_dir, trials)?;
            summarized = Instant::now();
        }
    }
    Ok(Outcome::Finished)
}

/// Puts a claimed trial's folder in order and trains it from its last verified epoch.
fn train_claimed(trial: &Trial, dir: &Path, data: &mut DataSets, options: &WorkerOptions, pruner: Option<Pruner>) -> Result<Ended> {
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
    if let (Some(pruner), Some(last)) = (&pruner, progress.kept().last())
        && let Some(reason) = pruner.decide(last)
    {
        return Ok(Ended::now(Status::Pruned, reason, None));
    }
    let dataset = data.get(&trial.spec, options).clone();
    run_trial(trial, &dataset, progress, dir, options, pruner)
}

/// ASHA's decision at a rung, from the run folder's files: a trial goes on only if its monitored
/// validation metric at the rung is among the best `max(1, n / eta)` of the n trials of its
/// grid point that have reached the rung so far (itself included). The same files give the same
/// decision to any worker on any node, and a sequential run decides the same way every time.
pub struct Pruner {
    rungs: Vec<u32>,
    reduction: usize,
    monitor: crate::spec::Monitor,
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
        let mine = train::schedule::monitored(self.monitor, epoch)?;
        let at_rung = |dir: &PathBuf| {
            let rows = super::metrics::read_committed(&dir.join(super::metrics::FILE));
            rows.get(epoch.epoch as usize - 1).and_then(|e| train::schedule::monitored(self.monitor, e))
        };
        let mut scores: Vec<f64> = self.bracket.iter().filter_map(at_rung).collect();
        scores.sort_by(f64::total_cmp);
        decide(mine, &scores, self.reduction).map(|keep| {
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

/// The successive-halving rule on sorted scores (lower is better, `mine` among them): None to
/// go on, else how many go on from this rung.
fn decide(mine: f64, sorted: &[f64], reduction: usize) -> Option<usize> {
    let keep = (sorted.len() / reduction).max(1);
    let cutoff = sorted.get(keep - 1).copied().unwrap_or(mine);
    (mine > cutoff).then_some(keep)
}

/// The data sets of a run, each loaded once per process.
#[derive(Default)]
pub struct DataSets {
    loaded: HashMap<DataKey, Result<Arc<Dataset>, String>>,
}

type DataKey = (DatasetName, PathBuf);

fn data_key(spec: &Spec) -> DataKey {
    (spec.dataset, spec.data_dir.clone())
}

impl DataSets {
    /// Loads (downloading unless `offline`) what `trials` need, before anything is written. A
    /// data set that cannot be loaded fails only its own trials, unless no trial can run at all:
    /// then it is an input error.
    pub fn load(trials: &[Trial], offline: bool, quiet: bool) -> Result<DataSets> {
        let mut sets = DataSets::default();
        let mut first_error = None;
        for trial in trials {
            let key = data_key(&trial.spec);
            if sets.loaded.contains_key(&key) {
                continue;
            }
            let result = load_one(&trial.spec, offline, quiet).map_err(|e| {
                let message = e.to_string();
                first_error.get_or_insert(e);
                message
            });
            sets.loaded.insert(key, result);
        }
        if let Some(error) = first_error
            && sets.loaded.values().all(Result::is_err)
        {
            return Err(error);
        }
        for ((dataset, _), result) in &sets.loaded {
            if let Err(message) = result {
                eprintln!("warning: the {dataset} trials will fail: {message}");
            }
        }
        Ok(sets)
    }

    fn get(&mut self, spec: &Spec, options: &WorkerOptions) -> &Result<Arc<Dataset>, String> {
        self.loaded
            .entry(data_key(spec))
            .or_insert_with(|| load_one(spec, options.offline, options.quiet || options.tagged).map_err(|e| e.to_string()))
    }
}

fn load_one(spec: &Spec, offline: bool, quiet: bool) -> Result<Arc<Dataset>> {
    let fetch = FetchOptions {
        offline,
        mirror: Some(spec.mirror.clone()).filter(|m| !m.is_empty()),
        quiet: quiet || !std::io::stderr().is_terminal(),
    };
    data::load(spec.dataset, &spec.data_dir, &fetch).map(Arc::new)
}

fn run_trial(
    trial: &Trial,
    data: &Result<Arc<Dataset>, String>,
    progress: Progress,
    dir: &Path,
    options: &WorkerOptions,
    pruner: Option<Pruner>,
) -> Result<Ended> {
    write_file(&dir.join("spec.toml"), spec_toml(&trial.spec).as_bytes())?;
    let dataset = match data {
        Ok(dataset) => dataset,
        Err(message) => return Ok(Ended::now(Status::Failed, format!("data: {message}"), None)),
    };
    let say = |line: String| {
        if !options.quiet {
            if options.tagged {
                eprintln!("{}: {line}", trial.dir_name());
            } else {
                eprintln!("{line}");
            }
        }
    };
    let device = backend::device(trial.spec.backend, options.gpu.unwrap_or(trial.spec.device))?;
    let data = TrialData::new(dataset, &trial.spec);
    let mut state = TrainState::fresh(&trial.spec, dataset.shape, &device).map_err(into_error)?;
    match progress.state {
        Some(epoch) => {
            state = checkpoint::load_state(state, dir, progress.kept().to_vec())?;
            if (epoch as usize) < progress.epochs.len() {
                say(format!(
                    "warning: {}: the state after epoch {} is damaged; continuing from epoch {epoch}'s",
                    dir.display(),
                    progress.epochs.len()
                ));
            }
        }
        None if !progress.epochs.is_empty() => {
            say(format!("warning: {}: no saved state after epoch {}; restarting the trial", dir.display(), progress.epochs.len()));
            resume::settle_fresh(dir)?;
        }
        None => {}
    }
    let from = match state.history.len() {
        0 => String::new(),
        done => format!(", from epoch {}", done + 1),
    };
    if options.tagged {
        say(format!("{} on {} ({}{from})", trial.spec.model, trial.spec.dataset, trial.spec.backend));
    } else {
        say(format!("trial {} {}: {} on {} ({}{from})", trial.index, trial.name, trial.spec.model, trial.spec.dataset, trial.spec.backend));
    }
    let mut warmup = None;
    if trial.spec.backend == BackendName::Cuda {
        // Kernels compile once per process: only the first trial of a shape pays much here.
        let seconds = train::warm_up(&trial.spec, &data, &device).map_err(into_error)?;
        warmup = Some(seconds);
        say(format!("  GPU warm-up (kernel compilation and autotuning): {seconds:.1}s"));
    }
    let threads = match (trial.spec.threads, options.threads) {
        (0, Some(threads)) => threads,
        _ => trial.spec.cpu_threads(),
    };
    let mut files = TrialFiles::new(dir, trial, state.history.clone(), options, pruner)?;
    let outcome = backend::run_on(trial.spec.backend, threads, || train::fit(&trial.spec, &data, &device, state, &mut files))?;
    files.bar.finish_and_clear();
    if trial.spec.tensorboard && !matches!(outcome, Err(TrainError::Interrupted { .. }) | Err(TrainError::Run(_))) {
        super::tensorboard::write_trial(dir, trial, &files.epochs, Some(outcome.is_ok()))?;
    }
    Ok(match outcome {
        Ok(_) => {
            // The epoch state is only needed to resume; last.bpk and best.bpk stay.
            checkpoint::remove_stale(dir, None)?;
            Ended::now(Status::Done, String::new(), warmup)
        }
        Err(TrainError::Interrupted { .. }) => Ended::now(Status::Interrupted, String::new(), warmup),
        Err(TrainError::Pruned { reason, .. }) => {
            // Its epoch state is not needed any more; last.bpk and best.bpk stay.
            checkpoint::remove_stale(dir, None)?;
            say(format!("  {reason}"));
            Ended::now(Status::Pruned, reason, warmup)
        }
        Err(TrainError::Run(e)) => return Err(e),
        Err(diverged) => {
            let reason = diverged.to_string();
            say(format!("  failed: {reason}"));
            Ended::now(Status::Failed, reason, warmup)
        }
    })
}

fn into_error(e: TrainError) -> Error {
    match e {
        TrainError::Run(e) => e,
        other => Error::Backend(other.to_string()),
    }
}

/// Writes a trial's metrics and checkpoints as epochs end, and shows progress.
struct TrialFiles {
    dir: PathBuf,
    trial: Trial,
    metrics: MetricsWriter,
    epochs: Vec<EpochMetrics>,
    /// Epoch and batch in progress, for failpoints.
    position: (u32, u32),
    bar: ProgressBar,
    quiet: bool,
    tagged: bool,
    pruner: Option<Pruner>,
}

impl TrialFiles {
    /// `kept`: the epochs a resumed trial already has in metrics.csv.
    fn new(dir: &Path, trial: &Trial, kept: Vec<EpochMetrics>, options: &WorkerOptions, pruner: Option<Pruner>) -> Result<TrialFiles> {
        let bar = if options.quiet || options.tagged || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len} img {per_sec} ETA {eta}")
                    .expect("the template is valid")
                    .progress_chars("=> "),
            );
            bar
        };
        if trial.spec.tensorboard {
            // A resumed trial's events start again from the epochs it keeps.
            super::tensorboard::write_trial(dir, trial, &kept, None)?;
        }
        Ok(TrialFiles {
            dir: dir.to_path_buf(),
            trial: trial.clone(),
            metrics: MetricsWriter::start(dir, &kept)?,
            epochs: kept,
            position: (0, 0),
            bar,
            quiet: options.quiet,
            tagged: options.tagged,
            pruner,
        })
    }
}

impl Observer for TrialFiles {
    fn epoch_started(&mut self, epoch: u32, images: usize) {
        self.position = (epoch, 0);
        self.bar.reset();
        self.bar.set_length(images as u64);
        self.bar.set_message(format!("epoch {epoch}/{}", self.trial.spec.epochs));
    }

    fn batch_done(&mut self, images: usize) {
        self.position.1 += 1;
        self.bar.inc(images as u64);
        failpoint::hit(|| format!("batch:{}:{}:{}", self.trial.dir_name(), self.position.0, self.position.1));
    }

    fn stop_requested(&self) -> bool {
        interrupt::requested()
    }

    fn prune(&mut self, metrics: &EpochMetrics) -> Option<String> {
        self.pruner.as_ref()?.decide(metrics)
    }

    /// Saves the epoch's state, then commits the epoch by appending its row to metrics.csv, then
    /// points last.bpk (and best.bpk) at it. See `run::checkpoint` for why in this order.
    fn epoch_done(&mut self, metrics: &EpochMetrics, model: &Model, optim: &ModuleOptimizer) -> Result<()> {
        checkpoint::save_state(&self.dir, metrics.epoch, model, optim)?;
        self.metrics.append(metrics)?;
        failpoint::hit(|| format!("committed:{}:{}", self.trial.dir_name(), metrics.epoch));
        self.epochs.push(metrics.clone());
        checkpoint::link_last_and_best(&self.dir, &self.epochs)?;
        checkpoint::remove_stale(&self.dir, Some(metrics.epoch))?;
        if self.trial.spec.tensorboard {
            super::tensorboard::write_trial(&self.dir, &self.trial, &self.epochs, None)?;
        }
        if !self.quiet {
            let line = format!(
                "  epoch {}/{}: train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | {:.1}s, {:.0} img/s",
                metrics.epoch,
                self.trial.spec.epochs,
                metrics.train_loss,
                metrics.train_acc * 100.0,
                metrics.test_loss,
                metrics.test_acc * 100.0,
                metrics.epoch_seconds,
                metrics.images_per_second
            );
            if self.tagged {
                eprintln!("{}:{line}", self.trial.dir_name());
            } else {
                self.bar.suspend(|| eprintln!("{line}"));
            }
        }
        Ok(())
    }
}

/// Checks every trial's backend and device; returns them described, deduplicated.
pub fn check_devices(trials: &[Trial]) -> Result<Vec<String>> {
    let mut devices = Vec::new();
    for trial in trials {
        backend::device(trial.spec.backend, trial.spec.device)?;
        let described = backend::describe(trial.spec.backend, trial.spec.device);
        if !devices.contains(&described) {
            devices.push(described);
        }
    }
    Ok(devices)
}

/// The GPUs the cuda trials use, for the manifest.
pub fn gpus(trials: &[Trial]) -> Vec<backend::GpuInfo> {
    let mut indices: Vec<u32> = trials.iter().filter(|t| t.spec.backend == BackendName::Cuda).map(|t| t.spec.device).collect();
    indices.sort_unstable();
    indices.dedup();
    indices.into_iter().filter_map(backend::gpu_info).collect()
}

/// Runs every trial of `run_dir` that has not ended with `jobs` workers (this process when 1,
/// else worker processes), then finishes the run: summary.csv, manifest, table and report.
pub fn execute(
    run_dir: &RunDir,
    trials: &[Trial],
    mut data: DataSets,
    manifest: Manifest,
    jobs: usize,
    options: &WorkerOptions,
    lock: RunLock,
) -> Result<()> {
    summary::rebuild(run_dir, trials)?;
    write_experiment(run_dir, trials)?;
    let outcome = if jobs <= 1 {
        let options = WorkerOptions { summary_every: Some(Duration::from_secs(30)), ..options.clone() };
        work(run_dir, trials, &mut data, &options)?
    } else {
        drop(data);
        crate::sched::local::run_workers(run_dir, trials, jobs, options)?
    };
    finish(run_dir, trials, manifest, lock, outcome, options.quiet)
}

/// The run's TensorBoard HParams experiment, unless every trial has `tensorboard = false`.
pub fn write_experiment(run_dir: &RunDir, trials: &[Trial]) -> Result<()> {
    match trials.iter().find(|t| t.spec.tensorboard) {
        Some(first) => super::tensorboard::write_experiment(&run_dir.path, &first.spec.name, trials),
        None => Ok(()),
    }
}

/// Rebuilds summary.csv from the trial folders, records the end in the manifest when every trial
/// has ended, prints the table and writes the report.
pub fn finish(run_dir: &RunDir, trials: &[Trial], mut manifest: Manifest, lock: RunLock, outcome: Outcome, quiet: bool) -> Result<()> {
    let summaries = summary::rebuild(run_dir, trials)?;
    let unfinished: Vec<&TrialSummary> = summaries.iter().filter(|s| !s.status.is_final()).collect();
    if let Outcome::Interrupted { trial, epoch } = outcome {
        run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
        drop(lock);
        let (trial, epoch) = match trial {
            Some(trial) => (trial, epoch),
            None => unfinished
                .iter()
                .find(|s| s.status == Status::Interrupted)
                .or(unfinished.first())
                .map_or((String::new(), 0), |s| (s.trial.dir_name(), s.epochs.len() as u32 + 1)),
        };
        return Err(Error::Interrupted { trial, epoch, run_dir: run_dir.path.clone() });
    }
    if unfinished.is_empty() {
        manifest.finished_at = Some(manifest::now());
    }
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    drop(lock);
    let (header, rows) = summary::table(&summaries);
    print!("{}", report::markdown(&header, &rows));
    // The report is a convenience: a failure to draw it must not fail a finished run.
    let written = crate::report::write(&summaries, std::slice::from_ref(&run_dir.path), &run_dir.path);
    match written {
        Ok(_) if !quiet => eprintln!("report: {}", run_dir.path.join("report.md").display()),
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not write the report: {e}"),
    }
    if !unfinished.is_empty() {
        return Err(Error::Unfinished { unfinished: unfinished.len(), total: trials.len(), run_dir: run_dir.path.clone() });
    }
    let failed = summaries.iter().filter(|s| s.status == Status::Failed).count();
    if failed > 0 {
        return Err(Error::TrialsFailed { failed, total: trials.len(), run_dir: run_dir.path.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let loss = pruner(crate::spec::Monitor::ValLoss);
        // c reaches rung 1 with 0.55 (its row written first): 3 trials, 1 goes on, a's 0.50 is best.
        trial_with(&c, &[0.55]);
        let reason = loss.decide(&at(1, 0.55)).unwrap();
        assert!(reason.contains("not among the best 1 of the 3 trials"), "{reason}");
        // Not a rung: no decision.
        assert_eq!(loss.decide(&at(2, 0.9)), None);
        // At rung 3 only a is there: it goes on whatever its value.
        assert_eq!(loss.decide(&at(3, 0.30)), None);
        // On accuracy (higher is better) the same files rank the same way.
        let acc = pruner(crate::spec::Monitor::ValAcc);
        assert_eq!(acc.decide(&at(1, 0.50)), None);
        assert!(acc.decide(&at(1, 0.55)).is_some());
    }

    #[test]
    fn successive_halving_keeps_the_best_third_and_the_first_alone() {
        use super::decide;
        // Lower is better. The first trial at a rung has no one to lose to.
        assert_eq!(decide(0.5, &[0.5], 3), None);
        // Two trials: one goes on (max(1, 2/3)); the worse is pruned.
        assert_eq!(decide(0.4, &[0.4, 0.5], 3), None);
        assert_eq!(decide(0.5, &[0.4, 0.5], 3), Some(1));
        // Six trials: the best two go on.
        let six = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        assert_eq!(decide(0.2, &six, 3), None);
        assert_eq!(decide(0.3, &six, 3), Some(2));
        // Ties at the cutoff go on.
        assert_eq!(decide(0.2, &[0.1, 0.2, 0.2, 0.4, 0.5, 0.6], 3), None);
        // eta 2: half go on.
        assert_eq!(decide(0.2, &[0.1, 0.2, 0.3, 0.4], 2), None);
        assert_eq!(decide(0.3, &[0.1, 0.2, 0.3, 0.4], 2), Some(2));
    }
}
