//! The transforms of Winograd's tiles: `dst = M src M^T` for a matrix `M` and a square tile
//! `src` whose entries are rows of lanes (channels), many lanes at a time.
//!
//! The tiles' transforms run for every tile of every image (input, output and output-gradient
//! tiles), so each of their matrices is a [`Line`] written out by hand: its rows share their
//! sums (6x6 tiles' `B^T` takes 14 additions and 7 multiplications where its matrix has 22
//! nonzero entries), and no zero is read. They were 21 % of a one-thread train step of the k5
//! CIFAR-10 CNN (then on F(2x2, 5x5)) as matrices read at run time, 10 % written out (Zen 3).
//! The kernels' transforms run once per step and go through the matrices.

use std::mem::MaybeUninit;

/// Most entries on a side of a tile: 8.
pub(super) const MAX_SIDE: usize = 8;

/// A column of entries, `L` lanes each.
pub(super) type Column<const L: usize> = [[f32; L]; MAX_SIDE];

/// One side of a transform: `y = M x` for a column `x` of `sizes().0` entries, into the first
/// `sizes().1` entries of `y`.
pub(super) trait Line {
    /// (entries in, entries out).
    fn sizes(&self) -> (usize, usize);
    fn apply<const L: usize>(&self, x: &Column<L>) -> Column<L>;
}

/// Where a tile's entries lie in a buffer: entry (i, j)'s lanes start at `i * row + j * col`.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    pub row: usize,
    pub col: usize,
}

/// F(m x m, r x r) and, for the weight gradient, F(r x r, m x m), both on tiles of `t = m + r - 1`
/// with the same interpolation points (0, 1, -1, 2, -2, and 1/2, -1/2 on 8x8 tiles), so they
/// share `B^T`.
/// Cook-Toom's matrices, with the points' products in `G` (the test checks each against a direct
/// 1-D correlation).
pub(in crate::model::cpu_kernels) struct Transform {
    pub m: usize,
    pub r: usize,
    pub t: usize,
    /// `t x t`: an input tile's transform ([`InputLines6`], [`InputLines8`]; the matrices the written-out lines are
    /// tested against).
    #[cfg_attr(not(test), allow(dead_code))]
    bt: &'static [f32],
    /// `t x r`: a kernel's.
    g: &'static [f32],
    /// `m x t`: back to an output tile ([`OutputLines6`], [`OutputLines8`]).
    #[cfg_attr(not(test), allow(dead_code))]
    at: &'static [f32],
    /// `t x m`: an output gradient tile's (F(r, m)'s kernel; [`GradientLines6`], [`GradientLines8`]).
    #[cfg_attr(not(test), allow(dead_code))]
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
pub(super) const F4_3: Transform = Transform {
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

/// `B^T` of 8x8 tiles (points 0, 1, -1, 2, -2, 1/2, -1/2).
#[rustfmt::skip]
const BT8: &[f32] = &[
    1.0, 0.0, -5.25, 0.0, 5.25, 0.0, -1.0, 0.0,
    0.0, 1.0, 1.0, -4.25, -4.25, 1.0, 1.0, 0.0,
    0.0, -1.0, 1.0, 4.25, -4.25, -1.0, 1.0, 0.0,
    0.0, 0.5, 0.25, -2.5, -1.25, 2.0, 1.0, 0.0,
    0.0, -0.5, 0.25, 2.5, -1.25, -2.0, 1.0, 0.0,
    0.0, 2.0, 4.0, -2.5, -5.0, 0.5, 1.0, 0.0,
    0.0, -2.0, 4.0, 2.5, -5.0, -0.5, 1.0, 0.0,
    0.0, -1.0, 0.0, 5.25, 0.0, -5.25, 0.0, 1.0,
];

const NINTH2: f32 = 2.0 / 9.0;
const N90: f32 = 1.0 / 90.0;
const N45: f32 = 1.0 / 45.0;

/// F(4x4, 5x5) on 8x8 tiles: 64 multiply-adds per 16 outputs and channel pair (F(2x2, 5x5) on
/// 6x6 tiles took 36 per 4, 2.25x as many). Its matrices were solved exactly (in rationals) for
/// these points from Cook-Toom's `A^T` and `G`, then the first rows of `B^T` and `G` negated
/// together.
#[rustfmt::skip]
pub(super) const F4_5: Transform = Transform {
    m: 4,
    r: 5,
    t: 8,
    bt: BT8,
    g: &[
        1.0, 0.0, 0.0, 0.0, 0.0,
        -NINTH2, -NINTH2, -NINTH2, -NINTH2, -NINTH2,
        -NINTH2, NINTH2, -NINTH2, NINTH2, -NINTH2,
        N90, N45, 2.0 * N45, 4.0 * N45, 8.0 * N45,
        N90, -N45, 2.0 * N45, -4.0 * N45, 8.0 * N45,
        32.0 * N45, 16.0 * N45, 8.0 * N45, 4.0 * N45, 2.0 * N45,
        32.0 * N45, -16.0 * N45, 8.0 * N45, -4.0 * N45, 2.0 * N45,
        0.0, 0.0, 0.0, 0.0, 1.0,
    ],
    at: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.25, 0.25, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 0.125, -0.125, 1.0,
    ],
    g_grad: &[
        1.0, 0.0, 0.0, 0.0,
        -NINTH2, -NINTH2, -NINTH2, -NINTH2,
        -NINTH2, NINTH2, -NINTH2, NINTH2,
        N90, N45, 2.0 * N45, 4.0 * N45,
        N90, -N45, 2.0 * N45, -4.0 * N45,
        32.0 * N45, 16.0 * N45, 8.0 * N45, 4.0 * N45,
        32.0 * N45, -16.0 * N45, 8.0 * N45, -4.0 * N45,
        0.0, 0.0, 0.0, 1.0,
    ],
    at_grad: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.25, 0.25, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 0.125, -0.125, 0.0,
        0.0, 1.0, 1.0, 16.0, 16.0, 0.0625, 0.0625, 1.0,
    ],
};

