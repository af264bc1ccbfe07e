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
    let device = backend::device(spec.backend, spec.device)?;
    let model = load_model(&spec, &images, &checkpoint, &device)?;
    let normalizer = Normalizer::new(&spec.mean, &spec.std, shape);
    // The images go through the model a training batch at a time: memory does not grow with the
    // number of files. The lines are printed at the end: a bad file fails the command, not half
    // its output.
    let mut lines = Vec::with_capacity(args.images.len());
    for paths in args.images.chunks(spec.batch_size.clamp(1, 256) as usize) {
        let pixels: Vec<Vec<u8>> = paths.iter().map(|path| read_image(path, shape)).collect::<Result<_>>()?;
        // Assembled into a batch the way training assembles one.
        let n = pixels.len();
        let split = Split { images: pixels.concat(), labels: vec![0; n] };
        let mut batch = HostBatch::default();
        batch.fill(&split, 0..n, shape, &normalizer);
        let dims = [n, shape.channels, shape.height, shape.width];
        let input = Tensor::<4>::from_data(TensorData::new(batch.images, dims), &device);
        let probabilities: Vec<f32> = softmax(model.forward(input), 1).into_data().iter::<f32>().collect();
        for (path, probs) in paths.iter().zip(probabilities.chunks_exact(classes.len())) {
            let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top: Vec<String> = ranked
                .iter()
                .take(args.top as usize)
                .map(|&(c, p)| format!("{} {:.2}%", classes[c], p * 100.0))
                .collect();
            lines.push(format!("{}: {}  ({})", path.display(), classes[ranked[0].0], top.join(", ")));
        }
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Reads an image file and converts it to the data set's shape, as the folder loader does.
fn read_image(path: &Path, shape: ImageShape) -> Result<Vec<u8>> {
    let decoded = image_file::decode(path).map_err(|message| Error::BadImage { path: path.to_path_buf(), message })?;
    Ok(image_file::to_pixels(&decoded, shape))
}
