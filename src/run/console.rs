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
use crate::train::EpochMetrics;

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

    /// The epoch's line: losses, accuracies, time and throughput.
    pub fn epoch_done(&self, metrics: &EpochMetrics, epochs: u32) {
        if self.quiet {
            return;
        }
        let line = format!(
            "  epoch {}/{epochs}: train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | {:.1}s, {:.0} img/s",
            metrics.epoch,
            metrics.train_loss,
            metrics.train_acc * 100.0,
            metrics.test_loss,
            metrics.test_acc * 100.0,
            metrics.epoch_seconds,
            metrics.images_per_second
        );
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

/// A line on stderr. A worker's stderr may be a pipe to a coordinator that is gone: the line is
/// lost, and the worker goes on to stop cleanly (eprintln! would panic).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
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
        move |line: &str| {
            if multi.println(line).is_err() {
                say(line);
            }
        }
    }

    /// Shows each trial in `trials` (folder name, folder) that trains now, from its progress.json;
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
                    ProgressStyle::with_template("  {prefix:32!} {msg:22} [{bar:20}] {pos}/{len}")
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
    #[test]
    fn rates_read_as_whole_numbers() {
        assert_eq!(super::thousands(1368.5558), "1,369");
        assert_eq!(super::thousands(999.4), "999");
        assert_eq!(super::thousands(1_234_567.0), "1,234,567");
        assert_eq!(super::thousands(f64::NAN), "0", "no rate yet");
    }
}
