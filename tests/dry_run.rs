//! `--dry-run` on every shipped config: the trial table, exit 0, nothing written.

mod common;

use common::{root, runner, tree};

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
        ["cifar10_cnn.toml", "cifar10_nn.toml", "fashion_mnist_cnn.toml", "mnist_cnn.toml", "mnist_nn.toml", "nn_vs_cnn.toml"]
    );
    for config in &configs {
        let table = dry_run(config, &[]);
        assert!(table.starts_with("| index | trial"), "{config}: {table}");
        assert!(table.contains("| batch_size |"), "{config}: every field is a column");
    }
}

#[test]
fn seed_experiment_resolves_to_the_reference_hyperparameters() {
    let table = dry_run("mnist_cnn.toml", &[]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    let cells: Vec<&str> = rows[2].split('|').map(str::trim).collect();
    let header: Vec<&str> = rows[0].split('|').map(str::trim).collect();
    let get = |key: &str| cells[header.iter().position(|h| *h == key).unwrap()];
    assert_eq!((get("model"), get("dataset"), get("backend")), ("cnn", "mnist", "cpu"));
    assert_eq!((get("epochs"), get("batch_size"), get("lr"), get("optimizer")), ("5", "100", "0.01", "sgd"));
    // The cost of each trial: the reference CNN's parameters (torch's numel sum) and MACs (fvcore).
    assert_eq!((get("params"), get("macs")), ("225034", "2631040"));
}

#[test]
fn nn_vs_cnn_is_six_trials() {
    let table = dry_run("nn_vs_cnn.toml", &[]);
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
    let table = String::from_utf8(output.stdout).unwrap();
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.contains("seed=1") && table.contains("seed=2"), "{table}");
    assert!(table.contains("| 0.5 "), "env lr: {table}");
    assert!(table.contains("| 2      |") || table.contains("| 2 "), "--set epochs: {table}");
}
