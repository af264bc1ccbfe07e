//! Winograd's minimal filtering (Lavin and Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016) for the "same" stride-1 convolutions of 3x3 and 5x5 kernels with many
//! channels: F(4x4, 3x3) takes 36 multiply-adds per 4x4 outputs and channel pair where im2col
//! takes 144, F(2x2, 5x5) 36 where it takes 100. Each output tile is `A^T [(G g G^T) . (B^T d B)] A`
//! for an input tile `d` and a kernel `g`; summed over the input channels, the middle product is
//! one matrix product per tile position (the `gemm` crate). The input gradient is the same
//! convolution of the output gradient with the flipped kernel; the weight gradient is F(3x3, 4x4)
//! (or F(5x5, 2x2)) of the input tiles with the output gradient's tiles.
//!
//! Train steps, batch 100, 2 threads, one Zen 4 EPYC, img/s of 3 alternating runs against the
//! im2col path: the three-block CIFAR-10 CNN (`[32, 64, 128]`, same, batch norm) 1956 -> 2368,
//! on MNIST 2313 -> 2767; `[32, 64]` k5 same batch norm on CIFAR-10 1552 -> 1743, on MNIST
//! 2046 -> 2509. F(2x2, 3x3) gained nothing on the three-block CNN: its transforms cost what its
//! products saved.
//!
//! The sums are taken in another order than im2col's, so the values differ from the direct
//! product by rounding (the tests bound it against direct sums and Burn's convolution); the
//! seed's "valid" convolutions never come here. The bits do not depend on the thread count.
//!
//! Tiles hold their channels side by side (`[position][channel]`), so every transform is a sum
//! of whole rows of channels, 16 at a time.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::gemm::{Matrix, matmul_rows};
use super::sum_in_order;
use super::uninit::written;

/// F(m x m, r x r) and, for the weight gradient, F(r x r, m x m), both on tiles of `t = m + r - 1`
/// with the same interpolation points (0, 1, -1, 2, -2), so they share `B^T`.
/// Cook-Toom's matrices, with the points' products in `G` (the test checks each against a direct
/// 1-D correlation).
pub(super) struct Transform {
    m: usize,
    r: usize,
    t: usize,
    /// `t x t`: an input tile's transform.
    bt: &'static [f32],
    /// `t x r`: a kernel's.
    g: &'static [f32],
    /// `m x t`: back to an output tile.
    at: &'static [f32],
    /// `t x m`: an output gradient tile's (F(r, m)'s kernel).
    g_grad: &'static [f32],
    /// `r x t`: back to a kernel's gradient (F(r, m)'s output).
    at_grad: &'static [f32],
}

const SIXTH: f32 = 1.0 / 6.0;

/// `B^T` of 6x6 tiles (points 0, 1, -1, 2, -2).
#[rustfmt::skip]
const BT6: &[f32] = &[
    4.0, 0.0, -5.0, 0.0, 1.0, 0.0,
    0.0, -4.0, -4.0, 1.0, 1.0, 0.0,
    0.0, 4.0, -4.0, -1.0, 1.0, 0.0,
    0.0, -2.0, -1.0, 2.0, 1.0, 0.0,
    0.0, 2.0, -1.0, -2.0, 1.0, 0.0,
    0.0, 4.0, 0.0, -5.0, 0.0, 1.0,
];

#[rustfmt::skip]
const F4_3: Transform = Transform {
    m: 4,
    r: 3,
    t: 6,
    bt: BT6,
    g: &[
        0.25, 0.0, 0.0,
        -SIXTH, -SIXTH, -SIXTH,
        -SIXTH, SIXTH, -SIXTH,
        SIXTH / 4.0, SIXTH / 2.0, SIXTH,
        SIXTH / 4.0, -SIXTH / 2.0, SIXTH,
        0.0, 0.0, 1.0,
    ],
    at: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 1.0,
    ],
    g_grad: &[
        0.25, 0.0, 0.0, 0.0,
        -SIXTH, -SIXTH, -SIXTH, -SIXTH,
        -SIXTH, SIXTH, -SIXTH, SIXTH,
        SIXTH / 4.0, SIXTH / 2.0, SIXTH, 2.0 * SIXTH,
        SIXTH / 4.0, -SIXTH / 2.0, SIXTH, -2.0 * SIXTH,
        0.0, 0.0, 0.0, 1.0,
    ],
    at_grad: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 1.0,
    ],
};

