//! [`super::relu_max_pool2x2`]: ReLU + 2x2 max pool in one pass, and its backward.

use std::mem::MaybeUninit;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;
use rayon::prelude::*;

use super::uninit::{filled, written};
use super::{HostBackend, dims4};

/// Which input of each 2x2 window won: 0-3 (row-major in the window), or [`CUT`].
#[derive(Clone, Debug)]
pub(super) struct Winners {
    pub input_shape: [usize; 4],
    pub winner: Arc<Vec<u8>>,
}

/// The window's maximum was not positive: ReLU cut it, no gradient flows.
pub(super) const CUT: u8 = 4;

#[derive(Debug)]
pub(super) struct ReluMaxPool;

impl<B: HostBackend> Backward<B, 1> for ReluMaxPool {
    type State = Winners;

    fn backward(self, ops: Ops<Winners, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            grads.register::<B>(parent.id, pool_backward::<B>(grad, &ops.state));
        }
    }
}

pub(super) fn pool_forward<B: HostBackend>(x: FloatTensor<B>, keep_winners: bool) -> (FloatTensor<B>, Winners) {
    let [batch, channels, h, w] = dims4::<B>(&x);
    let input = B::f32_values(&x);
    let (oh, ow) = (h / 2, w / 2);
    let pool = |_: &mut (), p: usize, out: &mut [f32], win: Option<&mut [u8]>| {
        pool_plane(&input[p * h * w..][..h * w], w, out, win)
    };
    let (output, winner) = pooled_outputs(batch * channels * oh * ow, oh * ow, keep_winners, || (), pool);
    drop(input);
    let output = B::from_f32(output, vec![batch, channels, oh, ow]);
    (output, Winners::new([batch, channels, h, w], winner))
}

/// `len` pooled values in tasks of `chunk`, and their winners when `keep_winners` (else none):
/// `pool(state, i, out, win)` fills task `i`'s, `state` made once per thread task by `init`.
pub(super) fn pooled_outputs<S>(
    len: usize,
    chunk: usize,
    keep_winners: bool,
    init: impl Fn() -> S + Sync + Send,
    pool: impl Fn(&mut S, usize, &mut [f32], Option<&mut [u8]>) + Sync + Send,
) -> (Vec<f32>, Vec<u8>) {
    let mut output = vec![0f32; len];
    let mut winner = vec![CUT; if keep_winners { len } else { 0 }];
    let chunk = chunk.max(1);
    if keep_winners {
        let tasks = output.par_chunks_mut(chunk).zip(winner.par_chunks_mut(chunk)).enumerate();
        tasks.for_each_init(init, |state, (i, (out, win))| pool(state, i, out, Some(win)));
    } else {
        let tasks = output.par_chunks_mut(chunk).enumerate();
        tasks.for_each_init(init, |state, (i, out)| pool(state, i, out, None));
    }
    (output, winner)
}

impl Winners {
    /// `winner`: per output of a `[batch, channels, h, w]` input, which input won (or [`CUT`]).
    pub(super) fn new(input_shape: [usize; 4], winner: Vec<u8>) -> Winners {
        Winners { input_shape, winner: Arc::new(winner) }
    }
}

/// One `w`-wide plane -> `out` (`h/2 x w/2`), the ReLU of each 2x2 window's maximum, and `win`,
/// which input of each window won (or [`CUT`]).
pub(super) fn pool_plane(plane: &[f32], w: usize, out: &mut [f32], mut win: Option<&mut [u8]>) {
    let ow = w / 2;
    if ow == 0 {
        return;
    }
    for (oy, out) in out.chunks_exact_mut(ow).enumerate() {
        let pairs =
            plane[2 * oy * w..][..2 * ow].chunks_exact(2).zip(plane[(2 * oy + 1) * w..][..2 * ow].chunks_exact(2));
        for (ox, (top, bottom)) in pairs.enumerate() {
            let (best, k) = window_max(top[0], top[1], bottom[0], bottom[1]);
            let cut = best <= 0.0;
            out[ox] = if cut { 0.0 } else { best };
            if let Some(win) = win.as_deref_mut() {
                win[oy * ow + ox] = if cut { CUT } else { k };
            }
        }
    }
}

/// The maximum of a 2x2 window `[a b; c d]` and which input it is (0-3). Like Burn's and
/// PyTorch's max pool, the first maximum wins and a NaN wins.
#[inline(always)]
fn window_max(a: f32, b: f32, c: f32, d: f32) -> (f32, u8) {
    let (top, kt) = if b > a { (b, 1) } else { (a, 0) };
    let (bottom, kb) = if d > c { (d, 3) } else { (c, 2) };
    let (best, k) = if bottom > top { (bottom, kb) } else { (top, kt) };
    if a.is_nan() | b.is_nan() | c.is_nan() | d.is_nan() {
        let k = [a, b, c, d].iter().position(|v| v.is_nan()).unwrap_or(0) as u8;
        return (f32::NAN, k);
    }
    (best, k)
}

