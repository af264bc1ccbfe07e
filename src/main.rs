use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Some(word) = std::env::args().nth(1)
        && let Some(command) = runner::cli::mistyped_command(&word)
    {
        eprintln!(
            "error: `{word}` is neither a spec file nor a command; did you mean `runner {command}`? (see `runner --help`)"
        );
        return ExitCode::from(2);
    }
    let cli = runner::cli::Cli::parse();
    match runner::commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !error.told_by_coordinator() {
                eprintln!("error: {}", runner::error::escape_controls(&error.to_string()));
            }
            ExitCode::from(error.exit_code())
        }
    }
}
