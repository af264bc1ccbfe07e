//! `run.lock`: one runner at a time writes into a run folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const FILE: &str = "run.lock";

/// Held while a runner writes into a run folder; removed on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Creates `run.lock` holding this process's pid and host, or says who holds it.
    pub fn acquire(run_dir: &Path) -> Result<RunLock> {
        let path = run_dir.join(FILE);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                let host = gethostname::gethostname().to_string_lossy().into_owned();
                writeln!(file, "{} {host}", std::process::id()).map_err(Error::io(&path))?;
                crate::interrupt::set_lock_file(Some(path.clone()));
                Ok(RunLock { path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(held(&path)),
            Err(e) => Err(Error::io(&path)(e)),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        crate::interrupt::set_lock_file(None);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The error for a lock file that exists: in use, or stale (its runner is gone).
fn held(path: &Path) -> Error {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut fields = text.split_whitespace();
    let pid = fields.next().and_then(|p| p.parse::<u32>().ok());
    let host = fields.next().unwrap_or("").to_string();
    let this_host = gethostname::gethostname().to_string_lossy().into_owned();
    let holder = match pid {
        Some(pid) => format!("runner pid {pid} on {}", if host.is_empty() { "an unknown host" } else { &host }),
        None => "an unknown runner".to_string(),
    };
    let alive = match pid {
        Some(pid) if host == this_host => Some(process_alive(pid)),
        _ => None,
    };
    let message = match alive {
        Some(false) => format!(
            "{} is a stale lock: {holder} is no longer running (it crashed or was killed).\n  \
             If no other runner uses this run folder, delete the lock and retry: rm {}",
            path.display(),
            path.display()
        ),
        Some(true) => format!(
            "{} is in use by {holder}: wait for it to finish (or stop it with Ctrl-C), then retry",
            path.display()
        ),
        None => format!(
            "{} is held by {holder}, which this machine cannot check.\n  \
             If no runner uses this run folder any more, delete the lock and retry: rm {}",
            path.display(),
            path.display()
        ),
    };
    Error::RunLocked(message)
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks whether the process exists and may be signalled.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by runner pid") && err.contains(&std::process::id().to_string()), "{err}");
        drop(lock);
        assert!(!dir.path().join(FILE).exists());
        RunLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_dead_holder_is_reported_as_stale_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        std::fs::write(dir.path().join(FILE), format!("{dead} {host}\n")).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("stale lock") && err.contains("rm "), "{err}");
        assert!(dir.path().join(FILE).exists(), "a stale lock is reported, not taken over");
    }
}
