//! [`super::batch_norm_train`]: batch norm with the batch's own statistics, forward and backward,
//! channel by channel over contiguous rows. Burn's default (which flex uses) transposes the input
//! twice to reduce per channel and makes several full-size intermediate tensors; here each
//! channel's rows are read in place, two passes forward, two backward.

use burn::backend::tensor::FloatTensor;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::HostBackend;
use super::uninit::written;

/// What the backward pass needs: the input, gamma, and each channel's mean and 1/std.
#[derive(Clone, Debug)]
pub(super) struct Saved<B: HostBackend> {
    pub x: FloatTensor<B>,
    pub gamma: Vec<f32>,
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

impl<B: HostBackend> Saved<B> {
    /// Batch norm's state for `x` with `stats`, each channel's mean and variance (`[2, c]`).
    pub(super) fn new(x: FloatTensor<B>, gamma: &FloatTensor<B>, stats: &FloatTensor<B>, epsilon: f64) -> Saved<B> {
        let c = layout::<B>(&x).1;
        let stats = B::f32_values(stats);
        let (mean, var) = (stats[..c].to_vec(), &stats[c..]);
        let inv_std = var.iter().map(|&v| 1.0 / (f64::from(v) + epsilon).sqrt() as f32).collect();
        Saved { gamma: B::f32_values(gamma).into_owned(), mean, inv_std, x }
    }

    /// What channel `ch`'s values are multiplied by, then added to: `gamma * inv_std` and
    /// `beta - gamma * inv_std * mean`.
    pub(super) fn affine(&self, ch: usize, beta: f32) -> (f32, f32) {
        let scale = self.gamma[ch] * self.inv_std[ch];
        (scale, beta - scale * self.mean[ch])
    }
}

/// `[n, c, rest...]` as (n, c, the size of rest).
pub(super) fn layout<B: HostBackend>(x: &FloatTensor<B>) -> (usize, usize, usize) {
    let shape = B::shape(x);
    assert!(shape.len() >= 2, "batch norm takes [batch, channels, ...]");
    (shape[0], shape[1], shape[2..].iter().product())
}

/// Accumulators of [`lane_dot`]: enough independent additions in flight to fill the FPU.
const LANES: usize = 16;

/// The sum over `a` of `term(a[i])`, as [`lane_dot`] adds.
#[inline(always)]
fn lane_sum(a: &[f32], term: impl Fn(f32) -> f64) -> f64 {
    lane_dot(a, a, |x, _| term(x))
}

/// The sum over `a` and `b` (of one length) of `term(a[i], b[i])`, in f64: element `i` goes to
/// accumulator `i % LANES` (the tail to its own), then the accumulators are added in order. One
/// chain of dependent additions was the bottleneck of batch norm; this fixed order still gives
/// the same sum whatever the thread count.
#[inline(always)]
fn lane_dot(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f64) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut lanes = [0f64; LANES];
    let (chunks, rest) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = chunks.remainder().iter().zip(rest.remainder()).map(|(&x, &y)| term(x, y)).sum();
    for (x, y) in chunks.zip(rest) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += term(x, y);
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// Each channel's mean and biased variance (what Burn's `batch_norm_train` returns), summed in
/// a fixed order: the same whatever the thread count.
pub(super) fn channel_stats(x: &[f32], (n, c, hw): (usize, usize, usize)) -> (Vec<f32>, Vec<f32>) {
    let count = (n * hw) as f64;
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let rows = || (0..n).map(move |i| &x[(i * c + ch) * hw..][..hw]);
            let sum: f64 = rows().map(|r| lane_sum(r, f64::from)).sum();
            let mean = sum / count;
            let squares: f64 = rows().map(|r| lane_sum(r, |v| (f64::from(v) - mean).powi(2))).sum();
            (mean as f32, (squares / count) as f32)
        })
        .unzip()
}

/// `y = gamma * (x - mean) / sqrt(var + eps) + beta` per channel, `stats` holding the means and
/// variances (`[2, c]`), and what backward needs.
pub(super) fn norm_forward<B: HostBackend>(
    x: FloatTensor<B>,
    gamma: &FloatTensor<B>,
    beta: &FloatTensor<B>,
    stats: &FloatTensor<B>,
    epsilon: f64,
) -> (FloatTensor<B>, Saved<B>) {
    let shape = B::shape(&x);
    let (_, c, hw) = layout::<B>(&x);
    let saved = Saved::new(x, gamma, stats, epsilon);
    let beta = B::f32_values(beta);
    let values = B::f32_values(&saved.x);
    let write = |_: &mut (), i: usize, out: &mut [MaybeUninit<f32>]| {
        let input = &values[i * c * hw..][..c * hw];
        for ch in 0..c {
            let (scale, shift) = saved.affine(ch, beta[ch]);
            for (o, &v) in out[ch * hw..][..hw].iter_mut().zip(&input[ch * hw..][..hw]) {
                o.write(v * scale + shift);
            }
        }
    };
    // SAFETY: `write` sets each of its image's c * hw values.
    let y = unsafe { written(values.len(), c * hw, || (), write) };
    drop(values);
    (B::from_f32(y, shape), saved)
}

