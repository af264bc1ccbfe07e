//! Resuming a run (`runner resume RUN`, `runner --resume RUN`): check that the run folder can be
//! continued as it was recorded, put it in order, then hand the trials that have not ended to
//! the coordinator.

use std::path::Path;

use super::{RunOptions, plural, resume_checks};
use crate::backend;
use crate::data::DataSets;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::run::draws;
use crate::run::manifest::Resumed;
use crate::run::resume_point::ResumePoint;
use crate::run::state::{Status, TrialEnd, TrialState};
use crate::run::{Manifest, RunDir, RunLock};
use crate::spec::{self, Overrides, Spec, Trial};

/// An image folder or Hub set whose content differs from the run's start is refused (its trials
/// to come would train on other files than those before them), unless `mixed` accepts it: then
/// the new fingerprint is recorded beside the first.
fn check_data_unchanged(run: &Path, manifest: &mut Manifest, datasets: &DataSets, mixed: bool) -> Result<()> {
    for (label, key) in datasets.fingerprints() {
        let known = manifest.data_fingerprints.entry(label.clone()).or_default();
        if known.is_empty() || known.contains(&key) {
            if known.is_empty() {
                known.push(key);
            }
            continue;
        }
        if !mixed {
            return Err(Error::Usage {
                origin: run.display().to_string(),
                message: format!(
                    "{label}: its files changed since the run started (added, removed or modified files, or \
                     another commit): the trials still to run would train on other images than the ones before \
                     them. Restore the files, start a new run, or continue anyway with `runner resume {} \
                     --mixed-data` (the report then says the run mixes them)",
                    run.display()
                ),
            });
        }
        eprintln!(
            "warning: {label}: its files changed since the run started; the trials still to run use the new files"
        );
        known.push(key);
    }
    Ok(())
}

pub fn resume(run: &Path, options: &RunOptions) -> Result<()> {
    let run_dir = RunDir::open(run)?;
    interrupt::install();
    let spec_path = run_dir.path.join("spec.toml");
    let text = spec::read(&spec_path)?;
    let (edited, mut recorded) = spec::load_text(&spec_path, &text, &Overrides::default())?;
    let (spec, mut trials) = spec::load_text(&spec_path, &text, &options.overrides)?;
    draws::apply(&run_dir.path, &mut recorded)?;
    draws::apply(&run_dir.path, &mut trials)?;
    let lock = RunLock::acquire(&run_dir.path, spec.stale_after())?;
    let manifest_path = run_dir.path.join("manifest.json");
    let (mut manifest, damaged) = match Manifest::read_or_damaged(&manifest_path)? {
        Ok(manifest) => (manifest, None),
        // The trials' own folders say where the run stands: only its history is lost.
        Err(why) => (Manifest::new(Vec::new(), recorded.len()), Some(why)),
    };
    if let Some(written) = manifest.spec.as_deref().filter(|w| *w != text)
        && let Ok(written) = toml::from_str::<Spec>(written)
    {
        resume_checks::check_spec_edits(&spec_path, &written, &edited)?;
    }
    if recorded.len() != manifest.trials {
        return Err(edited_sweep(&spec_path, recorded.len(), manifest.trials));
    }
    // The trial folder's spec.toml is what that trial ran with.
    let recorded: Vec<Trial> = recorded
        .into_iter()
        .map(|mut trial| {
            let path = run_dir.trial_dir(&trial).join("spec.toml");
            if let Some(ran) = std::fs::read_to_string(path).ok().and_then(|t| toml::from_str(&t).ok()) {
                trial.spec = ran;
            }
            trial
        })
        .collect();
    let points: Vec<ResumePoint> = recorded.iter().map(|t| ResumePoint::read(&run_dir.trial_dir(t))).collect();
    resume_checks::check_changes(&run_dir.path, &recorded, &trials, &points)?;
    let states: Vec<TrialState> = trials.iter().map(|t| TrialState::read(&run_dir.trial_dir(t))).collect();
    // Trials a live worker holds (e.g. Slurm tasks) are theirs: neither checked nor touched here.
    for (((trial, point), recorded), state) in trials.iter().zip(&points).zip(&recorded).zip(&states) {
        if !state.held() {
            point.check_resumable(&recorded.spec, &run_dir.trial_dir(trial))?;
        }
    }

    let to_run: Vec<Trial> =
        trials.iter().zip(&states).filter(|(_, o)| !o.is_complete()).map(|(t, _)| t.clone()).collect();
    if to_run.is_empty() && manifest.finished_at.is_some() {
        eprintln!(
            "nothing to resume: all {} trial{} of {} are done",
            trials.len(),
            plural(trials.len()),
            run_dir.path.display()
        );
        return Ok(());
    }
    let quiet = options.quiet;
    let devices = backend::check_devices(&to_run)?;
    let datasets = DataSets::load(&to_run, options.offline, quiet)?;
    check_data_unchanged(&run_dir.path, &mut manifest, &datasets, options.mixed_data)?;
    // Every check passed: from here on the run folder is put in order and continued. Failed and
    // interrupted trials are taken again; each trial's folder is settled when a worker claims it.
    let mut removed = crate::fs::remove_dead_temp_files(&run_dir.path, false).map_err(Error::io(&run_dir.path))?;
    for (trial, state) in trials.iter().zip(&states) {
        let dir = run_dir.trial_dir(trial);
        if !state.held() && dir.is_dir() {
            removed += crate::fs::remove_dead_temp_files(&dir, true).map_err(Error::io(&dir))?;
            if state.ended.as_ref().is_some_and(|e| matches!(e.status, Status::Failed | Status::Interrupted)) {
                TrialEnd::clear(&dir)?;
            }
        }
    }
    if removed > 0 && !quiet {
        eprintln!("removed {removed} temporary file{} left by a killed runner", plural(removed));
    }
    if let Some(why) = damaged {
        let kept = run_dir.path.join("manifest.json.damaged");
        std::fs::copy(&manifest_path, &kept).map_err(Error::io(&kept))?;
        eprintln!(
            "warning: {} was damaged ({why}); kept as {}, and a new one is written: \
             the run's start, hosts and versions before this resume are lost",
            manifest_path.display(),
            kept.display()
        );
    }
    add_new(&mut manifest.devices, devices);
    add_new(&mut manifest.gpus, backend::gpus(&to_run));
    manifest.resumed.push(Resumed::now());
    manifest.finished_at = None;
    run_dir.record_spec(&spec, &mut manifest)?;
    if !quiet {
        let started = trials.iter().zip(&points).filter(|(t, p)| !p.is_done(&t.spec) && !p.epochs.is_empty()).count();
        eprintln!(
            "resuming {}: {} of {} trial{} to run ({started} already started)",
            run_dir.path.display(),
            to_run.len(),
            trials.len(),
            plural(trials.len()),
        );
    }
    super::execute::execute(&run_dir, &trials, datasets, manifest, options.jobs, &options.worker_options(), lock)
}

/// A run folder whose spec.toml no longer gives the trials its manifest recorded.
pub(super) fn edited_sweep(spec_path: &Path, found: usize, recorded: usize) -> Error {
    Error::InvalidValue {
        origin: spec_path.display().to_string(),
        key: "sweep".into(),
        message: format!(
            "gives {found} trials, but this run has {recorded} (manifest.json): spec.toml was edited since the run started. \
             Undo the edit, or start a new run with it: runner {}",
            spec_path.display()
        ),
    }
}

/// Appends the items `list` does not have yet.
fn add_new<T: PartialEq>(list: &mut Vec<T>, items: Vec<T>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}
