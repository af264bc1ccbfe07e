//! A trial folder of a run, as `eval` and `export` open it: its spec and a checkpoint.

use std::path::{Path, PathBuf};

use burn::prelude::Device;

use crate::data::ImageShape;
use crate::error::{Error, Result};
use crate::model::Model;
use super::checkpoint;
use crate::spec::Spec;

pub struct TrialFolder {
    pub dir: PathBuf,
    pub checkpoint: PathBuf,
    pub spec: Spec,
}

impl TrialFolder {
    /// A trial folder (its last checkpoint) or a checkpoint file inside one.
    pub fn open(target: &Path) -> Result<TrialFolder> {
        let (dir, checkpoint) = locate(target)?;
        let spec_path = dir.join("spec.toml");
        if !spec_path.is_file() {
            return Err(not_a_trial(target));
        }
        // Checked like any spec: an edited or damaged spec.toml is an error, not a wrong result.
        let spec = crate::spec::load_recorded(&spec_path)?;
        Ok(TrialFolder { dir, checkpoint, spec })
    }
}

/// The trial's model with the checkpoint's weights.
pub fn load_model(spec: &Spec, shape: ImageShape, checkpoint: &Path, device: &Device) -> Result<Model> {
    let fresh = Model::new(&spec.architecture(), shape, device)?;
    checkpoint::load(fresh, checkpoint)
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
    Error::NotATrial { path: target.to_path_buf() }
}
