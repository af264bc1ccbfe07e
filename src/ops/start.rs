//! Starting a run from a spec: check everything a user could get wrong, start the run folder,
//! then hand the trials to the coordinator. A dry run lists the trials instead.

use std::path::Path;

use super::{RunOptions, plural};
use crate::catalog::ImageSet;
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::run::{Manifest, RunDir};
use crate::spec::{self, FIELDS, Field, Overrides, Spec, Trial, rounds};
use crate::{backend, interrupt, report};

/// `runner SPEC`: a new run folder under `runs_dir`, every trial trained in it.
pub fn start(spec_path: &Path, runs_dir: &Path, options: &RunOptions) -> Result<()> {
    let (spec, trials) = spec::load(spec_path, &options.overrides)?;
    super::warn_random_only(&spec);
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
    let (spec, trials) = spec::load(spec_path, &options.overrides)?;
    super::warn_random_only(&spec);
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

/// Columns a terminal shows before a line wraps.
const WIDTH: usize = 100;

/// The per-trial keys of `trials` apart: those with one value wherever they apply (an NN has no
/// conv keys, Adam no momentum), with it; and those that vary from trial to trial.
fn constants_and_varying(trials: &[Trial]) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
    let tables: Vec<toml::Table> = trials.iter().map(|t| t.spec.to_table()).collect();
    let (mut constants, mut varying) = (Vec::new(), Vec::new());
    for key in FIELDS.iter().filter(|f| Field::per_trial(f)).map(|f| f.name) {
        // A TPE trial not drawn yet holds the spec's value of a key it searches, not its own.
        if trials.iter().any(|t| t.undrawn() && t.spec.search.space.contains_key(key)) {
            continue;
        }
        let values: Vec<&toml::Value> = trials
            .iter()
            .zip(&tables)
            .filter(|(t, _)| t.spec.applies(key))
            .filter_map(|(_, table)| table.get(key))
            .collect();
        match values.first() {
            None => {}
            Some(first) if values.iter().all(|v| v == first) => constants.push((key, shown(first))),
            Some(_) => varying.push(key),
        }
    }
    (constants, varying)
}

/// A trial's parameters, multiply-accumulates and training memory, as the dry run shows them.
fn sizes(spec: &Spec, images: &ImageSet) -> [String; 3] {
    let architecture = spec.architecture(images.classes.len());
    [
        crate::model::parameter_count(&architecture, images.shape).to_string(),
        crate::model::macs(&architecture, images.shape).to_string(),
        crate::model::memory::human(spec.training_bytes(images)),
    ]
}

/// Whether a TPE trial not drawn yet can draw values that change its sizes: a searched key at
/// either end of its distribution gives other sizes than the spec's value.
fn sizes_drawn_later(trial: &Trial, images: &ImageSet) -> bool {
    if !trial.undrawn() {
        return false;
    }
    let now = sizes(&trial.spec, images);
    trial.spec.search.space.iter().any(|(key, value)| {
        let Ok(distribution) = spec::Distribution::parse(value) else { return true };
        rounds::extremes(&distribution).into_iter().any(|end| {
            let mut drawn = trial.clone();
            rounds::apply(&mut drawn, &[(key.clone(), end)].into()).map_or(true, |()| sizes(&drawn.spec, images) != now)
        })
    })
}

/// A value as the dry run shows it: an empty list as `[]`, not as nothing.
fn shown(value: &toml::Value) -> String {
    match value {
        toml::Value::Array(items) if items.is_empty() => "[]".into(),
        other => spec::display_value(other),
    }
}

/// `--dry-run`: what every trial shares, as `key=value` lines; then one row per trial with the
/// keys that vary ("-" where a key does not apply), its costs and the memory it needs.
fn trial_table(trials: &[Trial], datasets: &DataSets) -> String {
    let (constants, keys) = constants_and_varying(trials);
    let mut out = String::new();
    let mut line = String::from("every trial:");
    for (key, value) in &constants {
        let item = format!(" {key}={value}");
        if line.len() + item.len() > WIDTH {
            out += &line;
            out += "\n";
            line = " ".repeat("every trial:".len());
        }
        line += &item;
    }
    out += &line;
    out += "\n";
    if let Some(t) = trials.iter().find(|t| t.undrawn()) {
        let keys: Vec<&str> = t.spec.search.space.keys().map(String::as_str).collect();
        out += &format!("drawn by TPE round by round as the run goes: {}\n", keys.join(", "));
    }
    out += "\n";
    let mut header = vec!["index".to_string(), "trial".to_string()];
    header.extend(keys.iter().map(|k| k.to_string()));
    header.extend(["params".to_string(), "macs".to_string(), "memory".to_string()]);
    let rows: Vec<Vec<String>> = trials
        .iter()
        .map(|t| {
            let table = t.spec.to_table();
            let mut row = vec![t.index.to_string(), t.name.clone()];
            row.extend(keys.iter().map(|k| match table.get(*k) {
                Some(value) if t.spec.applies(k) => shown(value),
                _ => spec::NOT_APPLICABLE.to_string(),
            }));
            // A Hub set not downloaded yet: its shape is unknown until it is.
            match t.spec.dataset.builtin().or_else(|| datasets.images(&t.spec)) {
                Some(images) if sizes_drawn_later(t, &images) => {
                    row.extend(["?".into(), "?".into(), "? (drawn later)".into()])
                }
                Some(images) => row.extend(sizes(&t.spec, &images)),
                None => row.extend(["?".into(), "?".into(), "? (not downloaded yet)".into()]),
            }
            row
        })
        .collect();
    out + &report::markdown(&header, &rows)
}

#[cfg(test)]
mod tests {
    use crate::spec::{ModelKind, OptimizerName, Spec, Trial};

    #[test]
    fn the_dry_run_puts_what_every_trial_shares_above_the_table() {
        let trial = |index: usize, model: ModelKind, optimizer: OptimizerName| {
            let spec = Spec { model, optimizer, ..Spec::default() };
            Trial { index, name: format!("{model},{optimizer}"), swept: vec![], spec, group: 0, round: None }
        };
        let trials = [trial(0, ModelKind::Nn, OptimizerName::Sgd), trial(1, ModelKind::Cnn, OptimizerName::Adam)];
        let (constants, varying) = super::constants_and_varying(&trials);
        assert_eq!(varying, ["model", "optimizer"]);
        let constant = |key: &str| constants.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        // The conv keys apply to the CNN alone and momentum to SGD alone: one value each, so constant.
        assert_eq!(
            (constant("kernel_size"), constant("momentum"), constant("epochs")),
            (Some("3"), Some("0.0"), Some("5"))
        );
        assert_eq!(constant("augment"), Some("[]"));
        let text = super::trial_table(&trials, &crate::data::DataSets::default());
        let (above, table) = text.split_once("\n\n").unwrap();
        assert!(above.starts_with("every trial: ") && above.contains(" batch_size=100 "), "{text}");
        assert!(above.lines().all(|l| l.len() <= super::WIDTH), "{above}");
        assert!(table.starts_with("| index | trial ") && table.contains("| model | optimizer | params |"), "{table}");
        assert!(!table.contains("batch_size"), "{table}");
    }
}
