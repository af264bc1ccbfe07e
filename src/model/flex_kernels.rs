//! Two kernels of the CNN for Burn's flex CPU backend, each with its own backward pass.
//!
//! - [`relu_max_pool2x2`]: ReLU then a 2x2 max pool (stride 2, floor). Flex's max pool with
//!   indices (what autodiff calls) walks a general 3-D window with integer divisions for every
//!   output, and was ~13% of a CNN train step. This takes the maximum of each 2x2 window in one
//!   pass and keeps, per output, which of the four inputs won (one byte). ReLU is monotone, so
//!   `relu(maxpool(x))` equals `maxpool(relu(x))`: ReLU runs on the pooled values only, and the
//!   gradients agree with Burn's ReLU + max pool except on exact ties between positive inputs.
//! - [`conv3x3`]: a valid 3x3 stride-1 convolution with bias, image by image: the image's 3x3
//!   patches as the columns of a matrix (im2col, small enough to stay in cache) times the weight,
//!   with the `gemm` crate. The backward pass does the same per image for the weight gradient
//!   and the input gradient (the transposed product, added back into place: col2im). Flex's own
//!   convolution spends much of its time transposing, with 1-3 input channels computes the
//!   weight gradient several times slower, and every flex matrix product zero-fills and then
//!   copies its output buffer.

use std::borrow::Cow;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::nn::conv::Conv2d;
use burn::prelude::Tensor;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

/// `relu(maxpool2x2(x))` for `x` `[n, c, h, w]` -> `[n, c, h/2, w/2]` on the flex backend (plain
/// or autodiff); other backends panic, so callers check the backend first.
pub fn relu_max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as FlexKernels>::relu_max_pool2x2(x.into_dispatch()))
}

/// `conv`'s valid 3x3 stride-1 convolution of `x` `[batch, c, h, w]` -> `[batch, out, h-2, w-2]`.
/// Flex backend only, like [`relu_max_pool2x2`].
pub fn conv3x3(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    let weight = conv.weight.val();
    assert_eq!(weight.dims()[2..], [3, 3], "conv3x3 takes a 3x3 kernel");
    let bias = match &conv.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([weight.dims()[0]], &weight.device()),
    };
    let [x, weight, bias] = [x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch()];
    Tensor::from_dispatch(<Dispatch as FlexKernels>::conv3x3(x, weight, bias))
}

#[backend_extension(Flex, Autodiff)]
pub trait FlexKernels: Backend {
    fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl FlexKernels for Flex {
    fn relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        pool_forward(x, false).0
    }

    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        conv_forward(&x, &weight, &bias)
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

    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        let ((x, x_node), (weight, weight_node), (bias, bias_node)) = (x.into_parts(), weight.into_parts(), bias.into_parts());
        match Conv3x3.prepare::<C>([x_node, weight_node, bias_node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = conv_forward(&x, &weight, &bias);
                prep.finish((x, weight), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(conv_forward(&x, &weight, &bias)),
        }
    }
}

#[derive(Debug)]
struct Conv3x3;

impl Backward<Flex, 3> for Conv3x3 {
    /// The input and the weight.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_parent, weight_parent, bias_parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight) = ops.state;
        let parameters = weight_parent.is_some() || bias_parent.is_some();
        let (x_grad, weight_grad, bias_grad) = conv_backward(&x, &weight, &grad, x_parent.is_some(), parameters);
        for (parent, grad) in [(x_parent, x_grad), (weight_parent, weight_grad), (bias_parent, bias_grad)] {
            if let (Some(parent), Some(grad)) = (parent, grad) {
                grads.register::<Flex>(parent.id, grad);
            }
        }
    }
}

/// A matrix inside a slice: element (i, j) at `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Matrix<'a> {
        Matrix { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    fn transposed(self) -> Matrix<'a> {
        Matrix { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }
}

