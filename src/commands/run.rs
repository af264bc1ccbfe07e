//! `runner SPEC` and `runner resume RUN`: check everything a user could get wrong, then train
//! each trial and write its files as it goes.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::optim::ModuleOptimizer;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{ResumeArgs, RunArgs, TrainArgs};
use crate::data::{self, Dataset, FetchOptions};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::run::lock::RunLock;
use crate::run::manifest::Resumed;
use crate::run::resume::{self, Progress};
use crate::run::summary::{self, Status, TrialSummary};
use crate::run::{Manifest, RunDir, checkpoint, manifest, metrics::MetricsWriter, spec_toml, write_file};
use crate::spec::{self, BackendName, DatasetName, FIELDS, Overrides, Spec, Trial};
use crate::train::{self, EpochMetrics, Observer, TrainError, TrainState, TrialData};
use crate::{backend, failpoint, interrupt, report};

pub fn run(args: RunArgs) -> Result<()> {
    if let Some(run_dir) = args.resume {
        return resume(ResumeArgs { run: run_dir, train: args.train });
    }
    let Some(spec_path) = &args.spec else {
        return Err(Error::InvalidValue {
            origin: "command line".into(),
            key: "SPEC".into(),
            message: "give a spec file, e.g. `runner configs/mnist_cnn.toml` (see `runner --help`)".into(),
        });
    };
    let (spec, trials) = spec::load(spec_path, &overrides(&args.train))?;
    if args.dry_run {
        print!("{}", trial_table(&trials));
        return Ok(());
    }

    // Everything that can be wrong with the input is found before anything is written.
    let devices = check_devices(&trials)?;
    let datasets = load_datasets(&trials, &args.train)?;

    let run_dir = RunDir::create(&args.runs_dir, &spec.name, chrono::Utc::now())?;
    let lock = RunLock::acquire(&run_dir.path)?;
    let mut manifest = Manifest::new(devices, trials.len());
    manifest.gpus = gpus(&trials);
    run_dir.write("spec.toml", spec_toml(&spec).as_bytes())?;
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    if !args.train.quiet {
        eprintln!("run folder: {}  ({} trial{})", run_dir.path.display(), trials.len(), plural(trials.len()));
    }
    let progress = trials.iter().map(|_| Progress::default()).collect();
    execute(&run_dir, &trials, progress, &datasets, manifest, &args.train, lock)
}

/// `runner resume RUN` (or `runner --resume RUN`).
pub fn resume(args: ResumeArgs) -> Result<()> {
    let run_dir = RunDir::open(&args.run)?;
    let lock = RunLock::acquire(&run_dir.path)?;
    let spec_path = run_dir.path.join("spec.toml");
    let (_, recorded) = spec::load(&spec_path, &Overrides::default())?;
    let (spec, trials) = spec::load(&spec_path, &overrides(&args.train))?;
    // The trial folder's spec.toml is what that trial ran with.
    let recorded: Vec<Trial> = recorded
        .into_iter()
        .map(|mut trial| {
            let path = run_dir.trial_dir(&trial).join("spec.toml");
            if let Some(ran) = std::fs::read_to_string(path).ok().and_then(|t| toml::from_str(&t).ok()) {
                trial.spec = ran;
            }
            trial
        })
        .collect();
    let progress: Vec<Progress> = recorded.iter().map(|t| Progress::read(&run_dir.trial_dir(t))).collect();
    resume::check_changes(&run_dir.path, &recorded, &trials, &progress)?;

    let mut manifest = Manifest::read(&run_dir.path.join("manifest.json"))?;
    let to_run: Vec<Trial> = trials.iter().zip(&progress).filter(|(t, p)| !p.is_done(&t.spec)).map(|(t, _)| t.clone()).collect();
    let recorded_done = summary::read_statuses(&run_dir.path.join(summary::FILE)).iter().filter(|(_, s)| s == "done").count();
    if to_run.is_empty() && manifest.finished_at.is_some() && recorded_done == trials.len() {
        eprintln!("nothing to resume: all {} trial{} of {} are done", trials.len(), plural(trials.len()), run_dir.path.display());
        return Ok(());
    }
    let devices = check_devices(&to_run)?;
    let datasets = load_datasets(&to_run, &args.train)?;
    for (trial, progress) in trials.iter().zip(&progress) {
        resume::settle(&run_dir.trial_dir(trial), progress)?;
    }
    add_new(&mut manifest.devices, devices);
    add_new(&mut manifest.gpus, gpus(&to_run));
    manifest.resumed.push(Resumed::now());
    manifest.finished_at = None;
    run_dir.write("spec.toml", spec_toml(&spec).as_bytes())?;
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    if !args.train.quiet {
        let started = trials.iter().zip(&progress).filter(|(t, p)| !p.is_done(&t.spec) && !p.epochs.is_empty()).count();
        eprintln!(
            "resuming {}: {} of {} trial{} to run ({started} already started)",
            run_dir.path.display(),
            to_run.len(),
            trials.len(),
            plural(trials.len()),
        );
    }
    execute(&run_dir, &trials, progress, &datasets, manifest, &args.train, lock)
}

