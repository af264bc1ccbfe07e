//! The training loop: epochs of shuffled batches, then an evaluation on the test set.

mod optim;

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::prelude::*;

use crate::data::batch::{HostBatch, Normalizer, epoch_order};
use crate::data::{Dataset, Split};
use crate::model::Model;
use crate::spec::Spec;

pub use optim::optimizer;

/// Images per evaluation batch: no gradients are kept, so larger is faster.
const EVAL_BATCH: usize = 500;

/// One row of metrics.csv.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    pub epoch: u32,
    /// Mean loss and accuracy over every training batch of the epoch.
    pub train_loss: f64,
    pub train_acc: f64,
    /// Mean loss and accuracy over the whole test set, after the epoch.
    pub test_loss: f64,
    pub test_acc: f64,
    pub lr: f64,
    /// Wall time of the epoch, training and evaluation.
    pub epoch_seconds: f64,
    /// Training images per second (training pass only).
    pub images_per_second: f64,
    pub finished_at: String,
}

/// What the caller does as training goes: progress, files, checkpoints.
pub trait Observer {
    fn epoch_started(&mut self, epoch: u32, images: usize);
    fn batch_done(&mut self, images: usize);
    /// Called after evaluation; an error stops training.
    fn epoch_done(&mut self, metrics: &EpochMetrics, model: &Model) -> crate::Result<()>;
}

/// Why a trial stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the loss became {value} in epoch {epoch}: training diverged; lower lr (now {lr})")]
    Diverged { epoch: u32, value: f64, lr: f64 },
    #[error(transparent)]
    Run(#[from] crate::Error),
}

/// The images a trial trains and tests on: a prefix of each split when limits are set.
pub struct TrialData<'a> {
    pub dataset: &'a Dataset,
    pub train_len: usize,
    pub test_len: usize,
    pub normalizer: Normalizer,
}

impl<'a> TrialData<'a> {
    pub fn new(dataset: &'a Dataset, spec: &Spec) -> TrialData<'a> {
        let limit = |limit: u32, len: usize| if limit == 0 { len } else { len.min(limit as usize) };
        TrialData {
            dataset,
            train_len: limit(spec.limit_train, dataset.train.len()),
            test_len: limit(spec.limit_test, dataset.test.len()),
            normalizer: Normalizer::new(&spec.mean, &spec.std, dataset.shape),
        }
    }
}

/// Builds a seeded model and trains it for `spec.epochs`, reporting each epoch to `observer`.
pub fn fit(spec: &Spec, data: &TrialData, device: &Device, observer: &mut dyn Observer) -> Result<Model, TrainError> {
    let seed = spec.seed as u64;
    device.seed(seed);
    let train_device = device.clone().autodiff();
    let mut model = Model::new(spec, data.dataset.shape, &train_device).map_err(|m| {
        crate::Error::InvalidValue { origin: "spec".into(), key: "model".into(), message: m }
    })?;
    let mut optim = optimizer(spec);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut host = HostBatch::default();

    for epoch in 1..=spec.epochs {
        let started = Instant::now();
        observer.epoch_started(epoch, data.train_len);
        let order = epoch_order(data.train_len, seed, epoch);
        let mut loss_sum = Tensor::<1>::zeros([1], device);
        let mut correct = Tensor::<1, Int>::zeros([1], device);
        for chunk in order.chunks(spec.batch_size as usize) {
            host.fill(&data.dataset.train, chunk.iter().map(|&i| i as usize), data.dataset.shape, &data.normalizer);
            let (images, labels) = to_tensors(&mut host, data.dataset.shape, &train_device);
            let logits = model.forward(images);
            let loss = loss_fn.forward(logits.clone(), labels.clone());
            loss_sum = loss_sum + loss.clone().detach().without_autodiff() * chunk.len() as f32;
            correct = correct + count_correct(logits.detach().without_autodiff(), labels.without_autodiff());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(spec.lr, model, grads);
            observer.batch_done(chunk.len());
        }
        let train_loss = loss_sum.into_scalar::<f32>() as f64 / data.train_len as f64;
        let train_acc = correct.into_scalar::<i64>() as f64 / data.train_len as f64;
        let train_seconds = started.elapsed().as_secs_f64();
        if !train_loss.is_finite() {
            return Err(TrainError::Diverged { epoch, value: train_loss, lr: spec.lr });
        }

        let (test_loss, test_acc) = evaluate(&model.valid(), &data.dataset.test, data.test_len, data, device);
        let metrics = EpochMetrics {
            epoch,
            train_loss,
            train_acc,
            test_loss,
            test_acc,
            lr: spec.lr,
            epoch_seconds: started.elapsed().as_secs_f64(),
            images_per_second: data.train_len as f64 / train_seconds,
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        observer.epoch_done(&metrics, &model)?;
    }
    Ok(model)
}

/// Mean cross-entropy and accuracy of `model` (without autodiff) on the first `len` images of `split`.
pub fn evaluate(model: &Model, split: &Split, len: usize, data: &TrialData, device: &Device) -> (f64, f64) {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut host = HostBatch::default();
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let mut correct = Tensor::<1, Int>::zeros([1], device);
    for start in (0..len).step_by(EVAL_BATCH) {
        let end = (start + EVAL_BATCH).min(len);
        host.fill(split, start..end, data.dataset.shape, &data.normalizer);
        let (images, labels) = to_tensors(&mut host, data.dataset.shape, device);
        let logits = model.forward(images);
        loss_sum = loss_sum + batch_loss(&loss_fn, logits.clone(), labels.clone()) * (end - start) as f32;
        correct = correct + count_correct(logits, labels);
    }
    let loss = loss_sum.into_scalar::<f32>() as f64 / len as f64;
    let acc = correct.into_scalar::<i64>() as f64 / len as f64;
    (loss, acc)
}

fn batch_loss(loss_fn: &CrossEntropyLoss, logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    loss_fn.forward(logits, labels)
}

/// Moves a host batch to the device; the host buffers are handed over, not copied.
fn to_tensors(host: &mut HostBatch, shape: crate::data::ImageShape, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let n = host.len();
    let images = TensorData::new(std::mem::take(&mut host.images), [n, shape.channels, shape.height, shape.width]);
    let labels = TensorData::new(std::mem::take(&mut host.labels), [n]);
    (Tensor::from_data(images, device), Tensor::from_data(labels, device))
}

fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    logits.argmax(1).flatten::<1>(0, 1).equal(labels).int().sum()
}
