//! Reports for people: tables (Markdown, CSV) and plots (SVG) built from run folders.

pub mod collect;
pub mod compare;
pub mod csv;
pub mod latex;
pub mod markdown;
pub mod plot;
mod stats;
pub mod table;

pub use markdown::{for_terminal, table as markdown};

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::run::summary::TrialSummary;
use crate::run::write_file;
use crate::spec::DatasetName;

/// Writes report.md, report.csv and the SVG plots into `out`; returns the Markdown.
pub fn write(trials: &[TrialSummary], runs: &[PathBuf], out: &Path) -> Result<String> {
    std::fs::create_dir_all(out).map_err(crate::Error::io(out))?;
    let report = table::build(trials);
    let sources: Vec<String> = runs.iter().map(|r| r.display().to_string()).collect();
    let comparisons = compare::compare(trials, &report.keys);
    let text = markdown::render(&report, &comparisons, &sources);
    write_file(&out.join("report.md"), text.as_bytes())?;
    write_file(&out.join("report.csv"), csv::render(&report).as_bytes())?;
    if !comparisons.is_empty() {
        let (header, rows) = compare::csv_table(&comparisons, &report.keys);
        write_file(&out.join("comparison.csv"), csv::records(&header, &rows).as_bytes())?;
    }
    let mut datasets: Vec<DatasetName> = Vec::new();
    for t in trials {
        if !datasets.contains(&t.trial.spec.dataset) {
            datasets.push(t.trial.spec.dataset);
        }
    }
    for dataset in datasets {
        let members: Vec<&TrialSummary> =
            trials.iter().filter(|t| t.trial.spec.dataset == dataset && !t.epochs.is_empty()).collect();
        if !members.is_empty() {
            plot::curves(&members, dataset, &out.join(format!("curves_{dataset}.svg")))?;
        }
        if members.iter().any(|t| t.status == crate::run::state::Status::Done) {
            plot::pareto(&members, dataset, &out.join(format!("pareto_{dataset}.svg")))?;
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
    Ok(text)
}
