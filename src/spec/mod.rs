//! The experiment spec: its fields, defaults and validation. `load` layers the sources, `sweep`
//! expands a spec into trials.

mod load;
mod sweep;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::{Overrides, load, load_recorded, load_run, load_text, read};
pub use sweep::{Trial, display_value, distinguishing_keys, expand};

/// One experiment as the user wrote it, after layering; `sweep` lists the axes to expand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spec {
    /// Used in the run folder name.
    pub name: String,
    pub model: ModelKind,
    pub dataset: DatasetName,
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
    /// Hidden layer sizes of the `nn` model; `[]` is logistic regression.
    pub hidden: Vec<u32>,
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
    /// How `runner submit` asks Slurm for resources; no other command reads it.
    #[serde(skip_serializing_if = "SlurmSpec::is_default")]
    pub slurm: SlurmSpec,
    /// Random search or ASHA over `[search.space]`, on top of the `[sweep]` grid.
    #[serde(skip_serializing_if = "SearchSpec::is_default")]
    pub search: SearchSpec,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sweep: BTreeMap<String, Vec<toml::Value>>,
}

/// `[slurm]`: the resources of each array task `runner submit` asks for. Empty and 0 values
/// leave the cluster's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmSpec {
    /// Partition (queue).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Time limit per task, in Slurm's format: "30" (minutes), "01:00:00", "1-12:00:00".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time: String,
    /// CPUs per task (each trial trains with that many threads); 0: Slurm's default, one.
    #[serde(skip_serializing_if = "is_zero")]
    pub cpus_per_task: u32,
    /// Memory per task, in Slurm's format: "4G", "500M".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mem: String,
    /// The most tasks running at once (`--array=...%M`); 0: no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_parallel: u32,
    /// Generic resources per task; empty: "gpu:1" for `backend = "cuda"`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gres: String,
    /// More sbatch options, as given, e.g. ["--account=mylab", "--qos=short"].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
}

/// The keys of `[slurm]`.
pub const SLURM_FIELDS: &[&str] = &["partition", "time", "cpus_per_task", "mem", "max_parallel", "gres", "extra"];

impl SlurmSpec {
    fn is_default(&self) -> bool {
        *self == SlurmSpec::default()
    }

    /// Each value in Slurm's syntax, so that sbatch cannot fail on it, nor a value inject lines
    /// into the batch script.
    fn validate(&self) -> Result<(), RangeError> {
        let fail = |key, message: &str| Err(RangeError { key, message: message.to_string() });
        let word = |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:,=+/".contains(c));
        if !word(&self.partition) {
            return fail("slurm.partition", "must be a partition name, e.g. \"gpu\"");
        }
        if !self.time.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '-') {
            return fail("slurm.time", "must be a Slurm time limit: \"30\" (minutes), \"01:30:00\" or \"2-00:00:00\"");
        }
        let mem_ok = self.mem.is_empty()
            || (self.mem.trim_end_matches(['K', 'M', 'G', 'T']).chars().all(|c| c.is_ascii_digit())
                && self.mem.chars().next().is_some_and(|c| c.is_ascii_digit()));
        if !mem_ok {
            return fail("slurm.mem", "must be a Slurm memory size: \"4G\", \"500M\"");
        }
        if !word(&self.gres) {
            return fail("slurm.gres", "must be Slurm generic resources, e.g. \"gpu:1\" or \"gpu:a100:2\"");
        }
        if self.cpus_per_task > 1024 {
            return fail("slurm.cpus_per_task", "must be at most 1024");
        }
        if self.extra.iter().any(|e| !e.starts_with('-') || e.chars().any(char::is_control)) {
            return fail("slurm.extra", "each item must be one sbatch option on one line, e.g. \"--account=mylab\"");
        }
        Ok(())
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Spec {
    /// The CPU threads to train with: `threads`, or one per core when it is 0.
    pub fn cpu_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        }
    }
}

impl Default for Spec {
    /// The reference experiment: the seed's PyTorch script.
    fn default() -> Self {
        Spec {
            name: "experiment".into(),
            model: ModelKind::Cnn,
            dataset: DatasetName::Mnist,
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
            mean: vec![0.5],
            std: vec![0.5],
            limit_train: 0,
            limit_test: 0,
            data_dir: PathBuf::from("data"),
            mirror: String::new(),
            tensorboard: true,
            slurm: SlurmSpec::default(),
            search: SearchSpec::default(),
            sweep: BTreeMap::new(),
        }
    }
}