/// The gradients for x, gamma and beta: with `xhat = (x - mean) * inv_std` and M values per
/// channel, `dbeta = sum(dy)`, `dgamma = sum(dy * xhat)`,
/// `dx = gamma * inv_std * (dy - dbeta / M - xhat * dgamma / M)`.
pub(super) fn norm_backward<B: HostBackend>(
    saved: &Saved<B>,
    grad: &FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = B::shape(&saved.x);
    let (n, c, hw) = layout::<B>(&saved.x);
    let (x, dy) = (B::f32_values(&saved.x), B::f32_values(grad));
    let (mean, inv_std, gamma) = (&saved.mean, &saved.inv_std, &saved.gamma);
    let (beta_grad, gamma_grad): (Vec<f32>, Vec<f32>) = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mut sum, mut dot) = (0f64, 0f64);
            for i in 0..n {
                let at = (i * c + ch) * hw;
                let (dy, x) = (&dy[at..][..hw], &x[at..][..hw]);
                sum += lane_sum(dy, f64::from);
                dot += lane_dot(dy, x, |g, v| f64::from(g) * f64::from((v - mean[ch]) * inv_std[ch]));
            }
            (sum as f32, dot as f32)
        })
        .unzip();
    let count = (n * hw) as f32;
    let write = |_: &mut (), i: usize, out: &mut [MaybeUninit<f32>]| {
        let (x, dy) = (&x[i * c * hw..][..c * hw], &dy[i * c * hw..][..c * hw]);
        for ch in 0..c {
            let (scale, b, g) = (gamma[ch] * inv_std[ch], beta_grad[ch] / count, gamma_grad[ch] / count);
            let rows = out[ch * hw..][..hw].iter_mut().zip(x[ch * hw..][..hw].iter().zip(&dy[ch * hw..][..hw]));
            for (o, (&v, &d)) in rows {
                o.write(scale * (d - b - (v - mean[ch]) * inv_std[ch] * g));
            }
        }
    };
    // SAFETY: `write` sets each of its image's c * hw values.
    let dx = unsafe { written(x.len(), c * hw, || (), write) };
    (B::from_f32(dx, shape), B::from_f32(gamma_grad, vec![c]), B::from_f32(beta_grad, vec![c]))
}

#[cfg(test)]
mod tests {
    use burn::nn::BatchNormConfig;
    use burn::prelude::*;
    use burn::tensor::Distribution;

    use super::super::{batch_norm_train, test_devices};

    #[test]
    fn batch_norm_matches_burns_with_its_gradients_and_running_statistics() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices().map(|d| d.autodiff()) {
            for shape in [vec![8, 5, 6, 7], vec![3, 4, 1, 1], vec![16, 12]] {
                let channels = shape[1];
                let norm = BatchNormConfig::new(channels).init(&device);
                // Not the identity: gamma and beta of their own.
                let norm = burn::nn::BatchNorm {
                    gamma: burn::module::Param::from_tensor(Tensor::random(
                        [channels],
                        Distribution::Normal(1.0, 0.5),
                        &device,
                    )),
                    beta: burn::module::Param::from_tensor(Tensor::random(
                        [channels],
                        Distribution::Normal(0.0, 0.5),
                        &device,
                    )),
                    ..norm
                };
                let ours = norm.clone();
                let data =
                    Tensor::<1>::random([shape.iter().product::<usize>()], Distribution::Normal(2.0, 3.0), &device);
                let check = |expected: Tensor<1>, got: Tensor<1>, what: &str| {
                    let scale = expected.clone().abs().max().into_scalar::<f32>().max(1.0);
                    let diff = (expected - got).abs().max().into_scalar::<f32>();
                    assert!(diff < 2e-5 * scale, "{what} of {shape:?} on {device:?}: max difference {diff}");
                };
                macro_rules! case {
                    ($d:literal) => {{
                        let dims: [usize; $d] = shape.clone().try_into().unwrap();
                        let x = data.clone().reshape(dims).require_grad();
                        let r = Tensor::<$d>::random(dims, Distribution::Normal(0.0, 1.0), &device);
                        let (expected, got) = (norm.forward(x.clone()), batch_norm_train(x.clone(), &ours));
                        check(expected.clone().flatten(0, $d - 1), got.clone().flatten(0, $d - 1), "output");
                        let grads_of = |y: Tensor<$d>, net: &burn::nn::BatchNorm| {
                            let grads = (y * r.clone()).sum().backward();
                            [
                                x.grad(&grads).unwrap().flatten::<1>(0, $d - 1),
                                net.gamma.val().grad(&grads).unwrap(),
                                net.beta.val().grad(&grads).unwrap(),
                            ]
                        };
                        let (e, g) = (grads_of(expected, &norm), grads_of(got, &ours));
                        for (what, (e, g)) in
                            ["input gradient", "gamma gradient", "beta gradient"].into_iter().zip(e.into_iter().zip(g))
                        {
                            check(e, g, what);
                        }
                    }};
                }
                match shape.len() {
                    4 => case!(4),
                    _ => case!(2),
                }
                check(norm.running_mean.value(), ours.running_mean.value(), "running mean");
                check(norm.running_var.value(), ours.running_var.value(), "running variance");
            }
        }
    }

    #[test]
    fn channel_statistics_do_not_depend_on_the_thread_count() {
        let x: Vec<f32> = (0..37 * 9 * 25).map(|i| ((i * 7919) % 1000) as f32 / 100.0).collect();
        let stats = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| super::channel_stats(&x, (37, 9, 25)))
        };
        let one = stats(1);
        for threads in [2, 3, 5] {
            assert_eq!(one, stats(threads), "{threads} threads");
        }
    }
}
