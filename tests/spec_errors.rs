//! Bad input: one clear message naming the file, key and place, exit code 2, nothing written.

mod common;

use common::{rejects, root, runner, tree};
use predicates::prelude::*;

#[test]
fn toml_syntax_error() {
    rejects("name = \"x\"\nlr = 0.1.2\n", &[], &["spec.toml:2:", "invalid TOML"]);
    rejects("[sweep\n", &[], &["spec.toml:1:", "invalid TOML"]);
    let dir = tempfile::tempdir().unwrap();
    runner(dir.path())
        .args(["reprot", "runs/x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("did you mean `runner report`?"));
    // A model whose batch cannot fit in any machine's memory: refused before it starts, not
    // killed by a failed allocation mid-epoch.
    rejects(
        "conv_channels = [4096]\nbatch_size = 10000\n",
        &[],
        &["spec.toml:2:", "`batch_size`", "needs at least", "GB to train at batch_size 10000", "smaller batch_size"],
    );
}

#[test]
fn unknown_key_suggests_the_closest() {
    rejects(
        "batchsize = 10\n",
        &[],
        &["spec.toml:1:1", "unknown key `batchsize`", "did you mean `batch_size`?", "allowed keys:"],
    );
}

#[test]
fn wrong_types() {
    rejects("epochs = \"5\"\n", &[], &["spec.toml:1:1", "`epochs`", "expected a non-negative integer"]);
    rejects("lr = \"fast\"\n", &[], &["`lr`", "expected a number"]);
    rejects("hidden = 128\n", &[], &["`hidden`", "expected a sequence"]);
}

#[test]
fn out_of_range_values() {
    rejects("lr = 0\n", &[], &["spec.toml:1:1", "`lr`: must be a finite number greater than 0"]);
    rejects(
        "name = \"x\"\nstale_after_seconds = 2\n",
        &[],
        &["spec.toml:2:1", "`stale_after_seconds`", "must be 3 to 604800", "three heartbeats"],
    );
    rejects("lr = -0.5\n", &[], &["`lr`: must be a finite number greater than 0"]);
    rejects("lr = nan\n", &[], &["`lr`: must be a finite number"]);
    rejects("lr = inf\n", &[], &["`lr`: must be a finite number"]);
    rejects("\nepochs = 0\n", &[], &["spec.toml:2:1", "`epochs`: must be at least 1"]);
    rejects("batch_size = 0\n", &[], &["`batch_size`: must be at least 1"]);
    rejects("seed = -3\n", &[], &["`seed`: must be a non-negative integer"]);
}

#[test]
fn unknown_names_list_what_is_allowed() {
    rejects("model = \"rnn\"\n", &[], &["`model`: unknown value \"rnn\"; allowed: nn, cnn"]);
    rejects("dataset = \"imagenet\"\n", &[], &["allowed: mnist, fashion-mnist, cifar10"]);
    rejects("backend = \"tpu\"\n", &[], &["allowed: cpu, flex, ndarray, cuda"]);
    rejects("optimizer = \"lbfgs\"\n", &[], &["allowed: sgd, adam"]);
}

#[test]
fn bad_sweeps() {
    rejects("[sweep]\nmodel = []\n", &[], &["spec.toml:2:9", "`sweep.model`: must be a non-empty list"]);
    rejects("[sweep]\nmodel = \"nn\"\n", &[], &["`sweep.model`: must be a non-empty list"]);
    rejects("[sweep]\nlayers = [1]\n", &[], &["spec.toml:2:1", "unknown key `sweep.layers`"]);
    rejects("[sweep]\nmodel = [\"nn\", \"rnn\"]\n", &[], &["spec.toml:2:16", "`sweep.model`", "unknown variant `rnn`"]);
    rejects("[sweep]\nepochs = [1, 0]\n", &[], &["spec.toml:2:14", "`sweep.epochs`: must be at least 1"]);
}

#[test]
fn unsafe_names() {
    rejects("name = \"../../etc\"\n", &[], &["`name`: must be 1-64 characters"]);
    rejects("name = \"a b\"\n", &[], &["`name`"]);
    rejects("name = \"\"\n", &[], &["`name`"]);
}

#[test]
fn bad_overrides() {
    rejects("", &["--set", "lr"], &["--set \"lr\": expected KEY=VALUE"]);
    rejects("", &["--set", "learning_rate=0.1"], &["--set learning_rate=0.1: unknown key `learning_rate`"]);
    rejects("", &["--set", "lr=-1"], &["--set lr=-1: `lr`: must be a finite number"]);
}

#[test]
fn environment_values_are_checked_and_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), "").unwrap();
    runner(dir.path())
        .arg("spec.toml")
        .env("RUNNER_EPOCHS", "0")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("environment variable RUNNER_EPOCHS: `epochs`: must be at least 1"));
    assert_eq!(tree(dir.path()), ["spec.toml"]);
}

#[test]
fn missing_or_unreadable_spec() {
    let dir = tempfile::tempdir().unwrap();
    runner(dir.path())
        .arg("nope.toml")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read spec file nope.toml"));
    std::fs::create_dir(dir.path().join("folder.toml")).unwrap();
    runner(dir.path())
        .arg("folder.toml")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read spec file folder.toml"));
    runner(dir.path()).assert().code(2).stderr(predicate::str::contains("give a spec file"));
    assert_eq!(tree(dir.path()), ["folder.toml"]);
}

#[test]
fn cuda_backend_in_a_cpu_build_says_how_to_rebuild() {
    if cfg!(feature = "cuda") {
        return;
    }
    rejects("backend = \"cuda\"\n", &[], &["built without CUDA support", "cargo build --release --features cuda"]);
}

#[test]
fn missing_data_offline_lists_the_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), "dataset = \"fashion-mnist\"\n").unwrap();
    runner(dir.path())
        .args(["spec.toml", "--offline", "--data-dir", "nodata"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("fashion-mnist is not in nodata and --offline forbids downloading"))
        .stderr(predicate::str::contains("nodata/fashion-mnist/train-images-idx3-ubyte.gz"));
    assert_eq!(tree(dir.path()), ["spec.toml"]);
}

#[test]
fn help_explains_the_tool() {
    runner(&root())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--dry-run"))
        .stdout(predicate::str::contains("--set <KEY=VALUE>"))
        .stdout(predicate::str::contains("RUNNER_<KEY>"));
}
