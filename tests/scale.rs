//! Sweeps at scale on one machine: `--jobs N`, `runner worker`, `runner status`, and what
//! `runner submit` checks before it touches Slurm.

mod common;

use std::process::Output;

use common::{csv_rows, results, run_spec, runner, signal_after_first_epoch, spec_command, the_run, tree};
use predicates::prelude::*;

/// Four one-thread NN trials (two optimizers, two seeds).
const SWEEP: &str = "name = \"scale\"\nmodel = \"nn\"\nepochs = 2\nbatch_size = 50\nthreads = 1\nlimit_train = 1000\nlimit_test = 300\n\
                     [sweep]\noptimizer = [\"sgd\", \"adam\"]\nseed = [1, 2]\n";

fn assert_success(output: &Output) {
    assert!(output.status.success(), "exit {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}

#[test]
fn jobs_2_gives_exactly_the_results_of_jobs_1() {
    let one = tempfile::tempdir().unwrap();
    assert_success(&run_spec(one.path(), SWEEP, &["-q"]));
    let two = tempfile::tempdir().unwrap();
    let output = run_spec(two.path(), SWEEP, &["--jobs", "2"]);
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("003_optimizer=adam,seed=2:  epoch 2/2:"), "each line names its trial: {stderr}");
    let (a, b) = (results(&the_run(one.path())), results(&the_run(two.path())));
    assert_eq!(a.0.len(), 5);
    assert!(a.0[1..].iter().all(|row| row.contains(&"done".to_string())), "{:?}", a.0);
    assert_eq!(a, b);
    assert_eq!(tree(&the_run(one.path())), tree(&the_run(two.path())), "the same files, no claim left");
}

/// Two CNN trials of about 3 s an epoch on one thread each: long enough to be seen inside an epoch.
const SLOW: &str = "name = \"slow\"\nmodel = \"cnn\"\nepochs = 2\nthreads = 1\nlimit_train = 3000\nlimit_test = 200\n[sweep]\nseed = [1, 2]\n";

#[test]
fn jobs_on_a_terminal_draw_one_bar_per_running_trial() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) to give the runner a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), SLOW).unwrap();
    let exe = env!("CARGO_BIN_EXE_runner");
    let command = format!("{exe} spec.toml --jobs 2 --data-dir {} --runs-dir out", common::shared_data().display());
    // `script` runs the command on a pseudo-terminal and copies what it draws to stdout.
    let output = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_success(&output);
    let screen = String::from_utf8_lossy(&output.stdout);
    for trial in ["000_seed=1", "001_seed=2"] {
        let bar = format!("  {trial}{}ep 1/2 ", " ".repeat(33 - trial.len()));
        assert!(screen.contains(&bar) && screen.contains(" img/s, "), "a live bar for {trial}: {screen}");
        assert!(screen.contains(&format!("{trial}:  epoch 2/2: train loss")), "its lines above the bars: {screen}");
    }
    assert!(screen.contains("/3000"), "{screen}");
    // No stale bar lines: the bars are erased (ESC[2K) after their last drawing, before the
    // summary table.
    let table = screen.find("| #").expect("the summary table");
    let last_bar = screen[..table].rfind(" ep ").expect("a bar before the table");
    assert!(screen[last_bar..table].contains("\x1b[2K"), "{:?}", &screen[last_bar..table]);
    let straight = tempfile::tempdir().unwrap();
    assert_success(&run_spec(straight.path(), SLOW, &["-q"]));
    assert_eq!(results(&the_run(dir.path())), results(&the_run(straight.path())));
}

