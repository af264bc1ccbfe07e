//! `runner SPEC`: load the spec, check everything a user could get wrong, then train each trial
//! and write its files as it goes.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::RunArgs;
use crate::data::{self, Dataset, FetchOptions};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::report;
use crate::run::summary::{self, Status, TrialSummary};
use crate::run::{Manifest, RunDir, checkpoint, manifest, metrics::MetricsWriter, spec_toml, write_file};
use crate::spec::{self, BackendName, DatasetName, FIELDS, Overrides, Spec, Trial};
use crate::train::{self, EpochMetrics, Observer, TrainError, TrialData};
use crate::backend;

pub fn run(args: RunArgs) -> Result<()> {
    let Some(spec_path) = &args.spec else {
        return Err(Error::InvalidValue {
            origin: "command line".into(),
            key: "SPEC".into(),
            message: "give a spec file, e.g. `runner configs/mnist_cnn.toml` (see `runner --help`)".into(),
        });
    };
    let overrides = Overrides { sets: args.sets.clone(), data_dir: args.data_dir.clone() };
    let (spec, trials) = spec::load(spec_path, &overrides)?;
    if args.dry_run {
        print!("{}", trial_table(&trials));
        return Ok(());
    }

    // Everything that can be wrong with the input is found before anything is written.
    let mut devices = Vec::new();
    for trial in &trials {
        backend::device(trial.spec.backend, trial.spec.device)?;
        let described = backend::describe(trial.spec.backend, trial.spec.device);
        if !devices.contains(&described) {
            devices.push(described);
        }
    }
    let datasets = load_datasets(&trials, &args)?;

    let run_dir = RunDir::create(&args.runs_dir, &spec.name, chrono::Utc::now())?;
    let mut manifest = Manifest::new(devices, trials.len());
    let mut gpu_indices: Vec<u32> = trials.iter().filter(|t| t.spec.backend == BackendName::Cuda).map(|t| t.spec.device).collect();
    gpu_indices.sort_unstable();
    gpu_indices.dedup();
    manifest.gpus = gpu_indices.into_iter().filter_map(backend::gpu_info).collect();
    run_dir.write("spec.toml", spec_toml(&spec).as_bytes())?;
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    if !args.quiet {
        eprintln!("run folder: {}  ({} trial{})", run_dir.path.display(), trials.len(), if trials.len() == 1 { "" } else { "s" });
    }

    let mut summaries: Vec<TrialSummary> = trials.iter().map(TrialSummary::pending).collect();
    run_dir.write(summary::FILE, summary::to_csv(&summaries).as_bytes())?;
    for (i, trial) in trials.iter().enumerate() {
        let data = &datasets[&data_key(&trial.spec)];
        summaries[i] = run_trial(trial, data, &run_dir, &mut manifest, args.quiet)?;
        run_dir.write(summary::FILE, summary::to_csv(&summaries).as_bytes())?;
    }

    manifest.finished_at = Some(manifest::now());
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
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
fn load_datasets(trials: &[Trial], args: &RunArgs) -> Result<HashMap<DataKey, Result<Arc<Dataset>, String>>> {
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
            return Ok(summary);
        }
    };
    if !quiet {
        eprintln!("trial {} {}: {} on {} ({})", trial.index, trial.name, trial.spec.model, trial.spec.dataset, trial.spec.backend);
    }
    let device = backend::device(trial.spec.backend, trial.spec.device)?;
    let data = TrialData::new(dataset, &trial.spec);
    if trial.spec.backend == BackendName::Cuda {
        // Kernels compile once per process: only the first trial of a shape pays much here.
        let seconds = train::warm_up(&trial.spec, &data, &device).map_err(|e| match e {
            TrainError::Run(e) => e,
            other => Error::Backend(other.to_string()),
        })?;
        manifest.warmup_seconds.insert(trial.dir_name(), seconds);
        if !quiet {
            eprintln!("  GPU warm-up (kernel compilation and autotuning): {seconds:.1}s");
        }
    }
    let mut files = TrialFiles::new(&dir, trial, quiet)?;
    let outcome = train::fit(&trial.spec, &data, &device, &mut files);
    files.bar.finish_and_clear();
    summary.epochs = files.epochs;
    match outcome {
        Ok(_) => summary.status = Status::Done,
        Err(TrainError::Diverged { epoch, value, lr }) => {
            summary.status = Status::Failed;
            summary.reason = TrainError::Diverged { epoch, value, lr }.to_string();
            if !quiet {
                eprintln!("  failed: {}", summary.reason);
            }
        }
        Err(TrainError::Run(e)) => return Err(e),
    }
    Ok(summary)
}

/// Writes a trial's metrics and checkpoints as epochs end, and shows progress.
struct TrialFiles {
    dir: PathBuf,
    metrics: MetricsWriter,
    epochs: Vec<EpochMetrics>,
    total_epochs: u32,
    bar: ProgressBar,
    quiet: bool,
}

impl TrialFiles {
    fn new(dir: &Path, trial: &Trial, quiet: bool) -> Result<TrialFiles> {
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
            metrics: MetricsWriter::create(dir)?,
            epochs: Vec::new(),
            total_epochs: trial.spec.epochs,
            bar,
            quiet,
        })
    }
}

impl Observer for TrialFiles {
    fn epoch_started(&mut self, epoch: u32, images: usize) {
        self.bar.reset();
        self.bar.set_length(images as u64);
        self.bar.set_message(format!("epoch {epoch}/{}", self.total_epochs));
    }

    fn batch_done(&mut self, images: usize) {
        self.bar.inc(images as u64);
    }

    fn epoch_done(&mut self, metrics: &EpochMetrics, model: &Model) -> Result<()> {
        self.metrics.append(metrics)?;
        let last = checkpoint::path(&self.dir, "last");
        checkpoint::save(model, &last)?;
        if self.epochs.iter().all(|e| metrics.test_acc > e.test_acc) {
            checkpoint::copy(&last, &checkpoint::path(&self.dir, "best"))?;
        }
        self.epochs.push(metrics.clone());
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
