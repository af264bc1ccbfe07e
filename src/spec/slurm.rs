//! `[slurm]`: what `runner submit` asks Slurm for. No other command reads it.

use serde::{Deserialize, Serialize};

use super::validate::RangeError;

/// The keys of `[slurm]` (a test checks them against the struct).
pub const SLURM_FIELDS: &[&str] =
    &["partition", "time", "cpus_per_task", "mem", "max_parallel", "gres", "extra", "requeue", "max_requeues"];

/// `[slurm]`: the resources of each array task `runner submit` asks for. Empty and 0 values
/// leave the cluster's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmSpec {
    /// Partition (queue).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Time limit per task, in Slurm's format: "30" (minutes), "01:00:00", "1-12:00:00".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time: String,
    /// CPUs per task (each trial trains with that many threads); 0: Slurm's default, one.
    #[serde(skip_serializing_if = "is_zero")]
    pub cpus_per_task: u32,
    /// Memory per task, in Slurm's format: "4G", "500M".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mem: String,
    /// The most tasks running at once (`--array=...%M`); 0: no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_parallel: u32,
    /// Generic resources per task; empty: "gpu:1" for `backend = "cuda"`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gres: String,
    /// More sbatch options, as given, e.g. ["--account=mylab", "--qos=short"].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
    /// Near the time limit a task stops at a batch, commits and requeues itself, and the
    /// requeued task continues its trial (see `sched::slurm::requeue`).
    #[serde(skip_serializing_if = "is_true")]
    pub requeue: bool,
    /// The most times one task requeues itself before its trial fails.
    #[serde(skip_serializing_if = "is_twenty")]
    pub max_requeues: u32,
}

impl Default for SlurmSpec {
    fn default() -> Self {
        SlurmSpec {
            partition: String::new(),
            time: String::new(),
            cpus_per_task: 0,
            mem: String::new(),
            max_parallel: 0,
            gres: String::new(),
            extra: Vec::new(),
            requeue: true,
            max_requeues: DEFAULT_MAX_REQUEUES,
        }
    }
}

const DEFAULT_MAX_REQUEUES: u32 = 20;

fn is_true(b: &bool) -> bool {
    *b
}

fn is_twenty(n: &u32) -> bool {
    *n == DEFAULT_MAX_REQUEUES
}

impl SlurmSpec {
    pub fn is_default(&self) -> bool {
        *self == SlurmSpec::default()
    }

    /// Each value in Slurm's syntax, so that sbatch cannot fail on it, nor a value inject lines
    /// into the batch script.
    pub(super) fn validate(&self) -> Result<(), RangeError> {
        let fail = |key, message: &str| Err(RangeError { key, message: message.to_string() });
        let word = |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:,=+/".contains(c));
        if !word(&self.partition) {
            return fail("slurm.partition", "must be a partition name, e.g. \"gpu\"");
        }
        if !self.time.is_empty() && !is_time_limit(&self.time) {
            return fail("slurm.time", "must be a Slurm time limit: \"30\" (minutes), \"01:30:00\" or \"2-00:00:00\"");
        }
        let digits = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit());
        // One optional unit after the number: "4G", not "4GG".
        let mem_ok = self.mem.is_empty() || digits(self.mem.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(&self.mem));
        if !mem_ok {
            return fail("slurm.mem", "must be a Slurm memory size: \"4G\", \"500M\"");
        }
        if !word(&self.gres) {
            return fail("slurm.gres", "must be Slurm generic resources, e.g. \"gpu:1\" or \"gpu:a100:2\"");
        }
        if self.cpus_per_task > 1024 {
            return fail("slurm.cpus_per_task", "must be at most 1024");
        }
        if self.extra.iter().any(|e| !e.starts_with('-') || e.chars().any(char::is_control)) {
            return fail("slurm.extra", "each item must be one sbatch option on one line, e.g. \"--account=mylab\"");
        }
        if self.max_requeues > 10_000 {
            return fail("slurm.max_requeues", "must be at most 10000");
        }
        Ok(())
    }

    /// The task time limit in seconds, when `time` sets one.
    pub fn time_limit_seconds(&self) -> Option<u64> {
        if self.time.is_empty() || !is_time_limit(&self.time) {
            return None;
        }
        let (days, rest) = match self.time.split_once('-') {
            Some((days, rest)) => (days.parse::<u64>().ok()?, rest),
            None => (0, self.time.as_str()),
        };
        let parts: Vec<u64> = rest.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        // Slurm reads "M", "M:S", "H:M:S", and after days "H", "H:M", "H:M:S".
        let seconds = match (days > 0 || self.time.contains('-'), parts.as_slice()) {
            (false, [m]) => m * 60,
            (false, [m, s]) => m * 60 + s,
            (_, [h, m, s]) => h * 3600 + m * 60 + s,
            (true, [h]) => h * 3600,
            (true, [h, m]) => h * 3600 + m * 60,
            _ => return None,
        };
        Some(days * 86400 + seconds)
    }

    /// Seconds before the time limit at which a requeueing task is warned (`--signal=B:USR1@N`):
    /// a tenth of the limit, from 30 s to 3 min; 60 s when the spec sets no limit. Stopping takes
    /// one batch and one commit of checkpoints, seconds on most file systems; the rest is margin
    /// for a slow one. (Slurm may send the signal up to a minute early, never late.)
    pub fn warning_seconds(&self) -> u64 {
        self.time_limit_seconds().map_or(60, |limit| (limit / 10).clamp(30, 180))
    }
}

