//! [`super::linear`]: a dense layer `x W + b`, with its ReLU when `relu`, and its backward.
//! It computes what Burn's `Linear` (then ReLU) computes, with the same bits on flex: the same
//! products (gemm, same operands and strides), the bias added to each product, Burn's own
//! reduction for the bias gradient. It differs in when the products use the pool's threads (see
//! [`super::gemm`]; flex wakes them from 192^3 multiply-adds, which made the NN's train step
//! slower on 2 cores than on 1), and ReLU runs in the same pass as the bias.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;
use burn::tensor::Shape;

use super::HostBackend;
use super::gemm::{Matrix, matmul_to_vec};

#[derive(Debug)]
pub(super) struct LinearOp;

/// What the backward pass needs: the input, the weight, and the output when ReLU was applied.
#[derive(Clone, Debug)]
pub(super) struct Saved<B: HostBackend> {
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    relu_output: Option<FloatTensor<B>>,
}

impl<B: HostBackend> Backward<B, 3> for LinearOp {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_parent, weight_parent, bias_parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let saved = ops.state;
        let grad = match &saved.relu_output {
            Some(output) => relu_backward::<B>(output, &grad),
            None => grad,
        };
        let [m, k] = dims2::<B>(&saved.x);
        let n = dims2::<B>(&saved.weight)[1];
        if let Some(parent) = x_parent {
            let (g, weight) = (B::f32_values(&grad), B::f32_values(&saved.weight));
            let weight_t = Matrix::row_major(&weight, k, n).transposed();
            let x_grad = matmul_to_vec(Matrix::row_major(&g, m, n), weight_t, true);
            grads.register::<B>(parent.id, B::from_f32(x_grad, vec![m, k]));
        }
        if let Some(parent) = weight_parent {
            let (g, x) = (B::f32_values(&grad), B::f32_values(&saved.x));
            let x_t = Matrix::row_major(&x, m, k).transposed();
            let weight_grad = matmul_to_vec(x_t, Matrix::row_major(&g, m, n), true);
            grads.register::<B>(parent.id, B::from_f32(weight_grad, vec![k, n]));
        }
        if let Some(parent) = bias_parent {
            // Burn's own reduction, as its Linear does: the same bits.
            let bias_grad = B::float_reshape(B::float_sum_dim(grad, 0), Shape::new([n]));
            grads.register::<B>(parent.id, bias_grad);
        }
    }
}

pub(super) fn dims2<B: HostBackend>(x: &FloatTensor<B>) -> [usize; 2] {
    let dims = B::shape(x);
    dims.try_into().unwrap_or_else(|dims: Vec<usize>| panic!("a dense layer takes 2-D tensors, got {dims:?}"))
}

/// `x W + b` (`x` `[m, k]`, `W` `[k, n]`, `b` `[n]`), then ReLU when `relu`; with what the
/// backward pass needs.
pub(super) fn linear_forward<B: HostBackend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: &FloatTensor<B>,
    relu: bool,
) -> (FloatTensor<B>, Saved<B>) {
    let [m, k] = dims2::<B>(&x);
    let n = dims2::<B>(&weight)[1];
    let y = {
        let (xs, ws, bs) = (B::f32_values(&x), B::f32_values(&weight), B::f32_values(bias));
        let mut y = matmul_to_vec(Matrix::row_major(&xs, m, k), Matrix::row_major(&ws, k, n), true);
        for row in y.chunks_exact_mut(n) {
            for (v, b) in row.iter_mut().zip(bs.iter()) {
                *v += b;
                if relu {
                    *v = relu_value(*v);
                }
            }
        }
        y
    };
    let y = B::from_f32(y, vec![m, n]);
    let relu_output = relu.then(|| y.clone());
    (y, Saved { x, weight, relu_output })
}

/// Burn's ReLU: NaN passes, as in PyTorch.
#[inline(always)]
fn relu_value(v: f32) -> f32 {
    if v.is_nan() || v > 0.0 { v } else { 0.0 }
}

