//! `[slurm]`: what `runner submit` asks Slurm for. No other command reads it.

use serde::{Deserialize, Serialize};

use super::validate::RangeError;

/// The keys of `[slurm]` (a test checks them against the struct).
pub const SLURM_FIELDS: &[&str] = &["partition", "time", "cpus_per_task", "mem", "max_parallel", "gres", "extra"];

/// `[slurm]`: the resources of each array task `runner submit` asks for. Empty and 0 values
/// leave the cluster's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
        Ok(())
    }
}

/// Slurm's time formats: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
/// days-hours:minutes, days-hours:minutes:seconds; minutes and seconds below 60, hours
/// below 24 after days.
fn is_time_limit(text: &str) -> bool {
    let number = |v: &str, below: Option<u64>| {
        !v.is_empty() && v.len() <= 9 && v.chars().all(|c| c.is_ascii_digit()) && below.is_none_or(|b| v.parse::<u64>().is_ok_and(|n| n < b))
    };
    // The limit each colon-separated part has, by how many parts there are.
    let (parts, limits): (&str, &[Option<u64>]) = match text.split_once('-') {
        Some((days, rest)) if number(days, None) => (rest, match rest.matches(':').count() {
            0 => &[Some(24)],
            1 => &[Some(24), Some(60)],
            _ => &[Some(24), Some(60), Some(60)],
        }),
        Some(_) => return false,
        None => (text, match text.matches(':').count() {
            0 => &[None],
            1 => &[None, Some(60)],
            _ => &[None, Some(60), Some(60)],
        }),
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
    fn fields_list_matches_the_struct() {
        let all = super::SlurmSpec {
            partition: "p".into(),
            time: "1".into(),
            cpus_per_task: 1,
            mem: "1G".into(),
            max_parallel: 1,
            gres: "gpu:1".into(),
            extra: vec!["--qos=x".into()],
        };
        let table = toml::Table::try_from(all).unwrap();
        let mut expected = super::SLURM_FIELDS.to_vec();
        expected.sort();
        assert_eq!(table.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    }
}
