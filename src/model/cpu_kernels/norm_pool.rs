//! [`super::batch_norm_relu_max_pool2x2`]: batch norm, ReLU and a 2x2 max pool in one pass over
//! a convolution's output, and one pass back. One after the other, the three wrote the batch's
//! full-size normalized values and read them back, and backward did the same with their
//! gradient (mostly zeros: only each window's winner gets one). [`BatchNormOp`] is the backward
//! of both: batch norm alone ([`super::norm`]) and with the pool.

use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;
use rayon::prelude::*;

use super::norm::{Saved, norm_backward};
use super::pool::{CUT, Winners, pool_plane, pooled_outputs};
use super::uninit::written;
use super::{HostBackend, dims4};

/// Accumulators of the gradient sums over the winners (as [`super::norm`]'s sums have).
const LANES: usize = 4;

#[derive(Debug)]
pub(super) struct BatchNormOp;

impl<B: HostBackend> Backward<B, 3> for BatchNormOp {
    /// Batch norm's state, and the pool's winners when the op also pooled
    /// ([`norm_pool_forward`]): then the gradient comes from the pooled values.
    type State = (Saved<B>, Option<Winners>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_parent, gamma_parent, beta_parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_grad, gamma_grad, beta_grad) = match &ops.state {
            (saved, Some(winners)) => norm_pool_backward::<B>(saved, winners, &grad),
            (saved, None) => norm_backward::<B>(saved, &grad),
        };
        for (parent, grad) in [(x_parent, x_grad), (gamma_parent, gamma_grad), (beta_parent, beta_grad)] {
            if let Some(parent) = parent {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// Batch norm of `x` `[n, c, h, w]` with `stats` (means then variances, `[2, c]`), then ReLU and
/// a 2x2 max pool -> `[n, c, h/2, w/2]`: each plane is normalized into a buffer that stays in
/// cache and pooled from there. The same values as [`super::norm::norm_forward`] then
/// [`super::pool::pool_forward`]; what backward needs, and the winners when `keep_winners`.
pub(super) fn norm_pool_forward<B: HostBackend>(
    x: FloatTensor<B>,
    gamma: &FloatTensor<B>,
    beta: &FloatTensor<B>,
    stats: &FloatTensor<B>,
    epsilon: f64,
    keep_winners: bool,
) -> (FloatTensor<B>, Saved<B>, Winners) {
    let [n, c, h, w] = dims4::<B>(&x);
    let saved = Saved::new(x, gamma, stats, epsilon);
    let beta = B::f32_values(beta);
    let values = B::f32_values(&saved.x);
    let q = (h / 2) * (w / 2);
    let plane = |normalized: &mut Vec<f32>, p: usize, out: &mut [f32], win: Option<&mut [u8]>| {
        let (scale, shift) = saved.affine(p % c, beta[p % c]);
        normalized.clear();
        normalized.extend(values[p * h * w..][..h * w].iter().map(|&v| v * scale + shift));
        pool_plane(normalized, w, out, win);
    };
    let (pooled, winner) = pooled_outputs(n * c * q, q, keep_winners, Vec::new, plane);
    drop(values);
    let output = B::from_f32(pooled, vec![n, c, h / 2, w / 2]);
    (output, saved, Winners::new([n, c, h, w], winner))
}

/// The gradients of [`norm_pool_forward`] for x, gamma and beta from the pooled values' `grad`.
/// Batch norm's input gradient `dy` is the pooled gradient at each window's winner and 0
/// elsewhere, so its sums (`dbeta = sum(dy)`, `dgamma = sum(dy * xhat)`) run over the winners
/// only, and `dx = gamma * inv_std * (dy - dbeta / M - xhat * dgamma / M)` is written once.
fn norm_pool_backward<B: HostBackend>(
    saved: &Saved<B>,
    winners: &Winners,
    grad: &FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let [n, c, h, w] = winners.input_shape;
    let (ow, q) = (w / 2, (h / 2) * (w / 2));
    let (x, grad) = (B::f32_values(&saved.x), B::f32_values(grad));
    let winner = &winners.winner;
    // Where window `o`'s input `k` (0-3, row-major in the window) sits in its plane.
    let at = |o: usize, k: u8| (2 * (o / ow) + usize::from(k / 2)) * w + 2 * (o % ow) + usize::from(k % 2);
    let (beta_grad, gamma_grad): (Vec<f32>, Vec<f32>) = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mean, inv_std) = (saved.mean[ch], saved.inv_std[ch]);
            // Window o adds to lane o % LANES, in registers: a fixed count per step, no branch.
            let (mut sum, mut dot) = ([0f64; LANES], [0f64; LANES]);
            for p in (0..n).map(|i| i * c + ch) {
                let (x, grad, winner) = (&x[p * h * w..][..h * w], &grad[p * q..][..q], &winner[p * q..][..q]);
                let term = |o: usize| match winner[o] {
                    CUT => (0.0, 0.0),
                    k => (f64::from(grad[o]), f64::from(grad[o]) * f64::from((x[at(o, k)] - mean) * inv_std)),
                };
                for first in (0..q).step_by(LANES) {
                    for lane in 0..LANES.min(q - first) {
                        let (g, d) = term(first + lane);
                        sum[lane] += g;
                        dot[lane] += d;
                    }
                }
            }
            (sum.iter().sum::<f64>() as f32, dot.iter().sum::<f64>() as f32)
        })
        .unzip();
    let count = (n * h * w) as f32;
    let write = |_: &mut (), i: usize, out: &mut [MaybeUninit<f32>]| {
        for ch in 0..c {
            let p = i * c + ch;
            let (mean, inv_std) = (saved.mean[ch], saved.inv_std[ch]);
            let (scale, b, g) = (saved.gamma[ch] * inv_std, beta_grad[ch] / count, gamma_grad[ch] / count);
            let dx = |dy: f32, v: f32| scale * (dy - b - (v - mean) * inv_std * g);
            let (x, out) = (&x[p * h * w..][..h * w], &mut out[ch * h * w..][..h * w]);
            for (o, &v) in out.iter_mut().zip(x) {
                o.write(dx(0.0, v));
            }
            for (o, (&dy, &k)) in grad[p * q..][..q].iter().zip(&winner[p * q..][..q]).enumerate() {
                if k != CUT {
                    let j = at(o, k);
                    out[j].write(dx(dy, x[j]));
                }
            }
        }
    };
    // SAFETY: `write` sets each of its image's c * h * w values (the winners' twice).
    let x_grad = unsafe { written(x.len(), c * h * w, || (), write) };
    let shape = vec![n, c, h, w];
    (B::from_f32(x_grad, shape), B::from_f32(gamma_grad, vec![c]), B::from_f32(beta_grad, vec![c]))
}

