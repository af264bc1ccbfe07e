//! Workers on two hosts sharing a run folder, without a second machine: a worker started in a
//! UTS namespace of its own (`unshare --uts`, as root) has another hostname, so this host judges
//! its claims as another host's: by their heartbeat, after the run's `stale_after_seconds`.
//! Without root or unshare these tests say so and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{results, run_spec, runner, signal_after_first_epoch, the_run};

/// Three CNN trials of ~2 s an epoch on one thread; claims of another host go stale after 5 s.
const SPEC: &str = "name = \"hosts\"\nmodel = \"cnn\"\nepochs = 3\nthreads = 1\nlimit_train = 2000\nlimit_test = 200\n\
                    stale_after_seconds = 5\n[sweep]\nseed = [1, 2, 3]\n";
/// The first of them alone, its claims stale after 10 s: room for the checks while it is fresh,
/// on a loaded machine too.
const ONE: &str = "name = \"hosts\"\nmodel = \"cnn\"\nepochs = 3\nthreads = 1\nlimit_train = 2000\nlimit_test = 200\n\
                   stale_after_seconds = 10\n[sweep]\nseed = [1]\n";

/// Whether this process may give a child another hostname.
fn can_fake_hosts() -> bool {
    let ok = Command::new("unshare")
        .args(["--uts", "sh", "-c", "hostname runner-test-b && test \"$(hostname)\" = runner-test-b"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: cannot start a process under another hostname (needs root and unshare --uts)");
    }
    ok
}

/// `runner worker RUN` as host `host`; its pid is the runner's (unshare and sh exec into it).
fn worker_on(host: &str, run_dir: &Path) -> Child {
    let script = format!("hostname {host} && exec \"$0\" worker \"$1\"");
    Command::new("unshare")
        .args(["--uts", "sh", "-c", &script])
        .arg(env!("CARGO_BIN_EXE_runner"))
        .arg(run_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn assert_success(output: &Output) {
    assert!(output.status.success(), "exit {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}

fn committed_epochs(trial_dir: &Path) -> usize {
    std::fs::read_to_string(trial_dir.join("metrics.csv")).map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// A run folder with every trial pending: the run started here and was stopped (SIGTERM) after
/// trial 0's first epoch.
fn stopped_run(dir: &Path, spec: &str) -> PathBuf {
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let output = signal_after_first_epoch(dir, &["-q"], "000_seed=1", libc::SIGTERM);
    assert!(!output.status.success());
    the_run(dir)
}

#[test]
fn another_hosts_killed_worker_is_taken_over_only_after_its_heartbeat_is_stale() {
    if !can_fake_hosts() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run_dir = stopped_run(dir.path(), ONE);
    let trial = run_dir.join("trials/000_seed=1");

    // Host B continues trial 0 and is killed (SIGKILL) once it has committed an epoch of its own.
    let mut b = worker_on("runner-test-b", &run_dir);
    let deadline = Instant::now() + Duration::from_secs(120);
    while committed_epochs(&trial) < 2 {
        assert!(Instant::now() < deadline && b.try_wait().unwrap().is_none(), "host B committed no epoch");
        std::thread::sleep(Duration::from_millis(20));
    }
    b.kill().unwrap();
    let killed_at = Instant::now();
    b.wait().unwrap();
    let claim = std::fs::read_to_string(trial.join("claim")).unwrap();
    assert!(
        claim.contains(" runner-test-b ") && claim.contains("stale_after=10"),
        "host B's claim stays behind: {claim}"
    );

    // While its heartbeat is fresh, this host leaves the trial alone: status says who has it,
    // and a resume of it trains nothing.
    let status = runner(dir.path()).arg("status").arg(&run_dir).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        status.lines().any(|l| l.starts_with("| 0 ") && l.contains("| running ") && l.contains("runner-test-b pid")),
        "{status}"
    );
    let early = runner(dir.path()).arg("resume").arg(&run_dir).arg("-q").output().unwrap();
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "the check above must run within stale_after_seconds; it took {:?}",
        killed_at.elapsed()
    );
    assert!(!early.status.success(), "trial 0 is still another host's");
    let said = String::from_utf8_lossy(&early.stderr);
    assert!(
        said.contains("000_seed=1: held by runner pid") && said.contains("on runner-test-b (last heartbeat"),
        "names who has it: {said}"
    );
    assert!(said.contains("taken over 10 s after its last heartbeat"), "and when it is taken over: {said}");
    assert_eq!(committed_epochs(&trial), 2, "this host trained nothing of trial 0");
    assert_eq!(std::fs::read_to_string(trial.join("claim")).unwrap(), claim, "host B's claim untouched");

    // After stale_after_seconds without a heartbeat, a resume takes it over and ends the run as
    // a straight run would.
    std::thread::sleep(Duration::from_secs(11).saturating_sub(killed_at.elapsed()));
    let late = runner(dir.path()).arg("resume").arg(&run_dir).output().unwrap();
    assert_success(&late);
    let said = String::from_utf8_lossy(&late.stderr);
    assert!(said.contains("took over") && said.contains("runner-test-b sent no heartbeat for"), "{said}");
    let straight = tempfile::tempdir().unwrap();
    assert_success(&run_spec(straight.path(), ONE, &["-q"]));
    assert_eq!(results(&run_dir), results(&the_run(straight.path())));
}

#[test]
fn a_worker_on_each_host_at_once_trains_every_trial_once() {
    if !can_fake_hosts() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run_dir = stopped_run(dir.path(), SPEC);
    let b = worker_on("runner-test-b", &run_dir);
    let a = runner(dir.path()).arg("worker").arg(&run_dir).output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert_success(&a);
    assert_success(&b);
    // Each worker names the trials it starts ("001_seed=2: cnn on mnist (cpu)"): none twice.
    let trained = |output: &Output| -> Vec<String> {
        let stderr = String::from_utf8_lossy(&output.stderr);
        stderr
            .lines()
            .filter(|l| l.contains(": cnn on mnist ("))
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    let (on_a, on_b) = (trained(&a), trained(&b));
    let mut all: Vec<String> = on_a.iter().chain(&on_b).cloned().collect();
    all.sort();
    assert_eq!(all, ["000_seed=1", "001_seed=2", "002_seed=3"], "every trial once: here {on_a:?}, on host B {on_b:?}");
    assert_success(&runner(dir.path()).arg("worker").arg(&run_dir).arg("--finish").arg("-q").output().unwrap());
    let straight = tempfile::tempdir().unwrap();
    assert_success(&run_spec(straight.path(), SPEC, &["-q"]));
    assert_eq!(results(&run_dir), results(&the_run(straight.path())));
}

/// A node dies under a Slurm array task, and Slurm requeues the task onto another node well
/// before its claim's heartbeat goes stale: the claim is that same task's (Slurm runs one
/// instance of a task at a time), so the requeued task takes it over at once and continues the
/// trial exactly. Another task asked for that trial says who holds it and fails.
#[test]
fn a_requeued_array_task_takes_over_the_claim_of_its_instance_on_a_lost_node() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = stopped_run(dir.path(), ONE);
    let trial = run_dir.join("trials").join("000_seed=1");
    assert_eq!(committed_epochs(&trial), 1);
    // The dead instance's claim, its heartbeat fresh: pid, host, boot id, start, since, job_task.
    std::fs::write(trial.join("claim"), "4242 deadnode - - 2026-12-04T10:00:00Z 777_0 stale_after=600\n").unwrap();
    let task = |index: &str| {
        runner(dir.path())
            .args(["worker", "--trial", "0", "--offline"])
            .arg(&run_dir)
            .env("SLURM_ARRAY_JOB_ID", "777")
            .env("SLURM_ARRAY_TASK_ID", index)
            .env("SLURM_JOB_ID", "778")
            .output()
            .unwrap()
    };

    let other = task("5");
    let said = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1), "{said}");
    assert!(said.contains("000_seed=1: cannot take this trial: held by runner pid 4242 on deadnode"), "{said}");
    assert_eq!(committed_epochs(&trial), 1, "nothing trained");

    let requeued = task("0");
    let said = String::from_utf8_lossy(&requeued.stderr);
    assert_success(&requeued);
    assert!(said.contains("took over") && said.contains("this Slurm array task (777_0)"), "{said}");
    assert_eq!(committed_epochs(&trial), 3);
    assert!(!trial.join("claim").exists());
    assert_success(&runner(dir.path()).arg("worker").arg(&run_dir).arg("--finish").arg("-q").output().unwrap());
    let straight = tempfile::tempdir().unwrap();
    assert_success(&run_spec(straight.path(), ONE, &["-q"]));
    assert_eq!(results(&run_dir), results(&the_run(straight.path())));
}
