//! Two kernels of the CNN for Burn's flex CPU backend, each with its own backward pass.
//!
//! - [`relu_max_pool2x2`]: ReLU then a 2x2 max pool (stride 2, floor). Flex's max pool with
//!   indices (what autodiff calls) walks a general 3-D window with integer divisions for every
//!   output, and was ~13% of a CNN train step. This takes the maximum of each 2x2 window in one
//!   pass and keeps, per output, which of the four inputs won (one byte). ReLU is monotone, so
//!   `relu(maxpool(x))` equals `maxpool(relu(x))`: ReLU runs on the pooled values only, and the
//!   gradients agree with Burn's ReLU + max pool except on exact ties between positive inputs.
//! - [`im2col3x3`]: the 3x3 patches of `[c, batch, h, w]` as the columns of one matrix, so that
//!   a convolution is one matrix product (`Cnn::forward`). Its backward pass (col2im) adds the
//!   patch gradients back in one pass; built from Burn slices instead, that backward was what
//!   made the product slower than flex's convolution for conv2.
//!
//! Both work per `[h, w]` plane, whatever the order of the two leading dimensions.

use std::borrow::Cow;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::Tensor;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

/// `relu(maxpool2x2(x))` for `x` `[n, c, h, w]` -> `[n, c, h/2, w/2]` on the flex backend (plain
/// or autodiff); other backends panic, so callers check the backend first.
pub fn relu_max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as FlexKernels>::relu_max_pool2x2(x.into_dispatch()))
}

/// The 3x3 patches of `x` `[c, batch, h, w]` as `[c*9, batch*(h-2)*(w-2)]`: row `c*9 + kh*3 + kw`
/// holds `x[c, b, y+kh, x+kw]` in column `(b, y, x)`, matching a conv weight `[out, c, 3, 3]`
/// reshaped to `[out, c*9]`. Flex backend only, like [`relu_max_pool2x2`].
pub fn im2col3x3(x: Tensor<4>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FlexKernels>::im2col3x3(x.into_dispatch()))
}

#[backend_extension(Flex, Autodiff)]
pub trait FlexKernels: Backend {
    fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
    fn im2col3x3(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl FlexKernels for Flex {
    fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        pool_forward(x, false).0
    }

    fn im2col3x3(x: FloatTensor<Self>) -> FloatTensor<Self> {
        im2col(&x)
    }
}

impl<C: CheckpointStrategy> FlexKernels for Autodiff<Flex, C> {
    fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        match ReluMaxPool.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (output, winners) = pool_forward(x, true);
                prep.finish(winners, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(pool_forward(x, false).0),
        }
    }

    fn im2col3x3(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        match Im2col.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let shape = dims4(&x);
                prep.finish(shape, im2col(&x))
            }
            OpsKind::UnTracked(prep) => prep.finish(im2col(&x)),
        }
    }
}

#[derive(Debug)]
struct Im2col;

impl Backward<Flex, 1> for Im2col {
    /// The input's shape.
    type State = [usize; 4];

    fn backward(self, ops: Ops<[usize; 4], 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(parent) = parent {
            grads.register::<Flex>(parent.id, col2im(grad, ops.state));
        }
    }
}

fn im2col(x: &FlexTensor) -> FlexTensor {
    let [channels, batch, h, w] = dims4(x);
    let input = f32_values(x);
    let (oh, ow) = (h - 2, w - 2);
    let columns = batch * oh * ow;
    let mut cols = vec![0f32; channels * 9 * columns];
    cols.par_chunks_mut(columns.max(1)).enumerate().for_each(|(row, out)| {
        let (c, kh, kw) = (row / 9, row % 9 / 3, row % 3);
        for b in 0..batch {
            let plane = &input[(c * batch + b) * h * w..][..h * w];
            for y in 0..oh {
                out[(b * oh + y) * ow..][..ow].copy_from_slice(&plane[(y + kh) * w + kw..][..ow]);
            }
        }
    });
    FlexTensor::from_data(TensorData::new(cols, [channels * 9, columns]))
}

