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
        for ((table, pixels), out) in
            self.tables.iter().zip(image.chunks_exact(self.plane)).zip(out.chunks_exact_mut(self.plane))
        {
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
    pub fn fill(
        &mut self,
        split: &Split,
        indices: impl ExactSizeIterator<Item = usize>,
        shape: ImageShape,
        norm: &Normalizer,
    ) {
        self.fill_transformed(split, indices, shape, norm, None);
    }

    /// [`HostBatch::fill`], each image randomly transformed first when there is an `augmenter`.
    pub fn fill_transformed(
        &mut self,
        split: &Split,
        indices: impl ExactSizeIterator<Item = usize>,
        shape: ImageShape,
        norm: &Normalizer,
        mut augmenter: Option<&mut Augmenter>,
    ) {
        let pixels = shape.pixels();
        self.images.resize(indices.len() * pixels, 0.0);
        self.labels.clear();
        let mut transformed = vec![0u8; if augmenter.is_some() { pixels } else { 0 }];
        for (out, i) in self.images.chunks_exact_mut(pixels).zip(indices) {
            let image = &split.images[i * pixels..(i + 1) * pixels];
            match augmenter.as_deref_mut() {
                Some(augmenter) => {
                    augmenter.apply(image, &mut transformed, shape);
                    norm.apply(&transformed, out);
                }
                None => norm.apply(image, out),
            }
            self.labels.push(i64::from(split.labels[i]));
        }
    }
}

/// Random transformations of training images, as torchvision's `RandomCrop(size, padding=4)`
/// (zero padding) and `RandomHorizontalFlip()` do them, on the u8 pixels. Its random stream is a
/// function of the seed and the epoch, drawn image by image in the epoch's order, so a resumed
/// run transforms every image exactly as an uninterrupted one.
pub struct Augmenter {
    crop: bool,
    flip: bool,
    rng: ChaCha8Rng,
}

/// Pixels of zero padding on each side for the random crop.
const PAD: i64 = 4;

impl Augmenter {
    pub fn new(crop: bool, flip: bool, seed: u64, epoch: u32) -> Augmenter {
        let salt = 0xA5A5_0000_0000_0000u64 ^ u64::from(epoch).wrapping_mul(0xD1B5_4A32_D192_ED03);
        Augmenter { crop, flip, rng: ChaCha8Rng::seed_from_u64(seed ^ salt) }
    }

    /// One CHW image into `out`.
    pub fn apply(&mut self, image: &[u8], out: &mut [u8], shape: ImageShape) {
        use rand::Rng;
        let (dy, dx) =
            if self.crop { (self.rng.random_range(-PAD..=PAD), self.rng.random_range(-PAD..=PAD)) } else { (0, 0) };
        let flip = self.flip && self.rng.random_bool(0.5);
        let (h, w) = (shape.height as i64, shape.width as i64);
        let plane = shape.height * shape.width;
        for c in 0..shape.channels {
            let (src, dst) = (&image[c * plane..(c + 1) * plane], &mut out[c * plane..(c + 1) * plane]);
            for y in 0..h {
                for x in 0..w {
                    let sx = if flip { w - 1 - x } else { x } + dx;
                    let sy = y + dy;
                    let inside = (0..h).contains(&sy) && (0..w).contains(&sx);
                    dst[(y * w + x) as usize] = if inside { src[(sy * w + sx) as usize] } else { 0 };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_shift_with_zero_padding_and_flips_mirror() {
        let shape = ImageShape { channels: 1, height: 3, width: 3 };
        let image: Vec<u8> = (1..=9).collect();
        let mut out = vec![0u8; 9];
        // Neither: the image as it is.
        Augmenter::new(false, false, 1, 1).apply(&image, &mut out, shape);
        assert_eq!(out, image);
        // Every flip mirrors the rows; over many draws about half the images flip.
        let mut flips = Augmenter::new(false, true, 1, 1);
        let mirrored = [3, 2, 1, 6, 5, 4, 9, 8, 7];
        let mut flipped = 0;
        for _ in 0..1000 {
            flips.apply(&image, &mut out, shape);
            assert!(out == image || out == mirrored);
            flipped += usize::from(out == mirrored);
        }
        assert!((400..600).contains(&flipped), "{flipped}");
        // A crop moves the content by up to 4 pixels, filling with zeros; the sum never grows.
        let mut crops = Augmenter::new(true, false, 7, 3);
        let mut shifted = 0;
        for _ in 0..200 {
            crops.apply(&image, &mut out, shape);
            assert!(out.iter().map(|&v| u32::from(v)).sum::<u32>() <= 45);
            shifted += usize::from(out != image);
        }
        assert!(shifted > 150, "{shifted}");
        // The same seed and epoch draw the same transformations; another epoch others.
        let draw = |epoch| {
            let mut a = Augmenter::new(true, true, 5, epoch);
            (0..20)
                .map(|_| {
                    let mut o = vec![0u8; 9];
                    a.apply(&image, &mut o, shape);
                    o
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(2), draw(2));
        assert_ne!(draw(2), draw(3));
    }

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
