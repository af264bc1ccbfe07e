//! The networks: a plain NN (MLP) and the seed's CNN, built for a data set's image shape.

mod cnn;
pub mod cpu_kernels;
mod dense;
pub mod export;
pub mod memory;
mod nn;

use burn::module::Module;
use burn::prelude::*;

pub use cnn::Cnn;
pub use nn::Mlp;

use crate::catalog::{ImageShape, names};
use crate::error::Result;

names!(
    /// Which network to train.
    ModelKind { Nn = "nn", Cnn = "cnn" }
);

/// What to build: the spec's `model`, `hidden`, `conv_channels`, `kernel_size`, `padding`,
/// `batch_norm` and `dropout`, and the data set's number of classes (the outputs). The defaults
/// are the seed's networks.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    pub kind: ModelKind,
    /// Fully connected hidden layers (the NN's, and the CNN's head); `[]`: none.
    pub hidden: Vec<u32>,
    /// The CNN: one block per entry, conv -> [batch norm] -> ReLU -> 2x2 max pool.
    pub conv_channels: Vec<u32>,
    /// The CNN's square kernels: odd, 1 to 7.
    pub kernel_size: u32,
    pub padding: Padding,
    /// Batch norm after each conv and each hidden linear layer (before its ReLU).
    pub batch_norm: bool,
    /// Dropout after each hidden layer's ReLU, while training.
    pub dropout: f64,
    /// Outputs: one logit per class.
    pub classes: usize,
}

impl Architecture {
    /// The seed's network of `kind`.
    pub fn seed(kind: ModelKind) -> Architecture {
        Architecture {
            kind,
            hidden: vec![128],
            conv_channels: vec![32, 64],
            kernel_size: 3,
            padding: Padding::Valid,
            batch_norm: false,
            dropout: 0.0,
            classes: 10,
        }
    }

    /// Zero padding on each side of a conv's input.
    pub fn pad(&self) -> usize {
        match self.padding {
            Padding::Valid => 0,
            Padding::Same => (self.kernel_size as usize - 1) / 2,
        }
    }

    /// The CNN's feature maps (channels, height, width) after each block (conv, then the 2x2
    /// pool), from `shape`; or the first block that has no room.
    pub fn feature_maps(&self, shape: ImageShape) -> std::result::Result<Vec<(usize, usize, usize)>, TooDeep> {
        let (k, p) = (self.kernel_size as usize, self.pad());
        let (mut h, mut w) = (shape.height, shape.width);
        let mut maps = Vec::new();
        for (i, &channels) in self.conv_channels.iter().enumerate() {
            let (ch, cw) = ((h + 2 * p + 1).saturating_sub(k), (w + 2 * p + 1).saturating_sub(k));
            if ch < 2 || cw < 2 {
                return Err(TooDeep { block: i + 1, input: (h, w), output: (ch, cw), kernel: k });
            }
            (h, w) = (ch / 2, cw / 2);
            maps.push((channels as usize, h, w));
        }
        Ok(maps)
    }

    /// Inputs of the first fully connected layer: the pixels (NN) or the last feature map (CNN).
    fn flat_inputs(&self, shape: ImageShape) -> Option<u128> {
        match self.kind {
            ModelKind::Nn => Some(shape.pixels() as u128),
            ModelKind::Cnn => {
                let maps = self.feature_maps(shape).ok()?;
                Some(maps.last().map_or(shape.pixels(), |&(c, h, w)| c * h * w) as u128)
            }
        }
    }

    /// The fully connected layers' widths: inputs, hidden layers, classes.
    fn dense_sizes(&self, shape: ImageShape) -> Vec<u128> {
        let inputs = self.flat_inputs(shape).unwrap_or(0);
        std::iter::once(inputs)
            .chain(self.hidden.iter().map(|&h| u128::from(h)))
            .chain([self.classes as u128])
            .collect()
    }

    /// Each conv as (input channels, output channels, output height, output width).
    fn convs(&self, shape: ImageShape) -> Vec<(u128, u128, u128, u128)> {
        if self.kind != ModelKind::Cnn {
            return Vec::new();
        }
        let Ok(maps) = self.feature_maps(shape) else { return Vec::new() };
        let (k, p) = (self.kernel_size as usize, self.pad());
        let (mut c, mut h, mut w) = (shape.channels, shape.height, shape.width);
        let mut out = Vec::new();
        for &(channels, next_h, next_w) in &maps {
            out.push((c as u128, channels as u128, (h + 2 * p + 1 - k) as u128, (w + 2 * p + 1 - k) as u128));
            (c, h, w) = (channels, next_h, next_w);
        }
        out
    }
}

