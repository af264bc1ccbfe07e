//! Times the seed CNN's convolutions on the CPU backend, each pass alone, the way Burn computes
//! them (direct convolution; input gradient as a transposed convolution; weight gradient as a
//! convolution of the swapped input and output gradient) and as matrix products over 3x3
//! patches. Evidence for the formulation `model::cnn` picks:
//!
//!     cargo run --release --example conv_ops

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

const BATCH: usize = 100;
const ROUNDS: usize = 15;

/// Median milliseconds of `f`, after 3 warm-up calls.
fn time<const D: usize>(f: impl Fn() -> Tensor<D>) -> f64 {
    let mut ms: Vec<f64> = (0..ROUNDS + 3)
        .map(|_| {
            let t = Instant::now();
            let _ = f().into_data();
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(3)
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn main() {
    // As a run trains: on a thread of the pool Burn's CPU kernels use.
    rayon::ThreadPoolBuilder::new().build().unwrap().install(run);
}

fn run() {
    let device = Device::flex();
    let random = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let valid = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    println!("| layer | pass | Burn convolution (ms) | patch product (ms) |\n|---|---|---|---|");
    // (name, input channels, input side, output channels)
    for (name, c_in, side, c_out) in [("conv1 MNIST", 1, 28, 32), ("conv1 CIFAR", 3, 32, 32), ("conv2 MNIST", 32, 13, 64)] {
        let out = side - 2;
        let x = random([BATCH, c_in, side, side]);
        let w = random([c_out, c_in, 3, 3]);
        let dy = random([BATCH, c_out, out, out]);
        let forward = time(|| conv2d(x.clone(), w.clone(), None, valid.clone()));
        let x_grad =
            time(|| conv_transpose2d(dy.clone(), w.clone(), None, ConvTransposeOptions::new([1, 1], [0, 0], [0, 0], [1, 1], 1)));
        let w_grad = time(|| conv2d(x.clone().swap_dims(0, 1), dy.clone().swap_dims(0, 1), None, valid.clone()).swap_dims(0, 1));

        // The same three passes as products: patches [9c, batch*out*out] in a [c, batch, h, w] layout.
        let xc = x.clone().swap_dims(0, 1);
        let patches = || {
            let slices = (0..9).map(|k| xc.clone().slice([0..c_in, 0..BATCH, k / 3..k / 3 + out, k % 3..k % 3 + out])).collect();
            Tensor::cat(slices, 0).reshape([9 * c_in, BATCH * out * out])
        };
        let p = patches();
        let wm = w.clone().permute([0, 2, 3, 1]).reshape([c_out, 9 * c_in]);
        let dym = dy.clone().swap_dims(0, 1).reshape([c_out, BATCH * out * out]);
        let forward_p = time(|| wm.clone().matmul(patches()));
        let x_grad_p = time(|| wm.clone().transpose().matmul(dym.clone()));
        let w_grad_p = time(|| dym.clone().matmul(p.clone().transpose()));
        for (pass, burn, product) in [("forward", forward, forward_p), ("input gradient", x_grad, x_grad_p), ("weight gradient", w_grad, w_grad_p)] {
            println!("| {name} | {pass} | {burn:.2} | {product:.2} |");
        }
    }
    println!("\nThe patch product's input gradient omits folding the patches back (col2im); conv1 needs none.");
    println!("What decides is a whole train step: `runner bench` (conv1 as the product since this was measured).");
}
