//! `runner resume RUN`: continue an interrupted run where its trials stopped.

use crate::cli::ResumeArgs;
use crate::error::Result;
use crate::ops;

pub fn resume(args: ResumeArgs) -> Result<()> {
    let options = crate::ops::RunOptions { mixed_data: args.mixed_data, ..super::run_options(&args.train) };
    ops::resume(&args.run, &options)
}
