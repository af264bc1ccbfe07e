//! `dataset = "hf:owner/name"` against a local Hugging Face Hub (the runner's own fake, on
//! 127.0.0.1) serving Parquet files written from the real MNIST: it trains exactly as the
//! built-in set does, records what it read, starts offline from its cache, and refuses bad repos.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{csv_rows, runner, the_run};
use runner::data::hub::fixture::{FixtureLabels, pngs, write_split};
use runner::data::hub::test_server::{FakeHub, FakeRepo};

/// ylecun/mnist as the Hub holds it (config `mnist`, PNG images, ClassLabel labels), made from
/// the first `train`/`test` images of the real MNIST.
fn mnist_repo(train: usize, test: usize) -> FakeRepo {
    let options = runner::data::FetchOptions { offline: true, ..Default::default() };
    let mut mnist = runner::data::load(runner::spec::DatasetName::Mnist, &common::shared_data(), &options).unwrap();
    let classes: Vec<String> = mnist.classes.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut files = BTreeMap::new();
    for (split, data, n) in [("train", &mut mnist.train, train), ("test", &mut mnist.test, test)] {
        data.labels.truncate(n);
        data.images.truncate(n * 784);
        let labels: Vec<i64> = data.labels.iter().map(|&l| l.into()).collect();
        let path = dir.path().join(split);
        write_split(&path, &pngs(data, mnist.shape), FixtureLabels::ClassLabel(&labels, &classes), "image", "label")
            .unwrap();
        files.insert(format!("mnist/{split}-00000-of-00001.parquet"), std::fs::read(path).unwrap());
    }
    FakeRepo::new("ylecun/mnist", files)
}

/// A data root holding the built-in MNIST (linked) beside the Hub cache the runner fills.
fn data_root(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::os::unix::fs::symlink(common::shared_data().join("mnist"), data.join("mnist")).unwrap();
    data
}

const SPEC: &str = "name = \"hub\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 2000\nlimit_test = 500\n\
                    [sweep]\ndataset = [\"mnist\", \"hf:ylecun/mnist\"]\n";

#[test]
fn a_hub_mnist_trains_exactly_as_the_built_in_one_and_starts_offline_from_its_cache() {
    let hub = FakeHub::start(vec![mnist_repo(2000, 500)]);
    let dir = tempfile::tempdir().unwrap();
    data_root(dir.path());
    std::fs::write(dir.path().join("spec.toml"), SPEC).unwrap();
    let run = |args: &[&str], endpoint: &str| {
        runner(dir.path())
            .args(["spec.toml", "--data-dir", "data", "--runs-dir", "out", "--quiet"])
            .args(args)
            .env("HF_ENDPOINT", endpoint)
            .env("HF_TOKEN", "hf_secret_value")
            .output()
            .unwrap()
    };
    let output = run(&[], &hub.endpoint);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let run_dir = the_run(dir.path());
    let names = trial_names(&run_dir);
    assert_eq!(names, ["000_dataset=mnist", "001_dataset=hf_ylecun_mnist"]);
    let trials: Vec<_> = names.iter().map(|t| csv_rows(&run_dir.join("trials").join(t).join("metrics.csv"))).collect();
    // Same pixels, labels and order: the same seed gives the same losses and accuracies.
    let header = &trials[0][0];
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !header[i].contains("seconds") && !header[i].contains("per_s") && header[i] != "finished_at")
        .collect();
    let pick = |rows: &Vec<Vec<String>>| -> Vec<Vec<String>> {
        rows.iter().map(|r| keep.iter().map(|&i| r[i].clone()).collect()).collect()
    };
    assert_eq!(pick(&trials[0]), pick(&trials[1]), "{header:?}");
    // The manifest records the commit and each file's sha256; the token is nowhere.
    let manifest = std::fs::read_to_string(run_dir.join("manifest.json")).unwrap();
    let repo = mnist_repo(2000, 500);
    assert!(
        manifest.contains(repo.main_commit()) && manifest.contains("mnist/train-00000-of-00001.parquet"),
        "{manifest}"
    );
    assert!(manifest.contains("\"sha256\": \""), "{manifest}");
    let images = std::fs::read_to_string(run_dir.join("trials/001_dataset=hf_ylecun_mnist/images.json")).unwrap();
    assert!(images.contains("\"classes\"") && images.contains("\"9\""), "{images}");
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains("hf_secret_value"), "the token was written to {entry:?}");
    }
    // Offline, with the Hub gone: the cache serves; the same metrics again.
    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
    let output = run(&["--offline"], "http://127.0.0.1:9");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let again = csv_rows(&the_run(dir.path()).join("trials/001_dataset=hf_ylecun_mnist/metrics.csv"));
    assert_eq!(pick(&again), pick(&trials[1]));
}

fn trial_names(run_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run_dir.join("trials"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&path));
        } else if entry.file_type().unwrap().is_file() {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_missing_repo_or_a_bad_name_is_refused_before_anything_is_written() {
    let hub = FakeHub::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let attempt = |spec: &str| {
        std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
        runner(dir.path())
            .args(["spec.toml", "--data-dir", "data", "--runs-dir", "out"])
            .env("HF_ENDPOINT", &hub.endpoint)
            .output()
            .unwrap()
    };
    let output = attempt("dataset = \"hf:nobody/nothing\"\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("hf:nobody/nothing was not found on the Hub") && stderr.contains("HF_TOKEN"), "{stderr}");
    assert!(!dir.path().join("out").exists() && !dir.path().join("data").exists());
    hub.clear_log();
    let output = attempt("dataset = \"hf:../etc\"\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("spec.toml:1:") && stderr.contains("not a valid Hub repo id"), "{stderr}");
    let output = attempt("dataset = \"mnist\"\nhf_config = \"x\"\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hf_config") && stderr.contains("only applies to dataset = \"hf:...\""), "{stderr}");
    assert_eq!(hub.log().len(), 0, "nothing was asked of the Hub for bad names");
}
