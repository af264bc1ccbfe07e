//! One function per command, each in its own file: it parses its arguments and calls what does
//! the work (`ops` for the run's life). `dispatch` picks it from the parsed command line.

mod bench;
mod eval;
mod export;
mod predict;
mod report;
mod resume;
mod run;
mod status;
mod submit;
mod worker;

use crate::cli::{Cli, Command, TrainArgs};
use crate::error::Result;
use crate::ops::RunOptions;

pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Resume(args)) => resume::resume(args),
        Some(Command::Predict(args)) => predict::predict(args),
        Some(Command::Report(args)) => report::report(args),
        Some(Command::Eval(args)) => eval::eval(args),
        Some(Command::Export(args)) => export::export(args),
        Some(Command::Bench(args)) => bench::bench(args),
        Some(Command::Submit(args)) => submit::submit(args),
        Some(Command::Worker(args)) => worker::worker(args),
        Some(Command::Status(args)) => status::status(args),
        Some(Command::Completions(args)) => {
            use clap::CommandFactory;
            clap_complete::generate(args.shell, &mut Cli::command(), "runner", &mut std::io::stdout());
            Ok(())
        }
        None => run::run(cli.run),
    }
}

/// What the command line asks of a run (new, resumed or submitted).
fn run_options(args: &TrainArgs) -> RunOptions {
    RunOptions {
        overrides: args.overrides(),
        jobs: args.jobs as usize,
        offline: args.data.download.offline,
        quiet: args.output.quiet,
        mixed_data: false,
    }
}
