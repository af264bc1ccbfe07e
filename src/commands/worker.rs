//! `runner worker RUN`: trains the trials of a run folder that it can claim (or `--trial I`
//! only), as `--jobs` workers and Slurm tasks do; `--finish` writes summary, manifest and report.

use crate::cli::WorkerArgs;
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::run::worker::{self, Outcome, WorkerOptions};
use crate::run::{Manifest, RunDir, RunLock};
use crate::sched::requeue::{self, Next};
use crate::spec;

use super::coordinator;
use super::resume::edited_sweep;

pub fn worker(args: WorkerArgs) -> Result<()> {
    let run_dir = RunDir::open(&args.run)?;
    let (spec, trials) = spec::load_run(&run_dir.path.join("spec.toml"))?;
    let manifest = Manifest::read(&run_dir.path.join("manifest.json"))?;
    if trials.len() != manifest.trials {
        return Err(edited_sweep(&run_dir.path.join("spec.toml"), trials.len(), manifest.trials));
    }
    if let Some(index) = args.trial
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
    let quiet = args.output.quiet;
    if args.finish {
        let lock = RunLock::acquire(&run_dir.path, spec.stale_after())?;
        return coordinator::finish(&run_dir, &trials, manifest, lock, Outcome::Finished, quiet);
    }
    interrupt::install_for_worker();
    let options = WorkerOptions {
        quiet,
        offline: args.download.offline,
        only: args.trial,
        threads: args.threads.filter(|&t| t > 0).map(|t| t as usize),
        gpu: args.gpu,
        tagged: true,
        summary_every: None,
    };
    // A Slurm array task's one trial, where it stood when the task started.
    let task_trial =
        options.only.filter(|_| spec.slurm.requeue).zip(crate::run::claim::slurm_job().filter(|j| j.contains('_')));
    let epochs_before = task_trial.as_ref().map_or(0, |(i, _)| {
        crate::run::metrics::read_committed(&run_dir.trial_dir(&trials[*i]).join(crate::run::metrics::FILE)).len()
    });
    match worker::work(&run_dir, &trials, &mut DataSets::default(), &options)? {
        Outcome::Finished => Ok(()),
        Outcome::Interrupted(_) if interrupt::signal() == Some(libc::SIGUSR1) && task_trial.is_some() => {
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
        Outcome::Interrupted(cutoff) => {
            let (trial, epoch) = cutoff.map_or((String::new(), 0), |c| (c.trial, c.epoch));
            Err(Error::Interrupted { trial, epoch, run_dir: run_dir.path.clone() })
        }
    }
}
