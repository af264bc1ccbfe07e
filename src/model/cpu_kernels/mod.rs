//! Kernels of the NN and the CNN for the CPU backends (Burn flex and Burn ndarray), each with its own
//! backward pass. They work on plain f32 buffers ([`HostBackend`] reads and writes each backend's
//! tensors), so one implementation serves both backends.
//!
//! - [`relu_max_pool2x2`]: ReLU then a 2x2 max pool (stride 2, floor). Flex's max pool with
//!   indices (what autodiff calls) walks a general 3-D window with integer divisions for every
//!   output, and was ~13% of a CNN train step. This takes the maximum of each 2x2 window in one
//!   pass and keeps, per output, which of the four inputs won (one byte). ReLU is monotone, so
//!   `relu(maxpool(x))` equals `maxpool(relu(x))`: ReLU runs on the pooled values only, and the
//!   gradients agree with Burn's ReLU + max pool except on exact ties between positive inputs.
//! - [`conv2d`]: a stride-1 convolution with a square kernel (any size), zero padding and bias,
//!   image by image: the image's patches as the columns of a matrix (im2col, small enough to stay
//!   in cache, copied line by line out of a zero-padded copy of the image; a `memcpy` call per
//!   line was ~5% of a train step) times the weight, with the `gemm` crate. The backward pass
//!   does the same per image for the weight gradient and the input gradient (the transposed
//!   product, added back into place: col2im). Small outputs (a 7x7 map's 49 columns leave a
//!   quarter of gemm's registers idle) go several images to a product, their patches side by
//!   side, forward and for the input gradient. Flex's own convolution spends much of its time
//!   transposing, with 1-3 input channels computes the weight gradient several times slower, and every flex matrix product zero-fills and then
//!   copies its output buffer; ndarray's computes the input gradient in a scalar loop (~70x
//!   slower than this on the seed CNN).
//!
//!   A "same" 3x3 or 5x5 convolution with 16 or more channels on both sides runs as Winograd's
//!   F(4x4, 3x3) or F(4x4, 5x5) instead (`winograd.rs`): 4x and 6.25x fewer multiply-adds, forward
//!   and both gradients, equal to the direct sums up to rounding.
//! - [`conv2d_relu_max_pool2x2`]: both of the above in one kernel when nothing (batch norm) sits
//!   between them: each image's convolution output is pooled while in cache; pooling in a pass
//!   of its own read the batch's back from memory.
//! - [`linear`]: a dense layer and its ReLU, with Burn's bits on flex; its products use the
//!   pool's threads only when large (flex's did from 192^3 multiply-adds, which made the seed
//!   NN's train step 1.8x slower on 2 threads than on 1).
//! - [`batch_norm_train`]: batch norm on the batch's statistics, forward and backward, per
//!   channel over contiguous rows (Burn's default transposes the input to reduce it).
//! - [`batch_norm_relu_max_pool2x2`]: batch norm then ReLU + max pool in one pass, each plane
//!   normalized in cache; the normalized batch and its full-size gradient are never stored.
//!
//! All are checked against Burn's own operations, values and gradients, on both backends, in
//! their tests.

// burn-ndarray is deprecated upstream, but users asked for it by name; this module supports it.
#![allow(deprecated)]

mod conv;
mod gemm;
mod linear;
mod norm;
mod norm_pool;
mod pool;
mod uninit;
mod winograd;

use std::borrow::Cow;

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::ops::{Backward, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ndarray::NdArrayTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, NdArray, backend_extension};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::Tensor;
use burn::tensor::{DType, TensorData};

use conv::{Conv2dOp, conv_forward, conv_pool_forward};
use linear::{LinearOp, linear_forward};
use norm::norm_forward;
use norm_pool::{BatchNormOp, norm_pool_forward};
use pool::{ReluMaxPool, pool_forward};

/// Whether `device` (plain or autodiff) is a backend these kernels run on.
pub fn supports(device: &burn::prelude::Device) -> bool {
    #[allow(deprecated)]
    let ndarray = burn::prelude::Device::ndarray();
    let inner = device.clone().inner();
    inner == burn::prelude::Device::flex() || inner == ndarray
}

/// `relu(maxpool2x2(x))` for `x` `[n, c, h, w]` -> `[n, c, h/2, w/2]` on a CPU backend (plain or
/// autodiff); other backends panic, so callers check [`supports`] first.
pub fn relu_max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::relu_max_pool2x2(x.into_dispatch()))
}

