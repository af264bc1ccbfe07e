//! One function per command; `dispatch` picks it from the parsed command line.

mod bench;
mod eval;
mod report;
mod run;

use crate::cli::{Cli, Command};
use crate::error::Result;

pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Report(args)) => report::report(args),
        Some(Command::Eval(args)) => eval::eval(args),
        Some(Command::Bench(args)) => bench::bench(args),
        None => run::run(cli.run),
    }
}
