//! Handing a run to Slurm (`runner submit SPEC`, `runner submit --resume RUN`): the sweep as one
//! job array, one task per trial, and a report job after it. Everything is checked and the data is
//! downloaded here, on the login node; the tasks only train.

use std::path::{Path, PathBuf};

use super::RunOptions;
use crate::backend;
use crate::cli::WorkerArgs;
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::run::manifest::Resumed;
use crate::run::state::{TrialEnd, TrialState};
use crate::run::summary;
use crate::run::{Manifest, RunDir, RunLock, WorkerOptions, write_file};
use crate::sched::Word;
use crate::sched::slurm::{self, Plan};
use crate::spec::{self, BackendName, DatasetName, Trial};

/// `runner submit SPEC`: a new run folder under `runs_dir`, its trials submitted (`dry_run`:
/// the scripts and commands printed, nothing written).
pub fn submit(spec_path: &Path, runs_dir: &Path, dry_run: bool, options: &RunOptions) -> Result<()> {
    let text = spec::read(spec_path)?;
    let mut overrides = options.overrides.clone();
    let (mut spec, mut trials) = spec::load_text(spec_path, &text, &overrides)?;
    super::warn_random_only(&spec);
    // Absolute paths everywhere, resolved once here: a task (of `submit --resume` too) may start
    // on any node, in any folder.
    if spec.sweep.get("folder").is_some_and(|values| values.iter().any(|v| v.as_str().is_some_and(is_relative))) {
        return Err(Error::InvalidValue {
            origin: spec::locate(spec_path, &overrides, "sweep.folder"),
            key: "sweep.folder".into(),
            message: "a submitted sweep's image folders must be absolute paths: its tasks start on other \
                      nodes, in other folders (write each as /path/to/folder)"
                .into(),
        });
    }
    let uses_folder = trials.iter().any(|t| t.spec.dataset == DatasetName::Folder);
    let relative_folder = uses_folder && spec.folder.is_relative() && !spec.sweep.contains_key("folder");
    if spec.data_dir.is_relative() || relative_folder {
        overrides.data_dir = Some(absolute(&spec.data_dir)?);
        if relative_folder {
            let folder = absolute(&spec.folder)?;
            let folder = folder.to_str().ok_or_else(|| Error::Usage {
                origin: "folder".into(),
                message: format!("{}: Slurm tasks need a UTF-8 path; move the folder", folder.display()),
            })?;
            overrides.sets.push(format!("folder={}", toml::Value::String(folder.into())));
        }
        (spec, trials) = spec::load_text(spec_path, &text, &overrides)?;
    }
    if spec.slurm.max_parallel == 0 && options.jobs > 1 {
        spec.slurm.max_parallel = options.jobs as u32;
    }
    let runs_dir = absolute(runs_dir)?;
    slurm::check_path(&runs_dir)?;
    let runner = this_binary()?;
    let all: Vec<&Trial> = trials.iter().collect();
    let now = chrono::Utc::now();
    // The plan for the folder this run will get: what a dry run prints and the cluster is asked.
    let preview_dir = runs_dir.join(RunDir::folder_name(&spec.name, now));
    let lines = worker_lines(&preview_dir);
    let preview = Plan::new(preview_dir, runner.clone(), &spec.name, &all, &spec.slurm, lines);
    if dry_run {
        print_plan(&preview);
        return Ok(());
    }

    let sbatch = slurm::find_sbatch()?;
    if let Err(said) = slurm::test_only(&sbatch, &preview)? {
        return Err(refused(&spec_path.display().to_string(), &said));
    }
    let devices = check_devices(&trials)?;
    // Downloaded now: compute nodes often have no internet.
    let datasets = DataSets::load(&trials, options.offline, options.quiet)?;
    super::start::check_folder_trials(spec_path, &overrides, &trials, &datasets)?;
    let mut manifest = Manifest::new(devices, trials.len());
    manifest.hub_datasets = datasets.hub_records();
    manifest.data_fingerprints = datasets.fingerprints().into_iter().map(|(label, key)| (label, vec![key])).collect();
    let (run_dir, lock, manifest) = RunDir::start(&runs_dir, &spec, manifest, now)?;
    summary::rebuild(&run_dir, &trials)?;
    let plan = Plan::new(run_dir.path.clone(), runner, &spec.name, &all, &spec.slurm, worker_lines(&run_dir.path));
    submit_plan(&sbatch, &plan, &run_dir, manifest, lock, options.quiet)
}

