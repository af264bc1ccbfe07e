//! `runner resume RUN`: continue an interrupted run where its trials stopped.

use crate::cli::ResumeArgs;
use crate::error::Result;
use crate::ops;

pub fn resume(args: ResumeArgs) -> Result<()> {
    ops::resume(&args.run, &super::run_options(&args.train))
}
