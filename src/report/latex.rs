//! report.tex: the results table as a booktabs tabular, ready to `\input` in a paper (needs
//! `\usepackage{booktabs}`): mean ± standard deviation over seeds, the best configuration of
//! each data set in bold (highest mean validation accuracy with a split, else final test
//! accuracy); then the CNN-vs-NN comparison.

use super::compare::{Comparison, show_p};
use super::table::{Report, Stat};
use crate::spec::DatasetName;

/// Shrinks a table wider than the text to the text width (graphicx), and leaves others as they
/// are: a report of several runs has many columns.
const FIT: &str = "\\noindent\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n";

/// Rows a results table may have and still fit one page in a plain `article`.
const PAGE_ROWS: usize = 40;

pub fn render(report: &Report, comparisons: &[Comparison]) -> String {
    let columns = 2 + report.keys.len() + 3;
    let mut out = String::from(
        "% Written by `runner report --format latex`; needs \\usepackage{booktabs} and \\usepackage{graphicx}.\n",
    );
    let spec = format!("{}{}", "l".repeat(columns - 3), "r".repeat(3));
    let mut header = vec!["Data set".to_string(), "Model".to_string()];
    header.extend(report.keys.iter().map(|k| escape(k)));
    header.extend(["$n$".to_string(), "Final test acc. (\\%)".to_string(), "Best test acc. (\\%)".to_string()]);
    // A table longer than a page (a search's many configurations) breaks across pages, its
    // header repeated, instead of running off the page.
    let long = report.groups.len() > PAGE_ROWS;
    if long {
        out += "% More rows than a page holds: a longtable (needs \\usepackage{longtable}).\n";
        out += &format!("\\begin{{longtable}}{{{spec}}}\n\\toprule\n");
        out += &format!("{} \\\\\n\\midrule\n\\endhead\n\\bottomrule\n\\endfoot\n", header.join(" & "));
    } else {
        out += &format!("{FIT}\\begin{{tabular}}{{{spec}}}\n\\toprule\n");
        out += &format!("{} \\\\\n\\midrule\n", header.join(" & "));
    }
    let top = |dataset: DatasetName| {
        let rows = report.groups.iter().filter(|g| g.dataset == dataset && g.selection.n > 0);
        let count = rows.clone().count();
        (count > 1).then(|| rows.map(|g| g.selection.mean).fold(f64::NAN, f64::max))
    };
    let mut last_dataset: Option<DatasetName> = None;
    for g in &report.groups {
        let best = g.selection.n > 0 && top(g.dataset.clone()) == Some(g.selection.mean);
        if last_dataset.is_some_and(|d| d != g.dataset) {
            out += "\\midrule\n";
        }
        last_dataset = Some(g.dataset.clone());
        let mut row = vec![escape(g.dataset.as_str()), escape(g.model.as_str())];
        row.extend(g.values.iter().map(|v| escape(v)));
        row.push(count(g.final_acc.n, g.trials));
        row.push(percent(g.final_acc, best));
        row.push(percent(g.best_acc, best));
        out += &format!("{} \\\\\n", row.join(" & "));
    }
    out += if long { "\\end{longtable}\n" } else { "\\bottomrule\n\\end{tabular}}\n" };
    if !comparisons.is_empty() {
        out += &comparison_table(report, comparisons);
    }
    out
}

/// "3", or "2/3" when a trial of the row was left out (pruned or failed).
fn count(counted: usize, trials: usize) -> String {
    if counted == trials { counted.to_string() } else { format!("{counted}/{trials}") }
}

