//! `search_<key>.svg`: a search's objective for each trial against its value of one searched
//! numeric key.

use std::path::Path;

use plotters::prelude::*;

use super::{color, significant};
use crate::error::Result;
use crate::run::state::Status;
use crate::run::summary::TrialSummary;
use crate::spec::ModelKind;

/// `search_<key>.svg` and its PNG: each trial's value of what the search picks its best trial
/// on (its best validation accuracy with a split, else its best test accuracy) against its value
/// of `key` (a log axis for log-uniform keys, whole-number ticks for integer keys), NN in blue
/// and CNN in red; pruned trials apart: hollow, lighter, and named in the key.
pub fn search(trials: &[&TrialSummary], key: &str, log: bool, path: &Path) -> Result<()> {
    super::save(path, |svg| draw_search(trials, key, log, svg))
}

/// A trial's objective, in percent: what [`crate::run::metrics::selection_score`] gives at its
/// best epoch; with the axis's name.
pub(super) fn objective(trial: &TrialSummary) -> Option<(f64, &'static str)> {
    let best = crate::run::metrics::best(&trial.epochs)?;
    let name = if best.val_acc.is_some() {
        "best validation accuracy (%)"
    } else {
        "best test accuracy (%; no validation split)"
    };
    Some((crate::run::metrics::selection_score(best) * 100.0, name))
}

/// Ticks for a log axis over `lo..hi`: the densest of 1, 1-3, 1-2-5, 1-2-3-5-7 per decade that
/// gives at most 8, and at least the range's ends when none falls inside.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let steps: [&[f64]; 4] = [&[1.0, 2.0, 3.0, 5.0, 7.0], &[1.0, 2.0, 5.0], &[1.0, 3.0], &[1.0]];
    let within = |mantissas: &[f64]| {
        let mut ticks = Vec::new();
        for decade in lo.log10().floor() as i32..=hi.log10().ceil() as i32 {
            for m in mantissas {
                let v = m * 10f64.powi(decade);
                // A hair of slack: 0.01 computed as 1 * 10^-2 must count as within 0.01..
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    ticks.push(v);
                }
            }
        }
        ticks
    };
    let candidates: Vec<Vec<f64>> = steps.iter().map(|m| within(m)).collect();
    match candidates.iter().find(|t| t.len() >= 3 && t.len() <= 8).or(candidates.iter().rev().find(|t| t.len() >= 2)) {
        Some(ticks) => ticks.clone(),
        None => vec![lo, hi],
    }
}

