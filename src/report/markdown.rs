//! report.md: the results table and the NN-vs-CNN comparison, as Markdown.

use super::compare::{Comparison, sentence};
use super::table::{Report, Stat};

/// A Markdown table with padded columns, readable in a terminal too. A `|` in a cell (a folder or
/// class name) is written `\|`, as GitHub's tables read it, so that it cannot split the cell.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let escape = |cells: &[String]| -> Vec<String> { cells.iter().map(|c| c.replace('|', "\\|")).collect() };
    let (header, rows) = (&escape(header), &rows.iter().map(|r| escape(r)).collect::<Vec<_>>());
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count(), 3]).max().unwrap_or(3))
        .collect();
    let line = |cells: &[String]| {
        // Padded by hand: format!'s width is limited to u16::MAX and panics above it.
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w.saturating_sub(cell.chars().count()))))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header);
    out += &line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in rows.iter() {
        out += &line(row);
    }
    out
}

/// "97.12%", or "97.12 ± 0.08%" over several seeds; blank when nothing finished.
fn percent(s: Stat) -> String {
    match s.n {
        0 => String::new(),
        1 => format!("{:.2}%", s.mean * 100.0),
        _ => format!("{:.2} ± {:.2}%", s.mean * 100.0, s.std * 100.0),
    }
}

fn number(s: Stat, decimals: usize) -> String {
    match s.n {
        0 => String::new(),
        1 => format!("{:.decimals$}", s.mean),
        _ => format!("{:.decimals$} ± {:.decimals$}", s.mean, s.std),
    }
}

pub fn render(report: &Report, comparisons: &[Comparison], sources: &[String]) -> String {
    let mut header: Vec<String> = vec!["dataset".into(), "model".into()];
    header.extend(report.keys.iter().cloned());
    header.extend(
        ["trials", "final test acc", "best test acc", "final test loss", "train s", "eval s", "img/s", "status"]
            .map(String::from),
    );
    let rows: Vec<Vec<String>> = report
        .groups
        .iter()
        .map(|g| {
            let mut row = vec![g.dataset.to_string(), g.model.to_string()];
            row.extend(g.values.iter().cloned());
            row.push(g.trials.to_string());
            row.push(percent(g.final_acc));
            row.push(percent(g.best_acc));
            row.push(number(g.final_loss, 4));
            row.push(number(g.train_seconds, 2));
            row.push(number(g.eval_seconds, 2));
            row.push(number(g.images_per_second, 0));
            row.push(g.status.clone());
            if g.best {
                for cell in row.iter_mut().filter(|c| !c.is_empty()) {
                    *cell = format!("**{cell}**");
                }
            }
            row
        })
        .collect();
    let mut out = String::from("# Results\n\n");
    out += &format!("Runs: {}\n\n", sources.join(", "));
    out += &table(&header, &rows);
    out += "\nBold: where a model was tried in several configurations on a data set, the best one (highest mean validation accuracy \
            with a split, else highest mean final test accuracy). \
            Accuracy and loss are on the test set after the last epoch; with several seeds, mean ± standard deviation.\n";
    out += if report.best_on_test {
        "\nBest test acc is the test accuracy of each trial's best epoch, and without a validation split that epoch was \
         picked on the test set itself, which makes the figure optimistic; set `val_split` (e.g. 0.1) to pick it on held-out \
         training images instead.\n"
    } else {
        "\nBest test acc is the test accuracy of each trial's best epoch, picked on its validation split.\n"
    };
    if report.repeated > 0 {
        out += &format!(
            "\n{} trial{} repeated a configuration and seed already counted (the same run read twice, or run again): \
             each (configuration, seed) counts once, so a repeat is not taken for an independent seed.\n",
            report.repeated,
            if report.repeated == 1 { "" } else { "s" }
        );
    }
    if let Some(search) = &report.search {
        out += &format!("\n## Search ({})\n\n", search.methods.join(", "));
        if let Some(best) = &search.best {
            let val = best.val_acc.map(|v| format!("validation accuracy {:.2}%, ", v * 100.0)).unwrap_or_default();
            let values = if best.values.is_empty() { String::new() } else { format!("; {}", best.values) };
            out += &format!(
                "- Best configuration found: `{}` ({}{values}): {val}test accuracy {:.2}% at its best epoch.\n",
                best.name,
                best.what,
                best.test_acc * 100.0
            );
        }
        out += &format!(
            "- Budget: {} epochs trained of the {} that {} trials would train to the end ({:.0}%); {} trial{} pruned.\n",
            search.epochs_trained,
            search.epochs_full,
            search.trials,
            100.0 * search.epochs_trained as f64 / search.epochs_full.max(1) as f64,
            search.pruned,
            if search.pruned == 1 { "" } else { "s" }
        );
    }
    if !comparisons.is_empty() {
        out += "\n## CNN vs NN\n\n";
        for c in comparisons {
            out += &format!("- {}\n", sentence(c, &report.keys));
        }
        out += "\nEach line compares the done trials that differ in nothing but model and seed, by the test accuracy of \
                the checkpoint each ships (its best validation epoch with a split, its last epoch without). Paired: both \
                models ran the same seeds (t-test on the per-seed differences); Welch: otherwise. Intervals are 95 %; \
                comparison.csv has the figures.\n";
    }
    out
}

