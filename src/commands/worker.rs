//! `runner worker RUN`: train the trials of a run folder that this worker can claim (what
//! `--jobs` workers and Slurm tasks run); `--finish` writes summary, manifest and report.

use crate::cli::WorkerArgs;
use crate::error::Result;
use crate::ops;

pub fn worker(args: WorkerArgs) -> Result<()> {
    if args.finish {
        return ops::finish(&args.run, args.output.quiet);
    }
    ops::work(&args.run, &args.options())
}
