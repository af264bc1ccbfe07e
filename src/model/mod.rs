//! The networks: a plain NN (MLP) and the seed's CNN, built for a data set's image shape.

mod cnn;
pub mod cpu_kernels;
pub mod export;
mod nn;

use burn::module::Module;
use burn::prelude::*;

pub use cnn::Cnn;
pub use nn::Mlp;

use crate::catalog::{ImageShape, names};
use crate::error::Result;

pub const CLASSES: usize = 10;

names!(
    /// Which network to train.
    ModelKind { Nn = "nn", Cnn = "cnn" }
);

/// What to build: the network and its hidden layers (the spec's `model` and `hidden`).
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    pub kind: ModelKind,
    /// Hidden layer sizes of the `nn` model; `[]` is logistic regression.
    pub hidden: Vec<u32>,
}

/// The largest model a spec may ask for: 10^9 parameters are 4 GB of f32 weights, and training
/// needs 3-4 times that (gradients, optimizer state). Larger ones are refused at validation.
pub const MAX_PARAMETERS: u128 = 1_000_000_000;

/// How many parameters `architecture` has on images of `shape` (no tensors made: spec
/// validation uses it, so it must agree with `Model::new`, which the tests check).
pub fn parameter_count(architecture: &Architecture, shape: ImageShape) -> u128 {
    let linear = |inputs: u128, outputs: u128| inputs * outputs + outputs;
    match architecture.kind {
        ModelKind::Nn => layer_sizes(architecture, shape).windows(2).map(|w| linear(w[0], w[1])).sum(),
        ModelKind::Cnn => {
            let flat = 64 * cnn::flat_side(shape.height) * cnn::flat_side(shape.width);
            let convs = linear(shape.channels as u128 * 9, 32) + linear(32 * 9, 64);
            convs + linear(flat as u128, 128) + linear(128, CLASSES as u128)
        }
    }
}

/// The NN's layer widths: inputs, hidden layers, classes.
fn layer_sizes(architecture: &Architecture, shape: ImageShape) -> Vec<u128> {
    std::iter::once(shape.pixels() as u128).chain(architecture.hidden.iter().map(|&h| u128::from(h))).chain([CLASSES as u128]).collect()
}

/// Multiply-accumulates of the conv and linear layers in one forward pass of one image, the
/// figure fvcore's `FlopCountAnalysis` reports (it counts a MAC as one "flop"; activations,
/// pooling and biases are not counted).
pub fn macs(architecture: &Architecture, shape: ImageShape) -> u128 {
    match architecture.kind {
        ModelKind::Nn => layer_sizes(architecture, shape).windows(2).map(|w| w[0] * w[1]).sum(),
        ModelKind::Cnn => {
            // Output elements x (input channels x 3 x 3) per valid 3x3 conv, then 2x2 pooling.
            let conv = |h: usize, w: usize, inputs: usize, outputs: usize| ((h - 2) * (w - 2) * outputs * inputs * 9) as u128;
            let (h1, w1) = (shape.height, shape.width);
            let first = conv(h1, w1, shape.channels, 32);
            let (h2, w2) = ((h1 - 2) / 2, (w1 - 2) / 2);
            let second = conv(h2, w2, 32, 64);
            let flat = (64 * cnn::flat_side(shape.height) * cnn::flat_side(shape.width)) as u128;
            first + second + flat * 128 + 128 * CLASSES as u128
        }
    }
}

/// Either network; the variant name is part of every parameter's path in a checkpoint, so a
/// checkpoint of one kind never loads into the other.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one value per trial: its size does not matter
pub enum Model {
    Nn(Mlp),
    Cnn(Cnn),
}

impl Model {
    /// A freshly initialized model; seed the device first for reproducible weights.
    pub fn new(architecture: &Architecture, shape: ImageShape, device: &Device) -> Result<Model> {
        Ok(match architecture.kind {
            ModelKind::Nn => {
                let hidden: Vec<usize> = architecture.hidden.iter().map(|&h| h as usize).collect();
                Model::Nn(Mlp::new(shape.pixels(), &hidden, device))
            }
            ModelKind::Cnn => Model::Cnn(Cnn::new(shape, device)?),
        })
    }

