//! scripts/gpu-check.sh, the one script a scarce GPU visit runs, end to end on the CPU: a
//! stand-in binary swaps `backend=cuda` for `cpu`, trains a small slice, and records the warm-up
//! a GPU trial would, so every line of the script is exercised between visits.

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
  [ "$prev" = --runs-dir ] && runs="$a"
  args+=("$a"); prev="$a"
done
"$REAL_RUNNER" "${args[@]}" --set epochs=2 --set limit_train=300 --set limit_test=100 --set tensorboard=false
# What a cuda trial records in its status.json (the script reads it there).
for f in "$runs"/*/trials/*/status.json; do sed -i 's/^{$/{\n  "warmup_seconds": 1.25,/' "$f"; done
"#,
    )
    .unwrap();
    std::fs::set_permissions(&standin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let output = std::process::Command::new("bash")
        .arg(common::root().join("scripts/gpu-check.sh"))
        .arg(&standin)
        .arg(common::shared_data())
        .arg(dir.path().join("runs"))
        .current_dir(common::root())
        .env("REAL_RUNNER", env!("CARGO_BIN_EXE_runner"))
        .env("OUT", &out)
        .env_remove("RUNNER_EPOCHS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for round in ["cold", "warm"] {
        let row =
            stdout.lines().find(|l| l.starts_with(round)).unwrap_or_else(|| panic!("no {round} row in:\n{stdout}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 4, "{row}");
        let wall: f64 = cells[1].parse().unwrap();
        let acc: f64 = cells[2].parse().unwrap();
        assert!(wall > 0.0 && acc > 0.0 && acc <= 1.0, "{row}");
        assert_eq!(cells[3], "1.25", "the warm-up comes from the trial's status.json: {row}");
    }
    let written = std::fs::read_to_string(out.join("gpu-check.txt")).unwrap();
    assert!(written.contains("cold") && written.contains("warm") && written.contains("epoch,train_loss"), "{written}");
}
