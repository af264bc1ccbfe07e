//! SVG plots: per data set, test accuracy and train loss per epoch for every trial (NN in
//! blues, CNN in reds); and a bar chart of final test accuracy per configuration.

use std::path::Path;

use plotters::prelude::*;

use super::table::Report;
use crate::error::{Error, Result};
use crate::run::state::Status;
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

/// Each trial's name in a figure: the model and the values of the keys that tell the figure's
/// trials apart (never one run's swept keys alone, which two runs can share); a label two trials
/// would still share (the same configuration run twice) gets " #2", " #3".
fn labels(trials: &[&TrialSummary]) -> Vec<String> {
    let keys: Vec<String> = crate::spec::differing_keys(trials.iter().map(|t| &t.trial))
        .into_iter()
        .filter(|k| k != "model" && k != "dataset")
        .collect();
    let mut out: Vec<String> = trials
        .iter()
        .map(|t| {
            let parts: Vec<String> =
                keys.iter().zip(t.trial.values_text(&keys)).map(|(k, v)| format!("{k}={v}")).collect();
            let body = if parts.is_empty() { t.trial.name.clone() } else { parts.join(",") };
            format!("{}: {body}", t.trial.spec.model)
        })
        .collect();
    for i in 1..out.len() {
        let twins = (0..i).filter(|&j| out[j] == out[i] || out[j].starts_with(&format!("{} #", out[i]))).count();
        if twins > 0 {
            out[i] = format!("{} #{}", out[i], twins + 1);
        }
    }
    out
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) }
}

/// `curves_<dataset>.svg`: two panels, test accuracy and train loss against the epoch.
pub fn curves(trials: &[&TrialSummary], dataset: &str, path: &Path) -> Result<()> {
    let mut svg = String::new();
    draw_curves(trials, dataset, &mut svg).map_err(|e| plot_error(path, e))?;
    write_file(path, svg.as_bytes())
}

fn draw_curves(trials: &[&TrialSummary], dataset: &str, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    // The legend goes below the charts, so it never covers a curve.
    let legend_rows = trials.len().div_ceil(2);
    let legend_height = 20 * legend_rows as u32 + 20;
    let root = SVGBackend::with_string(svg, (1200, 500 + legend_height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&format!("{dataset}: NN (blues) vs CNN (reds)"), ("sans-serif", 24))?;
    let (charts, legend) = root.split_vertically(500 - 30);
    let panels = charts.split_evenly((1, 2));
    let max_epoch = trials.iter().flat_map(|t| t.epochs.iter().map(|e| e.epoch)).max().unwrap_or(1).max(2) as f64;
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    let max_loss = trials.iter().flat_map(|t| t.epochs.iter().map(|e| finite(e.train_loss))).fold(0.1, f64::max) * 1.05;
    let min_acc = trials.iter().flat_map(|t| t.epochs.iter().map(|e| e.test_acc)).fold(1.0, f64::min);
    let acc_floor = (min_acc * 100.0 / 5.0).floor() * 5.0;

    type Pick = fn(&crate::train::EpochMetrics) -> f64;
    let specs: [(&str, &str, f64, f64, Pick); 2] = [
        ("Test accuracy", "test accuracy (%)", acc_floor.min(90.0), 100.0, |e| e.test_acc * 100.0),
        ("Train loss", "mean train loss", 0.0, max_loss, |e| e.train_loss),
    ];
    for (panel, (title, y_desc, y_min, y_max, pick)) in panels.iter().zip(specs) {
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 18))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0..max_epoch, y_min..y_max)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(y_desc)
            .x_labels(max_epoch as usize)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()?;
        let mut seen = [0usize; 2];
        for t in trials {
            let model = t.trial.spec.model;
            let slot = &mut seen[usize::from(model != ModelKind::Nn)];
            let c = color(model, *slot);
            *slot += 1;
            let points: Vec<(f64, f64)> =
                t.epochs.iter().map(|e| (e.epoch as f64, pick(e))).filter(|p| p.1.is_finite()).collect();
            chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?;
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
        }
    }
    let mut seen = [0usize; 2];
    for (i, (t, label)) in trials.iter().zip(labels(trials)).enumerate() {
        let model = t.trial.spec.model;
        let slot = &mut seen[usize::from(model != ModelKind::Nn)];
        let c = color(model, *slot);
        *slot += 1;
        let (x, y) = (40 + 580 * (i % 2) as i32, 10 + 20 * (i / 2) as i32);
        legend.draw(&PathElement::new(vec![(x, y + 7), (x + 24, y + 7)], c.stroke_width(3)))?;
        legend.draw(&Text::new(label, (x + 32, y), ("sans-serif", 13)))?;
    }
    root.present()?;
    Ok(())
}

/// `final_accuracy.svg`: one bar per configuration, grouped by data set.
pub fn bars(report: &Report, path: &Path) -> Result<()> {
    let mut svg = String::new();
    draw_bars(report, &mut svg).map_err(|e| plot_error(path, e))?;
    write_file(path, svg.as_bytes())
}

