//! What a training trial shows on the console: a progress bar on a terminal (none with
//! `--quiet`, under `--jobs`, or when stderr is not a terminal) and one line per event, tagged
//! with the trial's folder name when several workers share a terminal or a log.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

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
