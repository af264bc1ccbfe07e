//! summary.csv: one row per trial, rebuilt atomically from the trial folders (each trial's
//! [`TrialState`]): when a run starts, now and then while it runs, and when it ends.

use super::RunDir;
use super::state::{Status, TrialState};
use crate::error::Result;
use crate::spec::Trial;
use crate::train::EpochMetrics;

pub const FILE: &str = "summary.csv";

/// Every trial as its folder records it; writes summary.csv from that. Reads each trial's
/// files once: call it when a run starts or ends, or now and then, not after every trial.
pub fn rebuild(run_dir: &RunDir, trials: &[Trial]) -> Result<Vec<TrialSummary>> {
    let summaries: Vec<TrialSummary> = trials.iter().map(|trial| TrialSummary::observe(run_dir, trial)).collect();
    let run = run_dir.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    run_dir.write(FILE, to_csv(&summaries, &run).as_bytes())?;
    Ok(summaries)
}

/// A trial with what summary.csv and reports show of it: its status and results so far (from
/// its [`TrialState`]) and the images it trains on.
#[derive(Debug, Clone)]
pub struct TrialSummary {
    pub trial: Trial,
    pub status: Status,
    pub reason: String,
    pub epochs: Vec<EpochMetrics>,
    /// Test images per second at evaluation, as status.json records it (done trials).
    pub eval_images_per_second: Option<f64>,
    /// The images it trains on: a built-in data set's; an image folder's once the trial started.
    pub images: Option<crate::catalog::ImageSet>,
    /// The run folder's name (empty for a trial not read from one).
    pub run: String,
}

impl TrialSummary {
    /// The trial as its folder records it now.
    pub fn observe(run_dir: &RunDir, trial: &Trial) -> TrialSummary {
        let dir = run_dir.trial_dir(trial);
        let state = TrialState::read(&dir);
        TrialSummary {
            images: super::trial_folder::images(&dir, &trial.spec),
            trial: trial.clone(),
            status: state.status(),
            reason: state.reason().to_string(),
            eval_images_per_second: state.ended.as_ref().and_then(|e| e.eval_images_per_second),
            epochs: state.epochs,
            run: run_dir.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        }
    }

    pub fn pending(trial: &Trial) -> TrialSummary {
        TrialSummary {
            trial: trial.clone(),
            status: Status::Pending,
            reason: String::new(),
            epochs: Vec::new(),
            eval_images_per_second: None,
            images: trial.spec.dataset.builtin(),
            run: String::new(),
        }
    }

    fn best(&self) -> Option<&EpochMetrics> {
        crate::run::metrics::best(&self.epochs)
    }

    /// Its model's parameters and MACs (one image), once its images are known.
    pub fn costs(&self) -> Option<(u128, u128)> {
        let images = self.images.as_ref()?;
        let architecture = self.trial.spec.architecture(images.classes.len());
        Some((
            crate::model::parameter_count(&architecture, images.shape),
            crate::model::macs(&architecture, images.shape),
        ))
    }

    /// Seconds spent training, evaluation apart.
    pub fn train_seconds(&self) -> f64 {
        self.epochs.iter().map(EpochMetrics::training_time).sum()
    }

    /// Seconds spent evaluating (validation and test) after its epochs; None when its
    /// metrics.csv predates the column.
    pub fn eval_seconds(&self) -> Option<f64> {
        self.epochs.iter().map(|e| e.eval_seconds).sum()
    }
}

fn field(trial: &Trial, key: &str) -> String {
    if let Some((_, v)) = trial.swept.iter().find(|(k, _)| k == key) {
        return v.clone();
    }
    match key {
        "model" => trial.spec.model.to_string(),
        "dataset" => trial.spec.dataset.to_string(),
        _ => String::new(),
    }
}

