//! `runner submit SPEC` (and `runner submit --resume RUN`): the sweep as one Slurm job array,
//! one task per trial, and a report job after it. Everything is checked and the data is
//! downloaded here, on the login node; the tasks only train.

use std::path::{Path, PathBuf};

use crate::backend;
use crate::cli::SubmitArgs;
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::run::manifest::Resumed;
use crate::run::status::{Ended, Observed};
use crate::run::summary;
use crate::run::{Manifest, RunDir, RunLock, write_file};
use crate::sched::slurm::{self, Plan};
use crate::spec::{self, BackendName, Trial};

pub fn submit(args: SubmitArgs) -> Result<()> {
    if let Some(run) = &args.resume.resume {
        return resubmit(run, &args);
    }
    let Some(spec_path) = &args.spec else { unreachable!("clap requires SPEC unless --resume") };
    let text = spec::read(spec_path)?;
    let mut overrides = super::run::overrides(&args.train);
    let (mut spec, mut trials) = spec::load_text(spec_path, &text, &overrides)?;
    // Absolute paths everywhere: a task may start on any node, in any folder.
    if spec.data_dir.is_relative() {
        overrides.data_dir = Some(absolute(&spec.data_dir)?);
        (spec, trials) = spec::load_text(spec_path, &text, &overrides)?;
    }
    if spec.slurm.max_parallel == 0 && args.train.jobs > 1 {
        spec.slurm.max_parallel = args.train.jobs;
    }
    let runs_dir = absolute(&args.runs_dir.runs_dir)?;
    slurm::check_path(&runs_dir)?;
    let runner = this_binary()?;
    let all: Vec<&Trial> = trials.iter().collect();
    let now = chrono::Utc::now();
    // The plan for the folder this run will get: what a dry run prints and the cluster is asked.
    let preview =
        Plan::new(runs_dir.join(RunDir::folder_name(&spec.name, now)), runner.clone(), &spec.name, &all, &spec.slurm);
    if args.dry_run.dry_run {
        print_plan(&preview);
        return Ok(());
    }

    let sbatch = slurm::find_sbatch()?;
    if let Err(said) = slurm::test_only(&sbatch, &preview)? {
        return Err(refused(&spec_path.display().to_string(), &said));
    }
    let devices = check_devices(&trials)?;
    // Downloaded now: compute nodes often have no internet.
    let datasets = DataSets::load(&trials, args.train.data.download.offline, args.train.output.quiet)?;
    super::run::check_folder_trials(spec_path, &args.train, &trials, &datasets)?;
    let (run_dir, lock, manifest) = RunDir::start(&runs_dir, &spec, Manifest::new(devices, trials.len()), now)?;
    summary::rebuild(&run_dir, &trials)?;
    let plan = Plan::new(run_dir.path.clone(), runner, &spec.name, &all, &spec.slurm);
    submit_plan(&sbatch, &plan, &run_dir, manifest, lock, args.train.output.quiet)
}

/// `runner submit --resume RUN`: submits the trials that are neither done nor held by a live
/// worker; failed and interrupted ones are taken again.
fn resubmit(run: &Path, args: &SubmitArgs) -> Result<()> {
    if !args.train.sets.is_empty() || args.train.data.data_dir.is_some() {
        return Err(Error::Usage {
            origin: "--resume".into(),
            message: "`--set`: a resubmitted run keeps its recorded spec; to change where it runs, use `runner resume RUN --set ...`".into(),
        });
    }
    let run_dir = RunDir::open(run)?;
    let run_dir = RunDir { path: absolute(&run_dir.path)? };
    slurm::check_path(&run_dir.path)?;
    let (spec, trials) = spec::load_run(&run_dir.path.join("spec.toml"))?;
    let mut manifest = Manifest::read(&run_dir.path.join("manifest.json"))?;
    if trials.len() != manifest.trials {
        return Err(super::resume::edited_sweep(&run_dir.path.join("spec.toml"), trials.len(), manifest.trials));
    }
    // A dry run reads only: it neither takes nor clears the run's lock.
    let lock = if args.dry_run.dry_run { None } else { Some(RunLock::acquire(&run_dir.path, spec.stale_after())?) };
    let observed: Vec<Observed> = trials.iter().map(|t| Observed::read(&run_dir.trial_dir(t))).collect();
    let open: Vec<(&Trial, &Observed)> =
        trials.iter().zip(&observed).filter(|(_, o)| !o.is_complete() && !o.held()).collect();
    if open.is_empty() {
        eprintln!(
            "nothing to submit: every trial of {} is done or running (see runner status)",
            run_dir.path.display()
        );
        return Ok(());
    }
    let mut resources = spec.slurm.clone();
    if resources.max_parallel == 0 && args.train.jobs > 1 {
        resources.max_parallel = args.train.jobs;
    }
    let runner = this_binary()?;
    let chosen: Vec<&Trial> = open.iter().map(|(t, _)| *t).collect();
    let plan = Plan::new(run_dir.path.clone(), runner, &spec.name, &chosen, &resources);
    let Some(lock) = lock else {
        print_plan(&plan);
        return Ok(());
    };
    let sbatch = slurm::find_sbatch()?;
    if let Err(said) = slurm::test_only(&sbatch, &plan)? {
        return Err(refused(&run_dir.path.join("spec.toml").display().to_string(), &said));
    }
    for (trial, observed) in &open {
        if observed.ended.is_some() {
            Ended::clear(&run_dir.trial_dir(trial))?;
        }
    }
    manifest.resumed.push(Resumed::now());
    manifest.finished_at = None;
    submit_plan(&sbatch, &plan, &run_dir, manifest, lock, args.train.output.quiet)
}