/// The "Setup" block: what the trials share, one line each.
pub fn setup(lines: &[(String, String)]) -> String {
    let mut out = String::from("## Setup\n\n");
    for (what, value) in lines {
        out += &format!("- {what}: {}\n", value.replace('|', "\\|"));
    }
    out + "\n"
}

/// summary.csv's table for the terminal, fitted to [`TERMINAL_WIDTH`] columns: without the costs
/// (`--dry-run` and summary.csv show them), the columns empty in every row, and, when there are
/// several rows, the trial names (the index is the trial folder's prefix) and the columns with the
/// same value in every row; with a validation split, the best test accuracy over epochs (chosen on
/// the test set: the accuracy at the best validation epoch stays); short headers; reasons cut with "…" when the line would still be too
/// long (summary.csv and report.md have them whole).
pub fn for_terminal(header: Vec<String>, rows: Vec<Vec<String>>) -> (Vec<String>, Vec<Vec<String>>) {
    const SHORT: [(&str, &str); 10] = [
        ("index", "#"),
        ("final_test_acc", "test acc"),
        ("best_test_acc", "best acc"),
        ("best_epoch", "best ep"),
        ("final_test_loss", "loss"),
        ("train_seconds", "train s"),
        ("eval_seconds", "eval s"),
        ("best_val_acc", "val acc"),
        ("test_acc_at_best", "test@best"),
        ("stopped_epoch", "stopped"),
    ];
    // What a reader looks for even when every row agrees.
    const ALWAYS: [&str; 4] = ["index", "final_test_acc", "best_test_acc", "status"];
    let cell = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
    let several = rows.len() > 1;
    // With a validation split, the test accuracy at the best validation epoch is the one to read;
    // the best test accuracy over epochs is chosen on the test set.
    let split = header
        .iter()
        .position(|h| h == "test_acc_at_best")
        .is_some_and(|i| rows.iter().any(|r| !cell(r, i).is_empty()));
    let keep: Vec<bool> = (0..header.len())
        .map(|i| {
            let name = header[i].as_str();
            let empty = rows.iter().all(|r| cell(r, i).is_empty());
            let constant = several && rows.iter().all(|r| cell(r, i) == cell(&rows[0], i));
            let hidden = ["params", "macs"].contains(&name) || (split && name == "best_test_acc");
            let redundant = (several && name == "name") || (constant && !ALWAYS.contains(&name));
            !(hidden || empty || redundant)
        })
        .collect();
    let pick = |row: Vec<String>| row.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c).collect::<Vec<_>>();
    let reason = pick(header.clone()).iter().position(|h| h == "reason");
    let header: Vec<String> = pick(header)
        .into_iter()
        .map(|h| SHORT.iter().find(|(long, _)| *long == h).map_or(h, |(_, short)| short.to_string()))
        .collect();
    let mut rows: Vec<Vec<String>> = rows.into_iter().map(pick).collect();
    if let Some(r) = reason {
        // Each column takes its widest cell plus 3 ("| " and " "), and the line ends with "|".
        let width = |i: usize| {
            rows.iter().map(|row| row[i].chars().count()).chain([header[i].chars().count(), 3]).max().unwrap_or(3) + 3
        };
        let others: usize = (0..header.len()).filter(|&i| i != r).map(width).sum::<usize>() + 1;
        let room = TERMINAL_WIDTH.saturating_sub(others + 3).max(12);
        for row in &mut rows {
            if row[r].chars().count() > room {
                row[r] = row[r].chars().take(room - 1).collect::<String>() + "…";
            }
        }
    }
    (header, rows)
}

