//! `runner SPEC`: check everything a user could get wrong, start the run folder, then hand the
//! trials to the coordinator. `--dry-run` lists the trials instead.

use crate::backend;
use crate::cli::{ResumeArgs, RunArgs, TrainArgs};
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::run::worker::WorkerOptions;
use crate::run::{Manifest, RunDir};
use crate::sched::local::threads_per_job;
use crate::spec::{self, DatasetName, FIELDS, Field, Overrides, Trial};
use crate::{interrupt, report};

use super::coordinator;

pub fn run(args: RunArgs) -> Result<()> {
    if let Some(run_dir) = args.resume.resume {
        return super::resume::resume(ResumeArgs { run: run_dir, train: args.train });
    }
    let Some(spec_path) = &args.spec else {
        return Err(Error::Usage {
            origin: "command line".into(),
            message: "`SPEC`: give a spec file, e.g. `runner configs/mnist_cnn.toml` (see `runner --help`)".into(),
        });
    };
    let (spec, trials) = spec::load(spec_path, &overrides(&args.train))?;
    let (offline, quiet) = (args.train.data.download.offline, args.train.output.quiet);
    if args.dry_run.dry_run {
        // An image folder's shape and classes are its files': read them (the built-in sets' are known).
        let folders: Vec<Trial> = trials.iter().filter(|t| t.spec.dataset == DatasetName::Folder).cloned().collect();
        let datasets = if folders.is_empty() { DataSets::default() } else { DataSets::load(&folders, offline, quiet)? };
        check_folder_trials(spec_path, &args.train, &trials, &datasets)?;
        print!("{}", trial_table(&trials, &datasets));
        return Ok(());
    }

    // Everything that can be wrong with the input is found before anything is written.
    interrupt::install();
    let devices = backend::check_devices(&trials)?;
    let datasets = DataSets::load(&trials, offline, quiet)?;
    check_folder_trials(spec_path, &args.train, &trials, &datasets)?;

    let mut manifest = Manifest::new(devices, trials.len());
    manifest.gpus = backend::gpus(&trials);
    let (run_dir, lock, manifest) = RunDir::start(&args.runs_dir.runs_dir, &spec, manifest, chrono::Utc::now())?;
    if !args.train.output.quiet {
        eprintln!("run folder: {}  ({} trial{})", run_dir.path.display(), trials.len(), plural(trials.len()));
    }
    let jobs = args.train.jobs as usize;
    coordinator::execute(&run_dir, &trials, datasets, manifest, jobs, &worker_options(&args.train), lock)
}

/// How the coordinator's workers run: with several jobs on this machine, each gets its share of
/// the cores (unless the spec sets `threads`) and names its trial on every line.
pub(super) fn worker_options(args: &TrainArgs) -> WorkerOptions {
    let jobs = args.jobs as usize;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    WorkerOptions {
        quiet: args.output.quiet,
        offline: args.data.download.offline,
        threads: (jobs > 1).then(|| threads_per_job(jobs, cores)),
        tagged: jobs > 1,
        ..WorkerOptions::default()
    }
}

pub(super) fn overrides(args: &TrainArgs) -> Overrides {
    Overrides { sets: args.sets.clone(), data_dir: args.data.data_dir.clone() }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The checks of an image folder's trials that need its images (a CNN that fits them, one mean
/// and std per channel), made once they are read; each error located like any spec error.
pub(super) fn check_folder_trials(
    spec_path: &std::path::Path,
    args: &TrainArgs,
    trials: &[Trial],
    datasets: &DataSets,
) -> Result<()> {
    for trial in trials.iter().filter(|t| t.spec.dataset == DatasetName::Folder) {
        let Some(images) = datasets.images(&trial.spec) else { continue };
        if let Err(e) = trial.spec.validate_images(&images) {
            return Err(Error::InvalidValue {
                origin: spec::locate(spec_path, &overrides(args), e.key),
                key: e.key.into(),
                message: format!("trial {} ({}): {}", trial.index, trial.spec.folder.display(), e.message),
            });
        }
    }
    Ok(())
}

/// `--dry-run`: one row per trial with every resolved field.
fn trial_table(trials: &[Trial], datasets: &DataSets) -> String {
    let keys: Vec<&str> = FIELDS.iter().filter(|f| Field::per_trial(f)).map(|f| f.name).collect();
    let mut header = vec!["index".to_string(), "trial".to_string()];
    header.extend(keys.iter().map(|k| k.to_string()));
    header.extend(["params".to_string(), "macs".to_string()]);
    let rows: Vec<Vec<String>> = trials
        .iter()
        .map(|t| {
            let table = t.spec.to_table();
            let mut row = vec![t.index.to_string(), t.name.clone()];
            row.extend(keys.iter().map(|k| table.get(*k).map(spec::display_value).unwrap_or_default()));
            let images =
                t.spec.dataset.builtin().or_else(|| datasets.images(&t.spec)).expect("every trial's data set was read");
            let architecture = t.spec.architecture(images.classes.len());
            row.push(crate::model::parameter_count(&architecture, images.shape).to_string());
            row.push(crate::model::macs(&architecture, images.shape).to_string());
            row
        })
        .collect();
    report::markdown(&header, &rows)
}
