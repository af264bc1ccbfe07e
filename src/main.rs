use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = runner::cli::Cli::parse();
    match runner::commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", runner::error::escape_controls(&error.to_string()));
            ExitCode::from(error.exit_code())
        }
    }
}
