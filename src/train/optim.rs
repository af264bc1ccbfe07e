//! Optimizers from the spec, with PyTorch's semantics (no momentum dampening, Adam and AdamW
//! eps 1e-8, AdamW weight decay 0.01 unless set).

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};

use crate::spec::{OptimizerName, Spec};

pub fn optimizer(spec: &Spec) -> ModuleOptimizer {
    let weight_decay = (spec.weight_decay() > 0.0).then(|| WeightDecayConfig::new(spec.weight_decay() as f32));
    match spec.optimizer {
        OptimizerName::Sgd => SgdConfig::new()
            .with_momentum((spec.momentum > 0.0).then_some(MomentumConfig {
                momentum: spec.momentum,
                dampening: 0.0,
                nesterov: false,
            }))
            .with_weight_decay(weight_decay)
            .init(),
        OptimizerName::Adam => AdamConfig::new().with_epsilon(1e-8).with_weight_decay(weight_decay).init(),
        // Decoupled: each step scales the weights by 1 - lr * weight_decay (PyTorch's AdamW).
        OptimizerName::Adamw => {
            AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(spec.weight_decay() as f32).init()
        }
    }
}