/// The gradient of [`im2col`]: each input gets the sum of the patch entries it was copied to.
fn col2im(grad: FlexTensor, [channels, batch, h, w]: [usize; 4]) -> FlexTensor {
    let (oh, ow) = (h - 2, w - 2);
    let columns = batch * oh * ow;
    let grad = f32_values(&grad);
    let mut input_grad = vec![0f32; channels * batch * h * w];
    input_grad.par_chunks_mut((batch * h * w).max(1)).enumerate().for_each(|(c, planes)| {
        for k in 0..9 {
            let (kh, kw) = (k / 3, k % 3);
            let row = &grad[(c * 9 + k) * columns..][..columns];
            for b in 0..batch {
                for y in 0..oh {
                    let target = &mut planes[(b * h + y + kh) * w + kw..][..ow];
                    for (t, g) in target.iter_mut().zip(&row[(b * oh + y) * ow..][..ow]) {
                        *t += g;
                    }
                }
            }
        }
    });
    FlexTensor::from_data(TensorData::new(input_grad, [channels, batch, h, w]))
}

/// Which input of each 2x2 window won: 0-3 (row-major in the window), or [`CUT`].
#[derive(Clone, Debug)]
struct Winners {
    input_shape: [usize; 4],
    winner: Arc<Vec<u8>>,
}

/// The window's maximum was not positive: ReLU cut it, no gradient flows.
const CUT: u8 = 4;

#[derive(Debug)]
struct ReluMaxPool;

impl Backward<Flex, 1> for ReluMaxPool {
    type State = Winners;

    fn backward(self, ops: Ops<Winners, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(parent) = parent {
            grads.register::<Flex>(parent.id, pool_backward(grad, &ops.state));
        }
    }
}

fn dims4(x: &FlexTensor) -> [usize; 4] {
    let dims = x.layout().shape();
    assert_eq!(dims.num_dims(), 4, "the flex kernels take 4-D tensors");
    [dims[0], dims[1], dims[2], dims[3]]
}

/// The values in row-major order: borrowed when the tensor is contiguous, else copied.
fn f32_values(x: &FlexTensor) -> Cow<'_, [f32]> {
    assert_eq!(x.dtype(), DType::F32, "the flex kernels work on f32 tensors");
    match x.as_slice::<f32>() {
        Some(values) => values.into(),
        None => x.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec().into(),
    }
}