/// `conv`'s stride-1 convolution of `x` `[batch, c, h, w]` with `pad` zeros on each side ->
/// `[batch, out, h+2pad-k+1, w+2pad-k+1]`, for `conv`'s square k x k kernel. CPU backends only,
/// like [`relu_max_pool2x2`].
pub fn conv2d(x: Tensor<4>, conv: &Conv2d, pad: usize) -> Tensor<4> {
    run_conv(x, conv, pad, <Dispatch as CpuKernels>::conv2d)
}

/// [`conv2d`] then [`relu_max_pool2x2`] as one kernel: each image's convolution output is pooled
/// while in cache (the same values and gradients). CPU backends only, like [`relu_max_pool2x2`].
pub fn conv2d_relu_max_pool2x2(x: Tensor<4>, conv: &Conv2d, pad: usize) -> Tensor<4> {
    run_conv(x, conv, pad, <Dispatch as CpuKernels>::conv2d_relu_pool)
}

type DispatchFloat = FloatTensor<Dispatch>;

/// `kernel` on `x` with `conv`'s square weight and its bias (zeros when it has none).
fn run_conv(
    x: Tensor<4>,
    conv: &Conv2d,
    pad: usize,
    kernel: fn(DispatchFloat, DispatchFloat, DispatchFloat, usize) -> DispatchFloat,
) -> Tensor<4> {
    let weight = conv.weight.val();
    let [_, _, kh, kw] = weight.dims();
    assert_eq!(kh, kw, "conv2d takes a square kernel");
    let bias = match &conv.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([weight.dims()[0]], &weight.device()),
    };
    Tensor::from_dispatch(kernel(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), pad))
}

/// `layer` on `x` `[batch, inputs]` (`x W + b`), then ReLU when `relu`: Burn's `Linear` (and
/// ReLU) with the same bits on flex, its products on one thread while they are small. CPU
/// backends only, like [`relu_max_pool2x2`].
pub fn linear(x: Tensor<2>, layer: &Linear, relu: bool) -> Tensor<2> {
    let weight = layer.weight.val();
    let bias = match &layer.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([weight.dims()[1]], &weight.device()),
    };
    let [x, weight, bias] = [x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch()];
    Tensor::from_dispatch(<Dispatch as CpuKernels>::dense(x, weight, bias, relu))
}

/// `norm` on `x` `[batch, channels, ...]` while training (autodiff, not frozen): the batch's own
/// statistics, and the running ones updated as Burn's `BatchNorm` does; otherwise `norm`'s own
/// (inference) forward. CPU backends only, like [`relu_max_pool2x2`].
pub fn batch_norm_train<const D: usize>(x: Tensor<D>, norm: &BatchNorm) -> Tensor<D> {
    if !training(&x, norm) {
        return norm.forward(x);
    }
    normalize(x, norm, <Dispatch as CpuKernels>::batch_norm)
}

/// [`batch_norm_train`] then [`relu_max_pool2x2`] as one kernel on `x` `[batch, channels, h, w]`
/// (the same values and gradients). CPU backends only, like [`relu_max_pool2x2`].
pub fn batch_norm_relu_max_pool2x2(x: Tensor<4>, norm: &BatchNorm) -> Tensor<4> {
    if !training(&x, norm) {
        return relu_max_pool2x2(norm.forward(x));
    }
    normalize(x, norm, <Dispatch as CpuKernels>::batch_norm_relu_pool)
}

fn training<const D: usize>(x: &Tensor<D>, norm: &BatchNorm) -> bool {
    x.device().is_autodiff() && norm.training.is_enabled()
}

/// `kernel` on `x` with `norm`'s gamma and beta and the batch's statistics, which also update
/// `norm`'s running ones.
fn normalize<const D: usize>(
    x: Tensor<D>,
    norm: &BatchNorm,
    kernel: fn(DispatchFloat, DispatchFloat, DispatchFloat, DispatchFloat, f64) -> DispatchFloat,
) -> Tensor<D> {
    let device = x.device();
    let channels = x.dims()[1];
    let stats = Tensor::<2>::from_dispatch(<Dispatch as CpuKernels>::channel_stats(x.clone().into_dispatch()));
    let [gamma, beta] = [norm.gamma.val().into_dispatch(), norm.beta.val().into_dispatch()];
    let y = Tensor::from_dispatch(kernel(x.into_dispatch(), gamma, beta, stats.clone().into_dispatch(), norm.epsilon));
    let mean = stats.clone().narrow(0, 0, 1).reshape([channels]).detach();
    let variance = stats.narrow(0, 1, 1).reshape([channels]).detach();
    let m = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device).mul_scalar(1.0 - m).add(mean.mul_scalar(m));
    let running_var = norm.running_var.value_sync().to_device(&device).mul_scalar(1.0 - m).add(variance.mul_scalar(m));
    norm.running_mean.update(running_mean.detach());
    norm.running_var.update(running_var.detach());
    y
}