#[cfg(test)]
mod tests {
    use burn::nn::pool::MaxPool2dConfig;
    use burn::nn::{BatchNorm, BatchNormConfig, Relu};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    use super::super::{batch_norm_relu_max_pool2x2, test_devices};

    fn reference(x: Tensor<4>, norm: &BatchNorm) -> Tensor<4> {
        MaxPool2dConfig::new([2, 2]).init().forward(Relu::new().forward(norm.forward(x)))
    }

    /// Against Burn's batch norm, ReLU and max pool: the output, the gradients for the input,
    /// gamma and beta, and the running statistics, on even and odd sides.
    #[test]
    fn matches_burns_batch_norm_relu_and_max_pool_with_their_gradients() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices().map(|d| d.autodiff()) {
            for shape in [[8, 5, 6, 6], [3, 4, 7, 9], [2, 3, 28, 28]] {
                let [n, c, h, w] = shape;
                let random = |mean, std| Tensor::<1>::random([c], Distribution::Normal(mean, std), &device);
                let norm = BatchNormConfig::new(c).init(&device);
                let norm = BatchNorm {
                    gamma: burn::module::Param::from_tensor(random(1.0, 0.5)),
                    beta: burn::module::Param::from_tensor(random(0.0, 0.5)),
                    ..norm
                };
                let ours = norm.clone();
                let x = Tensor::<4>::random(shape, Distribution::Normal(1.0, 2.0), &device).require_grad();
                let r = Tensor::<4>::random([n, c, h / 2, w / 2], Distribution::Normal(0.0, 1.0), &device);
                let run = |y: Tensor<4>, norm: &BatchNorm| {
                    let grads = (y.clone() * r.clone()).sum().backward();
                    [
                        y.flatten::<1>(0, 3),
                        x.grad(&grads).unwrap().flatten(0, 3),
                        norm.gamma.val().grad(&grads).unwrap(),
                        norm.beta.val().grad(&grads).unwrap(),
                    ]
                };
                let expected = run(reference(x.clone(), &norm), &norm);
                let got = run(batch_norm_relu_max_pool2x2(x.clone(), &ours), &ours);
                let stats = [norm.running_mean.value(), norm.running_var.value()];
                let our_stats = [ours.running_mean.value(), ours.running_var.value()];
                let names = ["output", "input gradient", "gamma gradient", "beta gradient", "mean", "variance"];
                for (name, (e, g)) in
                    names.into_iter().zip(expected.into_iter().chain(stats).zip(got.into_iter().chain(our_stats)))
                {
                    let scale = e.clone().abs().max().into_scalar::<f32>().max(1.0);
                    let diff = (e - g).abs().max().into_scalar::<f32>();
                    assert!(diff < 2e-5 * scale, "{name} of {shape:?} on {device:?}: max difference {diff}");
                }
            }
        }
    }

    #[test]
    fn gives_the_same_bits_whatever_the_thread_count() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices().map(|d| d.autodiff()) {
            let norm = BatchNormConfig::new(6).init(&device);
            let x = Tensor::<4>::random([10, 6, 9, 9], Distribution::Normal(1.0, 2.0), &device).require_grad();
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let y = batch_norm_relu_max_pool2x2(x.clone(), &norm);
                    let grads = y.clone().powi_scalar(2).sum().backward();
                    let gamma = norm.gamma.val().grad(&grads).unwrap();
                    [y.into_data(), x.grad(&grads).unwrap().into_data(), gamma.into_data()]
                })
            };
            let one = run(1);
            for threads in [2, 3] {
                assert_eq!(one, run(threads), "{threads} threads on {device:?}");
            }
        }
    }
}
