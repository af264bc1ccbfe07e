//! Reads run folders back: the trials of the run's spec.toml, each with its status and metrics
//! as its folder records them (the same reading summary.csv is written from).

use std::path::Path;

use crate::error::{Error, Result};
use crate::run::RunDir;
use crate::run::state::Status;
use crate::run::summary::{self, TrialSummary};

/// Every trial of a run folder, in index order.
pub fn read_run(dir: &Path) -> Result<Vec<TrialSummary>> {
    let not_a_run = |why| Error::NotARunFolder { path: dir.to_path_buf(), why };
    if !dir.join("spec.toml").is_file() {
        return Err(not_a_run("no spec.toml"));
    }
    if !dir.join("trials").is_dir() {
        return Err(not_a_run("no trials/ folder"));
    }
    let run_dir = RunDir { path: dir.to_path_buf() };
    let (_, trials) = run_dir.load_trials()?;
    // Runners before status.json recorded how a trial ended in summary.csv alone.
    let recorded = summary::read_statuses(&dir.join(summary::FILE));
    Ok(trials
        .iter()
        .map(|trial| {
            let mut summary = TrialSummary::observe(&run_dir, trial);
            // Only for a trial whose folder is still there: a deleted one is pending again.
            if summary.status == Status::Pending
                && run_dir.trial_dir(trial).is_dir()
                && let Some(&(_, status)) =
                    recorded.iter().find(|(index, status)| *index == trial.index && status.is_final())
            {
                summary.status = status;
            }
            summary
        })
        .collect())
}