fn overrides(args: &TrainArgs) -> Overrides {
    Overrides { sets: args.sets.clone(), data_dir: args.data_dir.clone() }
}

/// Appends the items `list` does not have yet.
fn add_new<T: PartialEq>(list: &mut Vec<T>, items: Vec<T>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Checks every trial's backend and device; returns them described, deduplicated.
fn check_devices(trials: &[Trial]) -> Result<Vec<String>> {
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

fn gpus(trials: &[Trial]) -> Vec<backend::GpuInfo> {
    let mut indices: Vec<u32> = trials.iter().filter(|t| t.spec.backend == BackendName::Cuda).map(|t| t.spec.device).collect();
    indices.sort_unstable();
    indices.dedup();
    indices.into_iter().filter_map(backend::gpu_info).collect()
}

/// Trains every trial not done yet, keeping summary.csv and manifest.json current, then writes
/// the report. `progress` says how far each trial got in an earlier process.
fn execute(
    run_dir: &RunDir,
    trials: &[Trial],
    progress: Vec<Progress>,
    datasets: &HashMap<DataKey, Result<Arc<Dataset>, String>>,
    mut manifest: Manifest,
    args: &TrainArgs,
    lock: RunLock,
) -> Result<()> {
    interrupt::install();
    let mut summaries: Vec<TrialSummary> = trials
        .iter()
        .zip(&progress)
        .map(|(trial, p)| {
            let mut summary = TrialSummary::pending(trial);
            if p.is_done(&trial.spec) {
                summary.status = Status::Done;
                summary.epochs = p.epochs.clone();
            }
            summary
        })
        .collect();
    run_dir.write(summary::FILE, summary::to_csv(&summaries).as_bytes())?;
    for ((i, trial), progress) in trials.iter().enumerate().zip(progress) {
        if summaries[i].status == Status::Done {
            // A runner killed right after the last epoch may have left its state behind.
            checkpoint::remove_stale(&run_dir.trial_dir(trial), None)?;
            continue;
        }
        let data = &datasets[&data_key(&trial.spec)];
        summaries[i] = run_trial(trial, data, progress, run_dir, &mut manifest, args.quiet)?;
        run_dir.write(summary::FILE, summary::to_csv(&summaries).as_bytes())?;
        if summaries[i].status == Status::Interrupted {
            run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
            drop(lock);
            return Err(Error::Interrupted {
                trial: trial.dir_name(),
                epoch: summaries[i].epochs.len() as u32 + 1,
                run_dir: run_dir.path.clone(),
            });
        }
        failpoint::hit(|| format!("trial-done:{}", trial.dir_name()));
    }

    manifest.finished_at = Some(manifest::now());
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    drop(lock);
    let (header, rows) = summary::table(&summaries);
    print!("{}", report::markdown(&header, &rows));
    // The report is a convenience: a failure to draw it must not fail a finished run.
    let report = crate::report::collect::read_run(&run_dir.path)
        .and_then(|trials| super::report::write(&trials, std::slice::from_ref(&run_dir.path), &run_dir.path));
    match report {
        Ok(_) if !args.quiet => eprintln!("report: {}", run_dir.path.join("report.md").display()),
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not write the report: {e}"),
    }

    let failed = summaries.iter().filter(|s| s.status == Status::Failed).count();
    if failed > 0 {
        return Err(Error::TrialsFailed { failed, total: trials.len(), run_dir: run_dir.path.clone() });
    }
    Ok(())
}

type DataKey = (DatasetName, PathBuf);

fn data_key(spec: &Spec) -> DataKey {
    (spec.dataset, spec.data_dir.clone())
}

/// Loads each data set the trials need, once. A data set that cannot be loaded fails only its
/// own trials, unless no trial can run at all: then it is an input error and nothing is written.
fn load_datasets(trials: &[Trial], args: &TrainArgs) -> Result<HashMap<DataKey, Result<Arc<Dataset>, String>>> {
    let mut loaded = HashMap::new();
    let mut first_error = None;
    for trial in trials {
        let key = data_key(&trial.spec);
        if loaded.contains_key(&key) {
            continue;
        }
        let fetch = FetchOptions {
            offline: args.offline,
            mirror: Some(trial.spec.mirror.clone()).filter(|m| !m.is_empty()),
            quiet: args.quiet || !std::io::stderr().is_terminal(),
        };
        let result = data::load(key.0, &key.1, &fetch).map(Arc::new);
        let result = result.map_err(|e| {
            let message = e.to_string();
            first_error.get_or_insert(e);
            message
        });
        loaded.insert(key, result);
    }
    if let Some(error) = first_error
        && loaded.values().all(Result::is_err)
    {
        return Err(error);
    }
    for ((dataset, _), result) in &loaded {
        if let Err(message) = result {
            eprintln!("warning: the {dataset} trials will fail: {message}");
        }
    }
    Ok(loaded)
}

fn run_trial(
    trial: &Trial,
    data: &Result<Arc<Dataset>, String>,
    progress: Progress,
    run_dir: &RunDir,
    manifest: &mut Manifest,
    quiet: bool,
) -> Result<TrialSummary> {
    let mut summary = TrialSummary::pending(trial);
    let dir = run_dir.trial_dir(trial);
    std::fs::create_dir_all(dir.join(checkpoint::DIR)).map_err(Error::io(&dir))?;
    write_file(&dir.join("spec.toml"), spec_toml(&trial.spec).as_bytes())?;
    let dataset = match data {
        Ok(dataset) => dataset,
        Err(message) => {
            summary.status = Status::Failed;
            summary.reason = format!("data: {message}");
            summary.epochs = progress.epochs;
            return Ok(summary);
        }
    };
    let device = backend::device(trial.spec.backend, trial.spec.device)?;
    let data = TrialData::new(dataset, &trial.spec);
    let mut state = TrainState::fresh(&trial.spec, dataset.shape, &device).map_err(into_error)?;
    let kept = if progress.has_state {
        state = checkpoint::load_state(state, &dir, progress.epochs.len() as u32)?;
        progress.epochs
    } else {
        if !progress.epochs.is_empty() {
            eprintln!("warning: {}: no saved state after epoch {}; restarting the trial", dir.display(), progress.epochs.len());
            resume::settle_fresh(&dir)?;
        }
        Vec::new()
    };
    if !quiet {
        let from = if kept.is_empty() { String::new() } else { format!(", from epoch {}", kept.len() + 1) };
        eprintln!("trial {} {}: {} on {} ({}{from})", trial.index, trial.name, trial.spec.model, trial.spec.dataset, trial.spec.backend);
    }
    if trial.spec.backend == BackendName::Cuda {
        // Kernels compile once per process: only the first trial of a shape pays much here.
        let seconds = train::warm_up(&trial.spec, &data, &device).map_err(into_error)?;
        manifest.warmup_seconds.insert(trial.dir_name(), seconds);
        if !quiet {
            eprintln!("  GPU warm-up (kernel compilation and autotuning): {seconds:.1}s");
        }
    }
    let mut files = TrialFiles::new(&dir, trial, kept, quiet)?;
    let outcome = backend::run_on(trial.spec.backend, trial.spec.cpu_threads(), || {
        train::fit(&trial.spec, &data, &device, state, &mut files)
    })?;
    files.bar.finish_and_clear();
    summary.epochs = std::mem::take(&mut files.epochs);
    match outcome {
        Ok(_) => {
            summary.status = Status::Done;
            // The epoch state is only needed to resume; last.bpk and best.bpk stay.
            checkpoint::remove_stale(&dir, None)?;
        }
        Err(TrainError::Diverged { epoch, value, lr }) => {
            summary.status = Status::Failed;
            summary.reason = TrainError::Diverged { epoch, value, lr }.to_string();
            if !quiet {
                eprintln!("  failed: {}", summary.reason);
            }
        }
        Err(TrainError::Interrupted { .. }) => summary.status = Status::Interrupted,
        Err(TrainError::Run(e)) => return Err(e),
    }
    Ok(summary)
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
    name: String,
    metrics: MetricsWriter,
    epochs: Vec<EpochMetrics>,
    total_epochs: u32,
    /// Epoch and batch in progress, for failpoints.
    position: (u32, u32),
    bar: ProgressBar,
    quiet: bool,
}

impl TrialFiles {
    /// `kept`: the epochs a resumed trial already has in metrics.csv.
    fn new(dir: &Path, trial: &Trial, kept: Vec<EpochMetrics>, quiet: bool) -> Result<TrialFiles> {
        let bar = if quiet || !std::io::stderr().is_terminal() {
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
        Ok(TrialFiles {
            dir: dir.to_path_buf(),
            name: trial.dir_name(),
            metrics: MetricsWriter::start(dir, &kept)?,
            epochs: kept,
            total_epochs: trial.spec.epochs,
            position: (0, 0),
            bar,
            quiet,
        })
    }
}

impl Observer for TrialFiles {
    fn epoch_started(&mut self, epoch: u32, images: usize) {
        self.position = (epoch, 0);
        self.bar.reset();
        self.bar.set_length(images as u64);
        self.bar.set_message(format!("epoch {epoch}/{}", self.total_epochs));
    }

    fn batch_done(&mut self, images: usize) {
        self.position.1 += 1;
        self.bar.inc(images as u64);
        failpoint::hit(|| format!("batch:{}:{}:{}", self.name, self.position.0, self.position.1));
    }

    fn stop_requested(&self) -> bool {
        interrupt::requested()
    }

    /// Saves the epoch's state, then commits the epoch by appending its row to metrics.csv, then
    /// points last.bpk (and best.bpk) at it. See `run::checkpoint` for why in this order.
    fn epoch_done(&mut self, metrics: &EpochMetrics, model: &Model, optim: &ModuleOptimizer) -> Result<()> {
        checkpoint::save_state(&self.dir, metrics.epoch, model, optim)?;
        self.metrics.append(metrics)?;
        failpoint::hit(|| format!("committed:{}:{}", self.name, metrics.epoch));
        self.epochs.push(metrics.clone());
        checkpoint::link_last_and_best(&self.dir, &self.epochs)?;
        checkpoint::remove_stale(&self.dir, Some(metrics.epoch))?;
        if !self.quiet {
            self.bar.suspend(|| {
                eprintln!(
                    "  epoch {}/{}: train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | {:.1}s, {:.0} img/s",
                    metrics.epoch,
                    self.total_epochs,
                    metrics.train_loss,
                    metrics.train_acc * 100.0,
                    metrics.test_loss,
                    metrics.test_acc * 100.0,
                    metrics.epoch_seconds,
                    metrics.images_per_second
                )
            });
        }
        Ok(())
    }
}

/// `--dry-run`: one row per trial with every resolved field.
fn trial_table(trials: &[Trial]) -> String {
    let keys: Vec<&str> = FIELDS.iter().copied().filter(|k| *k != "sweep" && *k != "name").collect();
    let mut header = vec!["index".to_string(), "trial".to_string()];
    header.extend(keys.iter().map(|k| k.to_string()));
    let rows: Vec<Vec<String>> = trials
        .iter()
        .map(|t| {
            let table = toml::Table::try_from(&t.spec).expect("a Spec always serializes");
            let mut row = vec![t.index.to_string(), t.name.clone()];
            row.extend(keys.iter().map(|k| table.get(*k).map(spec::display_value).unwrap_or_default()));
            row
        })
        .collect();
    report::markdown(&header, &rows)
}
