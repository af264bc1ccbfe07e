// Helpers shared by the CLI tests (each tests/*.rs file includes it as a module).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real data sets (see `runner::data::test_data`: RUNNER_TEST_DATA, ../shared/data,
/// data/, or a cache the tests download into once).
pub fn shared_data() -> PathBuf {
    runner::data::test_data::root()
}

/// The runner binary, run in `dir`, with no RUNNER_* or HF_* variables from the caller's
/// environment.
pub fn runner(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("runner").unwrap();
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("RUNNER_") || key.starts_with("HF_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `runner spec.toml --data-dir <test data> --runs-dir out` in `dir`, with `spec` written to
/// spec.toml first; add arguments and environment, then run it.
pub fn spec_command(dir: &Path, spec: &str) -> Command {
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let mut cmd = runner(dir);
    cmd.arg("spec.toml").arg("--data-dir").arg(shared_data()).args(["--runs-dir", "out"]);
    cmd
}

/// [`spec_command`] with `args`, run to the end.
pub fn run_spec(dir: &Path, spec: &str, args: &[&str]) -> std::process::Output {
    spec_command(dir, spec).args(args).output().unwrap()
}

/// Files and folders under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every row of a CSV file, the header first.
pub fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(path).unwrap();
    reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect()
}

/// One column of CSV rows (header first), by name.
pub fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = rows[0].iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[i].clone()).collect()
}

/// The one run folder under `dir/out`.
pub fn the_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("out")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// What a run computes, without what depends on the clock: summary.csv without train_seconds,
/// and each trial's metrics.csv (trials in order) without its timing columns.
pub fn results(run_dir: &Path) -> (Vec<Vec<String>>, Vec<Vec<Vec<String>>>) {
    let summary = without_clock(csv_rows(&run_dir.join("summary.csv")));
    let mut trials: Vec<PathBuf> =
        std::fs::read_dir(run_dir.join("trials")).unwrap().map(|e| e.unwrap().path()).collect();
    trials.sort();
    let metrics = trials.iter().map(|t| without_timing(csv_rows(&t.join("metrics.csv")))).collect();
    (summary, metrics)
}

/// `rows` (a CSV with its header) without the columns named `names`.
fn without_columns(rows: Vec<Vec<String>>, names: &[&str]) -> Vec<Vec<String>> {
    let drop: Vec<usize> =
        rows[0].iter().enumerate().filter(|(_, h)| names.contains(&h.as_str())).map(|(i, _)| i).collect();
    rows.into_iter()
        .map(|row| row.into_iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, c)| c).collect())
        .collect()
}

/// summary.csv rows without what differs between two runs of the same trials: the time a trial
/// took and the run folder's name.
pub fn without_clock(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    without_columns(rows, &["train_seconds", "eval_seconds", "run"])
}

/// metrics.csv rows without their timing columns.
pub fn without_timing(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    without_columns(rows, &["epoch_seconds", "images_per_second", "finished_at", "train_seconds", "eval_seconds"])
}

/// Starts `runner spec.toml --data-dir <data> --runs-dir out ARGS` in `dir`, waits until trial
/// `trial` has finished its first epoch, sends `signal`, and returns the runner's output.
pub fn signal_after_first_epoch(dir: &Path, args: &[&str], trial: &str, signal: i32) -> std::process::Output {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir)
        .arg("spec.toml")
        .arg("--data-dir")
        .arg(shared_data())
        .args(["--runs-dir", "out"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = || {
        Some(
            std::fs::read_dir(dir.join("out"))
                .ok()?
                .next()?
                .ok()?
                .path()
                .join("trials")
                .join(trial)
                .join("metrics.csv"),
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while metrics().and_then(|m| std::fs::read_to_string(m).ok()).is_none_or(|t| t.lines().count() < 2) {
        assert!(std::time::Instant::now() < deadline, "{trial} finished no epoch");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    child.wait_with_output().unwrap()
}

/// Runs `runner spec.toml ARGS` on `text` in a fresh folder; asserts exit 2, every `expected`
/// piece of the message, one error line first, no panic, and that nothing was written.
pub fn rejects(text: &str, args: &[&str], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), text).unwrap();
    let output = runner(dir.path()).arg("spec.toml").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    for needle in expected {
        assert!(stderr.contains(needle), "missing {needle:?} in: {stderr}");
    }
    assert!(stderr.starts_with("error: "), "one error line first: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    assert_eq!(tree(dir.path()), ["spec.toml"], "nothing written");
}

/// The first TOML example of README.md's section `heading`, as written.
pub fn readme_example(heading: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find(heading).unwrap_or_else(|| panic!("README has no {heading:?}"))..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    section[start..start + section[start..].find("```").unwrap()].to_string()
}
