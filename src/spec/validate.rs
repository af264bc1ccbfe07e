//! Range checks of a spec's values (types and names were checked by serde): each failure names
//! its key, and `load` turns the key into the place the value came from.

use super::{Augment, DatasetName, LrSchedule, ModelKind, OptimizerName, SearchMethod, Spec};
use crate::catalog::ImageSet;

/// The largest `image_size` side: a 4096x4096 RGB image is 48 MiB of u8 pixels.
const MAX_SIDE: u32 = 4096;

/// A value outside its allowed range: the key and what is allowed.
#[derive(Debug, PartialEq)]
pub struct RangeError {
    pub key: &'static str,
    pub message: String,
}

impl Spec {
    /// The architecture keys that do not depend on the images: sizes in range.
    fn validate_architecture(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        if self.conv_channels.is_empty()
            || self.conv_channels.len() > 8
            || self.conv_channels.iter().any(|&c| c == 0 || c > 4096)
        {
            return fail(
                "conv_channels",
                "must list 1 to 8 conv blocks of 1 to 4096 channels each, e.g. [32, 64]".into(),
            );
        }
        if !(1..=7).contains(&self.kernel_size) || self.kernel_size.is_multiple_of(2) {
            return fail("kernel_size", format!("must be odd, from 1 to 7 (e.g. 3 or 5), got {}", self.kernel_size));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return fail("dropout", "must be in [0, 1), e.g. 0.25; 0 turns it off".into());
        }
        if self.hidden.contains(&0) {
            return fail("hidden", "layer sizes must be at least 1, e.g. [128]; [] means no hidden layer".into());
        }
        Ok(())
    }

    /// `folder`, `image_size` and the `hf_*` keys: set for the data set they belong to, and only
    /// for it.
    fn validate_folder(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        let hub = self.dataset.hub().is_some();
        let folder = self.dataset == DatasetName::Folder;
        for (key, set, allowed, belongs) in [
            ("folder", !self.folder.as_os_str().is_empty(), folder, "dataset = \"folder\""),
            ("image_size", !self.image_size.is_empty(), folder || hub, "dataset = \"folder\" or \"hf:...\""),
            ("hf_revision", self.hf_revision != super::DEFAULT_HF_REVISION, hub, "dataset = \"hf:...\""),
            ("hf_config", !self.hf_config.is_empty(), hub, "dataset = \"hf:...\""),
            ("image_column", !self.image_column.is_empty(), hub, "dataset = \"hf:...\""),
            ("label_column", !self.label_column.is_empty(), hub, "dataset = \"hf:...\""),
        ] {
            if set && !allowed {
                return fail(
                    key,
                    format!("only applies to {belongs} (this spec's dataset is {}); remove it", self.dataset),
                );
            }
        }
        if hub {
            self.validate_hub()?;
        }
        if !folder {
            return self.validate_image_size();
        }
        if self.folder.as_os_str().is_empty() {
            return fail(
                "folder",
                "dataset = \"folder\" needs folder = \"PATH\", a folder holding train/<class>/* and test/<class>/* images".into(),
            );
        }
        self.validate_image_size()
    }

    fn validate_image_size(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        if !self.image_size.is_empty()
            && (self.image_size.len() != 2 || self.image_size.iter().any(|&s| !(1..=MAX_SIDE).contains(&s)))
        {
            return fail(
                "image_size",
                format!(
                    "must be [height, width], each 1 to {MAX_SIDE}, e.g. [32, 32]; leave it out to keep the images' own size"
                ),
            );
        }
        Ok(())
    }

    /// The Hub keys hold what the Hub accepts: they end up in URLs and cache paths.
    fn validate_hub(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        let revision = &self.hf_revision;
        let ref_char = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
        if revision.is_empty()
            || revision.len() > 200
            || !revision.chars().all(ref_char)
            || revision.starts_with(['/', '.', '-'])
            || revision.ends_with(['/', '.'])
            || revision.contains("..")
            || revision.contains("//")
        {
            return fail(
                "hf_revision",
                format!(
                    "\"{revision}\" is not a branch, tag or commit name (letters, digits, '-', '_', '.', '/'); e.g. \"main\", \"v1.0\" or a commit id"
                ),
            );
        }
        let config = &self.hf_config;
        if !config.is_empty()
            && (config.len() > 100
                || config.starts_with('.')
                || !config.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return fail(
                "hf_config",
                format!("\"{config}\" is not a config name (letters, digits, '-', '_', '.'), e.g. \"plain_text\""),
            );
        }
        for (key, column) in [("image_column", &self.image_column), ("label_column", &self.label_column)] {
            if column.len() > 200 || column.chars().any(char::is_control) {
                return fail(key, "must be a column name of the repo's Parquet files, e.g. \"label\"".into());
            }
        }
        Ok(())
    }

