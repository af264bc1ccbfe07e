//! `runner SPEC`, `runner resume RUN` and `runner worker RUN`: check everything a user could get
//! wrong, set up the run folder, then hand the trials to the engine (`run::engine`).

use std::path::Path;

use crate::cli::{ResumeArgs, RunArgs, TrainArgs, WorkerArgs};
use crate::error::{Error, Result};
use crate::run::engine::{self, DataSets, Outcome, WorkerOptions};
use crate::run::lock::RunLock;
use crate::run::manifest::Resumed;
use crate::run::resume::{self, Progress};
use crate::run::status::{Ended, Observed};
use crate::run::summary::Status;
use crate::run::{Manifest, RunDir, spec_toml};
use crate::sched::local::threads_per_job;
use crate::spec::{self, FIELDS, Overrides, Spec, Trial};
use crate::{interrupt, report};

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
    interrupt::install();
    let devices = engine::check_devices(&trials)?;
    let datasets = DataSets::load(&trials, args.train.data.offline, args.train.quiet)?;

    let run_dir = RunDir::create(&args.runs_dir, &spec.name, chrono::Utc::now())?;
    let lock = RunLock::acquire(&run_dir.path)?;
    let mut manifest = Manifest::new(devices, trials.len());
    manifest.gpus = engine::gpus(&trials);
    let spec_text = spec_toml(&spec);
    run_dir.write("spec.toml", spec_text.as_bytes())?;
    manifest.spec = Some(spec_text);
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    if !args.train.quiet {
        eprintln!("run folder: {}  ({} trial{})", run_dir.path.display(), trials.len(), plural(trials.len()));
    }
    let jobs = args.train.jobs as usize;
    engine::execute(&run_dir, &trials, datasets, manifest, jobs, &worker_options(&args.train), lock)
}

/// How the coordinator's workers run: with several jobs on this machine, each gets its share of
/// the cores (unless the spec sets `threads`) and names its trial on every line.
fn worker_options(args: &TrainArgs) -> WorkerOptions {
    let jobs = args.jobs as usize;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    WorkerOptions {
        quiet: args.quiet,
        offline: args.data.offline,
        threads: (jobs > 1).then(|| threads_per_job(jobs, cores)),
        tagged: jobs > 1,
        ..WorkerOptions::default()
    }
}

/// `runner resume RUN` (or `runner --resume RUN`).
pub fn resume(args: ResumeArgs) -> Result<()> {
    let run_dir = RunDir::open(&args.run)?;
    interrupt::install();
    let lock = RunLock::acquire(&run_dir.path)?;
    let spec_path = run_dir.path.join("spec.toml");
    let text = spec::read(&spec_path)?;
    let (edited, recorded) = spec::load_text(&spec_path, &text, &Overrides::default())?;
    let (spec, trials) = spec::load_text(&spec_path, &text, &overrides(&args.train))?;
    let mut manifest = Manifest::read(&run_dir.path.join("manifest.json"))?;
    if let Some(written) = manifest.spec.as_deref().filter(|w| *w != text)
        && let Ok(written) = toml::from_str::<Spec>(written)
    {
        resume::check_spec_edits(&spec_path, &written, &edited)?;
    }
    if recorded.len() != manifest.trials {
        return Err(edited_sweep(&spec_path, recorded.len(), manifest.trials));
    }
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
    let observed: Vec<Observed> = trials.iter().map(|t| Observed::read(&run_dir.trial_dir(t))).collect();
    // Trials a live worker holds (e.g. Slurm tasks) are theirs: neither checked nor touched here.
    for (((trial, progress), recorded), observed) in trials.iter().zip(&progress).zip(&recorded).zip(&observed) {
        if !observed.held() {
            progress.check_resumable(&recorded.spec, &run_dir.trial_dir(trial))?;
        }
    }

    let to_run: Vec<Trial> = trials.iter().zip(&observed).filter(|(_, o)| !o.is_complete()).map(|(t, _)| t.clone()).collect();
    if to_run.is_empty() && manifest.finished_at.is_some() {
        eprintln!("nothing to resume: all {} trial{} of {} are done", trials.len(), plural(trials.len()), run_dir.path.display());
        return Ok(());
    }
    let devices = engine::check_devices(&to_run)?;
    let datasets = DataSets::load(&to_run, args.train.data.offline, args.train.quiet)?;
    // Every check passed: from here on the run folder is put in order and continued. Failed and
    // interrupted trials are taken again; each trial's folder is settled when a worker claims it.
    let mut removed = crate::fs::remove_dead_temp_files(&run_dir.path, false).map_err(Error::io(&run_dir.path))?;
    for (trial, observed) in trials.iter().zip(&observed) {
        let dir = run_dir.trial_dir(trial);
        if !observed.held() && dir.is_dir() {
            removed += crate::fs::remove_dead_temp_files(&dir, true).map_err(Error::io(&dir))?;
            if observed.ended.as_ref().is_some_and(|e| matches!(e.status, Status::Failed | Status::Interrupted)) {
                Ended::clear(&dir)?;
            }
        }
    }
    if removed > 0 && !args.train.quiet {
        eprintln!("removed {removed} temporary file{} left by a killed runner", plural(removed));
    }
    add_new(&mut manifest.devices, devices);
    add_new(&mut manifest.gpus, engine::gpus(&to_run));
    manifest.resumed.push(Resumed::now());
    manifest.finished_at = None;
    let spec_text = spec_toml(&spec);
    run_dir.write("spec.toml", spec_text.as_bytes())?;
    manifest.spec = Some(spec_text);
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
    engine::execute(&run_dir, &trials, datasets, manifest, args.train.jobs as usize, &worker_options(&args.train), lock)
}