impl Transform {
    /// `B^T d B` of input tiles.
    pub(super) fn transform_inputs(&self, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
        match self.t {
            6 => sandwich(&InputLines6, lanes, src, from, dst, to),
            _ => sandwich(&InputLines8, lanes, src, from, dst, to),
        }
    }

    /// `A^T p A` of the products' tiles: output tiles.
    pub(super) fn transform_products(&self, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
        match self.t {
            6 => sandwich(&OutputLines6, lanes, src, from, dst, to),
            _ => sandwich(&OutputLines8, lanes, src, from, dst, to),
        }
    }

    /// The weight gradient's `G g G^T` of output gradient tiles.
    pub(super) fn transform_gradients(&self, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
        match self.t {
            6 => sandwich(&GradientLines6, lanes, src, from, dst, to),
            _ => sandwich(&GradientLines8, lanes, src, from, dst, to),
        }
    }

    /// `G`, the kernels' transform.
    pub(super) fn kernel_lines(&self) -> Rows {
        Rows::new(self.g, self.r)
    }

    /// The weight gradient's `A^T`, from its products' tiles back to kernels.
    pub(super) fn kernel_gradient_lines(&self) -> Rows {
        Rows::new(self.at_grad, self.t)
    }
}

#[inline(always)]
fn add<const L: usize>(a: [f32; L], b: [f32; L]) -> [f32; L] {
    std::array::from_fn(|l| a[l] + b[l])
}

#[inline(always)]
fn sub<const L: usize>(a: [f32; L], b: [f32; L]) -> [f32; L] {
    std::array::from_fn(|l| a[l] - b[l])
}

#[inline(always)]
fn scale<const L: usize>(c: f32, a: [f32; L]) -> [f32; L] {
    std::array::from_fn(|l| c * a[l])
}

/// A column of `n` entries, the rest zero.
#[inline(always)]
fn column<const L: usize, const N: usize>(entries: [[f32; L]; N]) -> Column<L> {
    std::array::from_fn(|i| if i < N { entries[i] } else { [0.0; L] })
}

/// `B^T` of 6x6 tiles, the points 0, 1, -1, 2, -2 (`BT6` in the matrices).
struct InputLines6;

impl Line for InputLines6 {
    fn sizes(&self) -> (usize, usize) {
        (6, 6)
    }

