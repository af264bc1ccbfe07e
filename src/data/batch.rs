//! Batch assembly: seeded shuffling, and u8 pixels -> normalized f32 in one pass per batch.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{ImageShape, Split};

/// `(x / 255 - mean) / std` for every u8 value, per channel: one table lookup per pixel.
#[derive(Debug, Clone)]
pub struct Normalizer {
    tables: Vec<[f32; 256]>,
    plane: usize,
}

impl Normalizer {
    /// `mean` and `std` hold one value for every channel, or one per channel.
    pub fn new(mean: &[f64], std: &[f64], shape: ImageShape) -> Normalizer {
        let tables = (0..shape.channels)
            .map(|c| {
                let m = mean[c.min(mean.len() - 1)];
                let s = std[c.min(std.len() - 1)];
                std::array::from_fn(|v| ((v as f64 / 255.0 - m) / s) as f32)
            })
            .collect();
        Normalizer { tables, plane: shape.height * shape.width }
    }

    /// Normalizes one CHW image into `out`.
    #[inline]
    pub fn apply(&self, image: &[u8], out: &mut [f32]) {
        for ((table, pixels), out) in self.tables.iter().zip(image.chunks_exact(self.plane)).zip(out.chunks_exact_mut(self.plane)) {
            for (o, &p) in out.iter_mut().zip(pixels) {
                *o = table[p as usize];
            }
        }
    }
}

/// The order of the first `n` training images in `epoch` (1-based): a fixed function of the
/// seed and the epoch, so a resumed run sees the same order.
pub fn epoch_order(n: usize, seed: u64, epoch: u32) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(epoch)).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

/// A batch on the host: images `[len, c, h, w]` as normalized f32, labels as i64.
#[derive(Debug, Default)]
pub struct HostBatch {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
}

impl HostBatch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Fills the batch with the images at `indices`, reusing its buffers.
    pub fn fill(&mut self, split: &Split, indices: impl ExactSizeIterator<Item = usize>, shape: ImageShape, norm: &Normalizer) {
        let pixels = shape.pixels();
        self.images.resize(indices.len() * pixels, 0.0);
        self.labels.clear();
        for (out, i) in self.images.chunks_exact_mut(pixels).zip(indices) {
            norm.apply(&split.images[i * pixels..(i + 1) * pixels], out);
            self.labels.push(i64::from(split.labels[i]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: ImageShape = ImageShape { channels: 1, height: 2, width: 2 };

    fn split() -> Split {
        Split { images: vec![0, 255, 128, 64, 10, 20, 30, 40, 1, 2, 3, 4], labels: vec![7, 8, 9] }
    }

    #[test]
    fn normalizes_like_torchvision() {
        let norm = Normalizer::new(&[0.5], &[0.5], SHAPE);
        let mut batch = HostBatch::default();
        batch.fill(&split(), [0usize, 2].into_iter(), SHAPE, &norm);
        assert_eq!(batch.labels, vec![7, 9]);
        assert_eq!(batch.images.len(), 8);
        assert_eq!(batch.images[0], -1.0);
        assert_eq!(batch.images[1], 1.0);
        assert!((batch.images[2] - (128.0 / 255.0 - 0.5) / 0.5).abs() < 1e-6);
        assert!((batch.images[4] - (1.0 / 255.0 - 0.5) / 0.5).abs() < 1e-6);
        // Buffers are reused and shrink to the new batch.
        batch.fill(&split(), [1usize].into_iter(), SHAPE, &norm);
        assert_eq!((batch.images.len(), batch.labels.as_slice()), (4, &[8i64][..]));
    }

    #[test]
    fn per_channel_tables() {
        let shape = ImageShape { channels: 3, height: 1, width: 1 };
        let norm = Normalizer::new(&[0.0, 0.5, 1.0], &[1.0, 0.5, 0.25], shape);
        let mut out = [0.0; 3];
        norm.apply(&[255, 255, 255], &mut out);
        assert_eq!(out, [1.0, 1.0, 0.0]);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a = epoch_order(1000, 42, 1);
        assert_eq!(a, epoch_order(1000, 42, 1), "same seed and epoch, same order");
        assert_ne!(a, epoch_order(1000, 42, 2), "each epoch reshuffles");
        assert_ne!(a, epoch_order(1000, 43, 1), "the seed matters");
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
    }
}
