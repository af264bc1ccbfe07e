//! Winograd's minimal filtering (Lavin and Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016) for the "same" stride-1 convolutions of 3x3 and 5x5 kernels with many
//! channels: F(4x4, 3x3) on 6x6 tiles takes 36 multiply-adds per 4x4 outputs and channel pair
//! where im2col takes 144, F(4x4, 5x5) on 8x8 tiles 64 where it takes 400. Each output tile is
//! `A^T [(G g G^T) . (B^T d B)] A` for an input tile `d` and a kernel `g`; summed over the input
//! channels, the middle product is one matrix product per tile position (the `gemm` crate). The
//! input gradient is the same convolution of the output gradient with the flipped kernel; the
//! weight gradient is F(3x3, 4x4) (or F(5x5, 4x4)) of the input tiles with the output gradient's
//! tiles.
//!
//! Train steps, batch 100, 2 threads, one Zen 4 EPYC, img/s of 3 alternating runs against the
//! im2col path: the three-block CIFAR-10 CNN (`[32, 64, 128]`, same, batch norm) 1956 -> 2368,
//! on MNIST 2313 -> 2767; `[32, 64]` k5 same batch norm (then F(2x2, 5x5) on 6x6 tiles) on
//! CIFAR-10 1552 -> 1743, on MNIST 2046 -> 2509. F(2x2, 3x3) gained nothing on the three-block
//! CNN: its transforms cost what its products saved. F(4x4, 5x5) then took that k5 CNN's steps
//! 1.24-1.27x faster than F(2x2, 5x5) on CIFAR-10 and 1.12-1.24x on MNIST (Zen 3, medians of 6
//! alternating runs, both CPU backends); its rounding is of the same order (1.3e-5 of the largest
//! output against 1.1e-5, 64 channels).
//!
//! The sums are taken in another order than im2col's, so the values differ from the direct
//! product by rounding (the tests bound it against direct sums and Burn's convolution); the
//! seed's "valid" convolutions never come here. The bits do not depend on the thread count.
//!
//! Tiles hold their channels side by side (`[position][channel]`), so every transform is a sum
//! of whole rows of channels, a vector register at a time (`transforms.rs`).

use std::mem::MaybeUninit;

use rayon::prelude::*;

mod transforms;

use super::gemm::{Matrix, matmul_rows, matmul_uninit};
use super::sum_in_order;
use super::uninit::written;
pub(super) use transforms::Transform;
use transforms::{F4_3, F4_5, Layout, sandwich};

