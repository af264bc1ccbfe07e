//! Crash tests: with `RUNNER_FAILPOINT=<name>` set, the process kills itself with SIGKILL when it
//! reaches the point of that name (see `tests/resume.rs`). Points are named where `hit` is called,
//! e.g. `batch:000_smoke:2:3` or `checkpoint-tmp:000_smoke/epoch-002.bpk`. `<name>=sleep:<ms>`
//! pauses there instead (tests that need one worker to fall behind another, `tests/scale.rs`).
//! Unset, it costs one load of a cached value.

use std::sync::OnceLock;

pub const VAR: &str = "RUNNER_FAILPOINT";

/// Dies here, at once and without cleanup, if `name()` is the failpoint the environment names.
pub fn hit(name: impl FnOnce() -> String) {
    static POINT: OnceLock<Option<String>> = OnceLock::new();
    let Some(point) = POINT.get_or_init(|| std::env::var(VAR).ok().filter(|p| !p.is_empty())) else { return };
    let (point, sleep) = match point.rsplit_once("=sleep:") {
        Some((point, ms)) => (point, ms.parse().ok()),
        None => (point.as_str(), None),
    };
    if point == name() {
        match sleep {
            Some(ms) => std::thread::sleep(std::time::Duration::from_millis(ms)),
            None => kill_self(),
        }
    }
}

#[cfg(unix)]
fn kill_self() {
    // SAFETY: kill(2) with our own pid; SIGKILL cannot be caught, so this does not return.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_self() {
    std::process::abort();
}
