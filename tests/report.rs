//! `runner report` on a synthetic run folder: the table matches a snapshot, plots are drawn.

mod common;

use std::path::Path;

use common::{runner, tree};
use predicates::prelude::*;

const HEADER: &str = "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds,images_per_second,finished_at\n";

/// A sweep over dataset x model x seed (2 seeds), 3 epochs each; the CIFAR CNN with seed 2
/// failed in epoch 2 and the one with seed 1 is still running (this test process holds its
/// claim). Finished trials say so in summary.csv alone, as runners before status.json wrote it.
fn synthetic_run(dir: &Path) {
    let spec =
        "name = \"synthetic\"\n[sweep]\ndataset = [\"mnist\", \"cifar10\"]\nmodel = [\"nn\", \"cnn\"]\nseed = [1, 2]\n";
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let mut summary = String::from("index,name,model,dataset,seed,status\n");
    let mut index = 0;
    for dataset in ["mnist", "cifar10"] {
        for model in ["nn", "cnn"] {
            for seed in [1, 2] {
                let name = format!("dataset={dataset},model={model},seed={seed}");
                let trial = dir.join("trials").join(format!("{index:03}_{name}"));
                std::fs::create_dir_all(&trial).unwrap();
                std::fs::write(
                    trial.join("spec.toml"),
                    format!("name = \"synthetic\"\nmodel = \"{model}\"\ndataset = \"{dataset}\"\nseed = {seed}\n"),
                )
                .unwrap();
                let base = match (dataset, model) {
                    ("mnist", "nn") => 0.90,
                    ("mnist", "cnn") => 0.96,
                    ("cifar10", "nn") => 0.40,
                    _ => 0.55,
                };
                let (epochs, status) = match (dataset, model, seed) {
                    ("cifar10", "cnn", 1) => (2, "pending"),
                    ("cifar10", "cnn", 2) => (1, "failed"),
                    _ => (3, "done"),
                };
                let mut metrics = String::from(HEADER);
                for epoch in 1..=epochs {
                    let acc = base + 0.01 * epoch as f64 + 0.002 * seed as f64;
                    let loss = 1.0 / (epoch as f64 + seed as f64);
                    let seconds = if model == "cnn" { 30.0 } else { 0.5 };
                    metrics += &format!(
                        "{epoch},{loss},{acc},{loss},{acc},0.01,{seconds},{},2026-11-28T17:00:00Z\n",
                        60000.0 / seconds
                    );
                }
                std::fs::write(trial.join("metrics.csv"), metrics).unwrap();
                if status == "pending" {
                    let host = gethostname::gethostname().to_string_lossy().into_owned();
                    std::fs::write(trial.join("claim"), format!("{} {host}\n", std::process::id())).unwrap();
                }
                summary += &format!("{index},\"{name}\",{model},{dataset},{seed},{status}\n");
                index += 1;
            }
        }
    }
    std::fs::write(dir.join("summary.csv"), summary).unwrap();
}

/// report.tex and a PNG figure in a plain `article` with booktabs: pdflatex compiles them with
/// no overfull box. Skipped where there is no pdflatex (CI installs it).
fn compiles_in_a_plain_article(run: &Path) {
    if std::process::Command::new("pdflatex").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "CI installs pdflatex (.ci/run)");
        eprintln!("skipped: no pdflatex to compile report.tex");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for file in ["report.tex", "curves_mnist.png", "final_accuracy.png"] {
        std::fs::copy(run.join(file), dir.path().join(file)).unwrap();
    }
    let paper = "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\usepackage{longtable}\n\
                 \\begin{document}\n\\input{report.tex}\n\
                 \\begin{figure}\\includegraphics[width=\\linewidth]{curves_mnist.png}\\end{figure}\n\
                 \\begin{figure}\\includegraphics[width=\\linewidth]{final_accuracy.png}\\end{figure}\n\\end{document}\n";
    std::fs::write(dir.path().join("paper.tex"), paper).unwrap();
    let output = std::process::Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "paper.tex"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("paper.log")).unwrap_or_default();
    assert!(output.status.success(), "pdflatex failed:\n{log}");
    assert!(!log.contains("Overfull"), "{log}");
    assert!(dir.path().join("paper.pdf").is_file());
}

