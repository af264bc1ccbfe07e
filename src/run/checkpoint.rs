//! Checkpoints in Burn's burnpack format. Every file is written to a temporary name and renamed,
//! so no reader ever sees half a checkpoint.
//!
//! A trial keeps, in `checkpoints/`:
//! - `epoch-NNN.bpk` and `epoch-NNN.optim.bpk`: model and optimizer after epoch NNN, the state a
//!   resumed trial starts from. They are written before epoch NNN's row is appended to
//!   metrics.csv (that row commits the epoch), and the previous epoch's pair is removed after.
//! - `last.bpk` and `best.bpk`: the model after the last committed epoch and after the best one
//!   (hard links to the epoch file when the file system allows, copies otherwise).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;

use crate::data::fetch::temp_path;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::model::Model;
use crate::run::metrics;
use crate::train::{EpochMetrics, TrainState};

pub const DIR: &str = "checkpoints";
pub const EXTENSION: &str = "bpk";

/// `<trial>/checkpoints/<name>.bpk`
pub fn path(trial_dir: &Path, name: &str) -> PathBuf {
    trial_dir.join(DIR).join(format!("{name}.{EXTENSION}"))
}

/// The model and optimizer files of the state after `epoch`.
pub fn epoch_paths(trial_dir: &Path, epoch: u32) -> (PathBuf, PathBuf) {
    (path(trial_dir, &format!("epoch-{epoch:03}")), path(trial_dir, &format!("epoch-{epoch:03}.optim")))
}

/// Writes the state after `epoch`: the model and the optimizer (momentum, Adam moments).
pub fn save_state(trial_dir: &Path, epoch: u32, model: &Model, optim: &ModuleOptimizer) -> Result<()> {
    let (model_path, optim_path) = epoch_paths(trial_dir, epoch);
    save(model, &model_path)?;
    write_with(&optim_path, |tmp| optim.save(tmp).map_err(|e| e.to_string()))
}

/// Loads the state [`save_state`] wrote after `epoch` into `state` (built for the same spec).
pub fn load_state(state: TrainState, trial_dir: &Path, epoch: u32) -> Result<TrainState> {
    let (model_path, optim_path) = epoch_paths(trial_dir, epoch);
    let model = load(state.model, &model_path)?;
    let optim = state
        .optim
        .load(&optim_path)
        .map_err(|e| Error::Checkpoint(format!("{}: not a readable optimizer state: {e}", optim_path.display())))?;
    Ok(TrainState { model, optim, epochs_done: epoch })
}

/// Points `last.bpk` at the state after the last of the committed `epochs`, and `best.bpk` too
/// when that epoch is the best so far.
pub fn link_last_and_best(trial_dir: &Path, epochs: &[EpochMetrics]) -> Result<()> {
    let Some(last) = epochs.last() else { return Ok(()) };
    let (model, _) = epoch_paths(trial_dir, last.epoch);
    link(&model, &path(trial_dir, "last"))?;
    if metrics::best(epochs).is_some_and(|best| best.epoch == last.epoch) {
        link(&model, &path(trial_dir, "best"))?;
    }
    Ok(())
}

pub fn save(model: &Model, path: &Path) -> Result<()> {
    write_with(path, |tmp| model.clone().into_record().save(tmp).map_err(|e| e.to_string()))
}

fn write_with(path: &Path, write: impl FnOnce(&Path) -> Result<(), String>) -> Result<()> {
    let tmp = temp_path(path);
    let result = write(&tmp)
        .map_err(|e| Error::Checkpoint(format!("{}: cannot write checkpoint: {e}", path.display())))
        .and_then(|()| {
            failpoint::hit(|| format!("checkpoint-tmp:{}", failpoint_name(path)));
            std::fs::rename(&tmp, path).map_err(Error::io(path))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `000_trial/epoch-002.bpk`: how failpoints name a checkpoint file.
fn failpoint_name(path: &Path) -> String {
    let trial = path.parent().and_then(Path::parent).and_then(Path::file_name).unwrap_or_default();
    let file = path.file_name().unwrap_or_default();
    format!("{}/{}", trial.to_string_lossy(), file.to_string_lossy())
}

/// Makes `to` the same checkpoint as `from` (atomically): a hard link, or a copy where the file
/// system has none. Never reads the weights off the device again.
pub fn link(from: &Path, to: &Path) -> Result<()> {
    let tmp = temp_path(to);
    let _ = std::fs::remove_file(&tmp);
    let result = std::fs::hard_link(from, &tmp)
        .or_else(|_| std::fs::copy(from, &tmp).map(|_| ()))
        .and_then(|()| std::fs::rename(&tmp, to))
        .map_err(Error::io(to));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes every epoch state except `keep`'s, and temporary files left by a killed writer.
pub fn remove_stale(trial_dir: &Path, keep: Option<u32>) -> Result<()> {
    let dir = trial_dir.join(DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    let kept: Vec<PathBuf> = keep.map(|e| epoch_paths(trial_dir, e)).map(|(m, o)| vec![m, o]).unwrap_or_default();
    for entry in entries {
        let path = entry.map_err(Error::io(&dir))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let stale = (name.starts_with("epoch-") && !kept.contains(&path)) || (name.starts_with('.') && name.contains(".tmp-"));
        if stale {
            std::fs::remove_file(&path).map_err(Error::io(&path))?;
        }
    }
    Ok(())
}

/// Loads weights into `model` (built for the same spec and data set).
pub fn load(model: Model, path: &Path) -> Result<Model> {
    let record = burn::store::ModuleRecord::load(path)
        .map_err(|e| Error::Checkpoint(format!("{}: not a readable checkpoint: {e}", path.display())))?;
    model.try_load_record(record).map_err(|e| {
        Error::Checkpoint(format!("{}: does not fit this model (another model kind or data set?): {e}", path.display()))
    })
}
