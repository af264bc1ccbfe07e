//! The training loop: epochs of shuffled batches, then an evaluation on the test set.

mod batches;
mod evaluate;
mod optim;
pub mod schedule;
mod trial_data;

use std::time::Instant;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::catalog::ImageShape;
use crate::model::Model;
use crate::spec::Spec;

use batches::Batches;
use evaluate::{EVAL_BATCH, evaluate_batches, evaluate_each};
pub use evaluate::{Evaluation, evaluate, evaluate_pass, predict};
pub use optim::optimizer;
pub use trial_data::TrialData;

/// One row of metrics.csv.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Mean loss and accuracy over the validation split after the epoch; None without one.
    #[serde(default)]
    pub val_loss: Option<f64>,
    #[serde(default)]
    pub val_acc: Option<f64>,
    /// The epoch's training pass and its evaluation (validation and test), apart; None in
    /// metrics.csv files written before they were recorded.
    #[serde(default)]
    pub train_seconds: Option<f64>,
    #[serde(default)]
    pub eval_seconds: Option<f64>,
}

impl EpochMetrics {
    /// Seconds of the training pass (the whole epoch for rows that did not record it apart).
    pub fn training_time(&self) -> f64 {
        self.train_seconds.unwrap_or(self.epoch_seconds)
    }
}

/// What the caller does as training goes: progress, files, checkpoints, stopping.
pub trait Observer {
    fn epoch_started(&mut self, epoch: u32, images: usize);
    fn batch_done(&mut self, images: usize);
    /// Asked before each batch: true stops training there ([`TrainError::Interrupted`]).
    fn stop_requested(&self) -> bool {
        false
    }
    /// Called after evaluation with the state after the epoch; an error stops training.
    fn epoch_done(&mut self, metrics: &EpochMetrics, model: &Model, optim: &ModuleOptimizer) -> crate::Result<()>;
    /// The test split's evaluation throughput (images per second, inference only) after an epoch.
    fn evaluated(&mut self, _images_per_second: f64) {}
    /// Asked after each committed epoch: an error ([`TrainError::Pruned`] or
    /// [`TrainError::Paused`]) ends training there.
    fn prune(&mut self, _metrics: &EpochMetrics) -> Result<(), TrainError> {
        Ok(())
    }
}

