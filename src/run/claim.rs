//! Claim files: `run.lock` (one coordinating runner per run folder) and `trials/<trial>/claim`
//! (one worker per trial), the same mechanism for both.
//!
//! A claim file is made whole and then linked into place (`link(2)` fails if the name exists,
//! also on NFS), so nobody ever reads a half-written claim. It names its holder: pid, host, boot
//! id, the process's start time, when it claimed, its Slurm job when there is one, and after how
//! long without a heartbeat it may be taken over (the spec's `stale_after_seconds`, so that every
//! reader judges it alike). The holder refreshes the file's mtime every twentieth of that (1-30 s,
//! [`heartbeat_every`]) while it runs.
//!
//! A claim left by a runner that is gone (kill -9, OOM kill, reboot, a lost node) is stale and
//! taken over with a notice: on the same host when its pid is not running, or is running but
//! started at another time (the pid was reused), or the machine has rebooted since; from another
//! host when its heartbeat is older than its `stale_after_seconds` ([`STALE_AFTER`] in claims of
//! older runners), and with a claim this machine cannot read, after [`UNREADABLE_GRACE`].

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::fs::{process_alive, temp_path};

/// The default of `stale_after_seconds`.
pub const STALE_AFTER: Duration = Duration::from_secs(crate::spec::DEFAULT_STALE_AFTER_SECONDS);
/// How long an unreadable claim may be in the middle of being written (see `create`).
const UNREADABLE_GRACE: Duration = Duration::from_secs(10);

/// How often a holder refreshes a claim it lets others take over after `stale_after`.
pub fn heartbeat_every(stale_after: Duration) -> Duration {
    (stale_after / 20).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// A claim this process holds; removed on drop.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    content: String,
    /// Dropping it stops the heartbeat thread.
    _heartbeat: mpsc::Sender<()>,
}

/// Who holds a claim this process could not take, for messages.
#[derive(Debug)]
pub struct HeldBy(pub String);

impl Claim {
    /// Takes the claim at `path`, taking over a stale one (with a notice unless `quiet`);
    /// `Ok(Err(_))` says who holds it when that holder is alive. Others on other hosts may take
    /// it over `stale_after` after the last heartbeat.
    pub fn acquire(path: &Path, quiet: bool, stale_after: Duration) -> Result<Result<Claim, HeldBy>> {
        let content = Holder::this_process(stale_after).to_line();
        for _ in 0..5 {
            match create(path, &content) {
                Ok(()) => {
                    let heartbeat = start_heartbeat(path.to_path_buf(), heartbeat_every(stale_after));
                    return Ok(Ok(Claim { path: path.to_path_buf(), content, _heartbeat: heartbeat }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(path)(e)),
            }
            let found = read_claim(path);
            match found.verdict() {
                Verdict::Held(why) => return Ok(Err(HeldBy(why))),
                Verdict::Stale(why) => {
                    if take_over(path, &found.text)? && !quiet {
                        eprintln!("note: took over {}: {why}", path.display());
                    }
                }
            }
        }
        Ok(Err(HeldBy("other runners, which keep taking it; retry when they are done".into())))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Only our own claim: never one that another runner took over from us.
        if std::fs::read_to_string(&self.path).is_ok_and(|text| text == self.content) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What a claim file says, for `runner status`: `None` when there is none.
pub fn inspect(path: &Path) -> Option<ClaimState> {
    if !path.exists() {
        return None;
    }
    let found = read_claim(path);
    let holder = Holder::parse(&found.text);
    let (live, why) = match found.verdict() {
        Verdict::Held(why) => (true, why),
        Verdict::Stale(why) => (false, why),
    };
    Some(ClaimState {
        live,
        why,
        host: holder.as_ref().map(|h| h.host.clone()).unwrap_or_default(),
        pid: holder.as_ref().map_or(0, |h| h.pid),
        slurm: holder.and_then(|h| h.slurm),
    })
}

/// A claim as `runner status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimState {
    /// Its holder runs (or, on another host, beat recently).
    pub live: bool,
    /// Who holds it and what to do, or why it is stale: as `acquire` would say it.
    pub why: String,
    pub host: String,
    pub pid: u32,
    /// `job_task` or `job` when the holder is a Slurm task.
    pub slurm: Option<String>,
}

/// Creates the lock file with its whole content at once: written under a temporary name, then
/// hard-linked to `path` (fails with AlreadyExists if it is taken).
fn create(path: &Path, content: &str) -> std::io::Result<()> {
    // Unique per call: threads of one process may race for one claim (in tests).
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = temp_path(&path.with_extension(format!("{n}")));
    std::fs::write(&tmp, content)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS)) => {
            // A file system without hard links: exclusive create, then write (readers retry an
            // empty claim for a moment, see `read_claim`).
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
            file.write_all(content.as_bytes())
        }
        other => other,
    }
}

