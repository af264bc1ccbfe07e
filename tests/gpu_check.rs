//! scripts/gpu-check.sh, the one script a scarce GPU visit runs, end to end on the CPU: a
//! stand-in binary swaps cuda for cpu, trains a small slice, and records the warm-up a GPU trial
//! would, so every section of the script is exercised between visits.

mod common;

use std::os::unix::fs::PermissionsExt;

#[test]
fn gpu_check_runs_to_the_end_with_a_stand_in_binary() {
    let dir = tempfile::tempdir().unwrap();
    let standin = dir.path().join("runner-cuda-standin");
    std::fs::write(
        &standin,
        r#"#!/usr/bin/env bash
set -euo pipefail
args=(); runs=""; prev=""
for a in "$@"; do
  [ "$a" = backend=cuda ] && a=backend=cpu
  [ "$a" = cuda ] && [ "$prev" = --backends ] && a=cpu
  [ "$prev" = --runs-dir ] && runs="$a"
  args+=("$a"); prev="$a"
done
if [ "$1" = bench ]; then exec "$REAL_RUNNER" "${args[@]}" --steps 2 --repeats 1; fi
"$REAL_RUNNER" "${args[@]}" --set epochs=2 --set limit_train=300 --set limit_test=100 --set tensorboard=false
# What a cuda trial records in its status.json (the script reads it there).
for f in "$runs"/*/trials/*/status.json; do sed -i 's/^{$/{\n  "warmup_seconds": 1.25,/' "$f"; done
"#,
    )
    .unwrap();
    std::fs::set_permissions(&standin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let folder = dir.path().join("digits");
    runner::data::test_data::mnist_folder(&folder, &[3, 5, 8], 60, 20, false);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let output = std::process::Command::new("bash")
        .arg(common::root().join("scripts/gpu-check.sh"))
        .arg(&standin)
        .arg(common::shared_data())
        .arg(dir.path().join("runs"))
        .arg(&folder)
        .current_dir(common::root())
        .env("REAL_RUNNER", env!("CARGO_BIN_EXE_runner"))
        .env("OUT", &out)
        .env_remove("RUNNER_EPOCHS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let row = |start: &str| -> Vec<String> {
        let words: Vec<&str> = start.split_whitespace().collect();
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().take(words.len()).eq(words.iter().copied()))
            .unwrap_or_else(|| panic!("no `{start}` row in:\n{stdout}"));
        line.split_whitespace().map(String::from).collect()
    };
    let number = |cell: &str| cell.parse::<f64>().unwrap_or_else(|_| panic!("{cell} in:\n{stdout}"));

    // 1. Cold and warm, each model: wall time, accuracy, the warm-up from status.json, timings.
    for round in ["cold cnn", "warm cnn", "cold nn", "warm nn"] {
        let cells = row(round);
        assert_eq!(cells.len(), 5, "{cells:?}");
        assert!(number(&cells[2]) > 0.0 && number(&cells[3]) > 0.0 && number(&cells[3]) <= 1.0, "{cells:?}");
        assert_eq!(cells[4], "1.25", "the warm-up comes from the trial's status.json: {cells:?}");
    }
    let timings: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with("timings: ")).collect();
    assert_eq!(timings.len(), 4, "{stdout}");
    assert!(timings.iter().all(|l| l.contains("\"device_init\":") && l.contains("\"upload\":")), "{stdout}");
    // 2. Three bench shapes.
    assert_eq!(stdout.matches("### ").count(), 3, "{stdout}");
    assert!(stdout.contains("### --set conv_channels=[64,128]"), "{stdout}");
    // 3. Every option ran on both backends; the stand-in's are both the CPU, so they match.
    for option in ["val_split", "schedule", "augment", "early_stop", "asha", "folder"] {
        let cells = row(option);
        assert_eq!(cells.len(), 5, "{cells:?}");
        assert_eq!((cells[3].as_str(), cells[4].as_str()), ("+0.00", "yes"), "{cells:?}");
    }
    // 4. Trials per minute at each --jobs.
    for jobs in ["1", "2", "4", "8"] {
        let cells = row(jobs);
        assert_eq!(cells.len(), 3, "{cells:?}");
        assert!((number(&cells[2]) - 8.0 * 60.0 / number(&cells[1])).abs() < 0.2, "{cells:?}");
    }
    let written = std::fs::read_to_string(out.join("gpu-check.txt")).unwrap();
    assert!(written.starts_with(stdout.lines().next().unwrap()) && written.contains("epoch,train_loss"), "{written}");
}
