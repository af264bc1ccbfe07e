//! `--jobs N`: N worker processes on this machine (`runner worker RUN`), each claiming trials
//! from the run folder until none is left.
//!
//! Processes, not threads: Burn's CPU backends seed one process-wide RNG, so trials sharing a
//! process would draw each other's initial weights; separate processes keep every trial's
//! results exactly those of a sequential run.

use std::ffi::OsString;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::run::worker::WorkerEnd;
use crate::run::{Board, RunDir, WorkerOptions};
use crate::spec::{BackendName, Trial};
use crate::{backend, interrupt};

/// CPU threads per job when `jobs` share this machine's cores: at least one.
pub fn threads_per_job(jobs: usize, cores: usize) -> usize {
    (cores / jobs.max(1)).max(1)
}

/// The GPU of each job: jobs take the GPUs in turn (job j on `gpus[j % n]`); none without GPUs.
pub fn assign_gpus(jobs: usize, gpus: &[u32]) -> Vec<Option<u32>> {
    (0..jobs).map(|j| (!gpus.is_empty()).then(|| gpus[j % gpus.len()])).collect()
}

/// How each of `jobs` workers on this machine runs: as `options` says, never downloading (the
/// data is in place), each on its GPU when cuda trials have several to share.
pub fn job_options(jobs: usize, options: &WorkerOptions, trials: &[Trial]) -> Vec<WorkerOptions> {
    let uses_cuda = trials.iter().any(|t| t.spec.backend == BackendName::Cuda);
    let visible: Vec<u32> = if uses_cuda { (0..backend::cuda_count() as u32).collect() } else { Vec::new() };
    let gpus = assign_gpus(jobs, if visible.len() > 1 { &visible } else { &[] });
    gpus.into_iter().map(|gpu| WorkerOptions { gpu, offline: true, ..options.clone() }).collect()
}

/// Runs one worker process per command line in `lines` (the words after the binary) on
/// `run_dir` and waits for them. Signals reach this process
/// only (the workers have a process group of their own); it passes the first one on, once, as
/// SIGHUP, so each worker stops at a batch boundary without a word; a second one stops
/// everything at once. On a terminal
/// the workers' lines come through pipes and print above one bar per running trial.
pub fn run_workers(run_dir: &RunDir, trials: &[Trial], lines: Vec<Vec<OsString>>, quiet: bool) -> Result<WorkerEnd> {
    let mut board = Board::on_terminal(quiet);
    let mut relays = Vec::new();
    let exe = std::env::current_exe()
        .map_err(|e| Error::Worker(format!("cannot find the runner binary to start workers: {e}")))?;
    let mut children: Vec<Child> = Vec::with_capacity(lines.len());
    for line in lines {
        let mut command = Command::new(&exe);
        command.args(line).process_group(0);
        if board.is_some() {
            command.stderr(Stdio::piped());
        }
        die_with_this_process(&mut command);
        match command.spawn() {
            Ok(mut child) => {
                if let (Some(board), Some(stderr)) = (&board, child.stderr.take()) {
                    let print = board.printer();
                    relays.push(std::thread::spawn(move || {
                        for line in std::io::BufReader::new(stderr).lines().map_while(std::io::Result::ok) {
                            print(&line);
                        }
                    }));
                }
                children.push(child)
            }
            Err(e) => {
                stop(&mut children, libc::SIGTERM);
                return Err(Error::Worker(format!("cannot start a worker process ({}): {e}", exe.display())));
            }
        }
    }
    interrupt::set_children(children.iter().map(Child::id).collect());
    let (labels, legend) = crate::run::bar_labels(trials);
    if let (Some(board), Some(legend)) = (&board, legend) {
        board.println(&legend);
    }
    let trial_dirs: Vec<_> = labels.into_iter().zip(trials).map(|(label, t)| (label, run_dir.trial_dir(t))).collect();
    let mut drawn = Instant::now();
    let mut forwarded = false;
    let mut interrupted = false;
    let mut running: Vec<Child> = children;
    while !running.is_empty() {
        let mut still = Vec::with_capacity(running.len());
        for mut child in running {
            match child.try_wait() {
                Ok(Some(status)) => interrupted |= matches!(status.code(), Some(130 | 143)),
                Ok(None) => still.push(child),
                Err(e) => return Err(Error::Worker(format!("lost track of a worker process: {e}"))),
            }
        }
        running = still;
        if interrupt::signal().is_some() && !forwarded {
            // SIGHUP, the quiet stop: this process has said "stopping" and will say where to
            // resume, once for all its workers.
            stop(&mut running, libc::SIGHUP);
            forwarded = true;
        }
        if let Some(board) = &mut board
            && drawn.elapsed() >= Duration::from_millis(500)
        {
            board.refresh(&trial_dirs);
            drawn = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt::set_children(Vec::new());
    for relay in relays {
        let _ = relay.join();
    }
    if let Some(board) = board {
        board.clear();
    }
    Ok(if interrupted || forwarded { WorkerEnd::Interrupted(None) } else { WorkerEnd::Finished })
}

/// A worker is asked to stop (SIGHUP: at the next batch, its trial left resumable) when this
/// coordinator dies, even by SIGKILL: its own process group keeps it from our signals, and a
/// worker training on for a dead coordinator would hold trials a `runner resume` wants. Not
/// SIGTERM: Linux repeats the parent-death signal as each of our threads exits, and a second
/// SIGTERM means "stop now", which would leave the worker's claim behind.
fn die_with_this_process(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id();
        // SAFETY: prctl and getppid are async-signal-safe; nothing is allocated after fork.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Died before prctl took effect: the worker was already handed to another parent.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("the coordinator is gone"));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

fn stop(children: &mut [Child], signal: i32) {
    for child in children {
        // SAFETY: kill(2) on a child of ours that has not been reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_share_the_cores() {
        assert_eq!(threads_per_job(2, 2), 1);
        assert_eq!(threads_per_job(4, 16), 4);
        assert_eq!(threads_per_job(3, 2), 1, "never zero");
        assert_eq!(threads_per_job(1, 8), 8);
    }

    #[test]
    fn jobs_take_the_gpus_in_turn() {
        assert_eq!(assign_gpus(3, &[]), [None, None, None]);
        assert_eq!(assign_gpus(5, &[0, 1]), [Some(0), Some(1), Some(0), Some(1), Some(0)]);
        assert_eq!(assign_gpus(2, &[2, 3, 5]), [Some(2), Some(3)]);
    }
}
