//! What an adversarial pass broke once: specs from pipes, huge sweeps and models, hostile
//! output paths, damaged checkpoints and trial specs, control characters in messages.

mod common;

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{rejects, runner, shared_data};
use predicates::prelude::*;

#[test]
fn a_spec_from_stdin_or_a_fifo_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir.path())
        .args(["/dev/stdin", "--dry-run"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"model = \"nn\"\nepochs = 3\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains(" model=nn ") && !table.contains("cnn"), "the piped spec, not the defaults: {table}");

    let fifo = dir.path().join("spec.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, "model = \"nn\"\nname = \"piped\"\n").unwrap())
    };
    let output = runner(dir.path()).arg(&fifo).arg("--dry-run").timeout(Duration::from_secs(60)).output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8(output.stdout).unwrap().contains(" model=nn "));
}

#[test]
fn sweeps_too_large_to_count_or_run_are_refused_before_allocating() {
    let axis = |key: &str| format!("{key} = [{}]\n", (1..=256).map(|v| v.to_string()).collect::<Vec<_>>().join(", "));
    let keys = ["batch_size", "epochs", "limit_test", "limit_train", "seed", "threads", "device", "lr"];
    let spec: String = std::iter::once("[sweep]\n".to_string()).chain(keys.iter().map(|k| axis(k))).collect();
    rejects(&spec, &[], &["spec.toml:1:", "more than 2^64 trials", "limit of 1000000 trials"]);
    rejects(&spec, &["--dry-run"], &["more than 2^64 trials"]);
    let spec: String = std::iter::once("[sweep]\n".to_string()).chain(keys[..5].iter().map(|k| axis(k))).collect();
    rejects(&spec, &[], &["1099511627776 trials (256 batch_size x 256 epochs"]);
    rejects("[sweep]\nlr = [1, 1.0]\n", &[], &["spec.toml:2:10", "`sweep.lr`: 1.0 is listed twice"]);
}

#[test]
fn models_too_large_for_memory_are_refused_at_validation() {
    rejects(
        "model = \"nn\"\nhidden = [1000000000]\n",
        &[],
        &["spec.toml:2:1", "`hidden`", "the limit is 1000000000 parameters"],
    );
    rejects(
        "model = \"nn\"\n[sweep]\nhidden = [[128], [4000000000]]\n",
        &["--dry-run"],
        &["`sweep.hidden`", "parameters"],
    );
}

#[test]
fn a_table_cell_longer_than_65535_characters_prints() {
    let dir = tempfile::tempdir().unwrap();
    let hidden = vec!["1"; 40_000].join(", ");
    std::fs::write(dir.path().join("spec.toml"), format!("model = \"nn\"\nhidden = [{hidden}]\n")).unwrap();
    let output = runner(dir.path()).args(["spec.toml", "--dry-run"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8(output.stdout).unwrap().contains(&vec!["1"; 40_000].join("-")));
}

#[test]
fn control_characters_from_input_are_escaped_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), "").unwrap();
    let output = runner(dir.path()).args(["spec.toml", "--set", "\x1b]0;pwned\x07lr=1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains('\x1b') && !stderr.contains('\x07'), "{stderr:?}");
    assert!(stderr.contains("\\u{1b}]0;pwned\\u{7}"), "{stderr}");
}

/// One short NN trial, trained once for the tests below that need a trial folder.
fn trained_trial() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let spec = "name = \"tiny\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 200\nlimit_test = 100\n";
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    runner(dir.path())
        .arg("spec.toml")
        .arg("--data-dir")
        .arg(shared_data())
        .args(["--runs-dir", "out", "-q"])
        .assert()
        .success();
    let run = std::fs::read_dir(dir.path().join("out")).unwrap().next().unwrap().unwrap().path();
    (dir, run.join("trials/000_tiny"))
}

