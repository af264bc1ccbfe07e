//! The run's life, below the commands (as cargo's `ops` are below its commands): start a run
//! from a spec, resume it, hand it to Slurm, work on it as one of its workers, finish it. Each
//! command parses its arguments and calls one of these; none of them reads the command line.

mod execute;
mod resume;
mod resume_checks;
mod start;
mod submit;
mod work;

pub use resume::resume;
pub use start::{dry_run, start};
pub use submit::{resubmit, submit};
pub use work::{finish, work};

use crate::run::WorkerOptions;
use crate::sched::local::threads_per_job;
use crate::spec::Overrides;

/// How a run (new, resumed or submitted) is asked to run on the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--set` and `--data-dir`.
    pub overrides: Overrides,
    /// Trials at once on this machine (`--jobs`), or the Slurm array's parallel limit.
    pub jobs: usize,
    pub offline: bool,
    pub quiet: bool,
    /// `resume --mixed-data`: continue although an image folder or Hub set changed since the run
    /// started (the report then says the run mixes them).
    pub mixed_data: bool,
}

impl RunOptions {
    /// How the coordinator's workers run: with several jobs on this machine, each gets its share
    /// of the cores (unless the spec sets `threads`) and names its trial on every line.
    fn worker_options(&self) -> WorkerOptions {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        WorkerOptions {
            quiet: self.quiet,
            // The coordinator fetched every data set before starting them: a worker reads the
            // cache (a Hub set at the commit the run resolved, even if its branch moves on).
            offline: true,
            threads: (self.jobs > 1).then(|| threads_per_job(self.jobs, cores)),
            tagged: self.jobs > 1,
            ..WorkerOptions::default()
        }
    }
}

/// Says so when a TPE search is too short to draw any trial but at random.
fn warn_random_only(spec: &crate::spec::Spec) {
    if let Some(warning) = crate::spec::rounds::random_only(&spec.search) {
        eprintln!("{warning}");
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
