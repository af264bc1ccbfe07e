//! [`super::conv2d`]: im2col + `gemm` per image, forward and backward, for square kernels of any
//! size with zero padding, stride 1.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::gemm::{Matrix, matmul};
use super::pool::{Winners, pool_backward, pool_plane, pooled_outputs};
use super::uninit::{filled, written};
use super::{HostBackend, dims4};

#[derive(Debug)]
pub(super) struct Conv2dOp;

impl<B: HostBackend> Backward<B, 3> for Conv2dOp {
    /// The input, the weight, the padding, and the pool's winners when the op also pooled
    /// ([`super::conv2d_relu_max_pool2x2`]): then the pool's gradient comes first.
    type State = (FloatTensor<B>, FloatTensor<B>, usize, Option<Winners>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_parent, weight_parent, bias_parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight, pad, winners) = ops.state;
        let grad = match winners {
            Some(winners) => pool_backward::<B>(grad, &winners),
            None => grad,
        };
        let parameters = weight_parent.is_some() || bias_parent.is_some();
        let (x_grad, weight_grad, bias_grad) =
            conv_backward::<B>(&x, &weight, &grad, pad, x_parent.is_some(), parameters);
        for (parent, grad) in [(x_parent, x_grad), (weight_parent, weight_grad), (bias_parent, bias_grad)] {
            if let (Some(parent), Some(grad)) = (parent, grad) {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// A conv's geometry on one image: input `[c, h, w]`, kernel `k x k`, zero padding `pad` on each
/// side, stride 1; output `oh x ow`.
#[derive(Clone, Copy)]
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    pad: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn new([c, h, w]: [usize; 3], k: usize, pad: usize) -> Geometry {
        Geometry { c, h, w, k, pad, oh: h + 2 * pad + 1 - k, ow: w + 2 * pad + 1 - k }
    }

    /// Rows of the patch matrix, one per (channel, kernel row, kernel column).
    fn rows(&self) -> usize {
        self.c * self.k * self.k
    }

    /// The padded image's height and width.
    fn padded(&self) -> (usize, usize) {
        (self.h + 2 * self.pad, self.w + 2 * self.pad)
    }

    /// Where patch row `row` (channel, kernel row, kernel column) starts reading in the padded
    /// image: output row `y` reads `ow` values from there plus `y` padded rows.
    fn origin(&self, row: usize) -> usize {
        let (ph, pw) = self.padded();
        let (ci, kh, kw) = (row / (self.k * self.k), row % (self.k * self.k) / self.k, row % self.k);
        ci * ph * pw + kh * pw + kw
    }
}

/// `image` (`[c, h, w]`) with `pad` zeros on each side, in `out`; the image itself when `pad` is 0.
fn padded<'a>(image: &'a [f32], g: Geometry, out: &'a mut Vec<f32>) -> &'a [f32] {
    if g.pad == 0 {
        return image;
    }
    let (ph, pw) = g.padded();
    out.clear();
    out.resize(g.c * ph * pw, 0.0);
    for (plane, channel) in out.chunks_exact_mut(ph * pw).zip(image.chunks_exact(g.h * g.w)) {
        for (line, row) in plane[g.pad * pw..].chunks_exact_mut(pw).zip(channel.chunks_exact(g.w)) {
            line[g.pad..][..g.w].copy_from_slice(row);
        }
    }
    out
}

/// `dst.copy_from_slice(src)` for the short lines of a patch: 8-float moves (the last one
/// overlapping) rather than a `memcpy` call per line, which cost more than the copy.
#[inline(always)]
fn copy_line(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    assert_eq!(n, src.len());
    if n < 8 {
        return dst.copy_from_slice(src);
    }
    for i in (0..n - 7).step_by(8) {
        dst[i..i + 8].copy_from_slice(&src[i..i + 8]);
    }
    dst[n - 8..].copy_from_slice(&src[n - 8..]);
}

/// One image -> its patches `[c*k*k, oh*ow]`: row `c*k*k + kh*k + kw` holds
/// `image[c, y+kh-pad, x+kw-pad]` (0 in the padding) in column `y*ow + x`, matching a weight
/// `[out, c, k, k]`. `scratch` holds the padded image.
fn im2col(image: &[f32], g: Geometry, cols: &mut [f32], scratch: &mut Vec<f32>) {
    let source = padded(image, g, scratch);
    let pw = g.padded().1;
    for (row, out) in cols.chunks_exact_mut(g.oh * g.ow).enumerate().take(g.rows()) {
        let origin = g.origin(row);
        for (y, line) in out.chunks_exact_mut(g.ow).enumerate() {
            copy_line(line, &source[origin + y * pw..][..g.ow]);
        }
    }
}

/// The gradient of [`im2col`]: adds to each pixel of `image` (zeros) the patch entries it was
/// copied to, in the order of the patch rows. `scratch` holds the padded image's gradient.
fn col2im(cols: &[f32], g: Geometry, image: &mut [f32], scratch: &mut Vec<f32>) {
    let (ph, pw) = g.padded();
    let target: &mut [f32] = if g.pad == 0 {
        image
    } else {
        scratch.clear();
        scratch.resize(g.c * ph * pw, 0.0);
        scratch
    };
    for (row, patch) in cols.chunks_exact(g.oh * g.ow).enumerate().take(g.rows()) {
        let origin = g.origin(row);
        for (y, line) in patch.chunks_exact(g.ow).enumerate() {
            for (t, v) in target[origin + y * pw..][..g.ow].iter_mut().zip(line) {
                *t += v;
            }
        }
    }
    if g.pad > 0 {
        for (channel, plane) in image.chunks_exact_mut(g.h * g.w).zip(scratch.chunks_exact(ph * pw)) {
            for (row, line) in channel.chunks_exact_mut(g.w).zip(plane[g.pad * pw..].chunks_exact(pw)) {
                for (pixel, v) in row.iter_mut().zip(&line[g.pad..][..g.w]) {
                    *pixel += v;
                }
            }
        }
    }
}

pub(super) fn conv_forward<B: HostBackend>(
    x: &FloatTensor<B>,
    weight: &FloatTensor<B>,
    bias: &FloatTensor<B>,
    pad: usize,
) -> FloatTensor<B> {
    let [batch, c, h, w] = dims4::<B>(x);
    let [out, _, ksize, _] = dims4::<B>(weight);
    let g = Geometry::new([c, h, w], ksize, pad);
    let (x, weight, bias) = (B::f32_values(x), B::f32_values(weight), B::f32_values(bias));
    let (k, p) = (g.rows(), g.oh * g.ow);
    let image = |(cols, scratch): &mut (Vec<f32>, Vec<f32>), i: usize, y: &mut [MaybeUninit<f32>]| {
        im2col(&x[i * c * h * w..][..c * h * w], g, cols, scratch);
        for (row, b) in y.chunks_exact_mut(p).zip(bias.iter()) {
            filled(row, *b);
        }
        // SAFETY: the rows above cover the image's `out * p` values.
        let y = unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) };
        matmul(y, true, Matrix::row_major(&weight, out, k), Matrix::row_major(cols, k, p), false);
    };
    // SAFETY: `image` sets all of its chunk (bias rows) before the product adds to it.
    let y = unsafe { written(batch * out * p, out * p, || (vec![0f32; k * p], Vec::new()), image) };
    B::from_f32(y, vec![batch, out, g.oh, g.ow])
}

