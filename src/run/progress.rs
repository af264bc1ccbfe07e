//! What a training trial shows on the console: a progress bar on a terminal (none with
//! `--quiet`, under `--jobs`, or when stderr is not a terminal) and one line per event, tagged
//! with the trial's folder name when several workers share a terminal or a log.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::train::EpochMetrics;

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
                ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len} img {per_sec} ETA {eta}")
                    .expect("the template is valid")
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
            Some(tag) => eprintln!("{tag}: {line}"),
            None => self.bar.suspend(|| eprintln!("{line}")),
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
            Some(tag) => eprintln!("{tag}:{line}"),
            None => self.bar.suspend(|| eprintln!("{line}")),
        }
    }

    /// Removes the bar once training has ended.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
