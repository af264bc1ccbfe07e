//! Matrix products for the kernels, with the `gemm` crate.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// A matrix inside a slice: element (i, j) at `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
pub(super) struct Matrix<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Matrix<'a> {
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Matrix<'a> {
        Matrix { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    pub fn transposed(self) -> Matrix<'a> {
        Matrix { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }
}

/// Multiply-adds below which a product runs on the calling thread: the seed NN's 10M (100x784x128,
/// forward and weight gradient) are split. Measured on 2 cores (AMD EPYC Zen 3, AVX2), `runner
/// bench` on the seed NN, paired medians of 8-12 alternating runs against 12M, four sittings:
/// 1.06x and 1.47x (cpu), 1.43x and 1.33x (ndarray). The host's state moves between sittings:
/// an FMA loop on one vCPU ran at 95 GFLOP/s whether or not the other ran one too at some times,
/// and at 50 each at others. The earlier 0.85x for these products was with the split by rows,
/// each thread packing all of the weight; split by columns (below) each packs its half.
/// gemm's own split was slower than one thread up to far larger products (100x784x128: 157
/// GFLOP/s on one, 87 on two).
const PARALLEL_MACS: usize = 8 << 20;

/// `dst` (row-major, `a.rows x b.cols`) `= a * b`, or `+= a * b` when `accumulate`. On this
/// thread when `threads` is false (callers that already run one task per pool thread), else on
/// the pool when the product is large enough to gain from it: one block per thread, each a
/// product of its own (202 GFLOP/s on two threads for 100x784x512, gemm's own split 182).
///
/// The blocks split the larger operand: rows of `a`, or columns of `b` when `b` is larger (a
/// dense layer's weight against a batch of 100) and `a` has more than 64 rows, so that each
/// thread packs only its share of it.
/// Split by rows, every thread packed all of the weight: on 2 cores (AMD EPYC Zen 3), medians of
/// 40, a 100x3072x128 forward product took 1.55 ms by rows and 1.19 ms by columns, 100x3072x512
/// 4.55 and 4.21 ms, 100x1600x128 (the seed CNN's) 0.77 and 0.69 ms.
///
/// The bits do not depend on the split: gemm sums each element over k in blocks whose size
/// depends on k alone, unless both sides of its (transposed) problem are at most 64, which the
/// split avoids: it leaves whole rows of more than 64 columns, or whole columns of more than 64
/// rows, and splits only into blocks of 8 rows or 16 columns or more.
pub(super) fn matmul(dst: &mut [f32], accumulate: bool, a: Matrix, b: Matrix, threads: bool) {
    // SAFETY: `dst` is a slice this call borrows whole.
    unsafe { matmul_into(Destination(dst.as_mut_ptr(), dst.len()), accumulate, a, b, threads) }
}

/// [`matmul`] into a new vector, each value written once by the product: no zeroing first.
pub(super) fn matmul_to_vec(a: Matrix, b: Matrix, threads: bool) -> Vec<f32> {
    let len = a.rows * b.cols;
    let mut values = Vec::with_capacity(len);
    matmul_uninit(&mut values.spare_capacity_mut()[..len], a, b, threads);
    // SAFETY: the product wrote all `len` values.
    unsafe { values.set_len(len) };
    values
}

/// [`matmul`] into values never written (row-major, `a.rows x b.cols` exactly): gemm writes
/// every one of them once and, not accumulating, reads none.
pub(super) fn matmul_uninit(dst: &mut [MaybeUninit<f32>], a: Matrix, b: Matrix, threads: bool) {
    assert_eq!(dst.len(), a.rows * b.cols, "matmul: destination is not the product's size");
    // SAFETY: `dst` is a slice this call borrows whole.
    unsafe { matmul_into(Destination(dst.as_mut_ptr().cast(), dst.len()), false, a, b, threads) }
}

/// [`matmul`] through a raw destination.
///
/// # Safety
/// As [`product`]'s: `dst` valid for writes of its `len` floats, which no other thread touches.
unsafe fn matmul_into(dst: Destination, accumulate: bool, a: Matrix, b: Matrix, threads: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let large = threads && m * n * k >= PARALLEL_MACS;
    // A batch of 64 rows or fewer (batch_size = 32) keeps the split by rows.
    let by_columns = large && b.rows * b.cols > a.rows * a.cols && m > 64;
    let tasks = if by_columns {
        rayon::current_num_threads().min(n / 16).max(1)
    } else if large && n > 64 {
        rayon::current_num_threads().min(m / 8).max(1)
    } else {
        1
    };
    if tasks == 1 {
        // SAFETY: as the caller's.
        return unsafe { product(dst, n, accumulate, a, b) };
    }
    if by_columns {
        // Multiples of 16 columns: whole tiles of gemm's AVX2 kernel (its tile height in its
        // transposed view), so only the last block ends in a part-filled one.
        let cols = n.div_ceil(tasks).next_multiple_of(16);
        return (0..n.div_ceil(cols)).into_par_iter().for_each(|block| {
            let j = block * cols;
            let b = Matrix { data: &b.data[j * b.col_stride..], cols: cols.min(n - j), ..b };
            // SAFETY: each task writes only its own columns `j..j + width` of every row.
            unsafe { product(dst.at(j), n, accumulate, a, b) }
        });
    }
    let rows = m.div_ceil(tasks);
    (0..m.div_ceil(rows)).into_par_iter().for_each(|block| {
        let i = block * rows;
        let a = Matrix { data: &a.data[i * a.row_stride..], rows: rows.min(m - i), ..a };
        // SAFETY: each task writes only its own rows `i..i + rows`.
        unsafe { product(dst.at(i * n), n, accumulate, a, b) }
    });
}