    /// Logits `[batch, 10]` for images `[batch, channels, height, width]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Nn(m) => m.forward(images),
            Model::Cnn(m) => m.forward(images),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DatasetName;
    use crate::spec::Spec;

    fn shapes() -> [ImageShape; 2] {
        [
            ImageShape { channels: 1, height: 28, width: 28 },
            ImageShape { channels: 3, height: 32, width: 32 },
        ]
    }

    #[test]
    fn both_models_give_ten_logits_on_both_input_sizes() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        for model in [ModelKind::Nn, ModelKind::Cnn] {
            for shape in shapes() {
                let spec = Spec { model, ..Spec::default() };
                let net = Model::new(&spec.architecture(), shape, &device).unwrap();
                let x = Tensor::<4>::zeros([3, shape.channels, shape.height, shape.width], &device);
                assert_eq!(net.forward(x).dims(), [3, CLASSES], "{model} on {shape:?}");
            }
        }
    }

    #[test]
    fn parameter_counts_match_the_pytorch_reference() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        let [mnist, cifar] = shapes();
        let count = |model, shape| Model::new(&Spec { model, ..Spec::default() }.architecture(), shape, &device).unwrap().num_params();
        // torch: sum(p.numel() for p in model.parameters())
        assert_eq!(count(ModelKind::Nn, mnist), 784 * 128 + 128 + 128 * 10 + 10);
        let convs = (9 * 32 + 32) + (32 * 9 * 64 + 64);
        assert_eq!(count(ModelKind::Cnn, mnist), convs + 1600 * 128 + 128 + 1290);
        assert_eq!(count(ModelKind::Cnn, cifar), (3 * 9 * 32 + 32) + 32 * 64 * 9 + 64 + 2304 * 128 + 128 + 1290);
        let logistic = Spec { model: ModelKind::Nn, hidden: vec![], dataset: DatasetName::Cifar10, ..Spec::default() };
        assert_eq!(Model::new(&logistic.architecture(), cifar, &device).unwrap().num_params(), 3072 * 10 + 10);
    }

    #[test]
    fn macs_match_fvcore() {
        let [mnist, cifar] = shapes();
        let macs = |model, hidden: Vec<u32>, shape| macs(&Architecture { kind: model, hidden }, shape);
        // fvcore.nn.FlopCountAnalysis(model, torch.zeros(1, c, h, w)).total() on the reference
        // PyTorch modules (scripts/reference.py's shapes).
        assert_eq!(macs(ModelKind::Nn, vec![128], mnist), 101_632);
        assert_eq!(macs(ModelKind::Cnn, vec![128], mnist), 2_631_040);
        assert_eq!(macs(ModelKind::Cnn, vec![128], cifar), 4_188_800);
        assert_eq!(macs(ModelKind::Nn, vec![], cifar), 30_720);
    }

    #[test]
    fn parameter_count_agrees_with_the_built_models() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        let hiddens: [&[u32]; 4] = [&[], &[128], &[300, 100], &[7, 5, 3]];
        for shape in shapes() {
            for hidden in hiddens {
                for model in [ModelKind::Nn, ModelKind::Cnn] {
                    let spec = Spec { model, hidden: hidden.to_vec(), ..Spec::default() };
                    let built = Model::new(&spec.architecture(), shape, &device).unwrap().num_params() as u128;
                    assert_eq!(parameter_count(&spec.architecture(), shape), built, "{model} {hidden:?} {shape:?}");
                }
            }
        }
    }

    #[test]
    fn cnn_refuses_images_too_small_for_two_pools() {
        let _rng = crate::burn_rng_lock();
        let spec = Spec::default();
        let tiny = ImageShape { channels: 1, height: 8, width: 8 };
        let err = Model::new(&spec.architecture(), tiny, &Device::flex()).unwrap_err().to_string();
        assert!(err.contains("at least 10x10, got 8x8"), "{err}");
    }
}
