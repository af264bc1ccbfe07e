//! report.tex: the results table as a booktabs tabular, ready to `\input` in a paper (needs
//! `\usepackage{booktabs}`): mean ± standard deviation over seeds, the best configuration of
//! each data set (highest mean final test accuracy) in bold.

use super::table::{Report, Stat};
use crate::spec::DatasetName;

pub fn render(report: &Report) -> String {
    let columns = 2 + report.keys.len() + 2;
    let mut out = String::from("% Written by `runner report --format latex`; needs \\usepackage{booktabs}.\n");
    out += &format!("\\begin{{tabular}}{{{}{}}}\n\\toprule\n", "l".repeat(columns - 2), "r".repeat(2));
    let mut header = vec!["Data set".to_string(), "Model".to_string()];
    header.extend(report.keys.iter().map(|k| escape(k)));
    header.extend(["Final test acc. (\\%)".to_string(), "Best test acc. (\\%)".to_string()]);
    out += &format!("{} \\\\\n\\midrule\n", header.join(" & "));
    let top = |dataset: DatasetName| {
        let rows = report.groups.iter().filter(|g| g.dataset == dataset && g.final_acc.n > 0);
        let count = rows.clone().count();
        (count > 1).then(|| rows.map(|g| g.final_acc.mean).fold(f64::NAN, f64::max))
    };
    let mut last_dataset: Option<DatasetName> = None;
    for g in &report.groups {
        let best = g.final_acc.n > 0 && top(g.dataset) == Some(g.final_acc.mean);
        if last_dataset.is_some_and(|d| d != g.dataset) {
            out += "\\midrule\n";
        }
        last_dataset = Some(g.dataset);
        let mut row = vec![escape(g.dataset.as_str()), escape(g.model.as_str())];
        row.extend(g.values.iter().map(|v| escape(v)));
        row.push(percent(g.final_acc, best));
        row.push(percent(g.best_acc, best));
        out += &format!("{} \\\\\n", row.join(" & "));
    }
    out += "\\bottomrule\n\\end{tabular}\n";
    out
}

/// `$97.12 \pm 0.08$`, bold when `best`; `--` when nothing finished.
fn percent(s: Stat, best: bool) -> String {
    let number = match s.n {
        0 => return "--".into(),
        1 => format!("{:.2}", s.mean * 100.0),
        _ => format!("{:.2} \\pm {:.2}", s.mean * 100.0, s.std * 100.0),
    };
    if best { format!("$\\mathbf{{{number}}}$") } else { format!("${number}$") }
}

/// Text with LaTeX's special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out += "\\textbackslash{}",
            '~' => out += "\\textasciitilde{}",
            '^' => out += "\\textasciicircum{}",
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(super::escape("fashion-mnist_x & 50% $#{}~^\\"), "fashion-mnist\\_x \\& 50\\% \\$\\#\\{\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}");
    }
}
