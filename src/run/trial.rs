//! One claimed trial, trained in its folder: the device and the model state to start from, the
//! epochs (each committed to metrics.csv and checkpoints as it ends, and shown on the console),
//! then how it ended.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::optim::ModuleOptimizer;

use super::WorkerOptions;
use super::console::Console;
use super::metrics::MetricsWriter;
use super::pruner::{Decision, Pruner};
use super::resume_point::{self, ResumePoint};
use super::state::Status;
use super::state::{EpochProgress, TrialEnd};
use super::timings::{self, Timings};
use super::trial_folder::{self, IMAGES_FILE, ImagesRecord};
use super::{checkpoint, tensorboard, write_file};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::spec::{BackendName, DatasetName, Trial};
use crate::train::{self, EpochMetrics, Observer, TrainError, TrainState, TrialData};
use crate::{backend, failpoint, interrupt};

/// An image folder's or Hub set's trial: checks its model fits the images and records them in
/// `images.json`; or why it cannot run (the files changed under a started trial).
fn record_folder_images(trial: &Trial, dataset: &Dataset, dir: &Path, started: bool) -> Result<Option<String>> {
    let images = dataset.images();
    if let Err(e) = trial.spec.validate_images(&images) {
        return Ok(Some(format!("`{}`: {}", e.key, e.message)));
    }
    if started
        && let Some(recorded) = trial_folder::read_images_record(dir)
        && recorded.files_key != dataset.files_key
    {
        return Ok(Some(format!(
            "{}: the {} since this trial started; its epochs were trained on the old files: restore them, or \
             start a new run",
            trial.spec.data_label(),
            match trial.spec.dataset {
                DatasetName::Folder => "image folder changed (files added, removed or modified)",
                _ => "data set's files changed (another commit, config or columns)",
            }
        )));
    }
    // A trial starting now must see the content the run started with (or one a resume with
    // --mixed-data accepted), whichever process loaded it.
    let run = dir.parent().and_then(Path::parent).map(|run| run.join("manifest.json"));
    if !started
        && let Some(Ok(Ok(manifest))) = run.map(|path| super::Manifest::read_or_damaged(&path))
        && let Some(known) = manifest.data_fingerprints.get(&crate::data::fingerprint_label(&trial.spec))
        && !known.contains(&dataset.files_key)
    {
        return Ok(Some(format!(
            "{}: its files changed since the run started; this trial would train on other images than the \
             trials before it: restore the files, or resume with --mixed-data to accept the change",
            trial.spec.data_label()
        )));
    }
    let record = ImagesRecord { images, files_key: dataset.files_key.clone() };
    write_file(&dir.join(IMAGES_FILE), &serde_json::to_vec_pretty(&record).expect("the record serializes"))?;
    Ok(None)
}