#[rustfmt::skip]
const F2_5: Transform = Transform {
    m: 2,
    r: 5,
    t: 6,
    bt: BT6,
    g: &[
        0.25, 0.0, 0.0, 0.0, 0.0,
        -SIXTH, -SIXTH, -SIXTH, -SIXTH, -SIXTH,
        -SIXTH, SIXTH, -SIXTH, SIXTH, -SIXTH,
        SIXTH / 4.0, SIXTH / 2.0, SIXTH, 2.0 * SIXTH, 4.0 * SIXTH,
        SIXTH / 4.0, -SIXTH / 2.0, SIXTH, -2.0 * SIXTH, 4.0 * SIXTH,
        0.0, 0.0, 0.0, 0.0, 1.0,
    ],
    at: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 1.0,
    ],
    g_grad: &[
        0.25, 0.0,
        -SIXTH, -SIXTH,
        -SIXTH, SIXTH,
        SIXTH / 4.0, SIXTH / 2.0,
        SIXTH / 4.0, -SIXTH / 2.0,
        0.0, 1.0,
    ],
    at_grad: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 0.0,
        0.0, 1.0, 1.0, 16.0, 16.0, 1.0,
    ],
};

/// Channels below which a convolution keeps the direct product: the transforms run 16 channels
/// at a time, and a first layer's 1-3 channels would leave them one channel at a time.
const MIN_CHANNELS: usize = 16;

/// The transform for a convolution of `c` input and `out` output channels, a `k x k` kernel and
/// `pad` zeros on each side, when it takes one: "same" 3x3 and 5x5 kernels with at least
/// [`MIN_CHANNELS`] channels on both sides.
pub(super) fn transform_for(c: usize, out: usize, k: usize, pad: usize) -> Option<&'static Transform> {
    if c < MIN_CHANNELS || out < MIN_CHANNELS || 2 * pad + 1 != k {
        return None;
    }
    match k {
        3 => Some(&F4_3),
        5 => Some(&F2_5),
        _ => None,
    }
}

/// A transform matrix's nonzero entries, row by row: (column, value). The transforms skip the
/// zeros (about half of each matrix).
struct Rows {
    cols: usize,
    rows: Vec<Vec<(usize, f32)>>,
}

impl Rows {
    fn new(mat: &[f32], cols: usize) -> Rows {
        let rows =
            mat.chunks_exact(cols).map(|row| row.iter().copied().enumerate().filter(|(_, v)| *v != 0.0).collect());
        Rows { cols, rows: rows.collect() }
    }
}

/// A transform's sizes, and its matrices as [`Rows`].
struct Plan {
    m: usize,
    r: usize,
    t: usize,
    bt: Rows,
    g: Rows,
    at: Rows,
    g_grad: Rows,
    at_grad: Rows,
}

impl Plan {
    fn new(tr: &Transform) -> Plan {
        let (m, r, t) = (tr.m, tr.r, tr.t);
        Plan {
            m,
            r,
            t,
            bt: Rows::new(tr.bt, t),
            g: Rows::new(tr.g, r),
            at: Rows::new(tr.at, t),
            g_grad: Rows::new(tr.g_grad, m),
            at_grad: Rows::new(tr.at_grad, t),
        }
    }
}

/// Where a tile's entries lie in a buffer: entry (i, j)'s `lanes` values start at
/// `i * row + j * col`.
#[derive(Clone, Copy)]
struct Layout {
    row: usize,
    col: usize,
}

/// Lanes transformed as one block: an AVX-512 register.
const BLOCK: usize = 16;

