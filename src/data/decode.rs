//! Encoded images (files of an image folder, bytes of a Parquet column) decoded in parallel into
//! one shape: the images' own size when they agree, or `image_size`; gray when every image is.

use image::DynamicImage;
use rayon::prelude::*;

use super::{ImageShape, Split, image_file};
use crate::{failpoint, interrupt};

/// Where the images come from: each can tell its size from its header and decode itself.
pub trait Encoded: Sync {
    fn count(&self) -> usize;
    /// Width and height, from the header.
    fn dimensions(&self, index: usize) -> Result<(u32, u32), String>;
    fn decode(&self, index: usize) -> Result<DynamicImage, String>;
}

/// Why the images could not be decoded: the caller names the image from its index.
#[derive(Debug)]
pub enum DecodeError {
    Image {
        index: usize,
        message: String,
    },
    /// Two images of different sizes, without `image_size`: (index, (width, height)) of each.
    SizesDiffer {
        first: (usize, (u32, u32)),
        other: (usize, (u32, u32)),
    },
    /// Ctrl-C or SIGTERM: no image was decoded after it.
    Interrupted,
}

/// Every image of `source` in one shape, CHW u8 pixels each.
pub fn decode_all(source: &impl Encoded, image_size: &[u32]) -> Result<(ImageShape, Vec<Vec<u8>>), DecodeError> {
    let count = source.count();
    let (height, width) = match image_size {
        [h, w] => (*h as usize, *w as usize),
        // Headers first: a size mismatch is found before anything is decoded.
        _ => {
            let sizes: Vec<Result<(u32, u32), String>> =
                (0..count).into_par_iter().map(|i| source.dimensions(i)).collect();
            let mut checked = Vec::with_capacity(count);
            for (index, size) in sizes.into_iter().enumerate() {
                checked.push(size.map_err(|message| DecodeError::Image { index, message })?);
            }
            let Some(&first) = checked.first() else {
                return Ok((ImageShape { channels: 1, height: 0, width: 0 }, vec![]));
            };
            if let Some(i) = checked.iter().position(|&size| size != first) {
                return Err(DecodeError::SizesDiffer { first: (0, first), other: (i, checked[i]) });
            }
            (first.1 as usize, first.0 as usize)
        }
    };
    let gray = ImageShape { channels: 1, height, width };
    let rgb = ImageShape { channels: 3, ..gray };
    // Ctrl-C stops the decoding within an image or so.
    let pixels: Vec<Result<Vec<u8>, String>> = (0..count)
        .into_par_iter()
        .map(|i| {
            if interrupt::requested() {
                return Err(String::new());
            }
            failpoint::hit(|| "decode-image".into());
            source
                .decode(i)
                .map(|image| image_file::to_pixels(&image, if image_file::is_gray(&image) { gray } else { rgb }))
        })
        .collect();
    if interrupt::requested() {
        return Err(DecodeError::Interrupted);
    }
    let mut decoded = Vec::with_capacity(count);
    for (index, image) in pixels.into_iter().enumerate() {
        decoded.push(image.map_err(|message| DecodeError::Image { index, message })?);
    }
    let shape = if decoded.iter().all(|p| p.len() == gray.pixels()) { gray } else { rgb };
    Ok((shape, decoded))
}

/// The decoded images as splits: the first `train_len` train, the rest test. A gray image in an
/// RGB set becomes three equal planes, as `to_pixels` gives it in RGB.
pub fn into_splits(shape: ImageShape, decoded: Vec<Vec<u8>>, labels: &[u8], train_len: usize) -> (Split, Split) {
    let mut train = Split::default();
    let mut test = Split::default();
    for (i, (image, &label)) in decoded.into_iter().zip(labels).enumerate() {
        let split = if i < train_len { &mut train } else { &mut test };
        let copies = if image.len() == shape.pixels() { 1 } else { 3 };
        for _ in 0..copies {
            split.images.extend_from_slice(&image);
        }
        split.labels.push(label);
    }
    (train, test)
}
