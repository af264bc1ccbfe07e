//! Times each layer of the seed CNN on the CPU backend (flex), batch 100, the way Burn computes
//! it and the way `model::cnn` does on flex (`runner::model::cpu_kernels`): forward alone and
//! forward + backward. Evidence for the formulations the model picks:
//!
//!     cargo run --release --example conv_ops

use std::time::Instant;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use runner::model::cpu_kernels::{conv2d, relu_max_pool2x2};

const BATCH: usize = 100;
const ROUNDS: usize = 15;

/// Median milliseconds of `f`, after 3 warm-up calls.
fn time(f: impl Fn()) -> f64 {
    let mut ms: Vec<f64> = (0..ROUNDS + 3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(3)
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// Milliseconds of `layer`'s forward pass, and of forward + backward (input and parameters).
fn forward_backward(layer: impl Fn(Tensor<4>) -> Tensor<4>, x: &Tensor<4>) -> (f64, f64) {
    let forward = time(|| {
        let _ = layer(x.clone()).into_data();
    });
    let r = Tensor::<4>::random(layer(x.clone()).dims(), Distribution::Normal(0.0, 1.0), &x.device());
    let both = time(|| {
        let _ = (layer(x.clone()) * r.clone()).sum().backward();
    });
    (forward, both)
}

fn main() {
    // As a run trains (`backend::run_on`): on a thread of the pool Burn's CPU kernels use.
    rayon::ThreadPoolBuilder::new().build().unwrap().install(run);
}

fn run() {
    let device = Device::flex().autodiff();
    let random = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
    println!(
        "| layer | Burn forward (ms) | Burn fwd+bwd (ms) | runner forward (ms) | runner fwd+bwd (ms) |\n|---|---|---|---|---|"
    );
    let row = |name: &str, (burn_f, burn_b): (f64, f64), (ours_f, ours_b): (f64, f64)| {
        println!("| {name} | {burn_f:.2} | {burn_b:.2} | {ours_f:.2} | {ours_b:.2} |");
    };
    // (name, input channels, input side, output channels)
    for (name, c_in, side, c_out) in
        [("conv1 MNIST", 1, 28, 32), ("conv1 CIFAR", 3, 32, 32), ("conv2 MNIST", 32, 13, 64)]
    {
        let conv: Conv2d = Conv2dConfig::new([c_in, c_out], [3, 3]).init(&device);
        let x = random([BATCH, c_in, side, side]);
        row(name, forward_backward(|x| conv.forward(x), &x), forward_backward(|x| conv2d(x, &conv, 0), &x));
    }
    for (name, channels, side) in [("relu + max pool, conv1 MNIST", 32, 26), ("relu + max pool, conv2 MNIST", 64, 11)] {
        let pool = MaxPool2dConfig::new([2, 2]).init();
        let x = random([BATCH, channels, side, side]);
        row(
            name,
            forward_backward(|x| pool.forward(burn::tensor::activation::relu(x)), &x),
            forward_backward(relu_max_pool2x2, &x),
        );
    }
    println!("\nWhat decides is a whole train step: `runner bench`.");
}
