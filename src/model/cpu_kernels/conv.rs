//! [`super::conv2d`]: im2col + `gemm` per image, forward and backward, for square kernels of any
//! size with zero padding, stride 1; "same" 3x3 and 5x5 kernels with many channels go to
//! [`super::winograd`] instead.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::gemm::{Matrix, matmul};
use super::pool::{Winners, pool_backward, pool_forward, pool_plane, pooled_outputs};
use super::uninit::{filled, written};
use super::{HostBackend, dims4, sum_in_order, winograd};

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

/// One image -> its patches `[c*k*k, oh*ow]`, row `r` at `cols[r * stride..]` (the image's
/// columns of a matrix of several images' patches): row `c*k*k + kh*k + kw` holds
/// `image[c, y+kh-pad, x+kw-pad]` (0 in the padding) in column `y*ow + x`, matching a weight
/// `[out, c, k, k]`. `scratch` holds the padded image.
fn im2col(image: &[f32], g: Geometry, cols: &mut [f32], stride: usize, scratch: &mut Vec<f32>) {
    let source = padded(image, g, scratch);
    let pw = g.padded().1;
    for row in 0..g.rows() {
        let origin = g.origin(row);
        for (y, line) in cols[row * stride..][..g.oh * g.ow].chunks_exact_mut(g.ow).enumerate() {
            copy_line(line, &source[origin + y * pw..][..g.ow]);
        }
    }
}