#[backend_extension(Flex, NdArray, Autodiff)]
pub trait CpuKernels: Backend {
    fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
    ) -> FloatTensor<Self>;
    /// [`CpuKernels::conv2d`] then [`CpuKernels::relu_max_pool2x2`].
    fn conv2d_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
    ) -> FloatTensor<Self>;
    /// `x W + b`, then ReLU when `relu`.
    fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, relu: bool)
    -> FloatTensor<Self>;
    /// Each channel's mean and biased variance, `[2, channels]`; not differentiated.
    fn channel_stats(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Batch norm with `stats` (from [`CpuKernels::channel_stats`] of `x`); differentiated
    /// for x, gamma and beta as the whole batch norm.
    fn batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
    /// [`CpuKernels::batch_norm`] then [`CpuKernels::relu_max_pool2x2`].
    fn batch_norm_relu_pool(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

/// A CPU backend whose float tensors the kernels read as, and build from, f32 buffers.
pub trait HostBackend: Backend {
    /// The values in row-major order: borrowed when the tensor is contiguous, else copied.
    fn f32_values(x: &FloatTensor<Self>) -> Cow<'_, [f32]>;
    fn shape(x: &FloatTensor<Self>) -> Vec<usize>;
    fn from_f32(values: Vec<f32>, shape: Vec<usize>) -> FloatTensor<Self>;
}

impl HostBackend for Flex {
    fn f32_values(x: &FlexTensor) -> Cow<'_, [f32]> {
        assert_eq!(x.dtype(), DType::F32, "the CPU kernels work on f32 tensors");
        match x.as_slice::<f32>() {
            Some(values) => values.into(),
            None => x.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec().into(),
        }
    }

    fn shape(x: &FlexTensor) -> Vec<usize> {
        x.layout().shape().to_vec()
    }

    fn from_f32(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, shape))
    }
}

impl HostBackend for NdArray {
    fn f32_values(x: &NdArrayTensor) -> Cow<'_, [f32]> {
        let NdArrayTensor::F32(storage) = x else { panic!("the CPU kernels work on f32 tensors") };
        let view = storage.view();
        match view.to_slice() {
            Some(values) => values.into(),
            None => view.iter().copied().collect::<Vec<f32>>().into(),
        }
    }

    fn shape(x: &NdArrayTensor) -> Vec<usize> {
        let NdArrayTensor::F32(storage) = x else { panic!("the CPU kernels work on f32 tensors") };
        storage.shape().to_vec()
    }

    fn from_f32(values: Vec<f32>, shape: Vec<usize>) -> NdArrayTensor {
        NdArrayTensor::from_data(TensorData::new(values, shape))
    }
}

/// The plain CPU backends run the kernels' forward passes directly.
macro_rules! host_kernels {
    ($($backend:ty),*) => {$(
        impl CpuKernels for $backend {
        fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
            pool_forward::<Self>(x, false).0
        }

        fn channel_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
            stats_tensor::<Self>(&x)
        }

        fn batch_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, stats: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
            norm_forward::<Self>(x, &gamma, &beta, &stats, epsilon).0
        }

        fn batch_norm_relu_pool(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, stats: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
            norm_pool_forward::<Self>(x, &gamma, &beta, &stats, epsilon, false).0
        }

        fn conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, pad: usize) -> FloatTensor<Self> {
            conv_forward::<Self>(&x, &weight, &bias, pad)
        }

        fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, relu: bool) -> FloatTensor<Self> {
            linear_forward::<Self>(x, weight, &bias, relu).0
        }

        fn conv2d_relu_pool(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, pad: usize) -> FloatTensor<Self> {
            conv_pool_forward::<Self>(&x, &weight, &bias, pad, false).0
        }
    }
    )*};
}

host_kernels!(Flex, NdArray);

