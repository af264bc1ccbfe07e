//! Evaluation passes: mean loss and accuracy over a split (the test set after each epoch, the
//! validation picks, `runner eval`), and the predictions behind a confusion matrix.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;

use super::TrialData;
use super::batches::Batches;
use crate::data::Split;
use crate::model::Model;

/// Images per evaluation batch: no gradients are kept, so larger is faster.
pub(super) const EVAL_BATCH: usize = 500;

/// Mean cross-entropy and accuracy of `model` (without autodiff) on the first `len` images of `split`.
pub fn evaluate(model: &Model, split: &Split, len: usize, data: &TrialData, device: &Device) -> (f64, f64) {
    let evaluation = evaluate_pass(model, split, len, data, device, false);
    (evaluation.loss, evaluation.accuracy)
}

/// What one pass over a split gives: mean loss, accuracy and (when asked) each prediction.
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub predictions: Vec<u8>,
}

/// One pass of `model` over the first `len` images of `split`, keeping each predicted class
/// when `predictions` (`runner eval`: the confusion matrix comes from the same pass).
pub fn evaluate_pass(
    model: &Model,
    split: &Split,
    len: usize,
    data: &TrialData,
    device: &Device,
    predictions: bool,
) -> Evaluation {
    let mut batches = Batches::new(split, len, data, device, data.resident);
    evaluate_batches(model, &mut batches, len, data, device, predictions)
}

/// [`evaluate_pass`] on batches already prepared (a GPU keeps the test set resident across epochs).
pub(super) fn evaluate_batches(
    model: &Model,
    batches: &mut Batches,
    len: usize,
    data: &TrialData,
    device: &Device,
    predictions: bool,
) -> Evaluation {
    let ranges = (0..len).step_by(EVAL_BATCH).map(|start| start..(start + EVAL_BATCH).min(len));
    evaluate_each(model, ranges.map(|range| batches.range(range, data, device)), device, predictions)
}

/// Mean cross-entropy and accuracy over `batches` of (images, labels), and each predicted class
/// when `predictions`.
pub(super) fn evaluate_each(
    model: &Model,
    batches: impl Iterator<Item = (Tensor<4>, Tensor<1, Int>)>,
    device: &Device,
    predictions: bool,
) -> Evaluation {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let mut correct = Tensor::<1, Int>::zeros([1], device);
    let mut predicted = Vec::new();
    let mut len = 0;
    for (images, labels) in batches {
        let n = labels.dims()[0];
        len += n;
        let logits = model.forward(images);
        loss_sum = loss_sum + loss_fn.forward(logits.clone(), labels.clone()) * n as f32;
        if predictions {
            let classes = logits.clone().argmax(1).into_data();
            predicted.extend(classes.iter::<i64>().map(|c| c as u8));
        }
        correct = correct + super::count_correct(logits, labels);
    }
    Evaluation {
        loss: loss_sum.into_scalar::<f32>() as f64 / len as f64,
        accuracy: correct.into_scalar::<i64>() as f64 / len as f64,
        predictions: predicted,
    }
}

/// The predicted class of each of the first `len` images of `split`.
pub fn predict(model: &Model, split: &Split, len: usize, data: &TrialData, device: &Device) -> Vec<u8> {
    evaluate_pass(model, split, len, data, device, true).predictions
}
