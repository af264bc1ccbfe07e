//! The experiment spec: its fields, their kinds and defaults. `load` layers the sources,
//! `validate` checks the values, `sweep` expands a spec into trials, `search` samples them.

mod keys;
mod load;
mod names;
pub mod parzen;
pub mod rounds;
mod search;
mod sets;
mod slurm;
mod sweep;
pub mod tpe;
mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::{Overrides, load, load_recorded, load_run, load_text, locate, read};
pub use names::{Augment, BackendName, DatasetName, LrSchedule, ModelKind, Monitor, OptimizerName};
pub use search::{Distribution, Prune, SEARCH_FIELDS, SearchMethod, SearchSpec, successive_halving};
pub use slurm::{SLURM_FIELDS, SlurmSpec};
pub use sweep::{NOT_APPLICABLE, Trial, differing_keys, display_value, distinguishing_keys, expand};
pub use validate::{RangeError, is_safe_name};

/// One experiment as the user wrote it, after layering; `sweep` lists the axes to expand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spec {
    /// Used in the run folder name.
    pub name: String,
    pub model: ModelKind,
    pub dataset: DatasetName,
    /// `dataset = "folder"`: the folder holding `train/<class>/*` and `test/<class>/*` images.
    #[serde(skip_serializing_if = "is_empty_path")]
    pub folder: PathBuf,
    /// `dataset = "folder"`: resize every image to `[height, width]`; `[]`: the images' own size.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_size: Vec<u32>,
    /// `dataset = "hf:..."`: the branch, tag or commit to read (resolved to a commit at start).
    #[serde(skip_serializing_if = "is_main")]
    pub hf_revision: String,
    /// `dataset = "hf:..."`: the config (sub-folder) to read, for repos that hold several.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hf_config: String,
    /// `dataset = "hf:..."`: the image column, when the files' metadata does not tell it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_column: String,
    /// `dataset = "hf:..."`: the label column, when the files' metadata does not tell it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label_column: String,
    pub backend: BackendName,
    /// GPU index for `backend = "cuda"`.
    pub device: u32,
    /// CPU threads for training on a CPU backend; 0 means one per core.
    pub threads: u32,
    pub epochs: u32,
    pub batch_size: u32,
    pub lr: f64,
    pub optimizer: OptimizerName,
    /// SGD momentum (PyTorch semantics: no dampening).
    pub momentum: f64,
    /// sgd and adam: L2 penalty added to the gradient; adamw: decoupled weight decay (0.01 when
    /// unset, PyTorch's default). Unset means 0 for sgd and adam.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    pub seed: i64,
    /// Fraction of the training images held out for validation, chosen by the seed; 0: none.
    pub val_split: f64,
    pub lr_schedule: LrSchedule,
    /// `step`: epochs between decays.
    pub step_size: u32,
    /// `step` and `multistep`: the factor of each decay.
    pub gamma: f64,
    /// `multistep`: the epochs (from 0, as PyTorch counts) at which the rate decays.
    pub milestones: Vec<u32>,
    /// `cosine`: the rate it anneals to.
    pub min_lr: f64,
    /// Epochs of linear warm-up before the schedule (not with onecycle).
    pub warmup_epochs: u32,
    /// Early stopping: epochs without improvement of the monitored metric before the trial ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<u32>,
    /// Early stopping: the least change that counts as an improvement.
    pub min_delta: f64,
    /// Early stopping: the validation metric it watches.
    pub monitor: Monitor,
    /// Random training-image transformations, applied as batches are assembled.
    pub augment: Vec<Augment>,
    /// Fully connected hidden layers: the `nn` model's (`[]` is logistic regression) and the
    /// `cnn` model's head.
    pub hidden: Vec<u32>,
    /// The `cnn` model's conv blocks (conv -> [batch norm] -> ReLU -> 2x2 max pool): the output
    /// channels of each.
    pub conv_channels: Vec<u32>,
    /// The `cnn` model's square kernels: odd, 1 to 7.
    pub kernel_size: u32,
    /// The `cnn` model's zero padding: 0, or "same" (keeps the size through each conv).
    pub padding: crate::model::Padding,
    /// Batch norm after each conv and each hidden linear layer.
    pub batch_norm: bool,
    /// Dropout probability after each hidden layer's ReLU, while training.
    pub dropout: f64,
    /// Per-channel normalization: one value for all channels, or one per channel.
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Train on the first N training images only (smoke runs, tests); 0 means all.
    pub limit_train: u32,
    /// Evaluate on the first N test images only; 0 means all.
    pub limit_test: u32,
    /// Root of the data sets; `--data-dir` and `RUNNER_DATA_DIR` override it.
    pub data_dir: PathBuf,
    /// Base URL to download the data set from instead of the official mirrors.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mirror: String,
    /// Write TensorBoard event files (scalars and HParams) as epochs end.
    pub tensorboard: bool,
    /// A claim (run.lock, a trial's claim) from another host whose heartbeat is older than this
    /// is taken over; its holder beats a twentieth as often (1-30 s).
    pub stale_after_seconds: u64,
    /// How `runner submit` asks Slurm for resources; no other command reads it.
    #[serde(skip_serializing_if = "SlurmSpec::is_default")]
    pub slurm: SlurmSpec,
    /// Random search, ASHA or TPE over `[search.space]`, on top of the `[sweep]` grid.
    #[serde(skip_serializing_if = "SearchSpec::is_default")]
    pub search: SearchSpec,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sweep: BTreeMap<String, Vec<toml::Value>>,
}

