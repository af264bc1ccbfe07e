//! metrics.csv: one row per epoch, appended and flushed as each epoch ends.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::train::EpochMetrics;

pub const FILE: &str = "metrics.csv";

pub struct MetricsWriter {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl MetricsWriter {
    /// Creates `dir/metrics.csv` with its header.
    pub fn create(dir: &Path) -> Result<MetricsWriter> {
        let path = dir.join(FILE);
        let file = OpenOptions::new().create_new(true).write(true).open(&path).map_err(Error::io(&path))?;
        Ok(MetricsWriter { writer: csv::Writer::from_writer(file), path })
    }

    pub fn append(&mut self, row: &EpochMetrics) -> Result<()> {
        let err = |e: csv::Error| Error::Io { path: self.path.clone(), source: e.into() };
        self.writer.serialize(row).map_err(err)?;
        self.writer.flush().map_err(Error::io(&self.path))
    }
}

/// Reads every row of a metrics.csv.
pub fn read(path: &Path) -> Result<Vec<EpochMetrics>> {
    let err = |e: csv::Error| Error::Io { path: path.to_path_buf(), source: e.into() };
    csv::Reader::from_path(path).map_err(err)?.deserialize().collect::<Result<_, _>>().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let row = |epoch| EpochMetrics {
            epoch,
            train_loss: 0.5,
            train_acc: 0.8,
            test_loss: 0.4,
            test_acc: 0.85,
            lr: 0.01,
            epoch_seconds: 1.5,
            images_per_second: 1000.0,
            finished_at: "2026-11-28T17:05:12Z".into(),
        };
        let mut writer = MetricsWriter::create(dir.path()).unwrap();
        writer.append(&row(1)).unwrap();
        writer.append(&row(2)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds,images_per_second,finished_at"
        );
        assert_eq!(read(&dir.path().join(FILE)).unwrap(), vec![row(1), row(2)]);
        assert!(MetricsWriter::create(dir.path()).is_err(), "never overwrites");
    }
}
