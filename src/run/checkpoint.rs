//! Model checkpoints in Burn's burnpack format, written to a temporary file and renamed.

use std::path::{Path, PathBuf};

use burn::module::Module;

use crate::data::fetch::temp_path;
use crate::error::{Error, Result};
use crate::model::Model;

pub const DIR: &str = "checkpoints";
pub const EXTENSION: &str = "bpk";

/// `<trial>/checkpoints/<name>.bpk`
pub fn path(trial_dir: &Path, name: &str) -> PathBuf {
    trial_dir.join(DIR).join(format!("{name}.{EXTENSION}"))
}

pub fn save(model: &Model, path: &Path) -> Result<()> {
    let tmp = temp_path(path);
    let result = model
        .clone()
        .into_record()
        .save(&tmp)
        .map_err(|e| Error::Checkpoint(format!("{}: cannot write checkpoint: {e}", path.display())))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(Error::io(path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Copies a written checkpoint to `to` (temp file + rename): the same bytes, without reading the
/// weights off the device a second time.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    let tmp = temp_path(to);
    let result = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, to)).map_err(Error::io(to));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Loads weights into `model` (built for the same spec and data set).
pub fn load(model: Model, path: &Path) -> Result<Model> {
    let record = burn::store::ModuleRecord::load(path)
        .map_err(|e| Error::Checkpoint(format!("{}: not a readable checkpoint: {e}", path.display())))?;
    model.try_load_record(record).map_err(|e| {
        Error::Checkpoint(format!("{}: does not fit this model (another model kind or data set?): {e}", path.display()))
    })
}
