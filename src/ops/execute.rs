//! The coordinator of a started or resumed run: runs the workers (this process, or `--jobs`
//! worker processes), then finishes the run: summary.csv, manifest, table and report.
//! `runner worker --finish` (a Slurm report job) runs the finishing part alone.

use std::time::Duration;

use crate::cli::WorkerArgs;
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::report;
use crate::run::lock::RunLock;
use crate::run::state::Status;
use crate::run::summary::{self, TrialSummary};
use crate::run::worker::{self, CutOff, WorkerEnd};
use crate::run::{Manifest, RunDir, WorkerOptions, manifest};
use crate::spec::Trial;

/// Runs every trial of `run_dir` that has not ended with `jobs` workers (this process when 1,
/// else worker processes), then finishes the run.
pub(super) fn execute(
    run_dir: &RunDir,
    trials: &[Trial],
    mut data: DataSets,
    manifest: Manifest,
    jobs: usize,
    options: &WorkerOptions,
    lock: RunLock,
) -> Result<()> {
    summary::rebuild(run_dir, trials)?;
    let end = if jobs <= 1 {
        let options = WorkerOptions { summary_every: Some(Duration::from_secs(30)), ..options.clone() };
        worker::work(run_dir, trials, &mut data, &options)?
    } else {
        drop(data);
        // Each worker's command line is the CLI's own `runner worker` (one definition of its flags).
        let lines = crate::sched::local::job_options(jobs, options, trials)
            .iter()
            .map(|job| WorkerArgs::new(&run_dir.path, job, false).to_args())
            .collect();
        crate::sched::local::run_workers(run_dir, trials, lines, options.quiet)?
    };
    finish(run_dir, trials, manifest, lock, end, options.quiet)
}

/// Rebuilds summary.csv from the trial folders, records the end in the manifest when every trial
/// has ended, prints the table and writes the report.
pub(super) fn finish(
    run_dir: &RunDir,
    trials: &[Trial],
    mut manifest: Manifest,
    lock: RunLock,
    end: WorkerEnd,
    quiet: bool,
) -> Result<()> {
    // A TPE search's workers drew its rounds after `trials` was read.
    let mut trials = trials.to_vec();
    crate::run::draws::apply(&run_dir.path, &mut trials)?;
    let summaries = summary::rebuild(run_dir, &trials)?;
    let unfinished: Vec<&TrialSummary> = summaries.iter().filter(|s| !s.status.is_final()).collect();
    if let WorkerEnd::Interrupted(cut_off) = end {
        run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
        drop(lock);
        // Stopped between trials (or a worker process was): name the trial that is cut off.
        let CutOff { trial, epoch } = cut_off.unwrap_or_else(|| {
            unfinished.iter().find(|s| s.status == Status::Interrupted).or(unfinished.first()).map_or(
                CutOff { trial: String::new(), epoch: 0 },
                |s| CutOff { trial: s.trial.dir_name(), epoch: s.epochs.len() as u32 + 1 },
            )
        });
        return Err(Error::Interrupted { trial, epoch, run_dir: run_dir.path.clone() });
    }
    if unfinished.is_empty() {
        manifest.finished_at = Some(manifest::now());
    }
    run_dir.write("manifest.json", manifest.to_json().as_bytes())?;
    drop(lock);
    let (header, rows) = summary::table(&summaries);
    let (header, rows) = report::for_terminal(header, rows);
    print!("{}", report::markdown(&header, &rows));
    // The report is a convenience: a failure to draw it must not fail a finished run.
    let written = report::write(&summaries, std::slice::from_ref(&run_dir.path), &run_dir.path);
    match written {
        Ok(_) if !quiet => eprintln!("report: {}", run_dir.path.join("report.md").display()),
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not write the report: {e}"),
    }
    if !unfinished.is_empty() {
        // Who still has the trials another worker holds, and when they are taken over.
        let held: String = unfinished
            .iter()
            .filter(|s| s.status == Status::Running)
            .filter_map(|s| {
                let claim = crate::run::claim::inspect(&run_dir.trial_dir(&s.trial).join(crate::run::state::CLAIM))?;
                Some(format!("\n  {}: held by {}", s.trial.dir_name(), claim.why))
            })
            .take(5)
            .collect();
        return Err(Error::Unfinished {
            unfinished: unfinished.len(),
            total: trials.len(),
            held,
            run_dir: run_dir.path.clone(),
        });
    }
    let failed = summaries.iter().filter(|s| s.status == Status::Failed).count();
    if failed > 0 {
        return Err(Error::TrialsFailed { failed, total: trials.len(), run_dir: run_dir.path.clone() });
    }
    Ok(())
}