/// The gradient of [`im2col`]: adds to each pixel of `image` (zeros) the patch entries it was
/// copied to (row `r` at `cols[r * stride..]`), in the order of the patch rows. `scratch` holds
/// the padded image's gradient.
fn col2im(cols: &[f32], stride: usize, g: Geometry, image: &mut [f32], scratch: &mut Vec<f32>) {
    let (ph, pw) = g.padded();
    let target: &mut [f32] = if g.pad == 0 {
        image
    } else {
        scratch.clear();
        scratch.resize(g.c * ph * pw, 0.0);
        scratch
    };
    for row in 0..g.rows() {
        let origin = g.origin(row);
        for (y, line) in cols[row * stride..][..g.oh * g.ow].chunks_exact(g.ow).enumerate() {
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

/// Images whose patches one product takes side by side, at most `max`: enough for about 256
/// columns when an image's columns leave more than an eighth of gemm's registers unused (its
/// AVX-512 kernel takes the columns 16 at a time; a remainder costs a pass of its own). On one
/// Zen 4 core, 128 channels of 576 patch rows: a 7x7 output's 49 columns (15 of 64 unused) ran at
/// 85 GFLOP/s image by image, 104 four images at a time, 108 eight, the input gradient's product
/// alike; the three-block CNN's step used 7 % less CPU time. 121 and 196 columns (7 and 12
/// unused) gained 3-8 % in the product alone but lost 3-7 % of the seed and k5 CNNs' steps.
/// One image when both the output channels and the columns are at most 64: gemm then blocks the
/// sum over the patch rows otherwise, and a product's bits must not depend on how many images it
/// takes (elsewhere gemm's blocks depend on the sum's length alone).
fn images_per_product(out: usize, columns: usize, max: usize) -> usize {
    let unused = columns.next_multiple_of(16) - columns;
    if unused <= columns / 8 || (out <= 64 && columns <= 64) {
        return 1;
    }
    256usize.div_ceil(columns).next_power_of_two().min(max)
}

/// The forward's images per product: each product is one task, and groups of 4 share a batch of
/// 100 between 2 threads to within 4 images.
const FORWARD_IMAGES: usize = 4;

/// A pool thread's buffers, kept from one group of images to the next: the patch matrix, the
/// padded image, and a `[out, n * p]` matrix of the group's outputs or output gradients (or of
/// one image's, rows apart: [`output_gradient_rows`]).
#[derive(Default)]
struct Buffers {
    cols: Vec<f32>,
    scratch: Vec<f32>,
    wide: Vec<f32>,
}

/// `dst` (`[out, n * p]`, holding the bias) `+=` the convolutions of the `n` images of `x` from
/// `first`, side by side: image `j`'s outputs in columns `j * p ..`.
#[allow(clippy::too_many_arguments)]
fn product_of_images(
    x: &[f32],
    weight: &[f32],
    g: Geometry,
    (first, n): (usize, usize),
    cols: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
    dst: &mut [f32],
) {
    let (k, p, size) = (g.rows(), g.oh * g.ow, g.c * g.h * g.w);
    cols.resize(k * n * p, 0.0);
    for j in 0..n {
        im2col(&x[(first + j) * size..][..size], g, &mut cols[j * p..], n * p, scratch);
    }
    let out = dst.len() / (n * p);
    matmul(dst, true, Matrix::row_major(weight, out, k), Matrix::row_major(cols, k, n * p), false);
}

/// `wide` resized to `[out, n * p]` with the bias in each row.
fn bias_rows(wide: &mut Vec<f32>, bias: &[f32], columns: usize) {
    wide.resize(bias.len() * columns, 0.0);
    for (row, b) in wide.chunks_exact_mut(columns).zip(bias) {
        row.fill(*b);
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
    let images = images_per_product(out, g.oh * g.ow, FORWARD_IMAGES);
    let (x, weight, bias) = (B::f32_values(x), B::f32_values(weight), B::f32_values(bias));
    let y = match winograd::transform_for(c, out, ksize, pad) {
        Some(tr) => winograd::forward(tr, &x, &weight, &bias, batch, [c, h, w]),
        None => forward_values(&x, &weight, &bias, batch, g, images),
    };
    B::from_f32(y, vec![batch, out, g.oh, g.ow])
}

/// [`conv_forward`]'s values, `images` per product.
fn forward_values(x: &[f32], weight: &[f32], bias: &[f32], batch: usize, g: Geometry, images: usize) -> Vec<f32> {
    let (out, p) = (bias.len(), g.oh * g.ow);
    let group = |b: &mut Buffers, i: usize, y: &mut [MaybeUninit<f32>]| {
        let n = y.len() / (out * p);
        if n == 1 {
            // One image: its outputs are already the product's layout.
            for (row, b) in y.chunks_exact_mut(p).zip(bias) {
                filled(row, *b);
            }
            // SAFETY: the rows above cover the image's `out * p` values.
            let y = unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) };
            return product_of_images(x, weight, g, (i * images, 1), &mut b.cols, &mut b.scratch, y);
        }
        bias_rows(&mut b.wide, bias, n * p);
        product_of_images(x, weight, g, (i * images, n), &mut b.cols, &mut b.scratch, &mut b.wide);
        for (j, image) in y.chunks_exact_mut(out * p).enumerate() {
            for (ch, plane) in image.chunks_exact_mut(p).enumerate() {
                for (v, &s) in plane.iter_mut().zip(&b.wide[ch * n * p + j * p..][..p]) {
                    v.write(s);
                }
            }
        }
    };
    // SAFETY: `group` sets all of its chunk: bias rows then the product, or a copy of each value.
    unsafe { written(batch * out * p, images * out * p, Buffers::default, group) }
}

/// [`conv_forward`], then ReLU and a 2x2 max pool, a group of images at a time: their
/// convolution outputs are pooled while they are still in cache, and the batch's are never
/// stored. Pooling them in a pass of its own read them back from memory (~10% of the seed CNN's
/// step). The same values as [`conv_forward`] then [`super::pool::pool_forward`]; the winners
/// when `keep_winners`.
pub(super) fn conv_pool_forward<B: HostBackend>(
    x: &FloatTensor<B>,
    weight: &FloatTensor<B>,
    bias: &FloatTensor<B>,
    pad: usize,
    keep_winners: bool,
) -> (FloatTensor<B>, Winners) {
    let [batch, c, h, w] = dims4::<B>(x);
    let [out, _, ksize, _] = dims4::<B>(weight);
    if winograd::transform_for(c, out, ksize, pad).is_some() {
        // Winograd's products take groups of tiles, not an image's rows: pooled in a pass of
        // their own.
        return pool_forward::<B>(conv_forward::<B>(x, weight, bias, pad), keep_winners);
    }
    let g = Geometry::new([c, h, w], ksize, pad);
    let (p, q) = (g.oh * g.ow, (g.oh / 2) * (g.ow / 2));
    let images = images_per_product(out, p, FORWARD_IMAGES);
    let (x, weight, bias) = (B::f32_values(x), B::f32_values(weight), B::f32_values(bias));
    let group = |b: &mut Buffers, i: usize, pooled: &mut [f32], mut win: Option<&mut [u8]>| {
        let n = pooled.len() / (out * q).max(1);
        bias_rows(&mut b.wide, &bias, n * p);
        product_of_images(&x, &weight, g, (i * images, n), &mut b.cols, &mut b.scratch, &mut b.wide);
        for j in 0..n {
            for ch in 0..out {
                let at = (j * out + ch) * q;
                let win = win.as_deref_mut().map(|win| &mut win[at..][..q]);
                pool_plane(&b.wide[ch * n * p + j * p..][..p], g.ow, &mut pooled[at..][..q], win);
            }
        }
    };
    let (pooled, winner) = pooled_outputs(batch * out * q, images * out * q, keep_winners, Buffers::default, group);
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

/// One image's output gradient (`[out, p]`) as the weight gradient's product reads it: rows
/// `p` apart, or `p + 16` apart in `copy` when `p` is a multiple of 512. gemm reads this
/// operand across its rows, and rows 2 KiB or more apart share cache sets: on one Zen 4 core,
/// 32 channels of 27 patch rows over 1024 columns (a CIFAR-10 first layer, "same") ran at 25
/// GFLOP/s, 73 from the copy (64 channels of 576 rows: 91 -> 112). The same bits: gemm's blocks
/// do not depend on strides.
fn output_gradient_rows<'a>(dy: &'a [f32], out: usize, p: usize, copy: &'a mut Vec<f32>) -> Matrix<'a> {
    if !p.is_multiple_of(512) {
        return Matrix::row_major(dy, out, p);
    }
    let stride = p + 16;
    copy.resize(out * stride, 0.0);
    for (row, source) in copy.chunks_exact_mut(stride).zip(dy.chunks_exact(p)) {
        row[..p].copy_from_slice(source);
    }
    Matrix { data: &copy[..], rows: out, cols: p, row_stride: stride, col_stride: 1 }
}

/// `[rows, cols]` row-major -> `[cols, rows]`.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|j| (0..rows).map(move |i| values[i * cols + j])).collect()
}

/// The bias gradient from `grad` (`[batch, out, p]`), for both paths: image by image in groups
/// of [`IMAGES_PER_GROUP`], the groups in order.
fn bias_gradient(grad: &[f32], out: usize, p: usize) -> Vec<f32> {
    let groups = grad.par_chunks(IMAGES_PER_GROUP * out * p).map(|group| {
        let mut sums = vec![0f32; out];
        group.chunks_exact(out * p).for_each(|dy| add_row_sums(&mut sums, dy, p));
        sums
    });
    sum_in_order(groups.collect(), out)
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
    let (out, g) = (weight_shape[0], Geometry::new([c, h, w], weight_shape[2], pad));
    let images = images_per_product(out, g.oh * g.ow, IMAGES_PER_GROUP);
    let (x, weight, grad) = (B::f32_values(x), B::f32_values(weight), B::f32_values(grad));
    let (x_grad, weight_grad) = match winograd::transform_for(c, out, g.k, pad) {
        Some(tr) => (
            input.then(|| winograd::input_gradient(tr, &grad, &weight, batch, [c, h, w])),
            parameters.then(|| winograd::weight_gradient(tr, &x, &grad, batch, [c, h, w])),
        ),
        None => {
            let (x_grad, weight_grad) = backward_values(&x, &weight, &grad, batch, g, (input, parameters), images);
            (input.then_some(x_grad), parameters.then_some(weight_grad))
        }
    };
    let tensor = B::from_f32;
    (
        x_grad.map(|x_grad| tensor(x_grad, vec![batch, c, h, w])),
        weight_grad.map(|weight_grad| tensor(weight_grad, weight_shape.to_vec())),
        parameters.then(|| tensor(bias_gradient(&grad, out, g.oh * g.ow), vec![out])),
    )
}

/// [`conv_backward`]'s values but the bias gradient ([`bias_gradient`]): the input gradient
/// (empty unless `input`) and the weight's (zeros unless `parameters`); input gradients `images`
/// per product.
fn backward_values(
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    batch: usize,
    g: Geometry,
    (input, parameters): (bool, bool),
    images: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (k, p, size) = (g.rows(), g.oh * g.ow, g.c * g.h * g.w);
    let out = weight.len() / k;
    let mut x_grad = vec![0f32; if input { batch * size } else { 0 }];
    // Image by image, summed in order: each image's product adds to the group's sums. (Several
    // images in one product would sum over their columns in other blocks: other bits.) The
    // transposed product, patches x output gradient^T, has the same bits as output gradient x
    // patches^T, and gemm runs it faster: on one Zen 4 core, 64 channels of 288 patch rows over
    // 256 columns 66 -> 95 GFLOP/s, 800 rows 63 -> 106, 32 channels of 75 rows over 1024 columns
    // 19 -> 50 (96 with [`output_gradient_rows`]' copy).
    // The group's sum is transposed, `[c*k*k, out]`, until the end.
    let weight_gradients = |b: &mut Buffers, first: usize, sum: &mut [f32]| {
        for i in first..batch.min(first + IMAGES_PER_GROUP) {
            let dy = &grad[i * out * p..][..out * p];
            b.cols.resize(k * p, 0.0);
            im2col(&x[i * size..][..size], g, &mut b.cols, p, &mut b.scratch);
            let dy_t = output_gradient_rows(dy, out, p, &mut b.wide).transposed();
            matmul(sum, true, Matrix::row_major(&b.cols, k, p), dy_t, false);
        }
    };
    // `images` at a time: their output gradients side by side, one product, then each image's
    // patches' gradients added back into place.
    let input_gradients = |b: &mut Buffers, first: usize, x_grads: &mut [f32]| {
        for (s, x_grads) in x_grads.chunks_mut(images * size).enumerate() {
            let (first, n) = (first + s * images, x_grads.len() / size);
            let dy = if n == 1 {
                &grad[first * out * p..][..out * p]
            } else {
                b.wide.resize(out * n * p, 0.0);
                for (ch, row) in b.wide.chunks_exact_mut(n * p).enumerate() {
                    for (j, part) in row.chunks_exact_mut(p).enumerate() {
                        part.copy_from_slice(&grad[((first + j) * out + ch) * p..][..p]);
                    }
                }
                &b.wide[..]
            };
            b.cols.resize(k * n * p, 0.0);
            let weight_t = Matrix::row_major(weight, out, k).transposed();
            matmul(&mut b.cols, false, weight_t, Matrix::row_major(dy, out, n * p), false);
            for (j, x_grad) in x_grads.chunks_exact_mut(size).enumerate() {
                col2im(&b.cols[j * p..], n * p, g, x_grad, &mut b.scratch);
            }
        }
    };
    // Fixed groups of images, summed in order: the same gradients whatever the thread count and
    // scheduling, so a resumed run repeats an uninterrupted one exactly.
    let group = |b: &mut Buffers, first: usize, x_grads: Option<&mut [f32]>| {
        let mut sum = vec![0f32; out * k];
        if parameters {
            weight_gradients(b, first, &mut sum);
        }
        if let Some(x_grads) = x_grads {
            input_gradients(b, first, x_grads);
        }
        sum
    };
    let partials: Vec<Vec<f32>> = if input {
        let groups = x_grad.par_chunks_mut(IMAGES_PER_GROUP * size).enumerate();
        groups.map_init(Buffers::default, |b, (j, g)| group(b, j * IMAGES_PER_GROUP, Some(g))).collect()
    } else {
        let groups = (0..batch.div_ceil(IMAGES_PER_GROUP)).into_par_iter();
        groups.map_init(Buffers::default, |b, j| group(b, j * IMAGES_PER_GROUP, None)).collect()
    };
    (x_grad, transpose(&sum_in_order(partials, out * k), k, out))
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
            (11, 3, 7, 7, 72, 3, 1), // several images per product
            (3, 16, 9, 7, 20, 3, 1), // Winograd F(4x4, 3x3), part-filled tiles
            (2, 16, 8, 6, 16, 5, 2), // Winograd F(4x4, 5x5), part-filled tiles
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
    fn images_side_by_side_give_the_bits_of_one_image_at_a_time() {
        use super::{Geometry, backward_values, forward_values, images_per_product};
        // 7x7 outputs of 72 channels, as a three-block CNN's last convolution on MNIST.
        let (batch, out, g) = (11, 72, Geometry::new([8, 7, 7], 3, 1));
        assert_eq!([images_per_product(out, 49, 8), images_per_product(out, 49, 4)], [8, 4]);
        // The seed CNN's convolutions and those whose columns fill gemm's registers: one image.
        for (out, columns) in [(32, 676), (64, 121), (128, 64), (64, 196), (64, 49), (32, 25)] {
            assert_eq!(images_per_product(out, columns, 8), 1, "{out} channels, {columns} columns");
        }
        let values = |n: usize, seed: usize| -> Vec<f32> {
            (0..n).map(|i| ((i * 7919 + seed * 104729) % 1009) as f32 / 1009.0 - 0.5).collect()
        };
        let (x, weight, bias) = (values(batch * 8 * 49, 1), values(out * g.rows(), 2), values(out, 3));
        let grad = values(batch * out * 49, 4);
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let one = bits(&forward_values(&x, &weight, &bias, batch, g, 1));
        for images in [2, 4] {
            assert_eq!(one, bits(&forward_values(&x, &weight, &bias, batch, g, images)), "forward, {images}");
        }
        let (x_grad, weight_grad) = backward_values(&x, &weight, &grad, batch, g, (true, true), 1);
        for images in [2, 8] {
            let (x_grad_n, weight_grad_n) = backward_values(&x, &weight, &grad, batch, g, (true, true), images);
            assert_eq!(bits(&x_grad), bits(&x_grad_n), "input gradient, {images}");
            assert_eq!(bits(&weight_grad), bits(&weight_grad_n), "weight gradient, {images}");
        }
        assert!(x_grad.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn the_transposed_weight_gradient_has_the_bits_of_the_direct_product() {
        use super::super::gemm::{Matrix, matmul};
        use super::{Geometry, IMAGES_PER_GROUP, backward_values, im2col};
        let values = |n: usize, seed: usize| -> Vec<f32> {
            (0..n).map(|i| ((i * 7919 + seed * 104729) % 1009) as f32 / 1009.0 - 0.5).collect()
        };
        // The seed CNN's convolutions, a CIFAR-10 first layer "same" with k3 and k5, 64 channels
        // of 16x16 k5 and 7x7 outputs of 72 channels.
        let cases = [([1, 28, 28], 32, 3, 0), ([32, 13, 13], 64, 3, 0), ([3, 32, 32], 32, 3, 1)];
        let cases = cases.into_iter().chain([([3, 32, 32], 32, 5, 2), ([32, 16, 16], 64, 5, 2), ([8, 7, 7], 72, 3, 1)]);
        for (image, out, ksize, pad) in cases {
            let (batch, g) = (IMAGES_PER_GROUP + 3, Geometry::new(image, ksize, pad));
            let (k, p, size) = (g.rows(), g.oh * g.ow, g.c * g.h * g.w);
            let (x, weight, grad) = (values(batch * size, 1), values(out * k, 2), values(batch * out * p, 3));
            let (_, weight_grad) = backward_values(&x, &weight, &grad, batch, g, (false, true), 1);
            // Output gradient x patches^T, image by image in groups, the groups summed in order.
            let (mut expected, mut cols, mut scratch) = (vec![0f32; out * k], vec![0f32; k * p], vec![]);
            for first in (0..batch).step_by(IMAGES_PER_GROUP) {
                let mut group = vec![0f32; out * k];
                for i in first..batch.min(first + IMAGES_PER_GROUP) {
                    im2col(&x[i * size..][..size], g, &mut cols, p, &mut scratch);
                    let dy = Matrix::row_major(&grad[i * out * p..][..out * p], out, p);
                    matmul(&mut group, true, dy, Matrix::row_major(&cols, k, p).transposed(), false);
                }
                expected.iter_mut().zip(&group).for_each(|(e, v)| *e += v);
            }
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&expected), bits(&weight_grad), "{image:?} -> {out}, k{ksize}");
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
            // The direct product, and Winograd's.
            for (k, pad) in [(3, 0), (5, 2)] {
                let conv = conv(16, 16, k, pad, &device);
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
