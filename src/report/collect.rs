//! Reads run folders back: each trial's spec, swept values, status and metrics.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::run::{metrics, summary};
use crate::spec::Spec;
use crate::train::EpochMetrics;

/// One trial as its run folder records it.
#[derive(Debug, Clone)]
pub struct TrialRecord {
    pub run: PathBuf,
    pub index: usize,
    pub name: String,
    pub spec: Spec,
    /// Swept key and value pairs, from the trial's folder name.
    pub swept: Vec<(String, String)>,
    /// done, failed, pending, or running (metrics but no final status yet).
    pub status: String,
    pub epochs: Vec<EpochMetrics>,
}

/// Every trial of a run folder, in index order.
pub fn read_run(dir: &Path) -> Result<Vec<TrialRecord>> {
    let not_a_run = |why: &str| Error::InvalidValue {
        origin: dir.display().to_string(),
        key: "run folder".into(),
        message: format!("{why}: not a run folder (expected spec.toml and trials/ from `runner SPEC`)"),
    };
    if !dir.join("spec.toml").is_file() {
        return Err(not_a_run("no spec.toml"));
    }
    let trials_dir = dir.join("trials");
    let entries = std::fs::read_dir(&trials_dir).map_err(|_| not_a_run("no trials/ folder"))?;
    let statuses = summary::read_statuses(&dir.join(summary::FILE));
    let mut trials = Vec::new();
    for entry in entries {
        let path = entry.map_err(Error::io(&trials_dir))?.path();
        let Some(folder) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some((index, name)) = folder.split_once('_').and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n))) else {
            continue;
        };
        let spec_path = path.join("spec.toml");
        let text = std::fs::read_to_string(&spec_path).map_err(Error::io(&spec_path))?;
        let spec: Spec = toml::from_str(&text).map_err(|e| Error::InvalidValue {
            origin: spec_path.display().to_string(),
            key: "spec".into(),
            message: e.message().to_string(),
        })?;
        // The committed rows: a torn last row (a killed runner's, which resume drops) is left out.
        let epochs = metrics::read_committed(&path.join(metrics::FILE));
        // How the trial ended, from its own folder; summary.csv for run folders of older runners.
        let status = match crate::run::status::Ended::read(&path) {
            Some(ended) => ended.status.as_str().to_string(),
            None => match statuses.iter().find(|(i, _)| *i == index) {
                Some((_, status)) if status != "pending" => status.clone(),
                _ if !epochs.is_empty() => "running".into(),
                _ => "pending".into(),
            },
        };
        trials.push(TrialRecord {
            run: dir.to_path_buf(),
            index,
            name: name.to_string(),
            swept: parse_swept(name),
            spec,
            status,
            epochs,
        });
    }
    trials.sort_by_key(|t| t.index);
    Ok(trials)
}

/// `lr=0.1,model=nn` -> [(lr, 0.1), (model, nn)]; a plain experiment name -> [].
fn parse_swept(name: &str) -> Vec<(String, String)> {
    if !name.contains('=') {
        return Vec::new();
    }
    name.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn swept_values_from_folder_names() {
        assert_eq!(
            super::parse_swept("lr=0.1,model=nn"),
            [("lr".to_string(), "0.1".to_string()), ("model".to_string(), "nn".to_string())]
        );
        assert!(super::parse_swept("mnist_cnn").is_empty());
    }
}