/// Moves a stale lock out of the way. Returns false (changing nothing) when the lock at `path`
/// is no longer the one judged stale: another runner took it over first.
fn take_over(path: &Path, judged: &str) -> Result<bool> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let aside = path.with_file_name(format!(".{name}.stale-{}", std::process::id()));
    match std::fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(path)(e)),
    }
    let moved = std::fs::read_to_string(&aside).unwrap_or_default();
    if moved != judged {
        // A fresh lock taken between our read and our rename: put it back.
        let _ = std::fs::hard_link(&aside, path);
    }
    let _ = std::fs::remove_file(&aside);
    Ok(moved == judged)
}

/// Refreshes the lock's mtime every `every` until the returned sender is dropped.
fn start_heartbeat(path: PathBuf, every: Duration) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            if let Ok(file) = std::fs::OpenOptions::new().append(true).open(&path) {
                let _ = file.set_modified(SystemTime::now());
            }
        }
    });
    stop
}

/// A lock file as found: its text and how long ago its holder last beat.
struct Found {
    text: String,
    age: Option<Duration>,
}

fn read_claim(path: &Path) -> Found {
    let mut text = String::new();
    for _ in 0..20 {
        text = std::fs::read_to_string(path).unwrap_or_default();
        if !text.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let age = std::fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
    Found { text, age }
}

enum Verdict {
    /// Who holds it, for the message.
    Held(String),
    /// Why it is stale, for the notice.
    Stale(String),
}

impl Found {
    fn verdict(&self) -> Verdict {
        let age = self.age.unwrap_or_default();
        let Some(holder) = Holder::parse(&self.text) else {
            // Runners link their claims into place whole: an empty or garbled one is no runner's,
            // except for the moment a file system without hard links needs to write one.
            return if age > UNREADABLE_GRACE {
                Verdict::Stale(format!(
                    "an unreadable lock (empty or garbled) for {}: no runner writes one",
                    seconds(age)
                ))
            } else {
                Verdict::Held(format!(
                    "a runner that is writing its lock (unreadable for {} so far); retry in a few seconds",
                    seconds(age)
                ))
            };
        };
        let who = format!("runner pid {} on {}", holder.pid, holder.host);
        if holder.host != super::this_host() {
            // Slurm never runs two instances of one array task: a claim this very task recorded
            // on another node is its instance before a requeue (the node was lost, the job
            // preempted), dead whatever its heartbeat says. (On one node, the pid decides.)
            if let Some(job) = holder.slurm.as_ref().filter(|job| job.contains('_'))
                && slurm_job().as_ref() == Some(job)
            {
                return Verdict::Stale(format!(
                    "{who} was this Slurm array task ({job}) before Slurm requeued it; one instance of a task runs at a time"
                ));
            }
            let stale_after = holder.stale_after.unwrap_or(STALE_AFTER);
            return if age > stale_after {
                Verdict::Stale(format!(
                    "{who} sent no heartbeat for {}",
                    if age.as_secs() >= 120 { minutes(age) } else { seconds(age) }
                ))
            } else {
                Verdict::Held(format!(
                    "{who} (last heartbeat {} ago): wait for it to finish, or stop it there; \
                     if that machine is gone, the lock is taken over {} after its last heartbeat",
                    seconds(age),
                    if stale_after.as_secs() >= 120 { minutes(stale_after) } else { seconds(stale_after) }
                ))
            };
        }
        match holder.running_here() {
            Err(why) => Verdict::Stale(format!("{who} is no longer running ({why})")),
            Ok(()) => Verdict::Held(format!("{who}: wait for it to finish (or stop it with Ctrl-C), then retry")),
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs())
}

fn minutes(d: Duration) -> String {
    format!("{} min", d.as_secs().div_ceil(60))
}

/// Who holds a claim: `pid host boot_id start_ticks since slurm stale_after=SECONDS` ("-" for
/// what is unknown; locks of older runners have only pid and host, or stop after `slurm`).
#[derive(Debug, PartialEq)]
struct Holder {
    pid: u32,
    host: String,
    boot_id: Option<String>,
    start_ticks: Option<u64>,
    /// When it claimed (UTC, RFC 3339).
    since: Option<String>,
    /// The Slurm job (`job_task` for an array task).
    slurm: Option<String>,
    /// After how long without a heartbeat another host may take the claim over.
    stale_after: Option<Duration>,
}

impl Holder {
    fn this_process(stale_after: Duration) -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            host: super::this_host(),
            boot_id: boot_id(),
            start_ticks: start_ticks(pid),
            since: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            slurm: slurm_job(),
            stale_after: Some(stale_after),
        }
    }

    fn to_line(&self) -> String {
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
        let mut line = format!(
            "{} {} {} {} {}",
            self.pid,
            self.host,
            or_dash(self.boot_id.clone()),
            or_dash(self.start_ticks.map(|t| t.to_string())),
            or_dash(self.since.clone())
        );
        match (&self.slurm, self.stale_after) {
            (slurm, Some(after)) => line += &format!(" {} stale_after={}", or_dash(slurm.clone()), after.as_secs()),
            (Some(job), None) => line += &format!(" {job}"),
            (None, None) => {}
        }
        line + "\n"
    }

    fn parse(text: &str) -> Option<Holder> {
        let mut fields = text.split_whitespace();
        let pid = fields.next()?.parse().ok()?;
        let host = fields.next()?.to_string();
        let mut known = || fields.next().filter(|f| *f != "-").map(String::from);
        let boot_id = known();
        let start_ticks = known().and_then(|t| t.parse().ok());
        let since = known();
        let slurm = known();
        let stale_after =
            fields.next().and_then(|f| f.strip_prefix("stale_after=")?.parse().ok()).map(Duration::from_secs);
        Some(Holder { pid, host, boot_id, start_ticks, since, slurm, stale_after })
    }

    /// Ok if this holder (of this host) is still running; else why not.
    fn running_here(&self) -> Result<(), String> {
        if let (Some(then), Some(now)) = (&self.boot_id, boot_id())
            && *then != now
        {
            return Err("the machine has restarted since".into());
        }
        if !process_alive(self.pid) {
            return Err("crashed or killed".into());
        }
        if let (Some(then), Some(now)) = (self.start_ticks, start_ticks(self.pid))
            && then != now
        {
            return Err(format!("pid {} now belongs to another process", self.pid));
        }
        Ok(())
    }
}