/// [`conv_forward`], then ReLU and a 2x2 max pool, image by image: each image's convolution
/// output is pooled while it is still in cache, and the batch's is never stored. Pooling it in
/// a pass of its own read it back from memory (~10% of the seed CNN's step). The same values as
/// [`conv_forward`] then [`super::pool::pool_forward`]; the winners when `keep_winners`.
pub(super) fn conv_pool_forward<B: HostBackend>(
    x: &FloatTensor<B>,
    weight: &FloatTensor<B>,
    bias: &FloatTensor<B>,
    pad: usize,
    keep_winners: bool,
) -> (FloatTensor<B>, Winners) {
    let [batch, c, h, w] = dims4::<B>(x);
    let [out, _, ksize, _] = dims4::<B>(weight);
    let g = Geometry::new([c, h, w], ksize, pad);
    let (x, weight, bias) = (B::f32_values(x), B::f32_values(weight), B::f32_values(bias));
    let (k, p, q) = (g.rows(), g.oh * g.ow, (g.oh / 2) * (g.ow / 2));
    let init = || (vec![0f32; k * p], Vec::new(), vec![0f32; out * p]);
    let image = |(cols, scratch, y): &mut (Vec<f32>, Vec<f32>, Vec<f32>),
                 i: usize,
                 pooled: &mut [f32],
                 mut win: Option<&mut [u8]>| {
        im2col(&x[i * c * h * w..][..c * h * w], g, cols, scratch);
        for (row, b) in y.chunks_exact_mut(p).zip(bias.iter()) {
            row.fill(*b);
        }
        matmul(y, true, Matrix::row_major(&weight, out, k), Matrix::row_major(cols, k, p), false);
        for (ch, plane) in y.chunks_exact(p).enumerate() {
            let win = win.as_deref_mut().map(|win| &mut win[ch * q..][..q]);
            pool_plane(plane, g.ow, &mut pooled[ch * q..][..q], win);
        }
    };
    let (pooled, winner) = pooled_outputs(batch * out * q, out * q, keep_winners, init, image);
    let shape = vec![batch, out, g.oh / 2, g.ow / 2];
    (B::from_f32(pooled, shape), Winners::new([batch, out, g.oh, g.ow], winner))
}

