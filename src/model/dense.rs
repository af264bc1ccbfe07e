//! The fully connected layers both networks end with: per hidden layer Linear -> [batch norm]
//! -> ReLU -> [dropout], then Linear(.., classes).

use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::Architecture;
use super::cpu_kernels;

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

/// The dense layers, their batch norms and their activation, and which kernels run them.
pub(super) struct Layers<'a> {
    pub layers: &'a [Linear],
    pub norms: &'a [BatchNorm],
    pub dropout: &'a Dropout,
    pub activation: &'a Relu,
    /// This crate's CPU kernels (a Linear with its ReLU in one op, batch norm): set on flex and
    /// ndarray; else Burn's modules.
    pub cpu_kernels: bool,
}

/// `x` `[batch, features]` through the layers: the logits.
pub(super) fn forward(net: Layers, mut x: Tensor<2>) -> Tensor<2> {
    let last = net.layers.len() - 1;
    for (i, layer) in net.layers.iter().enumerate() {
        // Only hidden layers have a batch norm.
        let norm = net.norms.get(i);
        // Without a batch norm between them, the kernel applies the ReLU itself.
        let fused = net.cpu_kernels && i < last && norm.is_none();
        x = if net.cpu_kernels { cpu_kernels::linear(x, layer, fused) } else { layer.forward(x) };
        if i < last {
            if let Some(norm) = norm {
                x = if net.cpu_kernels { cpu_kernels::batch_norm_train(x, norm) } else { norm.forward(x) };
            }
            if !fused {
                x = net.activation.forward(x);
            }
            x = net.dropout.forward(x);
        }
    }
    x
}