fn pool_forward(x: FlexTensor, keep_winners: bool) -> (FlexTensor, Winners) {
    let [batch, channels, h, w] = dims4(&x);
    let input = f32_values(&x);
    let (oh, ow) = (h / 2, w / 2);
    let mut output = vec![0f32; batch * channels * oh * ow];
    let mut winner = vec![CUT; if keep_winners { output.len() } else { 0 }];
    let plane_out = (oh * ow).max(1);
    let pool_plane = |(p, out): (usize, &mut [f32]), mut win: Option<&mut [u8]>| {
        let plane = &input[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            let pairs = plane[2 * oy * w..][..2 * ow].chunks_exact(2).zip(plane[(2 * oy + 1) * w..][..2 * ow].chunks_exact(2));
            for (ox, (top, bottom)) in pairs.enumerate() {
                let (best, k) = window_max(top[0], top[1], bottom[0], bottom[1]);
                let cut = best <= 0.0;
                out[oy * ow + ox] = if cut { 0.0 } else { best };
                if let Some(win) = win.as_deref_mut() {
                    win[oy * ow + ox] = if cut { CUT } else { k };
                }
            }
        }
    };
    if keep_winners {
        output
            .par_chunks_mut(plane_out)
            .zip(winner.par_chunks_mut(plane_out))
            .enumerate()
            .for_each(|(p, (out, win))| pool_plane((p, out), Some(win)));
    } else {
        output.par_chunks_mut(plane_out).enumerate().for_each(|po| pool_plane(po, None));
    }
    drop(input);
    let output = FlexTensor::from_data(TensorData::new(output, [batch, channels, oh, ow]));
    (output, Winners { input_shape: [batch, channels, h, w], winner: Arc::new(winner) })
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

fn pool_backward(grad: FlexTensor, winners: &Winners) -> FlexTensor {
    let [batch, channels, h, w] = winners.input_shape;
    let (oh, ow) = (h / 2, w / 2);
    let grad = f32_values(&grad);
    let mut input_grad = vec![0f32; batch * channels * h * w];
    input_grad.par_chunks_mut((h * w).max(1)).enumerate().for_each(|(p, plane)| {
        let (grad, winner) = (&grad[p * oh * ow..][..oh * ow], &winners.winner[p * oh * ow..][..oh * ow]);
        for oy in 0..oh {
            for ox in 0..ow {
                let k = winner[oy * ow + ox];
                if k != CUT {
                    let (dy, dx) = (k as usize / 2, k as usize % 2);
                    plane[(2 * oy + dy) * w + 2 * ox + dx] = grad[oy * ow + ox];
                }
            }
        }
    });
    FlexTensor::from_data(TensorData::new(input_grad, [batch, channels, h, w]))
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::Relu;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::prelude::*;
    use burn::tensor::{Distribution, Int};

    use super::{im2col3x3, relu_max_pool2x2, window_max};

    fn reference(x: Tensor<4>) -> Tensor<4> {
        MaxPool2dConfig::new([2, 2]).init().forward(Relu::new().forward(x))
    }

    fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn matches_relu_then_burn_max_pool_on_even_and_odd_sides() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        for shape in [[3, 4, 26, 26], [2, 5, 11, 11], [1, 2, 7, 4]] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let (expected, got) = (reference(x.clone()), relu_max_pool2x2(x));
            assert_eq!(expected.dims(), got.dims());
            assert_eq!(max_diff(expected, got), 0.0, "{shape:?}");
        }
    }

    #[test]
    fn has_the_gradient_of_relu_then_burn_max_pool() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex().autodiff();
        for shape in [[3, 4, 26, 26], [2, 5, 11, 11]] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
            let [b, c, h, w] = shape;
            let r = Tensor::<4>::random([b, c, h / 2, w / 2], Distribution::Normal(0.0, 1.0), &device);
            let gradient = |y: Tensor<4>| {
                let grads = (y * r.clone()).sum().backward();
                x.grad(&grads).unwrap()
            };
            let (expected, got) = (gradient(reference(x.clone())), gradient(relu_max_pool2x2(x.clone())));
            assert!(expected.clone().abs().sum().into_scalar::<f32>() > 0.0);
            assert_eq!(max_diff(expected, got), 0.0, "{shape:?}");
        }
    }

    /// im2col from Burn slices: what the kernel must equal, with Burn's autodiff for the gradient.
    fn im2col_reference(x: Tensor<4>) -> Tensor<2> {
        let [c, b, h, w] = x.dims();
        let mut rows = Vec::new();
        for c in 0..c {
            for k in 0..9 {
                let (kh, kw) = (k / 3, k % 3);
                rows.push(x.clone().slice([c..c + 1, 0..b, kh..kh + h - 2, kw..kw + w - 2]).reshape([1, b * (h - 2) * (w - 2)]));
            }
        }
        Tensor::cat(rows, 0)
    }

    #[test]
    fn im2col_matches_slices_and_has_their_gradient() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex().autodiff();
        for shape in [[1, 3, 28, 28], [3, 2, 7, 5]] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
            let (expected, got) = (im2col_reference(x.clone()), im2col3x3(x.clone()));
            assert_eq!(expected.dims(), got.dims());
            assert_eq!((expected.clone() - got.clone()).abs().max().into_scalar::<f32>(), 0.0, "{shape:?}");
            let r = Tensor::<2>::random(expected.dims(), Distribution::Normal(0.0, 1.0), &device);
            let gradient = |y: Tensor<2>| x.grad(&(y * r.clone()).sum().backward()).unwrap();
            let (expected, got) = (gradient(expected), gradient(got));
            assert!(max_diff(expected, got) < 1e-5, "{shape:?}");
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
        let device = Device::flex();
        let x = Tensor::<1, Int>::arange(0..2 * 3 * 4 * 4, &device).float().reshape([3, 2, 4, 4]).swap_dims(0, 1) - 40.0;
        assert_eq!(max_diff(reference(x.clone()), relu_max_pool2x2(x)), 0.0);
    }
}
