//! Image files (PNG, JPEG, BMP, GIF) as a data set's pixels: the one conversion both the image
//! folder loader and `runner predict` use, so a file gives the same input to either.

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};

use super::ImageShape;

/// The formats an image folder may hold, by file extension (lower case).
pub const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "gif"];

/// Whether `path` names an image by its extension.
pub fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn reader(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, String> {
    // Opening a FIFO would wait for a writer forever: only regular files are read.
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err("not an image file (a folder, FIFO or device)".into()),
        Err(e) => return Err(format!("cannot open: {e}")),
        Ok(_) => {}
    }
    let reader = ImageReader::open(path).map_err(|e| format!("cannot open: {e}"))?;
    reader.with_guessed_format().map_err(|e| format!("cannot read: {e}"))
}

/// The width and height of the image at `path`, from its header.
pub fn dimensions(path: &Path) -> Result<(u32, u32), String> {
    use image::ImageDecoder;
    Ok(reader(path)?.into_decoder().map_err(not_readable)?.dimensions())
}

/// Whether `image` is grayscale: stored as such, or every pixel gray (GIF and BMP palettes,
/// which decode to RGB whatever they hold).
pub fn is_gray(image: &DynamicImage) -> bool {
    image.color().channel_count() <= 2 || image.to_rgb8().pixels().all(|p| p[0] == p[1] && p[1] == p[2])
}

/// The image at `path`, decoded.
pub fn decode(path: &Path) -> Result<DynamicImage, String> {
    reader(path)?.decode().map_err(not_readable)
}

fn not_readable(e: image::ImageError) -> String {
    format!("not a readable PNG, JPEG, BMP or GIF image: {e}")
}

/// `image` in `shape`: grayscale (luma) or RGB, resized (bilinear) when its size differs,
/// channel-major (CHW) u8 pixels; alpha is dropped.
pub fn to_pixels(image: &DynamicImage, shape: ImageShape) -> Vec<u8> {
    let (width, height) = (shape.width as u32, shape.height as u32);
    let resize = |w: u32, h: u32| (w, h) != (width, height);
    if shape.channels == 1 {
        let mut gray = image.to_luma8();
        if resize(gray.width(), gray.height()) {
            gray = image::imageops::resize(&gray, width, height, FilterType::Triangle);
        }
        return gray.into_raw();
    }
    let mut rgb = image.to_rgb8();
    if resize(rgb.width(), rgb.height()) {
        rgb = image::imageops::resize(&rgb, width, height, FilterType::Triangle);
    }
    let plane = shape.height * shape.width;
    let mut chw = vec![0u8; 3 * plane];
    for (i, pixel) in rgb.pixels().enumerate() {
        for c in 0..3 {
            chw[c * plane + i] = pixel[c];
        }
    }
    chw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gray_image_gives_the_same_plane_as_luma_and_as_rgb_resized_or_not() {
        let gray =
            DynamicImage::ImageLuma8(image::GrayImage::from_fn(13, 9, |x, y| image::Luma([(x * 31 + y * 17) as u8])));
        // BMP and GIF palettes decode to RGB: the same image stored that way.
        let as_rgb = DynamicImage::ImageRgb8(gray.to_rgb8());
        assert!(is_gray(&gray) && is_gray(&as_rgb));
        assert!(!is_gray(&DynamicImage::ImageRgb8(image::RgbImage::from_pixel(2, 2, image::Rgb([1, 2, 3])))));
        for (height, width) in [(9, 13), (28, 28), (5, 7)] {
            let luma = to_pixels(&gray, ImageShape { channels: 1, height, width });
            for image in [&gray, &as_rgb] {
                let rgb = to_pixels(image, ImageShape { channels: 3, height, width });
                let plane = height * width;
                assert_eq!(luma, rgb[..plane], "{height}x{width}");
                assert_eq!(rgb[..plane], rgb[plane..2 * plane]);
                assert_eq!(luma, to_pixels(&as_rgb, ImageShape { channels: 1, height, width }), "luma of gray RGB");
            }
        }
    }
}
