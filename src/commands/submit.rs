//! `runner submit SPEC` and `runner submit --resume RUN`: a sweep as a Slurm job array.

use crate::cli::SubmitArgs;
use crate::error::Result;
use crate::ops;

pub fn submit(args: SubmitArgs) -> Result<()> {
    let options = super::run_options(&args.train);
    if let Some(run) = &args.resume.resume {
        return ops::resubmit(run, args.dry_run.dry_run, &options);
    }
    let Some(spec_path) = &args.spec else { unreachable!("clap requires SPEC unless --resume") };
    ops::submit(spec_path, &args.runs_dir.runs_dir, args.dry_run.dry_run, &options)
}