fn draw_bars(report: &Report, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let groups: Vec<_> = report.groups.iter().filter(|g| g.final_acc.n > 0).collect();
    let width = (groups.len() as u32 * 110 + 200).max(700);
    // Bars are numbered; the key below names each configuration in full, so labels never overlap.
    let names: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let settings: Vec<String> = report.keys.iter().zip(&g.values).map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}: {} {} {}", i + 1, g.data, g.model, settings.join(", "))
        })
        .collect();
    let root = SVGBackend::with_string(svg, (width, 500 + 18 * names.len() as u32 + 10)).into_drawing_area();
    root.fill(&WHITE)?;
    let (root, key) = root.split_vertically(500);
    for (row, name) in names.iter().enumerate() {
        key.draw(&Text::new(name.clone(), (80, 18 * row as i32), ("sans-serif", 13)))?;
    }
    let labels: Vec<String> = (1..=groups.len()).map(|i| i.to_string()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("Final test accuracy (NN blue, CNN red)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..(groups.len() as f64 - 0.5).max(0.5), 0.0..100.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("test accuracy (%)")
        .x_labels(groups.len().max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .draw()?;
    chart.draw_series(groups.iter().enumerate().map(|(i, g)| {
        // The nth configuration of its model gets the nth shade of its colour.
        let c = color(g.model, groups[..i].iter().filter(|o| o.model == g.model).count());
        Rectangle::new([(i as f64 - 0.35, 0.0), (i as f64 + 0.35, g.final_acc.mean * 100.0)], c.filled())
    }))?;
    // With several seeds: ± one standard deviation as an error bar, and the seeds as dots.
    for (i, g) in groups.iter().enumerate().filter(|(_, g)| g.final_acc.n > 1) {
        let (x, lo, hi) =
            (i as f64, (g.final_acc.mean - g.final_acc.std) * 100.0, (g.final_acc.mean + g.final_acc.std) * 100.0);
        chart.draw_series([
            PathElement::new(vec![(x, lo), (x, hi)], BLACK.stroke_width(2)),
            PathElement::new(vec![(x - 0.1, lo), (x + 0.1, lo)], BLACK.stroke_width(2)),
            PathElement::new(vec![(x - 0.1, hi), (x + 0.1, hi)], BLACK.stroke_width(2)),
        ])?;
        chart.draw_series(g.finals.iter().map(|&acc| Circle::new((x + 0.2, acc * 100.0), 3, BLACK.filled())))?;
    }
    chart.draw_series(groups.iter().enumerate().map(|(i, g)| {
        let label = match g.final_acc.n {
            1 => format!("{:.1}%", g.final_acc.mean * 100.0),
            _ => format!("{:.1} ± {:.1}%", g.final_acc.mean * 100.0, g.final_acc.std * 100.0),
        };
        let top = (g.final_acc.mean + g.final_acc.std) * 100.0;
        Text::new(label, (i as f64 - 0.3, top + 4.0), ("sans-serif", 14))
    }))?;
    root.present()?;
    Ok(())
}

/// `search_<key>.svg`: each trial's final test accuracy against its value of a searched numeric
/// key (a log axis for log-uniform keys, whole-number ticks for integer keys), NN in blue and CNN
/// in red; pruned trials apart: hollow, lighter, and named in the key as "pruned at a rung".
pub fn search(trials: &[&TrialSummary], key: &str, log: bool, path: &Path) -> Result<()> {
    let mut svg = String::new();
    draw_search(trials, key, log, &mut svg).map_err(|e| plot_error(path, e))?;
    write_file(path, svg.as_bytes())
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
) -> Result<(), Box<dyn std::error::Error>> {
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
            let last = t.epochs.last()?;
            Some((value, last.test_acc * 100.0, t.trial.spec.model, t.status == Status::Pruned))
        })
        .collect();
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
        .caption(format!("Final test accuracy against {key}"), ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60);
    let x_desc = if log { format!("{key} (log scale)") } else { key.to_string() };
    // The same drawing on each kind of axis (the coordinate types differ, hence the macro);
    // `$at` maps a key's value to the axis.
    macro_rules! draw {
        ($x:expr, $at:expr, $label:expr) => {{
            let at = $at;
            let mut chart = builder.build_cartesian_2d($x, 0.0..100.0)?;
            chart
                .configure_mesh()
                .x_label_formatter(&$label)
                .y_label_formatter(&|v: &f64| format!("{v:.0}"))
                .x_desc(x_desc.as_str())
                .y_desc("final test accuracy (%)")
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
        key_area.draw(&Text::new("pruned: accuracy at the", (8, 170), font.clone()))?;
        key_area.draw(&Text::new("epoch ASHA stopped it", (8, 188), font.clone()))?;
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

/// `pareto_<dataset>.svg`: each done trial's shipped test accuracy against its train seconds
/// (log axis), NN blue and CNN red; the trials no other trial beats on both drawn as a line and
/// named.
pub fn pareto(trials: &[&TrialSummary], dataset: &str, path: &Path) -> Result<()> {
    let mut svg = String::new();
    draw_pareto(trials, dataset, &mut svg).map_err(|e| plot_error(path, e))?;
    write_file(path, svg.as_bytes())
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

/// The points no other point beats: at most as slow and more accurate, or faster and as
/// accurate; in order of time.
pub fn frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0).then(points[b].1.total_cmp(&points[a].1)));
    let mut best = f64::NEG_INFINITY;
    order
        .into_iter()
        .filter(|&i| {
            let better = points[i].1 > best;
            best = best.max(points[i].1);
            better
        })
        .collect()
}

fn draw_pareto(trials: &[&TrialSummary], dataset: &str, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let done: Vec<(&TrialSummary, f64, f64)> = trials
        .iter()
        .filter(|t| t.status == Status::Done)
        .filter_map(|t| {
            Some((*t, t.train_seconds().max(1e-3), crate::run::metrics::shipped(&t.epochs)?.test_acc * 100.0))
        })
        .collect();
    let xy: Vec<(f64, f64)> = done.iter().map(|(_, x, y)| (*x, *y)).collect();
    let (x_lo, x_hi) = xy.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (y_lo, y_hi) = xy.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    // Room around the points so none is clipped, and a decade at least on the log axis.
    let (x_lo, x_hi) = (x_lo / 1.5, (x_hi * 1.5).max(x_lo * 10.0 / 1.5));
    // A third more of the (log) range on the right, for the names of the rightmost points.
    let x_hi = x_hi * (x_hi / x_lo).powf(0.35);
    let (y_lo, y_hi) = (((y_lo - 2.0) / 5.0).floor() * 5.0, (((y_hi + 2.0) / 5.0).ceil() * 5.0).min(100.0));
    let root = SVGBackend::with_string(svg, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{dataset}: test accuracy against train time (NN blue, CNN red; frontier named)"),
            ("sans-serif", 18),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo.max(0.0)..y_hi)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(8)
        .x_label_formatter(&|v| significant(*v))
        .x_desc("train seconds (log scale)")
        .y_desc("test accuracy of the shipped checkpoint (%)")
        .draw()?;
    let front = frontier(&xy);
    chart.draw_series(LineSeries::new(front.iter().map(|&i| xy[i]), BLACK.mix(0.4).stroke_width(2)))?;
    chart.draw_series(done.iter().map(|(t, x, y)| Circle::new((*x, *y), 5, color(t.trial.spec.model, 1).filled())))?;
    let names = labels(&done.iter().map(|(t, ..)| *t).collect::<Vec<_>>());
    for (nth, &i) in front.iter().enumerate() {
        let (_, x, y) = done[i];
        // Neighbours' names alternate above and below their points, so close points stay legible.
        let offset = if nth % 2 == 0 { -16 } else { 6 };
        let label = Text::new(names[i].clone(), (8, offset), ("sans-serif", 13).into_font().color(&BLACK));
        chart.draw_series(std::iter::once(EmptyElement::at((x, y)) + label))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tick_labels_have_two_significant_digits_and_no_trailing_zeros() {
        let labels: Vec<String> = [0.001, 0.0025, 0.2, 1.0, 15.0, 1200.0, 0.25].map(super::significant).to_vec();
        assert_eq!(labels, ["0.001", "0.0025", "0.2", "1", "15", "1200", "0.25"]);
    }

    #[test]
    fn log_ticks_cover_the_whole_range() {
        // The data of the issue: 0.0019 to 0.16 had ticks at 0.01 and 0.1 only.
        assert_eq!(super::log_ticks(0.0019, 0.16), [0.002, 0.005, 0.01, 0.02, 0.05, 0.1]);
        assert_eq!(super::log_ticks(1e-5, 1.0), [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
        let narrow = super::log_ticks(0.011, 0.019);
        assert!(narrow.len() >= 2 && narrow.iter().all(|t| (0.011..=0.019).contains(t)), "{narrow:?}");
    }

    #[test]
    fn no_two_configurations_share_a_label_or_a_colour() {
        use crate::run::summary::TrialSummary;
        use crate::spec::{ModelKind, Spec, Trial};
        // Two runs, each sweeping only the seed: their trial names are alike, momentum tells them apart.
        let trial = |momentum: f64, seed: i64| {
            let spec = Spec { model: ModelKind::Nn, momentum, seed, ..Spec::default() };
            let swept = vec![("seed".to_string(), seed.to_string())];
            TrialSummary::pending(&Trial { index: 0, name: format!("seed={seed}"), swept, spec, group: 0 })
        };
        let trials = [trial(0.0, 1), trial(0.9, 1), trial(0.9, 1)];
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
    fn the_frontier_keeps_the_points_nothing_beats() {
        // (seconds, accuracy): b is slower and worse than a; d ties c's time, less accurate.
        let points = [(1.0, 90.0), (2.0, 89.0), (10.0, 97.0), (10.0, 96.0), (0.5, 85.0), (30.0, 97.0)];
        assert_eq!(super::frontier(&points), [4, 0, 2]);
        assert!(super::frontier(&[]).is_empty());
    }
}
