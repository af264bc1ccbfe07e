//! manifest.json: exactly what ran, where, and when.

use serde::{Deserialize, Serialize};

/// The Burn version this binary is built against (pinned in Cargo.toml).
pub const BURN_VERSION: &str = "0.22.1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub runner_version: String,
    pub burn_version: String,
    /// `git rev-parse HEAD` of the working directory, with "-dirty" if it has changes.
    pub git_commit: Option<String>,
    pub host: String,
    pub os: String,
    pub cpus: usize,
    /// Backend and device of each trial, deduplicated.
    pub devices: Vec<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub command_line: Vec<String>,
    pub trials: usize,
    /// GPUs used (cuda backend): name, driver and CUDA versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<crate::backend::GpuInfo>,
    /// Seconds each GPU trial spent compiling and autotuning kernels before its first epoch.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub warmup_seconds: std::collections::BTreeMap<String, f64>,
    /// Each `runner resume` of this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed: Vec<Resumed>,
    /// Slurm jobs submitted for this run (`runner submit`): the arrays and their report jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slurm_jobs: Vec<String>,
    /// Each Hugging Face Hub data set the run read: repo, the commit its revision resolved to, and
    /// every file's size and sha256, so the run can be repeated on exactly the same files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hub_datasets: Vec<crate::data::hub::HubRecord>,
    /// Each image folder's and Hub set's content fingerprint (file names, sizes and times; commit
    /// and sha256s) when the run started, by the data set's label: a trial that starts later on
    /// other content is refused. More than one: a resume with `--mixed-data` accepted the change.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub data_fingerprints: std::collections::BTreeMap<String, Vec<String>>,
    /// spec.toml as the runner last wrote it: a resume tells a hand edit from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
}

/// One continuation of an interrupted run: when, where, by which command and build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resumed {
    pub at: String,
    pub host: String,
    pub git_commit: Option<String>,
    pub command_line: Vec<String>,
}

impl Resumed {
    pub fn now() -> Resumed {
        Resumed {
            at: now(),
            host: super::this_host(),
            git_commit: git_commit(),
            command_line: std::env::args().collect(),
        }
    }
}

impl Manifest {
    pub fn new(devices: Vec<String>, trials: usize) -> Manifest {
        Manifest {
            runner_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: BURN_VERSION.into(),
            git_commit: git_commit(),
            host: super::this_host(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            devices,
            started_at: now(),
            finished_at: None,
            command_line: std::env::args().collect(),
            trials,
            gpus: Vec::new(),
            warmup_seconds: Default::default(),
            resumed: Vec::new(),
            slurm_jobs: Vec::new(),
            hub_datasets: Vec::new(),
            data_fingerprints: Default::default(),
            spec: None,
        }
    }

    /// Reads a run's manifest.json back (to record a resume in it).
    pub fn read(path: &std::path::Path) -> crate::Result<Manifest> {
        Manifest::read_or_damaged(path)?.map_err(|e| {
            crate::Error::Checkpoint(format!(
                "{}: damaged ({e}); `runner resume` of the run keeps a copy of it and writes a new one",
                path.display()
            ))
        })
    }

    /// Reads a manifest; `Ok(Err(why))` when the file is there but damaged (cut off, edited by
    /// hand), so a resume can go on with a new one.
    pub fn read_or_damaged(path: &std::path::Path) -> crate::Result<Result<Manifest, String>> {
        let text = std::fs::read_to_string(path).map_err(crate::Error::io(path))?;
        Ok(serde_json::from_str(&text).map_err(|e| e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Manifest always serializes") + "\n"
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{commit}-dirty") } else { commit })
}

#[cfg(test)]
mod tests {
    #[test]
    fn burn_version_matches_the_pin_in_cargo_toml() {
        let cargo = include_str!("../../Cargo.toml");
        assert!(cargo.contains(&format!("burn = {{ version = \"={}\"", super::BURN_VERSION)));
    }
}