    /// The checks that depend on the images (`images`: the data set's shape and classes): a CNN
    /// that fits them, a model of bounded size, one mean/std per channel. For a built-in data set
    /// [`Spec::validate`] runs them; for an image folder, whoever reads its files does.
    pub fn validate_images(&self, images: &ImageSet) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        let shape = images.shape;
        let architecture = self.architecture(images.classes.len());
        if self.model == ModelKind::Cnn
            && let Err(too_deep) = architecture.feature_maps(shape)
        {
            return fail(
                "conv_channels",
                format!(
                    "{} conv blocks do not fit {}'s {}x{} images: {too_deep}; use fewer blocks, padding = \"same\" or a \
                     smaller kernel_size",
                    self.conv_channels.len(),
                    self.dataset,
                    shape.height,
                    shape.width
                ),
            );
        }
        let parameters = crate::model::parameter_count(&architecture, shape);
        if parameters > crate::model::MAX_PARAMETERS {
            return fail(
                if self.model == ModelKind::Nn { "hidden" } else { "model" },
                format!(
                    "this {} has {parameters} parameters ({:.0} GB of weights, 3-4x that to train); \
                     the limit is {} parameters: use smaller hidden layers",
                    self.model,
                    parameters as f64 * 4e-9,
                    crate::model::MAX_PARAMETERS
                ),
            );
        }
        // CPU training holds everything in this machine's memory: refuse what cannot fit.
        if self.backend != super::BackendName::Cuda
            && let Some(total) = crate::model::memory::machine_bytes()
        {
            let need = self.training_bytes(images);
            if need > total {
                use crate::model::memory::human;
                return fail(
                    "batch_size",
                    format!(
                        "this {} needs at least {} to train at batch_size {} ({parameters} parameters, the activations \
                         of a batch and their gradients) but this machine has {}: use a smaller batch_size, fewer \
                         conv_channels or smaller hidden layers",
                        self.model,
                        human(need),
                        self.batch_size,
                        human(total)
                    ),
                );
            }
        }
        let channels = shape.channels;
        for (key, values) in [("mean", &self.mean), ("std", &self.std)] {
            if values.len() != 1 && values.len() != channels {
                return fail(
                    key,
                    format!("needs 1 value or {channels} (one per channel of {}), got {}", self.dataset, values.len()),
                );
            }
        }
        Ok(())
    }

    /// The least memory training needs (weights, gradients, optimizer state, a batch's
    /// activations and their gradients), in bytes.
    pub fn training_bytes(&self, images: &ImageSet) -> u128 {
        let states = match self.optimizer {
            OptimizerName::Sgd if self.momentum > 0.0 => 1,
            OptimizerName::Sgd => 0,
            OptimizerName::Adam | OptimizerName::Adamw => 2,
        };
        let architecture = self.architecture(images.classes.len());
        crate::model::memory::training_bytes(&architecture, images.shape, u128::from(self.batch_size), states)
    }

    /// Checks every value is in range. Types and names were already checked by serde.
    pub fn validate(&self) -> Result<(), RangeError> {
        let fail = |key, message: &str| Err(RangeError { key, message: message.to_string() });
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
        self.validate_architecture()?;
        self.validate_folder()?;
        if !(3..=7 * 24 * 3600).contains(&self.stale_after_seconds) {
            return fail(
                "stale_after_seconds",
                "must be 3 to 604800 (a week): a claim's holder beats every twentieth of it, at least every \
                 second, and three heartbeats must fit; the default, 600, suits most shared file systems",
            );
        }
        self.slurm.validate()?;
        for (key, values) in [("mean", &self.mean), ("std", &self.std)] {
            if values.is_empty() {
                return fail(key, "needs 1 value, or one per channel, e.g. [0.5]");
            }
            if values.iter().any(|v| !v.is_finite()) {
                return fail(key, "values must be finite numbers");
            }
        }
        if self.std.iter().any(|v| *v <= 0.0) {
            return fail("std", "values must be greater than 0, e.g. [0.5]");
        }
        if let Some(images) = self.dataset.builtin() {
            self.validate_images(&images)?;
        }
        Ok(())
    }
}

