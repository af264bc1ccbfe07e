//! The protocol a report's trials share, as a paper's "Setup" states it: every key that changes
//! what a trial computes and has one value in all of them (epochs, batch size, lr, optimizer,
//! schedule, augmentation, split, limits ...), the data each data set came from (a Hub set's
//! commit, an image folder's fingerprint, the built-in sets' official files), the backends and
//! the runner versions that ran.

use std::path::PathBuf;

use crate::run::Manifest;
use crate::run::summary::TrialSummary;
use crate::spec::{FIELDS, Kind, LrSchedule, Spec, display_value};

/// Whether `key` says anything about how `spec` trained (a schedule's knobs only with that
/// schedule, early stopping's only with patience set).
fn relevant(spec: &Spec, key: &str) -> bool {
    match key {
        "step_size" => spec.lr_schedule == LrSchedule::Step,
        "gamma" => matches!(spec.lr_schedule, LrSchedule::Step | LrSchedule::Multistep),
        "milestones" => spec.lr_schedule == LrSchedule::Multistep,
        "min_lr" => spec.lr_schedule == LrSchedule::Cosine,
        "min_delta" | "monitor" => spec.patience.is_some(),
        "weight_decay" | "patience" => true,
        _ => spec.applies(key),
    }
}

/// (what, value) lines: the constants (one line), then data, backends and versions.
pub fn lines(trials: &[TrialSummary], runs: &[PathBuf]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let tables: Vec<toml::Table> = trials.iter().map(|t| t.trial.spec.to_table()).collect();
    let mut constants = Vec::new();
    for field in FIELDS.iter().filter(|f| f.kind == Kind::Computes && !["model", "dataset", "seed"].contains(&f.name)) {
        let applies: Vec<usize> = (0..trials.len()).filter(|&i| relevant(&trials[i].trial.spec, field.name)).collect();
        let Some(&first) = applies.first() else { continue };
        let value = tables[first].get(field.name);
        if applies.iter().all(|&i| tables[i].get(field.name) == value) {
            let text = match (field.name, value) {
                ("weight_decay", None) => trials[first].trial.spec.weight_decay().to_string(),
                ("patience", None) => "off (no early stopping)".into(),
                (_, value) => value.map_or_else(String::new, display_value),
            };
            constants.push(format!("{} {}", field.name, if text.is_empty() { "[]".into() } else { text }));
        }
    }
    if !constants.is_empty() {
        out.push(("held constant".into(), constants.join(", ")));
    }
    let manifests: Vec<Manifest> = runs.iter().filter_map(|r| Manifest::read(&r.join("manifest.json")).ok()).collect();
    let mut data: Vec<String> = Vec::new();
    for t in trials {
        let spec = &t.trial.spec;
        let label = spec.data_label();
        let source = match spec.dataset.hub() {
            Some(repo) => {
                let commits: Vec<String> = manifests
                    .iter()
                    .flat_map(|m| &m.hub_datasets)
                    .filter(|h| h.repo == repo.id())
                    .map(|h| {
                        let classes = match h.classes_from.as_deref() {
                            Some(from) if from == crate::data::hub::SORTED_VALUES => {
                                format!("; classes: {from} `{}` (no ClassLabel)", h.label_column)
                            }
                            _ => String::new(),
                        };
                        format!("commit {}{classes}", &h.commit[..12.min(h.commit.len())])
                    })
                    .collect();
                format!(
                    "{label} ({})",
                    if commits.is_empty() { "commit not recorded".into() } else { commits.join(", ") }
                )
            }
            None if spec.dataset.builtin().is_some() => format!("{label} (official files, md5 checked)"),
            None => {
                let key = crate::data::fingerprint_label(spec);
                let prints: Vec<String> = manifests
                    .iter()
                    .filter_map(|m| m.data_fingerprints.get(&key))
                    .flatten()
                    .map(|f| f[..12.min(f.len())].to_string())
                    .collect();
                format!(
                    "{label} (fingerprint {})",
                    if prints.is_empty() { "not recorded".into() } else { prints.join(", ") }
                )
            }
        };
        if !data.contains(&source) {
            data.push(source);
        }
    }
    out.push(("data".into(), data.join("; ")));
    let mut devices: Vec<String> = manifests.iter().flat_map(|m| m.devices.clone()).collect();
    devices.sort();
    devices.dedup();
    if !devices.is_empty() {
        out.push(("backend".into(), devices.join(", ")));
    }
    let mut versions: Vec<String> =
        manifests.iter().map(|m| format!("runner {} (Burn {})", m.runner_version, m.burn_version)).collect();
    versions.sort();
    versions.dedup();
    if !versions.is_empty() {
        out.push(("versions".into(), versions.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::hub::{HubRecord, SORTED_VALUES};

    #[test]
    fn the_setup_names_the_constants_that_matter_and_where_a_hub_sets_classes_came_from() {
        let spec = Spec { dataset: "hf:lab/words".parse().unwrap(), ..Spec::default() };
        let trial = crate::spec::Trial { index: 0, name: "x".into(), swept: vec![], spec, group: 0, round: None };
        let summary = TrialSummary::pending(&trial);
        let run = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::new(vec!["cpu".into()], 1);
        manifest.hub_datasets.push(HubRecord {
            repo: "lab/words".into(),
            revision: "main".into(),
            commit: "a".repeat(40),
            config: "default".into(),
            test_split: "test".into(),
            image_column: "image".into(),
            label_column: "labels".into(),
            files: vec![],
            classes_from: Some(SORTED_VALUES.into()),
        });
        std::fs::write(run.path().join("manifest.json"), manifest.to_json()).unwrap();
        let lines = lines(&[summary], &[run.path().to_path_buf()]);
        let get = |what: &str| lines.iter().find(|(w, _)| w == what).map(|(_, v)| v.clone()).unwrap_or_default();
        let constant = get("held constant");
        assert!(constant.contains("epochs 5") && constant.contains("lr_schedule constant"), "{constant}");
        assert!(!constant.contains("step_size") && !constant.contains("min_delta"), "knobs of what is off: {constant}");
        assert_eq!(
            get("data"),
            format!("hf:lab/words (commit aaaaaaaaaaaa; classes: {SORTED_VALUES} `labels` (no ClassLabel))")
        );
        assert_eq!(get("backend"), "cpu");
    }
}