/// `SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID`, or `SLURM_JOB_ID`, when run by Slurm.
pub fn slurm_job() -> Option<String> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty() && !v.contains(char::is_whitespace));
    match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(job), Some(task)) => Some(format!("{job}_{task}")),
        _ => var("SLURM_JOB_ID"),
    }
}

/// This boot of the machine (Linux); a reboot changes it.
fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string()).filter(|id| !id.is_empty())
}

/// When process `pid` started, in clock ticks since boot (Linux, /proc/PID/stat field 22).
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "claim";

    /// Takes the claim in `dir`, or the message of who holds it.
    fn take(dir: &Path) -> Result<Claim, String> {
        Claim::acquire(&dir.join(FILE), true, STALE_AFTER).unwrap().map_err(|HeldBy(why)| format!("in use by {why}"))
    }

    fn holder(pid: u32, host: &str) -> Holder {
        Holder { pid, host: host.into(), boot_id: None, start_ticks: None, since: None, slurm: None, stale_after: None }
    }

    #[test]
    fn heartbeats_come_a_twentieth_of_the_stale_time_apart_within_1_to_30_s() {
        assert_eq!(heartbeat_every(STALE_AFTER), Duration::from_secs(30));
        assert_eq!(heartbeat_every(Duration::from_secs(60)), Duration::from_secs(3));
        assert_eq!(heartbeat_every(Duration::from_secs(3)), Duration::from_secs(1), "three beats fit");
        assert_eq!(heartbeat_every(Duration::from_secs(86400)), Duration::from_secs(30));
    }

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let claim = take(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let parsed = Holder::parse(&text).unwrap();
        assert_eq!(
            Holder { since: None, ..parsed },
            Holder { since: None, ..Holder::this_process(STALE_AFTER) },
            "{text}"
        );
        let err = take(dir.path()).unwrap_err();
        assert!(err.contains("in use by runner pid") && err.contains(&std::process::id().to_string()), "{err}");
        assert_eq!(inspect(&dir.path().join(FILE)).map(|c| (c.live, c.pid)), Some((true, std::process::id())));
        drop(claim);
        assert!(!dir.path().join(FILE).exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file left");
        assert_eq!(inspect(&dir.path().join(FILE)), None);
        take(dir.path()).unwrap();
    }

    #[test]
    fn the_holder_line_round_trips_with_a_slurm_job() {
        let slurm_task = Holder {
            slurm: Some("1234_7".into()),
            since: Some("2026-11-29T03:00:00Z".into()),
            ..Holder::this_process(STALE_AFTER)
        };
        assert_eq!(Holder::parse(&slurm_task.to_line()), Some(slurm_task));
        let local = Holder { slurm: None, ..Holder::this_process(Duration::from_secs(45)) };
        assert!(local.to_line().ends_with(" - stale_after=45\n"), "{}", local.to_line());
        assert_eq!(Holder::parse(&local.to_line()), Some(local));
        assert_eq!(Holder::parse("42 node7\n"), Some(holder(42, "node7")), "the older pid-and-host lock");
    }

    #[test]
    fn racing_runners_never_see_a_half_written_claim() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let results: Vec<Result<Claim, String>> = std::thread::scope(|scope| {
                let racers: Vec<_> = (0..6).map(|_| scope.spawn(|| take(dir.path()))).collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
            for err in results.iter().filter_map(|r| r.as_ref().err()) {
                assert!(err.contains("in use by runner pid"), "{err}");
            }
        }
    }

    #[test]
    fn a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(dir.path().join(FILE), format!("{dead} {}\n", crate::run::this_host())).unwrap();
        assert_eq!(inspect(&dir.path().join(FILE)).map(|c| c.live), Some(false));
        let claim = take(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.starts_with(&format!("{} ", std::process::id())), "{text}");
        drop(claim);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reused_pid_or_a_reboot_is_told_apart_from_a_live_holder() {
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = sleeper.id();
        let live =
            Holder { boot_id: boot_id(), start_ticks: start_ticks(pid), ..holder(pid, &crate::run::this_host()) };
        assert!(live.start_ticks.is_some());
        std::fs::write(dir.path().join(FILE), live.to_line()).unwrap();
        let err = take(dir.path()).unwrap_err();
        assert!(err.contains(&format!("in use by runner pid {pid}")), "{err}");

        // The same pid with another start time: the recorded runner is gone, the pid reused.
        let reused = Holder { start_ticks: live.start_ticks.map(|t| t.wrapping_sub(1)), ..live };
        std::fs::write(dir.path().join(FILE), reused.to_line()).unwrap();
        assert!(
            matches!(read_claim(&dir.path().join(FILE)).verdict(), Verdict::Stale(why) if why.contains("another process"))
        );
        let rebooted = Holder { boot_id: Some("another-boot".into()), ..reused };
        assert!(matches!(rebooted.running_here(), Err(why) if why.contains("restarted")));
        drop(take(dir.path()).unwrap());
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }

    #[test]
    fn another_hosts_claim_holds_until_its_heartbeat_is_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, "4242 some-other-node - - - 99_3\n").unwrap();
        let err = take(dir.path()).unwrap_err();
        assert!(err.contains("runner pid 4242 on some-other-node (last heartbeat"), "{err}");
        assert_eq!(inspect(&path).and_then(|c| c.slurm), Some("99_3".to_string()));
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        std::fs::File::options().append(true).open(&path).unwrap().set_modified(old).unwrap();
        drop(take(dir.path()).unwrap());

        // A holder that says how long it may go without a heartbeat is judged by that.
        std::fs::write(&path, "4242 some-other-node - - - - stale_after=5\n").unwrap();
        let err = take(dir.path()).unwrap_err();
        assert!(err.contains("taken over 5 s after its last heartbeat"), "{err}");
        let old = SystemTime::now() - Duration::from_secs(6);
        std::fs::File::options().append(true).open(&path).unwrap().set_modified(old).unwrap();
        drop(take(dir.path()).unwrap());

        // An unreadable claim (empty or garbled) is judged by its age alone: it is being
        // written for a moment at most, and no runner leaves one behind.
        for text in ["", "garbage\n"] {
            std::fs::write(&path, text).unwrap();
            let err = take(dir.path()).unwrap_err();
            assert!(err.contains("writing its lock"), "{err}");
            assert!(inspect(&path).is_some_and(|c| c.live && c.pid == 0));
            let old = SystemTime::now() - UNREADABLE_GRACE - Duration::from_secs(1);
            std::fs::File::options().append(true).open(&path).unwrap().set_modified(old).unwrap();
            assert!(inspect(&path).is_some_and(|c| !c.live), "stale after a few seconds, not ten minutes");
            drop(take(dir.path()).unwrap());
        }
    }

    #[test]
    fn a_claim_taken_over_by_another_runner_is_not_removed_by_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let claim = take(dir.path()).unwrap();
        std::fs::write(dir.path().join(FILE), "1 elsewhere - -\n").unwrap();
        drop(claim);
        assert!(dir.path().join(FILE).exists());
        assert!(!take_over(&dir.path().join(FILE), "2 judged - -\n").unwrap(), "not the claim judged stale");
        assert_eq!(std::fs::read_to_string(dir.path().join(FILE)).unwrap(), "1 elsewhere - -\n", "put back");
    }
}
