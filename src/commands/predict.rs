//! `runner predict TRIAL IMAGE...`: classify image files with a trial's model.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use image::imageops::FilterType;

use crate::run::trial_folder::{TrialFolder, load_model};
use crate::backend;
use crate::cli::PredictArgs;
use crate::data::batch::{HostBatch, Normalizer};
use crate::data::{ImageShape, Split};
use crate::error::{Error, Result};

pub fn predict(args: PredictArgs) -> Result<()> {
    let TrialFolder { checkpoint, spec, .. } = TrialFolder::open(&args.trial.target)?;
    let shape = spec.dataset.image_shape();
    let classes = spec.dataset.class_names();
    // Every image is read before the model runs: a bad file fails the command, not half its output.
    let pixels: Vec<Vec<u8>> = args.images.iter().map(|path| read_image(path, shape)).collect::<Result<_>>()?;

    let device = backend::device(spec.backend, spec.device)?;
    let model = load_model(&spec, shape, &checkpoint, &device)?;
    // The images as a split, assembled into one batch the way training assembles them.
    let n = pixels.len();
    let split = Split { images: pixels.concat(), labels: vec![0; n] };
    let mut batch = HostBatch::default();
    batch.fill(&split, 0..n, shape, &Normalizer::new(&spec.mean, &spec.std, shape));
    let input = Tensor::<4>::from_data(TensorData::new(batch.images, [n, shape.channels, shape.height, shape.width]), &device);
    let probabilities = softmax(model.forward(input), 1).into_data();
    let probabilities: Vec<f32> = probabilities.iter::<f32>().collect();

    for (path, probs) in args.images.iter().zip(probabilities.chunks_exact(classes.len())) {
        let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> =
            ranked.iter().take(args.top as usize).map(|&(c, p)| format!("{} {:.2}%", classes[c], p * 100.0)).collect();
        println!("{}: {}  ({})", path.display(), classes[ranked[0].0], top.join(", "));
    }
    Ok(())
}

/// Reads a PNG or JPEG and converts it to the data set's shape: grayscale or RGB, resized,
/// channel-major (CHW) u8 pixels.
fn read_image(path: &Path, shape: ImageShape) -> Result<Vec<u8>> {
    let bad = |message: String| Error::BadImage { path: path.to_path_buf(), message };
    // Opening a FIFO would wait for a writer forever: only regular files are read.
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(bad("not an image file (a folder, FIFO or device); give PNG or JPEG files".into())),
        Err(e) => return Err(bad(format!("cannot open: {e}"))),
        Ok(_) => {}
    }
    let reader = image::ImageReader::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let reader = reader.with_guessed_format().map_err(|e| bad(format!("cannot read: {e}")))?;
    let decoded = reader.decode().map_err(|e| bad(format!("not a readable PNG or JPEG image: {e}")))?;
    let (width, height) = (shape.width as u32, shape.height as u32);
    let resize = |w: u32, h: u32| (w, h) != (width, height);
    if shape.channels == 1 {
        let mut gray = decoded.to_luma8();
        if resize(gray.width(), gray.height()) {
            gray = image::imageops::resize(&gray, width, height, FilterType::Triangle);
        }
        Ok(gray.into_raw())
    } else {
        let mut rgb = decoded.to_rgb8();
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
        Ok(chw)
    }
}