#[test]
fn status_shows_progress_inside_the_running_epoch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), SLOW).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir.path())
        .args(["spec.toml", "-q", "--runs-dir", "out", "--data-dir"])
        .arg(common::shared_data())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut seen = None;
    while seen.is_none() && std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let Ok(entries) = std::fs::read_dir(dir.path().join("out")) else { continue };
        let Some(run_dir) = entries.flatten().next() else { continue };
        let output = runner(dir.path()).arg("status").arg(run_dir.path()).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        // "| 0 | seed=1 | running | 0/2 +33% | ... | 5s |": the share of the epoch, and an ETA.
        let eta = |l: &str| l.trim_end_matches(['|', ' ']).rsplit("| ").next().unwrap_or_default().to_string();
        if let Some(line) =
            stdout.lines().find(|l| l.contains("| running ") && l.contains("/2 +") && eta(l).ends_with('s'))
        {
            seen = Some(line.to_string());
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    seen.expect("runner status never showed a running epoch's progress with an ETA");
    assert!(!tree(&the_run(dir.path())).iter().any(|f| f.ends_with("progress.json")), "removed as each trial ends");
}

#[test]
fn status_shows_each_trial_and_a_worker_finishes_a_crashed_run() {
    let dir = tempfile::tempdir().unwrap();
    let output = spec_command(dir.path(), SWEEP)
        .arg("-q")
        .env("RUNNER_FAILPOINT", "committed:001_optimizer=sgd,seed=2:1")
        .output()
        .unwrap();
    assert!(output.status.code().is_none(), "killed at the failpoint");
    let run_dir = the_run(dir.path());

    let output = runner(dir.path()).arg("status").arg(&run_dir).output().unwrap();
    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = |index: &str| stdout.lines().find(|l| l.starts_with(&format!("| {index} "))).unwrap().to_string();
    assert!(line("0").contains("| done ") && line("0").contains("| 2/2 "), "{stdout}");
    assert!(line("1").contains("| stale ") && line("1").contains("| 1/2 ") && line("1").contains(" pid "), "{stdout}");
    assert!(line("2").contains("| pending ") && line("2").contains("| 0/2 "), "{stdout}");
    assert!(stdout.ends_with("4 trials: 1 done, 1 stale, 2 pending\n"), "{stdout}");

    // A worker takes the stale trial over, continues it, and trains the rest.
    let output = runner(dir.path()).arg("worker").arg(&run_dir).arg("-q").output().unwrap();
    assert_success(&output);
    let output = runner(dir.path()).arg("worker").arg(&run_dir).arg("--finish").arg("-q").output().unwrap();
    assert_success(&output);
    let straight = tempfile::tempdir().unwrap();
    assert_success(&run_spec(straight.path(), SWEEP, &["-q"]));
    assert_eq!(results(&run_dir), results(&the_run(straight.path())));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["finished_at"].is_string());

    runner(dir.path())
        .arg("worker")
        .arg(&run_dir)
        .args(["--trial", "4"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("4 is not a trial of"));
}

#[test]
fn jobs_must_be_at_least_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_spec(dir.path(), SWEEP, &["--jobs", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--jobs"));
    assert_eq!(tree(dir.path()), ["spec.toml"]);
}

#[test]
fn submit_without_slurm_says_so_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), SWEEP).unwrap();
    runner(dir.path())
        .args(["submit", "spec.toml", "--runs-dir", "out"])
        .env("PATH", dir.path().join("no-bin"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("runner submit needs Slurm, but `sbatch` is not on PATH"));
    assert_eq!(tree(dir.path()), ["spec.toml"]);
}

