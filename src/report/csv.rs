//! report.csv: the results table with plain numbers, one row per group.

use super::table::Report;

/// report.csv: one row per configuration with its statistics, then the runs it came from, its
/// seeds and every spec key (constant ones too), so several reports' files concatenate
/// without losing what was run.
pub fn render(report: &Report) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let spec_keys: Vec<&str> = crate::spec::FIELDS
        .iter()
        .filter(|f| {
            f.per_trial() && !["model", "dataset", "seed"].contains(&f.name) && !report.keys.iter().any(|k| k == f.name)
        })
        .map(|f| f.name)
        .collect();
    let mut header: Vec<String> = vec!["dataset".into(), "model".into()];
    header.extend(report.keys.iter().cloned());
    header.extend(
        [
            "trials",
            "finished",
            "final_test_acc_mean",
            "final_test_acc_std",
            "best_test_acc_mean",
            "best_test_acc_std",
            "final_test_loss_mean",
            "train_seconds_mean",
            "eval_seconds_mean",
            "images_per_second_mean",
            "status",
            "best",
            "run",
            "seeds",
        ]
        .map(String::from),
    );
    header.extend(spec_keys.iter().map(|k| k.to_string()));
    writer.write_record(&header).expect("writing to memory cannot fail");
    for g in &report.groups {
        let mut row = vec![g.dataset.to_string(), g.model.to_string()];
        row.extend(g.values.iter().cloned());
        let num = |v: f64, n: usize| if n == 0 { String::new() } else { format!("{v:.6}") };
        row.extend([
            g.trials.to_string(),
            g.final_acc.n.to_string(),
            num(g.final_acc.mean, g.final_acc.n),
            num(g.final_acc.std, g.final_acc.n),
            num(g.best_acc.mean, g.best_acc.n),
            num(g.best_acc.std, g.best_acc.n),
            num(g.final_loss.mean, g.final_loss.n),
            num(g.train_seconds.mean, g.train_seconds.n),
            num(g.eval_seconds.mean, g.eval_seconds.n),
            num(g.images_per_second.mean, g.images_per_second.n),
            g.status.clone(),
            g.best.to_string(),
            g.runs.join(";"),
            g.seeds.iter().map(i64::to_string).collect::<Vec<_>>().join(";"),
        ]);
        row.extend(spec_keys.iter().map(|k| g.spec.get(*k).map(crate::spec::display_value).unwrap_or_default()));
        writer.write_record(&row).expect("writing to memory cannot fail");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory cannot fail")).expect("cells are UTF-8")
}

/// A header and rows as CSV text.
pub fn records(header: &[String], rows: &[Vec<String>]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        writer.write_record(record).expect("writing to memory cannot fail");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory cannot fail")).expect("cells are UTF-8")
}
