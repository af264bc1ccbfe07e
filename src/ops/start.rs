//! Starting a run from a spec: check everything a user could get wrong, start the run folder,
//! then hand the trials to the coordinator. A dry run lists the trials instead.

use std::path::Path;

use super::{RunOptions, plural};
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::run::{Manifest, RunDir};
use crate::spec::{self, FIELDS, Field, Overrides, Trial};
use crate::{backend, interrupt, report};

/// `runner SPEC`: a new run folder under `runs_dir`, every trial trained in it.
pub fn start(spec_path: &Path, runs_dir: &Path, options: &RunOptions) -> Result<()> {
    let (spec, trials) = spec::load(spec_path, &options.overrides)?;
    // Everything that can be wrong with the input is found before anything is written.
    interrupt::install();
    let devices = backend::check_devices(&trials)?;
    let datasets = DataSets::load(&trials, options.offline, options.quiet)?;
    check_folder_trials(spec_path, &options.overrides, &trials, &datasets)?;
    if interrupt::requested() {
        return Err(Error::StoppedBeforeStart { doing: "reading the data".into() });
    }

    let mut manifest = Manifest::new(devices, trials.len());
    manifest.gpus = backend::gpus(&trials);
    manifest.hub_datasets = datasets.hub_records();
    manifest.data_fingerprints = datasets.fingerprints().into_iter().map(|(label, key)| (label, vec![key])).collect();
    let (run_dir, lock, manifest) = RunDir::start(runs_dir, &spec, manifest, chrono::Utc::now())?;
    if !options.quiet {
        eprintln!("run folder: {}  ({} trial{})", run_dir.path.display(), trials.len(), plural(trials.len()));
    }
    super::execute::execute(&run_dir, &trials, datasets, manifest, options.jobs, &options.worker_options(), lock)
}

/// `runner SPEC --dry-run`: one row per trial with every resolved field, writing nothing.
pub fn dry_run(spec_path: &Path, options: &RunOptions) -> Result<()> {
    let (_, trials) = spec::load(spec_path, &options.overrides)?;
    // An image folder's or a cached Hub set's shape and classes are its files': read them (the
    // built-in sets' are known).
    let folders: Vec<Trial> = trials.iter().filter(|t| t.spec.dataset.builtin().is_none()).cloned().collect();
    let datasets = if folders.is_empty() { DataSets::default() } else { DataSets::peek(&folders, options.quiet)? };
    check_folder_trials(spec_path, &options.overrides, &trials, &datasets)?;
    print!("{}", trial_table(&trials, &datasets));
    Ok(())
}

/// The checks of an image folder's trials that need its images (a CNN that fits them, one mean
/// and std per channel), made once they are read; each error located like any spec error.
pub(super) fn check_folder_trials(
    spec_path: &Path,
    overrides: &Overrides,
    trials: &[Trial],
    datasets: &DataSets,
) -> Result<()> {
    for trial in trials.iter().filter(|t| t.spec.dataset.builtin().is_none()) {
        let Some(images) = datasets.images(&trial.spec) else { continue };
        if let Err(e) = trial.spec.validate_images(&images) {
            return Err(Error::InvalidValue {
                origin: spec::locate(spec_path, overrides, e.key),
                key: e.key.into(),
                message: format!("trial {} ({}): {}", trial.index, trial.spec.data_label(), e.message),
            });
        }
    }
    Ok(())
}

/// `--dry-run`: one row per trial with every resolved field.
fn trial_table(trials: &[Trial], datasets: &DataSets) -> String {
    let keys: Vec<&str> = FIELDS.iter().filter(|f| Field::per_trial(f)).map(|f| f.name).collect();
    let mut header = vec!["index".to_string(), "trial".to_string()];
    header.extend(keys.iter().map(|k| k.to_string()));
    header.extend(["params".to_string(), "macs".to_string(), "memory".to_string()]);
    let rows: Vec<Vec<String>> = trials
        .iter()
        .map(|t| {
            let table = t.spec.to_table();
            let mut row = vec![t.index.to_string(), t.name.clone()];
            row.extend(keys.iter().map(|k| table.get(*k).map(spec::display_value).unwrap_or_default()));
            // A Hub set not downloaded yet: its shape is unknown until it is.
            match t.spec.dataset.builtin().or_else(|| datasets.images(&t.spec)) {
                Some(images) => {
                    let architecture = t.spec.architecture(images.classes.len());
                    row.push(crate::model::parameter_count(&architecture, images.shape).to_string());
                    row.push(crate::model::macs(&architecture, images.shape).to_string());
                    row.push(crate::model::memory::human(t.spec.training_bytes(&images)));
                }
                None => row.extend(["?".into(), "?".into(), "? (not downloaded yet)".into()]),
            }
            row
        })
        .collect();
    report::markdown(&header, &rows)
}
