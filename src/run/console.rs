//! What a training trial shows on the console: a progress bar on a terminal (none with
//! `--quiet`, or when stderr is not a terminal) and one line per event, tagged with the trial's
//! folder name when several workers share a terminal or a log. Under `--jobs` the workers' lines
//! come to the coordinator, whose [`Board`] draws one bar per running trial from the trials'
//! progress.json files.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::state::EpochProgress;
use crate::spec::Trial;
use crate::train::EpochMetrics;

/// Columns a bar's label may take under `--jobs`: the rest of a line is the bar and its figures.
const LABEL_WIDTH: usize = 32;

/// A rate as a whole number with thousands separators: 1,369.
fn thousands(rate: f64) -> String {
    let digits = format!("{:.0}", rate.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub struct Console {
    bar: ProgressBar,
    quiet: bool,
    /// The trial's folder name, when lines are tagged with it.
    tag: Option<String>,
}

impl Console {
    pub fn new(trial_dir_name: String, quiet: bool, tagged: bool) -> Console {
        let bar = if quiet || tagged || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len} img {rate} ETA {eta}")
                    .expect("the template is valid")
                    // "1,369 img/s": indicatif's {per_sec} prints four decimals.
                    .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{} img/s", thousands(state.per_sec()));
                    })
                    .progress_chars("=> "),
            );
            bar
        };
        Console { bar, quiet, tag: tagged.then_some(trial_dir_name) }
    }

    pub fn tagged(&self) -> bool {
        self.tag.is_some()
    }

    /// A line about the trial (what it trains, warnings, how it ended).
    pub fn say(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.tag {
            Some(tag) => say(&format!("{tag}: {line}")),
            None => self.bar.suspend(|| say(line)),
        }
    }

    pub fn epoch_started(&self, epoch: u32, epochs: u32, images: usize) {
        self.bar.reset();
        self.bar.set_length(images as u64);
        self.bar.set_message(format!("epoch {epoch}/{epochs}"));
    }

    pub fn batch_done(&self, images: usize) {
        self.bar.inc(images as u64);
    }

    /// The epoch's line (see [`epoch_line`]).
    pub fn epoch_done(&self, metrics: &EpochMetrics, epochs: u32, search: bool) {
        if self.quiet {
            return;
        }
        let line = epoch_line(metrics, epochs, search);
        match &self.tag {
            Some(tag) => say(&format!("{tag}:{line}")),
            None => self.bar.suspend(|| say(&line)),
        }
    }

    /// Removes the bar once training has ended.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// An epoch's line: losses, accuracies, time and throughput. The validation split's figures
/// when there is one; in a search (`search`) with one, they are its objective and the test
/// figures are left out, so nobody picks a configuration by its test accuracy.
fn epoch_line(metrics: &EpochMetrics, epochs: u32, search: bool) -> String {
    let mut line = format!(
        "  epoch {}/{epochs}: train loss {:.4} acc {:.2}%",
        metrics.epoch,
        metrics.train_loss,
        metrics.train_acc * 100.0
    );
    if let (Some(loss), Some(acc)) = (metrics.val_loss, metrics.val_acc) {
        line += &format!(" | val loss {loss:.4} acc {:.2}%", acc * 100.0);
    }
    if !(search && metrics.val_acc.is_some()) {
        line += &format!(" | test loss {:.4} acc {:.2}%", metrics.test_loss, metrics.test_acc * 100.0);
    }
    line + &format!(" | {:.1}s, {:.0} img/s", metrics.epoch_seconds, metrics.images_per_second)
}

