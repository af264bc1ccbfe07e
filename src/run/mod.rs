//! The run folder: `runs/<UTC timestamp>_<name>/` with spec.toml, manifest.json, summary.csv and
//! one folder per trial. Every file is either appended row by row or replaced atomically.

pub mod checkpoint;
pub mod claim;
mod console;
pub use console::{Board, bar_labels};
pub mod draws;
pub mod lock;
pub mod manifest;
pub mod metrics;
mod pruner;
pub mod resume_point;
pub mod state;
pub mod summary;
pub mod tensorboard;
pub mod timings;
mod trial;
pub mod trial_folder;
pub mod worker;
mod worker_options;
pub use worker_options::WorkerOptions;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::write_atomically;
use crate::spec::{Spec, Trial};

pub use lock::RunLock;
pub use manifest::Manifest;

pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new, never reused folder `<runs_dir>/<timestamp>_<name>[-N]`.
    pub fn create(runs_dir: &Path, name: &str, now: chrono::DateTime<chrono::Utc>) -> Result<RunDir> {
        std::fs::create_dir_all(runs_dir).map_err(Error::io(runs_dir))?;
        let stem = RunDir::folder_name(name, now);
        for attempt in 1.. {
            let candidate = match attempt {
                1 => runs_dir.join(&stem),
                n => runs_dir.join(format!("{stem}-{n}")),
            };
            // create_dir is atomic: of two runners racing for a name, exactly one gets it.
            match std::fs::create_dir(&candidate) {
                Ok(()) => return Ok(RunDir { path: candidate }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&candidate)(e)),
            }
        }
        unreachable!("the loop only ends by returning")
    }

    /// Starts a new run: its folder, the lock on it, then spec.toml and `manifest` (which records
    /// the spec's text too).
    pub fn start(
        runs_dir: &Path,
        spec: &Spec,
        mut manifest: Manifest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(RunDir, RunLock, Manifest)> {
        let run_dir = RunDir::create(runs_dir, &spec.name, now)?;
        let lock = RunLock::acquire(&run_dir.path, spec.stale_after())?;
        run_dir.record_spec(spec, &mut manifest)?;
        Ok((run_dir, lock, manifest))
    }

    /// Writes spec.toml and manifest.json, the manifest holding spec.toml's text: a resume tells
    /// a hand edit of spec.toml from it.
    pub fn record_spec(&self, spec: &Spec, manifest: &mut Manifest) -> Result<()> {
        let text = spec.to_toml();
        self.write("spec.toml", text.as_bytes())?;
        manifest.spec = Some(text);
        self.write("manifest.json", manifest.to_json().as_bytes())
    }

    /// `<UTC timestamp>_<name>`: the folder a run started at `now` gets (unless taken).
    pub fn folder_name(name: &str, now: chrono::DateTime<chrono::Utc>) -> String {
        format!("{}_{name}", now.format("%Y-%m-%dT%H-%M-%SZ"))
    }

    /// An existing run folder, as `runner SPEC` made it.
    pub fn open(path: &Path) -> Result<RunDir> {
        for (file, why) in [("spec.toml", "no spec.toml"), ("manifest.json", "no manifest.json")] {
            if !path.join(file).is_file() {
                return Err(Error::NotARunFolder { path: path.to_path_buf(), why });
            }
        }
        Ok(RunDir { path: path.to_path_buf() })
    }

    /// The run's spec and trials as its spec.toml gives them, a TPE search's with the values
    /// its draw files recorded (see `draws`).
    pub fn load_trials(&self) -> Result<(Spec, Vec<Trial>)> {
        let (spec, mut trials) = crate::spec::load_run(&self.path.join("spec.toml"))?;
        draws::apply(&self.path, &mut trials)?;
        Ok((spec, trials))
    }

    pub fn trial_dir(&self, trial: &Trial) -> PathBuf {
        self.path.join("trials").join(trial.dir_name())
    }

    /// Writes a file at the run's root atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_file(&self.path.join(name), bytes)
    }
}

/// Writes a file atomically, naming it in the error.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, bytes).map_err(Error::io(path))
}

/// This machine's name, as claims, status.json and the manifest record it.
pub fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_second_gives_distinct_folders() {
        let runs = tempfile::tempdir().unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-28T17:05:12Z").unwrap().to_utc();
        let a = RunDir::create(runs.path(), "x", now).unwrap();
        let b = RunDir::create(runs.path(), "x", now).unwrap();
        assert_eq!(a.path.file_name().unwrap(), "2026-11-28T17-05-12Z_x");
        assert_eq!(b.path.file_name().unwrap(), "2026-11-28T17-05-12Z_x-2");
    }
}