#[test]
fn out_writes_through_symlinks_keeps_modes_and_refuses_devices_and_fifos() {
    let (dir, trial) = trained_trial();
    let out = dir.path();

    runner(out)
        .arg("export")
        .arg(&trial)
        .args(["--out", "/dev/null"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/dev/null: not a regular file (a device)"));
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());

    let fifo = out.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    runner(out)
        .arg("export")
        .arg(&trial)
        .arg("--out")
        .arg(&fifo)
        .assert()
        .failure()
        .stderr(predicate::str::contains("named pipe"));
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    let private = out.join("private.safetensors");
    std::fs::write(&private, "old").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = out.join("link.safetensors");
    std::os::unix::fs::symlink(&private, &link).unwrap();
    runner(out).arg("export").arg(&trial).arg("--out").arg(&link).assert().success();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is kept");
    assert!(std::fs::read(&private).unwrap().len() > 1000, "written through the link");
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);

    let confusion = out.join("confusion.csv");
    std::os::unix::fs::symlink("real-confusion.csv", &confusion).unwrap();
    runner(out)
        .arg("eval")
        .arg(&trial)
        .arg("--data-dir")
        .arg(shared_data())
        .arg("--out")
        .arg(&confusion)
        .assert()
        .success();
    assert!(std::fs::read_to_string(out.join("real-confusion.csv")).unwrap().starts_with("true \\ predicted"));
}

#[test]
fn outputs_that_are_inputs_run_files_or_a_users_module_are_refused() {
    let (dir, trial) = trained_trial();
    let last = trial.join("checkpoints/last.bpk");
    let before = std::fs::read(&last).unwrap();
    for (command, out, why) in [
        ("export", last.clone(), "is the checkpoint this command reads"),
        ("export", trial.join("checkpoints/../checkpoints/x.safetensors"), "inside the trial's checkpoints"),
        ("eval", trial.join("metrics.csv"), "one of the trial's own records"),
        ("eval", trial.join("../../summary.csv"), "one of the run's own files"),
    ] {
        let mut cmd = runner(dir.path());
        cmd.arg(command).arg(&trial).arg("--out").arg(&out);
        if command == "eval" {
            cmd.arg("--data-dir").arg(shared_data());
        }
        let output = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command} --out {}: {stderr}", out.display());
        assert!(stderr.contains(why), "{stderr}");
    }
    assert_eq!(std::fs::read(&last).unwrap(), before);
    assert!(std::fs::read_to_string(trial.join("metrics.csv")).unwrap().starts_with("epoch,"));
    assert!(std::fs::read_to_string(trial.join("../../summary.csv")).unwrap().starts_with("index,"));

    // The module goes beside the weights under their name: the user's model.py stays.
    let mine = dir.path().join("model.py");
    std::fs::write(&mine, "print('my own model')\n").unwrap();
    runner(dir.path()).arg("export").arg(&trial).args(["--out", "x.safetensors"]).assert().success();
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "print('my own model')\n");
    let module = std::fs::read_to_string(dir.path().join("x.py")).unwrap();
    assert!(module.contains("from x import Model") && module.contains("load_file(\"x.safetensors\")"), "{module}");
    // Exported again: its own module is replaced. A user's file of that name is not.
    runner(dir.path()).arg("export").arg(&trial).args(["--out", "x.safetensors"]).assert().success();
    std::fs::write(dir.path().join("y.py"), "mine").unwrap();
    runner(dir.path())
        .arg("export")
        .arg(&trial)
        .args(["--out", "y.safetensors"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("y.py exists and was not written by runner export"));
    assert_eq!(std::fs::read_to_string(dir.path().join("y.py")).unwrap(), "mine");
    assert!(!dir.path().join("y.safetensors").exists());
}

