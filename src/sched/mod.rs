//! Running a run folder's trials in parallel: worker processes on this machine (`--jobs N`),
//! or Slurm job arrays across a cluster. Neither schedules anything itself: workers claim trials
//! from the run folder (see `run::worker`), Slurm decides where and when they run.

pub mod local;
pub mod requeue;
pub mod slurm;

use std::ffi::OsString;

/// One word of a worker's command line (`cli::WorkerArgs` writes them from the CLI's own
/// definition): text, or a variable the shell of a Slurm task expands.
#[derive(Debug, Clone, PartialEq)]
pub enum Word {
    Text(OsString),
    /// Written in double quotes, e.g. `$SLURM_ARRAY_TASK_ID`.
    Var(&'static str),
}
