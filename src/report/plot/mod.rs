//! The report's figures, each an SVG with a 300 dpi PNG beside it: learning curves per data set,
//! final accuracy per configuration, accuracy against train time, and a search's objective
//! against each searched key, a TPE search's history. NN in blues, CNN in reds throughout.

mod bars;
mod curves;
mod history;
mod pareto;
mod png;
mod search;

pub use bars::bars;
pub use curves::curves;
pub use history::history;
pub use pareto::{frontier, pareto};
pub use search::{log_ticks, search};

use std::path::Path;

use plotters::style::RGBColor;

use crate::error::{Error, Result};
use crate::run::summary::TrialSummary;
use crate::run::write_file;
use crate::spec::ModelKind;

/// Eight shades each, dark to light and back apart: NN in blues, CNN in reds, as the titles say.
const NN_COLORS: [RGBColor; 8] = [
    RGBColor(8, 48, 107),
    RGBColor(33, 113, 181),
    RGBColor(107, 174, 214),
    RGBColor(8, 81, 156),
    RGBColor(66, 146, 198),
    RGBColor(0, 32, 80),
    RGBColor(49, 130, 189),
    RGBColor(130, 190, 230),
];
const CNN_COLORS: [RGBColor; 8] = [
    RGBColor(103, 0, 13),
    RGBColor(203, 24, 29),
    RGBColor(251, 106, 74),
    RGBColor(165, 15, 21),
    RGBColor(239, 59, 44),
    RGBColor(70, 0, 8),
    RGBColor(222, 45, 38),
    RGBColor(252, 146, 114),
];

/// The `nth` colour of `model`'s family: its palette, then, past its end, each colour again a
/// step lighter or darker per round, so no two lines of a figure share one.
fn color(model: ModelKind, nth: usize) -> RGBColor {
    let palette = match model {
        ModelKind::Nn => &NN_COLORS,
        ModelKind::Cnn => &CNN_COLORS,
    };
    let RGBColor(r, g, b) = palette[nth % palette.len()];
    let round = nth / palette.len();
    if round == 0 {
        return RGBColor(r, g, b);
    }
    // Odd rounds lighten, even ones darken, each by a further ninth of the way.
    let step = (round.div_ceil(2) as f64 / 9.0).min(0.9);
    let shift = |c: u8| -> u8 {
        let c = f64::from(c);
        (if round % 2 == 1 { c + (255.0 - c) * step } else { c * (1.0 - step) }).round() as u8
    };
    RGBColor(shift(r), shift(g), shift(b))
}

/// The keys that tell `trials` apart, but the model (each name starts with it), the data set
/// (each figure is one data set's, or names it) and, with `seeds_apart`, the seed.
fn telling_keys(trials: &[&TrialSummary], seeds_apart: bool) -> Vec<String> {
    crate::spec::differing_keys(trials.iter().map(|t| &t.trial))
        .into_iter()
        .filter(|k| k != "model" && k != "dataset" && !(seeds_apart && k == "seed"))
        .collect()
}

/// "nn: lr=0.1,momentum=0.9", or the model alone when no key tells its trial apart.
fn name(trial: &TrialSummary, keys: &[String]) -> String {
    let parts: Vec<String> = keys.iter().zip(trial.trial.values_text(keys)).map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() {
        trial.trial.spec.model.to_string()
    } else {
        format!("{}: {}", trial.trial.spec.model, parts.join(","))
    }
}

/// Names made unique: one a configuration shares with an earlier one (values alike once
/// rounded for display, or the same configuration run twice) gets " #2", " #3".
fn unique(mut names: Vec<String>) -> Vec<String> {
    for i in 1..names.len() {
        let twins =
            (0..i).filter(|&j| names[j] == names[i] || names[j].starts_with(&format!("{} #", names[i]))).count();
        if twins > 0 {
            names[i] = format!("{} #{}", names[i], twins + 1);
        }
    }
    names
}

/// Each trial's name in a figure: the model and the values of the keys that tell the figure's
/// trials apart (never one run's swept keys alone, which two runs can share).
fn labels(trials: &[&TrialSummary]) -> Vec<String> {
    let keys = telling_keys(trials, false);
    unique(trials.iter().map(|t| name(t, &keys)).collect())
}

/// Trials that differ in nothing but their seed: one configuration, one curve.
struct Configuration<'a> {
    label: String,
    model: ModelKind,
    /// One per seed: a (configuration, seed) met again is the same trial read twice.
    trials: Vec<&'a TrialSummary>,
}

