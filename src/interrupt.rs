//! Ctrl-C: the first one asks training to stop at the next batch boundary, so the trial is
//! marked `interrupted` and every file stays consistent; a second one exits at once (files are
//! always written atomically, so that is safe too).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// The run lock to remove when a second Ctrl-C exits at once.
static LOCK_FILE: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_CODE: u8 = 130;

/// Installs the handler (once per process; later calls do nothing).
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let handler = || {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                if let Some(lock) = LOCK_FILE.lock().ok().and_then(|l| l.clone()) {
                    let _ = std::fs::remove_file(lock);
                }
                eprintln!("\nstopped");
                std::process::exit(i32::from(EXIT_CODE));
            }
            eprintln!("\nstopping after this batch (Ctrl-C again to stop now)");
        };
        // Without a handler Ctrl-C still stops the process, and the files are consistent anyway.
        if let Err(e) = ctrlc::set_handler(handler) {
            eprintln!("warning: cannot handle Ctrl-C ({e}); it will stop the run without marking the trial");
        }
    });
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Remembers the lock file a forced exit must remove.
pub fn set_lock_file(path: Option<std::path::PathBuf>) {
    if let Ok(mut lock) = LOCK_FILE.lock() {
        *lock = path;
    }
}
