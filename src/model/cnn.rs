use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::CLASSES;
use super::flex_kernels::{conv3x3, relu_max_pool2x2};
use crate::data::ImageShape;

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
    /// Use this crate's CPU formulations (see `forward`): set when the device is Burn flex.
    #[module(skip)]
    flex_kernels: bool,
}

/// Side after a valid 3x3 conv and a 2x2 max pool (floor), twice.
pub(super) fn flat_side(side: usize) -> usize {
    ((side - 2) / 2 - 2) / 2
}

impl Cnn {
    /// The weights are the same whichever kernels [`Cnn::forward`] uses on `device`.
    pub fn new(shape: ImageShape, device: &Device) -> Result<Cnn, String> {
        if shape.height < 10 || shape.width < 10 {
            return Err(format!("the cnn needs images of at least 10x10, got {}x{}", shape.height, shape.width));
        }
        let flat = 64 * flat_side(shape.height) * flat_side(shape.width);
        Ok(Cnn {
            conv1: Conv2dConfig::new([shape.channels, 32], [3, 3]).init(device),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(flat, 128).init(device),
            fc2: LinearConfig::new(128, CLASSES).init(device),
            activation: Relu::new(),
            flex_kernels: device.clone().inner() == Device::flex(),
        })
    }

    /// The seed's CNN. On Burn flex (the CPU backend) the convolutions and ReLU + max pool run
    /// as this crate's kernels ([`super::flex_kernels`]: measured faster than flex's own); the
    /// tests check both paths compute the same function with the same gradients.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = if self.flex_kernels {
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

    #[test]
    fn the_flex_kernels_compute_the_reference_function() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        for shape in [ImageShape { channels: 1, height: 28, width: 28 }, ImageShape { channels: 3, height: 32, width: 32 }] {
            let cnn = Cnn::new(shape, &device).unwrap();
            let reference = Cnn { flex_kernels: false, ..cnn.clone() };
            let x = Tensor::<4>::random([4, shape.channels, shape.height, shape.width], Distribution::Normal(0.0, 1.0), &device);
            let diff = (reference.forward(x.clone()) - cnn.forward(x)).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-4, "{shape:?}: max difference {diff}");
        }
    }

    #[test]
    fn the_flex_kernels_have_the_reference_gradients() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex().autodiff();
        let shape = ImageShape { channels: 3, height: 32, width: 32 };
        let cnn = Cnn::new(shape, &device).unwrap();
        let reference = Cnn { flex_kernels: false, ..cnn.clone() };
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
            assert!(diff < 1e-4 * scale.max(1.0), "max gradient difference {diff} (largest gradient {scale})");
        }
    }

    #[test]
    fn only_flex_devices_use_the_flex_kernels() {
        let shape = ImageShape { channels: 1, height: 28, width: 28 };
        #[allow(deprecated)]
        let ndarray = Device::ndarray();
        for (device, expected) in [(Device::flex(), true), (Device::flex().autodiff(), true), (ndarray.autodiff(), false)] {
            assert_eq!(Cnn::new(shape, &device).unwrap().flex_kernels, expected, "{device:?}");
        }
    }

    #[test]
    fn flatten_sizes_match_the_seed() {
        assert_eq!(64 * super::flat_side(28).pow(2), 64 * 5 * 5);
        assert_eq!(64 * super::flat_side(32).pow(2), 64 * 6 * 6);
    }
}
