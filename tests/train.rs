//! End to end: train short runs on real MNIST and check every file the run folder holds.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::prelude::Device;
use common::{column, csv_rows, runner, shared_data, spec_command, the_run, tree};
use predicates::prelude::*;
use runner::data::{self, Dataset, FetchOptions};
use runner::model::Model;
use runner::spec::{DatasetName, Spec};

const SMOKE: &str = "name = \"smoke\"\nmodel = \"cnn\"\ndataset = \"mnist\"\nepochs = 2\nbatch_size = 20\nlr = 0.05\nmomentum = 0.9\nlimit_train = 600\nlimit_test = 300\nseed = 7\n";

/// Runs the spec in a new temporary folder and returns it and the one run folder it made.
fn run(spec: &str, args: &[&str], expected_code: i32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = run_in(dir.path(), spec, args, expected_code);
    (dir, run_dir)
}

/// Runs the spec in `dir` (runs go to `dir/out`) and returns the one run folder it made.
fn run_in(dir: &Path, spec: &str, args: &[&str], expected_code: i32) -> PathBuf {
    let output = spec_command(dir, spec).arg("--quiet").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(expected_code), "stderr: {stderr}");
    the_run(dir)
}

/// metrics.csv without the timing columns, which differ between runs.
fn deterministic_metrics(run_dir: &Path, trial: &str) -> Vec<Vec<String>> {
    csv_rows(&run_dir.join("trials").join(trial).join("metrics.csv")).into_iter().map(|row| row[..6].to_vec()).collect()
}

/// The SMOKE run the tests of one command each share: trained once per test process, in the
/// build's temporary folder; the tree is recorded before any command adds files to it.
struct SharedRun {
    run_dir: PathBuf,
    tree: Vec<String>,
}

fn smoke_run() -> &'static SharedRun {
    static RUN: OnceLock<SharedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Runs of earlier test processes: removed once their process is gone.
        for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("train-smoke-").and_then(|pid| pid.parse().ok())
                && !runner::fs::process_alive(pid)
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = base.join(format!("train-smoke-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run_dir = run_in(&dir, SMOKE, &[], 0);
        SharedRun { tree: tree(&run_dir), run_dir }
    })
}

/// The shared run's trial folder, spec, last-epoch test accuracy, and its data set.
fn smoke_trial() -> (PathBuf, Spec, f64, Dataset) {
    let run_dir = &smoke_run().run_dir;
    let trial = run_dir.join("trials/000_smoke");
    let spec: Spec = toml::from_str(&std::fs::read_to_string(run_dir.join("spec.toml")).unwrap()).unwrap();
    let metrics = csv_rows(&trial.join("metrics.csv"));
    let test_acc: f64 = metrics.last().unwrap()[4].parse().unwrap();
    let dataset =
        data::load(DatasetName::Mnist, &shared_data(), &FetchOptions { offline: true, ..Default::default() }).unwrap();
    (trial, spec, test_acc, dataset)
}

/// The trial's device and its model with the weights of its last checkpoint.
fn last_checkpoint(trial: &Path, spec: &Spec, dataset: &Dataset) -> (Device, Model) {
    let device = runner::backend::device(spec.backend, 0).unwrap();
    let fresh = Model::new(&spec.architecture(10), dataset.shape, &device).unwrap();
    (device.clone(), runner::run::checkpoint::load(fresh, &trial.join("checkpoints/last.bpk")).unwrap())
}

