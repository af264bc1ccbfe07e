//! `--set KEY=VALUE`: command-line overrides, parsed into one TOML table.

use std::collections::HashMap;

use super::keys::{all_keys, check_key, check_sweep_axis, not_a_list};
use crate::error::{Error, Result};

/// `--set` arguments as one TOML table, and which argument set each key.
pub(super) struct Sets {
    pub table: toml::Table,
    pub args: HashMap<String, String>,
}

pub(super) fn parse_sets(args: &[String]) -> Result<Sets> {
    let mut sets = Sets { table: toml::Table::new(), args: HashMap::new() };
    for arg in args {
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(Error::BadOverride { arg: arg.clone() });
        };
        let key = key.trim();
        let origin = || format!("--set {arg}");
        let value = parse_value(raw.trim());
        match key.split_once('.') {
            None if key != "sweep" => {
                check_key(key, &all_keys(), origin)?;
                sets.table.insert(key.to_string(), value);
            }
            Some(("sweep", axis)) => {
                check_sweep_axis(axis, origin)?;
                match &value {
                    toml::Value::Array(list) if !list.is_empty() => {}
                    _ => return Err(not_a_list(key, origin())),
                }
                let sweep = sets.table.entry("sweep").or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(sweep) = sweep {
                    sweep.insert(axis.to_string(), value);
                }
            }
            _ => {
                let first = key.split('.').next().unwrap_or(key);
                check_key(first, &all_keys(), origin)?;
                return Err(Error::InvalidValue {
                    origin: origin(),
                    key: key.to_string(),
                    message: "only sweep axes take a dotted key (sweep.lr=[0.1,0.01]); \
                              other keys are plain (lr=0.1)"
                        .into(),
                });
            }
        }
        sets.args.insert(key.to_string(), arg.clone());
    }
    Ok(sets)
}

/// A TOML value (`0.1`, `[1, 2]`, `"cnn"`), or the raw text as a string (`cnn`).
fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}
