//! How a worker runs: what `--jobs`, Slurm tasks and `runner worker` set (see
//! `cli::WorkerArgs`, which reads and writes them as a worker's command line).

use std::time::Duration;

/// How a worker runs.
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    pub quiet: bool,
    /// Never download (workers started by a coordinator or by Slurm: the data is in place).
    pub offline: bool,
    /// Only this trial (a Slurm array task); otherwise every claimable trial, in order.
    pub only: Option<usize>,
    /// CPU threads for trials whose spec leaves `threads` at 0 (jobs sharing a machine).
    pub threads: Option<usize>,
    /// GPU for cuda trials instead of the spec's `device` (jobs spread over GPUs).
    pub gpu: Option<u32>,
    /// Several workers share a terminal or a log: one line per event naming its trial, no bars.
    pub tagged: bool,
    /// Rebuild summary.csv at most this often while working; None: the coordinator does.
    pub summary_every: Option<Duration>,
}
