//! Spec key names: which keys exist and where each may go, checked with a suggestion for a
//! misspelt one (the spec file and `--set` share these checks).

use super::{field, keys_where, sweepable};
use crate::error::{Error, Result};

/// Every key a spec file may hold.
pub(super) fn all_keys() -> Vec<&'static str> {
    keys_where(|_| true)
}

/// Refuses a key that is not in `allowed`, suggesting the closest that is.
pub(super) fn check_key(key: &str, allowed: &[&str], origin: impl FnOnce() -> String) -> Result<()> {
    if allowed.contains(&key) {
        return Ok(());
    }
    let suggestion = allowed
        .iter()
        .map(|candidate| (strsim::jaro_winkler(key, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate.to_string());
    Err(Error::UnknownKey { origin: origin(), key: key.to_string(), suggestion, allowed: allowed.join(", ") })
}

/// An unknown key inside a table (`slurm.`, `search.`), named with the table.
pub(super) fn prefix_unknown(error: Error, prefix: &str) -> Error {
    match error {
        Error::UnknownKey { origin, key, suggestion, allowed } => Error::UnknownKey {
            origin,
            key: format!("{prefix}{key}"),
            suggestion: suggestion.map(|s| format!("{prefix}{s}")),
            allowed,
        },
        other => other,
    }
}

pub(super) fn check_sweep_axis(axis: &str, origin: impl FnOnce() -> String) -> Result<()> {
    let allowed = sweepable();
    if field(axis).is_some() && !allowed.contains(&axis) {
        return Err(Error::InvalidValue {
            origin: origin(),
            key: format!("sweep.{axis}"),
            message: format!("`{axis}` cannot be swept; sweepable keys: {}", allowed.join(", ")),
        });
    }
    check_key(axis, &allowed, origin).map_err(|e| match e {
        Error::UnknownKey { origin, key, suggestion, allowed } => Error::UnknownKey {
            origin,
            key: format!("sweep.{key}"),
            suggestion: suggestion.map(|s| format!("sweep.{s}")),
            allowed,
        },
        other => other,
    })
}

pub(super) fn not_a_list(key: &str, origin: String) -> Error {
    Error::InvalidValue {
        origin,
        key: key.into(),
        message: "must be a non-empty list of values, e.g. [0.1, 0.01]".into(),
    }
}