pub(super) fn pool_backward<B: HostBackend>(grad: FloatTensor<B>, winners: &Winners) -> FloatTensor<B> {
    let [batch, channels, h, w] = winners.input_shape;
    let (oh, ow) = (h / 2, w / 2);
    let grad = B::f32_values(&grad);
    // Each 2x2 window's four inputs get the output's gradient at the winner and 0 elsewhere; a
    // last odd row or column, in no window, gets 0.
    let write = |_: &mut (), p: usize, plane: &mut [MaybeUninit<f32>]| {
        let (grad, winner) = (&grad[p * oh * ow..][..oh * ow], &winners.winner[p * oh * ow..][..oh * ow]);
        let (windows, odd_row) = plane.split_at_mut(oh * 2 * w);
        for ((rows, winner), grad) in
            windows.chunks_exact_mut(2 * w).zip(winner.chunks_exact(ow)).zip(grad.chunks_exact(ow))
        {
            let (top, bottom) = rows.split_at_mut(w);
            let pairs = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
            for ((t, b), (&k, &g)) in pairs.zip(winner.iter().zip(grad)) {
                let at = |i: u8| if k == i { g } else { 0.0 };
                t[0].write(at(0));
                t[1].write(at(1));
                b[0].write(at(2));
                b[1].write(at(3));
            }
            if w % 2 == 1 {
                top[w - 1].write(0.0);
                bottom[w - 1].write(0.0);
            }
        }
        filled(odd_row, 0.0);
    };
    // SAFETY: `write` sets every value of its plane: the windows, then the odd row and column.
    let input_grad = unsafe { written(batch * channels * h * w, h * w, || (), write) };
    B::from_f32(input_grad, vec![batch, channels, h, w])
}

#[cfg(test)]
mod tests {
    use burn::nn::Relu;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::prelude::*;
    use burn::tensor::{Distribution, Int};

    use super::super::{max_diff, relu_max_pool2x2, test_devices};
    use super::window_max;

    fn reference(x: Tensor<4>) -> Tensor<4> {
        MaxPool2dConfig::new([2, 2]).init().forward(Relu::new().forward(x))
    }

    #[test]
    fn matches_relu_then_burn_max_pool_on_even_and_odd_sides() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices() {
            for shape in [[3, 4, 26, 26], [2, 5, 11, 11], [1, 2, 7, 4]] {
                let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
                let (expected, got) = (reference(x.clone()), relu_max_pool2x2(x));
                assert_eq!(expected.dims(), got.dims());
                assert_eq!(max_diff(expected, got), 0.0, "{shape:?} on {device:?}");
            }
        }
    }

    #[test]
    fn has_the_gradient_of_relu_then_burn_max_pool() {
        let _rng = crate::burn_rng_lock();
        let cases = [[3, 4, 26, 26], [2, 5, 11, 11]];
        for (device, shape) in test_devices().into_iter().flat_map(|d| cases.map(|shape| (d.clone().autodiff(), shape)))
        {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
            let [b, c, h, w] = shape;
            let r = Tensor::<4>::random([b, c, h / 2, w / 2], Distribution::Normal(0.0, 1.0), &device);
            let gradient = |y: Tensor<4>| {
                let grads = (y * r.clone()).sum().backward();
                x.grad(&grads).unwrap()
            };
            let (expected, got) = (gradient(reference(x.clone())), gradient(relu_max_pool2x2(x.clone())));
            assert!(expected.clone().abs().sum().into_scalar::<f32>() > 0.0);
            assert_eq!(max_diff(expected, got), 0.0, "{shape:?} on {device:?}");
        }
    }

    #[test]
    fn the_first_maximum_wins_and_nan_propagates() {
        assert_eq!(window_max(1.0, 1.0, 1.0, 1.0), (1.0, 0));
        assert_eq!(window_max(0.0, 2.0, 2.0, 1.0), (2.0, 1));
        assert_eq!(window_max(0.0, 1.0, 2.0, 2.0), (2.0, 2));
        assert_eq!(window_max(-3.0, -2.0, -4.0, -1.0), (-1.0, 3));
        let (value, k) = window_max(5.0, 1.0, f32::NAN, 9.0);
        assert!(value.is_nan() && k == 2);
    }

    #[test]
    fn pools_a_non_contiguous_input() {
        for device in test_devices() {
            let x = Tensor::<1, Int>::arange(0..2 * 3 * 4 * 4, &device).float().reshape([3, 2, 4, 4]).swap_dims(0, 1)
                - 40.0;
            assert_eq!(max_diff(reference(x.clone()), relu_max_pool2x2(x)), 0.0, "{device:?}");
        }
    }
}
