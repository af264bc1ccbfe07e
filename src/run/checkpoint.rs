//! Checkpoints in Burn's burnpack format. Every file is written to a temporary name and renamed,
//! so no reader ever sees half a checkpoint.
//!
//! A trial keeps, in `checkpoints/`:
//! - `epoch-NNN.bpk` and `epoch-NNN.optim.bpk`: model and optimizer after epoch NNN, the state a
//!   resumed trial starts from. They are written before epoch NNN's row is appended to
//!   metrics.csv (that row commits the epoch), and the previous epoch's pair is removed after.
//! - `last.bpk` and `best.bpk`: the model after the last committed epoch and after the best one
//!   (hard links to the epoch file when the file system allows, copies otherwise).
//!
//! Beside each one, `<file>.sha256` (the `sha256sum` format) holds its checksum, written before
//! the checkpoint is renamed into place and verified on every read: a damaged checkpoint is an
//! error naming the file, never a model with garbage weights. (Older run folders without these
//! files load unverified.)

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;

use crate::error::{Error, Result};
use crate::failpoint;
use crate::fs::temp_path;
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

/// Loads the state [`save_state`] wrote after the last of the epochs of `history` into `state`
/// (built for the same spec); training goes on after them.
pub fn load_state(state: TrainState, trial_dir: &Path, history: Vec<EpochMetrics>) -> Result<TrainState> {
    let (model_path, optim_path) = epoch_paths(trial_dir, history.len() as u32);
    let model = load(state.model, &model_path)?;
    verify(&optim_path)?;
    let optim = state
        .optim
        .load(&optim_path)
        .map_err(|e| Error::Checkpoint(format!("{}: not a readable optimizer state: {e}", optim_path.display())))?;
    Ok(TrainState { model, optim, history })
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
        .and_then(|()| sha256(&tmp).map_err(Error::io(&tmp)))
        .and_then(|digest| {
            failpoint::hit(|| format!("checkpoint-tmp:{}", failpoint_name(path)));
            write_checksum(path, &digest)?;
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
    if let Some(digest) = recorded_checksum(from)? {
        write_checksum(to, &digest)?;
    }
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
    let kept: Vec<PathBuf> = keep
        .map(|e| epoch_paths(trial_dir, e))
        .map(|(m, o)| vec![checksum_path(&m), checksum_path(&o), m, o])
        .unwrap_or_default();
    for entry in entries {
        let path = entry.map_err(Error::io(&dir))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let stale =
            (name.starts_with("epoch-") && !kept.contains(&path)) || (name.starts_with('.') && name.contains(".tmp-"));
        if stale {
            std::fs::remove_file(&path).map_err(Error::io(&path))?;
        }
    }
    Ok(())
}

/// Loads weights into `model` (built for the same spec and data set), checksum verified.
pub fn load(model: Model, path: &Path) -> Result<Model> {
    verify(path)?;
    let record = read_record(path)
        .map_err(|e| Error::Checkpoint(format!("{}: not a readable checkpoint: {e}", path.display())))?;
    model.try_load_record(record).map_err(|e| {
        Error::Checkpoint(format!("{}: does not fit this model (another model kind or data set?): {e}", path.display()))
    })
}

/// The record in `path`, with the tensor paths of the seed CNN before architectures were set in
/// the spec (`Cnn.conv1`, `Cnn.fc2`, ...) renamed to today's (`Cnn.convs.0`, `Cnn.layers.1`, ...),
/// so the run folders of older runners still evaluate, export and resume. Parameter ids (what
/// the optimizer state is keyed by) are kept.
fn read_record(path: &Path) -> Result<burn::store::ModuleRecord, String> {
    let reader = burn_pack::Reader::from_file_exact(path).map_err(|e| e.to_string())?;
    if !reader.tensor_names().into_iter().any(|name| legacy_path(name).is_some()) {
        return burn::store::ModuleRecord::load(path).map_err(|e| e.to_string());
    }
    let tensors = reader.into_tensors().map_err(|e| e.to_string())?;
    let renamed = tensors
        .into_iter()
        .map(|tensor| {
            let (name, dtype, shape, id, bytes) = tensor.into_parts()?;
            let name = legacy_path(&name).unwrap_or(name);
            Ok(burn_pack::Tensor::new(name, dtype, shape, id, bytes))
        })
        .collect::<Result<Vec<_>, burn_pack::Error>>()
        .map_err(|e| e.to_string())?;
    let bytes = burn_pack::Writer::new(renamed).into_bytes().map_err(|e| e.to_string())?;
    burn::store::ModuleRecord::from_bytes(bytes).map_err(|e| e.to_string())
}

/// Today's path of a tensor path of the seed CNN's old layout; None for any other path.
fn legacy_path(name: &str) -> Option<String> {
    const RENAMES: [(&str, &str); 4] = [
        ("Cnn.conv1.", "Cnn.convs.0."),
        ("Cnn.conv2.", "Cnn.convs.1."),
        ("Cnn.fc1.", "Cnn.layers.0."),
        ("Cnn.fc2.", "Cnn.layers.1."),
    ];
    RENAMES.iter().find_map(|(old, new)| name.strip_prefix(old).map(|rest| format!("{new}{rest}")))
}

/// `<checkpoint>.sha256`
pub fn checksum_path(checkpoint: &Path) -> PathBuf {
    let name = checkpoint.file_name().unwrap_or_default().to_string_lossy();
    checkpoint.with_file_name(format!("{name}.sha256"))
}

/// Records `digest` as the checksum of `checkpoint` (`sha256sum -c` reads it).
fn write_checksum(checkpoint: &Path, digest: &str) -> Result<()> {
    let name = checkpoint.file_name().unwrap_or_default().to_string_lossy();
    crate::run::write_file(&checksum_path(checkpoint), format!("{digest}  {name}\n").as_bytes())
}

/// The checksum recorded for `checkpoint`; None for checkpoints of older runners, which had none.
fn recorded_checksum(checkpoint: &Path) -> Result<Option<String>> {
    let path = checksum_path(checkpoint);
    match std::fs::read_to_string(&path) {
        Ok(text) => match text.split_whitespace().next() {
            Some(digest) if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Some(digest.to_ascii_lowercase()))
            }
            _ => {
                Err(Error::Checkpoint(format!("{}: damaged checksum file (expected a SHA-256 in hex)", path.display())))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path)(e)),
    }
}

