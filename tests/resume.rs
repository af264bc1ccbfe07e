//! Crash safety: a run killed with SIGKILL at any point, then resumed, ends with exactly the
//! files an uninterrupted run writes; Ctrl-C stops cleanly; a run folder has one writer at a time.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{csv_rows, shared_data, signal_after_first_epoch, the_run, tree};

/// Four trials (NN and CNN, SGD and Adam, whose moments must survive a resume), 3 epochs.
const SPEC: &str = "name = \"crash\"\ndataset = \"mnist\"\nepochs = 3\nbatch_size = 50\nlr = 0.01\n\
                    limit_train = 400\nlimit_test = 200\nseed = 3\n[sweep]\nmodel = [\"nn\", \"cnn\"]\noptimizer = [\"sgd\", \"adam\"]\n";
const TRIALS: [&str; 4] = [
    "000_model=nn,optimizer=sgd",
    "001_model=nn,optimizer=adam",
    "002_model=cnn,optimizer=sgd",
    "003_model=cnn,optimizer=adam",
];

/// The runner binary with no RUNNER_* variables from the caller, run in `dir`.
fn runner(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("RUNNER_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn start(dir: &Path, spec: &str, failpoint: Option<&str>) -> Output {
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let mut cmd = runner(dir);
    cmd.arg("spec.toml").arg("--data-dir").arg(shared_data()).args(["--runs-dir", "out", "-q"]);
    if let Some(point) = failpoint {
        cmd.env("RUNNER_FAILPOINT", point);
    }
    cmd.output().unwrap()
}

fn resume(run_dir: &Path, failpoint: Option<&str>) -> Output {
    let mut cmd = runner(run_dir.parent().unwrap());
    cmd.arg("resume").arg(run_dir).arg("-q");
    if let Some(point) = failpoint {
        cmd.env("RUNNER_FAILPOINT", point);
    }
    cmd.output().unwrap()
}

/// Starts SPEC in `dir`, killed at `point`; returns the run folder it left.
fn crashed_run(dir: &Path, point: &str) -> PathBuf {
    assert_killed(&start(dir, SPEC, Some(point)), point);
    the_run(dir)
}

fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn assert_killed(output: &Output, point: &str) {
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGKILL),
        "{point} was not reached: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_success(output: &Output) {
    assert!(output.status.success(), "exit {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}

/// Everything a run computes, without what depends on the clock: summary.csv without
/// train_seconds, each metrics.csv without its timing columns, and the list of files.
/// summary.csv rows, each trial's metrics.csv rows, the run folder's files.
type Results = (Vec<Vec<String>>, Vec<Vec<Vec<String>>>, Vec<String>);

fn results(run_dir: &Path) -> Results {
    let summary = common::without_clock(csv_rows(&run_dir.join("summary.csv")));
    let metrics = TRIALS
        .iter()
        .map(|t| {
            csv_rows(&run_dir.join("trials").join(t).join("metrics.csv")).into_iter().map(|r| r[..6].to_vec()).collect()
        })
        .collect();
    (summary, metrics, tree(run_dir))
}

/// The uninterrupted run, once for all tests.
fn baseline() -> &'static Results {
    static BASELINE: OnceLock<Results> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        assert_success(&start(dir.path(), SPEC, None));
        let results = results(&the_run(dir.path()));
        assert_eq!(results.0.len(), 5, "header + 4 trials");
        assert!(results.1.iter().all(|m| m.len() == 4), "header + 3 epochs per trial");
        results
    })
}