#[test]
fn a_damaged_checkpoint_or_trial_spec_is_an_error_naming_the_file() {
    let (dir, trial) = trained_trial();
    let out = dir.path();
    let last = trial.join("checkpoints/last.bpk");
    let mut bytes = std::fs::read(&last).unwrap();
    let middle = bytes.len() / 2;
    let end = middle + 4000.min(bytes.len() - middle);
    for b in &mut bytes[middle..end] {
        *b ^= 0x5a;
    }
    // In place (last.bpk is a hard link of the last epoch's file).
    std::fs::OpenOptions::new().write(true).open(&last).unwrap().write_all(&bytes).unwrap();
    for command in ["eval", "export"] {
        runner(out)
            .arg(command)
            .arg(&trial)
            .arg("--out")
            .arg(out.join("x"))
            .assert()
            .code(1)
            .stderr(predicate::str::contains("last.bpk: damaged checkpoint"));
    }
    assert!(!out.join("x").exists(), "nothing written from a damaged checkpoint");
    let png = out.join("digit.png");
    image::GrayImage::new(28, 28).save(&png).unwrap();
    runner(out)
        .arg("predict")
        .arg(&trial)
        .arg(&png)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("damaged checkpoint"));

    // A trial spec.toml edited into nonsense is refused like a bad spec, located.
    let spec = trial.join("spec.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    for (edit, expected) in [
        ("mean = []", "`mean`: needs 1 value"),
        ("std = [0.0]", "`std`: values must be greater than 0"),
        ("threads = 100000", "`threads`"),
    ] {
        let key = edit.split(' ').next().unwrap();
        let edited: String = text
            .lines()
            .map(|l| if l.starts_with(&format!("{key} =")) { edit.to_string() } else { l.to_string() } + "\n")
            .collect();
        assert_ne!(edited, text, "{key} is in the trial's spec.toml");
        std::fs::write(&spec, edited).unwrap();
        runner(out)
            .arg("eval")
            .arg(&trial)
            .arg("--data-dir")
            .arg(shared_data())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("spec.toml:").and(predicate::str::contains(expected)));
    }
}

#[test]
fn counts_on_the_command_line_have_the_limits_the_spec_has() {
    let dir = tempfile::tempdir().unwrap();
    // `bench --steps 0` once indexed an empty list (a panic, exit 101).
    let out = runner(dir.path()).args(["bench", "--steps", "0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--steps") && !stderr.contains("panicked"), "{stderr}");
    // `worker --threads 100000` once started that many threads; the spec's limit is 1024.
    let out = runner(dir.path()).args(["worker", "runs/x", "--threads", "100000"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--threads") && stderr.contains("1024"), "{stderr}");
}

#[test]
fn a_last_update_that_ruins_the_weights_fails_the_trial() {
    let dir = tempfile::tempdir().unwrap();
    // One batch: its training loss is finite, the update after it is not.
    let spec = "name = \"boom\"\nmodel = \"nn\"\nepochs = 1\nbatch_size = 100\nlimit_train = 100\nlimit_test = 100\nlr = 1e30\n";
    let out = common::run_spec(dir.path(), spec, &["-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let run = std::fs::read_dir(dir.path().join("out")).unwrap().next().unwrap().unwrap().path();
    let summary = std::fs::read_to_string(run.join("summary.csv")).unwrap();
    assert!(summary.contains("failed") && summary.contains("loss became") && summary.contains("1e30"), "{summary}");
}

#[test]
fn fifos_in_the_place_of_an_image_or_a_plot_are_refused_not_waited_on() {
    let (dir, trial) = trained_trial();
    let fifo = dir.path().join("digit.png");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out =
        runner(dir.path()).arg("predict").arg(&trial).arg(&fifo).timeout(Duration::from_secs(60)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("digit.png") && stderr.contains("not an image file"), "{stderr}");

    // A plot is written like every other file: to a temporary file, then renamed into place.
    let run = trial.parent().unwrap().parent().unwrap().to_path_buf();
    let plot = run.join("final_accuracy.svg");
    assert!(plot.is_file());
    std::fs::remove_file(&plot).unwrap();
    let c = std::ffi::CString::new(plot.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = runner(dir.path()).arg("report").arg(&run).timeout(Duration::from_secs(60)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("final_accuracy.svg"), "{stderr}");
    assert!(std::fs::metadata(&plot).unwrap().file_type().is_fifo(), "the FIFO is left as it was");
}

#[test]
fn a_dry_run_of_a_resubmission_leaves_the_run_lock_alone() {
    let (dir, trial) = trained_trial();
    let run = trial.parent().unwrap().parent().unwrap().to_path_buf();
    // A lock left by a runner that is gone: a real resubmission would take it over, a dry run
    // must not touch it.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let host = String::from_utf8(std::process::Command::new("hostname").output().unwrap().stdout).unwrap();
    let lock = format!("{pid} {}\n", host.trim());
    std::fs::write(run.join("run.lock"), &lock).unwrap();
    let out = runner(dir.path()).args(["submit", "--dry-run", "--resume"]).arg(&run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(run.join("run.lock")).unwrap(), lock, "the lock is as it was");
}