/// [`matmul`] on this thread into rows `row_stride` apart: `dst[i * row_stride + j]`.
pub(super) fn matmul_rows(dst: &mut [f32], row_stride: usize, accumulate: bool, a: Matrix, b: Matrix) {
    // SAFETY: `dst` is a slice this call borrows whole.
    unsafe { product(Destination(dst.as_mut_ptr(), dst.len()), row_stride, accumulate, a, b) }
}

/// Where a product writes: `len` floats from the pointer. The pool's tasks of a split each write
/// their own rows, or their own columns of the same rows.
#[derive(Clone, Copy)]
struct Destination(*mut f32, usize);
// SAFETY: the tasks that share one write disjoint rows or columns (see `matmul_into`).
unsafe impl Send for Destination {}
unsafe impl Sync for Destination {}

impl Destination {
    /// The same destination from `offset` floats on: a row's start, or a column of every row.
    fn at(self, offset: usize) -> Destination {
        assert!(offset <= self.1, "matmul: block outside the destination");
        // SAFETY: `offset` is inside the destination (asserted).
        Destination(unsafe { self.0.add(offset) }, self.1 - offset)
    }
}

/// [`matmul_rows`] into `dst`.
///
/// # Safety
/// `dst` must be valid for writes of its `len` floats, and no other thread may read or write the
/// elements this product writes while it runs.
unsafe fn product(dst: Destination, row_stride: usize, accumulate: bool, a: Matrix, b: Matrix) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert!(row_stride >= n, "matmul: destination rows overlap");
    assert!(m == 0 || dst.1 >= (m - 1) * row_stride + n, "matmul: destination too small");
    for x in [a, b] {
        let last = (x.rows.max(1) - 1) * x.row_stride + (x.cols.max(1) - 1) * x.col_stride;
        assert!(x.rows == 0 || x.cols == 0 || last < x.data.len(), "matmul: operand out of bounds");
    }
    let stride = |s: usize| s as isize;
    // SAFETY: the asserts above keep every element gemm reads or writes inside the operands and
    // the destination.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            1,
            stride(row_stride),
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

#[cfg(test)]
mod tests {
    use super::super::test_values as values;
    use super::{Matrix, matmul, matmul_rows};

    /// Split by rows (`a` the larger) and by columns (`b` the larger, as a dense layer's weight
    /// against a batch), into even and uneven blocks, with operands transposed as the dense
    /// layers' gradients pass them: the bits of one product on one thread, whatever the threads.
    #[test]
    fn a_product_split_across_threads_has_the_bits_of_one_product() {
        // (m, k, n, a transposed, b transposed)
        let cases = [
            (3072, 100, 512, true, false),
            (100, 3072, 128, false, false),
            (100, 1600, 130, false, false),
            (100, 256, 3072, false, true),
            (70, 4000, 200, false, false),
            // Too few rows to split its columns (32-column blocks of 40 rows would be summed by
            // gemm in other blocks of k: 512, 512, ... against 500, 500, ...): split by rows.
            (40, 3000, 128, false, false),
            (32, 3072, 512, false, false),
        ];
        for (m, k, n, a_t, b_t) in cases {
            let (a_values, b_values) = (values(m * k, 1), values(k * n, 2));
            let a =
                if a_t { Matrix::row_major(&a_values, k, m).transposed() } else { Matrix::row_major(&a_values, m, k) };
            let b =
                if b_t { Matrix::row_major(&b_values, n, k).transposed() } else { Matrix::row_major(&b_values, k, n) };
            let start = values(m * n, 3);
            for accumulate in [false, true] {
                let mut one = start.clone();
                matmul_rows(&mut one, n, accumulate, a, b);
                for threads in [2, 3, 4] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut split = start.clone();
                    pool.install(|| matmul(&mut split, accumulate, a, b, true));
                    let same = one.iter().zip(&split).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{m}x{k}x{n}, accumulate {accumulate}, {threads} threads");
                }
            }
        }
    }
}