/// Kills the run at each failpoint in turn (the first in the fresh run, the others in resumes),
/// then resumes to the end and compares with the uninterrupted run.
fn crash_and_resume(points: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = crashed_run(dir.path(), points[0]);
    // A killed runner leaves its lock, and temporary files when killed mid-write.
    assert!(run_dir.join("run.lock").exists());
    let dead = dead_pid();
    let leftovers = [
        run_dir.join(format!(".summary.csv.tmp-{dead}")),
        run_dir.join(format!("trials/{}/.metrics.csv.tmp-{dead}", TRIALS[0])),
    ];
    for path in &leftovers {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "half a file").unwrap();
    }

    for point in &points[1..] {
        let output = resume(&run_dir, Some(point));
        assert_killed(&output, point);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("note: took over"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = resume(&run_dir, None);
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("note: took over") && stderr.contains("is no longer running (crashed or killed)"),
        "{stderr}"
    );
    assert!(leftovers.iter().all(|p| !p.exists()), "temporary files of dead writers are removed");
    let (summary, metrics, files) = results(&run_dir);
    let (base_summary, base_metrics, base_files) = baseline();
    assert_eq!(&summary, base_summary);
    assert_eq!(&metrics, base_metrics);
    let files: Vec<&String> = files.iter().collect();
    let base_files: Vec<&String> = base_files.iter().collect();
    assert_eq!(files, base_files, "same files, no temporary or epoch state left");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["resumed"].as_array().unwrap().len(), points.len());
    assert!(manifest["finished_at"].is_string());

    // A finished run has nothing to resume and is left as it is.
    let output = resume(&run_dir, None);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to resume"));
    assert_eq!(tree(&run_dir), files.into_iter().cloned().collect::<Vec<_>>());
}

#[test]
fn killed_during_an_epoch() {
    crash_and_resume(&["batch:001_model=nn,optimizer=adam:2:3"]);
}

#[test]
fn killed_while_a_checkpoint_is_written() {
    crash_and_resume(&["checkpoint-tmp:002_model=cnn,optimizer=sgd/epoch-002.optim.bpk"]);
}

#[test]
fn killed_between_trials_and_again_after_an_epoch_commit() {
    crash_and_resume(&[
        "trial-done:000_model=nn,optimizer=sgd",
        "committed:003_model=cnn,optimizer=adam:1",
        "checkpoint-tmp:003_model=cnn,optimizer=adam/epoch-003.bpk",
        "committed:003_model=cnn,optimizer=adam:3",
    ]);
}

#[test]
fn killed_in_the_first_batch() {
    crash_and_resume(&["batch:000_model=nn,optimizer=sgd:1:1"]);
}

#[test]
fn a_damaged_epoch_state_falls_back_to_the_previous_one_and_stays_exact() {
    // Killed after epoch 2's commit, before epoch 1's state was removed; then epoch 2's model
    // file is truncated. Resume must retrain epoch 2 from epoch 1's state, not lose both.
    let dir = tempfile::tempdir().unwrap();
    let trial = "002_model=cnn,optimizer=sgd";
    let run_dir = crashed_run(dir.path(), &format!("committed:{trial}:2"));
    let epoch2 = run_dir.join("trials").join(trial).join("checkpoints/epoch-002.bpk");
    let len = std::fs::metadata(&epoch2).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&epoch2).unwrap().set_len(len / 2).unwrap();
    let output = resume(&run_dir, None);
    assert_success(&output);
    let (summary, metrics, files) = results(&run_dir);
    let (base_summary, base_metrics, base_files) = baseline();
    assert_eq!((&summary, &metrics, &files), (base_summary, base_metrics, base_files));
}

#[test]
fn a_damaged_state_with_nothing_to_fall_back_to_leaves_every_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let trial = "001_model=nn,optimizer=adam";
    let run_dir = crashed_run(dir.path(), &format!("batch:{trial}:3:1"));
    let optim = run_dir.join("trials").join(trial).join("checkpoints/epoch-002.optim.bpk");
    let mut bytes = std::fs::read(&optim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&optim, &bytes).unwrap();
    std::fs::remove_file(run_dir.join("run.lock")).unwrap();
    let before: Vec<(String, Vec<u8>)> =
        tree(&run_dir).into_iter().filter_map(|f| Some((f.clone(), std::fs::read(run_dir.join(&f)).ok()?))).collect();
    let output = resume(&run_dir, None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("epoch-002.optim.bpk: damaged checkpoint") && stderr.contains("rm -r"), "{stderr}");
    let after: Vec<(String, Vec<u8>)> =
        tree(&run_dir).into_iter().filter_map(|f| Some((f.clone(), std::fs::read(run_dir.join(&f)).ok()?))).collect();
    assert!(before == after, "a refused resume changes no file");
}

