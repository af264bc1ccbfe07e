//! `runner bench`: times the runner's own hot paths and prints medians (and min-max).
//! Data loading, batch assembly and normalization, then a train step and an evaluation pass
//! per backend and model on pre-made batches of 100; then each further backend's train-step
//! medians as a ratio of the first backend's.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;

use crate::backend;
use crate::cli::BenchArgs;
use crate::data::batch::{HostBatch, Normalizer};
use crate::data::{self, FetchOptions, ImageSet, ImageShape, Split};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::report::markdown;
use crate::spec::{DatasetName, ModelKind, Spec};
use crate::train::optimizer;

const BATCH: usize = 100;

fn dir_of(root: &std::path::Path) -> String {
    data::dir(root, &DatasetName::Mnist).display().to_string()
}

pub fn bench(args: BenchArgs) -> Result<()> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let fmt = |v: f64| if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.3}") };
    let mut row = |what: &str, samples: &mut Vec<f64>, unit: &str| {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        let range = format!("{}-{}", fmt(samples[0]), fmt(samples[samples.len() - 1]));
        rows.push(vec![what.to_string(), fmt(median), range, unit.to_string(), samples.len().to_string()]);
        eprintln!("  {what}: {} {unit}", fmt(median));
        median
    };

    let offline = FetchOptions { offline: true, quiet: true, ..FetchOptions::default() };
    match data::load(DatasetName::Mnist, &args.data_dir, &offline) {
        Ok(_) => {
            let mut seconds: Vec<f64> = (0..args.repeats.max(3))
                .map(|_| {
                    let t = Instant::now();
                    let _ = data::load(DatasetName::Mnist, &args.data_dir, &offline);
                    t.elapsed().as_secs_f64()
                })
                .collect();
            row("load MNIST (4 gz files, parse, checks)", &mut seconds, "s");
        }
        // bench never downloads (it has no --offline to turn it off): say where it looked.
        Err(_) => eprintln!(
            "  skipping data loading: no readable MNIST in {} (bench never downloads; see --data-dir)",
            dir_of(&args.data_dir)
        ),
    }

    let mnist = ImageShape { channels: 1, height: 28, width: 28 };
    let split = synthetic_split(mnist, 10_000);
    let norm = Normalizer::new(&[0.5], &[0.5], mnist);
    let mut host = HostBatch::default();
    let mut rate: Vec<f64> = (0..args.repeats.max(3))
        .map(|r| {
            let t = Instant::now();
            for b in 0..50 {
                let start = (r * 7919 + b * BATCH * 3) % (split.len() - BATCH);
                host.fill(&split, (start..start + BATCH).rev(), mnist, &norm);
            }
            (50 * BATCH) as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    row("batch assembly + normalization (MNIST, batch 100)", &mut rate, "img/s");

    let cifar = ImageShape { channels: 3, height: 32, width: 32 };
    // The architectures to time: the seed's, or the one `--set` describes.
    let ten = |shape| ImageSet { shape, classes: (0..10).map(|c| c.to_string()).collect() };
    let architectures: Vec<(Spec, ImageSet, String)> = if args.sets.is_empty() {
        [
            (ModelKind::Nn, mnist, "nn 784-128-10"),
            (ModelKind::Cnn, mnist, "cnn, MNIST"),
            (ModelKind::Cnn, cifar, "cnn, 3x32x32"),
        ]
        .into_iter()
        .map(|(model, shape, label)| (Spec { model, ..Spec::default() }, ten(shape), label.to_string()))
        .collect()
    } else {
        let overrides = crate::spec::Overrides { sets: args.sets.clone(), data_dir: None };
        let (spec, _) = crate::spec::load_text(std::path::Path::new("--set"), "", &overrides)?;
        let label = args.sets.join(" ");
        // An image folder's shape and classes are its files'.
        let images = match spec.dataset.builtin() {
            Some(images) => images,
            None => {
                let dataset = data::load_for(&spec, &FetchOptions { offline: true, ..FetchOptions::default() })?;
                spec.validate_images(&dataset.images()).map_err(|e| Error::InvalidValue {
                    origin: "--set".into(),
                    key: e.key.into(),
                    message: e.message,
                })?;
                dataset.images()
            }
        };
        vec![(spec.clone(), images, label)]
    };
    // (backend, model label, train-step median)
    let mut train_medians = Vec::new();
    for backend_name in &args.backends {
        let device = backend::device(*backend_name, 0)?;
        for (spec, images, label) in &architectures {
            let label = label.as_str();
            // As a run trains (see backend::run_on): one thread per core unless `--set threads=N`.
            let (mut train, mut eval) = backend::run_on(*backend_name, spec.cpu_threads(), || {
                train_and_eval_rates(spec, images, &device, args.steps as usize)
            })?;
            let median = row(&format!("{backend_name}: train step, {label}"), &mut train, "img/s");
            row(&format!("{backend_name}: evaluation, {label}"), &mut eval, "img/s");
            train_medians.push((*backend_name, label, median));
        }
    }
    if let Some(&(first, ..)) = train_medians.first() {
        for &(backend_name, label, median) in train_medians.iter().filter(|m| m.0 != first) {
            let base = train_medians.iter().find(|m| m.0 == first && m.1 == label).map_or(f64::NAN, |m| m.2);
            let what = format!("{backend_name} / {first}: train step, {label}");
            let ratio = format!("{:.2}", median / base);
            eprintln!("  {what}: {ratio}x");
            rows.push(vec![what, ratio, "-".into(), "x".into(), "medians".into()]);
        }
    }
    let header = ["hot path", "median", "min-max", "unit", "samples"].map(String::from);
    print!("{}", markdown(&header, &rows));
    Ok(())
}

/// Images per second of single train steps (forward, backward, SGD) and of evaluation batches,
/// each timed alone after two warm-up steps.
fn train_and_eval_rates(spec: &Spec, images: &ImageSet, device: &Device, steps: usize) -> (Vec<f64>, Vec<f64>) {
    let train_device = device.clone().autodiff();
    let (shape, classes) = (images.shape, images.classes.len() as i64);
    // The spec was validated against these images.
    let mut net = Model::new(&spec.architecture(images.classes.len()), shape, &train_device)
        .expect("a validated architecture fits its data set");
    let mut optim = optimizer(spec);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let images = Tensor::<4>::random(
        [BATCH, shape.channels, shape.height, shape.width],
        burn::tensor::Distribution::Default,
        device,
    );
    let labels: Vec<i64> = (0..BATCH as i64).map(|i| i % classes).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [BATCH]), device);
    let mut train = Vec::new();
    for step in 0..steps + 2 {
        let t = Instant::now();
        // The very step a run executes (train::step), synced so each is timed whole.
        (net, _, _) = crate::train::step(net, &mut optim, &loss_fn, images.clone(), labels.clone(), 0.01);
        let _ = device.sync();
        if step >= 2 {
            train.push(BATCH as f64 / t.elapsed().as_secs_f64());
        }
    }
    let valid = net.valid();
    let mut eval = Vec::new();
    for step in 0..steps + 2 {
        let t = Instant::now();
        let _ = valid.forward(images.clone()).argmax(1).into_data();
        if step >= 2 {
            eval.push(BATCH as f64 / t.elapsed().as_secs_f64());
        }
    }
    (train, eval)
}

fn synthetic_split(shape: ImageShape, n: usize) -> Split {
    Split {
        images: (0..n * shape.pixels()).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    }
}
