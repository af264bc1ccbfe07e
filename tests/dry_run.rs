//! `--dry-run` on every shipped config: the trial table, exit 0, nothing written.

mod common;

use common::{root, runner, tree};

/// A dry run's output apart: the `key=value` pairs every trial shares, and the table.
fn constants_and_table(output: &str) -> (Vec<(String, String)>, String) {
    let (above, table) = output.split_once("\n\n").expect("the constants, a blank line, the table");
    let constants = above
        .trim_start_matches("every trial:")
        .split_whitespace()
        .map(|item| {
            let (key, value) = item.split_once('=').expect("key=value");
            (key.to_string(), value.to_string())
        })
        .collect();
    (constants, table.to_string())
}

/// The table of a dry run.
fn table_of(output: &str) -> String {
    constants_and_table(output).1
}

fn dry_run(config: &str, args: &[&str]) -> String {
    let runs = tempfile::tempdir().unwrap();
    let output = runner(&root())
        .arg(format!("configs/{config}"))
        .arg("--dry-run")
        .arg("--runs-dir")
        .arg(runs.path())
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{config}: {}", String::from_utf8_lossy(&output.stderr));
    assert!(tree(runs.path()).is_empty(), "--dry-run writes nothing");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_shipped_config_lists_its_trials() {
    let mut configs: Vec<String> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    configs.sort();
    assert_eq!(
        configs,
        [
            "cifar10_cnn.toml",
            "cifar10_nn.toml",
            "fashion_mnist_cnn.toml",
            "hub_cifar10.toml",
            "image_folder.toml",
            "mnist_cnn.toml",
            "mnist_nn.toml",
            "nn_vs_cnn.toml"
        ]
    );
    // The image folder's spec, on a small folder of the same layout.
    let images = tempfile::tempdir().unwrap();
    runner::data::test_data::mnist_folder(&images.path().join("digits"), &[0, 1, 2], 5, 2, false);
    let folder = format!("folder={}", images.path().join("digits").display());
    let data_dir = images.path().join("data").display().to_string();
    for config in &configs {
        let args: &[&str] =
            if config == "image_folder.toml" { &["--set", &folder, "--data-dir", &data_dir] } else { &[] };
        let (constants, table) = constants_and_table(&dry_run(config, args));
        assert!(table.starts_with("| index | trial"), "{config}: {table}");
        let shown = |key: &str| constants.iter().any(|(k, _)| k == key) || table.contains(&format!("| {key} "));
        assert!(shown("batch_size") && shown("lr") && shown("model"), "{config}: every field, above or as a column");
    }
}

#[test]
fn seed_experiment_resolves_to_the_reference_hyperparameters() {
    let (constants, table) = constants_and_table(&dry_run("mnist_cnn.toml", &[]));
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    let cells: Vec<&str> = rows[2].split('|').map(str::trim).collect();
    let header: Vec<&str> = rows[0].split('|').map(str::trim).collect();
    // One trial: every key is above the table, the costs in it.
    let get = |key: &str| match header.iter().position(|h| *h == key) {
        Some(i) => cells[i],
        None => constants.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap(),
    };
    assert_eq!((get("model"), get("dataset"), get("backend")), ("cnn", "mnist", "cpu"));
    assert_eq!((get("epochs"), get("batch_size"), get("lr"), get("optimizer")), ("5", "100", "0.01", "sgd"));
    // The cost of each trial: the reference CNN's parameters (torch's numel sum) and MACs (fvcore).
    assert_eq!((get("params"), get("macs")), ("225034", "2631040"));
    // The least memory it trains in: 4 bytes x (weights and gradients + a batch of 100 images'
    // activations and their gradients) = 55,248,272 bytes (src/model/memory.rs).
    assert_eq!(get("memory"), "55 MB");
}

#[test]
fn nn_vs_cnn_is_six_trials() {
    let table = table_of(&dry_run("nn_vs_cnn.toml", &[]));
    let names: Vec<&str> = table.lines().skip(2).map(|l| l.split('|').nth(2).unwrap().trim()).collect();
    assert_eq!(
        names,
        [
            "dataset=mnist,model=nn",
            "dataset=mnist,model=cnn",
            "dataset=fashion-mnist,model=nn",
            "dataset=fashion-mnist,model=cnn",
            "dataset=cifar10,model=nn",
            "dataset=cifar10,model=cnn"
        ]
    );
}

#[test]
fn layers_show_in_the_table() {
    let runs = tempfile::tempdir().unwrap();
    let output = runner(&root())
        .args(["configs/mnist_nn.toml", "--dry-run", "--set", "sweep.seed=[1,2]", "--set", "epochs=2"])
        .arg("--runs-dir")
        .arg(runs.path())
        .env("RUNNER_LR", "0.5")
        .output()
        .unwrap();
    let (constants, table) = constants_and_table(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.contains("seed=1") && table.contains("seed=2"), "{table}");
    let constant = |key: &str| constants.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(constant("lr").as_deref(), Some("0.5"), "env lr");
    assert_eq!(constant("epochs").as_deref(), Some("2"), "--set epochs");
}

/// `params` and `macs` of `--dry-run` against PyTorch's parameter count and fvcore's MACs of the
/// reference models (scripts/check_costs.py), where a Python with torch and fvcore is found:
/// `RUNNER_TORCH_PYTHON`, else `python3`.
#[test]
fn params_and_macs_match_pytorch_and_fvcore() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "name = \"costs\"\n[sweep]\nmodel = [\"nn\", \"cnn\"]\ndataset = [\"mnist\", \"cifar10\"]\n";
    let output = common::run_spec(dir.path(), spec, &["--dry-run"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = table_of(&String::from_utf8(output.stdout).unwrap());
    let cells = |line: &str| line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>();
    let header = cells(table.lines().next().unwrap());
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let ours: Vec<String> = table
        .lines()
        .skip(2)
        .map(|l| {
            let row = cells(l);
            format!("{} {} {} {}", row[at("model")], row[at("dataset")], row[at("params")], row[at("macs")])
        })
        .collect();
    // The seed models' counts (fvcore 0.1.5.post20221221, torch 2.15: identical).
    let expected = [
        "nn mnist 101770 101632",
        "cnn mnist 225034 2631040",
        "nn cifar10 394634 394496",
        "cnn cifar10 315722 4188800",
    ];
    let mut sorted = ours.clone();
    sorted.sort();
    let mut want = expected.map(String::from).to_vec();
    want.sort();
    assert_eq!(sorted, want, "{table}");

    let python = std::env::var("RUNNER_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = std::process::Command::new(&python)
        .args(["-c", "import torch, fvcore"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        eprintln!(
            "skipped: the count with PyTorch and fvcore ({python} cannot import torch and fvcore; set RUNNER_TORCH_PYTHON)"
        );
        return;
    }
    let output = std::process::Command::new(&python).arg(root().join("scripts/check_costs.py")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut theirs: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(String::from).collect();
    theirs.sort();
    assert_eq!(sorted, theirs, "runner's counts against fvcore's");
}

/// `padding` takes 0 or "same": both sweep and search like any architecture key; other values
/// are still refused, located.
#[test]
fn padding_same_sweeps_and_searches_like_any_architecture_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, trials) in [
        ("name = \"pad\"\nmodel = \"cnn\"\n[sweep]\npadding = [0, \"same\"]\n", 2),
        (
            "name = \"pad\"\nmodel = \"cnn\"\nval_split = 0.1\n[search]\nmethod = \"random\"\ntrials = 4\n\
             [search.space]\npadding = [0, \"same\"]\n",
            4,
        ),
    ] {
        std::fs::write(dir.path().join("spec.toml"), text).unwrap();
        let output = runner(dir.path()).args(["spec.toml", "--dry-run"]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = table_of(&String::from_utf8_lossy(&output.stdout));
        assert!(stdout.contains("| padding=same |") && stdout.contains("| padding=0 "), "{stdout}");
        assert_eq!(stdout.lines().count(), 2 + trials, "{stdout}");
    }
    common::rejects(
        "name = \"pad\"\nmodel = \"cnn\"\n[sweep]\npadding = [0, \"full\"]\n",
        &[],
        &["spec.toml:4:15: `sweep.padding`: padding takes 0 or \"same\", found \"full\""],
    );
}