/// Checks `checkpoint` against its recorded checksum.
pub fn verify(checkpoint: &Path) -> Result<()> {
    let Some(expected) = recorded_checksum(checkpoint)? else { return Ok(()) };
    let actual = sha256(checkpoint).map_err(Error::io(checkpoint))?;
    if actual != expected {
        return Err(Error::Checkpoint(format!(
            "{}: damaged checkpoint: its SHA-256 is {actual}, {} recorded {expected} when it was written \
             (a disk error, a partial copy, or an edit); use another checkpoint or retrain",
            checkpoint.display(),
            checksum_path(checkpoint).file_name().unwrap_or_default().to_string_lossy()
        )));
    }
    Ok(())
}

/// SHA-256 of a file, in lowercase hex.
fn sha256(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_checkpoint_is_named_and_links_carry_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(DIR)).unwrap();
        let epoch = path(dir.path(), "epoch-001");
        write_with(&epoch, |tmp| std::fs::write(tmp, b"weights").map_err(|e| e.to_string())).unwrap();
        let sidecar = std::fs::read_to_string(checksum_path(&epoch)).unwrap();
        // sha256sum's format: `printf weights | sha256sum`
        assert_eq!(sidecar, "9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c  epoch-001.bpk\n");
        verify(&epoch).unwrap();

        let last = path(dir.path(), "last");
        link(&epoch, &last).unwrap();
        assert!(std::fs::read_to_string(checksum_path(&last)).unwrap().ends_with("  last.bpk\n"));
        verify(&last).unwrap();

        std::fs::write(&epoch, b"weightz").unwrap();
        let err = verify(&last).unwrap_err().to_string();
        assert!(err.contains("last.bpk: damaged checkpoint") && err.contains("last.bpk.sha256 recorded"), "{err}");

        // A checkpoint from before checksums were recorded loads unverified.
        let old = path(dir.path(), "old");
        std::fs::write(&old, b"x").unwrap();
        verify(&old).unwrap();
    }

    #[test]
    fn a_seed_cnn_checkpoint_of_an_older_runner_loads() {
        use burn::prelude::*;
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        let mnist = crate::catalog::ImageShape { channels: 1, height: 28, width: 28 };
        let architecture = crate::spec::Spec::default().architecture(10);
        device.seed(1);
        let trained = Model::new(&architecture, mnist, &device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let today = dir.path().join("today.bpk");
        save(&trained, &today).unwrap();

        // The tensor paths the runner wrote before architectures were set in the spec (read off a
        // checkpoint of that binary): Cnn.conv1.bias, ..., Cnn.fc2.weight.
        let old_names = [
            ("Cnn.convs.0.", "Cnn.conv1."),
            ("Cnn.convs.1.", "Cnn.conv2."),
            ("Cnn.layers.0.", "Cnn.fc1."),
            ("Cnn.layers.1.", "Cnn.fc2."),
        ];
        let tensors: Vec<burn_pack::Tensor> = burn_pack::Reader::from_file(&today)
            .unwrap()
            .into_tensors()
            .unwrap()
            .into_iter()
            .map(|t| {
                let (name, dtype, shape, id, bytes) = t.into_parts().unwrap();
                let (new, old) = old_names.iter().find(|(new, _)| name.starts_with(new)).unwrap();
                burn_pack::Tensor::new(name.replacen(new, old, 1), dtype, shape, id, bytes)
            })
            .collect();
        let older = dir.path().join("older.bpk");
        burn_pack::Writer::new(tensors).write_to_file(&older).unwrap();

        device.seed(2);
        let fresh = Model::new(&architecture, mnist, &device).unwrap();
        let x = Tensor::<4>::random([3, 1, 28, 28], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let differs =
            |model: &Model| (model.forward(x.clone()) - trained.forward(x.clone())).abs().max().into_scalar::<f32>();
        assert!(differs(&fresh) > 1e-3, "another seed, other weights");
        let loaded = load(fresh, &older).unwrap();
        assert_eq!(differs(&loaded), 0.0, "the older checkpoint's weights, all of them");
        let params = |m: &Model| m.clone().into_record().len();
        assert_eq!(params(&loaded), params(&trained));
    }
}
