use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Dropout, Linear, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::cpu_kernels::{self, batch_norm_relu_max_pool2x2, conv2d, conv2d_relu_max_pool2x2};
use super::{Architecture, dense};
use crate::catalog::ImageShape;
use crate::error::Error;

/// Per entry of `conv_channels` a block Conv(k, padding) -> [batch norm] -> ReLU -> MaxPool2,
/// then flatten and the dense layers of `hidden`. The seed's CNN: Conv(c,32,3) -> ReLU -> MaxPool2
/// -> Conv(32,64,3) -> ReLU -> MaxPool2 -> flatten -> Linear(64*h'*w', 128) -> ReLU ->
/// Linear(128, 10); h' is 5 for 28x28, 6 for 32x32.
#[derive(Module, Debug)]
pub struct Cnn {
    convs: Vec<Conv2d>,
    /// One per conv with `batch_norm`, else none.
    conv_norms: Vec<BatchNorm>,
    layers: Vec<Linear>,
    norms: Vec<BatchNorm>,
    dropout: Dropout,
    pool: MaxPool2d,
    activation: Relu,
    /// Use this crate's CPU kernels (see `forward`): set when the device is Burn flex or ndarray.
    #[module(skip)]
    cpu_kernels: bool,
    /// Zero padding on each side of each conv's input.
    #[module(skip)]
    pad: usize,
}

impl Cnn {
    /// The weights are the same whichever kernels [`Cnn::forward`] uses on `device`, and are
    /// drawn in the order of the layers (the seed's CNN: conv1, conv2, fc1, fc2).
    pub fn new(architecture: &Architecture, shape: ImageShape, device: &Device) -> Result<Cnn, Error> {
        let maps = architecture.feature_maps(shape).map_err(|too_deep| Error::ArchitectureTooDeep {
            too_deep: too_deep.to_string(),
            image: (shape.height, shape.width),
        })?;
        let k = architecture.kernel_size as usize;
        let pad = architecture.pad();
        let mut inputs = shape.channels;
        let mut convs = Vec::new();
        let mut conv_norms = Vec::new();
        for &(channels, _, _) in &maps {
            let padding = if pad == 0 { PaddingConfig2d::Valid } else { PaddingConfig2d::Explicit(pad, pad, pad, pad) };
            let config = Conv2dConfig::new([inputs, channels], [k, k]).with_padding(padding);
            convs.push(config.init(device));
            if architecture.batch_norm {
                conv_norms.push(dense::batch_norm(channels, device));
            }
            inputs = channels;
        }
        let flat = maps.last().map_or(shape.pixels(), |&(c, h, w)| c * h * w);
        let (layers, norms) = dense::layers(architecture, flat, device);
        Ok(Cnn {
            convs,
            conv_norms,
            layers,
            norms,
            dropout: dense::dropout(architecture),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            activation: Relu::new(),
            cpu_kernels: cpu_kernels::supports(device),
            pad,
        })
    }

