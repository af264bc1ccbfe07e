//! Architectures set in the spec (`hidden`, `conv_channels`, `kernel_size`, `padding`,
//! `batch_norm`, `dropout`): refusals, costs, exact resume with dropout, and an export PyTorch
//! builds from model.py.

mod common;

use common::{csv_rows, rejects, results, run_spec, runner, spec_command, the_run};

/// The non-seed CNN, small enough for a test.
const CUSTOM: &str = "name = \"custom\"\nmodel = \"cnn\"\nepochs = 2\nlimit_train = 1500\nlimit_test = 300\n\
                      conv_channels = [16, 32]\nkernel_size = 5\npadding = \"same\"\nbatch_norm = true\ndropout = 0.25\nhidden = [64]\n";

#[test]
fn architectures_that_cannot_be_built_are_refused_before_anything_is_written() {
    rejects("kernel_size = 4\n", &[], &["spec.toml:1:1", "`kernel_size`: must be odd, from 1 to 7", "got 4"]);
    rejects("kernel_size = 9\n", &[], &["`kernel_size`: must be odd, from 1 to 7"]);
    rejects("dropout = 1.0\n", &[], &["spec.toml:1:1", "`dropout`: must be in [0, 1)"]);
    rejects("padding = 1\n", &[], &["spec.toml:1:1", "`padding`", "0 or \"same\", found 1"]);
    rejects("padding = \"full\"\n", &[], &["`padding`", "found \"full\""]);
    rejects("conv_channels = []\n", &[], &["`conv_channels`: must list 1 to 8 conv blocks"]);
    rejects("conv_channels = [8, 0]\n", &[], &["`conv_channels`"]);
    rejects(
        "conv_channels = [8, 8, 8, 8, 8]\n",
        &[],
        &[
            "spec.toml:1:1",
            "`conv_channels`: 5 conv blocks do not fit mnist's 28x28 images: conv block 4 gets a 1x1 feature map, smaller than its 3x3 kernel",
        ],
    );
    // A sweep is checked trial by trial, and names the value that does not fit.
    rejects("[sweep]\nkernel_size = [3, 6]\n", &[], &["spec.toml:2:", "kernel_size"]);
    // The same blocks fit with padding = "same", and an NN ignores them.
    let dir = tempfile::tempdir().unwrap();
    for spec in
        ["conv_channels = [8, 8, 8, 8]\npadding = \"same\"\n", "model = \"nn\"\nconv_channels = [8, 8, 8, 8, 8]\n"]
    {
        let output = run_spec(dir.path(), spec, &["--dry-run"]);
        assert!(output.status.success(), "{spec}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn dry_run_counts_parameters_and_macs_of_each_architecture() {
    let spec = "[sweep]\nconv_channels = [[32, 64], [64, 128]]\nbatch_norm = [false, true]\n";
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), spec, &["--dry-run"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Below the keys every trial shares: the table.
    let stdout = String::from_utf8(output.stdout).unwrap();
    let table = stdout.split_once("\n\n").unwrap().1;
    let cells = |line: &str| line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>();
    let header = cells(table.lines().next().unwrap());
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<(String, String, String, String)> = table
        .lines()
        .skip(2)
        .map(cells)
        .map(|r| {
            (
                r[at("conv_channels")].clone(),
                r[at("batch_norm")].clone(),
                r[at("params")].clone(),
                r[at("macs")].clone(),
            )
        })
        .collect();
    // PyTorch's parameters() of the same modules (batch norm: weight and bias per channel).
    let seed = 225_034;
    let wide = (9 * 64 + 64) + (64 * 9 * 128 + 128) + (128 * 25 * 128 + 128) + 1290;
    let wide_macs = 26 * 26 * 64 * 9 + 11 * 11 * 128 * 64 * 9 + 128 * 25 * 128 + 1280;
    assert_eq!(
        rows,
        [
            ("32-64".into(), "false".into(), seed.to_string(), "2631040".into()),
            ("64-128".into(), "false".into(), wide.to_string(), wide_macs.to_string()),
            ("32-64".into(), "true".into(), (seed + 2 * (32 + 64 + 128)).to_string(), "2631040".into()),
            ("64-128".into(), "true".into(), (wide + 2 * (64 + 128 + 128)).to_string(), wide_macs.to_string()),
        ],
        "{table}"
    );
}

#[test]
fn a_custom_cnn_with_dropout_resumes_exactly_after_kill_9() {
    let straight = tempfile::tempdir().unwrap();
    let output = run_spec(straight.path(), CUSTOM, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let dir = tempfile::tempdir().unwrap();
    let output =
        spec_command(dir.path(), CUSTOM).arg("-q").env("RUNNER_FAILPOINT", "committed:000_custom:1").output().unwrap();
    assert!(output.status.code().is_none(), "killed after epoch 1");
    let output = runner(dir.path()).arg("resume").arg(the_run(dir.path())).arg("-q").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        results(&the_run(dir.path())),
        results(&the_run(straight.path())),
        "dropout masks depend on seed and epoch alone"
    );
    let metrics = csv_rows(&the_run(straight.path()).join("trials/000_custom/metrics.csv"));
    let accuracy: f64 = metrics[2][4].parse().unwrap();
    assert!(accuracy > 0.5, "it learns: {metrics:?}");
}

#[test]
fn a_custom_cnn_exports_a_model_py_that_pytorch_loads_strictly_with_runner_evals_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), CUSTOM, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let trial = the_run(dir.path()).join("trials/000_custom");
    let output = runner(dir.path()).arg("export").arg(&trial).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let module = std::fs::read_to_string(trial.join("model.py")).unwrap();
    for line in [
        "self.conv1 = nn.Conv2d(1, 16, 5, padding=2)",
        "self.bn2 = nn.BatchNorm2d(32, eps=1e-5, momentum=0.1)",
        "self.fc1 = nn.Linear(1568, 64)",
        "self.fc_bn1 = nn.BatchNorm1d(64, eps=1e-5, momentum=0.1)",
        "self.dropout = nn.Dropout(0.25)",
        "return self.fc2(x)",
    ] {
        assert!(module.contains(line), "{line:?} in:\n{module}");
    }
    let bytes = std::fs::read(trial.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tracked = tensors.tensor("bn1.num_batches_tracked").unwrap();
    assert_eq!((tracked.dtype(), tracked.shape()), (safetensors::Dtype::I64, &[][..]));
    assert_eq!(tensors.tensor("bn1.running_var").unwrap().shape(), [16]);

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
    let eval =
        runner(dir.path()).arg("eval").arg(&trial).arg("--data-dir").arg(common::shared_data()).output().unwrap();
    let eval = String::from_utf8_lossy(&eval.stderr).to_string() + &String::from_utf8_lossy(&eval.stdout);
    let output = std::process::Command::new(&python)
        .arg(common::root().join("scripts/check_export.py"))
        .arg(trial.join("model.safetensors"))
        .arg("--data")
        .arg(common::shared_data().join("mnist"))
        .output()
        .unwrap();
    let torch = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{torch}{}", String::from_utf8_lossy(&output.stderr));
    let accuracy = |text: &str, after: &str| {
        text[text.find(after).unwrap_or_else(|| panic!("{after:?} in {text}")) + after.len()..]
            .split('%')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(accuracy(&torch, "test accuracy "), accuracy(&eval, "accuracy "), "{torch}\n{eval}");
}
