//! Files written so that no reader, crash or kill ever sees half of one: a temporary file in the
//! same folder, fsync, rename. Every file the runner writes goes through [`write_atomically`],
//! including the paths users give (`--out`), so it also takes care of what is already there.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temp file + fsync + rename).
///
/// What is at `path` decides where and how: a symlink is followed (its target is replaced, the
/// link stays), an existing regular file keeps its permission bits, and anything else that
/// exists there (a device such as /dev/full, a FIFO, a folder, a socket) is refused.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = resolve_target(path)?;
    let tmp = temp_path(&target);
    let result = (|| {
        let mut file = create_new(&tmp, existing_mode(&target))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        crate::failpoint::hit(|| format!("tmp-written:{}", target.file_name().unwrap_or_default().to_string_lossy()));
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The regular file a write to `path` must replace: `path` itself, or the end of its symlink
/// chain. Refuses targets that are not regular files.
fn resolve_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(e),
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&target)?;
                target = match target.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(meta) if meta.is_file() => return Ok(target),
            Ok(meta) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("not a regular file ({}); refusing to replace it, give a file path", kind(&meta)),
                ));
            }
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "too many levels of symbolic links"))
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a named pipe";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() { "a folder" } else { "not a plain file" }
}

#[cfg(unix)]
fn existing_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn existing_mode(_path: &Path) -> Option<u32> {
    None
}

/// Creates `path`, which must not exist, with `mode` from the start (no moment with wider bits).
fn create_new(path: &Path, mode: Option<u32>) -> std::io::Result<std::fs::File> {
    let _ = std::fs::remove_file(path); // our own leftover: the name holds our pid
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(mode);
        let file = options.open(path)?;
        // The umask may have cleared bits the original had.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        return Ok(file);
    }
    let _ = mode;
    options.open(path)
}

/// `dir/.name.tmp-<pid>`: hidden, and unique per process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The pid in a name [`temp_path`] made, if it is one.
fn temp_owner(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    name.rsplit_once(".tmp-")?.1.parse().ok()
}

/// Removes, in `dir` (and its subfolders when `recursive`), the temporary files of writers that
/// are no longer running on this machine: what a kill -9 left behind. Returns how many were
/// removed. Only for folders no other machine's runner writes into now (held by a lock or claim).
pub fn remove_dead_temp_files(dir: &Path, recursive: bool) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                if recursive {
                    stack.push(entry.path());
                }
                continue;
            }
            let name = entry.file_name();
            let Some(pid) = temp_owner(&name.to_string_lossy()) else { continue };
            if pid != std::process::id() && !process_alive(pid) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Whether a process with this pid exists on this machine.
#[cfg(unix)]
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks whether the process exists and may be signalled.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
pub fn process_alive(_pid: u32) -> bool {
    true
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    use super::*;

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn replaces_a_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn writes_through_symlinks_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.bin");
        std::fs::write(&real, b"old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.bin");
        std::os::unix::fs::symlink("real.bin", &link).unwrap();

        write_atomically(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o600);

        // A dangling link: the file is created where it points.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("made.bin", &dangling).unwrap();
        write_atomically(&dangling, b"x").unwrap();
        assert_eq!(std::fs::read(dir.path().join("made.bin")).unwrap(), b"x");
    }

    #[test]
    fn refuses_devices_fifos_and_folders() {
        let err = write_atomically(Path::new("/dev/null"), b"x").unwrap_err();
        assert!(err.to_string().contains("a device"), "{err}");
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());

        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = write_atomically(&fifo, b"x").unwrap_err();
        assert!(err.to_string().contains("named pipe"), "{err}");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is left as it was");

        let err = write_atomically(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("a folder"), "{err}");
    }

    #[test]
    fn removes_temp_files_of_dead_writers_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("trials/000_x/checkpoints")).unwrap();
        let dead = dead_pid();
        let stale = [
            dir.path().join(format!(".summary.csv.tmp-{dead}")),
            dir.path().join(format!("trials/000_x/.metrics.csv.tmp-{dead}")),
            dir.path().join(format!("trials/000_x/checkpoints/.epoch-002.bpk.tmp-{dead}")),
        ];
        let kept = [
            dir.path().join(format!(".summary.csv.tmp-{}", std::process::id())),
            dir.path().join("trials/000_x/metrics.csv"),
            dir.path().join("notes.tmp-1"),
        ];
        for path in stale.iter().chain(&kept) {
            std::fs::write(path, b"x").unwrap();
        }
        assert_eq!(remove_dead_temp_files(dir.path(), false).unwrap(), 1, "this folder only");
        assert_eq!(remove_dead_temp_files(dir.path(), true).unwrap(), 2);
        assert!(stale.iter().all(|p| !p.exists()));
        assert!(kept.iter().all(|p| p.exists()));
    }
}