/// Why a trial stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the loss became {value} in epoch {epoch}: training diverged; lower lr (now {})", show_lr(*lr))]
    Diverged { epoch: u32, value: f64, lr: f64 },
    /// The last updates of an epoch left weights that evaluate to a non-finite loss.
    #[error("the {split} loss became {value} after epoch {epoch}: training diverged; lower lr (now {})", show_lr(*lr))]
    DivergedAfter { epoch: u32, split: &'static str, value: f64, lr: f64 },
    #[error("interrupted in epoch {epoch}")]
    Interrupted { epoch: u32 },
    #[error("{reason}")]
    Pruned { epoch: u32, reason: String },
    /// Stopped after a committed epoch for a reason outside training (ASHA waiting for a trial
    /// no worker runs): resumable from that epoch.
    #[error("{reason}")]
    Paused { epoch: u32, reason: String },
    #[error(transparent)]
    Run(#[from] crate::Error),
}

/// Where training starts: the model (on the autodiff device), the optimizer and how many epochs
/// they have been trained. A resumed trial loads both from its last epoch's checkpoint; nothing
/// else carries over, because each epoch's shuffle is a function of the seed and the epoch.
pub struct TrainState {
    pub model: Model,
    pub optim: ModuleOptimizer,
    /// The metrics of the epochs done: training goes on with the next one, and early stopping
    /// looks back over them.
    pub history: Vec<EpochMetrics>,
}

impl TrainState {
    /// A freshly initialized model, seeded with `spec.seed`.
    pub fn fresh(spec: &Spec, shape: ImageShape, classes: usize, device: &Device) -> Result<TrainState, TrainError> {
        device.seed(spec.seed as u64);
        let model = Model::new(&spec.architecture(classes), shape, &device.clone().autodiff())?;
        Ok(TrainState { model, optim: optimizer(spec), history: Vec::new() })
    }
}

/// Trains `state` up to `spec.epochs`, reporting each epoch to `observer`.
pub fn fit(
    spec: &Spec,
    data: &TrialData,
    device: &Device,
    state: TrainState,
    observer: &mut dyn Observer,
) -> Result<Model, TrainError> {
    let seed = spec.seed as u64;
    let TrainState { mut model, mut optim, mut history } = state;
    let train_device = device.clone().autodiff();
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut train_batches = Batches::new(&data.dataset.train, data.pool_len, data, device, data.resident);
    let mut test_batches = Batches::new(&data.dataset.test, data.test_len, data, device, data.resident);
    let batches_per_epoch = data.train_len.div_ceil(spec.batch_size as usize);

    for epoch in history.len() as u32 + 1..=spec.epochs {
        if schedule::stopped_at(spec, &history).is_some() {
            break;
        }
        let started = Instant::now();
        if spec.dropout > 0.0 {
            // Dropout draws from the device's RNG: reseeded per epoch, its masks depend on the seed
            // and the epoch alone, so a resumed trial draws what an uninterrupted one would.
            device.seed(seed ^ u64::from(epoch).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        observer.epoch_started(epoch, data.train_len);
        let order = data.epoch_order(seed, epoch);
        let mut augmenter = data.augmenter(seed, epoch);
        let first_lr = schedule::lr_at(spec, epoch, 0, batches_per_epoch);
        let mut loss_sum = Tensor::<1>::zeros([1], device);
        let mut correct = Tensor::<1, Int>::zeros([1], device);
        for (batch, chunk) in order.chunks(spec.batch_size as usize).enumerate() {
            if observer.stop_requested() {
                return Err(TrainError::Interrupted { epoch });
            }
            let (images, labels) = train_batches.pick(chunk, data, device, augmenter.as_mut());
            let lr = schedule::lr_at(spec, epoch, batch, batches_per_epoch);
            let (next, batch_loss, batch_correct) = step(model, &mut optim, &loss_fn, images, labels, lr);
            model = next;
            loss_sum = loss_sum + batch_loss;
            correct = correct + batch_correct;
            observer.batch_done(chunk.len());
        }
        let train_loss = loss_sum.into_scalar::<f32>() as f64 / data.train_len as f64;
        let train_acc = correct.into_scalar::<i64>() as f64 / data.train_len as f64;
        let train_seconds = started.elapsed().as_secs_f64();
        if !train_loss.is_finite() {
            return Err(TrainError::Diverged { epoch, value: train_loss, lr: first_lr });
        }

        let eval_started = Instant::now();
        let eval_model = model.valid();
        let (val_loss, val_acc) = if data.val.is_empty() {
            (None, None)
        } else {
            let batches = data.val.chunks(EVAL_BATCH).map(|picks| train_batches.pick(picks, data, device, None));
            let val = evaluate_each(&eval_model, batches, device, false);
            (Some(val.loss), Some(val.accuracy))
        };
        let evaluating = Instant::now();
        let test = evaluate_batches(&eval_model, &mut test_batches, data.test_len, data, device, false);
        observer.evaluated(data.test_len as f64 / evaluating.elapsed().as_secs_f64().max(1e-9));
        let (test_loss, test_acc) = (test.loss, test.accuracy);
        // A trial whose weights ended non-finite is failed, not done with a NaN beside its accuracy.
        for (split, value) in [("validation", val_loss), ("test", Some(test_loss))] {
            if let Some(value) = value.filter(|v| !v.is_finite()) {
                return Err(TrainError::DivergedAfter { epoch, split, value, lr: first_lr });
            }
        }
        let metrics = EpochMetrics {
            epoch,
            train_loss,
            train_acc,
            test_loss,
            test_acc,
            lr: first_lr,
            epoch_seconds: started.elapsed().as_secs_f64(),
            images_per_second: data.train_len as f64 / train_seconds,
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            val_loss,
            val_acc,
            train_seconds: Some(train_seconds),
            eval_seconds: Some(eval_started.elapsed().as_secs_f64()),
        };
        observer.epoch_done(&metrics, &model, &optim)?;
        observer.prune(&metrics)?;
        history.push(metrics);
    }
    Ok(model)
}

/// A learning rate for a message: plain, unless it would take dozens of digits (1e300).
fn show_lr(lr: f64) -> String {
    if lr != 0.0 && !(1e-4..1e6).contains(&lr.abs()) { format!("{lr:e}") } else { lr.to_string() }
}

/// One training step, the one every run, warm-up and `runner bench` executes: forward,
/// cross-entropy, backward, the optimizer's update at `lr`. Returns the updated model and, left
/// on the device (reading them back would sync every batch), the batch's summed loss and its
/// count of correct predictions.
pub fn step(
    model: Model,
    optim: &mut ModuleOptimizer,
    loss_fn: &CrossEntropyLoss,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    lr: f64,
) -> (Model, Tensor<1>, Tensor<1, Int>) {
    let n = labels.dims()[0];
    let logits = model.forward(images.autodiff());
    let loss = loss_fn.forward(logits.clone(), labels.clone().autodiff());
    let loss_sum = loss.clone().detach().without_autodiff() * n as f32;
    let correct = count_correct(logits.detach().without_autodiff(), labels);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), loss_sum, correct)
}

/// Runs one training step and one evaluation batch on a throwaway model, so that a GPU compiles
/// and autotunes its kernels before the clock of the first epoch starts. Returns the seconds it
/// took. It touches no RNG that training uses: the trial seeds the device afterwards.
pub fn warm_up(spec: &Spec, data: &TrialData, device: &Device) -> Result<f64, TrainError> {
    let started = Instant::now();
    let train_device = device.clone().autodiff();
    let model = Model::new(&spec.architecture(data.dataset.classes.len()), data.dataset.shape, &train_device)?;
    let mut optim = optimizer(spec);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut batches = Batches::new(&data.dataset.train, data.pool_len, data, device, data.resident);
    let batch = (spec.batch_size as usize).min(data.train_len);
    let picks: Vec<u32> = (0..batch as u32).collect();
    let (images, labels) = batches.pick(&picks, data, device, None);
    let (model, _, _) = step(model, &mut optim, &loss_fn, images, labels, spec.lr);
    let test_len = EVAL_BATCH.min(data.test_len);
    let _ = evaluate(&model.valid(), &data.dataset.test, test_len, data, device);
    device.sync().map_err(|e| crate::Error::Device(format!("the device failed during warm-up: {e:?}")))?;
    Ok(started.elapsed().as_secs_f64())
}

pub(crate) fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    logits.argmax(1).flatten::<1>(0, 1).equal(labels).int().sum()
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::data::{Dataset, Split};
    use crate::spec::ModelKind;

    /// Remembers the deterministic part of every epoch's metrics.
    #[derive(Default)]
    struct Record(Vec<(u32, f64, f64, f64, f64)>);

    impl Observer for Record {
        fn epoch_started(&mut self, _: u32, _: usize) {}
        fn batch_done(&mut self, _: usize) {}
        fn epoch_done(&mut self, m: &EpochMetrics, _: &Model, _: &ModuleOptimizer) -> crate::Result<()> {
            self.0.push((m.epoch, m.train_loss, m.train_acc, m.test_loss, m.test_acc));
            Ok(())
        }
    }

    fn synthetic(n: usize) -> Dataset {
        let shape = ImageShape { channels: 1, height: 12, width: 12 };
        let split = |salt: usize| Split {
            images: (0..n * shape.pixels()).map(|i| ((i * 31 + salt) % 251) as u8).collect(),
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
        };
        Dataset {
            name: crate::spec::DatasetName::Mnist,
            shape,
            train: split(0),
            test: split(7),
            classes: (0..10).map(|c| c.to_string()).collect(),
            files_key: String::new(),
        }
    }

    #[test]
    fn device_resident_batches_and_warm_up_change_nothing() {
        let _rng = crate::burn_rng_lock();
        let dataset = synthetic(90);
        let spec = Spec { model: ModelKind::Cnn, epochs: 2, batch_size: 20, lr: 0.05, ..Spec::default() };
        let device = Device::flex();
        let run = |resident: bool, warm: bool| {
            let mut data = TrialData::new(&dataset, &spec);
            data.resident = resident;
            if warm {
                assert!(warm_up(&spec, &data, &device).unwrap() > 0.0);
            }
            let mut record = Record::default();
            let state = TrainState::fresh(&spec, dataset.shape, 10, &device).unwrap();
            fit(&spec, &data, &device, state, &mut record).unwrap();
            record.0
        };
        let host = run(false, false);
        assert_eq!(host.len(), 2);
        assert_eq!(run(false, false), host, "same process, same seed, same metrics");
        assert_eq!(run(true, false), host, "slicing batches on the device = assembling them on the host");
        assert_eq!(run(false, true), host, "the warm-up does not disturb the seeded run");
    }

    /// Saves the model and optimizer after each epoch, as a run folder does.
    struct Saver(std::path::PathBuf, Record);

    impl Observer for Saver {
        fn epoch_started(&mut self, _: u32, _: usize) {}
        fn batch_done(&mut self, _: usize) {}
        fn epoch_done(&mut self, m: &EpochMetrics, model: &Model, optim: &ModuleOptimizer) -> crate::Result<()> {
            crate::run::checkpoint::save_state(&self.0, m.epoch, model, optim)?;
            self.1.epoch_done(m, model, optim)
        }
    }

    #[test]
    fn resuming_from_a_saved_epoch_continues_exactly() {
        let _rng = crate::burn_rng_lock();
        let dataset = synthetic(90);
        let device = Device::flex();
        for (optimizer, momentum) in [(crate::spec::OptimizerName::Sgd, 0.9), (crate::spec::OptimizerName::Adam, 0.0)] {
            let spec = Spec {
                model: ModelKind::Cnn,
                epochs: 3,
                batch_size: 20,
                lr: 0.01,
                optimizer,
                momentum,
                ..Spec::default()
            };
            let data = TrialData::new(&dataset, &spec);
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join(crate::run::checkpoint::DIR)).unwrap();
            let mut full = Saver(dir.path().to_path_buf(), Record::default());
            fit(&spec, &data, &device, TrainState::fresh(&spec, dataset.shape, 10, &device).unwrap(), &mut full)
                .unwrap();

            let state = TrainState::fresh(&Spec { seed: 99, ..spec.clone() }, dataset.shape, 10, &device).unwrap();
            let epoch_one = vec![EpochMetrics { epoch: 1, ..EpochMetrics::default() }];
            let state = crate::run::checkpoint::load_state(state, dir.path(), epoch_one).unwrap();
            let mut resumed = Record::default();
            fit(&spec, &data, &device, state, &mut resumed).unwrap();
            assert_eq!(resumed.0, full.1.0[1..], "{optimizer}: epochs 2 and 3 after a resume from epoch 1");
        }
    }

    #[test]
    fn a_stop_request_ends_training_at_a_batch_boundary() {
        struct StopAfter(usize);
        impl Observer for StopAfter {
            fn epoch_started(&mut self, _: u32, _: usize) {}
            fn batch_done(&mut self, _: usize) {
                self.0 = self.0.saturating_sub(1);
            }
            fn stop_requested(&self) -> bool {
                self.0 == 0
            }
            fn epoch_done(&mut self, _: &EpochMetrics, _: &Model, _: &ModuleOptimizer) -> crate::Result<()> {
                panic!("no epoch may end")
            }
        }
        let _rng = crate::burn_rng_lock();
        let dataset = synthetic(90);
        let spec = Spec { epochs: 1, batch_size: 20, ..Spec::default() };
        let device = Device::flex();
        let mut stop = StopAfter(2);
        let state = TrainState::fresh(&spec, dataset.shape, 10, &device).unwrap();
        let err = fit(&spec, &TrialData::new(&dataset, &spec), &device, state, &mut stop).unwrap_err();
        assert!(matches!(err, TrainError::Interrupted { epoch: 1 }), "{err}");
    }

    #[test]
    fn weights_that_end_non_finite_fail_the_trial_with_a_readable_lr() {
        let _rng = crate::burn_rng_lock();
        let dataset = synthetic(100);
        // One batch: its loss is computed before the update that ruins the weights.
        let spec = Spec { model: ModelKind::Nn, epochs: 1, batch_size: 100, lr: 1e300, ..Spec::default() };
        let device = Device::flex();
        let state = TrainState::fresh(&spec, dataset.shape, 10, &device).unwrap();
        let err = fit(&spec, &TrialData::new(&dataset, &spec), &device, state, &mut Record::default()).unwrap_err();
        assert!(matches!(err, TrainError::DivergedAfter { split: "test", .. }), "{err}");
        let TrainError::DivergedAfter { value, .. } = err else { unreachable!() };
        assert!(!value.is_finite());
        assert!(
            err.to_string().contains("the test loss became") && err.to_string().ends_with("lower lr (now 1e300)"),
            "{err}"
        );
        assert_eq!(show_lr(0.01), "0.01");
    }

    #[test]
    fn a_few_steps_on_a_fixed_batch_lower_the_loss() {
        let _rng = crate::burn_rng_lock();
        for (model, shape) in [
            (ModelKind::Nn, ImageShape { channels: 1, height: 28, width: 28 }),
            (ModelKind::Cnn, ImageShape { channels: 3, height: 32, width: 32 }),
        ] {
            let device = Device::flex();
            device.seed(3);
            let train_device = device.clone().autodiff();
            let spec = Spec { model, lr: 0.1, ..Spec::default() };
            let mut net = Model::new(&spec.architecture(10), shape, &train_device).unwrap();
            let images = Tensor::<4>::random(
                [20, shape.channels, shape.height, shape.width],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let labels: Vec<i64> = (0..20).map(|i| i % 10).collect();
            let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [20]), &device);
            let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
            let mut optim = optimizer(&spec);
            let mut losses = Vec::new();
            for _ in 0..20 {
                let (next, loss_sum, _) = step(net, &mut optim, &loss_fn, images.clone(), labels.clone(), spec.lr);
                net = next;
                losses.push(loss_sum.into_scalar::<f32>() / 20.0);
            }
            let (first, last) = (losses[0], losses[losses.len() - 1]);
            assert!(last < 0.8 * first, "{model}: loss {first} -> {last}");
        }
    }
}