/// `runner submit --resume RUN`: submits the trials that are neither done nor held by a live
/// worker; failed and interrupted ones are taken again.
pub fn resubmit(run: &Path, dry_run: bool, options: &RunOptions) -> Result<()> {
    if !options.overrides.sets.is_empty() || options.overrides.data_dir.is_some() {
        return Err(Error::Usage {
            origin: "--resume".into(),
            message: "`--set`: a resubmitted run keeps its recorded spec; to change where it runs, use `runner resume RUN --set ...`".into(),
        });
    }
    let run_dir = RunDir::open(run)?;
    let run_dir = RunDir { path: absolute(&run_dir.path)? };
    slurm::check_path(&run_dir.path)?;
    let (spec, trials) = run_dir.load_trials()?;
    let mut manifest = Manifest::read(&run_dir.path.join("manifest.json"))?;
    if trials.len() != manifest.trials {
        return Err(super::resume::edited_sweep(&run_dir.path.join("spec.toml"), trials.len(), manifest.trials));
    }
    // A dry run reads only: it neither takes nor clears the run's lock.
    let lock = if dry_run { None } else { Some(RunLock::acquire(&run_dir.path, spec.stale_after())?) };
    let states: Vec<TrialState> = trials.iter().map(|t| TrialState::read(&run_dir.trial_dir(t))).collect();
    let open: Vec<(&Trial, &TrialState)> =
        trials.iter().zip(&states).filter(|(_, o)| !o.is_complete() && !o.held()).collect();
    if open.is_empty() {
        eprintln!(
            "nothing to submit: every trial of {} is done or running (see runner status)",
            run_dir.path.display()
        );
        return Ok(());
    }
    let mut resources = spec.slurm.clone();
    if resources.max_parallel == 0 && options.jobs > 1 {
        resources.max_parallel = options.jobs as u32;
    }
    let runner = this_binary()?;
    let chosen: Vec<&Trial> = open.iter().map(|(t, _)| *t).collect();
    let plan = Plan::new(run_dir.path.clone(), runner, &spec.name, &chosen, &resources, worker_lines(&run_dir.path));
    let Some(lock) = lock else {
        print_plan(&plan);
        return Ok(());
    };
    let sbatch = slurm::find_sbatch()?;
    if let Err(said) = slurm::test_only(&sbatch, &plan)? {
        return Err(refused(&run_dir.path.join("spec.toml").display().to_string(), &said));
    }
    for (trial, state) in &open {
        if state.ended.is_some() {
            TrialEnd::clear(&run_dir.trial_dir(trial))?;
        }
    }
    manifest.resumed.push(Resumed::now());
    manifest.finished_at = None;
    submit_plan(&sbatch, &plan, &run_dir, manifest, lock, options.quiet)
}

/// `runner worker` as the array's tasks run it (never downloading: the data is in place) and as
/// the report job does, written from the CLI's own definition.
fn worker_lines(run_dir: &Path) -> [Vec<Word>; 2] {
    let task = WorkerArgs::new(run_dir, &WorkerOptions { offline: true, ..WorkerOptions::default() }, false);
    let finish = WorkerArgs::new(run_dir, &WorkerOptions::default(), true);
    [task.slurm_task_words(), finish.to_args().into_iter().map(Word::Text).collect()]
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
    let mut arrays = Vec::new();
    let finish = match slurm::submit(sbatch, plan, &mut arrays) {
        Ok(finish) => finish,
        Err(e) => {
            let submitted = arrays;
            // What was submitted is recorded: `runner status` and a later resubmission see it.
            manifest.slurm_jobs.extend(submitted.iter().cloned());
            run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
            return Err(match e {
                Error::Slurm(message) if submitted.is_empty() => Error::Slurm(format!(
                    "{message}\n  The run folder is ready; submit it again with: runner submit --resume {}",
                    run_dir.path.display()
                )),
                Error::Slurm(message) => Error::Slurm(format!(
                    "{message}\n  Submitted before it: job{} {}; once {} ended, submit the rest with: \
                     runner submit --resume {}",
                    if submitted.len() == 1 { "" } else { "s" },
                    submitted.join(", "),
                    if submitted.len() == 1 { "it has" } else { "they have" },
                    run_dir.path.display()
                )),
                other => other,
            });
        }
    };
    manifest.slurm_jobs.extend(arrays.iter().cloned());
    manifest.slurm_jobs.push(finish.clone());
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    drop(lock);
    println!("{}", run_dir.path.display());
    if !quiet {
        let arrays = match arrays.as_slice() {
            [one] => format!("job array {one}"),
            many => {
                format!("{} job arrays, one per TPE round, each after the one before ({})", many.len(), many.join(", "))
            }
        };
        eprintln!(
            "submitted {arrays} ({} trial{}) and report job {finish}\n  watch: runner status {}\n  logs:  {}/slurm/",
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
    println!("# would run:\n{}", plan.commands().join("\n"));
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

fn is_relative(path: &str) -> bool {
    Path::new(path).is_relative()
}