    #[inline(always)]
    fn apply<const L: usize>(&self, d: &Column<L>) -> Column<L> {
        let (s12, d12) = (add(d[1], d[2]), sub(d[1], d[2]));
        let (s34, d43) = (add(d[3], d[4]), sub(d[4], d[3]));
        let (d42, d31) = (sub(d[4], d[2]), scale(2.0, sub(d[3], d[1])));
        column([
            add(sub(scale(4.0, d[0]), scale(5.0, d[2])), d[4]),
            sub(s34, scale(4.0, s12)),
            add(d43, scale(4.0, d12)),
            add(d42, d31),
            sub(d42, d31),
            add(sub(scale(4.0, d[1]), scale(5.0, d[3])), d[5]),
        ])
    }
}

/// `A^T` of F(4x4, 3x3): 4 outputs of 6 entries.
struct OutputLines6;

impl Line for OutputLines6 {
    fn sizes(&self) -> (usize, usize) {
        (6, 4)
    }

    #[inline(always)]
    fn apply<const L: usize>(&self, p: &Column<L>) -> Column<L> {
        let (s12, d12) = (add(p[1], p[2]), sub(p[1], p[2]));
        let (s34, d34) = (add(p[3], p[4]), sub(p[3], p[4]));
        column([
            add(add(p[0], s12), s34),
            add(d12, scale(2.0, d34)),
            add(s12, scale(4.0, s34)),
            add(add(d12, scale(8.0, d34)), p[5]),
        ])
    }
}

/// `G` of F(3x3, 4x4), the weight gradient of F(4x4, 3x3): an output gradient tile's 4 entries
/// to 6.
struct GradientLines6;

impl Line for GradientLines6 {
    fn sizes(&self) -> (usize, usize) {
        (4, 6)
    }

    #[inline(always)]
    fn apply<const L: usize>(&self, g: &Column<L>) -> Column<L> {
        let (s02, s13) = (add(g[0], g[2]), add(g[1], g[3]));
        let even = add(scale(SIXTH / 4.0, g[0]), scale(SIXTH, g[2]));
        let odd = add(scale(SIXTH / 2.0, g[1]), scale(2.0 * SIXTH, g[3]));
        column([
            scale(0.25, g[0]),
            scale(-SIXTH, add(s02, s13)),
            scale(-SIXTH, sub(s02, s13)),
            add(even, odd),
            sub(even, odd),
            g[3],
        ])
    }
}

/// `B^T` of 8x8 tiles (`BT8` in the matrices).
struct InputLines8;

impl Line for InputLines8 {
    fn sizes(&self) -> (usize, usize) {
        (8, 8)
    }

    #[inline(always)]
    fn apply<const L: usize>(&self, d: &Column<L>) -> Column<L> {
        // Rows 1-6 in pairs: an even part plus or minus an odd part.
        let even1 = sub(add(d[2], d[6]), scale(4.25, d[4]));
        let odd1 = sub(add(d[1], d[5]), scale(4.25, d[3]));
        let even2 = add(sub(scale(0.25, d[2]), scale(1.25, d[4])), d[6]);
        let odd2 = add(sub(scale(0.5, d[1]), scale(2.5, d[3])), scale(2.0, d[5]));
        let even3 = add(sub(scale(4.0, d[2]), scale(5.0, d[4])), d[6]);
        let odd3 = add(sub(scale(2.0, d[1]), scale(2.5, d[3])), scale(0.5, d[5]));
        [
            add(sub(d[0], d[6]), scale(5.25, sub(d[4], d[2]))),
            add(even1, odd1),
            sub(even1, odd1),
            add(even2, odd2),
            sub(even2, odd2),
            add(even3, odd3),
            sub(even3, odd3),
            add(sub(d[7], d[1]), scale(5.25, sub(d[3], d[5]))),
        ]
    }
}

/// `A^T` of F(4x4, 5x5): 4 outputs of 8 entries.
struct OutputLines8;

impl Line for OutputLines8 {
    fn sizes(&self) -> (usize, usize) {
        (8, 4)
    }

    #[inline(always)]
    fn apply<const L: usize>(&self, p: &Column<L>) -> Column<L> {
        let (s12, d12) = (add(p[1], p[2]), sub(p[1], p[2]));
        let (s34, d34) = (add(p[3], p[4]), sub(p[3], p[4]));
        let (s56, d56) = (add(p[5], p[6]), sub(p[5], p[6]));
        column([
            add(add(add(p[0], s12), s34), s56),
            add(add(d12, scale(2.0, d34)), scale(0.5, d56)),
            add(add(s12, scale(4.0, s34)), scale(0.25, s56)),
            add(add(add(d12, scale(8.0, d34)), scale(0.125, d56)), p[7]),
        ])
    }
}