#[test]
fn submit_dry_run_prints_the_scripts_and_submits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "{SWEEP}[slurm]\npartition = \"short\"\ntime = \"00:30:00\"\ncpus_per_task = 2\nmax_parallel = 3\nextra = [\"--qos=test\"]\n"
    );
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let output = runner(dir.path())
        .args(["submit", "spec.toml", "--runs-dir", "out", "--dry-run"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "#SBATCH --array=0-3%3\n",
        "#SBATCH --partition=short\n",
        "#SBATCH --time=00:30:00\n",
        "#SBATCH --cpus-per-task=2\n",
        "#SBATCH --qos=test\n",
        "worker '",
        "--trial \"$SLURM_ARRAY_TASK_ID\"",
        "sbatch --parsable --dependency=afterany:<array job id>",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    let run_path = dir.path().canonicalize().unwrap().join("out");
    assert!(stdout.contains(&format!("--output=\"{}/", run_path.display())), "absolute, quoted paths: {stdout}");
    assert_eq!(tree(dir.path()), ["spec.toml"], "nothing written");

    let bad = format!("{SWEEP}[slurm]\nqueue = \"gpu\"\n");
    std::fs::write(dir.path().join("spec.toml"), bad).unwrap();
    runner(dir.path())
        .args(["submit", "spec.toml", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("spec.toml:12:1: unknown key `slurm.queue`"));
}

/// Ctrl-C reaches the coordinator only (its workers have a process group of their own): it
/// says "stopping" and where to resume once, for all its workers.
#[test]
fn ctrl_c_to_a_jobs_run_stops_its_workers_says_so_once_and_resume_finishes_exactly() {
    let spec = SWEEP.replace("limit_train = 1000", "limit_train = 20000").replace("epochs = 2", "epochs = 3");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), &spec).unwrap();
    // Once the first trial has finished an epoch, press Ctrl-C.
    let output = signal_after_first_epoch(dir.path(), &["--jobs", "2"], "000_optimizer=sgd,seed=1", libc::SIGINT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr.matches("stopping after this batch").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("runner resume").count(), 1, "{stderr}");
    let run_dir = the_run(dir.path());
    let files = tree(&run_dir);
    assert!(
        !files.iter().any(|f| f.ends_with("/claim") || f.ends_with("run.lock")),
        "workers released their claims: {files:?}"
    );
    let statuses = csv_rows(&run_dir.join("summary.csv"));
    let status = statuses[0].iter().position(|h| h == "status").unwrap();
    assert!(statuses[1..].iter().any(|r| r[status] == "interrupted"), "{statuses:?}");

    let output = runner(dir.path()).arg("resume").arg(&run_dir).args(["--jobs", "2", "-q"]).output().unwrap();
    assert_success(&output);
    let straight = tempfile::tempdir().unwrap();
    assert_success(&run_spec(straight.path(), &spec, &["-q"]));
    assert_eq!(results(&run_dir), results(&the_run(straight.path())));
}

/// Under load it used to fail: Linux repeats the parent-death signal as each thread of the dead
/// coordinator exits, and a second SIGTERM made the worker exit at once, leaving its claim.
#[test]
fn workers_stop_when_their_coordinator_is_killed() {
    let spec = SWEEP.replace("limit_train = 1000", "limit_train = 20000").replace("epochs = 2", "epochs = 3");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), &spec).unwrap();
    let output =
        signal_after_first_epoch(dir.path(), &["--jobs", "2", "-q"], "000_optimizer=sgd,seed=1", libc::SIGKILL);
    assert_eq!(output.status.code(), None, "killed");
    let run_dir = the_run(dir.path());
    // The workers stop at their next batch and release their claims, as on SIGTERM.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while tree(&run_dir).iter().any(|f| f.ends_with("/claim")) {
        assert!(
            std::time::Instant::now() < deadline,
            "workers went on after their coordinator died: {:?}",
            tree(&run_dir)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let statuses: Vec<String> = std::fs::read_dir(run_dir.join("trials"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("status.json")).ok())
        .collect();
    assert!(
        statuses.iter().any(|s| s.contains("\"interrupted\"")),
        "the workers stopped, not trained the sweep out: {statuses:?}"
    );
    let output = runner(dir.path()).arg("resume").arg(&run_dir).args(["--jobs", "2", "-q"]).output().unwrap();
    assert_success(&output);
    let straight = tempfile::tempdir().unwrap();
    assert_success(&run_spec(straight.path(), &spec, &["-q"]));
    assert_eq!(results(&run_dir), results(&the_run(straight.path())));
}