/// Burn's ReLU gradient: kept where the output is positive or NaN, else 0.
fn relu_backward<B: HostBackend>(output: &FloatTensor<B>, grad: &FloatTensor<B>) -> FloatTensor<B> {
    let (out, g) = (B::f32_values(output), B::f32_values(grad));
    let masked = out.iter().zip(g.iter()).map(|(&o, &g)| if o.is_nan() || o > 0.0 { g } else { 0.0 }).collect();
    B::from_f32(masked, B::shape(grad))
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig, Relu};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    use super::super::{linear, test_devices};

    fn reference(x: Tensor<2>, layer: &Linear, relu: bool) -> Tensor<2> {
        let y = layer.forward(x);
        if relu { Relu::new().forward(y) } else { y }
    }

    /// The seed NN's and seed CNN's dense layers, a wide NN's, and odd sizes; with and without
    /// ReLU. On flex the kernel must give Burn's bits exactly (the shipped specs' metrics depend
    /// on it); on ndarray (whose matmul is not gemm) the same values to rounding.
    #[test]
    fn linear_matches_burn_linear_and_relu_with_their_gradients() {
        let _rng = crate::burn_rng_lock();
        let cases = [(100, 784, 128), (100, 128, 10), (100, 1600, 128), (100, 3072, 512), (7, 33, 5), (1, 20, 3)];
        for device in test_devices().map(|d| d.autodiff()) {
            let exact = device.clone().inner() == Device::flex();
            for (m, k, n) in cases {
                for relu in [true, false] {
                    let layer = LinearConfig::new(k, n).init(&device);
                    let x = Tensor::<2>::random([m, k], Distribution::Normal(0.0, 1.0), &device).require_grad();
                    let r = Tensor::<2>::random([m, n], Distribution::Normal(0.0, 1.0), &device);
                    let run = |y: Tensor<2>| {
                        let grads = (y.clone() * r.clone()).sum().backward();
                        let bias = layer.bias.as_ref().unwrap().val().grad(&grads).unwrap();
                        [y, x.grad(&grads).unwrap(), layer.weight.val().grad(&grads).unwrap(), bias.unsqueeze()]
                    };
                    let expected = run(reference(x.clone(), &layer, relu));
                    let got = run(linear(x.clone(), &layer, relu));
                    let case = format!("{m}x{k}x{n} relu {relu} on {device:?}");
                    for (name, e, g) in ["output", "input gradient", "weight gradient", "bias gradient"]
                        .into_iter()
                        .zip(expected)
                        .zip(got)
                        .map(|((n, e), g)| (n, e, g))
                    {
                        assert_eq!(e.dims(), g.dims(), "{name}, {case}");
                        if exact {
                            assert_eq!(e.into_data(), g.into_data(), "{name} bits, {case}");
                        } else {
                            let scale = e.clone().abs().max().into_scalar::<f32>();
                            let diff = (e - g).abs().max().into_scalar::<f32>();
                            // A one-row case can be all zeros after ReLU (so must ours be).
                            assert!(diff <= 1e-5 * scale, "{name}, {case}: {diff} of {scale}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn linear_gives_the_same_bits_whatever_the_thread_count() {
        let _rng = crate::burn_rng_lock();
        // The seed NN's first layer, the seed CNN's and a wide CIFAR-10 one: each forward product
        // split by columns, each weight gradient by rows.
        for (device, (k, n)) in test_devices()
            .into_iter()
            .flat_map(|d| [(784, 128), (1600, 128), (3072, 512)].map(|kn| (d.clone().autodiff(), kn)))
        {
            let layer = LinearConfig::new(k, n).init(&device);
            let x = Tensor::<2>::random([100, k], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let y = linear(x.clone(), &layer, true);
                    let grads = y.clone().powi_scalar(2).sum().backward();
                    (y.into_data(), layer.weight.val().grad(&grads).unwrap().into_data())
                })
            };
            let one = run(1);
            for threads in [2, 3] {
                assert_eq!(one, run(threads), "{k}x{n}, {threads} threads on {device:?}");
            }
        }
    }
}
