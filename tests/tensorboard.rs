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
    let test_acc: Vec<(i64, f32)> = events.iter().filter(|(_, t, _)| t == "accuracy/test").map(|(s, _, v)| (*s, *v)).collect();
    let rows = csv_rows(&trial.join("metrics.csv"))[1..].to_vec();
    assert_eq!(test_acc.len(), 2, "one value per epoch: {events:?}");
    for (row, (step, value)) in rows.iter().zip(&test_acc) {
        assert_eq!(row[0], step.to_string());
        assert!((row[4].parse::<f32>().unwrap() - value).abs() < 1e-6);
    }
    assert!(events.iter().any(|(_, t, _)| t == "accuracy/val") && events.iter().any(|(_, t, _)| t == "lr"));
    assert!(tree(&run_dir).contains(&format!("tb/{FILE}")), "the run's HParams experiment");

    // tensorboard = false: no event files at all.
    let off = tempfile::tempdir().unwrap();
    let off_run = run(off.path(), &SWEEP.replace("val_split = 0.25\n", "val_split = 0.25\ntensorboard = false\n"));
    assert!(!tree(&off_run).iter().any(|f| f.contains("tfevents")));

    let python = std::env::var("RUNNER_TB_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_tensorboard = std::process::Command::new(&python)
        .args(["-c", "import tensorboard.backend.event_processing.event_accumulator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tensorboard {
        eprintln!("skipped: the check with the real tensorboard package ({python} cannot import tensorboard; set RUNNER_TB_PYTHON)");
        return;
    }
    let script = common::root().join("scripts/check_tensorboard.py");
    let output = std::process::Command::new(&python).arg(script).arg(&run_dir).output().unwrap();
    assert!(output.status.success(), "{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn a_resumed_trial_shows_each_epoch_once() {
    let spec = "name = \"tbresume\"\nmodel = \"nn\"\nepochs = 3\nbatch_size = 50\nlimit_train = 400\nlimit_test = 100\n";
    let dir = tempfile::tempdir().unwrap();
    let output = spec_command(dir.path(), spec).arg("-q").env("RUNNER_FAILPOINT", "batch:000_tbresume:3:2").output().unwrap();
    assert!(output.status.code().is_none());
    let run_dir = the_run(dir.path());
    let output = runner(dir.path()).arg("resume").arg(&run_dir).arg("-q").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = scalars(&run_dir.join("trials/000_tbresume/tb").join(FILE));
    let steps: Vec<i64> = events.iter().filter(|(_, t, _)| t == "loss/train").map(|(s, _, _)| *s).collect();
    assert_eq!(steps, [1, 2, 3]);
}
