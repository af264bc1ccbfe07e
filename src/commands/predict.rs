//! `runner predict TRIAL IMAGE...`: classify image files with a trial's model.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::backend;
use crate::cli::PredictArgs;
use crate::data::batch::{HostBatch, Normalizer};
use crate::data::{ImageShape, Split, image_file};
use crate::error::{Error, Result};
use crate::run::trial_folder::{TrialFolder, load_model};

pub fn predict(args: PredictArgs) -> Result<()> {
    let TrialFolder { checkpoint, spec, images, .. } = TrialFolder::open(&args.trial.target)?;
    let (shape, classes) = (images.shape, &images.classes);
    // Every image is read before the model runs: a bad file fails the command, not half its output.
    let pixels: Vec<Vec<u8>> = args.images.iter().map(|path| read_image(path, shape)).collect::<Result<_>>()?;

    let device = backend::device(spec.backend, spec.device)?;
    let model = load_model(&spec, &images, &checkpoint, &device)?;
    // The images as a split, assembled into one batch the way training assembles them.
    let n = pixels.len();
    let split = Split { images: pixels.concat(), labels: vec![0; n] };
    let mut batch = HostBatch::default();
    batch.fill(&split, 0..n, shape, &Normalizer::new(&spec.mean, &spec.std, shape));
    let input =
        Tensor::<4>::from_data(TensorData::new(batch.images, [n, shape.channels, shape.height, shape.width]), &device);
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

/// Reads an image file and converts it to the data set's shape, as the folder loader does.
fn read_image(path: &Path, shape: ImageShape) -> Result<Vec<u8>> {
    let decoded = image_file::decode(path).map_err(|message| Error::BadImage { path: path.to_path_buf(), message })?;
    Ok(image_file::to_pixels(&decoded, shape))
}
