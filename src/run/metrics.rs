//! metrics.csv: one row per epoch, appended and flushed as each epoch ends.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::train::EpochMetrics;

pub const FILE: &str = "metrics.csv";

const HEADER: [&str; 13] = [
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
    "epoch_seconds",
    "images_per_second",
    "finished_at",
    "val_loss",
    "val_acc",
    "train_seconds",
    "eval_seconds",
];

pub struct MetricsWriter {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl MetricsWriter {
    /// Starts `dir/metrics.csv` holding exactly `kept` (the epochs a resumed trial keeps; none for
    /// a new trial), written atomically, and appends from there: a torn last line or the row of an
    /// epoch that was not committed is dropped.
    pub fn start(dir: &Path, kept: &[EpochMetrics]) -> Result<MetricsWriter> {
        let path = dir.join(FILE);
        let mut text = csv::Writer::from_writer(Vec::new());
        if kept.is_empty() {
            text.write_record(HEADER).expect("writing to memory cannot fail");
        }
        for row in kept {
            text.serialize(row).expect("writing to memory cannot fail");
        }
        let bytes = text.into_inner().expect("writing to memory cannot fail");
        crate::run::write_file(&path, &bytes)?;
        let file = OpenOptions::new().append(true).open(&path).map_err(Error::io(&path))?;
        let writer = csv::WriterBuilder::new().has_headers(false).from_writer(file);
        Ok(MetricsWriter { writer, path })
    }

    pub fn append(&mut self, row: &EpochMetrics) -> Result<()> {
        let err = |e: csv::Error| Error::Io { path: self.path.clone(), source: e.into() };
        self.writer.serialize(row).map_err(err)?;
        self.writer.flush().map_err(Error::io(&self.path))
    }
}

/// The committed epochs of a metrics.csv: the rows 1, 2, ... up to the first one missing, torn
/// or out of order. A missing file has none.
pub fn read_committed(path: &Path) -> Vec<EpochMetrics> {
    let Ok(mut reader) = csv::Reader::from_path(path) else { return Vec::new() };
    let mut rows = Vec::new();
    for row in reader.deserialize::<EpochMetrics>() {
        match row {
            Ok(row) if row.epoch as usize == rows.len() + 1 => rows.push(row),
            _ => break,
        }
    }
    rows
}

/// The first epoch that reached the highest [`selection_score`]: the one `best.bpk` holds.
pub fn best(epochs: &[EpochMetrics]) -> Option<&EpochMetrics> {
    epochs.iter().fold(None, |best: Option<&EpochMetrics>, e| match best {
        Some(b) if selection_score(b) >= selection_score(e) => Some(b),
        _ => Some(e),
    })
}

/// The epoch whose weights a trial ships, and whose test accuracy results compare: its best
/// epoch with a validation split (best.bpk), its last without one (last.bpk): choosing on the
/// test set would flatter it.
pub fn shipped(epochs: &[EpochMetrics]) -> Option<&EpochMetrics> {
    match epochs.first()?.val_acc {
        Some(_) => best(epochs),
        None => epochs.last(),
    }
}

/// What the best epoch (and a search's best trial) is chosen on: the validation accuracy, or
/// the test accuracy when there is no validation split.
pub fn selection_score(e: &EpochMetrics) -> f64 {
    e.val_acc.unwrap_or(e.test_acc)
}

/// Reads every row of a metrics.csv.
pub fn read(path: &Path) -> Result<Vec<EpochMetrics>> {
    let err = |e: csv::Error| Error::Io { path: path.to_path_buf(), source: e.into() };
    csv::Reader::from_path(path).map_err(err)?.deserialize().collect::<Result<_, _>>().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: u32) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: 0.5,
            train_acc: 0.8,
            test_loss: 0.4,
            test_acc: 0.85,
            lr: 0.01,
            epoch_seconds: 1.5,
            images_per_second: 1000.0,
            finished_at: "2026-11-28T17:05:12Z".into(),
            val_loss: None,
            val_acc: None,
            train_seconds: Some(1.25),
            eval_seconds: Some(0.25),
        }
    }

    #[test]
    fn header_and_rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = MetricsWriter::start(dir.path(), &[]).unwrap();
        writer.append(&row(1)).unwrap();
        writer.append(&row(2)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text.lines().next().unwrap(), HEADER.join(","));
        assert_eq!(
            HEADER.join(","),
            "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds,images_per_second,finished_at,val_loss,val_acc,train_seconds,eval_seconds"
        );
        assert_eq!(read(&dir.path().join(FILE)).unwrap(), vec![row(1), row(2)]);
    }

    #[test]
    fn best_is_the_first_epoch_at_the_highest_accuracy() {
        let accs = [0.5, 0.9, 0.9, 0.7];
        let epochs: Vec<EpochMetrics> =
            accs.iter().enumerate().map(|(i, &a)| EpochMetrics { test_acc: a, ..row(i as u32 + 1) }).collect();
        assert_eq!(best(&epochs).map(|e| e.epoch), Some(2));
        assert!(best(&[]).is_none());
        // With a validation split, the validation accuracy decides.
        let vals = [0.7, 0.6, 0.65, 0.75];
        let epochs: Vec<EpochMetrics> =
            epochs.into_iter().zip(vals).map(|(e, v)| EpochMetrics { val_acc: Some(v), ..e }).collect();
        assert_eq!(best(&epochs).map(|e| e.epoch), Some(4));
    }

    #[test]
    fn start_keeps_the_committed_rows_and_drops_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut writer = MetricsWriter::start(dir.path(), &[]).unwrap();
        writer.append(&row(1)).unwrap();
        writer.append(&row(2)).unwrap();
        drop(writer);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("3,0.5,0.8");
        std::fs::write(&path, text).unwrap();
        assert_eq!(read_committed(&path), vec![row(1), row(2)]);

        let mut writer = MetricsWriter::start(dir.path(), &[row(1)]).unwrap();
        writer.append(&row(2)).unwrap();
        assert_eq!(read(&path).unwrap(), vec![row(1), row(2)], "no duplicate, no torn row");

        let mut writer = MetricsWriter::start(dir.path(), &[]).unwrap();
        writer.append(&row(1)).unwrap();
        assert_eq!(read(&path).unwrap(), vec![row(1)], "a trial restarted from scratch keeps its header");
        assert!(read_committed(&dir.path().join("missing.csv")).is_empty());
    }
}