/// The widest line [`for_terminal`] aims for.
pub const TERMINAL_WIDTH: usize = 100;

#[cfg(test)]
mod tests {
    #[test]
    fn a_bar_in_a_cell_does_not_split_it() {
        let text = super::table(&["name".into(), "n".into()], &[vec!["a|b".into(), "1".into()]]);
        let row = text.lines().nth(2).unwrap();
        assert_eq!(row, "| a\\|b | 1   |");
        assert_eq!(row.matches('|').count() - row.matches("\\|").count(), 3, "three borders, no more");
    }

    #[test]
    fn aligned_markdown() {
        let header = vec!["a".to_string(), "long name".to_string()];
        let rows = vec![vec!["1".to_string(), "x".to_string()], vec!["22222".to_string(), "y".to_string()]];
        assert_eq!(
            super::table(&header, &rows),
            "| a     | long name |\n| ----- | --------- |\n| 1     | x         |\n| 22222 | y         |\n"
        );
    }

    #[test]
    fn a_runs_table_fits_100_columns_on_the_terminal() {
        let header: Vec<String> = "index,name,model,dataset,final_test_acc,best_test_acc,best_epoch,final_test_loss,train_seconds,status,reason,best_val_acc,test_acc_at_best,stopped_epoch,params,macs"
            .split(',')
            .map(String::from)
            .collect();
        let row: Vec<String> = "0,mnist_cnn,cnn,mnist,0.9712,0.9712,5,0.0901,183.2,done,,,,,225034,2631040"
            .split(',')
            .map(String::from)
            .collect();
        let (header, rows) = super::for_terminal(header, vec![row]);
        let text = super::table(&header, &rows);
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert!(text.starts_with("| #   | name") && !text.contains("reason") && !text.contains("macs"), "{text}");
    }

    #[test]
    fn a_search_with_long_reasons_fits_100_columns_and_keeps_what_differs() {
        let header: Vec<String> = "index,name,model,dataset,batch_size,lr,momentum,optimizer,final_test_acc,best_test_acc,best_epoch,final_test_loss,train_seconds,status,reason,best_val_acc,test_acc_at_best"
            .split(',')
            .map(String::from)
            .collect();
        let rows: Vec<Vec<String>> = [
            "0;batch_size=20,lr=0.01731,momentum=-,optimizer=adam;nn;mnist;20;0.01731;-;adam;0.3200;0.2500;1;1.8363;0.0;done;;0.2333;0.2500",
            "3;batch_size=43,lr=0.1351,momentum=-,optimizer=adam;nn;mnist;43;0.1351;-;adam;0.0200;0.0200;1;197.8184;0.0;pruned;pruned at epoch 1 (ASHA): val_loss 205.3199 is not among the best 1 of the 4 trials at this rung;0.1000;0.0200",
        ]
        .iter()
        .map(|r| r.split(';').map(String::from).collect())
        .collect();
        let (header, rows) = super::for_terminal(header, rows);
        let text = super::table(&header, &rows);
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert_eq!(
            header,
            ["#", "batch_size", "lr", "test acc", "loss", "status", "reason", "val acc", "test@best"],
            "{text}"
        );
        assert!(text.contains("| pruned at") && text.contains("…"), "{text}");
    }

    #[test]
    fn cells_longer_than_u16_max() {
        let long = "x".repeat(70_000);
        let out = super::table(&["h".to_string()], &[vec![long.clone()], vec!["y".to_string()]]);
        assert!(out.contains(&format!("| {long} |")));
        assert!(out.contains(&format!("| y{} |", " ".repeat(69_999))));
    }
}