/// Rows summed side by side by [`add_row_sums`].
const ROWS_IN_FLIGHT: usize = 8;

/// `sums[r] += rows[r].iter().sum()` for the rows of `len` values, with the same bits: each row
/// is still added first to last from -0.0 (as `Sum` does), but [`ROWS_IN_FLIGHT`] rows at once.
/// One row's additions wait on each other (4 cycles each); rows side by side fill that wait.
/// Row by row this was ~4% of the seed CNN's train step.
fn add_row_sums(sums: &mut [f32], rows: &[f32], len: usize) {
    for (sums, rows) in sums.chunks_mut(ROWS_IN_FLIGHT).zip(rows.chunks(ROWS_IN_FLIGHT * len.max(1))) {
        let mut acc = [-0.0f32; ROWS_IN_FLIGHT];
        if sums.len() == ROWS_IN_FLIGHT {
            for j in 0..len {
                for (r, a) in acc.iter_mut().enumerate() {
                    *a += rows[r * len + j];
                }
            }
        } else {
            for (a, row) in acc.iter_mut().zip(rows.chunks_exact(len.max(1))) {
                *a = row.iter().sum::<f32>();
            }
        }
        for (s, a) in sums.iter_mut().zip(acc) {
            *s += a;
        }
    }
}

/// Images whose parameter gradients one task sums (then the tasks' sums are added in order).
const IMAGES_PER_GROUP: usize = 8;

