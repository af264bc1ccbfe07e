//! Output buffers written once, without zeroing them first: `vec![0.0; n]` before a kernel
//! overwrote every value was up to 8% of a CNN train step (memset), as glibc hands back freed
//! memory that calloc must clear.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// A vector of `len` values whose chunks of `chunk` values `write(state, i, chunk)` fills on the
/// pool's threads, `state` made by `init` once per thread task as rayon's `for_each_init` does.
///
/// # Safety
/// `write` must set every element of each chunk it is given (with [`MaybeUninit::write`] or
/// [`filled`]).
pub(super) unsafe fn written<T: Send, S>(
    len: usize,
    chunk: usize,
    init: impl Fn() -> S + Sync + Send,
    write: impl Fn(&mut S, usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    let mut values = Vec::with_capacity(len);
    let spare = &mut values.spare_capacity_mut()[..len];
    spare.par_chunks_mut(chunk.max(1)).enumerate().for_each_init(init, |state, (i, c)| write(state, i, c));
    // SAFETY: the chunks cover `len` values and the caller's `write` set each one. Had it
    // panicked, the vector would be dropped empty.
    unsafe { values.set_len(len) };
    values
}

/// `slice` with every element set to `value`, as initialized values.
pub(super) fn filled<T: Copy>(slice: &mut [MaybeUninit<T>], value: T) -> &mut [T] {
    slice.fill(MaybeUninit::new(value));
    // SAFETY: every element was written just above; MaybeUninit<T> has T's layout.
    unsafe { &mut *(slice as *mut [MaybeUninit<T>] as *mut [T]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_written_including_a_short_last_one() {
        // SAFETY: the closure writes every element of its chunk.
        let v: Vec<u32> = unsafe {
            written(
                10,
                4,
                || 100,
                |base: &mut u32, i, c| {
                    for (j, e) in c.iter_mut().enumerate() {
                        e.write(*base + (i * 4 + j) as u32);
                    }
                },
            )
        };
        assert_eq!(v, (100..110).collect::<Vec<u32>>());
        let mut raw = [MaybeUninit::<f32>::uninit(); 3];
        assert_eq!(filled(&mut raw, 2.5), &[2.5; 3]);
    }
}
