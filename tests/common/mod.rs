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

/// The runner binary, run in `dir`, with no RUNNER_* variables from the caller's environment.
pub fn runner(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("runner").unwrap();
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("RUNNER_") {
            cmd.env_remove(key);
        }
    }
    cmd
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