/// Trains `trial` in `dir` from `point`, and says how it ended.
pub fn run(
    trial: &Trial,
    data: &Result<Arc<Dataset>, String>,
    point: ResumePoint,
    dir: &Path,
    options: &WorkerOptions,
    pruner: Option<Pruner>,
) -> Result<TrialEnd> {
    write_file(&dir.join("spec.toml"), trial.spec.to_toml().as_bytes())?;
    let dataset = match data {
        Ok(dataset) => dataset,
        Err(message) => return Ok(TrialEnd::now(Status::Failed, format!("data: {message}"), None)),
    };
    if trial.spec.dataset.builtin().is_none()
        && let Some(reason) = record_folder_images(trial, dataset, dir, !point.epochs.is_empty())?
    {
        return Ok(TrialEnd::now(Status::Failed, reason, None));
    }
    let console = Console::new(trial.dir_name(), options.quiet, options.tagged);
    let began = Instant::now();
    let mut timings = Timings { process_to_trial: timings::process_age().unwrap_or(0.0), ..Timings::default() };
    let device = backend::device(trial.spec.backend, options.gpu.unwrap_or(trial.spec.device))?;
    timings.device_init = began.elapsed().as_secs_f64();
    let data = TrialData::new(dataset, &trial.spec);
    let mut state =
        TrainState::fresh(&trial.spec, dataset.shape, dataset.classes.len(), &device).map_err(into_error)?;
    match point.state {
        Some(epoch) => {
            state = checkpoint::load_state(state, dir, point.kept().to_vec())?;
            if (epoch as usize) < point.epochs.len() {
                console.say(&format!(
                    "warning: {}: the state after epoch {} is damaged; continuing from epoch {epoch}'s",
                    dir.display(),
                    point.epochs.len()
                ));
            }
        }
        None if !point.epochs.is_empty() => {
            console.say(&format!(
                "warning: {}: no saved state after epoch {}; restarting the trial",
                dir.display(),
                point.epochs.len()
            ));
            resume_point::settle_fresh(dir)?;
        }
        None => {}
    }
    timings.model_init = began.elapsed().as_secs_f64() - timings.device_init;
    let from = match state.history.len() {
        0 => String::new(),
        done => format!(", from epoch {}", done + 1),
    };
    let (spec, tagged) = (&trial.spec, console.tagged());
    if tagged {
        console.say(&format!("{} on {} ({}{from})", spec.model, spec.data_label(), spec.backend));
    } else {
        console.say(&format!(
            "trial {} {}: {} on {} ({}{from})",
            trial.index,
            trial.name,
            spec.model,
            spec.data_label(),
            spec.backend
        ));
    }
    let mut warmup = None;
    if spec.backend == BackendName::Cuda {
        // Kernels compile once per process: only the first trial of a shape pays much here.
        let seconds = train::warm_up(spec, &data, &device).map_err(into_error)?;
        warmup = Some(seconds);
        timings.warmup = seconds;
        console.say(&format!("  GPU warm-up (kernel compilation and autotuning): {seconds:.1}s"));
    }
    let threads = match (spec.threads, options.threads) {
        (0, Some(threads)) => threads,
        _ => spec.cpu_threads(),
    };
    let mut files = TrialFiles::new(dir, trial, state.history.clone(), console, pruner)?;
    let kept = files.epochs.len();
    files.fit_began = Instant::now();
    let outcome = backend::run_on(spec.backend, threads, || train::fit(spec, &data, &device, state, &mut files))?;
    files.console.finish();
    timings.upload = files.upload_seconds;
    timings.file_writes = files.write_seconds;
    for epoch in &files.epochs[kept..] {
        timings.train += epoch.training_time();
        timings.eval += epoch.eval_seconds.unwrap_or(0.0);
    }
    // An interrupted trial keeps it: a Slurm task stopped at its time limit reads the pace there.
    if !matches!(outcome, Err(TrainError::Interrupted { .. } | TrainError::Paused { .. })) {
        EpochProgress::remove(dir);
    }
    if spec.tensorboard
        && !matches!(outcome, Err(TrainError::Interrupted { .. } | TrainError::Paused { .. } | TrainError::Run(_)))
    {
        tensorboard::write_trial(dir, trial, &files.epochs, Some(outcome.is_ok()))?;
    }
    let console = &files.console;
    let end = match outcome {
        Ok(_) => {
            // The epoch state is only needed to resume; last.bpk and best.bpk stay.
            checkpoint::remove_stale(dir, None)?;
            TrialEnd {
                eval_images_per_second: files.eval_images_per_second,
                ..TrialEnd::now(Status::Done, String::new(), warmup)
            }
        }
        Err(TrainError::Interrupted { .. }) => TrialEnd::now(Status::Interrupted, String::new(), warmup),
        Err(TrainError::Paused { reason, .. }) => {
            if !reason.is_empty() {
                console.say(&format!("  {reason}"));
            }
            TrialEnd::now(Status::Interrupted, reason, warmup)
        }
        Err(TrainError::Pruned { reason, .. }) => {
            // Its epoch state is not needed any more; last.bpk and best.bpk stay.
            checkpoint::remove_stale(dir, None)?;
            console.say(&format!("  {reason}"));
            TrialEnd::now(Status::Pruned, reason, warmup)
        }
        Err(TrainError::Run(e)) => return Err(e),
        Err(diverged) => {
            let reason = diverged.to_string();
            console.say(&format!("  failed: {reason}"));
            TrialEnd::now(Status::Failed, reason, warmup)
        }
    };
    timings.total = began.elapsed().as_secs_f64();
    Ok(TrialEnd { timings: Some(timings), ..end })
}

/// Before the first epoch only a model that cannot be built or a device that fails can stop
/// a trial.
fn into_error(e: TrainError) -> Error {
    match e {
        TrainError::Run(e) => e,
        other => Error::Device(other.to_string()),
    }
}

/// The observer of a training trial: writes its metrics and checkpoints as epochs end, asks
/// the pruner, and tells the console.
struct TrialFiles {
    dir: PathBuf,
    trial: Trial,
    metrics: MetricsWriter,
    epochs: Vec<EpochMetrics>,
    /// Epoch and batch in progress, for failpoints.
    position: (u32, u32),
    console: Console,
    pruner: Option<Pruner>,
    /// The last epoch's test evaluation throughput.
    eval_images_per_second: Option<f64>,
    /// The running epoch as progress.json shows it, its start, and when the file was written.
    in_epoch: EpochProgress,
    epoch_start: Instant,
    shown: Instant,
    /// When training began; from it to the first batch, and the seconds spent writing files.
    fit_began: Instant,
    upload_seconds: f64,
    write_seconds: f64,
}

