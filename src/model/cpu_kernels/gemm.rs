//! Matrix products for the kernels, with the `gemm` crate.

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

/// Multiply-adds below which a product runs on the calling thread. Measured on 2 cores (AMD
/// EPYC, AVX2), medians of 5-7 alternating runs: split into two blocks of rows, the 13M
/// products of a 512-256 NN made its train step 1.20x faster and the seed CNN's 20M dense
/// products 1.06x, but the seed NN's 10M ones (100x784x128) 0.85x. gemm's own split was slower
/// than one thread up to far larger products (100x784x128: 157 GFLOP/s on one, 87 on two).
const PARALLEL_MACS: usize = 12 << 20;

/// `dst` (row-major, `a.rows x b.cols`) `= a * b`, or `+= a * b` when `accumulate`. On this
/// thread when `threads` is false (callers that already run one task per pool thread), else on
/// the pool when the product is large enough to gain from it: one block of rows per thread, each
/// a product of its own (202 GFLOP/s on two threads for 100x784x512, gemm's own split 182).
///
/// The bits do not depend on the split: gemm sums each element over k in blocks whose size
/// depends on k alone, unless both sides of its (transposed) problem are at most 64, which the
/// split avoids by splitting only products more than 64 columns wide into blocks of 8 rows or more.
pub(super) fn matmul(dst: &mut [f32], accumulate: bool, a: Matrix, b: Matrix, threads: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let tasks = if threads && m * n * k >= PARALLEL_MACS && n > 64 {
        rayon::current_num_threads().min(m / 8).max(1)
    } else {
        1
    };
    if tasks == 1 {
        return matmul_rows(dst, n, accumulate, a, b);
    }
    let rows = m.div_ceil(tasks);
    dst[..m * n].par_chunks_mut(rows * n).enumerate().for_each(|(i, dst)| {
        let block = Matrix { data: &a.data[i * rows * a.row_stride..], rows: dst.len() / n, ..a };
        matmul_rows(dst, n, accumulate, block, b);
    });
}

/// [`matmul`] on this thread into rows `row_stride` apart: `dst[i * row_stride + j]`.
pub(super) fn matmul_rows(dst: &mut [f32], row_stride: usize, accumulate: bool, a: Matrix, b: Matrix) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert!(row_stride >= n, "matmul: destination rows overlap");
    assert!(m == 0 || dst.len() >= (m - 1) * row_stride + n, "matmul: destination too small");
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
