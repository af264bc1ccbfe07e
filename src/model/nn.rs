use burn::module::Module;
use burn::nn::{BatchNorm, Dropout, Linear, Relu};
use burn::prelude::*;

use super::{Architecture, dense};

/// flatten -> [Linear -> [batch norm] -> ReLU -> [dropout]] per hidden size -> Linear(.., 10).
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    /// One per hidden layer with `batch_norm`, else none.
    norms: Vec<BatchNorm>,
    dropout: Dropout,
    activation: Relu,
}

impl Mlp {
    pub fn new(architecture: &Architecture, inputs: usize, device: &Device) -> Mlp {
        let (layers, norms) = dense::layers(architecture, inputs, device);
        Mlp { layers, norms, dropout: dense::dropout(architecture), activation: Relu::new() }
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        dense::forward(&self.layers, &self.norms, &self.dropout, &self.activation, images.flatten::<2>(1, 3))
    }
}

#[cfg(test)]
impl Mlp {
    /// The first layer's weight as Burn stores it ([inputs, outputs], row-major).
    pub fn first_weight(&self) -> Vec<f32> {
        self.layers[0].weight.val().into_data().try_to_vec::<f32>().unwrap()
    }
}