/// How often progress.json is replaced while an epoch trains.
const SHOW_EVERY: Duration = Duration::from_secs(1);

impl TrialFiles {
    /// `kept`: the epochs a resumed trial already has in metrics.csv.
    fn new(
        dir: &Path,
        trial: &Trial,
        kept: Vec<EpochMetrics>,
        console: Console,
        pruner: Option<Pruner>,
    ) -> Result<TrialFiles> {
        if trial.spec.tensorboard {
            // A resumed trial's events start again from the epochs it keeps.
            tensorboard::write_trial(dir, trial, &kept, None)?;
        }
        Ok(TrialFiles {
            dir: dir.to_path_buf(),
            trial: trial.clone(),
            metrics: MetricsWriter::start(dir, &kept)?,
            epochs: kept,
            position: (0, 0),
            console,
            pruner,
            eval_images_per_second: None,
            in_epoch: EpochProgress { epoch: 0, epochs: trial.spec.epochs, images: 0, of: 0, images_per_second: 0.0 },
            epoch_start: Instant::now(),
            shown: Instant::now(),
            fit_began: Instant::now(),
            upload_seconds: 0.0,
            write_seconds: 0.0,
        })
    }
}

impl Observer for TrialFiles {
    fn epoch_started(&mut self, epoch: u32, images: usize) {
        if self.position == (0, 0) {
            self.upload_seconds = self.fit_began.elapsed().as_secs_f64();
        }
        self.position = (epoch, 0);
        self.console.epoch_started(epoch, self.trial.spec.epochs, images);
        self.in_epoch =
            EpochProgress { epoch, epochs: self.trial.spec.epochs, images: 0, of: images, images_per_second: 0.0 };
        (self.epoch_start, self.shown) = (Instant::now(), Instant::now());
        self.in_epoch.write(&self.dir);
    }

    fn batch_done(&mut self, images: usize) {
        self.position.1 += 1;
        self.console.batch_done(images);
        self.in_epoch.images += images;
        if self.shown.elapsed() >= SHOW_EVERY {
            self.shown = Instant::now();
            self.in_epoch.images_per_second = self.in_epoch.images as f64 / self.epoch_start.elapsed().as_secs_f64();
            self.in_epoch.write(&self.dir);
        }
        failpoint::hit(|| format!("batch:{}:{}:{}", self.trial.dir_name(), self.position.0, self.position.1));
    }

    fn evaluated(&mut self, images_per_second: f64) {
        self.eval_images_per_second = Some(images_per_second);
    }

    fn stop_requested(&self) -> bool {
        let stop = interrupt::requested();
        if stop && self.in_epoch.of > 0 {
            // The pace up to now, stalls included: what a task stopped at its time limit judges by.
            let seconds = self.epoch_start.elapsed().as_secs_f64();
            EpochProgress {
                images_per_second: self.in_epoch.images as f64 / seconds.max(1e-9),
                ..self.in_epoch.clone()
            }
            .write(&self.dir);
        }
        stop
    }

    fn prune(&mut self, metrics: &EpochMetrics) -> std::result::Result<(), TrainError> {
        let Some(pruner) = &self.pruner else { return Ok(()) };
        let epoch = metrics.epoch;
        match pruner.decide(metrics, &|line| self.console.say(line)) {
            Decision::GoOn => Ok(()),
            Decision::Prune(reason) => Err(TrainError::Pruned { epoch, reason }),
            Decision::Defer(reason) => Err(TrainError::Paused { epoch, reason }),
        }
    }

    /// Saves the epoch's state, then commits the epoch by appending its row to metrics.csv, then
    /// points last.bpk (and best.bpk) at it. See `run::checkpoint` for why in this order.
    fn epoch_done(&mut self, metrics: &EpochMetrics, model: &Model, optim: &ModuleOptimizer) -> Result<()> {
        let writing = Instant::now();
        checkpoint::save_state(&self.dir, metrics.epoch, model, optim)?;
        self.metrics.append(metrics)?;
        failpoint::hit(|| format!("committed:{}:{}", self.trial.dir_name(), metrics.epoch));
        self.epochs.push(metrics.clone());
        checkpoint::link_last_and_best(&self.dir, &self.epochs)?;
        checkpoint::remove_stale(&self.dir, Some(metrics.epoch))?;
        if self.trial.spec.tensorboard {
            tensorboard::write_trial(&self.dir, &self.trial, &self.epochs, None)?;
        }
        self.write_seconds += writing.elapsed().as_secs_f64();
        self.console.epoch_done(metrics, self.trial.spec.epochs, self.trial.spec.search.samples());
        Ok(())
    }
}
