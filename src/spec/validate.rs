//! Range checks of a spec's values (types and names were checked by serde): each failure names
//! its key, and `load` turns the key into the place the value came from.

use super::{Augment, DatasetName, LrSchedule, ModelKind, OptimizerName, SearchMethod, Spec};

/// A value outside its allowed range: the key and what is allowed.
#[derive(Debug, PartialEq)]
pub struct RangeError {
    pub key: &'static str,
    pub message: String,
}

impl Spec {
    /// The architecture keys: sizes in range, and a CNN that fits the data set's images.
    fn validate_architecture(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        if self.conv_channels.is_empty() || self.conv_channels.len() > 8 || self.conv_channels.iter().any(|&c| c == 0 || c > 4096) {
            return fail("conv_channels", "must list 1 to 8 conv blocks of 1 to 4096 channels each, e.g. [32, 64]".into());
        }
        if !(1..=7).contains(&self.kernel_size) || self.kernel_size.is_multiple_of(2) {
            return fail("kernel_size", format!("must be odd, from 1 to 7 (e.g. 3 or 5), got {}", self.kernel_size));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return fail("dropout", "must be in [0, 1), e.g. 0.25; 0 turns it off".into());
        }
        let shape = self.dataset.image_shape();
        if self.model == ModelKind::Cnn
            && let Err(too_deep) = self.architecture().feature_maps(shape)
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
        Ok(())
    }

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
        self.validate_architecture()?;
        let parameters = crate::model::parameter_count(&self.architecture(), self.dataset.image_shape());
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
        if !(3..=7 * 24 * 3600).contains(&self.stale_after_seconds) {
            return fail(
                "stale_after_seconds",
                "must be 3 to 604800 (a week): a claim's holder beats every twentieth of it, at least every \
                 second, and three heartbeats must fit; the default, 600, suits most shared file systems",
            );
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
    /// Validation split, schedule, early stopping and augmentation.
    fn validate_protocol(&self) -> Result<(), RangeError> {
        let fail = |key, message: String| Err(RangeError { key, message });
        if !(self.val_split == 0.0 || (self.val_split > 0.0 && self.val_split <= 0.5)) {
            return fail("val_split", "must be in (0, 0.5] (a fraction of the training images), or 0 for none".into());
        }
        if self.val_split > 0.0 && self.limit_train == 1 {
            return fail("limit_train", "a validation split needs at least 2 training images: one to hold out, one to train on".into());
        }
        if self.val_split == 0.0 && self.search.method == SearchMethod::Asha {
            return fail("val_split", "asha prunes on a validation metric: set val_split (e.g. 0.1); pruning on the test set would leak it into the search".into());
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
