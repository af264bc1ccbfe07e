//! `[slurm] requeue = true`: an array task warned that its time limit is near (SIGUSR1, which
//! the array script asks for with `--signal=B:USR1@N`) stops at the next batch as on SIGTERM,
//! commits, and requeues itself (`scontrol requeue JOB_TASK`); Slurm starts it again (after
//! about two minutes: it holds requeued jobs that long) and the task continues its trial from
//! the last finished epoch. `trials/<trial>/requeues.json` counts the requeues and the windows
//! in a row that finished no epoch, so that a trial that cannot progress fails with the reason
//! instead of looping.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::run::state::Status;
use crate::run::state::{EpochProgress, TrialEnd};
use crate::run::{metrics, write_file};
use crate::spec::Spec;

pub const FILE: &str = "requeues.json";

/// What the task did about its time limit.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Requeued; what to say in the task's log.
    Requeued(String),
    /// The trial failed: this is why.
    Failed(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    requeues: u32,
    /// Windows in a row (task runs) that finished no epoch.
    stalled: u32,
}

/// The task `job_task` was warned of its time limit and stopped its trial in `trial_dir`, which
/// had `epochs_before` finished epochs when the task started: requeue the task, or fail the
/// trial when it cannot progress or has been requeued `max_requeues` times.
pub fn after_time_limit(trial_dir: &Path, spec: &Spec, epochs_before: usize, job_task: &str) -> Result<Next> {
    let path = trial_dir.join(FILE);
    let mut record: Record =
        std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let epochs = metrics::read_committed(&trial_dir.join(metrics::FILE)).len();
    record.stalled = if epochs > epochs_before { 0 } else { record.stalled + 1 };
    let epoch_seconds =
        EpochProgress::read(trial_dir).filter(|p| p.images_per_second > 0.0).map(|p| p.of as f64 / p.images_per_second);
    if let Some(reason) = verdict(&record, spec, epoch_seconds) {
        TrialEnd::now(Status::Failed, reason.clone(), None).write(trial_dir)?;
        return Ok(Next::Failed(reason));
    }
    record.requeues += 1;
    write_file(&path, (serde_json::to_string(&record).expect("a Record serializes") + "\n").as_bytes())?;
    let output = Command::new("scontrol").args(["requeue", job_task]).output();
    match output {
        Ok(o) if o.status.success() => Ok(Next::Requeued(format!(
            "time limit near: requeued {job_task} (requeue {} of at most {}); it continues from epoch {}",
            record.requeues,
            spec.slurm.max_requeues,
            epochs + 1
        ))),
        failed => {
            let said = match failed {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            Err(Error::Slurm(format!(
                "scontrol requeue {job_task} failed ({said}); the trial is left interrupted at epoch {epochs}: \
                 resubmit it with runner submit --resume RUN"
            )))
        }
    }
}

/// Why the trial must fail rather than be requeued, if it must: no epoch finished in this
/// window and one takes longer than a window (or two windows in a row finished none), or the
/// task has been requeued `max_requeues` times.
fn verdict(record: &Record, spec: &Spec, epoch_seconds: Option<f64>) -> Option<String> {
    let slurm = &spec.slurm;
    let limit = slurm.time_limit_seconds();
    if record.stalled > 0 {
        let window = limit.map(|l| l.saturating_sub(slurm.warning_seconds()));
        let hopeless = match (epoch_seconds, window) {
            (Some(epoch), Some(window)) => epoch > window as f64,
            _ => false,
        };
        if hopeless || record.stalled >= 2 {
            let took = epoch_seconds.map_or("longer than a task runs".to_string(), |s| format!("{s:.0} s"));
            let limit = limit.map_or("the partition's".to_string(), |l| format!("{l} s"));
            return Some(format!(
                "no epoch finished within the task time limit: an epoch takes {took}, the task time limit is {limit} \
                 (the last {} s kept for stopping); raise [slurm] time, or train faster (cpus_per_task, a GPU)",
                slurm.warning_seconds()
            ));
        }
    }
    (record.requeues >= slurm.max_requeues).then(|| {
        format!(
            "requeued {} times (slurm.max_requeues) without finishing; raise [slurm] time or max_requeues",
            record.requeues
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(time: &str) -> Spec {
        let mut spec = Spec::default();
        spec.slurm.time = time.into();
        spec
    }

    #[test]
    fn a_trial_that_cannot_finish_an_epoch_in_a_window_fails_with_the_figures() {
        let stalled = Record { requeues: 0, stalled: 1 };
        let reason = verdict(&stalled, &spec("00:02:00"), Some(212.4)).unwrap();
        assert!(
            reason.contains("an epoch takes 212 s, the task time limit is 120 s (the last 30 s kept for stopping)"),
            "{reason}"
        );
        assert_eq!(verdict(&stalled, &spec("00:02:00"), Some(60.0)), None, "it may still fit the next window");
        let twice = Record { requeues: 1, stalled: 2 };
        assert!(
            verdict(&twice, &spec("00:02:00"), Some(60.0)).unwrap().contains("no epoch finished"),
            "two windows without one"
        );
        assert_eq!(verdict(&Record::default(), &spec("00:02:00"), Some(500.0)), None, "it progressed");
    }

    #[test]
    fn requeues_stop_at_max_requeues() {
        let mut spec = spec("10");
        spec.slurm.max_requeues = 3;
        assert_eq!(verdict(&Record { requeues: 2, stalled: 0 }, &spec, None), None);
        assert!(verdict(&Record { requeues: 3, stalled: 0 }, &spec, None).unwrap().starts_with("requeued 3 times"));
    }
}
