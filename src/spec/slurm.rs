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
        if !self.time.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '-') {
            return fail("slurm.time", "must be a Slurm time limit: \"30\" (minutes), \"01:30:00\" or \"2-00:00:00\"");
        }
        let mem_ok = self.mem.is_empty()
            || (self.mem.trim_end_matches(['K', 'M', 'G', 'T']).chars().all(|c| c.is_ascii_digit())
                && self.mem.chars().next().is_some_and(|c| c.is_ascii_digit()));
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

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
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