#[test]
fn a_short_run_writes_every_file() {
    let SharedRun { run_dir, tree } = smoke_run();
    let name = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("Z_smoke") && name.len() == "2026-11-28T17-05-12Z_smoke".len(), "{name}");
    assert_eq!(
        tree,
        &[
            "curves_mnist.png",
            "curves_mnist.svg",
            "final_accuracy.png",
            "final_accuracy.svg",
            "manifest.json",
            "pareto_mnist.png",
            "pareto_mnist.svg",
            "report.csv",
            "report.md",
            "spec.toml",
            "summary.csv",
            "trials",
            "trials/000_smoke",
            "trials/000_smoke/checkpoints",
            "trials/000_smoke/checkpoints/best.bpk",
            "trials/000_smoke/checkpoints/best.bpk.sha256",
            "trials/000_smoke/checkpoints/last.bpk",
            "trials/000_smoke/checkpoints/last.bpk.sha256",
            "trials/000_smoke/metrics.csv",
            "trials/000_smoke/spec.toml",
            "trials/000_smoke/status.json",
            "trials/000_smoke/tb",
            "trials/000_smoke/tb/events.out.tfevents.0000000000.runner",
        ]
    );

    // summary.csv carries the run's name and every key of the trial's spec, so that several
    // runs' files concatenate without losing which is which; train time to the millisecond.
    let summary = csv_rows(&run_dir.join("summary.csv"));
    assert_eq!(column(&summary, "run"), std::slice::from_ref(&name));
    assert_eq!(
        (column(&summary, "lr"), column(&summary, "batch_size")),
        (vec!["0.05".to_string()], vec!["20".to_string()])
    );
    // Training and evaluation timed apart, each to the millisecond, and the metrics.csv sums.
    let metrics = csv_rows(&run_dir.join("trials/000_smoke/metrics.csv"));
    for key in ["train_seconds", "eval_seconds"] {
        let seconds = &column(&summary, key)[0];
        assert_eq!(seconds.split('.').nth(1).map(str::len), Some(3), "{key}: {seconds}");
        let sum: f64 = column(&metrics, key).iter().map(|s| s.parse::<f64>().unwrap()).sum();
        assert!((seconds.parse::<f64>().unwrap() - sum).abs() < 1e-3 && sum > 0.0, "{key}: {seconds} vs {sum}");
    }
    // status.json says where the trial's seconds went: its parts add up to no more than the whole.
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("trials/000_smoke/status.json")).unwrap()).unwrap();
    let timings = &status["timings"];
    let part = |key: &str| timings[key].as_f64().unwrap_or_else(|| panic!("timings.{key}: {status}"));
    let train: f64 = column(&metrics, "train_seconds").iter().map(|s| s.parse::<f64>().unwrap()).sum();
    assert!((part("train") - train).abs() < 1e-6, "{status}");
    let parts: f64 =
        ["device_init", "model_init", "warmup", "upload", "train", "eval", "file_writes"].iter().map(|k| part(k)).sum();
    assert!(parts > 0.0 && parts <= part("total") && part("process_to_trial") > 0.0, "{status}");
    assert_eq!(
        metrics[0],
        [
            "epoch",
            "train_loss",
            "train_acc",
            "test_loss",
            "test_acc",
            "lr",
            "epoch_seconds",
            "images_per_second",
            "finished_at",
            "val_loss",
            "val_acc",
            "train_seconds",
            "eval_seconds"
        ]
    );
    assert_eq!(metrics.len(), 3, "header + one row per epoch");
    assert_eq!((metrics[1][0].as_str(), metrics[2][0].as_str()), ("1", "2"));
    let test_acc: f64 = metrics[2][4].parse().unwrap();
    assert!(test_acc > 0.5, "600 images for 2 epochs already learn something: {test_acc}");
    let first_loss: f64 = metrics[1][1].parse().unwrap();
    let second_loss: f64 = metrics[2][1].parse().unwrap();
    assert!(second_loss < first_loss, "mean train loss falls: {first_loss} -> {second_loss}");

    let summary = csv_rows(&run_dir.join("summary.csv"));
    assert_eq!(summary.len(), 2);
    let col = |key: &str| summary[0].iter().position(|h| h == key).unwrap();
    assert_eq!(summary[1][col("status")], "done");
    assert_eq!(summary[1][col("model")], "cnn");
    assert_eq!(summary[1][col("final_test_acc")], format!("{test_acc:.4}"));

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap();
    for key in
        ["runner_version", "burn_version", "host", "os", "cpus", "devices", "started_at", "finished_at", "command_line"]
    {
        assert!(!manifest[key].is_null(), "manifest.{key}");
    }
    assert_eq!(manifest["devices"][0], "cpu (burn-flex)");

    let recorded: Spec = toml::from_str(&std::fs::read_to_string(run_dir.join("spec.toml")).unwrap()).unwrap();
    assert_eq!((recorded.epochs, recorded.limit_train, recorded.seed), (2, 600, 7));
    assert_eq!(recorded.data_dir, shared_data(), "the --data-dir override is recorded");
}

#[test]
fn the_last_checkpoint_reproduces_the_last_epoch_and_fits_only_its_model() {
    let (trial, spec, test_acc, dataset) = smoke_trial();
    let (device, model) = last_checkpoint(&trial, &spec, &dataset);
    let trial_data = runner::train::TrialData::new(&dataset, &spec);
    let (_, acc) = runner::train::evaluate(&model, &dataset.test, trial_data.test_len, &trial_data, &device);
    assert!((acc - test_acc).abs() < 1e-9, "checkpoint {acc} vs metrics {test_acc}");

    // A checkpoint of a CNN does not load into an NN.
    let nn = Spec { model: runner::spec::ModelKind::Nn, ..spec.clone() };
    let fresh_nn = Model::new(&nn.architecture(10), dataset.shape, &device).unwrap();
    let err = runner::run::checkpoint::load(fresh_nn, &trial.join("checkpoints/last.bpk")).unwrap_err();
    assert!(err.to_string().contains("does not fit this model"), "{err}");
}

