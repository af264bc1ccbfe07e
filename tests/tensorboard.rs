//! TensorBoard event files: read back here (framing, CRCs, protobuf), and with the real
//! `tensorboard` package (scripts/check_tensorboard.py) where a Python that has it is found:
//! `RUNNER_TB_PYTHON`, else `python3`. .ci/run installs it into a virtual environment.

mod common;

use std::path::{Path, PathBuf};

use common::{csv_rows, run_spec, runner, spec_command, the_run, tree};
use prost::Message;
use runner::run::tensorboard::{Event, FILE, event, read_records, summary_value};

const SWEEP: &str = "name = \"tb\"\nepochs = 2\nbatch_size = 50\nlimit_train = 400\nlimit_test = 100\nval_split = 0.25\n\
                     [sweep]\nmodel = [\"nn\", \"cnn\"]\nseed = [1, 2]\n";

fn run(dir: &Path, spec: &str) -> PathBuf {
    let output = run_spec(dir, spec, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    the_run(dir)
}

/// (step, tag, value) of every scalar in an event file.
fn scalars(path: &Path) -> Vec<(i64, String, f32)> {
    let records = read_records(&std::fs::read(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for record in records {
        let event = Event::decode(record.as_slice()).unwrap();
        if let Some(event::What::Summary(summary)) = event.what {
            for value in summary.value {
                if let Some(summary_value::Value::SimpleValue(v)) = value.value {
                    out.push((event.step, value.tag, v));
                }
            }
        }
    }
    out
}

#[test]
fn event_files_hold_every_epoch_once_and_the_real_tensorboard_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = run(dir.path(), SWEEP);
    let trial = run_dir.join("trials/000_model=nn,seed=1");
    let events = scalars(&trial.join("tb").join(FILE));
    let test_acc: Vec<(i64, f32)> =
        events.iter().filter(|(_, t, _)| t == "accuracy/test").map(|(s, _, v)| (*s, *v)).collect();
    let rows = csv_rows(&trial.join("metrics.csv"))[1..].to_vec();
    assert_eq!(test_acc.len(), 2, "one value per epoch: {events:?}");
    for (row, (step, value)) in rows.iter().zip(&test_acc) {
        assert_eq!(row[0], step.to_string());
        assert!((row[4].parse::<f32>().unwrap() - value).abs() < 1e-6);
    }
    assert!(events.iter().any(|(_, t, _)| t == "accuracy/val") && events.iter().any(|(_, t, _)| t == "lr"));
    assert!(!tree(&run_dir).contains(&format!("tb/{FILE}")), "no experiment summary: it would hide other runs' keys");

    // tensorboard = false: no event files at all.
    let off = tempfile::tempdir().unwrap();
    let off_run = run(off.path(), &SWEEP.replace("val_split = 0.25\n", "val_split = 0.25\ntensorboard = false\n"));
    assert!(!tree(&off_run).iter().any(|f| f.contains("tfevents")));

    check_with_tensorboard(&[run_dir.to_str().unwrap()]);
}

/// Runs scripts/check_tensorboard.py with `args` where a Python with tensorboard is found.
fn check_with_tensorboard(args: &[&str]) {
    let python = std::env::var("RUNNER_TB_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_tensorboard = std::process::Command::new(&python)
        .args(["-c", "import tensorboard.backend.event_processing.event_accumulator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tensorboard {
        eprintln!(
            "skipped: the check with the real tensorboard package ({python} cannot import tensorboard; set RUNNER_TB_PYTHON)"
        );
        return;
    }
    let script = common::root().join("scripts/check_tensorboard.py");
    let output = std::process::Command::new(&python).arg(script).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
}

/// Sessions of the trials of `runs/<run>` and their hparams, read from the event files.
fn sessions(runs: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for trial in tree(runs).into_iter().filter(|f| f.ends_with(FILE)) {
        let records = read_records(&std::fs::read(runs.join(&trial)).unwrap()).unwrap();
        let event = Event::decode(records[1].as_slice()).unwrap();
        let Some(event::What::Summary(summary)) = event.what else {
            panic!("{trial}: the second record is the session start")
        };
        let data = runner::run::tensorboard::HParamsPluginData::decode(
            summary.value[0].metadata.as_ref().unwrap().plugin_data.as_ref().unwrap().content.as_slice(),
        )
        .unwrap();
        let Some(runner::run::tensorboard::hparams_data::Data::SessionStartInfo(start)) = data.data else {
            panic!("{trial}: no session start")
        };
        let mut keys: Vec<String> = start.hparams.into_keys().collect();
        keys.sort();
        out.push((trial, keys));
    }
    out
}

#[test]
fn tensorboard_over_many_runs_shows_every_runs_keys_for_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let grid = "name = \"grid\"\nepochs = 1\nbatch_size = 50\nlimit_train = 200\nlimit_test = 100\n[sweep]\nmodel = [\"nn\", \"cnn\"]\nseed = [1, 2]\n";
    let search = "name = \"search\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 200\nlimit_test = 100\n[search]\nmethod = \"random\"\ntrials = 3\nseed = 4\n\
                  [search.space]\nlr = { log_uniform = [0.001, 0.1] }\nbatch_size = { int_uniform = [16, 64] }\noptimizer = [\"sgd\", \"adam\"]\nmomentum = { uniform = [0.0, 0.9] }\n";
    let fashion = "name = \"fashion\"\ndataset = \"fashion-mnist\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 200\nlimit_test = 100\n";
    for spec in [grid, search, fashion] {
        let output = run_spec(dir.path(), spec, &["-q"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let runs = dir.path().join("out");
    let sessions = sessions(&runs);
    assert_eq!(sessions.len(), 8, "{sessions:?}");
    // Every session names each key any run varies (momentum only where it applies), so the union
    // TensorBoard builds places every trial on every axis.
    for (trial, keys) in &sessions {
        for key in ["model", "dataset", "seed", "lr", "batch_size", "optimizer", "epochs", "val_split"] {
            assert!(keys.iter().any(|k| k == key), "{trial} lacks {key}: {keys:?}");
        }
    }
    assert!(!tree(&runs).iter().any(|f| f.ends_with(&format!("Z_grid/tb/{FILE}"))), "no run-level experiment");
    check_with_tensorboard(&["--api", runs.to_str().unwrap()]);
}

#[test]
fn a_resumed_trial_shows_each_epoch_once() {
    let spec =
        "name = \"tbresume\"\nmodel = \"nn\"\nepochs = 3\nbatch_size = 50\nlimit_train = 400\nlimit_test = 100\n";
    let dir = tempfile::tempdir().unwrap();
    let output =
        spec_command(dir.path(), spec).arg("-q").env("RUNNER_FAILPOINT", "batch:000_tbresume:3:2").output().unwrap();
    assert!(output.status.code().is_none());
    let run_dir = the_run(dir.path());
    let output = runner(dir.path()).arg("resume").arg(&run_dir).arg("-q").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = scalars(&run_dir.join("trials/000_tbresume/tb").join(FILE));
    let steps: Vec<i64> = events.iter().filter(|(_, t, _)| t == "loss/train").map(|(s, _, _)| *s).collect();
    assert_eq!(steps, [1, 2, 3]);
}
