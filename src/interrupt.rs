//! Ctrl-C (SIGINT) and SIGTERM (what `timeout`, systemd, `docker stop` and Slurm send to cancel,
//! preempt or end a job): the first one asks training to stop at the next batch boundary, so the
//! trial is marked `interrupted`, the lock is released and every file stays consistent; the exit
//! status is then 128 + the signal (130, 143). A second signal exits at once (files are always
//! written atomically, so that is safe too).
//!
//! A `--jobs` worker also stops at the next batch on SIGHUP, its parent-death signal (see
//! `sched::local`), and never exits at once on it: Linux sends that signal again each time a
//! thread of the dying coordinator exits, so it may come several times.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

/// The first stopping signal received; 0 while none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The run lock to remove when a second signal exits at once.
static LOCK_FILE: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);
/// Worker processes to stop with this one when a second signal exits at once.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Installs the handlers (once per process; later calls do nothing). Signals are received on a
/// thread of their own, so the handling code is ordinary code.
pub fn install() {
    install_for(&[SIGINT, SIGTERM]);
}

/// [`install`], plus SIGHUP, the signal a `--jobs` worker gets when its coordinator dies, and
/// SIGUSR1, Slurm's warning that a task's time limit is near (`sched::requeue`).
pub fn install_for_worker() {
    install_for(&[SIGINT, SIGTERM, SIGHUP, SIGUSR1]);
}

fn install_for(wanted: &[i32]) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let mut signals = match signal_hook::iterator::Signals::new(wanted) {
            Ok(signals) => signals,
            Err(e) => {
                // Without handlers a signal still stops the process, and the files are consistent anyway.
                eprintln!(
                    "warning: cannot handle Ctrl-C and SIGTERM ({e}); they will stop the run without marking the trial"
                );
                return;
            }
        };
        std::thread::spawn(move || {
            for signal in signals.forever() {
                received(signal);
            }
        });
    });
}

fn received(signal: i32) {
    if signal == SIGHUP {
        // The coordinator is gone (possibly said several times): stop at the next batch. No
        // message: nobody may be reading this process's output any more.
        let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        return;
    }
    if RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        if let Ok(children) = CHILDREN.lock() {
            for &pid in children.iter() {
                // SAFETY: kill(2) on our own children; their files are consistent at any point.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        if let Some(lock) = LOCK_FILE.lock().ok().and_then(|l| l.clone()) {
            let _ = std::fs::remove_file(lock);
        }
        eprintln!("\nstopped");
        std::process::exit(128 + signal);
    }
    match signal {
        SIGTERM => eprintln!("\nSIGTERM: stopping after this batch (send it again to stop now)"),
        SIGUSR1 => eprintln!("\nSIGUSR1 (the time limit is near): stopping after this batch"),
        _ => eprintln!("\nstopping after this batch (Ctrl-C again to stop now)"),
    }
}

pub fn requested() -> bool {
    RECEIVED.load(Ordering::Relaxed) != 0
}

/// The first stopping signal received (SIGINT or SIGTERM), if any.
pub fn signal() -> Option<i32> {
    Some(RECEIVED.load(Ordering::Relaxed)).filter(|&s| s != 0)
}

/// Remembers the worker processes a forced exit must stop too.
pub fn set_children(pids: Vec<u32>) {
    if let Ok(mut children) = CHILDREN.lock() {
        *children = pids;
    }
}

/// Exit status of a run stopped by a signal: 128 + the signal, as shells report it (130 for
/// Ctrl-C, 143 for SIGTERM).
pub fn exit_code() -> u8 {
    match RECEIVED.load(Ordering::Relaxed) {
        0 => 128 + SIGINT as u8,
        signal => (128 + signal) as u8,
    }
}

/// Remembers the lock file a forced exit must remove.
pub fn set_lock_file(path: Option<std::path::PathBuf>) {
    if let Ok(mut lock) = LOCK_FILE.lock() {
        *lock = path;
    }
}