#[test]
fn report_of_a_partly_failed_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("2026-11-28T17-00-00Z_synthetic");
    std::fs::create_dir(&run).unwrap();
    synthetic_run(&run);
    let output = runner(dir.path()).args(["report", "2026-11-28T17-00-00Z_synthetic"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let markdown = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), markdown, "printed and written");
    insta::assert_snapshot!("report_md", markdown);
    insta::assert_snapshot!("report_csv", std::fs::read_to_string(run.join("report.csv")).unwrap());

    // A report replaces an earlier one's files as a set: plots and a comparison it does not
    // write (left by a report over other runs) go; the user's own files stay.
    for stale in ["search_lr.svg", "curves_fashion-mnist.svg", "pareto_folder.svg"] {
        std::fs::write(run.join(stale), "<svg/>").unwrap();
    }
    std::fs::write(run.join("notes.svg"), "mine").unwrap();
    assert!(run.join("comparison.csv").exists());
    runner(dir.path()).args(["report", "2026-11-28T17-00-00Z_synthetic"]).assert().success();
    for stale in ["search_lr.svg", "curves_fashion-mnist.svg", "pareto_folder.svg"] {
        assert!(!run.join(stale).exists(), "{stale} is not this report's");
    }
    assert!(run.join("notes.svg").exists() && run.join("comparison.csv").exists());
    assert!(run.join("curves_mnist.svg").exists());

    // The same table for a paper: booktabs, mean ± std over the two seeds, the best in bold.
    let output =
        runner(dir.path()).args(["report", "2026-11-28T17-00-00Z_synthetic", "--format", "latex"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let latex = std::fs::read_to_string(run.join("report.tex")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), latex, "printed and written");
    insta::assert_snapshot!("report_tex", latex);
    compiles_in_a_plain_article(&run);

    for (plot, cnn) in [("curves_mnist", "cnn (2 seeds)"), ("curves_cifar10", ">\ncnn\n</text>")] {
        let svg = std::fs::read_to_string(run.join(format!("{plot}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{plot}");
        // One curve per configuration, the mean over its seeds in a band; the failed CIFAR CNN
        // is left out, its running twin is a curve of one seed.
        assert!(svg.contains("nn (2 seeds)") && svg.contains(cnn) && svg.contains("<polygon"), "{plot}: {svg}");
        assert!(!svg.contains("dataset=") && !svg.contains("seed=1"), "{plot}");
        assert!(svg.contains("Test accuracy") && svg.contains("Train loss") && svg.contains("epoch"), "{plot}");
        let png = std::fs::read(run.join(format!("{plot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.windows(4).any(|w| w == b"pHYs"), "{plot}.png at 300 dpi");
    }
    let bars = std::fs::read_to_string(run.join("final_accuracy.svg")).unwrap();
    assert_eq!(bars.matches("<rect").count() - 1, 4, "one bar per configuration, plus the background");
    assert!(tree(&run).contains(&"report.csv".to_string()));
    // --out names a folder; a file there is refused, untouched.
    let before = std::fs::read_to_string(run.join("report.md")).unwrap();
    runner(dir.path())
        .args(["report", "2026-11-28T17-00-00Z_synthetic", "--out", "2026-11-28T17-00-00Z_synthetic/report.md"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("report.md: is a file; --out takes a folder"));
    assert_eq!(std::fs::read_to_string(run.join("report.md")).unwrap(), before);

    // The same run named twice (two spellings) counts once, and a torn last row, as a killed
    // runner leaves it (resume drops it), is left out rather than failing the report.
    let metrics = run.join("trials/000_dataset=mnist,model=nn,seed=1/metrics.csv");
    let mut text = std::fs::read_to_string(&metrics).unwrap();
    text += "4,0.25,0.9";
    std::fs::write(&metrics, text).unwrap();
    let output = runner(dir.path())
        .args(["report", "2026-11-28T17-00-00Z_synthetic", "./2026-11-28T17-00-00Z_synthetic/"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), markdown);

    // A deleted trial folder is no longer "done" because an old summary.csv said so.
    std::fs::remove_dir_all(run.join("trials/001_dataset=mnist,model=nn,seed=2")).unwrap();
    let output = runner(dir.path()).args(["report", "2026-11-28T17-00-00Z_synthetic"]).output().unwrap();
    let markdown = String::from_utf8(output.stdout).unwrap();
    assert!(markdown.contains("1 done, 1 pending"), "{markdown}");
}

#[test]
fn a_folder_that_is_not_a_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    runner(dir.path())
        .args(["report", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no spec.toml: not a run folder"));
    runner(dir.path())
        .args(["report", "missing"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a run folder"));
    assert!(tree(dir.path()).is_empty());
}

/// Reads a CSV file into maps from column name to value, one per row.
fn records(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| header.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

#[test]
fn a_model_seed_lr_grid_compares_cnn_and_nn_per_lr_paired_over_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "name = \"cmp\"\nepochs = 1\nbatch_size = 50\nlimit_train = 300\nlimit_test = 200\n\
                [sweep]\nmodel = [\"nn\", \"cnn\"]\nseed = [1, 2, 3]\nlr = [0.01, 0.05]\n";
    let output = common::run_spec(dir.path(), spec, &["-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run = common::the_run(dir.path());
    let rows = records(&run.join("comparison.csv"));
    assert_eq!(rows.len(), 2, "one row per lr");
    // The per-trial accuracies the rows are built from, by (model, seed, lr).
    let summary = records(&run.join("summary.csv"));
    for row in &rows {
        assert_eq!(
            (row["dataset"].as_str(), row["test"].as_str(), row["n_nn"].as_str(), row["n_cnn"].as_str()),
            ("mnist", "paired", "3", "3")
        );
        let acc = |model: &str| -> Vec<f64> {
            let mut v: Vec<(String, f64)> = summary
                .iter()
                .filter(|s| s["model"] == model && s["lr"] == row["lr"])
                .map(|s| (s["seed"].clone(), s["final_test_acc"].parse().unwrap()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v.into_iter().map(|(_, a)| a).collect()
        };
        let (nn, cnn) = (acc("nn"), acc("cnn"));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let num = |k: &str| row[k].parse::<f64>().unwrap();
        // summary.csv rounds to 4 decimals.
        assert!((num("nn_mean") - mean(&nn)).abs() < 1e-4 && (num("cnn_mean") - mean(&cnn)).abs() < 1e-4, "{row:?}");
        assert!((num("gain") - (num("cnn_mean") - num("nn_mean"))).abs() < 2e-6);
        assert!(num("ci_low") <= num("gain") && num("gain") <= num("ci_high"), "{row:?}");
        let p = num("p_value");
        assert!((0.0..=1.0).contains(&p), "{row:?}");
        assert_eq!((row["nn_params"].as_str(), row["cnn_params"].as_str()), ("101770", "225034"));
        assert_eq!((row["nn_macs"].as_str(), row["cnn_macs"].as_str()), ("101632", "2631040"));
        assert!(num("nn_eval_images_per_second") > 0.0 && num("cnn_eval_images_per_second") > 0.0, "{row:?}");
    }
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains("- mnist (lr=0.01): CNN ")
            && report.contains("(3 seeds, paired)")
            && report.contains("95 % CI ["),
        "{report}"
    );
}

#[test]
fn a_report_over_several_runs_goes_to_a_folder_of_its_own_and_records_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("2026-11-28T17-00-00Z_first"), dir.path().join("2026-11-29T09-00-00Z_second"));
    for run in [&a, &b] {
        std::fs::create_dir(run).unwrap();
        synthetic_run(run);
    }
    let output = runner(dir.path())
        .args(["report", "2026-11-28T17-00-00Z_first", "2026-11-29T09-00-00Z_second"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!a.join("report.md").exists() && !b.join("report.md").exists(), "the runs' own folders are untouched");
    let reports: Vec<_> = std::fs::read_dir(dir.path().join("reports")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let name = reports[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("Z_first+second"), "{name}");
    assert!(stderr.contains(&format!("reports/{name}")), "the command says where it wrote: {stderr}");
    let sources = std::fs::read_to_string(reports[0].join("runs.json")).unwrap();
    assert!(
        sources.contains("2026-11-28T17-00-00Z_first") && sources.contains("2026-11-29T09-00-00Z_second"),
        "{sources}"
    );
    // The same seeds in both runs are one trial each, and the report says so.
    let text = std::fs::read_to_string(reports[0].join("report.md")).unwrap();
    assert!(text.contains("repeated a configuration and seed already counted"), "{text}");
    // report.csv says which run each configuration came from and every spec key, constant too.
    let rows = records(&reports[0].join("report.csv"));
    assert!(rows.iter().all(|r| r["run"] == "2026-11-28T17-00-00Z_first"), "{rows:?}");
    assert!(rows.iter().all(|r| r["lr"] == "0.01" && r["epochs"] == "5"), "{rows:?}");
    assert_eq!(rows[0]["seeds"], "1;2");
    // A run's folder holds only its own report.
    std::fs::write(a.join("manifest.json"), "{}").unwrap();
    let refused = runner(dir.path())
        .args([
            "report",
            "2026-11-28T17-00-00Z_first",
            "2026-11-29T09-00-00Z_second",
            "--out",
            "2026-11-28T17-00-00Z_first",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is a run folder"));
    assert!(!a.join("report.md").exists());
}