/// `G` of F(5x5, 4x4), the weight gradient of F(4x4, 5x5): an output gradient tile's 4 entries
/// to 8.
struct GradientLines8;

impl Line for GradientLines8 {
    fn sizes(&self) -> (usize, usize) {
        (4, 8)
    }

    #[inline(always)]
    fn apply<const L: usize>(&self, g: &Column<L>) -> Column<L> {
        let (s02, s13) = (add(g[0], g[2]), add(g[1], g[3]));
        let even1 = add(scale(N90, g[0]), scale(2.0 * N45, g[2]));
        let odd1 = add(scale(N45, g[1]), scale(4.0 * N45, g[3]));
        let even2 = add(scale(32.0 * N45, g[0]), scale(8.0 * N45, g[2]));
        let odd2 = add(scale(16.0 * N45, g[1]), scale(4.0 * N45, g[3]));
        [
            g[0],
            scale(-NINTH2, add(s02, s13)),
            scale(-NINTH2, sub(s02, s13)),
            add(even1, odd1),
            sub(even1, odd1),
            add(even2, odd2),
            sub(even2, odd2),
            g[3],
        ]
    }
}

/// A matrix's nonzero entries, row by row: (column, value).
pub(super) struct Rows {
    cols: usize,
    rows: Vec<Vec<(usize, f32)>>,
}

impl Rows {
    pub(super) fn new(mat: &[f32], cols: usize) -> Rows {
        assert!(cols <= MAX_SIDE && mat.len() <= MAX_SIDE * cols);
        let rows =
            mat.chunks_exact(cols).map(|row| row.iter().copied().enumerate().filter(|(_, v)| *v != 0.0).collect());
        Rows { cols, rows: rows.collect() }
    }
}

impl Line for Rows {
    fn sizes(&self) -> (usize, usize) {
        (self.cols, self.rows.len())
    }

    #[inline(always)]
    fn apply<const L: usize>(&self, x: &Column<L>) -> Column<L> {
        let mut y = [[0.0; L]; MAX_SIDE];
        for (y, row) in y.iter_mut().zip(&self.rows) {
            for &(i, c) in row {
                *y = add(*y, scale(c, x[i]));
            }
        }
        y
    }
}

/// `dst = M src M^T` for the `line`'s `M`, over `lanes` lanes, with the widest vectors the CPU
/// has (the build targets baseline x86-64). The same bits on each: nothing is fused.
pub(super) fn sandwich<T: Line>(line: &T, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the feature.
            return unsafe { sandwich_avx512(line, lanes, src, from, dst, to) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the feature.
            return unsafe { sandwich_avx2(line, lanes, src, from, dst, to) };
        }
    }
    sandwich_lanes::<T, 4>(line, lanes, src, from, dst, to)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sandwich_avx512<T: Line>(line: &T, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    sandwich_lanes::<T, 16>(line, lanes, src, from, dst, to)
}

/// Eight lanes a block: an AVX2 register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sandwich_avx2<T: Line>(line: &T, lanes: usize, src: &[f32], from: Layout, dst: &mut [f32], to: Layout) {
    sandwich_lanes::<T, 8>(line, lanes, src, from, dst, to)
}

/// [`sandwich`], `L` lanes a block, then one at a time.
#[inline(always)]
fn sandwich_lanes<T: Line, const L: usize>(
    line: &T,
    lanes: usize,
    src: &[f32],
    from: Layout,
    dst: &mut [f32],
    to: Layout,
) {
    let blocks = lanes / L * L;
    for at in (0..blocks).step_by(L) {
        sandwich_block::<T, L>(line, at, src, from, dst, to);
    }
    for at in blocks..lanes {
        sandwich_block::<T, 1>(line, at, src, from, dst, to);
    }
}