fn is_main(revision: &str) -> bool {
    revision == DEFAULT_HF_REVISION
}

/// The Hub revision read when the spec names none.
pub const DEFAULT_HF_REVISION: &str = "main";

fn is_empty_path(path: &std::path::Path) -> bool {
    path.as_os_str().is_empty()
}

/// The default of `stale_after_seconds`: 10 minutes.
pub const DEFAULT_STALE_AFTER_SECONDS: u64 = 600;

/// What a key of the spec is for; the rules below (what a sweep may vary, what a resume may
/// change, what `--dry-run` shows, what `RUNNER_<KEY>` may set) follow from it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Names the run folder.
    Name,
    /// Changes what a trial computes (the model, the data, the protocol).
    Computes,
    /// Where a trial computes (backend, device, threads): sweepable, and a resume may change it.
    Device,
    /// Where files are, and which extra files are written: neither swept nor fixed.
    Files,
    /// `[slurm]`: the resources `runner submit` asks for.
    Slurm,
    /// `[search]`: the random search or ASHA on top of the grid.
    Search,
    /// `[sweep]`: the grid.
    Sweep,
}

/// One key of a spec file.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

impl Field {
    /// A sweep or search may vary it.
    pub fn sweepable(&self) -> bool {
        matches!(self.kind, Kind::Computes | Kind::Device)
    }

    /// It says where or how a trial runs, not what it computes: a resume may change it.
    pub fn where_it_runs(&self) -> bool {
        matches!(self.kind, Kind::Device | Kind::Files | Kind::Slurm)
    }

    /// `--dry-run` shows it as a column, one value per trial.
    pub fn per_trial(&self) -> bool {
        matches!(self.kind, Kind::Computes | Kind::Device | Kind::Files)
    }

    /// `RUNNER_<KEY>` may set it. `RUNNER_NAME` is left out on purpose: CI services (GitHub
    /// Actions) set it for their own use.
    pub fn from_env(&self) -> bool {
        !matches!(self.kind, Kind::Name | Kind::Sweep)
    }
}