#[test]
fn a_cut_off_manifest_is_kept_aside_and_the_resume_goes_on_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = crashed_run(dir.path(), "committed:001_model=nn,optimizer=adam:2");
    let manifest = run_dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    let output = resume(&run_dir, None);
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("manifest.json was damaged (EOF while parsing") && stderr.contains("kept as"), "{stderr}");
    assert_eq!(std::fs::read_to_string(run_dir.join("manifest.json.damaged")).unwrap(), text[..text.len() / 2]);
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(written["trials"], 4);
    let (summary, metrics, mut files) = results(&run_dir);
    files.retain(|f| f != "manifest.json.damaged");
    let (base_summary, base_metrics, base_files) = baseline();
    assert_eq!((&summary, &metrics, &files), (base_summary, base_metrics, base_files));
}

#[test]
fn a_hand_edited_spec_is_refused_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = crashed_run(dir.path(), "trial-done:000_model=nn,optimizer=sgd");
    let spec = run_dir.join("spec.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text.replace("optimizer = [\"sgd\", \"adam\"]", "optimizer = [\"sgd\"]")).unwrap();
    let output = resume(&run_dir, None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("edited since the run started: sweep.optimizer [\"sgd\", \"adam\"] -> [\"sgd\"]"),
        "{stderr}"
    );
    // Where it runs may be edited.
    std::fs::write(&spec, text.replace("threads = 0", "threads = 1")).unwrap();
    assert_success(&resume(&run_dir, None));
}

#[test]
fn resume_refuses_overrides_that_change_started_trials() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = crashed_run(dir.path(), "committed:001_model=nn,optimizer=adam:1");
    std::fs::remove_file(run_dir.join("run.lock")).unwrap();
    let before = tree(&run_dir);
    let spec_before = std::fs::read_to_string(run_dir.join("spec.toml")).unwrap();

    let output = runner(dir.path()).arg("resume").arg(&run_dir).args(["--set", "lr=0.5"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("would change trial 000_model=nn,optimizer=sgd") && stderr.contains("lr 0.01 -> 0.5"),
        "{stderr}"
    );

    let output = runner(dir.path()).arg("resume").arg(&run_dir).args(["--set", "sweep.seed=[1,2]"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("change the trials"));

    assert_eq!(tree(&run_dir), before, "a refused resume changes no file");
    assert_eq!(std::fs::read_to_string(run_dir.join("spec.toml")).unwrap(), spec_before);

    // Where it runs may change: --data-dir (here the same data under another path).
    let output = runner(dir.path())
        .args(["--resume"])
        .arg(&run_dir)
        .arg("--data-dir")
        .arg(shared_data().join("mnist/.."))
        .arg("-q")
        .output()
        .unwrap();
    assert_success(&output);
}

#[test]
fn a_run_folder_in_use_is_refused_and_bad_folders_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = crashed_run(dir.path(), "trial-done:000_model=nn,optimizer=sgd");
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    std::fs::write(run_dir.join("run.lock"), format!("{} {host}\n", std::process::id())).unwrap();
    let output = resume(&run_dir, None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is in use by runner pid"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = runner(dir.path()).args(["resume", "."]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a run folder"));
    let output = runner(dir.path()).args(["resume", "no/such/run"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn sigterm_stops_like_ctrl_c_with_status_143() {
    let spec = SPEC.replace("limit_train = 400", "limit_train = 4000").replace("epochs = 3", "epochs = 20");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), &spec).unwrap();
    let output = signal_after_first_epoch(dir.path(), &["-q"], TRIALS[0], libc::SIGTERM);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("SIGTERM") && stderr.contains("runner resume"), "{stderr}");
    let run_dir = the_run(dir.path());
    assert!(!run_dir.join("run.lock").exists(), "the lock is released");
    let summary = csv_rows(&run_dir.join("summary.csv"));
    let status = summary[0].iter().position(|h| h == "status").unwrap();
    assert_eq!(summary[1][status], "interrupted");
}

