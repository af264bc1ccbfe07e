//! The images a trial sees: the training pool (a prefix with `limit_train`), the validation
//! images held out of it by the seed, the test prefix, and how batches are normalized.

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::data::batch::{Augmenter, Normalizer, epoch_order};
use crate::spec::{Augment, BackendName, Spec};

/// The images a trial trains, validates and tests on: a prefix of each split when limits are
/// set, and the validation images held out of the training prefix.
pub struct TrialData<'a> {
    pub dataset: &'a Dataset,
    /// The training images the trial draws from: the first `limit_train` (all when 0).
    pub pool_len: usize,
    /// Images trained on per epoch: the pool less the validation images.
    pub train_len: usize,
    pub test_len: usize,
    /// Pool indices held out for validation, sorted; empty without a split.
    pub val: Vec<u32>,
    /// Pool indices trained on, sorted, when there is a split (else all of the pool).
    train: Option<Vec<u32>>,
    pub normalizer: Normalizer,
    /// Keep the splits on the device and slice batches there (GPUs, without augmentation).
    pub resident: bool,
    /// Random crop, horizontal flip.
    augment: (bool, bool),
}

impl<'a> TrialData<'a> {
    pub fn new(dataset: &'a Dataset, spec: &Spec) -> TrialData<'a> {
        let limit = |limit: u32, len: usize| if limit == 0 { len } else { len.min(limit as usize) };
        let pool_len = limit(spec.limit_train, dataset.train.len());
        let (train, val) = validation_split(pool_len, spec.val_split, spec.seed as u64);
        TrialData {
            dataset,
            pool_len,
            train_len: train.as_ref().map_or(pool_len, Vec::len),
            test_len: limit(spec.limit_test, dataset.test.len()),
            val,
            train,
            normalizer: Normalizer::new(&spec.mean, &spec.std, dataset.shape),
            resident: spec.backend == BackendName::Cuda && spec.augment.is_empty(),
            augment: (spec.augment.contains(&Augment::RandomCrop), spec.augment.contains(&Augment::Hflip)),
        }
    }

    /// The training images of `epoch` (from 1) in the order they are trained: a fixed function
    /// of the seed and the epoch.
    pub fn epoch_order(&self, seed: u64, epoch: u32) -> Vec<u32> {
        match &self.train {
            None => epoch_order(self.train_len, seed, epoch),
            Some(train) => epoch_order(train.len(), seed, epoch).into_iter().map(|p| train[p as usize]).collect(),
        }
    }

    pub(super) fn augmenter(&self, seed: u64, epoch: u32) -> Option<Augmenter> {
        let (crop, flip) = self.augment;
        (crop || flip).then(|| Augmenter::new(crop, flip, seed, epoch))
    }
}

/// Splits the first `n` training images into (train, validation) by the seed alone, so every
/// model and every resume of a trial sees the same split. No split when `fraction` is 0.
fn validation_split(n: usize, fraction: f64, seed: u64) -> (Option<Vec<u32>>, Vec<u32>) {
    if fraction <= 0.0 || n < 2 {
        return (None, Vec::new());
    }
    let val_len = ((n as f64 * fraction).round() as usize).clamp(1, n - 1);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x005E_ED0F_5A11_7000));
    let mut val = order[..val_len].to_vec();
    let mut train = order[val_len..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (Some(train), val)
}
