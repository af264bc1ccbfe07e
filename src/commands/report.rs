//! `runner report RUN...`: tables and plots from one or more run folders.

use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use crate::error::Result;
use crate::report::collect::{TrialRecord, read_run};
use crate::report::{csv, markdown, plot, table};
use crate::run::write_file;

pub fn report(args: ReportArgs) -> Result<()> {
    let mut trials = Vec::new();
    for dir in &args.runs {
        trials.extend(read_run(dir)?);
    }
    let out = args.out.clone().unwrap_or_else(|| args.runs[0].clone());
    let text = write(&trials, &args.runs, &out)?;
    print!("{text}");
    eprintln!("wrote report.md, report.csv and plots to {}", out.display());
    Ok(())
}

/// Writes report.md, report.csv and the SVG plots into `out`; returns the Markdown.
pub fn write(trials: &[TrialRecord], runs: &[PathBuf], out: &Path) -> Result<String> {
    std::fs::create_dir_all(out).map_err(crate::Error::io(out))?;
    let report = table::build(trials);
    let sources: Vec<String> = runs.iter().map(|r| r.display().to_string()).collect();
    let text = markdown::render(&report, &sources);
    write_file(&out.join("report.md"), text.as_bytes())?;
    write_file(&out.join("report.csv"), csv::render(&report).as_bytes())?;
    let mut datasets: Vec<String> = Vec::new();
    for t in trials {
        let d = t.spec.dataset.to_string();
        if !datasets.contains(&d) {
            datasets.push(d);
        }
    }
    for dataset in datasets {
        let members: Vec<&TrialRecord> = trials.iter().filter(|t| t.spec.dataset.as_str() == dataset && !t.epochs.is_empty()).collect();
        if !members.is_empty() {
            plot::curves(&members, &dataset, &out.join(format!("curves_{dataset}.svg")))?;
        }
    }
    plot::bars(&report, &out.join("final_accuracy.svg"))?;
    Ok(text)
}
