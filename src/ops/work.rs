//! Working on a run as one of its workers (`runner worker RUN`, what `--jobs` workers and Slurm
//! tasks run): train the trials it can claim (or only `options.only`); and finishing a run
//! whose workers were elsewhere (`runner worker RUN --finish`, the Slurm report job).

use std::path::Path;

use super::resume::edited_sweep;
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::run::worker::{self, WorkerEnd};
use crate::run::{Manifest, RunDir, RunLock, WorkerOptions};
use crate::sched::requeue::{self, Next};
use crate::spec::{Spec, Trial};

/// The run folder at `run` with its recorded trials, refused when spec.toml no longer gives
/// them, and `only` when it is not one of them.
fn open(run: &Path, only: Option<usize>) -> Result<(RunDir, Spec, Vec<Trial>, Manifest)> {
    let run_dir = RunDir::open(run)?;
    let (spec, trials) = run_dir.load_trials()?;
    let manifest = Manifest::read(&run_dir.path.join("manifest.json"))?;
    if trials.len() != manifest.trials {
        return Err(edited_sweep(&run_dir.path.join("spec.toml"), trials.len(), manifest.trials));
    }
    if let Some(index) = only
        && index >= trials.len()
    {
        return Err(Error::Usage {
            origin: "--trial".into(),
            message: format!(
                "{index} is not a trial of {} (it has trials 0-{})",
                run_dir.path.display(),
                trials.len() - 1
            ),
        });
    }
    Ok((run_dir, spec, trials, manifest))
}

/// Writes summary.csv, the manifest's end and the report of a run its workers have left.
pub fn finish(run: &Path, quiet: bool) -> Result<()> {
    let (run_dir, spec, trials, manifest) = open(run, None)?;
    let lock = RunLock::acquire(&run_dir.path, spec.stale_after())?;
    super::execute::finish(&run_dir, &trials, manifest, lock, WorkerEnd::Finished, quiet)
}

/// Trains the trials of the run at `run` that this worker can claim.
pub fn work(run: &Path, options: &WorkerOptions) -> Result<()> {
    let (run_dir, spec, trials, _) = open(run, options.only)?;
    interrupt::install_for_worker();
    // A Slurm array task's one trial, where it stood when the task started.
    let task_trial =
        options.only.filter(|_| spec.slurm.requeue).zip(crate::run::claim::slurm_job().filter(|j| j.contains('_')));
    let epochs_before = task_trial.as_ref().map_or(0, |(i, _)| {
        crate::run::metrics::read_committed(&run_dir.trial_dir(&trials[*i]).join(crate::run::metrics::FILE)).len()
    });
    match worker::work(&run_dir, &trials, &mut DataSets::default(), options)? {
        WorkerEnd::Finished => Ok(()),
        WorkerEnd::Interrupted(_) if interrupt::signal() == Some(libc::SIGUSR1) && task_trial.is_some() => {
            let (i, job_task) = task_trial.expect("checked above");
            let trial = &trials[i];
            match requeue::after_time_limit(&run_dir.trial_dir(trial), &spec, epochs_before, &job_task)? {
                Next::Requeued(said) => {
                    eprintln!("{}: {said}", trial.dir_name());
                    Ok(())
                }
                Next::Failed(reason) => {
                    eprintln!("{}: failed: {reason}", trial.dir_name());
                    Err(Error::TrialsFailed { failed: 1, total: 1, run_dir: run_dir.path.clone() })
                }
            }
        }
        WorkerEnd::Interrupted(cut_off) => {
            let (trial, epoch) = cut_off.map_or((String::new(), 0), |c| (c.trial, c.epoch));
            Err(Error::Interrupted { trial, epoch, run_dir: run_dir.path.clone() })
        }
    }
}