#[test]
fn eval_reports_the_last_epochs_accuracy_and_a_confusion_matrix() {
    let (trial, _, test_acc, _) = smoke_trial();
    let run_dir = &smoke_run().run_dir;
    let output = runner(run_dir).arg("eval").arg(&trial).arg("--data-dir").arg(shared_data()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(&format!("accuracy {:.2}%", test_acc * 100.0)), "{stdout}");
    let confusion = csv_rows(&trial.join("confusion_mnist.csv"));
    assert_eq!(confusion.len(), 11);
    let total: u64 = confusion[1..].iter().flat_map(|r| r[1..].iter().map(|c| c.parse::<u64>().unwrap())).sum();
    assert_eq!(total, 300, "one count per test image");
    // The whole test set, though the trial trained with limit_test; it says how many it read.
    let out = run_dir.join("confusion_all.csv");
    let all = runner(run_dir)
        .arg("eval")
        .arg(&trial)
        .args(["--limit-test", "all", "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(shared_data())
        .output()
        .unwrap();
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    assert!(String::from_utf8_lossy(&all.stdout).contains("(10000 test images)"));
    let total: u64 = csv_rows(&out)[1..].iter().flat_map(|r| r[1..].iter().map(|c| c.parse::<u64>().unwrap())).sum();
    assert_eq!(total, 10_000);
    runner(run_dir)
        .arg("eval")
        .arg(&trial)
        .args(["--limit-test", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("expected `all` or a number of images of at least 1"));
    runner(run_dir).arg("eval").arg(run_dir).assert().code(2).stderr(predicates::str::contains("not a trial folder"));
}

#[test]
fn export_writes_the_weights_under_pytorchs_names_and_layouts() {
    let (trial, ..) = smoke_trial();
    runner(&smoke_run().run_dir).arg("export").arg(&trial).assert().success();
    let bytes = std::fs::read(trial.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut shapes: Vec<(String, Vec<usize>)> =
        tensors.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec())).collect();
    shapes.sort();
    assert_eq!(
        shapes,
        [
            ("conv1.bias".to_string(), vec![32]),
            ("conv1.weight".to_string(), vec![32, 1, 3, 3]),
            ("conv2.bias".to_string(), vec![64]),
            ("conv2.weight".to_string(), vec![64, 32, 3, 3]),
            ("fc1.bias".to_string(), vec![128]),
            ("fc1.weight".to_string(), vec![128, 1600]),
            ("fc2.bias".to_string(), vec![10]),
            ("fc2.weight".to_string(), vec![10, 128]),
        ]
    );

    // The export carries what a reader needs without the run folder.
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap_or_default();
    assert_eq!(
        metadata.get("classes").map(String::as_str),
        Some("[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]")
    );
    assert_eq!((metadata["mean"].as_str(), metadata["std"].as_str()), ("[0.5]", "[0.5]"));
    assert_eq!(metadata["image_shape"], "[1,28,28]");
    // --out makes the folders it names.
    let nested = smoke_run().run_dir.join("exports/seed/cnn.safetensors");
    runner(&smoke_run().run_dir).arg("export").arg(&trial).arg("--out").arg(&nested).assert().success();
    assert!(nested.is_file() && nested.with_extension("py").is_file());

    // PyTorch's own model with these weights gets `runner eval`'s accuracy on the same images.
    let python = std::env::var("RUNNER_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    if !std::process::Command::new(&python)
        .args(["-c", "import torch, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!(
            "skipped: the check in PyTorch ({python} cannot import torch and safetensors; set RUNNER_TORCH_PYTHON)"
        );
        return;
    }
    let eval = runner(&smoke_run().run_dir)
        .arg("eval")
        .arg(&trial)
        .arg("--data-dir")
        .arg(common::shared_data())
        .output()
        .unwrap();
    let eval = String::from_utf8_lossy(&eval.stderr).to_string() + &String::from_utf8_lossy(&eval.stdout);
    let accuracy = |text: &str, after: &str| {
        text[text.find(after).unwrap_or_else(|| panic!("{after:?} in {text}")) + after.len()..]
            .split('%')
            .next()
            .unwrap()
            .to_string()
    };
    let model = smoke_trial().1.model.to_string();
    let output = std::process::Command::new(&python)
        .arg(common::root().join("scripts/check_export.py"))
        .arg(trial.join("model.safetensors"))
        .args(["--model", &model, "--data"])
        .arg(common::shared_data().join("mnist"))
        .output()
        .unwrap();
    let torch = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{torch}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(accuracy(&torch, "test accuracy "), accuracy(&eval, "accuracy "), "{torch}\n{eval}");
}

#[test]
fn predict_gives_the_models_own_predictions_for_png_and_jpeg() {
    let (trial, spec, _, dataset) = smoke_trial();
    let (device, model) = last_checkpoint(&trial, &spec, &dataset);
    let trial_data = runner::train::TrialData::new(&dataset, &spec);
    let predicted = runner::train::predict(&model, &dataset.test, 8, &trial_data, &device);

    // PNGs of real MNIST test images.
    let images = tempfile::tempdir().unwrap();
    let mut pngs = Vec::new();
    for i in 0..8 {
        let pixels = dataset.test.images[i * 784..(i + 1) * 784].to_vec();
        let path = images.path().join(format!("test{i}.png"));
        image::GrayImage::from_raw(28, 28, pixels).unwrap().save(&path).unwrap();
        pngs.push(path);
    }
    assert_eq!(dataset.test.labels[0], 7);
    assert_eq!(predicted[0], 7, "the first test image, a 7, is classified right");
    // The same 7 as a 56x56 RGB JPEG: converted to 28x28 grayscale on the way in.
    let big = image::imageops::resize(
        &image::GrayImage::from_raw(28, 28, dataset.test.images[..784].to_vec()).unwrap(),
        56,
        56,
        image::imageops::FilterType::Nearest,
    );
    let jpeg = images.path().join("seven.jpg");
    image::DynamicImage::ImageLuma8(big).to_rgb8().save(&jpeg).unwrap();
    let output = runner(images.path()).arg("predict").arg(&trial).args(&pngs).arg(&jpeg).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 9, "{stdout}");
    for (i, line) in lines[..8].iter().enumerate() {
        let class = line.split(": ").nth(1).unwrap().split(' ').next().unwrap();
        assert_eq!(class, predicted[i].to_string(), "{line}");
        assert_eq!(line.matches('%').count(), 3, "top-3 probabilities: {line}");
    }
    assert!(lines[8].contains("seven.jpg: 7 "), "{}", lines[8]);

    std::fs::write(images.path().join("broken.png"), "not an image").unwrap();
    runner(images.path()).arg("predict").arg(&trial).arg(images.path().join("broken.png")).assert().code(2).stderr(
        predicates::str::contains("broken.png")
            .and(predicates::str::contains("not a readable PNG, JPEG, BMP or GIF image")),
    );
    let run_dir = &smoke_run().run_dir;
    runner(run_dir)
        .arg("predict")
        .arg(run_dir)
        .arg(&pngs[0])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a trial folder"));
}

#[test]
fn same_seed_same_metrics() {
    let first = &smoke_run().run_dir;
    let (_b, second) = run(SMOKE, &[], 0);
    assert_eq!(deterministic_metrics(first, "000_smoke"), deterministic_metrics(&second, "000_smoke"));
    let (_c, other_seed) = run(SMOKE, &["--set", "seed=8"], 0);
    assert_ne!(deterministic_metrics(first, "000_smoke"), deterministic_metrics(&other_seed, "000_smoke"));
}

#[test]
fn a_diverging_trial_fails_and_the_sweep_goes_on() {
    let spec =
        "name = \"lrs\"\nmodel = \"nn\"\nepochs = 2\nlimit_train = 300\nlimit_test = 100\n[sweep]\nlr = [1e12, 0.05]\n";
    let (_dir, run_dir) = run(spec, &[], 1);
    let summary = csv_rows(&run_dir.join("summary.csv"));
    let col = |key: &str| summary[0].iter().position(|h| h == key).unwrap();
    assert_eq!(summary[1][col("lr")], "1000000000000.0");
    assert_eq!(summary[1][col("status")], "failed");
    assert!(summary[1][col("reason")].contains("diverged"), "{:?}", summary[1]);
    assert_eq!(summary[2][col("status")], "done");
    assert_eq!(csv_rows(&run_dir.join("trials/001_lr=0.05/metrics.csv")).len(), 3);
}

#[test]
fn sweep_with_missing_data_runs_what_is_there() {
    // CIFAR-10 is not in the shared data (only a 20-record sample): its trials fail, MNIST's run.
    let spec = "name = \"mixed\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 200\nlimit_test = 100\n[sweep]\ndataset = [\"mnist\", \"cifar10\"]\n";
    let (_dir, run_dir) = run(spec, &["--offline"], 1);
    let summary = csv_rows(&run_dir.join("summary.csv"));
    let col = |key: &str| summary[0].iter().position(|h| h == key).unwrap();
    assert_eq!(summary[1][col("status")], "done");
    assert_eq!(summary[2][col("status")], "failed");
    assert!(summary[2][col("reason")].contains("cifar10 is not in"), "{:?}", summary[2]);
}
