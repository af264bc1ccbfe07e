//! Batches of a split as tensors on the device.

use burn::prelude::*;

use super::TrialData;
use crate::data::Split;
use crate::data::batch::{Augmenter, HostBatch};

/// Where batches come from: assembled on the host for each batch (CPU backends: the tensor is
/// the host memory), or sliced from a copy of the split kept on the device (GPUs: no host work
/// and no transfer per batch).
#[allow(clippy::large_enum_variant)] // one per trial, never moved in a loop
pub(super) enum Batches<'a> {
    Host { split: &'a Split, host: HostBatch },
    Resident { images: Tensor<4>, labels: Tensor<1, Int> },
}

impl<'a> Batches<'a> {
    pub(super) fn new(split: &'a Split, len: usize, data: &TrialData, device: &Device, resident: bool) -> Batches<'a> {
        if !resident {
            return Batches::Host { split, host: HostBatch::default() };
        }
        let mut host = HostBatch::default();
        host.fill(split, 0..len, data.dataset.shape, &data.normalizer);
        let (images, labels) = to_tensors(&mut host, data.dataset.shape, device);
        Batches::Resident { images, labels }
    }

    /// The images at `indices` (a shuffled chunk of an epoch), transformed by `augmenter` if
    /// given (host batches only: augmentation keeps batches off the device).
    pub(super) fn pick(
        &mut self,
        indices: &[u32],
        data: &TrialData,
        device: &Device,
        augmenter: Option<&mut Augmenter>,
    ) -> (Tensor<4>, Tensor<1, Int>) {
        match self {
            Batches::Host { split, host } => {
                let picks = indices.iter().map(|&i| i as usize);
                host.fill_transformed(split, picks, data.dataset.shape, &data.normalizer, augmenter);
                to_tensors(host, data.dataset.shape, device)
            }
            Batches::Resident { images, labels } => {
                let picks: Vec<i64> = indices.iter().map(|&i| i64::from(i)).collect();
                let picks = Tensor::<1, Int>::from_data(TensorData::new(picks, [indices.len()]), device);
                (images.clone().select(0, picks.clone()), labels.clone().select(0, picks))
            }
        }
    }

    /// The images `range` in file order (evaluation).
    pub(super) fn range(
        &mut self,
        range: std::ops::Range<usize>,
        data: &TrialData,
        device: &Device,
    ) -> (Tensor<4>, Tensor<1, Int>) {
        match self {
            Batches::Host { split, host } => {
                host.fill(split, range, data.dataset.shape, &data.normalizer);
                to_tensors(host, data.dataset.shape, device)
            }
            Batches::Resident { images, labels } => (images.clone().slice(range.clone()), labels.clone().slice(range)),
        }
    }
}

/// Moves a host batch to the device; the host buffers are handed over, not copied.
fn to_tensors(host: &mut HostBatch, shape: crate::data::ImageShape, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let n = host.len();
    let images = TensorData::new(std::mem::take(&mut host.images), [n, shape.channels, shape.height, shape.width]);
    let labels = TensorData::new(std::mem::take(&mut host.labels), [n]);
    (Tensor::from_data(images, device), Tensor::from_data(labels, device))
}
