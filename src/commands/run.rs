//! `runner SPEC`: check everything a user could get wrong, start the run folder, then hand the
//! trials to the coordinator. `--dry-run` lists the trials instead.

use crate::backend;
use crate::cli::{ResumeArgs, RunArgs, TrainArgs};
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::run::worker::WorkerOptions;
use crate::run::{Manifest, RunDir};
use crate::sched::local::threads_per_job;
use crate::spec::{self, FIELDS, Field, Overrides, Trial};
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
    if args.dry_run.dry_run {
        print!("{}", trial_table(&trials));
        return Ok(());
    }

    // Everything that can be wrong with the input is found before anything is written.
    interrupt::install();
    let devices = backend::check_devices(&trials)?;
    let datasets = DataSets::load(&trials, args.train.data.download.offline, args.train.output.quiet)?;

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

/// `--dry-run`: one row per trial with every resolved field.
fn trial_table(trials: &[Trial]) -> String {
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
            let (architecture, shape) = (t.spec.architecture(), t.spec.dataset.image_shape());
            row.push(crate::model::parameter_count(&architecture, shape).to_string());
            row.push(crate::model::macs(&architecture, shape).to_string());
            row
        })
        .collect();
    report::markdown(&header, &rows)
}
