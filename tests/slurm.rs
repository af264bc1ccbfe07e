//! `runner submit` on a real Slurm cluster: the one-node cluster of scripts/slurm-local.sh,
//! which .ci/run starts. Without a cluster these tests say so and pass (nothing to check).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{results, runner, shared_data};

/// A 2x2 sweep (NN and CNN, SGD and Adam), small enough for CI.
const SWEEP: &str = "name = \"slurm\"\nepochs = 2\nbatch_size = 50\nlimit_train = 600\nlimit_test = 200\nseed = 5\n\
                     [sweep]\nmodel = [\"nn\", \"cnn\"]\noptimizer = [\"sgd\", \"adam\"]\n";

/// Whether a Slurm cluster with an idle node answers here.
fn cluster() -> bool {
    let idle = Command::new("sinfo").args(["-h", "-o", "%T"]).output().is_ok_and(|o| {
        o.status.success()
            && String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "idle" || l.trim() == "mixed")
    });
    if !idle {
        eprintln!("skipped: no Slurm cluster answers (start one with scripts/slurm-local.sh, as root)");
    }
    idle
}

fn assert_success(output: &Output) {
    assert!(output.status.success(), "exit {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}

/// Submits SPEC from `dir`; returns the run folder it printed.
fn submit(dir: &Path, spec: &str) -> PathBuf {
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let output = runner(dir)
        .arg("submit")
        .arg("spec.toml")
        .arg("--data-dir")
        .arg(shared_data())
        .args(["--runs-dir", "out"])
        .output()
        .unwrap();
    assert_success(&output);
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

fn manifest(run_dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap()
}

/// Waits until none of the run's Slurm jobs is queued or running.
fn wait_for_jobs(run_dir: &Path) {
    let jobs: Vec<String> =
        manifest(run_dir)["slurm_jobs"].as_array().unwrap().iter().map(|j| j.as_str().unwrap().to_string()).collect();
    // A requeued task waits about two minutes before Slurm starts it again.
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let queue = Command::new("squeue").args(["-h", "-o", "%i", "-j", &jobs.join(",")]).output().unwrap();
        if String::from_utf8_lossy(&queue.stdout).trim().is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the jobs {jobs:?} did not end");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The same spec run here, one trial after another.
fn sequential(spec: &str) -> (Vec<Vec<String>>, Vec<Vec<Vec<String>>>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let output = runner(dir.path())
        .arg("spec.toml")
        .arg("--data-dir")
        .arg(shared_data())
        .args(["--runs-dir", "out", "-q"])
        .output()
        .unwrap();
    assert_success(&output);
    let run = std::fs::read_dir(dir.path().join("out")).unwrap().next().unwrap().unwrap().path();
    results(&run)
}

#[test]
fn a_submitted_sweep_equals_a_sequential_run() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run_dir = submit(dir.path(), SWEEP);
    wait_for_jobs(&run_dir);
    eprintln!("slurm sweep of 4 trials: {:.1}s from submit to report", started.elapsed().as_secs_f64());
    assert!(manifest(&run_dir)["finished_at"].is_string(), "the report job finished the run");
    assert!(run_dir.join("report.md").is_file());
    let logs: Vec<String> = std::fs::read_dir(run_dir.join("slurm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(logs.iter().any(|l| l.ends_with("_3.out")), "one log per array task: {logs:?}");
    let submitted = results(&run_dir);
    assert_eq!(submitted.0.len(), 5);
    assert_eq!(submitted, sequential(SWEEP));
}

#[test]
fn a_cancelled_task_is_resubmitted_and_ends_as_if_never_cut() {
    if !cluster() {
        return;
    }
    let spec = "name = \"cancel\"\nmodel = \"cnn\"\nepochs = 4\nbatch_size = 50\nlimit_train = 3000\nlimit_test = 200\n\
                [slurm]\ncpus_per_task = 1\n[sweep]\nseed = [1, 2]\n";
    let dir = tempfile::tempdir().unwrap();
    let run_dir = submit(dir.path(), spec);
    let array = manifest(&run_dir)["slurm_jobs"][0].as_str().unwrap().to_string();
    // Cancel task 0 once it has finished an epoch (SIGTERM: it stops at a batch boundary).
    let metrics = run_dir.join("trials/000_seed=1/metrics.csv");
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count()) < 2 {
        assert!(Instant::now() < deadline, "trial 0 finished no epoch");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_success(&Command::new("scancel").arg(format!("{array}_0")).output().unwrap());
    wait_for_jobs(&run_dir);
    let status = runner(dir.path()).arg("status").arg(&run_dir).output().unwrap();
    let status = String::from_utf8(status.stdout).unwrap();
    assert!(status.contains("| interrupted ") || status.contains("| stale "), "{status}");
    assert!(manifest(&run_dir)["finished_at"].is_null(), "an unfinished run is not marked finished");

    let output = runner(dir.path()).args(["submit", "--resume"]).arg(&run_dir).output().unwrap();
    assert_success(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("(1 trial)"),
        "only the cut-off trial: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    wait_for_jobs(&run_dir);
    assert!(manifest(&run_dir)["finished_at"].is_string());
    assert_eq!(results(&run_dir), sequential(spec));
}

#[test]
fn a_runs_folder_with_a_space_a_quote_and_a_percent_sign_works_and_a_newline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spec.toml"),
        "name = \"odd\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 200\nlimit_test = 100\n",
    )
    .unwrap();
    // A newline would end the #SBATCH block and put a shell line into every task's script.
    let out = runner(dir.path()).args(["submit", "spec.toml", "--runs-dir", "a\ntouch injected"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot hold a path"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(common::tree(dir.path()), ["spec.toml"], "nothing written");
    if !cluster() {
        return;
    }
    // sbatch once refused a space or a quote, and expanded %x into the job name.
    let runs = "we ird 'q' 100%x";
    let output = runner(dir.path())
        .arg("submit")
        .arg("spec.toml")
        .arg("--data-dir")
        .arg(shared_data())
        .args(["--runs-dir", runs])
        .output()
        .unwrap();
    assert_success(&output);
    let run_dir = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert!(run_dir.starts_with(dir.path().join(runs)), "{}", run_dir.display());
    wait_for_jobs(&run_dir);
    assert!(manifest(&run_dir)["finished_at"].is_string(), "the report job finished the run");
    let logs: Vec<String> = std::fs::read_dir(run_dir.join("slurm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        logs.iter().any(|l| l.ends_with("_0.out")) && logs.iter().any(|l| l.starts_with("finish_")),
        "logs where asked: {logs:?}"
    );
    let summary = std::fs::read_to_string(run_dir.join("summary.csv")).unwrap();
    assert!(summary.contains(",done,") || summary.contains("done"), "{summary}");
}

#[test]
fn slurm_values_are_checked_before_anything_is_written() {
    // Formats: at spec validation, located.
    common::rejects(
        "[slurm]\ntime = \"99:99:99:99\"\n",
        &[],
        &["spec.toml:2:1: `slurm.time`: must be a Slurm time limit"],
    );
    common::rejects("[slurm]\nmem = \"4GG\"\n", &[], &["spec.toml:2:1: `slurm.mem`: must be a Slurm memory size"]);
    if !cluster() {
        return;
    }
    // What only the cluster knows: asked with sbatch --test-only before the run folder exists.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spec.toml"),
        "name = \"nope\"\nmodel = \"nn\"\n[slurm]\npartition = \"no_such_partition\"\n",
    )
    .unwrap();
    let out = runner(dir.path())
        .args(["submit", "spec.toml", "--runs-dir", "out"])
        .arg("--data-dir")
        .arg(shared_data())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`slurm`: the cluster refuses these resources") && stderr.contains("partition"),
        "{stderr}"
    );
    assert_eq!(common::tree(dir.path()), ["spec.toml"], "nothing written");
}

/// Submits SPEC from `dir` with `env` set for the tasks too (sbatch passes the environment on).
fn submit_with(dir: &Path, spec: &str, env: &[(&str, &str)]) -> PathBuf {
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let mut command = runner(dir);
    command.arg("submit").arg("spec.toml").arg("--data-dir").arg(shared_data()).args(["--runs-dir", "out"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert_success(&output);
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Every task log of the run, concatenated.
fn task_logs(run_dir: &Path) -> String {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(run_dir.join("slurm"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .collect();
    logs.sort();
    logs.iter().map(|p| format!("== {}\n{}", p.display(), std::fs::read_to_string(p).unwrap_or_default())).collect()
}

#[test]
fn a_task_at_its_time_limit_requeues_itself_and_the_sweep_finishes_unattended() {
    if !cluster() {
        return;
    }
    // The CNN trial trains ~3 minutes on one CPU; a task may run 2.
    let spec = "name = \"requeue\"\nepochs = 6\nlimit_train = 30000\nlimit_test = 500\n\
                [slurm]\ntime = \"00:02:00\"\ncpus_per_task = 1\n[sweep]\nmodel = [\"nn\", \"cnn\"]\n";
    let local = std::thread::spawn(move || {
        let started = Instant::now();
        (sequential(spec), started.elapsed())
    });
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run_dir = submit(dir.path(), spec);
    let script = std::fs::read_to_string(run_dir.join("slurm/sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --requeue\n") && script.contains("#SBATCH --signal=B:USR1@30\n"), "{script}");
    wait_for_jobs(&run_dir);
    let wall = started.elapsed();
    let logs = task_logs(&run_dir);
    assert!(
        manifest(&run_dir)["finished_at"].is_string(),
        "the report job finished the run, once every task ended:\n{logs}"
    );
    assert!(
        logs.contains("001_model=cnn: time limit near: requeued ")
            && logs.contains("001_model=cnn: cnn on mnist (cpu, from epoch "),
        "{logs}"
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("trials/001_model=cnn/requeues.json")).unwrap())
            .unwrap();
    assert!(record["requeues"].as_u64().unwrap() >= 1, "{record}");
    let (local, local_wall) = local.join().unwrap();
    assert_eq!(results(&run_dir), local, "{logs}");
    eprintln!(
        "requeued sweep: {:.0} s from submit to report ({} requeues of the CNN task) against {:.0} s run locally",
        wall.as_secs_f64(),
        record["requeues"],
        local_wall.as_secs_f64()
    );
}

#[test]
fn a_trial_that_cannot_finish_an_epoch_within_the_time_limit_fails_with_the_reason() {
    if !cluster() {
        return;
    }
    // Its third batch stalls 100 s: the epoch cannot end before the 2-minute limit.
    let spec = "name = \"stuck\"\nmodel = \"cnn\"\nepochs = 1\nlimit_train = 3000\nlimit_test = 200\n\
                [slurm]\ntime = \"00:02:00\"\ncpus_per_task = 1\n";
    let dir = tempfile::tempdir().unwrap();
    let run_dir = submit_with(dir.path(), spec, &[("RUNNER_FAILPOINT", "batch:000_stuck:1:3=sleep:100000")]);
    wait_for_jobs(&run_dir);
    let logs = task_logs(&run_dir);
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("trials/000_stuck/status.json")).unwrap()).unwrap();
    assert_eq!(status["status"], "failed", "{logs}");
    let reason = status["reason"].as_str().unwrap();
    assert!(reason.starts_with("no epoch finished within the task time limit: an epoch takes "), "{reason}");
    assert!(reason.contains(" s, the task time limit is 120 s (the last 30 s kept for stopping)"), "{reason}");
    assert!(!run_dir.join("trials/000_stuck/requeues.json").exists(), "failed at once, not requeued: {logs}");
    assert!(manifest(&run_dir)["finished_at"].is_string(), "the report job ran");
}

#[test]
fn a_task_requeued_by_slurm_itself_continues_its_trial() {
    if !cluster() {
        return;
    }
    // What PreemptMode=REQUEUE does to a running task: Slurm stops it (SIGTERM) and queues it
    // again; `scontrol requeue` from outside is the same path.
    let spec = "name = \"preempt\"\nmodel = \"cnn\"\nepochs = 3\nlimit_train = 3000\nlimit_test = 200\n[slurm]\ncpus_per_task = 1\n";
    let dir = tempfile::tempdir().unwrap();
    let run_dir = submit(dir.path(), spec);
    let array = manifest(&run_dir)["slurm_jobs"][0].as_str().unwrap().to_string();
    let metrics = run_dir.join("trials/000_preempt/metrics.csv");
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count()) < 2 {
        assert!(Instant::now() < deadline, "the trial finished no epoch");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_success(&Command::new("scontrol").args(["requeue", &format!("{array}_0")]).output().unwrap());
    wait_for_jobs(&run_dir);
    let logs = task_logs(&run_dir);
    assert!(
        logs.contains("SIGTERM: stopping after this batch")
            && logs.contains("000_preempt: cnn on mnist (cpu, from epoch "),
        "{logs}"
    );
    assert!(manifest(&run_dir)["finished_at"].is_string(), "{logs}");
    assert_eq!(results(&run_dir), sequential(spec), "{logs}");
}

/// `runner status` asks Slurm about a claim from another node: a task that has left the queue
/// (its node died) holds nothing, however fresh its last heartbeat; a task still queued does.
#[test]
fn status_calls_a_claim_of_a_task_slurm_no_longer_has_stale() {
    if !cluster() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = "name = \"gone\"\nmodel = \"nn\"\nepochs = 1\nlimit_train = 200\nlimit_test = 100\n";
    assert_success(&common::run_spec(dir.path(), spec, &["-q"]));
    let run_dir = common::the_run(dir.path());
    let trial = run_dir
        .join("trials")
        .join(std::fs::read_dir(run_dir.join("trials")).unwrap().next().unwrap().unwrap().file_name());
    // As if it had not ended, claimed by a task on a node that is gone, heartbeat fresh.
    std::fs::remove_file(trial.join("status.json")).unwrap();
    let claim = |job: &str| format!("4242 deadnode - - 2026-12-04T10:00:00Z {job} stale_after=600\n");
    std::fs::write(trial.join("claim"), claim("999999_0")).unwrap();
    let output = runner(dir.path()).arg("status").arg(&run_dir).output().unwrap();
    assert_success(&output);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("| stale ") && shown.contains("slurm job 999999_0 on deadnode (not in Slurm's queue)"),
        "{shown}"
    );
    assert!(shown.contains("1 trial: 1 stale"), "{shown}");

    // A job Slurm has: the claim holds.
    let job = Command::new("sbatch").args(["--parsable", "--hold", "--wrap", "sleep 60"]).output().unwrap();
    assert_success(&job);
    let id = String::from_utf8_lossy(&job.stdout).trim().to_string();
    std::fs::write(trial.join("claim"), claim(&id)).unwrap();
    let output = runner(dir.path()).arg("status").arg(&run_dir).output().unwrap();
    let _ = Command::new("scancel").arg(&id).output();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("| running ") && shown.contains(&format!("slurm job {id} on deadnode |")), "{shown}");
}

/// A task may start on any node, in any folder: the image folder a submitted run records is
/// absolute, and swept folders must be written so.
#[test]
fn a_submitted_runs_image_folder_is_recorded_as_an_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    let swept = "name = \"f\"\ndataset = \"folder\"\nmodel = \"nn\"\nepochs = 1\n[sweep]\nfolder = [\"a\", \"/b\"]\n";
    std::fs::write(dir.path().join("spec.toml"), swept).unwrap();
    let output = runner(dir.path()).args(["submit", "spec.toml", "--dry-run"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("spec.toml:6:1: `sweep.folder`: a submitted sweep's image folders must be absolute"),
        "{stderr}"
    );
    if !cluster() {
        return;
    }
    runner::data::test_data::mnist_folder(&dir.path().join("tiny"), &[0, 1], 10, 4, false);
    let spec = "name = \"f\"\ndataset = \"folder\"\nfolder = \"tiny\"\nmodel = \"nn\"\nepochs = 1\n";
    let run_dir = submit(dir.path(), spec);
    let recorded = std::fs::read_to_string(run_dir.join("spec.toml")).unwrap();
    let folder = dir.path().canonicalize().unwrap().join("tiny");
    assert!(recorded.contains(&format!("folder = \"{}\"", folder.display())), "{recorded}");
    wait_for_jobs(&run_dir);
    let summary = std::fs::read_to_string(run_dir.join("summary.csv")).unwrap();
    assert!(summary.contains(",done,"), "{summary}");
}

#[test]
fn a_submitted_tpe_search_is_one_array_per_round_and_equals_a_sequential_run() {
    if !cluster() {
        return;
    }
    let spec = "name = \"tpe\"\nmodel = \"nn\"\nepochs = 2\nbatch_size = 50\nlimit_train = 600\nlimit_test = 200\n\
                val_split = 0.2\n[search]\nmethod = \"tpe\"\ntrials = 5\nseed = 3\nparallel = 2\nn_startup_trials = 2\n\
                [search.space]\nlr = { log_uniform = [0.0005, 0.5] }\noptimizer = [\"sgd\", \"adam\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let run_dir = submit(dir.path(), spec);
    // Rounds of 2, 2 and 1: three arrays, each after the one before, and the report job.
    assert_eq!(manifest(&run_dir)["slurm_jobs"].as_array().unwrap().len(), 4);
    wait_for_jobs(&run_dir);
    assert!(manifest(&run_dir)["finished_at"].is_string(), "the report job finished the run");
    let draws: Vec<String> = std::fs::read_dir(run_dir.join("draws"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(draws.len(), 3, "{draws:?}");
    assert_eq!(results(&run_dir), sequential(spec));
}