#[test]
fn ctrl_c_marks_the_trial_interrupted_and_resume_finishes_it() {
    let spec = SPEC
        .replace(
            "[sweep]\nmodel = [\"nn\", \"cnn\"]\noptimizer = [\"sgd\", \"adam\"]\n",
            "model = \"cnn\"\nmomentum = 0.9\n",
        )
        .replace("limit_train = 400", "limit_train = 1500")
        .replace("name = \"crash\"", "name = \"ctrlc\"");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), &spec).unwrap();
    // Ctrl-C in the second epoch.
    let output = signal_after_first_epoch(dir.path(), &["-q"], "000_ctrlc", libc::SIGINT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted") && stderr.contains("runner resume"), "{stderr}");
    let run_dir = the_run(dir.path());
    assert!(!run_dir.join("run.lock").exists(), "the lock is released");
    let summary = csv_rows(&run_dir.join("summary.csv"));
    let status = summary[0].iter().position(|h| h == "status").unwrap();
    assert_eq!(summary[1][status], "interrupted");
    let rows = csv_rows(&run_dir.join("trials/000_ctrlc/metrics.csv")).len() - 1;
    assert!((1..3).contains(&rows), "{rows} epochs kept");

    assert_success(&resume(&run_dir, None));
    let resumed: Vec<Vec<String>> =
        csv_rows(&run_dir.join("trials/000_ctrlc/metrics.csv")).into_iter().map(|r| r[..6].to_vec()).collect();
    let other = tempfile::tempdir().unwrap();
    assert_success(&start(other.path(), &spec, None));
    let straight: Vec<Vec<String>> = csv_rows(&the_run(other.path()).join("trials/000_ctrlc/metrics.csv"))
        .into_iter()
        .map(|r| r[..6].to_vec())
        .collect();
    assert_eq!(resumed, straight);
}

#[test]
fn resume_is_exact_with_a_split_a_schedule_augmentation_and_early_stopping() {
    // Trial 0 early-stops after epoch 2 (min_delta 10 allows no improvement); trial 1 runs all
    // 4 epochs with a cosine schedule after a warm-up, random crops and AdamW.
    let spec = "name = \"protocol\"\nmodel = \"cnn\"\nepochs = 4\nbatch_size = 50\nlimit_train = 500\nlimit_test = 200\nseed = 9\n\
                optimizer = \"adamw\"\nlr = 0.002\nval_split = 0.2\nlr_schedule = \"cosine\"\nwarmup_epochs = 1\npatience = 1\n\
                augment = [\"random_crop\"]\n[sweep]\nmin_delta = [10.0, 0.0]\n";
    let trials = ["000_min_delta=10.0", "001_min_delta=0.0"];
    let metrics = |run: &Path| -> Vec<Vec<Vec<String>>> {
        trials
            .iter()
            .map(|t| common::without_timing(csv_rows(&run.join("trials").join(t).join("metrics.csv"))))
            .collect()
    };
    let straight = tempfile::tempdir().unwrap();
    assert_success(&start(straight.path(), spec, None));
    let expected = metrics(&the_run(straight.path()));
    assert_eq!(expected[0].len(), 3, "trial 0 stopped after epoch 2");

    let dir = tempfile::tempdir().unwrap();
    assert_killed(&start(dir.path(), spec, Some(&format!("committed:{}:2", trials[0]))), "the early stop's commit");
    let run_dir = the_run(dir.path());
    assert_killed(&resume(&run_dir, Some(&format!("batch:{}:3:2", trials[1]))), "a batch of epoch 3");
    assert_success(&resume(&run_dir, None));
    assert_eq!(metrics(&run_dir), expected);
    let summary = csv_rows(&run_dir.join("summary.csv"));
    let stopped = summary[0].iter().position(|h| h == "stopped_epoch").unwrap();
    assert_eq!(summary[1][stopped], "2");
}