/// The label of each trial's bar under `--jobs` (at most [`LABEL_WIDTH`] columns), and the
/// legend to print above the bars when the labels are not the folder names. Folder names that fit
/// are the labels. Else a label is the trial's index and its swept values only ("012 0.01 sgd 3",
/// the legend naming the keys), shortened in the middle when even that is too long, so the
/// index and the last values (the seed, typically) stay: the parts that tell trials apart.
pub fn bar_labels(trials: &[Trial]) -> (Vec<String>, Option<String>) {
    let names: Vec<String> = trials.iter().map(Trial::dir_name).collect();
    if names.iter().all(|name| name.chars().count() <= LABEL_WIDTH) {
        return (names, None);
    }
    let labels = trials
        .iter()
        .map(|trial| {
            let values: Vec<&str> = trial.swept.iter().map(|(_, value)| value.as_str()).collect();
            middle_ellipsis(&format!("{:03} {}", trial.index, values.join(" ")), LABEL_WIDTH)
        })
        .collect();
    let mut keys: Vec<&str> = Vec::new();
    for trial in trials {
        for (key, _) in &trial.swept {
            if !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
    }
    (labels, Some(format!("  bars: trial, then {}", keys.join(" "))))
}

/// `text` in at most `width` characters: its head and tail around a "…".
fn middle_ellipsis(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_string();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// A line on stderr. A worker's stderr may be a pipe to a coordinator that is gone: the line is
/// lost, and the worker goes on to stop cleanly (eprintln! would panic).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `line` above `multi`'s bars, or straight to stderr when they cannot draw.
fn print_above(multi: &MultiProgress, line: &str) {
    if multi.println(line).is_err() {
        say(line);
    }
}

/// `--jobs` on a terminal: one bar per running trial, with the workers' lines printed above.
pub struct Board {
    multi: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
}

impl Board {
    /// A board when stderr is a terminal and lines are not `quiet`; else None (the workers then
    /// write their tagged lines straight to stderr).
    pub fn on_terminal(quiet: bool) -> Option<Board> {
        (!quiet && std::io::stderr().is_terminal()).then(|| Board {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: BTreeMap::new(),
        })
    }

    /// Prints a worker's line above the bars; clone it into the threads that read the workers.
    pub fn printer(&self) -> impl Fn(&str) + Send + Clone + 'static {
        let multi = self.multi.clone();
        move |line: &str| print_above(&multi, line)
    }

    /// Prints `line` above the bars (the legend of the bars' labels, say).
    pub fn println(&self, line: &str) {
        print_above(&self.multi, line);
    }

    /// Shows each trial in `trials` (bar label, folder) that trains now, from its progress.json;
    /// the bar of a trial that stopped goes.
    pub fn refresh(&mut self, trials: &[(String, PathBuf)]) {
        let mut seen = Vec::new();
        for (name, dir) in trials {
            // progress.json first: most trials have none, and one read tells.
            let Some(at) = EpochProgress::read(dir).filter(|_| !dir.join(super::state::FILE).exists()) else {
                continue;
            };
            let bar = self.bars.entry(name.clone()).or_insert_with(|| {
                let bar = ProgressBar::new(at.of as u64);
                bar.set_style(
                    ProgressStyle::with_template("  {prefix:32} {msg:22} [{bar:20}] {pos}/{len}")
                        .expect("the template is valid")
                        .progress_chars("=> "),
                );
                bar.set_prefix(name.clone());
                self.multi.add(bar)
            });
            bar.set_length(at.of as u64);
            bar.set_position(at.images as u64);
            let rate = at
                .seconds_left()
                .map_or(String::new(), |s| format!(" {} img/s, {s:.0}s left", thousands(at.images_per_second)));
            bar.set_message(format!("ep {}/{}{rate}", at.epoch, at.epochs));
            seen.push(name.clone());
        }
        self.bars.retain(|name, bar| {
            let keep = seen.contains(name);
            if !keep {
                bar.finish_and_clear();
                self.multi.remove(bar);
            }
            keep
        });
    }

    pub fn clear(self) {
        for bar in self.bars.values() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{Spec, Trial};

    fn trial(index: usize, swept: &[(&str, &str)]) -> Trial {
        let swept: Vec<(String, String)> = swept.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let name = swept.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        Trial { index, name, swept, spec: Spec::default(), group: 0, round: None }
    }

    #[test]
    fn short_folder_names_are_the_labels() {
        let trials = [trial(0, &[("seed", "1")]), trial(1, &[("seed", "2")])];
        assert_eq!(super::bar_labels(&trials), (vec!["000_seed=1".to_string(), "001_seed=2".to_string()], None));
    }

    #[test]
    fn long_names_keep_index_and_every_value_that_differs() {
        let long = |i, lr: &str, seed: &str| {
            trial(i, &[("model", "cnn"), ("lr", lr), ("optimizer", "sgd"), ("momentum", "0.9"), ("seed", seed)])
        };
        let trials = [long(0, "0.01", "1"), long(1, "0.01", "2"), long(12, "0.001", "1")];
        let (labels, legend) = super::bar_labels(&trials);
        assert_eq!(labels, ["000 cnn 0.01 sgd 0.9 1", "001 cnn 0.01 sgd 0.9 2", "012 cnn 0.001 sgd 0.9 1"]);
        assert_eq!(legend.as_deref(), Some("  bars: trial, then model lr optimizer momentum seed"));
        // Before, the folder names were cut at 32 columns: "000_model=cnn,lr=0.01,optimizer" for
        // both of the first two trials.
        let distinct: std::collections::BTreeSet<_> = labels.iter().collect();
        assert_eq!(distinct.len(), 3);
    }

    #[test]
    fn labels_too_long_even_as_values_lose_their_middle() {
        let values = [("data", "/home/me/datasets/flowers-2024/train"), ("lr", "0.001"), ("seed", "3")];
        let (labels, _) = super::bar_labels(&[trial(7, &values)]);
        assert_eq!(labels[0].chars().count(), super::LABEL_WIDTH);
        assert!(labels[0].starts_with("007 /home/me/da") && labels[0].ends_with("train 0.001 3"), "{}", labels[0]);
        assert!(labels[0].contains('…'));
    }

    fn epoch(val: Option<(f64, f64)>) -> crate::train::EpochMetrics {
        crate::train::EpochMetrics {
            epoch: 2,
            train_loss: 0.5,
            train_acc: 0.8,
            test_loss: 0.25,
            test_acc: 0.9,
            lr: 0.01,
            epoch_seconds: 1.5,
            images_per_second: 1000.0,
            finished_at: String::new(),
            val_loss: val.map(|v| v.0),
            val_acc: val.map(|v| v.1),
            train_seconds: None,
            eval_seconds: None,
        }
    }

    #[test]
    fn a_search_shows_its_objective_not_the_test_accuracy() {
        let with_val = epoch(Some((0.375, 0.875)));
        assert_eq!(
            super::epoch_line(&with_val, 3, true),
            "  epoch 2/3: train loss 0.5000 acc 80.00% | val loss 0.3750 acc 87.50% | 1.5s, 1000 img/s"
        );
        assert_eq!(
            super::epoch_line(&with_val, 3, false),
            "  epoch 2/3: train loss 0.5000 acc 80.00% | val loss 0.3750 acc 87.50% | test loss 0.2500 acc 90.00% | 1.5s, 1000 img/s"
        );
        // Without a split the test set is all there is to show, search or not.
        for search in [true, false] {
            assert_eq!(
                super::epoch_line(&epoch(None), 3, search),
                "  epoch 2/3: train loss 0.5000 acc 80.00% | test loss 0.2500 acc 90.00% | 1.5s, 1000 img/s"
            );
        }
    }

    #[test]
    fn rates_read_as_whole_numbers() {
        assert_eq!(super::thousands(1368.5558), "1,369");
        assert_eq!(super::thousands(999.4), "999");
        assert_eq!(super::thousands(1_234_567.0), "1,234,567");
        assert_eq!(super::thousands(f64::NAN), "0", "no rate yet");
    }
}
