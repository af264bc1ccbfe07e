//! Where a trial's seconds went, recorded in its status.json (`timings`): what a GPU visit
//! reads to tell process start, device init, kernel compilation, upload, steps, evaluation and
//! file writes apart.

use serde::{Deserialize, Serialize};

/// Seconds, for the epochs this process ran of the trial (a resumed trial counts from its resume).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// From the process's start (exec) to this trial's start: loading the binary and the data,
    /// and the trials before it in this process.
    pub process_to_trial: f64,
    /// Creating the device (CUDA: the driver, the context).
    pub device_init: f64,
    /// Building the model (and loading a checkpoint when resuming).
    pub model_init: f64,
    /// GPU only: a first step that compiles and autotunes the kernels.
    pub warmup: f64,
    /// From the start of training to the first batch: batches prepared, the data sent to the device.
    pub upload: f64,
    /// Training passes and evaluations (validation and test), summed over the epochs.
    pub train: f64,
    pub eval: f64,
    /// Committing each epoch: its checkpoints, its metrics row and TensorBoard files, summed.
    pub file_writes: f64,
    /// The whole trial, from its start to its end.
    pub total: f64,
}

/// Seconds since this process started, from the kernel's record of it; None where /proc has none.
pub fn process_age() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: the fields after it follow its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let started_ticks: f64 = fields.get(19)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    (ticks_per_second > 0.0).then(|| (uptime - started_ticks / ticks_per_second).max(0.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_process_is_as_old_as_it_has_run() {
        let Some(age) = super::process_age() else { return };
        let before = age;
        std::thread::sleep(std::time::Duration::from_millis(300));
        let after = super::process_age().unwrap();
        // Clock ticks are 10 ms: the age grows by the sleep, give or take two ticks.
        assert!(after - before >= 0.27 && after - before < 2.0, "{before} -> {after}");
        assert!(before < 24.0 * 3600.0, "{before}");
    }
}
