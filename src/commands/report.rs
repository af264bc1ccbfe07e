//! `runner report RUN...`: tables and plots from one or more run folders.

use std::path::PathBuf;

use crate::cli::{ReportArgs, ReportFormat};
use crate::error::{Error, Result};
use crate::report::collect::read_run;
use crate::report::write;

pub fn report(args: ReportArgs) -> Result<()> {
    // A run named twice (or by two paths) is reported once.
    let mut runs: Vec<PathBuf> = Vec::new();
    let mut seen = Vec::new();
    for dir in &args.runs {
        let identity = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if !seen.contains(&identity) {
            seen.push(identity);
            runs.push(dir.clone());
        }
    }
    let mut trials = Vec::new();
    for dir in &runs {
        trials.extend(read_run(dir)?);
    }
    let out = args.out.clone().unwrap_or_else(|| runs[0].clone());
    if out.exists() && !out.is_dir() {
        return Err(Error::Usage {
            origin: format!("--out {}", out.display()),
            message: "is a file; --out takes a folder (made if missing) for report.md, report.csv and the plots".into(),
        });
    }
    let text = write(&trials, &runs, &out)?;
    if args.format == ReportFormat::Latex {
        let table = crate::report::table::build(&trials);
        let comparisons = crate::report::compare::compare(&trials, &table.keys);
        let latex = crate::report::latex::render(&table, &comparisons);
        crate::run::write_file(&out.join("report.tex"), latex.as_bytes())?;
        print!("{latex}");
    } else {
        print!("{text}");
    }
    eprintln!("wrote report.md, report.csv and plots to {}", out.display());
    Ok(())
}