/// Every key a spec file may hold, in the order the README documents them.
pub const FIELDS: &[Field] = {
    use Kind::*;
    const fn f(name: &'static str, kind: Kind) -> Field {
        Field { name, kind }
    }
    &[
        f("name", Name),
        f("model", Computes),
        f("dataset", Computes),
        f("folder", Computes),
        f("image_size", Computes),
        f("hf_revision", Computes),
        f("hf_config", Computes),
        f("image_column", Computes),
        f("label_column", Computes),
        f("backend", Device),
        f("device", Device),
        f("threads", Device),
        f("epochs", Computes),
        f("batch_size", Computes),
        f("lr", Computes),
        f("optimizer", Computes),
        f("momentum", Computes),
        f("weight_decay", Computes),
        f("seed", Computes),
        f("val_split", Computes),
        f("lr_schedule", Computes),
        f("step_size", Computes),
        f("gamma", Computes),
        f("milestones", Computes),
        f("min_lr", Computes),
        f("warmup_epochs", Computes),
        f("patience", Computes),
        f("min_delta", Computes),
        f("monitor", Computes),
        f("augment", Computes),
        f("hidden", Computes),
        f("conv_channels", Computes),
        f("kernel_size", Computes),
        f("padding", Computes),
        f("batch_norm", Computes),
        f("dropout", Computes),
        f("mean", Computes),
        f("std", Computes),
        f("limit_train", Computes),
        f("limit_test", Computes),
        f("data_dir", Files),
        f("mirror", Files),
        f("tensorboard", Files),
        f("stale_after_seconds", Files),
        f("slurm", Slurm),
        f("search", Search),
        f("sweep", Sweep),
    ]
};

/// The keys whose field passes `keep`, in the table's order.
pub fn keys_where(keep: impl Fn(&Field) -> bool) -> Vec<&'static str> {
    FIELDS.iter().filter(|f| keep(f)).map(|f| f.name).collect()
}

/// The field named `key`, if the spec has one.
pub fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name == key)
}

/// Keys a sweep may vary.
pub fn sweepable() -> Vec<&'static str> {
    keys_where(Field::sweepable)
}

impl Spec {
    /// Whether `key` means anything given the spec's other values (momentum only for SGD): a
    /// search does not draw a key that does not apply.
    pub fn applies(&self, key: &str) -> bool {
        match key {
            "momentum" => self.optimizer == OptimizerName::Sgd,
            "conv_channels" | "kernel_size" | "padding" => self.model == ModelKind::Cnn,
            "folder" => self.dataset == DatasetName::Folder,
            "image_size" => matches!(self.dataset, DatasetName::Folder | DatasetName::Hub(_)),
            "hf_revision" | "hf_config" | "image_column" | "label_column" => self.dataset.hub().is_some(),
            _ => true,
        }
    }

    /// How old another host's heartbeat must be before its claim is taken over.
    pub fn stale_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.stale_after_seconds)
    }

    /// The CPU threads to train with: `threads`, or one per core when it is 0.
    pub fn cpu_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        }
    }

    /// The weight decay the optimizer applies.
    pub fn weight_decay(&self) -> f64 {
        match (self.weight_decay, self.optimizer) {
            (Some(w), _) => w,
            (None, OptimizerName::Adamw) => 0.01,
            (None, _) => 0.0,
        }
    }

    /// The network this spec trains on a data set of `classes` classes.
    pub fn architecture(&self, classes: usize) -> crate::model::Architecture {
        crate::model::Architecture {
            kind: self.model,
            hidden: self.hidden.clone(),
            conv_channels: self.conv_channels.clone(),
            kernel_size: self.kernel_size,
            padding: self.padding,
            batch_norm: self.batch_norm,
            dropout: self.dropout,
            classes,
        }
    }

    /// The data set as messages name it: `mnist`, or `folder data/pets` for an image folder.
    pub fn data_label(&self) -> String {
        match &self.dataset {
            DatasetName::Folder => format!("folder {}", self.folder.display()),
            DatasetName::Hub(repo) if !is_main(&self.hf_revision) => {
                format!("{} @ {}", repo.spec_name(), self.hf_revision)
            }
            dataset => dataset.to_string(),
        }
    }

    /// The spec as a TOML table, keyed as in a spec file (the one conversion every reader of
    /// a spec's fields by name uses).
    pub fn to_table(&self) -> toml::Table {
        toml::Table::try_from(self).expect("a Spec always serializes to a TOML table")
    }

    /// The spec as TOML text, the way `spec.toml` records it.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a Spec always serializes to TOML")
    }
}