fn draw_search(
    trials: &[&TrialSummary],
    key: &str,
    log: bool,
    svg: &mut String,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut integer = true;
    let points: Vec<(f64, f64, ModelKind, bool)> = trials
        .iter()
        // A trial the key does not apply to (momentum with adam) has no place on its axis.
        .filter(|t| t.trial.spec.applies(key))
        .filter_map(|t| {
            let table = t.trial.spec.to_table();
            let value = match table.get(key)? {
                toml::Value::Integer(i) => *i as f64,
                other => {
                    integer = false;
                    other.as_float()?
                }
            };
            let (score, _) = objective(t)?;
            Some((value, score, t.trial.spec.model, t.status == Status::Pruned))
        })
        .collect();
    // The axis names the objective: validation only when every trial had a split.
    let names: Vec<&str> = trials.iter().filter_map(|t| objective(t)).map(|(_, name)| name).collect();
    let y_desc = match names.first() {
        Some(first) if names.iter().all(|n| n == first) => *first,
        _ => "best accuracy (%; validation where a split exists, else test)",
    };
    let (y_lo, y_hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (y_lo, y_hi) = if y_lo <= y_hi { ((y_lo - 2.0).max(0.0), (y_hi + 2.0).min(100.0)) } else { (0.0, 100.0) };
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else if log {
        (lo / 2.0, hi * 2.0)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    // Room on both sides, so that no point is cut by the frame.
    let (lo, hi) = if log {
        let pad = (hi / lo).powf(0.04);
        (lo / pad, hi * pad)
    } else {
        let pad = (hi - lo) * 0.04;
        (lo - pad, hi + pad)
    };
    let root = SVGBackend::with_string(svg, (960, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    // The key on the right, beside the chart: inside, it would hide points.
    let (area, key_area) = root.split_horizontally(760);
    let mut builder = ChartBuilder::on(&area);
    builder
        .caption(format!("Search: {} against {key}", y_desc.split(" (").next().unwrap_or(y_desc)), ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60);
    let x_desc = if log { format!("{key} (log scale)") } else { key.to_string() };
    // The same drawing on each kind of axis (the coordinate types differ, hence the macro);
    // `$at` maps a key's value to the axis.
    macro_rules! draw {
        ($x:expr, $at:expr, $label:expr) => {{
            let at = $at;
            let mut chart = builder.build_cartesian_2d($x, y_lo..y_hi)?;
            chart
                .configure_mesh()
                .x_label_formatter(&$label)
                .y_label_formatter(&|v: &f64| format!("{v:.0}"))
                .x_desc(x_desc.as_str())
                .y_desc(y_desc)
                .draw()?;
            let done = points.iter().filter(|p| !p.3);
            chart.draw_series(done.map(|&(x, y, model, _)| Circle::new((at(x), y), 5, color(model, 1).filled())))?;
            let pruned = points.iter().filter(|p| p.3);
            chart.draw_series(
                pruned.map(|&(x, y, model, _)| Circle::new((at(x), y), 5, color(model, 1).mix(0.6).stroke_width(2))),
            )?;
        }};
    }
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    let mut entries = vec![("NN", color(ModelKind::Nn, 1).filled()), ("CNN", color(ModelKind::Cnn, 1).filled())];
    if points.iter().any(|p| p.3) {
        entries.extend([
            ("NN, pruned", color(ModelKind::Nn, 1).mix(0.6).stroke_width(2)),
            ("CNN, pruned", color(ModelKind::Cnn, 1).mix(0.6).stroke_width(2)),
        ]);
    }
    for (i, (name, style)) in entries.into_iter().enumerate() {
        let y = 60 + 24 * i as i32;
        key_area.draw(&Circle::new((12, y), 5, style))?;
        key_area.draw(&Text::new(name, (26, y - 8), font.clone()))?;
    }
    if points.iter().any(|p| p.3) {
        key_area.draw(&Text::new("pruned: its best before", (8, 170), font.clone()))?;
        key_area.draw(&Text::new("ASHA stopped it", (8, 188), font.clone()))?;
    }
    if log {
        draw!((lo..hi).log_scale().with_key_points(log_ticks(lo, hi)), |x: f64| x, |v: &f64| significant(*v));
    } else if integer {
        // Whole numbers on an integer axis: ticks are whole, and read "40", not "40.0".
        let (lo, hi) = (lo.floor() as i64, hi.ceil() as i64);
        draw!(lo..hi.max(lo + 1), |x: f64| x.round() as i64, |v: &i64| v.to_string());
    } else {
        draw!(lo..hi, |x: f64| x, |v: &f64| significant(*v));
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::run::summary::TrialSummary;
    use crate::spec::{Spec, Trial};
    use crate::train::EpochMetrics;

    #[test]
    fn log_ticks_cover_the_whole_range() {
        // The data of the issue: 0.0019 to 0.16 had ticks at 0.01 and 0.1 only.
        assert_eq!(super::log_ticks(0.0019, 0.16), [0.002, 0.005, 0.01, 0.02, 0.05, 0.1]);
        assert_eq!(super::log_ticks(1e-5, 1.0), [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
        let narrow = super::log_ticks(0.011, 0.019);
        assert!(narrow.len() >= 2 && narrow.iter().all(|t| (0.011..=0.019).contains(t)), "{narrow:?}");
    }

    #[test]
    fn the_search_plot_shows_the_objective_not_the_test_accuracy() {
        let spec = Spec { val_split: 0.1, ..Spec::default() };
        let mut t =
            TrialSummary::pending(&Trial { index: 0, name: "t".into(), swept: vec![], spec, group: 0, round: None });
        t.epochs = [(0.80, 0.95), (0.90, 0.91), (0.85, 0.97)]
            .iter()
            .enumerate()
            .map(|(i, &(val, test))| EpochMetrics {
                epoch: i as u32 + 1,
                val_acc: Some(val),
                test_acc: test,
                ..Default::default()
            })
            .collect();
        let (score, name) = super::objective(&t).unwrap();
        assert!((score - 90.0).abs() < 1e-9 && name.starts_with("best validation accuracy"), "{score} {name}");
        for e in &mut t.epochs {
            e.val_acc = None;
        }
        let (score, name) = super::objective(&t).unwrap();
        assert!((score - 97.0).abs() < 1e-9 && name.contains("no validation split"), "{score} {name}");
    }
}