/// Header and rows of the summary table, as text cells.
pub fn table(trials: &[TrialSummary]) -> (Vec<String>, Vec<Vec<String>>) {
    let keys = crate::spec::distinguishing_keys(trials.iter().map(|t| &t.trial));
    let mut header = vec!["index".to_string(), "name".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(
        [
            "final_test_acc",
            "best_test_acc",
            "best_epoch",
            "final_test_loss",
            "train_seconds",
            "eval_seconds",
            "status",
            "reason",
            "best_val_acc",
            "test_acc_at_best",
            "stopped_epoch",
            "params",
            "macs",
        ]
        .map(String::from),
    );
    let rows = trials
        .iter()
        .map(|t| {
            let mut row = vec![t.trial.index.to_string(), t.trial.name.clone()];
            row.extend(keys.iter().map(|k| field(&t.trial, k)));
            let last = t.epochs.last();
            let best = t.best();
            row.push(last.map(|e| format!("{:.4}", e.test_acc)).unwrap_or_default());
            row.push(best.map(|e| format!("{:.4}", e.test_acc)).unwrap_or_default());
            row.push(best.map(|e| e.epoch.to_string()).unwrap_or_default());
            row.push(last.map(|e| format!("{:.4}", e.test_loss)).unwrap_or_default());
            // Milliseconds: a 0.04 s NN trial is not 0.0, and ratios from the file are the report's.
            row.push(if t.epochs.is_empty() { String::new() } else { format!("{:.3}", t.train_seconds()) });
            row.push(t.eval_seconds().filter(|_| !t.epochs.is_empty()).map(|s| format!("{s:.3}")).unwrap_or_default());
            row.push(t.status.as_str().into());
            // One line per cell: the full reason was printed when it happened.
            row.push(t.reason.lines().next().unwrap_or_default().to_string());
            // With a validation split the best epoch is chosen on it; its test accuracy is the
            // unbiased figure. Without one, best_test_acc was chosen on the test set itself.
            row.push(best.and_then(|e| e.val_acc).map(|v| format!("{v:.4}")).unwrap_or_default());
            row.push(best.filter(|e| e.val_acc.is_some()).map(|e| format!("{:.4}", e.test_acc)).unwrap_or_default());
            row.push(
                crate::train::schedule::stopped_at(&t.trial.spec, &t.epochs).map(|e| e.to_string()).unwrap_or_default(),
            );
            let costs = t.costs();
            row.push(costs.map(|(params, _)| params.to_string()).unwrap_or_default());
            row.push(costs.map(|(_, macs)| macs.to_string()).unwrap_or_default());
            row
        })
        .collect();
    (header, rows)
}

/// summary.csv: [`table`], then the run folder's name and every key of each trial's spec,
/// constant ones too, so that concatenating several runs' files loses nothing.
pub fn to_csv(trials: &[TrialSummary], run: &str) -> String {
    let (mut header, mut rows) = table(trials);
    let keys: Vec<&str> = crate::spec::FIELDS
        .iter()
        .filter(|f| f.per_trial() && !header.iter().any(|h| h == f.name))
        .map(|f| f.name)
        .collect();
    header.push("run".into());
    header.extend(keys.iter().map(|k| k.to_string()));
    for (row, t) in rows.iter_mut().zip(trials) {
        let table = t.trial.spec.to_table();
        row.push(run.to_string());
        row.extend(keys.iter().map(|k| match t.trial.spec.applies(k) {
            true => table.get(*k).map(crate::spec::display_value).unwrap_or_default(),
            false => crate::spec::NOT_APPLICABLE.to_string(),
        }));
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in std::iter::once(&header).chain(&rows) {
        writer.write_record(record).expect("writing to memory cannot fail");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory cannot fail")).expect("cells are UTF-8")
}

/// (index, status) of each row of a summary.csv; empty if it is missing or unreadable.
pub fn read_statuses(path: &std::path::Path) -> Vec<(usize, Status)> {
    let Ok(mut reader) = csv::Reader::from_path(path) else { return Vec::new() };
    let Ok(header) = reader.headers().cloned() else { return Vec::new() };
    let (Some(i), Some(s)) = (header.iter().position(|h| h == "index"), header.iter().position(|h| h == "status"))
    else {
        return Vec::new();
    };
    reader.records().flatten().filter_map(|r| Some((r.get(i)?.parse().ok()?, r.get(s)?.parse().ok()?))).collect()
}