impl Default for Spec {
    /// The reference experiment: the seed's PyTorch script.
    fn default() -> Self {
        Spec {
            name: "experiment".into(),
            model: ModelKind::Cnn,
            dataset: DatasetName::Mnist,
            folder: PathBuf::new(),
            image_size: Vec::new(),
            hf_revision: DEFAULT_HF_REVISION.into(),
            hf_config: String::new(),
            image_column: String::new(),
            label_column: String::new(),
            backend: BackendName::Cpu,
            device: 0,
            threads: 0,
            epochs: 5,
            batch_size: 100,
            lr: 0.01,
            optimizer: OptimizerName::Sgd,
            momentum: 0.0,
            weight_decay: None,
            seed: 42,
            val_split: 0.0,
            lr_schedule: LrSchedule::Constant,
            step_size: 0,
            gamma: 0.1,
            milestones: Vec::new(),
            min_lr: 0.0,
            warmup_epochs: 0,
            patience: None,
            min_delta: 0.0,
            monitor: Monitor::ValLoss,
            augment: Vec::new(),
            hidden: vec![128],
            conv_channels: vec![32, 64],
            kernel_size: 3,
            padding: crate::model::Padding::Valid,
            batch_norm: false,
            dropout: 0.0,
            mean: vec![0.5],
            std: vec![0.5],
            limit_train: 0,
            limit_test: 0,
            data_dir: PathBuf::from("data"),
            mirror: String::new(),
            tensorboard: true,
            stale_after_seconds: DEFAULT_STALE_AFTER_SECONDS,
            slurm: SlurmSpec::default(),
            search: SearchSpec::default(),
            sweep: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_experiment_and_valid() {
        let spec = Spec::default();
        assert_eq!((spec.model, spec.dataset.clone()), (ModelKind::Cnn, DatasetName::Mnist));
        assert_eq!((spec.epochs, spec.batch_size, spec.lr), (5, 100, 0.01));
        assert_eq!(spec.optimizer, OptimizerName::Sgd);
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn fields_list_matches_the_struct() {
        let table = toml::Table::try_from(Spec {
            mirror: "x".into(),
            slurm: SlurmSpec { partition: "p".into(), ..SlurmSpec::default() },
            search: SearchSpec { trials: 2, ..SearchSpec::default() },
            weight_decay: Some(0.0),
            patience: Some(3),
            folder: "images".into(),
            image_size: vec![32, 32],
            hf_revision: "v1".into(),
            hf_config: "c".into(),
            image_column: "img".into(),
            label_column: "label".into(),
            sweep: [("lr".to_string(), vec![toml::Value::Float(0.1)])].into(),
            ..Spec::default()
        })
        .unwrap();
        let keys: Vec<&str> = table.keys().map(String::as_str).collect();
        let mut expected = keys_where(|_| true);
        expected.sort();
        assert_eq!(keys, expected);
    }

    #[test]
    fn zero_threads_means_one_per_core() {
        assert_eq!(Spec { threads: 3, ..Spec::default() }.cpu_threads(), 3);
        assert_eq!(Spec::default().cpu_threads(), std::thread::available_parallelism().unwrap().get());
    }

    #[test]
    fn the_field_table_sorts_the_keys_as_the_readme_says() {
        assert_eq!(
            keys_where(|f| !f.sweepable()),
            ["name", "data_dir", "mirror", "tensorboard", "stale_after_seconds", "slurm", "search", "sweep"]
        );
        assert_eq!(
            keys_where(Field::where_it_runs),
            ["backend", "device", "threads", "data_dir", "mirror", "tensorboard", "stale_after_seconds", "slurm"]
        );
        assert!(!keys_where(Field::per_trial).iter().any(|k| ["name", "slurm", "search", "sweep"].contains(k)));
        assert!(!keys_where(Field::from_env).iter().any(|k| ["name", "sweep"].contains(k)));
    }

    #[test]
    fn to_table_round_trips() {
        let spec =
            Spec { lr: 0.125, sweep: [("seed".to_string(), vec![1.into(), 2.into()])].into(), ..Spec::default() };
        let back: Spec = toml::from_str(&spec.to_toml()).unwrap();
        assert_eq!(back, spec);
        assert_eq!(spec.to_table().get("lr"), Some(&toml::Value::Float(0.125)));
    }
}
