//! `runner SPEC` (or `runner run SPEC`): start a run, list its trials (`--dry-run`), or resume
//! one (`--resume RUN`).

use super::run_options;
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::ops;

pub fn run(args: RunArgs) -> Result<()> {
    let options = run_options(&args.train);
    if let Some(run_dir) = &args.resume.resume {
        return ops::resume(run_dir, &options);
    }
    let Some(spec_path) = &args.spec else {
        return Err(Error::Usage {
            origin: "command line".into(),
            message: "`SPEC`: give a spec file, e.g. `runner configs/mnist_cnn.toml` (see `runner --help`)".into(),
        });
    };
    if args.dry_run.dry_run {
        return ops::dry_run(spec_path, &options);
    }
    ops::start(spec_path, &args.runs_dir.runs_dir, &options)
}
