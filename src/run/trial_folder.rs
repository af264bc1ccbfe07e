//! A trial folder of a run, as `eval`, `predict` and `export` open it: its spec, a checkpoint,
//! and the images it trained on (`images.json`, for an image folder).

use std::path::{Path, PathBuf};

use burn::prelude::Device;

use super::checkpoint;
use crate::data::ImageSet;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::spec::Spec;

pub struct TrialFolder {
    pub dir: PathBuf,
    pub checkpoint: PathBuf,
    pub spec: Spec,
    /// The shape and classes of the images the model was trained on.
    pub images: ImageSet,
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
        let images = match images(&dir, &spec) {
            Some(images) => images,
            None => {
                return Err(Error::DataFormat {
                    path: dir.join(IMAGES_FILE),
                    message: "is missing or damaged: it says which images (shape, classes) this trial's model takes"
                        .into(),
                });
            }
        };
        Ok(TrialFolder { dir, checkpoint, spec, images })
    }
}

/// The files a trial folder holds for the run (what eval and export must never write over), and
/// its folders whose files are all the run's.
const RUN_FILES: [&str; 7] =
    ["spec.toml", "metrics.csv", "status.json", IMAGES_FILE, "claim", "progress.json", "requeues.json"];
const RUN_FOLDERS: [&str; 2] = [checkpoint::DIR, "tb"];
const RUN_ROOT_FILES: [&str; 4] = ["spec.toml", "manifest.json", "summary.csv", "run.lock"];

impl TrialFolder {
    /// Refuses `out` (given with `flag`) when writing it would destroy an input or a file of the
    /// run: the checkpoint read, the trial's own records and checkpoints, the run's spec,
    /// manifest and summary.
    pub fn check_output(&self, out: &Path, flag: &str) -> Result<()> {
        let resolve = |path: &Path| -> PathBuf {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            match (absolute.parent().and_then(|p| p.canonicalize().ok()), absolute.file_name()) {
                (Some(parent), Some(name)) => parent.join(name),
                _ => absolute,
            }
        };
        let (out_path, dir) = (resolve(out), self.dir.canonicalize().unwrap_or_else(|_| self.dir.clone()));
        let name = out_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parent = out_path.parent().unwrap_or(Path::new(""));
        let run_root = dir.parent().and_then(Path::parent);
        let why = if out_path == resolve(&self.checkpoint) || same_file(&out_path, &self.checkpoint) {
            Some("is the checkpoint this command reads")
        } else if parent == dir && RUN_FILES.contains(&name.as_str()) {
            Some("is one of the trial's own records")
        } else if RUN_FOLDERS.iter().any(|f| out_path.starts_with(dir.join(f))) {
            Some("is inside the trial's checkpoints or TensorBoard folder")
        } else if run_root == Some(parent) && RUN_ROOT_FILES.contains(&name.as_str()) {
            Some("is one of the run's own files")
        } else {
            None
        };
        match why {
            Some(why) => Err(Error::Usage {
                origin: flag.into(),
                message: format!("{}: {why}; writing it would destroy it. Choose another file", out.display()),
            }),
            None => Ok(()),
        }
    }
}

/// Both paths name one existing file (a hard link or another spelling of it).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The record of an image folder's images in each of its trials' folders.
pub const IMAGES_FILE: &str = "images.json";

/// What `images.json` holds: the images' shape and classes, and the key of the folder's file
/// list (names, sizes, modification times) when the trial started.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ImagesRecord {
    #[serde(flatten)]
    pub images: ImageSet,
    pub files_key: String,
}

/// The images the trial in `dir` takes: a built-in data set's, or what its folder recorded.
pub fn images(dir: &Path, spec: &Spec) -> Option<ImageSet> {
    spec.dataset.builtin().or_else(|| read_images_record(dir).map(|record| record.images))
}

pub fn read_images_record(dir: &Path) -> Option<ImagesRecord> {
    serde_json::from_slice(&std::fs::read(dir.join(IMAGES_FILE)).ok()?).ok()
}

/// The trial's model with the checkpoint's weights.
pub fn load_model(spec: &Spec, images: &ImageSet, checkpoint: &Path, device: &Device) -> Result<Model> {
    let fresh = Model::new(&spec.architecture(images.classes.len()), images.shape, device)?;
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