/// [`sandwich`] for lanes `at..at + L`: the line down each column of `src`, then along each row
/// of the result.
#[inline(always)]
fn sandwich_block<T: Line, const L: usize>(
    line: &T,
    at: usize,
    src: &[f32],
    from: Layout,
    dst: &mut [f32],
    to: Layout,
) {
    let (n, out) = line.sizes();
    let lanes = |buf: &[f32], i: usize| -> [f32; L] { buf[i..][..L].try_into().unwrap() };
    // `half[j][a]`: entry (a, j) of `M src`, columns `..n` written before they are read (zeroing
    // it first was a `memset` per block, 2 % of a k5 CNN's step).
    let mut half = [const { MaybeUninit::<Column<L>>::uninit() }; MAX_SIDE];
    for (j, half) in half.iter_mut().enumerate().take(n) {
        let x = std::array::from_fn(|i| if i < n { lanes(src, i * from.row + j * from.col + at) } else { [0.0; L] });
        half.write(line.apply(&x));
    }
    for a in 0..out {
        // SAFETY: the loop above wrote columns `..n`.
        let x = std::array::from_fn(|j| if j < n { unsafe { half[j].assume_init_ref()[a] } } else { [0.0; L] });
        for (b, y) in line.apply(&x).iter().enumerate().take(out) {
            dst[a * to.row + b * to.col + at..][..L].copy_from_slice(y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::test_values as values;
    use super::*;

    /// 1-D checks of each matrix set: `A^T [(G g) . (B^T d)]` is the correlation of `d` with `g`.
    #[test]
    fn each_transform_is_a_correlation() {
        for tr in [&F4_3, &F4_5] {
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

    /// A written-out line on one lane.
    type OneLane = fn(&Column<1>) -> Column<1>;

    #[test]
    fn each_written_out_line_is_its_matrix() {
        let lines: [(&str, OneLane, Rows); 6] = [
            ("B^T", |x| InputLines6.apply(x), Rows::new(BT6, 6)),
            ("A^T of F(4, 3)", |x| OutputLines6.apply(x), Rows::new(F4_3.at, 6)),
            ("G of F(3, 4)", |x| GradientLines6.apply(x), Rows::new(F4_3.g_grad, 4)),
            ("B^T of 8x8 tiles", |x| InputLines8.apply(x), Rows::new(BT8, 8)),
            ("A^T of F(4, 5)", |x| OutputLines8.apply(x), Rows::new(F4_5.at, 8)),
            ("G of F(5, 4)", |x| GradientLines8.apply(x), Rows::new(F4_5.g_grad, 4)),
        ];
        for (name, line, mat) in lines {
            let (n, out) = mat.sizes();
            for seed in 0..20 {
                let v = values(n, seed);
                let x: Column<1> = std::array::from_fn(|i| [if i < n { v[i] } else { 0.0 }]);
                let (got, expected) = (line(&x), mat.apply(&x));
                for a in 0..out {
                    let (g, e) = (got[a][0], expected[a][0]);
                    assert!((g - e).abs() <= 1e-6 * (1.0 + e.abs()), "{name}, row {a}: {g} vs {e}");
                }
            }
        }
    }

    #[test]
    fn the_widest_vectors_give_the_bits_of_the_baseline_build() {
        // 40 lanes: 16-lane blocks, 8-lane blocks and single lanes, through every written-out
        // line, on 8x8 tiles (a 6x6 one reads the first entries).
        let lanes = 40;
        let src = values(8 * 8 * lanes, 5);
        let layout = Layout { row: 8 * lanes, col: lanes };
        fn check<T: Line>(line: &T, lanes: usize, src: &[f32], layout: Layout) {
            let (mut dispatched, mut baseline) = (vec![0f32; 64 * lanes], vec![0f32; 64 * lanes]);
            sandwich(line, lanes, src, layout, &mut dispatched, layout);
            sandwich_lanes::<_, 1>(line, lanes, src, layout, &mut baseline, layout);
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&dispatched), bits(&baseline));
            assert!(baseline.iter().any(|v| *v != 0.0));
        }
        check(&InputLines6, lanes, &src, layout);
        check(&OutputLines6, lanes, &src, layout);
        check(&GradientLines6, lanes, &src, layout);
        check(&InputLines8, lanes, &src, layout);
        check(&OutputLines8, lanes, &src, layout);
        check(&GradientLines8, lanes, &src, layout);
    }
}
