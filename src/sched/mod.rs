//! Running a run folder's trials in parallel: worker processes on this machine (`--jobs N`),
//! or Slurm job arrays across a cluster. Neither schedules anything itself: workers claim trials
//! from the run folder (see `run::worker`), Slurm decides where and when they run.

pub mod local;
pub mod requeue;
pub mod slurm;