/// Channels below which a convolution keeps the direct product: the transforms run a vector
/// register of channels at a time (8 or 16), and a first layer's 1-3 channels would leave them
/// one channel at a time.
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
        5 => Some(&F4_5),
        _ => None,
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
    fn new(tr: &Transform, n: usize, [c, h, w]: [usize; 3]) -> Tiling {
        Tiling { n, c, h, w, th: h.div_ceil(tr.m), tw: w.div_ceil(tr.m) }
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
fn input_tiles(tr: &Transform, x: &[f32], s: Tiling, b: &mut Buffers) {
    let (t, m, c, tiles) = (tr.t, tr.m, s.c, s.tiles());
    let (ph, pw) = (s.th * m + tr.r - 1, s.tw * m + tr.r - 1);
    channels_last(x, s, (ph, pw), (tr.r - 1) / 2, &mut b.image);
    b.input.resize(tiles * t * t * c, 0.0);
    let (from, to) = (Layout { row: pw * c, col: c }, Layout { row: t * c, col: c });
    for (i, j, y, x) in s.each(m) {
        let src = &b.image[((j * ph + y) * pw + x) * c..];
        tr.transform_inputs(c, src, from, &mut b.input[i * t * t * c..], to);
    }
}

/// The "same" convolution of the group's images `x` (`[n][c][h][w]`) with the transformed kernel
/// `u` (`[t * t][c][out]`, [`kernel_tiles`]) into `y` (`[n][out][h][w]`), plus `bias` when given.
fn convolve(
    tr: &Transform,
    x: &[f32],
    s: Tiling,
    u: &[f32],
    bias: Option<&[f32]>,
    y: &mut [MaybeUninit<f32>],
    b: &mut Buffers,
) {
    let (t, m, c, tiles) = (tr.t, tr.m, s.c, s.tiles());
    let out = u.len() / (t * t * c);
    input_tiles(tr, x, s, b);
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
        tr.transform_products(out, &b.product[i * t * t * out..], from, &mut b.tile, Layout { row: m * out, col: out });
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
fn kernel_tiles(tr: &Transform, weight: &[f32], out: usize, c: usize) -> Vec<f32> {
    let (r, t) = (tr.r, tr.t);
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
    let g = tr.kernel_lines();
    for ch in 0..c {
        sandwich(&g, out, &kernels[ch * out..], from, &mut u[ch * out..], to);
    }
    u
}

/// Images per group: about 64 tiles (the rows of each tile position's product), at most 8
/// images. 256 tiles ran no faster (one thread, the k5 CIFAR-10 CNN, then on F(2x2, 5x5): 873 and
/// 897 img/s against 847 and 914).
fn images_per_group(tr: &Transform, h: usize, w: usize) -> usize {
    (64 / (h.div_ceil(tr.m) * w.div_ceil(tr.m))).clamp(1, 8)
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
    let u = kernel_tiles(tr, weight, bias.len(), c);
    convolve_batch(tr, x, &u, Some(bias), batch, [c, h, w])
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
    let u = kernel_tiles(tr, &flipped, c, out);
    convolve_batch(tr, grad, &u, None, batch, [out, h, w])
}

/// [`convolve`] over the batch `x` (`[batch][c][h][w]`), a group of images per task.
fn convolve_batch(
    tr: &Transform,
    x: &[f32],
    u: &[f32],
    bias: Option<&[f32]>,
    batch: usize,
    [c, h, w]: [usize; 3],
) -> Vec<f32> {
    let out = u.len() / (tr.t * tr.t * c);
    let images = images_per_group(tr, h, w);
    let group = |b: &mut Buffers, i: usize, y: &mut [MaybeUninit<f32>]| {
        let s = Tiling::new(tr, y.len() / (out * h * w), [c, h, w]);
        convolve(tr, &x[i * images * c * h * w..][..s.n * c * h * w], s, u, bias, y, b);
    };
    // SAFETY: `convolve` writes each of its images' outputs (each tile writes its pixels inside
    // the image, and the tiles cover it).
    unsafe { written(batch * out * h * w, images * out * h * w, Buffers::default, group) }
}

/// Images whose weight gradient one task sums, all of their tiles the depth of one product per
/// tile position; the tasks' sums are then added in order, so the bits do not depend on the
/// thread count. A product per image (4 tiles deep for the three-block CNN's 8x8 maps, 16 for
/// its 16x16 ones) had left that CNN's steps 1.06-1.12x slower (Zen 3, 4 alternating runs; the k5 CNN's unchanged).
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
    // A group's images in one product per tile position: its tiles are the product's depth.
    let group = |b: &mut Buffers, first: usize| {
        let n = GRADIENT_IMAGES.min(batch - first);
        let (s, grad_tiles) = (Tiling::new(tr, n, [c, h, w]), Tiling::new(tr, n, [out, h, w]));
        let (tiles, gh, gw) = (s.tiles(), s.th * m, s.tw * m);
        input_tiles(tr, &x[first * c * h * w..][..n * c * h * w], s, b);
        // The output gradient's tiles: m x m, zeros past the image.
        channels_last(&grad[first * out * h * w..][..n * out * h * w], grad_tiles, (gh, gw), 0, &mut b.image);
        b.product.resize(tiles * t * t * out, 0.0);
        let (from, to) = (Layout { row: gw * out, col: out }, Layout { row: t * out, col: out });
        for (i, j, y, x) in s.each(m) {
            let src = &b.image[((j * gh + y) * gw + x) * out..];
            tr.transform_gradients(out, src, from, &mut b.product[i * t * t * out..], to);
        }
        // Each tile position's product writes its own `out x c` sums: nothing to zero first.
        let len = t * t * out * c;
        let mut sums = Vec::with_capacity(len);
        for (xi, sum) in sums.spare_capacity_mut()[..len].chunks_exact_mut(out * c).enumerate() {
            let dy = tile_rows(&b.product, xi, tiles, t * t, out).transposed();
            matmul_uninit(sum, dy, tile_rows(&b.input, xi, tiles, t * t, c), false);
        }
        // SAFETY: the chunks cover `len` values, each written by its product.
        unsafe { sums.set_len(len) };
        sums
    };
    let groups = (0..batch).step_by(GRADIENT_IMAGES).collect::<Vec<_>>();
    let partials: Vec<Vec<f32>> = groups.into_par_iter().map_init(Buffers::default, group).collect();
    let sums = sum_in_order(partials, t * t * out * c);
    // Back to kernels: `[r][r][out][c]`, then `[out][c][r][r]`.
    let (lanes, mut kernels) = (out * c, vec![0f32; r * r * out * c]);
    let (from, to) = (Layout { row: t * lanes, col: lanes }, Layout { row: r * lanes, col: lanes });
    sandwich(&tr.kernel_gradient_lines(), lanes, &sums, from, &mut kernels, to);
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
            (&F4_5, 2, [16, 6, 5], 16),
            (&F4_5, 3, [16, 14, 9], 17),
            (&F4_3, 10, [16, 4, 4], 16),
        ] {
            let r = tr.r;
            let (x, weight, bias) = (values(batch * c * h * w, 1), values(out * c * r * r, 2), values(out, 3));
            let grad = values(batch * out * h * w, 4);
            let y = forward(tr, &x, &weight, &bias, batch, [c, h, w]);
            let expected = direct(&x, &weight, batch, [c, h, w], out, r);
            // Rounding: F(4x4, 3x3) reaches ~1e-5 of the largest value (8.0e-6 with the matrices
            // applied entry by entry, 1.25e-5 with the written-out transforms); a wrong coefficient
            // is off by far more.
            let close = |name: &str, got: &[f32], expected: &[f64]| {
                assert_eq!(got.len(), expected.len(), "{name}");
                let scale = expected.iter().fold(0f64, |a, b| a.max(b.abs()));
                let diff = got.iter().zip(expected).fold(0f64, |a, (g, e)| a.max((*g as f64 - e).abs()));
                assert!(diff < 2e-5 * scale, "{name}: r {r}, {c} -> {out}, {h}x{w}: diff {diff}, scale {scale}");
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