impl Spec {
    /// Validation split, schedule, early stopping and augmentation.
    fn validate_protocol(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        if !(self.val_split == 0.0 || (self.val_split > 0.0 && self.val_split <= 0.5)) {
            return fail("val_split", "must be in (0, 0.5] (a fraction of the training images), or 0 for none".into());
        }
        if self.val_split > 0.0 && self.limit_train == 1 {
            return fail(
                "limit_train",
                "a validation split needs at least 2 training images: one to hold out, one to train on".into(),
            );
        }
        if self.val_split == 0.0 && self.search.method == SearchMethod::Asha {
            return fail("val_split", "asha prunes on a validation metric: set val_split (e.g. 0.1); pruning on the test set would leak it into the search".into());
        }
        match self.lr_schedule {
            LrSchedule::Step if self.step_size == 0 => {
                return fail(
                    "step_size",
                    "must be at least 1 for lr_schedule = \"step\" (epochs between decays)".into(),
                );
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
            return fail(
                "augment",
                "\"hflip\" mirrors digits into other shapes; use it on cifar10 or fashion-mnist".into(),
            );
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

/// A name that is safe as one path component on every OS and cannot escape its parent.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("limit_train", Spec { limit_train: 1, val_split: 0.5, ..Spec::default() }),
            ("hidden", Spec { hidden: vec![128, 0], ..Spec::default() }),
            ("hidden", Spec { model: ModelKind::Nn, hidden: vec![1_000_000_000], ..Spec::default() }),
            ("hidden", Spec { model: ModelKind::Nn, hidden: vec![u32::MAX; 5], ..Spec::default() }),
            ("std", Spec { std: vec![0.0], ..Spec::default() }),
            ("mean", Spec { mean: vec![0.5, 0.5], ..Spec::default() }),
            ("name", Spec { name: "../escape".into(), ..Spec::default() }),
            ("name", Spec { name: "a/b".into(), ..Spec::default() }),
            ("name", Spec { name: "".into(), ..Spec::default() }),
            ("folder", Spec { dataset: DatasetName::Folder, ..Spec::default() }),
            ("folder", Spec { folder: "images".into(), ..Spec::default() }),
            ("image_size", Spec { image_size: vec![28, 28], ..Spec::default() }),
            (
                "image_size",
                Spec { dataset: DatasetName::Folder, folder: "images".into(), image_size: vec![32], ..Spec::default() },
            ),
            (
                "image_size",
                Spec {
                    dataset: DatasetName::Folder,
                    folder: "images".into(),
                    image_size: vec![0, 32],
                    ..Spec::default()
                },
            ),
            ("mean", Spec { mean: vec![], ..Spec::default() }),
            ("momentum", Spec { momentum: 0.9, optimizer: OptimizerName::Adam, ..Spec::default() }),
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

    #[test]
    fn an_image_folder_is_checked_against_its_images_once_they_are_read() {
        let spec =
            Spec { dataset: DatasetName::Folder, folder: "images".into(), mean: vec![0.5, 0.5], ..Spec::default() };
        assert_eq!(spec.validate(), Ok(()), "the images decide the rest");
        let images = |channels, side, classes: usize| ImageSet {
            shape: crate::catalog::ImageShape { channels, height: side, width: side },
            classes: (0..classes).map(|c| c.to_string()).collect(),
        };
        assert_eq!(spec.validate_images(&images(2, 28, 3)), Ok(()), "two values for two channels");
        assert_eq!(spec.validate_images(&images(3, 28, 3)).unwrap_err().key, "mean");
        let err = spec.validate_images(&images(2, 8, 3)).unwrap_err();
        assert_eq!(err.key, "conv_channels");
        assert!(err.message.contains("folder's 8x8 images"), "{}", err.message);
    }
}