/// `runner worker RUN`: trains the trials of a run folder that it can claim (or `--trial I`
/// only), as `--jobs` workers and Slurm tasks do; `--finish` writes summary, manifest and report.
pub fn worker(args: WorkerArgs) -> Result<()> {
    let run_dir = RunDir::open(&args.run)?;
    let (_, trials) = spec::load_run(&run_dir.path.join("spec.toml"))?;
    let manifest = Manifest::read(&run_dir.path.join("manifest.json"))?;
    if trials.len() != manifest.trials {
        return Err(edited_sweep(&run_dir.path.join("spec.toml"), trials.len(), manifest.trials));
    }
    if let Some(index) = args.trial
        && index >= trials.len()
    {
        return Err(Error::InvalidValue {
            origin: "--trial".into(),
            key: "trial".into(),
            message: format!("{index} is not a trial of {} (it has trials 0-{})", run_dir.path.display(), trials.len() - 1),
        });
    }
    if args.finish {
        let lock = RunLock::acquire(&run_dir.path)?;
        return engine::finish(&run_dir, &trials, manifest, lock, Outcome::Finished, args.quiet);
    }
    interrupt::install();
    let options = WorkerOptions {
        quiet: args.quiet,
        offline: args.offline,
        only: args.trial,
        threads: args.threads.filter(|&t| t > 0),
        gpu: args.gpu,
        tagged: true,
        summary_every: None,
    };
    match engine::work(&run_dir, &trials, &mut DataSets::default(), &options)? {
        Outcome::Finished => Ok(()),
        Outcome::Interrupted { trial, epoch } => {
            Err(Error::Interrupted { trial: trial.unwrap_or_default(), epoch, run_dir: run_dir.path.clone() })
        }
    }
}

/// A run folder whose spec.toml no longer gives the trials its manifest recorded.
pub(super) fn edited_sweep(spec_path: &Path, found: usize, recorded: usize) -> Error {
    Error::InvalidValue {
        origin: spec_path.display().to_string(),
        key: "sweep".into(),
        message: format!(
            "gives {found} trials, but this run has {recorded} (manifest.json): spec.toml was edited since the run started. \
             Undo the edit, or start a new run with it: runner {}",
            spec_path.display()
        ),
    }
}

fn overrides(args: &TrainArgs) -> Overrides {
    Overrides { sets: args.sets.clone(), data_dir: args.data.data_dir.clone() }
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

/// `--dry-run`: one row per trial with every resolved field.
fn trial_table(trials: &[Trial]) -> String {
    let keys: Vec<&str> = FIELDS.iter().copied().filter(|k| !["sweep", "name", "slurm", "search"].contains(k)).collect();
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
