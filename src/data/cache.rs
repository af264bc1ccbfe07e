//! The data sets of a run, each loaded once per process and shared by its trials.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Dataset, FetchOptions};
use crate::catalog::DatasetName;
use crate::error::Result;
use crate::spec::{Spec, Trial};

/// Each data set a process has loaded, or why it could not be.
#[derive(Default)]
pub struct DataSets {
    loaded: HashMap<DataKey, Result<Arc<Dataset>, String>>,
}

type DataKey = (DatasetName, PathBuf);

fn data_key(spec: &Spec) -> DataKey {
    (spec.dataset, spec.data_dir.clone())
}

impl DataSets {
    /// Loads (downloading unless `offline`) what `trials` need, before anything is written. A
    /// data set that cannot be loaded fails only its own trials, unless no trial can run at all:
    /// then it is an input error.
    pub fn load(trials: &[Trial], offline: bool, quiet: bool) -> Result<DataSets> {
        let mut sets = DataSets::default();
        let mut first_error = None;
        for trial in trials {
            let key = data_key(&trial.spec);
            if sets.loaded.contains_key(&key) {
                continue;
            }
            let result = load_one(&trial.spec, offline, quiet).map_err(|e| {
                let message = e.to_string();
                first_error.get_or_insert(e);
                message
            });
            sets.loaded.insert(key, result);
        }
        if let Some(error) = first_error
            && sets.loaded.values().all(Result::is_err)
        {
            return Err(error);
        }
        for ((dataset, _), result) in &sets.loaded {
            if let Err(message) = result {
                eprintln!("warning: the {dataset} trials will fail: {message}");
            }
        }
        Ok(sets)
    }

    /// The data set of `spec`, loaded now if this process has not yet.
    pub fn get(&mut self, spec: &Spec, offline: bool, quiet: bool) -> &Result<Arc<Dataset>, String> {
        self.loaded.entry(data_key(spec)).or_insert_with(|| load_one(spec, offline, quiet).map_err(|e| e.to_string()))
    }
}

fn load_one(spec: &Spec, offline: bool, quiet: bool) -> Result<Arc<Dataset>> {
    let fetch = FetchOptions {
        offline,
        mirror: Some(spec.mirror.clone()).filter(|m| !m.is_empty()),
        quiet: quiet || !std::io::stderr().is_terminal(),
    };
    super::load(spec.dataset, &spec.data_dir, &fetch).map(Arc::new)
}