impl<B: HostBackend, C: CheckpointStrategy> CpuKernels for Autodiff<B, C> {
    fn channel_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, _) = x.into_parts();
        <Self as burn::backend::AutodiffBackend>::from_inner(stats_tensor::<B>(&x))
    }

    fn batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        batch_norm_op::<B, C>([x, gamma, beta, stats], epsilon, false)
    }

    fn batch_norm_relu_pool(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        batch_norm_op::<B, C>([x, gamma, beta, stats], epsilon, true)
    }

    fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        match ReluMaxPool.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (output, winners) = pool_forward::<B>(x, true);
                prep.finish(winners, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(pool_forward::<B>(x, false).0),
        }
    }

    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
    ) -> FloatTensor<Self> {
        conv_op::<B, C>([x, weight, bias], pad, false)
    }

    fn conv2d_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
    ) -> FloatTensor<Self> {
        conv_op::<B, C>([x, weight, bias], pad, true)
    }

    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let ((x, x_node), (weight, weight_node), (bias, bias_node)) =
            (x.into_parts(), weight.into_parts(), bias.into_parts());
        match LinearOp.prepare::<C>([x_node, weight_node, bias_node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (y, saved) = linear_forward::<B>(x, weight, &bias, relu);
                prep.finish(saved, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(linear_forward::<B>(x, weight, &bias, relu).0),
        }
    }
}

/// The convolution of x with weight and bias (`pad` zeros on each side), then ReLU + max pool
/// when `pool`; differentiated for all three.
fn conv_op<B: HostBackend, C: CheckpointStrategy>(
    [x, weight, bias]: [FloatTensor<Autodiff<B, C>>; 3],
    pad: usize,
    pool: bool,
) -> FloatTensor<Autodiff<B, C>> {
    let ((x, x_node), (weight, weight_node), (bias, bias_node)) =
        (x.into_parts(), weight.into_parts(), bias.into_parts());
    let forward = |keep_winners| {
        if pool {
            let (y, winners) = conv_pool_forward::<B>(&x, &weight, &bias, pad, keep_winners);
            (y, Some(winners))
        } else {
            (conv_forward::<B>(&x, &weight, &bias, pad), None)
        }
    };
    match Conv2dOp.prepare::<C>([x_node, weight_node, bias_node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (y, winners) = forward(true);
            prep.finish((x, weight, pad, winners), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(false).0),
    }
}

/// Batch norm of x with gamma, beta and the batch's statistics, then ReLU + max pool when `pool`;
/// differentiated for x, gamma and beta.
fn batch_norm_op<B: HostBackend, C: CheckpointStrategy>(
    [x, gamma, beta, stats]: [FloatTensor<Autodiff<B, C>>; 4],
    epsilon: f64,
    pool: bool,
) -> FloatTensor<Autodiff<B, C>> {
    let ((x, x_node), (gamma, gamma_node), (beta, beta_node)) = (x.into_parts(), gamma.into_parts(), beta.into_parts());
    let (stats, _) = stats.into_parts();
    let forward = |x, keep_winners| {
        if pool {
            let (y, saved, winners) = norm_pool_forward::<B>(x, &gamma, &beta, &stats, epsilon, keep_winners);
            (y, (saved, Some(winners)))
        } else {
            let (y, saved) = norm_forward::<B>(x, &gamma, &beta, &stats, epsilon);
            (y, (saved, None))
        }
    };
    match BatchNormOp.prepare::<C>([x_node, gamma_node, beta_node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (y, state) = forward(x, true);
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x, false).0),
    }
}

/// [`norm::channel_stats`] of `x` as a `[2, channels]` tensor: means, then variances.
fn stats_tensor<B: HostBackend>(x: &FloatTensor<B>) -> FloatTensor<B> {
    let shape = B::shape(x);
    let layout = (shape[0], shape[1], shape[2..].iter().product());
    let (mean, var) = norm::channel_stats(&B::f32_values(x), layout);
    B::from_f32(mean.into_iter().chain(var).collect(), vec![2, shape[1]])
}

/// The tasks' sums added first to last (not as the tasks finish), so the total's bits do not
/// depend on the thread count; `len` zeros when there are none.
fn sum_in_order(parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let add = |mut a: Vec<f32>, b: Vec<f32>| {
        a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
        a
    };
    parts.into_iter().reduce(add).unwrap_or_else(|| vec![0.0; len])
}

fn dims4<B: HostBackend>(x: &FloatTensor<B>) -> [usize; 4] {
    let dims = B::shape(x);
    dims.try_into().unwrap_or_else(|dims: Vec<usize>| panic!("the CPU kernels take 4-D tensors, got {dims:?}"))
}

/// `n` values in [-0.5, 0.5) that differ with `seed`, for the kernels' tests.
#[cfg(test)]
fn test_values(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 + seed * 104729) % 1009) as f32 / 1009.0 - 0.5).collect()
}

/// The CPU devices the tests run the kernels on: flex, then ndarray.
#[cfg(test)]
pub(crate) fn test_devices() -> [burn::prelude::Device; 2] {
    #[allow(deprecated)]
    let ndarray = burn::prelude::Device::ndarray();
    [burn::prelude::Device::flex(), ndarray]
}

#[cfg(test)]
fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}