    /// On the CPU backends (Burn flex and ndarray) the convolutions, their batch norms, ReLU +
    /// max pool and the dense layers run as this crate's kernels ([`super::cpu_kernels`]:
    /// measured faster than the backends' own); dropout is Burn's. The tests check both paths
    /// compute the same function with the same gradients.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for (i, conv) in self.convs.iter().enumerate() {
            if self.cpu_kernels {
                x = match self.conv_norms.get(i) {
                    // Nothing between the conv and its pool: one kernel, pooling each image in cache.
                    None => conv2d_relu_max_pool2x2(x, conv, self.pad),
                    // Batch norm, ReLU and pool in one kernel, each plane normalized in cache.
                    Some(norm) => batch_norm_relu_max_pool2x2(conv2d(x, conv, self.pad), norm),
                };
                continue;
            }
            x = conv.forward(x);
            if let Some(norm) = self.conv_norms.get(i) {
                x = norm.forward(x);
            }
            x = self.pool.forward(self.activation.forward(x));
        }
        let head = dense::Layers {
            layers: &self.layers,
            norms: &self.norms,
            dropout: &self.dropout,
            activation: &self.activation,
            cpu_kernels: self.cpu_kernels,
        };
        dense::forward(head, x.flatten::<2>(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::cpu_kernels::test_devices;
    use crate::model::{ModelKind, Padding};

    /// The seed's CNN and the shapes the architecture keys allow, each with an image shape it fits.
    fn architectures() -> Vec<(Architecture, ImageShape)> {
        let seed = Architecture::seed(ModelKind::Cnn);
        let mnist = ImageShape { channels: 1, height: 28, width: 28 };
        let cifar = ImageShape { channels: 3, height: 32, width: 32 };
        vec![
            (seed.clone(), mnist),
            (seed.clone(), cifar),
            (
                Architecture {
                    conv_channels: vec![16, 32],
                    kernel_size: 5,
                    padding: Padding::Same,
                    batch_norm: true,
                    dropout: 0.25,
                    hidden: vec![64],
                    ..seed.clone()
                },
                mnist,
            ),
            (Architecture { conv_channels: vec![8], kernel_size: 7, hidden: vec![], ..seed.clone() }, cifar),
            // 7x7 outputs of 72 channels: several images per product, with and without batch norm.
            (
                Architecture {
                    conv_channels: vec![4, 8, 72],
                    padding: Padding::Same,
                    hidden: vec![16],
                    ..seed.clone()
                },
                mnist,
            ),
            (
                Architecture {
                    conv_channels: vec![4, 8, 72],
                    padding: Padding::Same,
                    batch_norm: true,
                    hidden: vec![16],
                    ..seed.clone()
                },
                mnist,
            ),
            // Winograd's second convolutions (16 channels on both sides, "same"): F(4x4, 3x3)
            // pooled without batch norm, F(4x4, 5x5) with it.
            (Architecture { conv_channels: vec![16, 16], padding: Padding::Same, ..seed.clone() }, mnist),
            (
                Architecture {
                    conv_channels: vec![16, 20],
                    kernel_size: 5,
                    padding: Padding::Same,
                    batch_norm: true,
                    ..seed.clone()
                },
                cifar,
            ),
            (
                Architecture { conv_channels: vec![4, 6, 5], kernel_size: 1, ..seed.clone() },
                ImageShape { channels: 2, height: 11, width: 9 },
            ),
            (
                Architecture {
                    conv_channels: vec![6, 6],
                    kernel_size: 3,
                    padding: Padding::Same,
                    hidden: vec![20, 12],
                    batch_norm: true,
                    ..seed
                },
                cifar,
            ),
        ]
    }

    #[test]
    fn the_cpu_kernels_compute_the_reference_function() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices() {
            for (architecture, shape) in architectures() {
                let cnn = Cnn::new(&architecture, shape, &device).unwrap();
                let reference = Cnn { cpu_kernels: false, ..cnn.clone() };
                let x = Tensor::<4>::random(
                    [4, shape.channels, shape.height, shape.width],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                );
                let diff = (reference.forward(x.clone()) - cnn.forward(x)).abs().max().into_scalar::<f32>();
                assert!(diff < 1e-4, "{architecture:?} on {shape:?}, {device:?}: max difference {diff}");
            }
        }
    }

    #[test]
    fn the_cpu_kernels_have_the_reference_gradients() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices().map(|d| d.autodiff()) {
            for (architecture, shape) in architectures() {
                // Dropout draws differently on each pass; the kernels are what is compared here.
                let architecture = Architecture { dropout: 0.0, ..architecture };
                assert_reference_gradients(&architecture, shape, &device);
            }
        }
    }

    fn assert_reference_gradients(architecture: &Architecture, shape: ImageShape, device: &Device) {
        // Seeded: two pooled values a rounding apart may pick different winners in the two
        // convolutions' slightly different sums, sending a gradient elsewhere (one run in 40-80
        // failed unseeded). That is a tie, not a kernel error.
        device.seed(25);
        let cnn = Cnn::new(architecture, shape, device).unwrap();
        let reference = Cnn { cpu_kernels: false, ..cnn.clone() };
        let x =
            Tensor::<4>::random([4, shape.channels, shape.height, shape.width], Distribution::Normal(0.0, 1.0), device);
        let r = Tensor::<2>::random([4, 10], Distribution::Normal(0.0, 1.0), device);
        let grads = |net: &Cnn| {
            let grads = (net.forward(x.clone()) * r.clone()).sum().backward();
            let mut all = Vec::new();
            for conv in &net.convs {
                all.push(conv.weight.val().grad(&grads).unwrap());
                all.push(conv.bias.as_ref().unwrap().val().grad(&grads).unwrap().unsqueeze::<4>());
            }
            all
        };
        for (e, g) in grads(&reference).iter().zip(grads(&cnn)) {
            let diff = (e.clone() - g).abs().max().into_scalar::<f32>();
            let scale = e.clone().abs().max().into_scalar::<f32>();
            assert!(
                diff < 1e-4 * scale.max(1.0),
                "{architecture:?} on {device:?}: max gradient difference {diff} (largest gradient {scale})"
            );
        }
    }

    #[test]
    fn the_cpu_devices_use_the_cpu_kernels() {
        let shape = ImageShape { channels: 1, height: 28, width: 28 };
        let [flex, ndarray] = test_devices();
        for device in [flex.clone(), flex.autodiff(), ndarray.clone(), ndarray.autodiff()] {
            assert!(Cnn::new(&Architecture::seed(ModelKind::Cnn), shape, &device).unwrap().cpu_kernels, "{device:?}");
        }
    }

    #[test]
    fn feature_maps_match_the_seed_and_deep_stacks_are_refused_naming_the_block() {
        let seed = Architecture::seed(ModelKind::Cnn);
        let mnist = ImageShape { channels: 1, height: 28, width: 28 };
        let cifar = ImageShape { channels: 3, height: 32, width: 32 };
        assert_eq!(seed.feature_maps(mnist), Ok(vec![(32, 13, 13), (64, 5, 5)]), "flatten 64*5*5");
        assert_eq!(seed.feature_maps(cifar), Ok(vec![(32, 15, 15), (64, 6, 6)]), "flatten 64*6*6");
        let same = Architecture { kernel_size: 5, padding: Padding::Same, ..seed.clone() };
        assert_eq!(same.feature_maps(mnist), Ok(vec![(32, 14, 14), (64, 7, 7)]));
        let deep = Architecture { conv_channels: vec![8; 5], ..seed };
        // 28 -> conv 26 -> pool 13 -> 11 -> 5 -> 3 -> 1: block 4 has no room.
        let err = deep.feature_maps(mnist).unwrap_err();
        assert_eq!(err.to_string(), "conv block 4 gets a 1x1 feature map, smaller than its 3x3 kernel");
        let five = Architecture { kernel_size: 5, ..deep.clone() };
        assert_eq!(
            five.feature_maps(mnist).unwrap_err().to_string(),
            "conv block 3 gets a 4x4 feature map, smaller than its 5x5 kernel"
        );
        let err = Cnn::new(&deep, mnist, &Device::flex()).unwrap_err().to_string();
        assert!(err.starts_with("this CNN does not fit 28x28 images: conv block 4 gets a 1x1 feature map"), "{err}");
    }
}
