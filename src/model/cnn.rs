use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::CLASSES;
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
}

/// Side after a valid 3x3 conv and a 2x2 max pool (floor), twice.
fn side_after_features(side: usize) -> usize {
    ((side - 2) / 2 - 2) / 2
}

impl Cnn {
    pub fn new(shape: ImageShape, device: &Device) -> Result<Cnn, String> {
        if shape.height < 10 || shape.width < 10 {
            return Err(format!("the cnn needs images of at least 10x10, got {}x{}", shape.height, shape.width));
        }
        let flat = 64 * side_after_features(shape.height) * side_after_features(shape.width);
        Ok(Cnn {
            conv1: Conv2dConfig::new([shape.channels, 32], [3, 3]).init(device),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(flat, 128).init(device),
            fc2: LinearConfig::new(128, CLASSES).init(device),
            activation: Relu::new(),
        })
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(self.activation.forward(self.conv1.forward(images)));
        let x = self.pool.forward(self.activation.forward(self.conv2.forward(x)));
        let x = self.activation.forward(self.fc1.forward(x.flatten::<2>(1, 3)));
        self.fc2.forward(x)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn flatten_sizes_match_the_seed() {
        assert_eq!(64 * super::side_after_features(28).pow(2), 64 * 5 * 5);
        assert_eq!(64 * super::side_after_features(32).pow(2), 64 * 6 * 6);
    }
}
