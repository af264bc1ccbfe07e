//! Reports for people: tables (Markdown, CSV, LaTeX) and figures (SVG and PNG) built from run
//! folders.

pub mod collect;
pub mod compare;
pub mod csv;
pub mod latex;
pub mod markdown;
pub mod plot;
pub mod setup;
mod stats;
pub mod table;

pub use markdown::{for_terminal, table as markdown};

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::run::summary::TrialSummary;
use crate::run::write_file;
use crate::spec::DatasetName;

/// Files a report writes only for some runs (a comparison, figures per data set or searched key,
/// each an SVG and a PNG): those this report does not write are from an earlier one, and go.
const OPTIONAL: [(&str, &str); 9] = [
    ("comparison", ".csv"),
    ("curves_", ".svg"),
    ("curves_", ".png"),
    ("pareto_", ".svg"),
    ("pareto_", ".png"),
    ("search_", ".svg"),
    ("search_", ".png"),
    ("history", ".svg"),
    ("history", ".png"),
];

/// Writes report.md, report.csv and the figures into `out`, replacing an earlier report's as a
/// set; returns the Markdown.
pub fn write(trials: &[TrialSummary], runs: &[PathBuf], out: &Path) -> Result<String> {
    let before = optional_files(out);
    let text = write_files(trials, runs, out)?;
    // Every file is replaced through a new one (a new inode): one still the same was not written.
    let after = optional_files(out);
    for (path, inode) in before {
        if after.iter().any(|(p, i)| *p == path && *i == inode) {
            std::fs::remove_file(&path).map_err(crate::Error::io(&path))?;
        }
    }
    Ok(text)
}

/// The [`OPTIONAL`] files in `out`, with their inodes.
fn optional_files(out: &Path) -> Vec<(PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(out) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            OPTIONAL.iter().any(|(start, end)| name.starts_with(start) && name.ends_with(end))
        })
        .filter_map(|e| Some((e.path(), e.metadata().ok().filter(|m| m.is_file())?.ino())))
        .collect()
}

/// A warning for each image folder or Hub set that changed during a run (a resume with
/// `--mixed-data` accepted it): its trials did not all see the same images.
fn mixed_data_notes(runs: &[PathBuf]) -> String {
    let mut notes = String::new();
    for run in runs {
        let Ok(manifest) = crate::run::Manifest::read(&run.join("manifest.json")) else { continue };
        for (label, fingerprints) in manifest.data_fingerprints.iter().filter(|(_, f)| f.len() > 1) {
            notes.push_str(&format!(
                "\n**Mixed data**: {label} changed during {} ({} versions of its files; resumed with --mixed-data): \
                 its trials did not all train on the same images.\n",
                run.display(),
                fingerprints.len()
            ));
        }
    }
    notes
}

fn write_files(trials: &[TrialSummary], runs: &[PathBuf], out: &Path) -> Result<String> {
    std::fs::create_dir_all(out).map_err(crate::Error::io(out))?;
    let report = table::build(trials);
    let sources: Vec<String> = runs.iter().map(|r| r.display().to_string()).collect();
    let comparisons = compare::compare(trials, &report.keys);
    let mut text = markdown::render(&report, &comparisons, &sources);
    let setup = markdown::setup(&setup::lines(trials, runs));
    text = match text.split_once("\n\n") {
        // After the title, before the table: what was held constant.
        Some((title, rest)) => format!("{title}\n\n{setup}{rest}"),
        None => text + &setup,
    };
    text.push_str(&mixed_data_notes(runs));
    write_file(&out.join("report.md"), text.as_bytes())?;
    write_file(&out.join("report.csv"), csv::render(&report).as_bytes())?;
    if !comparisons.is_empty() {
        let (header, rows) = compare::csv_table(&comparisons, &report.keys);
        write_file(&out.join("comparison.csv"), csv::records(&header, &rows).as_bytes())?;
    }
    // One pair of plots per data set; two image folders are two data sets.
    let safe = |text: &str| -> String {
        text.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
    };
    let mut datasets: Vec<(String, String)> = Vec::new();
    for t in trials {
        let label = t.trial.spec.data_label();
        if datasets.iter().all(|(l, _)| *l != label) {
            let stem = match t.trial.spec.dataset {
                DatasetName::Folder => safe(&label),
                ref dataset => dataset.file_stem(),
            };
            let stem =
                if datasets.iter().any(|(_, s)| *s == stem) { format!("{stem}_{}", datasets.len()) } else { stem };
            datasets.push((label, stem));
        }
    }
    for (label, stem) in &datasets {
        let members: Vec<&TrialSummary> =
            trials.iter().filter(|t| t.trial.spec.data_label() == *label && !t.epochs.is_empty()).collect();
        if !members.is_empty() {
            plot::curves(&members, label, &out.join(format!("curves_{stem}.svg")))?;
        }
        if members.iter().any(|t| t.status == crate::run::state::Status::Done) {
            plot::pareto(&members, label, &out.join(format!("pareto_{stem}.svg")))?;
        }
    }
    plot::bars(&report, &out.join("final_accuracy.svg"))?;
    // One plot per searched numeric key.
    let mut searched: Vec<(String, bool)> = Vec::new();
    for t in trials {
        for (key, value) in &t.trial.spec.search.space {
            if let Ok(distribution) = crate::spec::Distribution::parse(value)
                && !matches!(distribution, crate::spec::Distribution::Choice(_))
                && !searched.iter().any(|(k, _)| k == key)
            {
                searched.push((key.clone(), distribution.is_log()));
            }
        }
    }
    let members: Vec<&TrialSummary> = trials.iter().filter(|t| t.trial.spec.search.samples()).collect();
    for (key, log) in searched {
        plot::search(&members, &key, log, &out.join(format!("search_{key}.svg")))?;
    }
    plot::history(&members, &out.join("history.svg"))?;
    Ok(text)
}
