//! Every error a user can meet, each with a message that says what is wrong and how to fix it.

use std::path::PathBuf;

use thiserror::Error;

/// Where a value came from: a place in the spec file, an environment variable or `--set`.
pub type Origin = String;

#[derive(Debug, Error)]
pub enum Error {
    // ---- the spec (exit code 2) ----
    #[error("cannot read spec file {path}: {source}\n  hint: check the path; shipped specs are in configs/")]
    SpecRead { path: PathBuf, source: std::io::Error },

    #[error("{origin}: invalid TOML: {message}")]
    SpecSyntax { origin: Origin, message: String },

    #[error("{origin}: unknown key `{key}`{}\n  allowed keys: {allowed}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey { origin: Origin, key: String, suggestion: Option<String>, allowed: String },

    #[error("{origin}: `{key}`: {message}")]
    InvalidValue { origin: Origin, key: String, message: String },

    #[error("--set {arg:?}: expected KEY=VALUE, e.g. --set lr=0.1 or --set 'sweep.model=[\"nn\",\"cnn\"]'")]
    BadOverride { arg: String },

    // ---- the command line (exit code 2) ----
    /// Arguments that clap accepts but that do not fit together or with the run folder.
    #[error("{origin}: {message}")]
    Usage { origin: String, message: String },

    // ---- the data (exit code 2: the user must put the right files in place) ----
    #[error("{path}: {message}")]
    DataFormat { path: PathBuf, message: String },

    #[error("{path}: cannot read: {source}")]
    DataRead { path: PathBuf, source: std::io::Error },

    #[error("{dataset} is not in {root} and {why}.\n  Put these files there (gzip or uncompressed):\n{files}")]
    DataMissing { dataset: String, root: PathBuf, why: String, files: String },

    #[error("could not download {file}: {message}")]
    Download { file: String, message: String },

    #[error("{path}: {message}")]
    BadImage { path: PathBuf, message: String },

    /// A Hugging Face Hub data set that cannot be had: the message names the repo, revision or
    /// file and the fix.
    #[error("{0}")]
    Hub(String),

    // ---- models and backends (exit code 2) ----
    #[error(
        "this CNN does not fit {}x{} images: {too_deep}; use fewer conv_channels, padding = \"same\", a smaller \
         kernel_size, or model = \"nn\"", image.0, image.1
    )]
    ArchitectureTooDeep {
        /// Which block has no room, as `model::TooDeep` says it.
        too_deep: String,
        image: (usize, usize),
    },

    /// A backend or device the spec asks for that this build or machine does not have (built in
    /// `backend.rs` only).
    #[error("{0}")]
    Backend(String),

    /// `runner submit` away from Slurm: no `sbatch` on PATH.
    #[error(
        "runner submit needs Slurm, but `sbatch` is not on PATH.\n  Run it on a Slurm login node (or load Slurm, e.g. `module load slurm`), or run the sweep here with `runner SPEC --jobs N`."
    )]
    NoSlurm,

    // ---- run folders named on the command line (exit code 2) ----
    #[error(
        "{path}: {why}: not a run folder (expected spec.toml, manifest.json and trials/, as `runner SPEC` writes them under runs/<timestamp>_<name>/)"
    )]
    NotARunFolder { path: PathBuf, why: &'static str },

    #[error(
        "{path}: not a trial folder (runs/<run>/trials/<trial>/ with spec.toml and checkpoints/last.bpk) nor a checkpoint file inside one"
    )]
    NotATrial { path: PathBuf },

    /// A TPE search's draw file that is not as the runner wrote it.
    #[error("{path}: {why}. A TPE run goes on only with the draws it recorded: restore the file (or start a new run)")]
    DrawFile { path: PathBuf, why: String },

    // ---- run folders and outputs (exit code 1) ----
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{0}")]
    Checkpoint(String),

    #[error("export: {0}")]
    Export(String),

    /// A device that was there failed while it ran (a GPU error during warm-up or training).
    #[error("{0}")]
    Device(String),

    /// A worker process could not be started or was lost (`--jobs`).
    #[error("{0}")]
    Worker(String),

    /// Slurm refused or failed a submission; the run folder says how to submit it again.
    #[error("{0}")]
    Slurm(String),

    #[error("{0}")]
    RunLocked(String),

    /// Ctrl-C or SIGTERM before the run folder was made (reading the data): nothing is written.
    #[error("stopped before the run started, while {doing}; nothing was written")]
    StoppedBeforeStart { doing: String },

    #[error("interrupted: {trial} stopped in epoch {epoch}; finished epochs are saved.\n  Resume with: runner resume {}", run_dir.display())]
    Interrupted { trial: String, epoch: u32, run_dir: PathBuf },

    #[error("{unfinished} of {total} trials did not finish (a worker was stopped or is still running elsewhere).{held}\n  See: runner status {}\n  Continue with: runner resume {}", run_dir.display(), run_dir.display())]
    Unfinished {
        unfinished: usize,
        total: usize,
        /// A line per trial another worker still holds ("\n  000_x: held by ..."), or empty.
        held: String,
        run_dir: PathBuf,
    },

    #[error("{failed} of {total} trials failed; see summary.csv in {run_dir}")]
    TrialsFailed { failed: usize, total: usize, run_dir: PathBuf },
}

impl Error {
    /// 2 for input the user must fix (spec, command line, data, backend, a run folder in use),
    /// 1 for failures while running (files, devices, worker processes, Slurm), 128 + the signal for a run stopped by one. Every variant is listed: a new
    /// one must choose.
    /// A `--jobs` worker its coordinator stopped (SIGHUP): the coordinator tells the user, once
    /// for all its workers, so the worker says nothing.
    pub fn told_by_coordinator(&self) -> bool {
        matches!(self, Error::Interrupted { .. } | Error::StoppedBeforeStart { .. })
            && crate::interrupt::signal() == Some(libc::SIGHUP)
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::SpecRead { .. }
            | Error::SpecSyntax { .. }
            | Error::UnknownKey { .. }
            | Error::InvalidValue { .. }
            | Error::BadOverride { .. }
            | Error::Usage { .. }
            | Error::DataFormat { .. }
            | Error::DataRead { .. }
            | Error::DataMissing { .. }
            | Error::Download { .. }
            | Error::BadImage { .. }
            | Error::Hub(_)
            | Error::ArchitectureTooDeep { .. }
            | Error::Backend(_)
            | Error::NoSlurm
            | Error::NotARunFolder { .. }
            | Error::NotATrial { .. }
            | Error::DrawFile { .. }
            | Error::RunLocked(_) => 2,
            Error::Io { .. }
            | Error::Checkpoint(_)
            | Error::Export(_)
            | Error::Device(_)
            | Error::Worker(_)
            | Error::Slurm(_)
            | Error::TrialsFailed { .. }
            | Error::Unfinished { .. } => 1,
            Error::Interrupted { .. } | Error::StoppedBeforeStart { .. } => crate::interrupt::exit_code(),
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `text` with control characters other than newlines and tabs escaped (`\u{1b}`): messages
/// quote user input (file names, TOML values), which must not drive the terminal.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_newlines_kept() {
        assert_eq!(super::escape_controls("a\x1b[31mb\nc\u{7}\td"), "a\\u{1b}[31mb\nc\\u{7}\td");
    }
}