/// `dst = mat src mat^T` for tiles whose entries are `lanes` values each (`mat` is `rows x cols`,
/// `src` `cols x cols`, `dst` `rows x rows`), [`BLOCK`] lanes at a time, with the widest vectors
/// the CPU has (the build targets baseline x86-64). The same bits on each: nothing is fused.
fn sandwich(mat: &Rows, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the feature.
            return unsafe { sandwich_avx512(mat, lanes, src, from, dst, to) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the feature.
            return unsafe { sandwich_avx2(mat, lanes, src, from, dst, to) };
        }
    }
    sandwich_any(mat, lanes, src, from, dst, to)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sandwich_avx512(mat: &Rows, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    sandwich_any(mat, lanes, src, from, dst, to)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sandwich_avx2(mat: &Rows, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    sandwich_any(mat, lanes, src, from, dst, to)
}

#[inline(always)]
fn sandwich_any(mat: &Rows, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    let blocks = lanes / BLOCK * BLOCK;
    for at in (0..blocks).step_by(BLOCK) {
        sandwich_block::<BLOCK>(mat, at, src, from, dst, to);
    }
    for at in blocks..lanes {
        sandwich_block::<1>(mat, at, src, from, dst, to);
    }
}

/// The largest tile: 6 x 6.
const MAX_ENTRIES: usize = 36;

/// [`sandwich`] for lanes `at..at + L`.
#[inline(always)]
fn sandwich_block<const L: usize>(mat: &Rows, at: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    let cols = mat.cols;
    assert!(mat.rows.len() * cols <= MAX_ENTRIES);
    // `mat src`, written before it is read: zeroing it first cost more than the transform.
    let mut tmp = [const { MaybeUninit::<[f32; L]>::uninit() }; MAX_ENTRIES];
    for (a, row) in mat.rows.iter().enumerate() {
        for j in 0..cols {
            let mut acc = [0f32; L];
            for &(i, c) in row {
                let x: &[f32; L] = src[i * from.row + j * from.col + at..][..L].try_into().unwrap();
                (0..L).for_each(|l| acc[l] += c * x[l]);
            }
            tmp[a * cols + j].write(acc);
        }
    }
    for a in 0..mat.rows.len() {
        for (b, row) in mat.rows.iter().enumerate() {
            let mut acc = [0f32; L];
            for &(j, c) in row {
                // SAFETY: the loop above wrote entries `..rows * cols`.
                let x = unsafe { tmp[a * cols + j].assume_init_ref() };
                (0..L).for_each(|l| acc[l] += c * x[l]);
            }
            dst[a * to.row + b * to.col + at..][..L].copy_from_slice(&acc);
        }
    }
}

/// A pool thread's buffers, kept from one group of images to the next.
#[derive(Default)]
struct Buffers {
    /// The group's images, channels last, zero-padded.
    image: Vec<f32>,
    /// The transformed input tiles, `[tiles][t * t][c]`: each tile's transform in one place;
    /// a tile position's product reads its rows `t * t * c` apart.
    input: Vec<f32>,
    /// The products, `[tiles][t * t][out]`, or the transformed output gradient tiles.
    product: Vec<f32>,
    /// One output tile, `[m * m][out]`.
    tile: Vec<f32>,
}

/// The tiles of a group of `n` images of `[c, h, w]`.
#[derive(Clone, Copy)]
struct Tiling {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    /// Tiles down and across an image.
    th: usize,
    tw: usize,
}

impl Tiling {
    fn new(plan: &Plan, n: usize, [c, h, w]: [usize; 3]) -> Tiling {
        Tiling { n, c, h, w, th: h.div_ceil(plan.m), tw: w.div_ceil(plan.m) }
    }

    fn tiles(&self) -> usize {
        self.n * self.th * self.tw
    }

    /// Tile index and the (row, column) of its first output: image by image, row by row.
    fn each(&self, m: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> + use<> {
        let (th, tw) = (self.th, self.tw);
        (0..self.n * th * tw).map(move |i| (i, i / (th * tw), i % (th * tw) / tw * m, i % tw * m))
    }
}

/// Tile position `xi`'s `[tiles, lanes]` matrix in a `[tiles][positions][lanes]` buffer.
fn tile_rows(values: &[f32], xi: usize, tiles: usize, positions: usize, lanes: usize) -> Matrix<'_> {
    Matrix { data: &values[xi * lanes..], rows: tiles, cols: lanes, row_stride: positions * lanes, col_stride: 1 }
}

/// `images` (`[n][c][h][w]`) channels last, `[n][ph][pw][c]`, each at row and column `pad`, zeros
/// around.
fn channels_last(images: &[f32], s: Tiling, (ph, pw): (usize, usize), pad: usize, out: &mut Vec<f32>) {
    let c = s.c;
    out.clear();
    out.resize(s.n * ph * pw * c, 0.0);
    for (j, image) in images.chunks_exact(c * s.h * s.w).enumerate() {
        for (ch, plane) in image.chunks_exact(s.h * s.w).enumerate() {
            for (y, line) in plane.chunks_exact(s.w).enumerate() {
                let row = &mut out[((j * ph + y + pad) * pw + pad) * c + ch..];
                for (x, v) in line.iter().enumerate() {
                    row[x * c] = *v;
                }
            }
        }
    }
}

/// The transformed input tiles of the group's images into `b.input` (`[tiles][t * t][c]`).
fn input_tiles(plan: &Plan, x: &[f32], s: Tiling, b: &mut Buffers) {
    let (t, m, c, tiles) = (plan.t, plan.m, s.c, s.tiles());
    let (ph, pw) = (s.th * m + plan.r - 1, s.tw * m + plan.r - 1);
    channels_last(x, s, (ph, pw), (plan.r - 1) / 2, &mut b.image);
    b.input.resize(tiles * t * t * c, 0.0);
    let (from, to) = (Layout { row: pw * c, col: c }, Layout { row: t * c, col: c });
    for (i, j, y, x) in s.each(m) {
        let src = &b.image[((j * ph + y) * pw + x) * c..];
        sandwich(&plan.bt, c, src, from, &mut b.input[i * t * t * c..], to);
    }
}

/// The "same" convolution of the group's images `x` (`[n][c][h][w]`) with the transformed kernel
/// `u` (`[t * t][c][out]`, [`kernel_tiles`]) into `y` (`[n][out][h][w]`), plus `bias` when given.
fn convolve(
    plan: &Plan,
    x: &[f32],
    s: Tiling,
    u: &[f32],
    bias: Option<&[f32]>,
    y: &mut [MaybeUninit<f32>],
    b: &mut Buffers,
) {
    let (t, m, c, tiles) = (plan.t, plan.m, s.c, s.tiles());
    let out = u.len() / (t * t * c);
    input_tiles(plan, x, s, b);
    b.product.resize(tiles * t * t * out, 0.0);
    for xi in 0..t * t {
        let v = tile_rows(&b.input, xi, tiles, t * t, c);
        let u = Matrix::row_major(&u[xi * c * out..][..c * out], c, out);
        matmul_rows(&mut b.product[xi * out..], t * t * out, false, v, u);
    }
    b.tile.resize(m * m * out, 0.0);
    let from = Layout { row: t * out, col: out };
    let (hw, zeros) = (s.h * s.w, vec![0.0; out]);
    let bias = bias.unwrap_or(&zeros);
    for (i, j, y0, x0) in s.each(m) {
        sandwich(&plan.at, out, &b.product[i * t * t * out..], from, &mut b.tile, Layout { row: m * out, col: out });
        for (a, bb) in (0..m * m).map(|p| (p / m, p % m)) {
            let (yy, xx) = (y0 + a, x0 + bb);
            if yy < s.h && xx < s.w {
                let values = &b.tile[(a * m + bb) * out..][..out];
                for (k, (v, bias)) in values.iter().zip(bias).enumerate() {
                    y[(j * out + k) * hw + yy * s.w + xx].write(v + bias);
                }
            }
        }
    }
}

/// `weight` (`[out][c][r][r]`) as `[t * t][c][out]`: `G g G^T` for each pair of channels.
fn kernel_tiles(plan: &Plan, weight: &[f32], out: usize, c: usize) -> Vec<f32> {
    let (r, t) = (plan.r, plan.t);
    let mut kernels = vec![0f32; r * r * c * out];
    for (k, kernel) in weight.chunks_exact(c * r * r).enumerate() {
        for (ch, taps) in kernel.chunks_exact(r * r).enumerate() {
            for (p, v) in taps.iter().enumerate() {
                kernels[(p * c + ch) * out + k] = *v;
            }
        }
    }
    let mut u = vec![0f32; t * t * c * out];
    let (from, to) = (Layout { row: r * c * out, col: c * out }, Layout { row: t * c * out, col: c * out });
    for ch in 0..c {
        sandwich(&plan.g, out, &kernels[ch * out..], from, &mut u[ch * out..], to);
    }
    u
}

/// Images per group: about 64 tiles (the rows of each tile position's product), at most 8
/// images. 256 tiles ran no faster (one thread, the k5 CIFAR-10 CNN: 873 and 897 img/s against
/// 847 and 914).
fn images_per_group(plan: &Plan, h: usize, w: usize) -> usize {
    (64 / (h.div_ceil(plan.m) * w.div_ceil(plan.m))).clamp(1, 8)
}

/// The convolution of `x` (`[batch][c][h][w]`) with `weight` (`[out][c][r][r]`) and `bias`,
/// "same" padding, stride 1.
pub(super) fn forward(
    tr: &Transform,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    batch: usize,
    [c, h, w]: [usize; 3],
) -> Vec<f32> {
    let plan = Plan::new(tr);
    let u = kernel_tiles(&plan, weight, bias.len(), c);
    convolve_batch(&plan, x, &u, Some(bias), batch, [c, h, w])
}

/// The gradient of [`forward`] for its input, from `grad` (`[batch][out][h][w]`): the same
/// convolution of `grad` with the kernel flipped and its channels swapped.
pub(super) fn input_gradient(
    tr: &Transform,
    grad: &[f32],
    weight: &[f32],
    batch: usize,
    [c, h, w]: [usize; 3],
) -> Vec<f32> {
    let (r, out) = (tr.r, weight.len() / (c * tr.r * tr.r));
    let mut flipped = vec![0f32; weight.len()];
    for k in 0..out {
        for ch in 0..c {
            for p in 0..r * r {
                flipped[(ch * out + k) * r * r + p] = weight[(k * c + ch) * r * r + r * r - 1 - p];
            }
        }
    }
    let plan = Plan::new(tr);
    let u = kernel_tiles(&plan, &flipped, c, out);
    convolve_batch(&plan, grad, &u, None, batch, [out, h, w])
}

/// [`convolve`] over the batch `x` (`[batch][c][h][w]`), a group of images per task.
fn convolve_batch(
    plan: &Plan,
    x: &[f32],
    u: &[f32],
    bias: Option<&[f32]>,
    batch: usize,
    [c, h, w]: [usize; 3],
) -> Vec<f32> {
    let out = u.len() / (plan.t * plan.t * c);
    let images = images_per_group(plan, h, w);
    let group = |b: &mut Buffers, i: usize, y: &mut [MaybeUninit<f32>]| {
        let s = Tiling::new(plan, y.len() / (out * h * w), [c, h, w]);
        convolve(plan, &x[i * images * c * h * w..][..s.n * c * h * w], s, u, bias, y, b);
    };
    // SAFETY: `convolve` writes each of its images' outputs (each tile writes its pixels inside
    // the image, and the tiles cover it).
    unsafe { written(batch * out * h * w, images * out * h * w, Buffers::default, group) }
}

/// Images whose weight gradient one task sums; the tasks' sums are then added in order, so the
/// bits do not depend on the thread count.
const GRADIENT_IMAGES: usize = 8;

/// The gradient of [`forward`] for its weight (`[out][c][r][r]`), from `grad`
/// (`[batch][out][h][w]`).
pub(super) fn weight_gradient(
    tr: &Transform,
    x: &[f32],
    grad: &[f32],
    batch: usize,
    [c, h, w]: [usize; 3],
) -> Vec<f32> {
    let (t, m, r) = (tr.t, tr.m, tr.r);
    let out = grad.len() / (batch * h * w);
    let plan = Plan::new(tr);
    // Image by image, each image's products added to the group's sums.
    let (s, grad_tiles) = (Tiling::new(&plan, 1, [c, h, w]), Tiling::new(&plan, 1, [out, h, w]));
    let (tiles, gh, gw) = (s.tiles(), s.th * m, s.tw * m);
    let group = |b: &mut Buffers, first: usize| {
        let mut sums = vec![0f32; t * t * out * c];
        for image in first..batch.min(first + GRADIENT_IMAGES) {
            input_tiles(&plan, &x[image * c * h * w..][..c * h * w], s, b);
            // The output gradient's tiles: m x m, zeros past the image.
            channels_last(&grad[image * out * h * w..][..out * h * w], grad_tiles, (gh, gw), 0, &mut b.image);
            b.product.resize(tiles * t * t * out, 0.0);
            let (from, to) = (Layout { row: gw * out, col: out }, Layout { row: t * out, col: out });
            for (i, _, y, x) in s.each(m) {
                let src = &b.image[(y * gw + x) * out..];
                sandwich(&plan.g_grad, out, src, from, &mut b.product[i * t * t * out..], to);
            }
            for (xi, sum) in sums.chunks_exact_mut(out * c).enumerate() {
                let dy = tile_rows(&b.product, xi, tiles, t * t, out).transposed();
                matmul_rows(sum, c, true, dy, tile_rows(&b.input, xi, tiles, t * t, c));
            }
        }
        sums
    };
    let groups = (0..batch).step_by(GRADIENT_IMAGES).collect::<Vec<_>>();
    let partials: Vec<Vec<f32>> = groups.into_par_iter().map_init(Buffers::default, group).collect();
    let sums = sum_in_order(partials, t * t * out * c);
    // Back to kernels: `[r][r][out][c]`, then `[out][c][r][r]`.
    let (lanes, mut kernels) = (out * c, vec![0f32; r * r * out * c]);
    let (from, to) = (Layout { row: t * lanes, col: lanes }, Layout { row: r * lanes, col: lanes });
    sandwich(&plan.at_grad, lanes, &sums, from, &mut kernels, to);
    let mut weight = vec![0f32; out * c * r * r];
    for (p, plane) in kernels.chunks_exact(lanes).enumerate() {
        for (pair, v) in plane.iter().enumerate() {
            weight[pair * r * r + p] = *v;
        }
    }
    weight
}

#[cfg(test)]
mod tests {
    use super::super::test_values as values;
    use super::*;

    /// 1-D checks of each matrix set: `A^T [(G g) . (B^T d)]` is the correlation of `d` with `g`.
    #[test]
    fn each_transform_is_a_correlation() {
        for tr in [&F4_3, &F2_5] {
            let (m, r, t) = (tr.m, tr.r, tr.t);
            // F(m, r) with (bt, g, at), then F(r, m) with (bt, g_grad, at_grad).
            for (outputs, taps, g_mat, a_mat) in [(m, r, tr.g, tr.at), (r, m, tr.g_grad, tr.at_grad)] {
                let (d, g) = (values(t, 1), values(taps, 2));
                let mul = |mat: &[f32], v: &[f32]| -> Vec<f32> {
                    mat.chunks_exact(v.len()).map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect()
                };
                let product: Vec<f32> = mul(g_mat, &g).iter().zip(mul(tr.bt, &d)).map(|(a, b)| a * b).collect();
                let got = mul(a_mat, &product);
                for (i, got) in got.iter().enumerate().take(outputs) {
                    let expected: f32 = (0..taps).map(|j| d[i + j] * g[j]).sum();
                    assert!((got - expected).abs() < 1e-5, "F({outputs}, {taps}) output {i}: {got} vs {expected}");
                }
            }
        }
    }

    /// A direct "same" convolution in f64, `[batch][out][h][w]`.
    fn direct(x: &[f32], weight: &[f32], batch: usize, [c, h, w]: [usize; 3], out: usize, r: usize) -> Vec<f64> {
        let pad = (r / 2) as isize;
        let mut y = vec![0f64; batch * out * h * w];
        for n in 0..batch {
            for k in 0..out {
                for yy in 0..h {
                    for xx in 0..w {
                        let mut s = 0f64;
                        for ch in 0..c {
                            for i in 0..r {
                                for j in 0..r {
                                    let (sy, sx) = (yy as isize + i as isize - pad, xx as isize + j as isize - pad);
                                    if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w {
                                        let v = x[((n * c + ch) * h + sy as usize) * w + sx as usize];
                                        s += v as f64 * weight[((k * c + ch) * r + i) * r + j] as f64;
                                    }
                                }
                            }
                        }
                        y[((n * out + k) * h + yy) * w + xx] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn forward_and_gradients_equal_the_direct_sums() {
        // Odd sizes leave part-filled tiles at the right and bottom edges.
        for (tr, batch, [c, h, w], out) in [
            (&F4_3, 3, [16, 7, 9], 17),
            (&F4_3, 2, [16, 13, 10], 16),
            (&F2_5, 2, [16, 6, 5], 16),
            (&F4_3, 10, [16, 4, 4], 16),
        ] {
            let r = tr.r;
            let (x, weight, bias) = (values(batch * c * h * w, 1), values(out * c * r * r, 2), values(out, 3));
            let grad = values(batch * out * h * w, 4);
            let y = forward(tr, &x, &weight, &bias, batch, [c, h, w]);
            let expected = direct(&x, &weight, batch, [c, h, w], out, r);
            let close = |name: &str, got: &[f32], expected: &[f64]| {
                assert_eq!(got.len(), expected.len(), "{name}");
                let scale = expected.iter().fold(0f64, |a, b| a.max(b.abs()));
                let diff = got.iter().zip(expected).fold(0f64, |a, (g, e)| a.max((*g as f64 - e).abs()));
                assert!(diff < 1e-5 * scale, "{name}: r {r}, {c} -> {out}, {h}x{w}: diff {diff}, scale {scale}");
            };
            let with_bias: Vec<f64> =
                expected.iter().enumerate().map(|(i, e)| e + bias[i / (h * w) % out] as f64).collect();
            close("forward", &y, &with_bias);
            // Input gradient: the direct sums of grad with the kernel flipped and channels swapped.
            let mut flipped = vec![0f32; weight.len()];
            for k in 0..out {
                for ch in 0..c {
                    for p in 0..r * r {
                        flipped[(ch * out + k) * r * r + p] = weight[(k * c + ch) * r * r + r * r - 1 - p];
                    }
                }
            }
            let dx = input_gradient(tr, &grad, &weight, batch, [c, h, w]);
            close("input gradient", &dx, &direct(&grad, &flipped, batch, [out, h, w], c, r));
            // Weight gradient: sum over images and pixels of grad x the shifted input.
            let pad = (r / 2) as isize;
            let mut dw = vec![0f64; out * c * r * r];
            for n in 0..batch {
                for k in 0..out {
                    for ch in 0..c {
                        for (p, sum) in dw[(k * c + ch) * r * r..][..r * r].iter_mut().enumerate() {
                            let (i, j) = ((p / r) as isize - pad, (p % r) as isize - pad);
                            for yy in 0..h as isize {
                                for xx in 0..w as isize {
                                    let (sy, sx) = (yy + i, xx + j);
                                    if sy >= 0 && sx >= 0 && sy < h as isize && sx < w as isize {
                                        let v = x[((n * c + ch) * h + sy as usize) * w + sx as usize] as f64;
                                        *sum += v * grad[((n * out + k) * h + yy as usize) * w + xx as usize] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            close("weight gradient", &weight_gradient(tr, &x, &grad, batch, [c, h, w]), &dw);
        }
    }

    #[test]
    fn the_widest_vectors_give_the_bits_of_the_baseline_build() {
        // 40 lanes: two 16-lane blocks and 8 single lanes; the input transform of a 6x6 tile.
        let (plan, lanes) = (Plan::new(&F2_5), 40);
        let src = values(6 * 6 * lanes, 5);
        let (from, to) = (Layout { row: 6 * lanes, col: lanes }, Layout { row: 6 * lanes, col: lanes });
        let (mut dispatched, mut baseline) = (vec![0f32; 36 * lanes], vec![0f32; 36 * lanes]);
        sandwich(&plan.bt, lanes, &src, from, &mut dispatched, to);
        sandwich_any(&plan.bt, lanes, &src, from, &mut baseline, to);
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&dispatched), bits(&baseline));
        assert!(baseline.iter().any(|v| *v != 0.0));
    }

    #[test]
    fn only_same_3x3_and_5x5_kernels_with_enough_channels_take_it() {
        assert_eq!(transform_for(32, 64, 3, 1).map(|t| t.r), Some(3));
        assert_eq!(transform_for(16, 16, 5, 2).map(|t| t.r), Some(5));
        // The seed's "valid" convolutions, a first layer of 3 channels, 7x7 kernels.
        for (c, out, k, pad) in
            [(1, 32, 3, 0), (32, 64, 3, 0), (3, 32, 3, 1), (32, 8, 3, 1), (32, 64, 7, 3), (32, 64, 5, 0)]
        {
            assert!(transform_for(c, out, k, pad).is_none(), "{c} -> {out}, k{k} pad {pad}");
        }
    }
}
