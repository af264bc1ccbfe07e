use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::CLASSES;
use super::cpu_kernels::{self, conv3x3, relu_max_pool2x2};
use crate::catalog::ImageShape;
use crate::error::Error;

/// The seed's CNN: Conv(c,32,3) -> ReLU -> MaxPool2 -> Conv(32,64,3) -> ReLU -> MaxPool2 ->
/// flatten -> Linear(64*h'*w', 128) -> ReLU -> Linear(128, 10). h' is 5 for 28x28, 6 for 32x32.
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    activation: Relu,
    /// Use this crate's CPU kernels (see `forward`): set when the device is Burn flex or ndarray.
    #[module(skip)]
    cpu_kernels: bool,
}

/// The smallest image side with a pixel left after both convolutions and pools.
const MIN_SIDE: usize = 10;

/// Side after a valid 3x3 conv and a 2x2 max pool (floor), twice.
pub(super) fn flat_side(side: usize) -> usize {
    ((side - 2) / 2 - 2) / 2
}

impl Cnn {
    /// The weights are the same whichever kernels [`Cnn::forward`] uses on `device`.
    pub fn new(shape: ImageShape, device: &Device) -> Result<Cnn, Error> {
        if shape.height < MIN_SIDE || shape.width < MIN_SIDE {
            let (height, width) = (shape.height, shape.width);
            return Err(Error::ImageTooSmall { model: "cnn", min: MIN_SIDE, height, width });
        }
        let flat = 64 * flat_side(shape.height) * flat_side(shape.width);
        Ok(Cnn {
            conv1: Conv2dConfig::new([shape.channels, 32], [3, 3]).init(device),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(flat, 128).init(device),
            fc2: LinearConfig::new(128, CLASSES).init(device),
            activation: Relu::new(),
            cpu_kernels: cpu_kernels::supports(device),
        })
    }

    /// The seed's CNN. On the CPU backends (Burn flex and ndarray) the convolutions and ReLU +
    /// max pool run as this crate's kernels ([`super::cpu_kernels`]: measured faster than the
    /// backends' own); the tests check both paths compute the same function with the same
    /// gradients.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = if self.cpu_kernels {
            let x = relu_max_pool2x2(conv3x3(images, &self.conv1));
            relu_max_pool2x2(conv3x3(x, &self.conv2))
        } else {
            let x = self.pool.forward(self.activation.forward(self.conv1.forward(images)));
            self.pool.forward(self.activation.forward(self.conv2.forward(x)))
        };
        let x = self.activation.forward(self.fc1.forward(x.flatten::<2>(1, 3)));
        self.fc2.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::cpu_kernels::test_devices;

    #[test]
    fn the_cpu_kernels_compute_the_reference_function() {
        let _rng = crate::burn_rng_lock();
        let shapes = [ImageShape { channels: 1, height: 28, width: 28 }, ImageShape { channels: 3, height: 32, width: 32 }];
        for device in test_devices() {
            for shape in shapes {
                let cnn = Cnn::new(shape, &device).unwrap();
                let reference = Cnn { cpu_kernels: false, ..cnn.clone() };
                let x = Tensor::<4>::random([4, shape.channels, shape.height, shape.width], Distribution::Normal(0.0, 1.0), &device);
                let diff = (reference.forward(x.clone()) - cnn.forward(x)).abs().max().into_scalar::<f32>();
                assert!(diff < 1e-4, "{shape:?} on {device:?}: max difference {diff}");
            }
        }
    }

    #[test]
    fn the_cpu_kernels_have_the_reference_gradients() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices().map(|d| d.autodiff()) {
            assert_reference_gradients(&device);
        }
    }

    fn assert_reference_gradients(device: &Device) {
        let device = device.clone();
        let shape = ImageShape { channels: 3, height: 32, width: 32 };
        let cnn = Cnn::new(shape, &device).unwrap();
        let reference = Cnn { cpu_kernels: false, ..cnn.clone() };
        let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let r = Tensor::<2>::random([4, 10], Distribution::Normal(0.0, 1.0), &device);
        let grads = |net: &Cnn| {
            let grads = (net.forward(x.clone()) * r.clone()).sum().backward();
            let bias = net.conv1.bias.as_ref().unwrap().val().grad(&grads).unwrap().unsqueeze::<4>();
            let bias2 = net.conv2.bias.as_ref().unwrap().val().grad(&grads).unwrap().unsqueeze::<4>();
            [net.conv1.weight.val().grad(&grads).unwrap(), bias, net.conv2.weight.val().grad(&grads).unwrap(), bias2]
        };
        for (e, g) in grads(&reference).iter().zip(grads(&cnn)) {
            let diff = (e.clone() - g).abs().max().into_scalar::<f32>();
            let scale = e.clone().abs().max().into_scalar::<f32>();
            assert!(diff < 1e-4 * scale.max(1.0), "{device:?}: max gradient difference {diff} (largest gradient {scale})");
        }
    }

    #[test]
    fn the_cpu_devices_use_the_cpu_kernels() {
        let shape = ImageShape { channels: 1, height: 28, width: 28 };
        let [flex, ndarray] = test_devices();
        for device in [flex.clone(), flex.autodiff(), ndarray.clone(), ndarray.autodiff()] {
            assert!(Cnn::new(shape, &device).unwrap().cpu_kernels, "{device:?}");
        }
    }

    #[test]
    fn flatten_sizes_match_the_seed() {
        assert_eq!(64 * super::flat_side(28).pow(2), 64 * 5 * 5);
        assert_eq!(64 * super::flat_side(32).pow(2), 64 * 6 * 6);
    }
}
