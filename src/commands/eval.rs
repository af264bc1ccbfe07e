//! `runner eval CHECKPOINT|TRIAL`: test loss, accuracy and the confusion matrix of a checkpoint.

use crate::backend;
use crate::cli::EvalArgs;
use crate::data::{self, FetchOptions};
use crate::error::{Error, Result};
use crate::report::markdown;
use crate::run::trial_folder::{TrialFolder, load_model};
use crate::run::write_file;
use crate::spec::DatasetName;
use crate::train::{self, TrialData};

pub fn eval(args: EvalArgs) -> Result<()> {
    let trial = TrialFolder::open(&args.trial.target)?;
    if let Some(out) = &args.out {
        trial.check_output(out, "--out")?;
    }
    let TrialFolder { dir: trial_dir, checkpoint: checkpoint_path, mut spec, images } = trial;
    if let Some(dataset) = args.dataset {
        if dataset == DatasetName::Folder {
            return Err(Error::Usage {
                origin: "--dataset".into(),
                message: "an image folder is evaluated by its own trials (the folder is part of the spec); give a built-in data set or hf:OWNER/NAME".into(),
            });
        }
        (spec.dataset, spec.folder, spec.image_size) = (dataset, Default::default(), Vec::new());
        let defaults = crate::spec::Spec::default();
        (spec.hf_revision, spec.hf_config, spec.image_column, spec.label_column) =
            (defaults.hf_revision, defaults.hf_config, defaults.image_column, defaults.label_column);
    }
    if let Some(dir) = &args.data.data_dir {
        spec.data_dir = dir.clone();
    }
    if let Some(limit) = args.limit_test {
        spec.limit_test = limit;
    }
    spec.validate().map_err(|e| Error::InvalidValue {
        origin: "--dataset".into(),
        key: e.key.into(),
        message: e.message,
    })?;
    let fetch = FetchOptions { offline: args.data.download.offline, quiet: true, ..FetchOptions::default() };
    let dataset = data::load_for(&spec, &fetch)?;
    if dataset.shape != images.shape || dataset.classes.len() != images.classes.len() {
        return Err(Error::Usage {
            origin: "--dataset".into(),
            message: format!(
                "{}'s images are {} ({} classes) but this model takes {} ({} classes)",
                spec.dataset,
                describe(dataset.shape),
                dataset.classes.len(),
                describe(images.shape),
                images.classes.len()
            ),
        });
    }
    // Labels are indices into the class names: a folder whose class folders were renamed since
    // the trial trained would be scored against other names.
    if spec.dataset.builtin().is_none() && dataset.classes != images.classes {
        return Err(Error::DataFormat {
            path: if spec.dataset == DatasetName::Folder { spec.folder.clone() } else { spec.data_label().into() },
            message: format!(
                "its classes are now {} but this trial trained on {}: a label means the class of that name. \
                 Rename the class folders back, or train a new run on the folder as it is",
                dataset.classes.join(", "),
                images.classes.join(", ")
            ),
        });
    }
    let device = backend::device(spec.backend, spec.device)?;
    let model = load_model(&spec, &images, &checkpoint_path, &device)?;
    let data = TrialData::new(&dataset, &spec);
    // One pass gives loss, accuracy and the predictions of the confusion matrix.
    let train::Evaluation { loss, accuracy, predictions: predicted } =
        backend::run_on(spec.backend, spec.cpu_threads(), || {
            train::evaluate_pass(&model, &dataset.test, data.test_len, &data, &device, true)
        })?;

    let mut confusion = vec![vec![0u64; dataset.classes.len()]; dataset.classes.len()];
    for (&truth, &guess) in dataset.test.labels.iter().zip(&predicted) {
        confusion[truth as usize][guess as usize] += 1;
    }
    let mut header = vec!["true \\ predicted".to_string()];
    header.extend(dataset.classes.iter().cloned());
    let rows: Vec<Vec<String>> = confusion
        .iter()
        .zip(&dataset.classes)
        .map(|(counts, class)| std::iter::once(class.clone()).chain(counts.iter().map(u64::to_string)).collect())
        .collect();
    let mut csv = csv::Writer::from_writer(Vec::new());
    for record in std::iter::once(&header).chain(&rows) {
        csv.write_record(record).expect("writing to memory cannot fail");
    }
    let out = args.out.unwrap_or_else(|| trial_dir.join(format!("confusion_{}.csv", spec.dataset.file_stem())));
    write_file(&out, &csv.into_inner().expect("writing to memory cannot fail"))?;

    println!(
        "{}: {} on {} ({} test images): test loss {loss:.4}, accuracy {:.2}%\n",
        checkpoint_path.display(),
        spec.model,
        spec.data_label(),
        data.test_len,
        accuracy * 100.0
    );
    print!("{}", markdown(&header, &rows));
    eprintln!("confusion matrix: {}", out.display());
    Ok(())
}

/// "28x28 grayscale" or "32x32 RGB".
fn describe(shape: crate::data::ImageShape) -> String {
    format!("{}x{} {}", shape.height, shape.width, if shape.channels == 1 { "grayscale" } else { "RGB" })
}