/// Writes the scripts into `<run>/slurm/`, submits them and records the jobs in the manifest.
fn submit_plan(
    sbatch: &Path,
    plan: &Plan,
    run_dir: &RunDir,
    mut manifest: Manifest,
    lock: RunLock,
    quiet: bool,
) -> Result<()> {
    let folder = run_dir.path.join("slurm");
    std::fs::create_dir_all(&folder).map_err(Error::io(&folder))?;
    write_file(&plan.sweep_script_path(), plan.sweep_script().as_bytes())?;
    write_file(&plan.finish_script_path(), plan.finish_script().as_bytes())?;
    let (array, finish) = slurm::submit(sbatch, plan).map_err(|e| match e {
        Error::Slurm(message) => Error::Slurm(format!(
            "{message}\n  The run folder is ready; submit it again with: runner submit --resume {}",
            run_dir.path.display()
        )),
        other => other,
    })?;
    manifest.slurm_jobs.push(array.clone());
    manifest.slurm_jobs.push(finish.clone());
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    drop(lock);
    println!("{}", run_dir.path.display());
    if !quiet {
        eprintln!(
            "submitted job array {array} ({} trial{}) and report job {finish}\n  watch: runner status {}\n  logs:  {}/slurm/",
            plan.indices.len(),
            if plan.indices.len() == 1 { "" } else { "s" },
            run_dir.path.display(),
            run_dir.path.display()
        );
    }
    Ok(())
}

fn print_plan(plan: &Plan) {
    println!("# {}\n{}", plan.sweep_script_path().display(), plan.sweep_script());
    println!("# {}\n{}", plan.finish_script_path().display(), plan.finish_script());
    let [sweep, finish] = plan.commands();
    println!("# would run:\n{sweep}\n{finish}");
}

/// The backends of the trials, checked here where a login node can: CUDA only needs to be built
/// in (the GPUs are on the compute nodes).
fn check_devices(trials: &[Trial]) -> Result<Vec<String>> {
    let (gpu, cpu): (Vec<Trial>, Vec<Trial>) =
        trials.iter().cloned().partition(|t| t.spec.backend == BackendName::Cuda);
    let mut devices = backend::check_devices(&cpu)?;
    if let Some(first) = gpu.first() {
        if !cfg!(feature = "cuda") {
            backend::device(first.spec.backend, first.spec.device)?;
        }
        devices.push("cuda (on the Slurm nodes)".into());
    }
    Ok(devices)
}

/// The cluster would not take the spec's `[slurm]` resources: the user's to fix, before anything
/// is written (or, for a resubmission, changed).
fn refused(origin: &str, said: &str) -> Error {
    Error::InvalidValue {
        origin: origin.into(),
        key: "slurm".into(),
        message: format!("the cluster refuses these resources (sbatch --test-only): {said}"),
    }
}

/// The runner binary the tasks run: this one.
fn this_binary() -> Result<PathBuf> {
    std::env::current_exe()
        .map_err(|e| Error::Slurm(format!("cannot find the runner binary for the tasks to run: {e}")))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(Error::io(path))
}
