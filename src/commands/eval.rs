//! `runner eval CHECKPOINT|TRIAL`: test loss, accuracy and the confusion matrix of a checkpoint.

use std::path::{Path, PathBuf};

use crate::backend;
use crate::cli::EvalArgs;
use crate::data::{self, FetchOptions};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::report::markdown;
use crate::run::{checkpoint, write_file};
use crate::spec::Spec;
use crate::train::{self, TrialData};

pub fn eval(args: EvalArgs) -> Result<()> {
    let (trial_dir, checkpoint_path) = locate(&args.target)?;
    let spec_path = trial_dir.join("spec.toml");
    let text = std::fs::read_to_string(&spec_path).map_err(|_| not_a_trial(&args.target))?;
    let mut spec: Spec = toml::from_str(&text).map_err(|e| Error::InvalidValue {
        origin: spec_path.display().to_string(),
        key: "spec".into(),
        message: e.message().to_string(),
    })?;
    if let Some(dataset) = args.dataset {
        spec.dataset = dataset;
    }
    if let Some(dir) = &args.data_dir {
        spec.data_dir = dir.clone();
    }
    let fetch = FetchOptions { offline: args.offline, mirror: None, quiet: true };
    let dataset = data::load(spec.dataset, &spec.data_dir, &fetch)?;
    let device = backend::device(spec.backend, spec.device)?;
    let fresh = Model::new(&spec, dataset.shape, &device).map_err(Error::Checkpoint)?;
    let model = checkpoint::load(fresh, &checkpoint_path)?;
    let data = TrialData::new(&dataset, &spec);
    let (loss, accuracy) = train::evaluate(&model, &dataset.test, data.test_len, &data, &device);
    let predicted = train::predict(&model, &dataset.test, data.test_len, &data, &device);

    let mut confusion = vec![vec![0u64; dataset.classes.len()]; dataset.classes.len()];
    for (&truth, &guess) in dataset.test.labels.iter().zip(&predicted) {
        confusion[truth as usize][guess as usize] += 1;
    }
    let mut header = vec!["true \\ predicted".to_string()];
    header.extend(dataset.classes.iter().cloned());
    let rows: Vec<Vec<String>> = confusion
        .iter()
        .zip(&dataset.classes)
        .map(|(counts, class)| std::iter::once(class.clone()).chain(counts.iter().map(u64::to_string)).collect())
        .collect();
    let mut csv = csv::Writer::from_writer(Vec::new());
    for record in std::iter::once(&header).chain(&rows) {
        csv.write_record(record).expect("writing to memory cannot fail");
    }
    let out = args.out.unwrap_or_else(|| trial_dir.join(format!("confusion_{}.csv", spec.dataset)));
    write_file(&out, &csv.into_inner().expect("writing to memory cannot fail"))?;

    println!(
        "{}: {} on {} ({} test images): test loss {loss:.4}, accuracy {:.2}%\n",
        checkpoint_path.display(),
        spec.model,
        spec.dataset,
        data.test_len,
        accuracy * 100.0
    );
    print!("{}", markdown(&header, &rows));
    eprintln!("confusion matrix: {}", out.display());
    Ok(())
}

/// A trial folder (its last checkpoint) or a checkpoint file inside one.
fn locate(target: &Path) -> Result<(PathBuf, PathBuf)> {
    if target.is_dir() {
        let checkpoint = checkpoint::path(target, "last");
        if !checkpoint.is_file() {
            return Err(not_a_trial(target));
        }
        return Ok((target.to_path_buf(), checkpoint));
    }
    let trial = target.parent().and_then(Path::parent).filter(|t| t.join("spec.toml").is_file());
    match trial {
        Some(trial) if target.is_file() => Ok((trial.to_path_buf(), target.to_path_buf())),
        _ => Err(not_a_trial(target)),
    }
}

fn not_a_trial(target: &Path) -> Error {
    Error::InvalidValue {
        origin: target.display().to_string(),
        key: "checkpoint".into(),
        message: "not a trial folder (runs/<run>/trials/<trial>/ with spec.toml and checkpoints/last.bpk) \
                  nor a checkpoint file inside one"
            .into(),
    }
}