/// A group of images' sums of the parameter gradients.
struct Partial {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// A pool thread's patch matrix and padded image, kept from one group of images to the next.
struct Buffers {
    cols: Vec<f32>,
    scratch: Vec<f32>,
}

/// The gradients of [`conv_forward`]: for the input when `input`, for weight and bias when
/// `parameters`.
#[allow(clippy::type_complexity)]
fn conv_backward<B: HostBackend>(
    x: &FloatTensor<B>,
    weight: &FloatTensor<B>,
    grad: &FloatTensor<B>,
    pad: usize,
    input: bool,
    parameters: bool,
) -> (Option<FloatTensor<B>>, Option<FloatTensor<B>>, Option<FloatTensor<B>>) {
    let [batch, c, h, w] = dims4::<B>(x);
    let weight_shape = dims4::<B>(weight);
    let out = weight_shape[0];
    let g = Geometry::new([c, h, w], weight_shape[2], pad);
    let (x, weight, grad) = (B::f32_values(x), B::f32_values(weight), B::f32_values(grad));
    let (k, p) = (g.rows(), g.oh * g.ow);
    let mut x_grad = vec![0f32; if input { batch * c * h * w } else { 0 }];
    let new_partial = || Partial { weight: vec![0.0; out * k], bias: vec![0.0; out] };
    let new_buffers = || Buffers { cols: vec![0.0; k * p], scratch: Vec::new() };
    let image = |buffers: &mut Buffers, mut partial: Partial, (i, x_grad): (usize, Option<&mut [f32]>)| {
        let dy = &grad[i * out * p..][..out * p];
        if parameters {
            im2col(&x[i * c * h * w..][..c * h * w], g, &mut buffers.cols, &mut buffers.scratch);
            let patches = Matrix::row_major(&buffers.cols, k, p).transposed();
            matmul(&mut partial.weight, true, Matrix::row_major(dy, out, p), patches, false);
            add_row_sums(&mut partial.bias, dy, p);
        }
        if let Some(x_grad) = x_grad {
            matmul(
                &mut buffers.cols,
                false,
                Matrix::row_major(&weight, out, k).transposed(),
                Matrix::row_major(dy, out, p),
                false,
            );
            col2im(&buffers.cols, g, x_grad, &mut buffers.scratch);
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
    let group = |buffers: &mut Buffers, first: usize, x_grads: Option<&mut [f32]>| {
        let images = first..batch.min(first + IMAGES_PER_GROUP);
        match x_grads {
            Some(x_grads) => images
                .zip(x_grads.chunks_mut(c * h * w))
                .fold(new_partial(), |part, (i, g)| image(buffers, part, (i, Some(g)))),
            None => images.fold(new_partial(), |part, i| image(buffers, part, (i, None))),
        }
    };
    let partials: Vec<Partial> = if input {
        let groups = x_grad.par_chunks_mut(IMAGES_PER_GROUP * c * h * w).enumerate();
        groups.map_init(new_buffers, |buffers, (j, g)| group(buffers, j * IMAGES_PER_GROUP, Some(g))).collect()
    } else {
        let groups = (0..batch.div_ceil(IMAGES_PER_GROUP)).into_par_iter();
        groups.map_init(new_buffers, |buffers, j| group(buffers, j * IMAGES_PER_GROUP, None)).collect()
    };
    let sums = partials.into_iter().reduce(add).unwrap_or_else(new_partial);
    let tensor = B::from_f32;
    (
        input.then(|| tensor(x_grad, vec![batch, c, h, w])),
        parameters.then(|| tensor(sums.weight, weight_shape.to_vec())),
        parameters.then(|| tensor(sums.bias, vec![out])),
    )
}

#[cfg(test)]
mod tests {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    use super::super::{conv2d, max_diff, test_devices};

    fn conv(c: usize, out: usize, k: usize, pad: usize, device: &Device) -> Conv2d {
        Conv2dConfig::new([c, out], [k, k]).with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad)).init(device)
    }

    #[test]
    fn conv2d_matches_burn_conv2d_with_its_gradients() {
        let _rng = crate::burn_rng_lock();
        // (batch, input channels, h, w, output channels, kernel, padding): the seed's convs, then
        // every kernel size the spec allows, valid and "same", odd and tiny images.
        let cases = [
            (2, 1, 28, 28, 32, 3, 0),
            (2, 32, 13, 13, 64, 3, 0),
            (3, 3, 7, 5, 4, 3, 0),
            (2, 3, 9, 8, 4, 1, 0),
            (2, 2, 9, 8, 3, 3, 1),
            (2, 3, 12, 10, 5, 5, 0),
            (2, 3, 12, 10, 5, 5, 2),
            (2, 2, 11, 9, 3, 7, 0),
            (2, 2, 8, 9, 3, 7, 3),
            (1, 4, 3, 3, 2, 5, 2),
        ];
        for device in test_devices().map(|d| d.autodiff()) {
            for (b, c, h, w, out, k, pad) in cases {
                let conv = conv(c, out, k, pad, &device);
                let x = Tensor::<4>::random([b, c, h, w], Distribution::Normal(0.0, 1.0), &device).require_grad();
                let (expected, got) = (conv.forward(x.clone()), conv2d(x.clone(), &conv, pad));
                let case = format!("{:?} k{k} pad {pad} on {device:?}", [b, c, h, w]);
                assert_eq!(expected.dims(), got.dims(), "{case}");
                let scale = expected.clone().abs().max().into_scalar::<f32>();
                assert!(max_diff(expected.clone(), got.clone()) < 1e-5 * scale, "forward {case}");
                let r = Tensor::<4>::random(expected.dims(), Distribution::Normal(0.0, 1.0), &device);
                let gradients = |y: Tensor<4>| {
                    let grads = (y * r.clone()).sum().backward();
                    let bias = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap().reshape([1, 1, 1, out]);
                    [x.grad(&grads).unwrap(), conv.weight.val().grad(&grads).unwrap(), bias]
                };
                for (name, e, g) in ["input", "weight", "bias"]
                    .into_iter()
                    .zip(gradients(expected))
                    .zip(gradients(got))
                    .map(|((n, e), g)| (n, e, g))
                {
                    let scale = e.clone().abs().max().into_scalar::<f32>();
                    assert!(scale > 0.0 && max_diff(e, g) < 1e-5 * scale, "{name} gradient, {case}");
                }
            }
        }
    }

    #[test]
    fn row_sums_side_by_side_have_the_bits_of_one_row_at_a_time() {
        let _rng = crate::burn_rng_lock();
        for (rows, len) in [(64, 121), (32, 676), (13, 5), (3, 1), (9, 0)] {
            let values: Vec<f32> = Tensor::<1>::random([rows * len], Distribution::Normal(0.0, 1.0), &Device::flex())
                .into_data()
                .to_vec()
                .unwrap();
            let mut values = values;
            if len > 0 {
                values[..len].fill(-0.0); // a row of negative zeros sums to -0.0
            }
            let start: Vec<f32> = (0..rows).map(|r| r as f32 * 0.37).collect();
            let mut expected = start.clone();
            for (s, row) in expected.iter_mut().zip(values.chunks_exact(len.max(1))) {
                *s += row.iter().sum::<f32>();
            }
            let mut got = start;
            super::add_row_sums(&mut got, &values, len);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&expected), bits(&got), "{rows} rows of {len}");
        }
    }

    #[test]
    fn conv2d_gradients_do_not_depend_on_the_thread_count() {
        let _rng = crate::burn_rng_lock();
        for device in test_devices().map(|d| d.autodiff()) {
            for (k, pad) in [(3, 0), (5, 2)] {
                let conv = conv(16, 8, k, pad, &device);
                let x = Tensor::<4>::random([37, 16, 9, 9], Distribution::Normal(0.0, 1.0), &device).require_grad();
                let weight_grad = |threads: usize| {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    pool.install(|| {
                        conv.weight.val().grad(&conv2d(x.clone(), &conv, pad).powi_scalar(2).sum().backward()).unwrap()
                    })
                };
                let one = weight_grad(1).into_data();
                for threads in [2, 3, 5] {
                    assert_eq!(
                        one,
                        weight_grad(threads).into_data(),
                        "k{k} pad {pad}, {threads} threads on {device:?}"
                    );
                }
            }
        }
    }
}