/// The CNN's gain over the NN: gain ± half the 95 % interval, the p-value with the usual marks
/// (* < 0.05, ** < 0.01, *** < 0.001), and the cost ratios.
fn comparison_table(report: &Report, comparisons: &[Comparison]) -> String {
    let keys = report.keys.len();
    let mut out = format!("\n{FIT}\\begin{{tabular}}{{{}rrrrrrrrr}}\n\\toprule\n", "l".repeat(1 + keys));
    let mut header = vec!["Data set".to_string()];
    header.extend(report.keys.iter().map(|k| escape(k)));
    header.extend(
        ["$n$", "NN (\\%)", "CNN (\\%)", "Gain (pt)", "$p$", "Params", "MACs", "Train time", "Eval.\\ time"]
            .map(String::from),
    );
    out += &format!("{} \\\\\n\\midrule\n", header.join(" & "));
    for c in comparisons {
        let mut row = vec![escape(c.dataset.as_str())];
        row.extend(c.values.iter().map(|v| escape(v)));
        let (n_nn, n_cnn) = (c.nn.accuracies.len(), c.cnn.accuracies.len());
        row.push(if n_nn == n_cnn { n_nn.to_string() } else { format!("{n_nn}/{n_cnn}") });
        row.push(format!("${:.2}$", c.nn.accuracy.mean * 100.0));
        row.push(format!("${:.2}$", c.cnn.accuracy.mean * 100.0));
        let (gain, p) = match &c.estimate {
            Some((_, e)) => {
                let half = (e.high - e.low) / 2.0 * 100.0;
                let marks = match e.p_value {
                    Some(p) if p < 0.001 => "^{***}",
                    Some(p) if p < 0.01 => "^{**}",
                    Some(p) if p < 0.05 => "^{*}",
                    _ => "",
                };
                (
                    format!("${:+.2} \\pm {half:.2}{marks}$", c.gain * 100.0),
                    e.p_value.map_or("--".into(), |p| format!("${}$", show_p(p))),
                )
            }
            None => (format!("${:+.2}$", c.gain * 100.0), "--".into()),
        };
        row.push(gain);
        row.push(p);
        row.push(format!("${:.1}\\times$", c.cnn.params as f64 / c.nn.params as f64));
        row.push(format!("${:.1}\\times$", c.cnn.macs as f64 / c.nn.macs as f64));
        for (cnn, nn) in
            [(Some(c.cnn.train_seconds), Some(c.nn.train_seconds)), (c.cnn.eval_seconds, c.nn.eval_seconds)]
        {
            row.push(match (cnn, nn) {
                (Some(cnn), Some(nn)) if nn > 0.0 => format!("${:.1}\\times$", cnn / nn),
                _ => "--".into(),
            });
        }
        out += &format!("{} \\\\\n", row.join(" & "));
    }
    out += "\\bottomrule\n\\end{tabular}}\n";
    out += "% Gain: CNN minus NN test accuracy, with half its 95 % interval (paired over seeds, or Welch);\n";
    out +=
        "% * p < 0.05, ** p < 0.01, *** p < 0.001. Params, MACs, train and evaluation time: the CNN's over the NN's.\n";
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
/// The "Setup" paragraph: what the trials share, for the paper's text.
pub fn setup(lines: &[(String, String)]) -> String {
    let items: Vec<String> = lines.iter().map(|(what, value)| format!("{}: {}", escape(what), escape(value))).collect();
    format!("\n\\paragraph{{Setup}} {}.\n", items.join("; "))
}

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
            // Outside typewriter text, OT1 fonts print these as ¡ ¿ — ” (as pdflatex's default does).
            '<' => out += "\\textless{}",
            '>' => out += "\\textgreater{}",
            '|' => out += "\\textbar{}",
            '"' => out += "\\texttt{\"}",
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::table::{Group, Report, Stat};
    use crate::spec::{DatasetName, ModelKind};

    fn report(rows: usize) -> Report {
        let stat = Stat { mean: 0.9, std: 0.01, n: 2 };
        let group = |i: usize| Group {
            dataset: DatasetName::Mnist,
            data: "mnist".into(),
            model: ModelKind::Cnn,
            values: vec![format!("0.{i:03}")],
            trials: 2,
            final_acc: stat,
            finals: vec![0.89, 0.91],
            best_acc: stat,
            selection: stat,
            final_loss: stat,
            train_seconds: stat,
            eval_seconds: stat,
            images_per_second: stat,
            status: "done".into(),
            best: false,
            names: vec![],
            runs: vec![],
            spec: toml::Table::new(),
            seeds: vec![],
        };
        Report {
            keys: vec!["lr".into()],
            groups: (0..rows).map(group).collect(),
            best_on_test: false,
            search: None,
            repeated: 0,
        }
    }

    #[test]
    fn a_table_longer_than_a_page_breaks_across_pages_with_its_header_repeated() {
        let short = super::render(&report(10), &[]);
        assert!(short.contains("\\begin{tabular}") && !short.contains("longtable"), "{short}");
        let long = super::render(&report(60), &[]);
        assert!(long.contains("\\begin{longtable}{lllrrr}") && long.contains("\\endhead"), "{long}");
        assert!(!long.contains("resizebox") && long.trim_end().ends_with("\\end{longtable}"), "{long}");
        assert_eq!(long.matches("\\\\\n").count(), 61, "the header and every row");
    }

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(
            super::escape("fashion-mnist_x & 50% $#{}~^\\"),
            "fashion-mnist\\_x \\& 50\\% \\$\\#\\{\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
        );
        assert_eq!(
            super::escape("a<b>c|d\"e"),
            "a\\textless{}b\\textgreater{}c\\textbar{}d\\texttt{\"}e",
            "glyphs OT1 fonts would swap"
        );
    }
}
