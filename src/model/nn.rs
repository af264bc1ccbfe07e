use burn::module::Module;
use burn::nn::{BatchNorm, Dropout, Linear, Relu};
use burn::prelude::*;

use super::{Architecture, cpu_kernels, dense};

/// flatten -> [Linear -> [batch norm] -> ReLU -> [dropout]] per hidden size -> Linear(.., 10).
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    /// One per hidden layer with `batch_norm`, else none.
    norms: Vec<BatchNorm>,
    dropout: Dropout,
    activation: Relu,
    /// Use this crate's CPU kernels: set when the device is Burn flex or ndarray.
    #[module(skip)]
    cpu_kernels: bool,
}

impl Mlp {
    pub fn new(architecture: &Architecture, inputs: usize, device: &Device) -> Mlp {
        let (layers, norms) = dense::layers(architecture, inputs, device);
        let cpu_kernels = cpu_kernels::supports(device);
        Mlp { layers, norms, dropout: dense::dropout(architecture), activation: Relu::new(), cpu_kernels }
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let net = dense::Layers {
            layers: &self.layers,
            norms: &self.norms,
            dropout: &self.dropout,
            activation: &self.activation,
            cpu_kernels: self.cpu_kernels,
        };
        dense::forward(net, images.flatten::<2>(1, 3))
    }
}

#[cfg(test)]
impl Mlp {
    /// The first layer's weight as Burn stores it ([inputs, outputs], row-major).
    pub fn first_weight(&self) -> Vec<f32> {
        self.layers[0].weight.val().into_data().try_to_vec::<f32>().unwrap()
    }
}
