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
    // One run's report goes in its folder; a report over several goes to a folder of its own,
    // never into one of theirs.
    let out = match (&args.out, runs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [only]) => only.clone(),
        (None, several) => multi_run_folder(several, chrono::Utc::now()),
    };
    if out.exists() && !out.is_dir() {
        return Err(Error::Usage {
            origin: format!("--out {}", out.display()),
            message: "is a file; --out takes a folder (made if missing) for report.md, report.csv and the plots".into(),
        });
    }
    let own_run = runs.len() == 1 && same_folder(&out, &runs[0]);
    if !own_run && out.join("manifest.json").is_file() && out.join("spec.toml").is_file() {
        return Err(Error::Usage {
            origin: format!("--out {}", out.display()),
            message: "is a run folder: a run's folder holds only its own report. Leave --out out (a report over \
                      several runs gets a folder of its own under reports/) or name another folder"
                .into(),
        });
    }
    let text = write(&trials, &runs, &out)?;
    if runs.len() > 1 {
        record_sources(&runs, &out)?;
    }
    if args.format == ReportFormat::Latex {
        let table = crate::report::table::build(&trials);
        let comparisons = crate::report::compare::compare(&trials, &table.keys);
        let setup = crate::report::setup::lines(&trials, &runs);
        let latex = crate::report::latex::render(&table, &comparisons) + &crate::report::latex::setup(&setup);
        crate::run::write_file(&out.join("report.tex"), latex.as_bytes())?;
        print!("{latex}");
    } else {
        print!("{text}");
    }
    eprintln!("wrote report.md, report.csv and plots to {}", out.display());
    Ok(())
}

fn same_folder(a: &std::path::Path, b: &std::path::Path) -> bool {
    let canonical = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canonical(a) == canonical(b)
}

/// `reports/<UTC time>_<names>/` beside the first run folder: `runner report runs/A runs/B`
/// writes `runs/reports/...`.
fn multi_run_folder(runs: &[PathBuf], now: chrono::DateTime<chrono::Utc>) -> PathBuf {
    let names: Vec<String> = runs
        .iter()
        .map(|run| {
            let folder = run.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            // A run folder is `<time>_<name>`: its name tells it apart.
            folder.split_once("Z_").map_or(folder.clone(), |(_, name)| name.to_string())
        })
        .collect();
    let mut joined: String = names
        .join("+")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.+".contains(c) { c } else { '_' })
        .collect();
    joined.truncate(80);
    let parent = runs[0].parent().map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    parent.join("reports").join(format!("{}_{joined}", now.format("%Y-%m-%dT%H-%M-%SZ")))
}

/// `runs.json` beside a multi-run report: each run read (its path and manifest's start), so the
/// report can be made again with `runner report` on the same folders.
fn record_sources(runs: &[PathBuf], out: &std::path::Path) -> Result<()> {
    let entries: Vec<serde_json::Value> = runs
        .iter()
        .map(|run| {
            let path = std::fs::canonicalize(run).unwrap_or_else(|_| run.clone());
            let manifest = crate::run::Manifest::read(&run.join("manifest.json")).ok();
            serde_json::json!({
                "path": path,
                "started_at": manifest.as_ref().map(|m| m.started_at.clone()),
                "host": manifest.as_ref().map(|m| m.host.clone()),
                "git_commit": manifest.as_ref().and_then(|m| m.git_commit.clone()),
            })
        })
        .collect();
    let text = serde_json::to_vec_pretty(&serde_json::json!({ "runs": entries })).expect("the record serializes");
    crate::run::write_file(&out.join("runs.json"), &text)
}