/// `dst` (row-major, `a.rows x b.cols`) `= a * b`, or `+= a * b` when `accumulate`; on this thread
/// (the callers run one image per pool thread).
fn matmul(dst: &mut [f32], accumulate: bool, a: Matrix, b: Matrix) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert!(dst.len() >= m * n, "matmul: destination too small");
    for x in [a, b] {
        let last = (x.rows.max(1) - 1) * x.row_stride + (x.cols.max(1) - 1) * x.col_stride;
        assert!(x.rows == 0 || x.cols == 0 || last < x.data.len(), "matmul: operand out of bounds");
    }
    let stride = |s: usize| s as isize;
    // SAFETY: the asserts above keep every element gemm reads or writes inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            stride(n),
            accumulate,
            a.data.as_ptr(),
            stride(a.col_stride),
            stride(a.row_stride),
            b.data.as_ptr(),
            stride(b.col_stride),
            stride(b.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// One image `[c, h, w]` -> its patches `[c*9, (h-2)*(w-2)]`: row `c*9 + kh*3 + kw` holds
/// `image[c, y+kh, x+kw]` in column `y*(w-2) + x`, matching a weight `[out, c, 3, 3]`.
fn im2col(image: &[f32], [c, h, w]: [usize; 3], cols: &mut [f32]) {
    let (oh, ow) = (h - 2, w - 2);
    for (row, out) in cols.chunks_exact_mut(oh * ow).enumerate().take(c * 9) {
        let (ci, kh, kw) = (row / 9, row % 9 / 3, row % 3);
        let plane = &image[ci * h * w..][..h * w];
        for y in 0..oh {
            out[y * ow..][..ow].copy_from_slice(&plane[(y + kh) * w + kw..][..ow]);
        }
    }
}

/// The gradient of [`im2col`]: each pixel gets the sum of the patch entries it was copied to.
fn col2im(cols: &[f32], [c, h, w]: [usize; 3], image: &mut [f32]) {
    let (oh, ow) = (h - 2, w - 2);
    image.fill(0.0);
    for (row, patch) in cols.chunks_exact(oh * ow).enumerate().take(c * 9) {
        let (ci, kh, kw) = (row / 9, row % 9 / 3, row % 3);
        let plane = &mut image[ci * h * w..][..h * w];
        for y in 0..oh {
            let target = &mut plane[(y + kh) * w + kw..][..ow];
            for (t, g) in target.iter_mut().zip(&patch[y * ow..][..ow]) {
                *t += g;
            }
        }
    }
}

fn conv_forward(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> FlexTensor {
    let [batch, c, h, w] = dims4(x);
    let out = dims4(weight)[0];
    let (x, weight, bias) = (f32_values(x), f32_values(weight), f32_values(bias));
    let (k, p) = (c * 9, (h - 2) * (w - 2));
    let mut y = vec![0f32; batch * out * p];
    y.par_chunks_mut(out * p).enumerate().for_each_init(
        || vec![0f32; k * p],
        |cols, (i, y)| {
            im2col(&x[i * c * h * w..][..c * h * w], [c, h, w], cols);
            for (row, b) in y.chunks_exact_mut(p).zip(bias.iter()) {
                row.fill(*b);
            }
            matmul(y, true, Matrix::row_major(&weight, out, k), Matrix::row_major(cols, k, p));
        },
    );
    FlexTensor::from_data(TensorData::new(y, [batch, out, h - 2, w - 2]))
}

/// Images whose parameter gradients one task sums (then the tasks' sums are added in order).
const IMAGES_PER_GROUP: usize = 8;

/// A group of images' sums of the parameter gradients, and its patch buffer.
struct Partial {
    weight: Vec<f32>,
    bias: Vec<f32>,
    cols: Vec<f32>,
}

/// The gradients of [`conv_forward`]: for the input when `input`, for weight and bias when
/// `parameters`.
fn conv_backward(
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    input: bool,
    parameters: bool,
) -> (Option<FlexTensor>, Option<FlexTensor>, Option<FlexTensor>) {
    let [batch, c, h, w] = dims4(x);
    let weight_shape = dims4(weight);
    let out = weight_shape[0];
    let (x, weight, grad) = (f32_values(x), f32_values(weight), f32_values(grad));
    let (k, p) = (c * 9, (h - 2) * (w - 2));
    let mut x_grad = vec![0f32; if input { batch * c * h * w } else { 0 }];
    let new_partial = || Partial { weight: vec![0.0; out * k], bias: vec![0.0; out], cols: vec![0.0; k * p] };
    let image = |mut partial: Partial, (i, x_grad): (usize, Option<&mut [f32]>)| {
        let dy = &grad[i * out * p..][..out * p];
        if parameters {
            im2col(&x[i * c * h * w..][..c * h * w], [c, h, w], &mut partial.cols);
            let patches = Matrix::row_major(&partial.cols, k, p).transposed();
            matmul(&mut partial.weight, true, Matrix::row_major(dy, out, p), patches);
            for (b, row) in partial.bias.iter_mut().zip(dy.chunks_exact(p)) {
                *b += row.iter().sum::<f32>();
            }
        }
        if let Some(x_grad) = x_grad {
            matmul(&mut partial.cols, false, Matrix::row_major(&weight, out, k).transposed(), Matrix::row_major(dy, out, p));
            col2im(&partial.cols, [c, h, w], x_grad);
        }
        partial
    };
    let add = |mut a: Partial, b: Partial| {
        a.weight.iter_mut().zip(&b.weight).for_each(|(a, b)| *a += b);
        a.bias.iter_mut().zip(&b.bias).for_each(|(a, b)| *a += b);
        a
    };
    // Fixed groups of images, summed in order: the same gradients whatever the thread count and
    // scheduling, so a resumed run repeats an uninterrupted one exactly.
    let group = |first: usize, x_grads: Option<&mut [f32]>| {
        let images = first..batch.min(first + IMAGES_PER_GROUP);
        match x_grads {
            Some(x_grads) => images.zip(x_grads.chunks_mut(c * h * w)).fold(new_partial(), |part, (i, g)| image(part, (i, Some(g)))),
            None => images.fold(new_partial(), |part, i| image(part, (i, None))),
        }
    };
    let partials: Vec<Partial> = if input {
        let groups = x_grad.par_chunks_mut(IMAGES_PER_GROUP * c * h * w).enumerate();
        groups.map(|(j, g)| group(j * IMAGES_PER_GROUP, Some(g))).collect()
    } else {
        (0..batch.div_ceil(IMAGES_PER_GROUP)).into_par_iter().map(|j| group(j * IMAGES_PER_GROUP, None)).collect()
    };
    let sums = partials.into_iter().reduce(add).unwrap_or_else(new_partial);
    let tensor = |values: Vec<f32>, shape: Vec<usize>| FlexTensor::from_data(TensorData::new(values, shape));
    (
        input.then(|| tensor(x_grad, vec![batch, c, h, w])),
        parameters.then(|| tensor(sums.weight, weight_shape.to_vec())),
        parameters.then(|| tensor(sums.bias, vec![out])),
    )
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

    use burn::nn::conv::{Conv2d, Conv2dConfig};

    use super::{conv3x3, relu_max_pool2x2, window_max};

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

    #[test]
    fn conv3x3_matches_burn_conv2d_with_its_gradients() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex().autodiff();
        // (batch, input channels, h, w, output channels)
        for (b, c, h, w, out) in [(2, 1, 28, 28, 32), (3, 3, 7, 5, 4), (2, 32, 13, 13, 64)] {
            let conv: Conv2d = Conv2dConfig::new([c, out], [3, 3]).init(&device);
            let x = Tensor::<4>::random([b, c, h, w], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let (expected, got) = (conv.forward(x.clone()), conv3x3(x.clone(), &conv));
            assert_eq!(expected.dims(), got.dims());
            let scale = expected.clone().abs().max().into_scalar::<f32>();
            assert!(max_diff(expected.clone(), got.clone()) < 1e-5 * scale, "forward {:?}", [b, c, h, w]);
            let r = Tensor::<4>::random(expected.dims(), Distribution::Normal(0.0, 1.0), &device);
            let gradients = |y: Tensor<4>| {
                let grads = (y * r.clone()).sum().backward();
                let bias = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap().reshape([1, 1, 1, out]);
                [x.grad(&grads).unwrap(), conv.weight.val().grad(&grads).unwrap(), bias]
            };
            for (name, e, g) in ["input", "weight", "bias"].into_iter().zip(gradients(expected)).zip(gradients(got)).map(|((n, e), g)| (n, e, g)) {
                let scale = e.clone().abs().max().into_scalar::<f32>();
                assert!(scale > 0.0 && max_diff(e, g) < 1e-5 * scale, "{name} gradient, {:?}", [b, c, h, w]);
            }
        }
    }

    #[test]
    fn conv3x3_gradients_do_not_depend_on_the_thread_count() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex().autodiff();
        let conv: Conv2d = Conv2dConfig::new([16, 8], [3, 3]).init(&device);
        let x = Tensor::<4>::random([37, 16, 9, 9], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let weight_grad = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| conv.weight.val().grad(&conv3x3(x.clone(), &conv).powi_scalar(2).sum().backward()).unwrap())
        };
        let one = weight_grad(1).into_data();
        for threads in [2, 3, 5] {
            assert_eq!(one, weight_grad(threads).into_data(), "{threads} threads");
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