/// Every key a spec file may hold, in the order the README documents them.
pub const FIELDS: &[&str] = &[
    "name",
    "model",
    "dataset",
    "backend",
    "device",
    "threads",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "seed",
    "val_split",
    "lr_schedule",
    "step_size",
    "gamma",
    "milestones",
    "min_lr",
    "warmup_epochs",
    "patience",
    "min_delta",
    "monitor",
    "augment",
    "hidden",
    "mean",
    "std",
    "limit_train",
    "limit_test",
    "data_dir",
    "mirror",
    "tensorboard",
    "slurm",
    "search",
    "sweep",
];

/// Keys a sweep cannot vary: they name or place the run, they do not change what a trial computes.
const NOT_SWEPT: &[&str] = &["name", "data_dir", "mirror", "tensorboard", "slurm", "search", "sweep"];

/// Keys a sweep may vary.
pub fn sweepable() -> Vec<&'static str> {
    FIELDS.iter().copied().filter(|k| !NOT_SWEPT.contains(k)).collect()
}

macro_rules! names {
    ($(#[$doc:meta])* $ty:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $ty {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $ty {
            pub const ALL: &[$ty] = &[$($ty::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(name: &str) -> Result<Self, String> {
                $ty::ALL.iter().copied().find(|v| v.as_str() == name).ok_or_else(|| {
                    let allowed: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown value \"{name}\"; allowed: {}", allowed.join(", "))
                })
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod search;
pub use search::{Distribution, SEARCH_FIELDS, SearchMethod, SearchSpec};

names!(
    /// Which network to train.
    ModelKind { Nn = "nn", Cnn = "cnn" }
);
names!(
    /// Which data set to train and test on.
    DatasetName { Mnist = "mnist", FashionMnist = "fashion-mnist", Cifar10 = "cifar10" }
);
names!(
    /// Where to compute: `cpu` is the fast CPU backend (flex), `ndarray` the older one.
    BackendName { Cpu = "cpu", Flex = "flex", Ndarray = "ndarray", Cuda = "cuda" }
);
names!(
    /// How to update the weights.
    OptimizerName { Sgd = "sgd", Adam = "adam", Adamw = "adamw" }
);
names!(
    /// How the learning rate changes over a trial (PyTorch's schedulers).
    LrSchedule { Constant = "constant", Step = "step", Multistep = "multistep", Cosine = "cosine", Onecycle = "onecycle" }
);
names!(
    /// The validation metric early stopping watches (never a test metric).
    Monitor { ValLoss = "val_loss", ValAcc = "val_acc" }
);
names!(
    /// A random transformation of training images.
    Augment { RandomCrop = "random_crop", Hflip = "hflip" }
);

/// A value outside its allowed range: the key and what is allowed.
#[derive(Debug, PartialEq)]
pub struct RangeError {
    pub key: &'static str,
    pub message: String,
}

impl Spec {
    /// Checks every value is in range. Types and names were already checked by serde.
    pub fn validate(&self) -> Result<(), RangeError> {
        let fail = |key, message: &str| {
            Err(RangeError {
                key,
                message: message.to_string(),
            })
        };
        if !is_safe_name(&self.name) {
            return fail(
                "name",
                "must be 1-64 characters of letters, digits, '-', '_' or '.', not starting with '.' \
                 (it becomes a folder name under runs/)",
            );
        }
        if self.epochs == 0 {
            return fail("epochs", "must be at least 1");
        }
        if self.threads > 1024 {
            return fail("threads", "must be at most 1024 (0 means one per core)");
        }
        if self.batch_size == 0 {
            return fail("batch_size", "must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return fail("lr", "must be a finite number greater than 0, e.g. 0.01");
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return fail("momentum", "must be in [0, 1), e.g. 0.9");
        }
        if self.momentum > 0.0 && self.optimizer != OptimizerName::Sgd {
            return fail("momentum", "only applies to optimizer = \"sgd\"; remove it or set it to 0");
        }
        if self.weight_decay.is_some_and(|w| !(w.is_finite() && w >= 0.0)) {
            return fail("weight_decay", "must be a finite number >= 0, e.g. 5e-4");
        }
        self.validate_protocol()?;
        if self.seed < 0 {
            return fail("seed", "must be a non-negative integer");
        }
        if self.hidden.contains(&0) {
            return fail("hidden", "layer sizes must be at least 1, e.g. [128]; [] means no hidden layer");
        }
        let parameters = crate::model::parameter_count(self.model, &self.hidden, crate::data::image_shape(self.dataset));
        if parameters > crate::model::MAX_PARAMETERS {
            return Err(RangeError {
                key: if self.model == ModelKind::Nn { "hidden" } else { "model" },
                message: format!(
                    "this {} has {parameters} parameters ({:.0} GB of weights, 3-4x that to train); \
                     the limit is {} parameters: use smaller hidden layers",
                    self.model,
                    parameters as f64 * 4e-9,
                    crate::model::MAX_PARAMETERS
                ),
            });
        }
        self.slurm.validate()?;
        let channels = self.dataset.channels();
        for (key, values) in [("mean", &self.mean), ("std", &self.std)] {
            if values.len() != 1 && values.len() != channels {
                return Err(RangeError {
                    key,
                    message: format!(
                        "needs 1 value or {channels} (one per channel of {}), got {}",
                        self.dataset,
                        values.len()
                    ),
                });
            }
            if values.iter().any(|v| !v.is_finite()) {
                return fail(key, "values must be finite numbers");
            }
        }
        if self.std.iter().any(|v| *v <= 0.0) {
            return fail("std", "values must be greater than 0, e.g. [0.5]");
        }
        Ok(())
    }
}

impl Spec {
    /// The weight decay the optimizer applies.
    pub fn weight_decay(&self) -> f64 {
        match (self.weight_decay, self.optimizer) {
            (Some(w), _) => w,
            (None, OptimizerName::Adamw) => 0.01,
            (None, _) => 0.0,
        }
    }

    /// Validation split, schedule, early stopping and augmentation.
    fn validate_protocol(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        if !(self.val_split == 0.0 || (self.val_split > 0.0 && self.val_split <= 0.5)) {
            return fail("val_split", "must be in (0, 0.5] (a fraction of the training images), or 0 for none".into());
        }
        match self.lr_schedule {
            LrSchedule::Step if self.step_size == 0 => {
                return fail("step_size", "must be at least 1 for lr_schedule = \"step\" (epochs between decays)".into());
            }
            LrSchedule::Multistep if self.milestones.is_empty() => {
                return fail("milestones", "lr_schedule = \"multistep\" needs milestones, e.g. [30, 60]".into());
            }
            LrSchedule::Onecycle if self.warmup_epochs > 0 => {
                return fail("warmup_epochs", "onecycle has its own warm-up; set warmup_epochs = 0".into());
            }
            _ => {}
        }
        if !self.milestones.windows(2).all(|w| w[0] < w[1]) {
            return fail("milestones", format!("must be strictly increasing, got {:?}", self.milestones));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return fail("gamma", "must be a finite number greater than 0, e.g. 0.1".into());
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0 && self.min_lr <= self.lr) {
            return fail("min_lr", format!("must be in [0, lr] (lr is {})", self.lr));
        }
        if self.warmup_epochs > 0 && self.warmup_epochs >= self.epochs {
            return fail("warmup_epochs", format!("must be less than epochs ({})", self.epochs));
        }
        if self.patience.is_some() && self.val_split == 0.0 {
            return fail(
                "patience",
                "early stopping needs a validation split (e.g. val_split = 0.1): stopping on the test set would leak it into training".into(),
            );
        }
        if self.patience == Some(0) {
            return fail("patience", "must be at least 1 (leave it out to turn early stopping off)".into());
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return fail("min_delta", "must be a finite number >= 0".into());
        }
        if self.augment.contains(&Augment::Hflip) && self.dataset == DatasetName::Mnist {
            return fail("augment", "\"hflip\" mirrors digits into other shapes; use it on cifar10 or fashion-mnist".into());
        }
        let mut seen = self.augment.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.augment.len() {
            return fail("augment", "lists a transformation twice".into());
        }
        Ok(())
    }
}

impl DatasetName {
    pub fn channels(self) -> usize {
        crate::data::image_shape(self).channels
    }
}

/// A name that is safe as one path component on every OS and cannot escape its parent.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_experiment_and_valid() {
        let spec = Spec::default();
        assert_eq!((spec.model, spec.dataset), (ModelKind::Cnn, DatasetName::Mnist));
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
            sweep: [("lr".to_string(), vec![toml::Value::Float(0.1)])].into(),
            ..Spec::default()
        })
        .unwrap();
        let keys: Vec<&str> = table.keys().map(String::as_str).collect();
        let mut expected = FIELDS.to_vec();
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(sweepable().len(), FIELDS.len() - NOT_SWEPT.len());
    }

    #[test]
    fn zero_threads_means_one_per_core() {
        assert_eq!(Spec { threads: 3, ..Spec::default() }.cpu_threads(), 3);
        assert_eq!(Spec::default().cpu_threads(), std::thread::available_parallelism().unwrap().get());
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let cases: Vec<(&str, Spec)> = vec![
            ("epochs", Spec { epochs: 0, ..Spec::default() }),
            ("threads", Spec { threads: 5000, ..Spec::default() }),
            ("batch_size", Spec { batch_size: 0, ..Spec::default() }),
            ("lr", Spec { lr: 0.0, ..Spec::default() }),
            ("lr", Spec { lr: -0.1, ..Spec::default() }),
            ("lr", Spec { lr: f64::NAN, ..Spec::default() }),
            ("lr", Spec { lr: f64::INFINITY, ..Spec::default() }),
            ("seed", Spec { seed: -1, ..Spec::default() }),
            ("momentum", Spec { momentum: 1.0, ..Spec::default() }),
            ("weight_decay", Spec { weight_decay: Some(-1.0), ..Spec::default() }),
            ("val_split", Spec { val_split: 0.6, ..Spec::default() }),
            ("val_split", Spec { val_split: -0.1, ..Spec::default() }),
            ("patience", Spec { patience: Some(2), ..Spec::default() }),
            ("patience", Spec { patience: Some(0), val_split: 0.1, ..Spec::default() }),
            ("step_size", Spec { lr_schedule: LrSchedule::Step, ..Spec::default() }),
            ("milestones", Spec { lr_schedule: LrSchedule::Multistep, ..Spec::default() }),
            ("milestones", Spec { lr_schedule: LrSchedule::Multistep, milestones: vec![3, 3], ..Spec::default() }),
            ("gamma", Spec { gamma: 0.0, ..Spec::default() }),
            ("min_lr", Spec { min_lr: 0.5, ..Spec::default() }),
            ("warmup_epochs", Spec { warmup_epochs: 5, ..Spec::default() }),
            ("warmup_epochs", Spec { warmup_epochs: 1, lr_schedule: LrSchedule::Onecycle, ..Spec::default() }),
            ("augment", Spec { augment: vec![Augment::Hflip], ..Spec::default() }),
            ("augment", Spec { augment: vec![Augment::RandomCrop, Augment::RandomCrop], ..Spec::default() }),
            ("min_delta", Spec { min_delta: -1.0, ..Spec::default() }),
            ("hidden", Spec { hidden: vec![128, 0], ..Spec::default() }),
            ("hidden", Spec { model: ModelKind::Nn, hidden: vec![1_000_000_000], ..Spec::default() }),
            ("hidden", Spec { model: ModelKind::Nn, hidden: vec![u32::MAX; 5], ..Spec::default() }),
            ("std", Spec { std: vec![0.0], ..Spec::default() }),
            ("mean", Spec { mean: vec![0.5, 0.5], ..Spec::default() }),
            ("name", Spec { name: "../escape".into(), ..Spec::default() }),
            ("name", Spec { name: "a/b".into(), ..Spec::default() }),
            ("name", Spec { name: "".into(), ..Spec::default() }),
            (
                "momentum",
                Spec { momentum: 0.9, optimizer: OptimizerName::Adam, ..Spec::default() },
            ),
        ];
        for (key, spec) in cases {
            assert_eq!(spec.validate().unwrap_err().key, key, "{spec:?}");
        }
    }

    #[test]
    fn per_channel_normalization_for_cifar() {
        let spec = Spec {
            dataset: DatasetName::Cifar10,
            mean: vec![0.49, 0.48, 0.45],
            std: vec![0.25, 0.24, 0.26],
            ..Spec::default()
        };
        assert_eq!(spec.validate(), Ok(()));
    }
}