/// A conv block with no room: the map it gets, what its conv leaves (under 2x2: nothing for the
/// 2x2 max pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// From 1.
    pub block: usize,
    pub input: (usize, usize),
    pub output: (usize, usize),
    pub kernel: usize,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let TooDeep { block, input: (h, w), output: (oh, ow), kernel: k } = *self;
        write!(f, "conv block {block} gets a {h}x{w} feature map")?;
        if oh == 0 || ow == 0 {
            write!(f, ", smaller than its {k}x{k} kernel")
        } else {
            write!(f, ", and its {k}x{k} conv leaves {oh}x{ow}, too small for the 2x2 max pool")
        }
    }
}

/// A conv's zero padding: none (`0`, "valid") or enough to keep the image's size (`"same"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    #[default]
    Valid,
    Same,
}

impl serde::Serialize for Padding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Padding::Valid => s.serialize_u32(0),
            Padding::Same => s.serialize_str("same"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Padding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Padding, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Padding;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("0 or \"same\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Padding, E> {
                match v {
                    0 => Ok(Padding::Valid),
                    _ => Err(E::custom(format!("padding takes 0 or \"same\", found {v}"))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Padding, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Padding, E> {
                match v {
                    "same" => Ok(Padding::Same),
                    "valid" => Ok(Padding::Valid),
                    _ => Err(E::custom(format!("padding takes 0 or \"same\", found \"{v}\""))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl std::fmt::Display for Padding {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Padding::Valid => "0",
            Padding::Same => "same",
        })
    }
}

/// The largest model a spec may ask for: 10^9 parameters are 4 GB of f32 weights, and training
/// needs 3-4 times that (gradients, optimizer state). Larger ones are refused at validation.
pub const MAX_PARAMETERS: u128 = 1_000_000_000;

/// How many parameters `architecture` has on images of `shape`, as PyTorch counts them (batch
/// norm's gamma and beta; its running statistics are buffers). No tensors made: spec validation
/// uses it, so it must agree with `Model::new`, which the tests check.
pub fn parameter_count(architecture: &Architecture, shape: ImageShape) -> u128 {
    let k2 = u128::from(architecture.kernel_size).pow(2);
    let norm = |features: u128| if architecture.batch_norm { 2 * features } else { 0 };
    let convs: u128 = architecture.convs(shape).iter().map(|&(c, out, _, _)| c * k2 * out + out + norm(out)).sum();
    let sizes = architecture.dense_sizes(shape);
    let last = sizes.len() - 2;
    let dense: u128 =
        sizes.windows(2).enumerate().map(|(i, w)| w[0] * w[1] + w[1] + if i < last { norm(w[1]) } else { 0 }).sum();
    convs + dense
}

/// Multiply-accumulates of the conv and linear layers in one forward pass of one image, the
/// figure fvcore's `FlopCountAnalysis` reports for them (it counts a MAC as one "flop"; biases,
/// activations, pooling are not counted; fvcore adds batch norm's, which this leaves out).
pub fn macs(architecture: &Architecture, shape: ImageShape) -> u128 {
    let k2 = u128::from(architecture.kernel_size).pow(2);
    let convs: u128 = architecture.convs(shape).iter().map(|&(c, out, h, w)| h * w * out * c * k2).sum();
    convs + architecture.dense_sizes(shape).windows(2).map(|w| w[0] * w[1]).sum::<u128>()
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
            ModelKind::Nn => Model::Nn(Mlp::new(architecture, shape.pixels(), device)),
            ModelKind::Cnn => Model::Cnn(Cnn::new(architecture, shape, device)?),
        })
    }

    /// Logits `[batch, classes]` for images `[batch, channels, height, width]`.
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
        [ImageShape { channels: 1, height: 28, width: 28 }, ImageShape { channels: 3, height: 32, width: 32 }]
    }

    #[test]
    fn both_models_give_ten_logits_on_both_input_sizes() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        for model in [ModelKind::Nn, ModelKind::Cnn] {
            for shape in shapes() {
                let spec = Spec { model, ..Spec::default() };
                let net = Model::new(&spec.architecture(10), shape, &device).unwrap();
                let x = Tensor::<4>::zeros([3, shape.channels, shape.height, shape.width], &device);
                assert_eq!(net.forward(x).dims(), [3, 10], "{model} on {shape:?}");
            }
        }
    }

    #[test]
    fn parameter_counts_match_the_pytorch_reference() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        let [mnist, cifar] = shapes();
        let count = |model, shape| {
            Model::new(&Spec { model, ..Spec::default() }.architecture(10), shape, &device).unwrap().num_params()
        };
        // torch: sum(p.numel() for p in model.parameters())
        assert_eq!(count(ModelKind::Nn, mnist), 784 * 128 + 128 + 128 * 10 + 10);
        let convs = (9 * 32 + 32) + (32 * 9 * 64 + 64);
        assert_eq!(count(ModelKind::Cnn, mnist), convs + 1600 * 128 + 128 + 1290);
        assert_eq!(count(ModelKind::Cnn, cifar), (3 * 9 * 32 + 32) + 32 * 64 * 9 + 64 + 2304 * 128 + 128 + 1290);
        let logistic = Spec { model: ModelKind::Nn, hidden: vec![], dataset: DatasetName::Cifar10, ..Spec::default() };
        assert_eq!(Model::new(&logistic.architecture(10), cifar, &device).unwrap().num_params(), 3072 * 10 + 10);
    }

    #[test]
    fn macs_match_fvcore() {
        let [mnist, cifar] = shapes();
        let macs = |model, hidden: Vec<u32>, shape| macs(&Architecture { hidden, ..Architecture::seed(model) }, shape);
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
        let seed = Architecture::seed(ModelKind::Cnn);
        let cnns = [
            Architecture {
                conv_channels: vec![16, 32],
                kernel_size: 5,
                padding: Padding::Same,
                batch_norm: true,
                ..seed.clone()
            },
            Architecture { conv_channels: vec![8], kernel_size: 7, ..seed.clone() },
            Architecture { conv_channels: vec![4, 6, 5], kernel_size: 1, batch_norm: true, ..seed },
        ];
        for shape in shapes() {
            let mut architectures: Vec<Architecture> = cnns.to_vec();
            for hidden in hiddens {
                for model in [ModelKind::Nn, ModelKind::Cnn] {
                    for batch_norm in [false, true] {
                        architectures.push(Architecture {
                            hidden: hidden.to_vec(),
                            batch_norm,
                            ..Architecture::seed(model)
                        });
                    }
                }
            }
            for architecture in architectures {
                let net = Model::new(&architecture, shape, &device).unwrap();
                // Burn counts batch norm's running mean and variance too; PyTorch calls them buffers.
                let norms: usize = match &net {
                    Model::Nn(_) => architecture.hidden.iter().map(|&h| h as usize).sum::<usize>(),
                    Model::Cnn(_) => architecture
                        .hidden
                        .iter()
                        .chain(&architecture.conv_channels)
                        .map(|&h| h as usize)
                        .sum::<usize>(),
                } * if architecture.batch_norm { 2 } else { 0 };
                let built = (net.num_params() - norms) as u128;
                assert_eq!(parameter_count(&architecture, shape), built, "{architecture:?} {shape:?}");
            }
        }
    }

    #[test]
    fn macs_of_other_architectures_match_fvcore() {
        // fvcore's FlopCountAnalysis of the same PyTorch modules (model.py of `runner export`),
        // batch norm left out: scripts/check_costs.py prints these.
        let mnist = shapes()[0];
        let seed = Architecture::seed(ModelKind::Cnn);
        let wide = Architecture { conv_channels: vec![64, 128], ..seed.clone() };
        let same5 = Architecture { kernel_size: 5, padding: Padding::Same, ..seed };
        // FlopCountAnalysis(...).total() with torch 2.15, fvcore 0.1.5.post20221221.
        assert_eq!(macs(&wide, mnist), 9_721_344);
        assert_eq!(macs(&same5, mnist), 11_065_088);
    }

    #[test]
    fn cnn_refuses_images_too_small_for_two_pools() {
        let _rng = crate::burn_rng_lock();
        let spec = Spec::default();
        let tiny = ImageShape { channels: 1, height: 8, width: 8 };
        let err = Model::new(&spec.architecture(10), tiny, &Device::flex()).unwrap_err().to_string();
        assert!(
            err.contains(
                "this CNN does not fit 8x8 images: conv block 2 gets a 3x3 feature map, and its 3x3 conv leaves 1x1"
            ),
            "{err}"
        );
    }
}
