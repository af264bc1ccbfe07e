//! What a resume refuses: a spec.toml edited by hand since the run started, and `--set`
//! overrides that would change the recorded sweep or a trial that has started.

use std::path::Path;

use crate::error::{Error, Result};
use crate::run::resume_point::ResumePoint;
use crate::spec::{Field, Spec, Trial};

/// Refuses a run whose spec.toml was edited by hand since the runner wrote it (`recorded`, from
/// manifest.json) in anything but where it runs: resume continues the recorded experiment.
pub fn check_spec_edits(spec_path: &Path, recorded: &Spec, edited: &Spec) -> Result<()> {
    let changed = differences(recorded, edited);
    if changed.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidValue {
        origin: spec_path.display().to_string(),
        key: changed[0].split(' ').next().unwrap_or_default().to_string(),
        message: format!(
            "edited since the run started: {}. A resumed run continues the recorded experiment, and may \
             only change where it runs ({}): undo the edit, or start a new run with it: runner {}",
            changed.join(", "),
            crate::spec::keys_where(Field::where_it_runs).join(", "),
            spec_path.display()
        ),
    })
}

/// `key old -> new` for each key (but where it runs) whose value differs; sweep axes one by one.
fn differences(old: &Spec, new: &Spec) -> Vec<String> {
    let flat = |spec: &Spec| {
        let mut table = spec.to_table();
        if let Some(toml::Value::Table(sweep)) = table.remove("sweep") {
            table.extend(sweep.into_iter().map(|(k, v)| (format!("sweep.{k}"), v)));
        }
        table
    };
    let (old, new) = (flat(old), flat(new));
    let show = |v: Option<&toml::Value>| v.map_or_else(|| "(unset)".to_string(), |v| v.to_string());
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !crate::spec::field(k).is_some_and(Field::where_it_runs) && old.get(*k) != new.get(*k))
        .map(|k| format!("{k} {} -> {}", show(old.get(k)), show(new.get(k))))
        .collect()
}

/// Refuses overrides that would change the recorded sweep, or a trial that has started.
/// `recorded` is each trial as the run folder has it; `points` where each continues from.
pub fn check_changes(run_dir: &Path, recorded: &[Trial], resumed: &[Trial], points: &[ResumePoint]) -> Result<()> {
    let names = |t: &[Trial]| t.iter().map(Trial::dir_name).collect::<Vec<_>>();
    if names(recorded) != names(resumed) {
        return Err(Error::InvalidValue {
            origin: "--set".into(),
            key: "sweep".into(),
            message: format!(
                "the overrides change the trials of {} ({} -> {} trials); a resumed run continues the \
                 recorded sweep. Start a new run for another sweep: runner SPEC --set ...",
                run_dir.display(),
                recorded.len(),
                resumed.len()
            ),
        });
    }
    for ((old, new), point) in recorded.iter().zip(resumed).zip(points) {
        if point.epochs.is_empty() {
            continue;
        }
        let changed: Vec<String> = differences(&old.spec, &new.spec).into_iter().map(|d| d.replace('"', "")).collect();
        if !changed.is_empty() {
            return Err(Error::InvalidValue {
                origin: "--set".into(),
                key: changed[0].split(' ').next().unwrap_or_default().to_string(),
                message: format!(
                    "would change trial {}, which has {} finished epoch(s): {}. A resumed run may only \
                     change where it runs ({}); start a new run for other values",
                    old.dir_name(),
                    point.epochs.len(),
                    changed.join(", "),
                    crate::spec::keys_where(Field::where_it_runs).join(", ")
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::EpochMetrics;

    #[test]
    fn overrides_may_move_a_started_trial_but_not_change_it() {
        let spec = Spec { sweep: [("seed".to_string(), vec![1.into(), 2.into()])].into(), ..Spec::default() };
        let recorded = crate::spec::expand(&spec).unwrap();
        let points = [
            ResumePoint {
                epochs: vec![EpochMetrics { epoch: 1, ..EpochMetrics::default() }],
                state: Some(1),
                damaged: Vec::new(),
            },
            ResumePoint::default(),
        ];
        let dir = Path::new("runs/x");

        let moved = crate::spec::expand(&Spec { data_dir: "elsewhere".into(), ..spec.clone() }).unwrap();
        check_changes(dir, &recorded, &moved, &points).unwrap();

        let changed = crate::spec::expand(&Spec { lr: 0.5, ..spec.clone() }).unwrap();
        let err = check_changes(dir, &recorded, &changed, &points).unwrap_err().to_string();
        assert!(err.contains("would change trial 000_seed=1") && err.contains("lr 0.01 -> 0.5"), "{err}");

        // The second trial has not started: changing only it is fine.
        let mut later = recorded.clone();
        later[1].spec.lr = 0.5;
        check_changes(dir, &recorded, &later, &points).unwrap();

        let edited = Spec { sweep: [("seed".to_string(), vec![1.into(), 3.into()])].into(), ..spec.clone() };
        let err = check_spec_edits(Path::new("runs/x/spec.toml"), &spec, &edited).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "runs/x/spec.toml: `sweep.seed`: edited since the run started: sweep.seed [1, 2] -> [1, 3]"
            ),
            "{err}"
        );
        check_spec_edits(Path::new("spec.toml"), &spec, &Spec { threads: 1, data_dir: "d".into(), ..spec.clone() })
            .unwrap();

        let resized =
            crate::spec::expand(&Spec { sweep: [("seed".to_string(), vec![1.into()])].into(), ..spec }).unwrap();
        let err = check_changes(dir, &recorded, &resized, &points).unwrap_err().to_string();
        assert!(err.contains("change the trials"), "{err}");
    }
}
