use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use super::CLASSES;

/// flatten -> [Linear -> ReLU] per hidden size -> Linear(.., 10).
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Relu,
}

impl Mlp {
    pub fn new(inputs: usize, hidden: &[usize], device: &Device) -> Mlp {
        let sizes: Vec<usize> = std::iter::once(inputs).chain(hidden.iter().copied()).chain([CLASSES]).collect();
        let layers = sizes.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        Mlp { layers, activation: Relu::new() }
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images.flatten::<2>(1, 3);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.forward(x);
            }
        }
        x
    }
}

#[cfg(test)]
impl Mlp {
    /// The first layer's weight as Burn stores it ([inputs, outputs], row-major).
    pub fn first_weight(&self) -> Vec<f32> {
        self.layers[0].weight.val().into_data().try_to_vec::<f32>().unwrap()
    }
}
