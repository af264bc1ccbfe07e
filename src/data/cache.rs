//! The data sets of a run, each loaded once per process and shared by its trials.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Dataset, FetchOptions, ImageSet};
use crate::catalog::DatasetName;
use crate::error::Result;
use crate::spec::{Spec, Trial};

/// Each data set a process has loaded, or why it could not be.
#[derive(Default)]
pub struct DataSets {
    loaded: HashMap<DataKey, Result<Arc<Dataset>, String>>,
}

/// What decides a data set's content: the built-in set and its root, the image folder and its
/// size, or the Hub repo with its revision, config and columns.
type DataKey = (DatasetName, PathBuf, PathBuf, Vec<u32>, [String; 4]);

/// How a run's records name an image folder's or Hub set's content: the data set, and what
/// else decides its pixels.
pub fn fingerprint_label(spec: &Spec) -> String {
    label_of(&data_key(spec))
}

fn label_of((dataset, _, folder, image_size, hub): &DataKey) -> String {
    let size = if image_size.is_empty() { String::new() } else { format!(" image_size={image_size:?}") };
    match dataset {
        DatasetName::Folder => format!("folder {}{size}", folder.display()),
        _ => format!("{dataset} revision={} config={} columns={},{}{size}", hub[0], hub[1], hub[2], hub[3]),
    }
}

fn data_key(spec: &Spec) -> DataKey {
    let hub = [&spec.hf_revision, &spec.hf_config, &spec.image_column, &spec.label_column].map(|s| s.clone());
    (spec.dataset.clone(), spec.data_dir.clone(), spec.folder.clone(), spec.image_size.clone(), hub)
}

impl DataSets {
    /// Loads (downloading unless `offline`) what `trials` need, before anything is written. A
    /// data set that cannot be loaded fails only its own trials, unless no trial can run at all:
    /// then it is an input error.
    pub fn load(trials: &[Trial], offline: bool, quiet: bool) -> Result<DataSets> {
        DataSets::load_with(trials, offline, quiet, true)
    }

    /// What a dry run reads: like [`DataSets::load`], but writing nothing (no download, no
    /// decode cache, no data root created).
    pub fn peek(trials: &[Trial], quiet: bool) -> Result<DataSets> {
        DataSets::load_with(trials, true, quiet, false)
    }

    fn load_with(trials: &[Trial], offline: bool, quiet: bool, write_caches: bool) -> Result<DataSets> {
        let mut sets = DataSets::default();
        let mut first_error = None;
        for trial in trials {
            let key = data_key(&trial.spec);
            if sets.loaded.contains_key(&key) {
                continue;
            }
            let result = load_one(&trial.spec, offline, quiet, write_caches);
            // A bad image folder or Hub repo is bad input, whatever else the sweep holds (a dry
            // run only shows what a Hub set not yet downloaded would be).
            let fatal = match trial.spec.dataset {
                DatasetName::Folder => true,
                DatasetName::Hub(_) => write_caches,
                _ => false,
            };
            if fatal && let Err(e) = result {
                return Err(e);
            }
            let result = result.map_err(|e| {
                let message = e.to_string();
                first_error.get_or_insert(e);
                message
            });
            sets.loaded.insert(key, result);
        }
        if let Some(error) = first_error
            && write_caches
            && sets.loaded.values().all(Result::is_err)
        {
            return Err(error);
        }
        for ((dataset, ..), result) in &sets.loaded {
            // A dry run shows a Hub set it has not downloaded with unknown sizes; nothing fails.
            if !write_caches && dataset.hub().is_some() {
                continue;
            }
            if let Err(message) = result {
                eprintln!("warning: the {dataset} trials will fail: {message}");
            }
        }
        Ok(sets)
    }

    /// What the Hub data sets loaded are, exactly (repo, commit, each file's sha256): for the
    /// run's manifest.
    pub fn hub_records(&self) -> Vec<super::hub::HubRecord> {
        let mut records: Vec<super::hub::HubRecord> = self
            .loaded
            .iter()
            .filter(|(_, result)| result.is_ok())
            .filter_map(|((dataset, data_dir, _, image_size, [revision, config, image_column, label_column]), _)| {
                let request = super::hub::HubRequest {
                    repo: dataset.hub()?,
                    revision,
                    config,
                    image_column,
                    label_column,
                    image_size,
                };
                super::hub::cached_record(&request, data_dir)
            })
            .collect();
        records.sort_by(|a, b| (&a.repo, &a.commit).cmp(&(&b.repo, &b.commit)));
        records.dedup();
        records
    }

    /// The content fingerprint of each image folder and Hub set loaded, by [`fingerprint_label`]:
    /// what a run records at its start so that no later trial trains on other files.
    pub fn fingerprints(&self) -> std::collections::BTreeMap<String, String> {
        self.loaded
            .iter()
            .filter_map(|(key, result)| {
                let dataset = result.as_ref().ok()?;
                (key.0.builtin().is_none() && !dataset.files_key.is_empty())
                    .then(|| (label_of(key), dataset.files_key.clone()))
            })
            .collect()
    }

    /// The images of `spec`'s data set, if it is loaded.
    pub fn images(&self, spec: &Spec) -> Option<ImageSet> {
        self.loaded.get(&data_key(spec))?.as_ref().ok().map(|d| d.images())
    }

    /// The data set of `spec`, loaded now if this process has not yet.
    pub fn get(&mut self, spec: &Spec, offline: bool, quiet: bool) -> &Result<Arc<Dataset>, String> {
        self.loaded
            .entry(data_key(spec))
            .or_insert_with(|| load_one(spec, offline, quiet, true).map_err(|e| e.to_string()))
    }
}

fn load_one(spec: &Spec, offline: bool, quiet: bool, write_caches: bool) -> Result<Arc<Dataset>> {
    let fetch = FetchOptions {
        offline,
        mirror: Some(spec.mirror.clone()).filter(|m| !m.is_empty()),
        quiet: quiet || !std::io::stderr().is_terminal(),
        allow_partial: false,
    };
    // An image folder's or Hub set's lines before and after decoding are worth a log too.
    let fetch = FetchOptions {
        quiet: if matches!(spec.dataset, DatasetName::Folder | DatasetName::Hub(_)) { quiet } else { fetch.quiet },
        ..fetch
    };
    super::load_spec(spec, &fetch, write_caches).map(Arc::new)
}
