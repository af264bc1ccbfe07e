//! The fully connected layers both networks end with: per hidden layer Linear -> [batch norm]
//! -> ReLU -> [dropout], then Linear(.., classes).

use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::Architecture;

/// Batch norm as PyTorch's `BatchNorm1d/2d` defaults it (momentum 0.1, epsilon 1e-5), so an
/// exported model's eval-mode outputs agree.
pub(super) fn batch_norm(features: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(features).with_momentum(0.1).with_epsilon(1e-5).init(device)
}

/// The linear layers from `inputs` through `architecture.hidden` to the classes, and a batch norm
/// per hidden layer when the architecture has them; initialized in that order.
pub(super) fn layers(architecture: &Architecture, inputs: usize, device: &Device) -> (Vec<Linear>, Vec<BatchNorm>) {
    let hidden: Vec<usize> = architecture.hidden.iter().map(|&h| h as usize).collect();
    let sizes: Vec<usize> =
        std::iter::once(inputs).chain(hidden.iter().copied()).chain([architecture.classes]).collect();
    let layers = sizes.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
    let norms =
        if architecture.batch_norm { hidden.iter().map(|&h| batch_norm(h, device)).collect() } else { Vec::new() };
    (layers, norms)
}

pub(super) fn dropout(architecture: &Architecture) -> Dropout {
    DropoutConfig::new(architecture.dropout).init()
}

/// `x` `[batch, features]` through the layers: the logits.
pub(super) fn forward(
    layers: &[Linear],
    norms: &[BatchNorm],
    dropout: &Dropout,
    activation: &Relu,
    mut x: Tensor<2>,
) -> Tensor<2> {
    let last = layers.len() - 1;
    for (i, layer) in layers.iter().enumerate() {
        x = layer.forward(x);
        if i < last {
            if let Some(norm) = norms.get(i) {
                x = norm.forward(x);
            }
            x = dropout.forward(activation.forward(x));
        }
    }
    x
}