/// Slurm's time formats: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
/// days-hours:minutes, days-hours:minutes:seconds; minutes and seconds below 60, hours
/// below 24 after days.
fn is_time_limit(text: &str) -> bool {
    let number = |v: &str, below: Option<u64>| {
        !v.is_empty()
            && v.len() <= 9
            && v.chars().all(|c| c.is_ascii_digit())
            && below.is_none_or(|b| v.parse::<u64>().is_ok_and(|n| n < b))
    };
    // The limit each colon-separated part has, by how many parts there are.
    let (parts, limits): (&str, &[Option<u64>]) = match text.split_once('-') {
        Some((days, rest)) if number(days, None) => (
            rest,
            match rest.matches(':').count() {
                0 => &[Some(24)],
                1 => &[Some(24), Some(60)],
                _ => &[Some(24), Some(60), Some(60)],
            },
        ),
        Some(_) => return false,
        None => (
            text,
            match text.matches(':').count() {
                0 => &[None],
                1 => &[None, Some(60)],
                _ => &[None, Some(60), Some(60)],
            },
        ),
    };
    let parts: Vec<&str> = parts.split(':').collect();
    parts.len() == limits.len() && parts.iter().zip(limits).all(|(p, &below)| number(p, below))
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_limits_and_memory_sizes_in_slurms_formats() {
        for ok in ["30", "30:00", "01:30:00", "100:00:00", "2-00", "2-12:30", "1-12:00:00"] {
            assert!(super::is_time_limit(ok), "{ok}");
        }
        for bad in ["99:99:99:99", "1:60", "1-24:00", "01:61:00", "-1", "1-", ":30", "1--2", "a"] {
            assert!(!super::is_time_limit(bad), "{bad}");
        }
        let check = |mem: &str| super::SlurmSpec { mem: mem.into(), ..Default::default() }.validate().is_ok();
        assert!(check("4G") && check("500") && check("500M") && check(""));
        assert!(!check("4GG") && !check("G") && !check("4 G"));
    }

    #[test]
    fn time_limits_in_seconds_and_the_warning_before_them() {
        let limit = |time: &str| super::SlurmSpec { time: time.into(), ..Default::default() };
        let cases = [
            ("30", 1800),
            ("2:30", 150),
            ("01:30:00", 5400),
            ("2-00", 172_800),
            ("1-12:30", 131_400),
            ("1-00:00:10", 86_410),
        ];
        for (time, seconds) in cases {
            assert_eq!(limit(time).time_limit_seconds(), Some(seconds), "{time}");
        }
        assert_eq!(limit("").time_limit_seconds(), None);
        assert_eq!(limit("00:02:00").warning_seconds(), 30, "at least 30 s");
        assert_eq!(limit("01:00:00").warning_seconds(), 180, "at most 3 min");
        assert_eq!(limit("10").warning_seconds(), 60);
        assert_eq!(limit("").warning_seconds(), 60);
    }

    #[test]
    fn fields_list_matches_the_struct() {
        let all = super::SlurmSpec {
            partition: "p".into(),
            time: "1".into(),
            cpus_per_task: 1,
            mem: "1G".into(),
            max_parallel: 1,
            gres: "gpu:1".into(),
            extra: vec!["--qos=x".into()],
            requeue: false,
            max_requeues: 3,
        };
        let table = toml::Table::try_from(all).unwrap();
        let mut expected = super::SLURM_FIELDS.to_vec();
        expected.sort();
        assert_eq!(table.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    }
}