/// `trials` by configuration, in order of appearance; each labelled by the keys that tell the
/// figure's configurations apart, with its number of seeds when it has several.
fn configurations<'a>(trials: &[&'a TrialSummary]) -> Vec<Configuration<'a>> {
    let keys = telling_keys(trials, true);
    let mut found: Vec<(Vec<String>, Configuration<'a>)> = Vec::new();
    for t in trials {
        let identity: Vec<String> =
            std::iter::once(t.trial.spec.model.to_string()).chain(t.trial.values_exact(&keys)).collect();
        match found.iter_mut().find(|(id, _)| *id == identity) {
            Some((_, c)) if c.trials.iter().any(|o| o.trial.spec.seed == t.trial.spec.seed) => {}
            Some((_, c)) => c.trials.push(t),
            None => found
                .push((identity, Configuration { label: name(t, &keys), model: t.trial.spec.model, trials: vec![t] })),
        }
    }
    let mut configurations: Vec<Configuration> = found.into_iter().map(|(_, c)| c).collect();
    let names = unique(configurations.iter().map(|c| c.label.clone()).collect());
    for (c, label) in configurations.iter_mut().zip(names) {
        c.label = match c.trials.len() {
            1 => label,
            n => format!("{label} ({n} seeds)"),
        };
    }
    configurations
}

/// Each configuration's colour: the nth configuration of its model gets the nth shade.
fn colors(models: impl IntoIterator<Item = ModelKind>) -> Vec<RGBColor> {
    let mut seen = [0usize; 2];
    models
        .into_iter()
        .map(|model| {
            let slot = &mut seen[usize::from(model != ModelKind::Nn)];
            *slot += 1;
            color(model, *slot - 1)
        })
        .collect()
}

/// A tick label with two significant digits: 0.02, 0.3, 15, 1200.
fn significant(v: f64) -> String {
    if v <= 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (1 - v.log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.decimals$}");
    // "0.0010" reads better as "0.001".
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// Draws a figure into `path` (an .svg) and its PNG twin beside it, each written atomically.
fn save(
    path: &Path,
    draw: impl FnOnce(&mut String) -> std::result::Result<(), Box<dyn std::error::Error>>,
) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut svg = String::new();
    draw(&mut svg).map_err(|e| failed(&e))?;
    let png_path = path.with_extension("png");
    let png = png::render(&svg).map_err(|e| Error::Io { path: png_path.clone(), source: std::io::Error::other(e) })?;
    write_file(path, svg.as_bytes())?;
    write_file(&png_path, &png)
}

#[cfg(test)]
mod tests {
    use crate::run::summary::TrialSummary;
    use crate::spec::{ModelKind, Spec, Trial};

    fn trial(model: ModelKind, momentum: f64, seed: i64) -> TrialSummary {
        let spec = Spec { model, momentum, seed, ..Spec::default() };
        let swept = vec![("seed".to_string(), seed.to_string())];
        TrialSummary::pending(&Trial { index: 0, name: format!("seed={seed}"), swept, spec, group: 0, round: None })
    }

    #[test]
    fn tick_labels_have_two_significant_digits_and_no_trailing_zeros() {
        let labels: Vec<String> = [0.001, 0.0025, 0.2, 1.0, 15.0, 1200.0, 0.25].map(super::significant).to_vec();
        assert_eq!(labels, ["0.001", "0.0025", "0.2", "1", "15", "1200", "0.25"]);
    }

    #[test]
    fn no_two_configurations_share_a_label_or_a_colour() {
        // Two runs, each sweeping only the seed: their trial names are alike, momentum tells them apart.
        let trials = [trial(ModelKind::Nn, 0.0, 1), trial(ModelKind::Nn, 0.9, 1), trial(ModelKind::Nn, 0.9, 1)];
        let refs: Vec<&TrialSummary> = trials.iter().collect();
        let names = super::labels(&refs);
        assert_eq!(names, ["nn: seed=1,momentum=0.0", "nn: seed=1,momentum=0.9", "nn: seed=1,momentum=0.9 #2"]);
        for model in [ModelKind::Nn, ModelKind::Cnn] {
            let colours: Vec<_> = (0..60).map(|i| super::color(model, i)).collect();
            for (i, c) in colours.iter().enumerate() {
                assert!(!colours[..i].contains(c), "{model} colour {i} repeats");
            }
        }
    }

    #[test]
    fn configurations_gather_seeds_and_count_a_repeated_seed_once() {
        let trials = [
            trial(ModelKind::Nn, 0.0, 1),
            trial(ModelKind::Nn, 0.0, 2),
            trial(ModelKind::Nn, 0.9, 1),
            trial(ModelKind::Cnn, 0.0, 1),
            trial(ModelKind::Cnn, 0.0, 2),
            // The first run read twice.
            trial(ModelKind::Nn, 0.0, 1),
        ];
        let refs: Vec<&TrialSummary> = trials.iter().collect();
        let found = super::configurations(&refs);
        let labels: Vec<(&str, usize)> = found.iter().map(|c| (c.label.as_str(), c.trials.len())).collect();
        assert_eq!(
            labels,
            [("nn: momentum=0.0 (2 seeds)", 2), ("nn: momentum=0.9", 1), ("cnn: momentum=0.0 (2 seeds)", 2)]
        );
        let colours = super::colors(found.iter().map(|c| c.model));
        assert_eq!(
            colours,
            [super::color(ModelKind::Nn, 0), super::color(ModelKind::Nn, 1), super::color(ModelKind::Cnn, 0)]
        );
    }
}
