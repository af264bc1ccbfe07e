//! `curves_<data>.svg`: learning curves per configuration, the mean over its seeds at each
//! epoch with its 95 % interval as a band (Student's t; scipy's `t.interval`) and each seed a
//! faint line; train loss, validation accuracy where a split exists, and test accuracy, each
//! panel's y range fitted to what it draws.

use std::path::Path;

use plotters::prelude::*;

use super::{Configuration, colors, configurations};
use crate::error::Result;
use crate::report::stats::mean_interval;
use crate::run::state::Status;
use crate::run::summary::TrialSummary;
use crate::train::EpochMetrics;

/// A panel: its title, its y axis, what it reads from an epoch, and the bounds its values keep.
struct Panel {
    title: &'static str,
    y_desc: &'static str,
    pick: fn(&EpochMetrics) -> Option<f64>,
    bounds: (f64, f64),
}

const LOSS: Panel =
    Panel { title: "Train loss", y_desc: "mean train loss", pick: |e| Some(e.train_loss), bounds: (0.0, f64::MAX) };
const VALIDATION: Panel = Panel {
    title: "Validation accuracy",
    y_desc: "validation accuracy (%)",
    pick: |e| e.val_acc.map(|a| a * 100.0),
    bounds: (0.0, 100.0),
};
const TEST: Panel = Panel {
    title: "Test accuracy",
    y_desc: "test accuracy (%)",
    pick: |e| Some(e.test_acc * 100.0),
    bounds: (0.0, 100.0),
};

/// One point of a mean curve: the epoch, the mean over the seeds that reached it, and the
/// interval's ends (the mean itself with one seed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanPoint {
    pub epoch: f64,
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// The mean curve of one configuration's `trials` (one per seed) for what `pick` reads.
fn mean_curve(trials: &[&TrialSummary], pick: fn(&EpochMetrics) -> Option<f64>) -> Vec<MeanPoint> {
    let last = trials.iter().flat_map(|t| t.epochs.iter().map(|e| e.epoch)).max().unwrap_or(0);
    (1..=last)
        .filter_map(|epoch| {
            let values: Vec<f64> = trials
                .iter()
                .filter_map(|t| t.epochs.iter().find(|e| e.epoch == epoch))
                .filter_map(pick)
                .filter(|v| v.is_finite())
                .collect();
            let (mean, low, high) = mean_interval(&values)?;
            Some(MeanPoint { epoch: f64::from(epoch), mean, low, high })
        })
        .collect()
}

/// A y range holding every value with a twentieth of its span to spare on each side (a unit's
/// tenth when all are equal), kept within `bounds`.
fn fitted(values: impl Iterator<Item = f64>, bounds: (f64, f64)) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (bounds.0, bounds.1.min(1.0));
    }
    let pad = if hi > lo { (hi - lo) / 20.0 } else { lo.abs().max(1.0) / 10.0 };
    ((lo - pad).max(bounds.0), (hi + pad).min(bounds.1))
}

/// `curves_<data>.svg` and its PNG for one data set's `trials`. Failed trials are left out:
/// their last epochs are not the configuration's.
pub fn curves(trials: &[&TrialSummary], dataset: &str, path: &Path) -> Result<()> {
    let drawn: Vec<&TrialSummary> = trials.iter().copied().filter(|t| t.status != Status::Failed).collect();
    let drawn = if drawn.is_empty() { trials.to_vec() } else { drawn };
    super::save(path, |svg| draw(&configurations(&drawn), dataset, svg))
}

fn draw(
    configurations: &[Configuration],
    dataset: &str,
    svg: &mut String,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let split = configurations.iter().flat_map(|c| &c.trials).any(|t| t.epochs.iter().any(|e| e.val_acc.is_some()));
    let panels: Vec<&Panel> = if split { vec![&LOSS, &VALIDATION, &TEST] } else { vec![&LOSS, &TEST] };
    let seeds = configurations.iter().any(|c| c.trials.len() > 1);
    // The legend goes below the charts, so it never covers a curve.
    let width = 600 * panels.len() as u32;
    let per_row = panels.len();
    let legend_rows = configurations.len().div_ceil(per_row);
    let root = SVGBackend::with_string(svg, (width, 500 + 20 * legend_rows as u32 + 30)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = if seeds {
        format!("{dataset}: mean over seeds with its 95 % interval, each seed faint (NN blues, CNN reds)")
    } else {
        format!("{dataset}: NN (blues) vs CNN (reds)")
    };
    let root = root.titled(&title, ("sans-serif", 22))?;
    let (charts, legend) = root.split_vertically(500 - 30);
    let areas = charts.split_evenly((1, panels.len()));
    let max_epoch = configurations
        .iter()
        .flat_map(|c| c.trials.iter().flat_map(|t| t.epochs.iter().map(|e| e.epoch)))
        .max()
        .unwrap_or(1)
        .max(2) as f64;
    let colors = colors(configurations.iter().map(|c| c.model));
    for (area, panel) in areas.iter().zip(panels) {
        let curves: Vec<Vec<MeanPoint>> = configurations.iter().map(|c| mean_curve(&c.trials, panel.pick)).collect();
        let seed_values = configurations.iter().flat_map(|c| &c.trials).flat_map(|t| &t.epochs).filter_map(panel.pick);
        let band_values = curves.iter().flatten().flat_map(|p| [p.low, p.high]);
        let (y_min, y_max) = fitted(seed_values.chain(band_values).filter(|v| v.is_finite()), panel.bounds);
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, ("sans-serif", 18))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0..max_epoch, y_min..y_max)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(panel.y_desc)
            .x_labels((max_epoch as usize).min(12))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| super::significant(*y))
            .draw()?;
        for ((configuration, curve), &c) in configurations.iter().zip(&curves).zip(&colors) {
            if configuration.trials.len() > 1 {
                let band: Vec<(f64, f64)> = curve
                    .iter()
                    .map(|p| (p.epoch, p.high))
                    .chain(curve.iter().rev().map(|p| (p.epoch, p.low)))
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))?;
                for t in &configuration.trials {
                    let points = t.epochs.iter().filter_map(|e| Some((f64::from(e.epoch), (panel.pick)(e)?)));
                    chart.draw_series(LineSeries::new(
                        points.filter(|p| p.1.is_finite()),
                        c.mix(0.35).stroke_width(1),
                    ))?;
                }
            }
            let points: Vec<(f64, f64)> = curve.iter().map(|p| (p.epoch, p.mean)).collect();
            chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?;
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
        }
    }
    let column = width as i32 / per_row as i32;
    for (i, (configuration, c)) in configurations.iter().zip(&colors).enumerate() {
        let (x, y) = (40 + column * (i % per_row) as i32, 10 + 20 * (i / per_row) as i32);
        legend.draw(&PathElement::new(vec![(x, y + 7), (x + 24, y + 7)], c.stroke_width(3)))?;
        legend.draw(&Text::new(configuration.label.clone(), (x + 32, y), ("sans-serif", 13)))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ModelKind, Spec, Trial};

    fn trial(seed: i64, accs: &[f64]) -> TrialSummary {
        let spec = Spec { model: ModelKind::Cnn, seed, ..Spec::default() };
        let mut t = TrialSummary::pending(&Trial {
            index: 0,
            name: format!("seed={seed}"),
            swept: vec![],
            spec,
            group: 0,
            round: None,
        });
        t.epochs = accs
            .iter()
            .enumerate()
            .map(|(i, &a)| EpochMetrics { epoch: i as u32 + 1, test_acc: a, train_loss: 1.0 - a, ..Default::default() })
            .collect();
        t
    }

    #[test]
    fn a_curve_is_the_mean_over_the_seeds_that_reached_each_epoch() {
        let trials = [trial(1, &[0.91, 0.95]), trial(2, &[0.93]), trial(3, &[0.92, 0.97])];
        let refs: Vec<&TrialSummary> = trials.iter().collect();
        let curve = mean_curve(&refs, TEST.pick);
        assert_eq!(curve.len(), 2);
        // Epoch 1: [91, 93, 92] %; scipy 1.17.1: t.interval(0.95, 2, loc=92, scale=sem) = (89.5159, 94.4841).
        assert!((curve[0].mean - 92.0).abs() < 1e-9, "{curve:?}");
        assert!((curve[0].low - 89.51586228824967).abs() < 1e-6 && (curve[0].high - 94.48413771175034).abs() < 1e-6);
        // Epoch 2: the two seeds that reached it.
        assert!((curve[1].mean - 96.0).abs() < 1e-9 && curve[1].low < 96.0, "{curve:?}");
    }

    #[test]
    fn the_y_range_comes_from_the_data() {
        let (lo, hi) = fitted([97.0, 98.0, 99.0].into_iter(), (0.0, 100.0));
        assert!((lo - 96.9).abs() < 1e-9 && (hi - 99.1).abs() < 1e-9, "{lo} {hi}");
        assert_eq!(fitted([99.5, 100.0].into_iter(), (0.0, 100.0)).1, 100.0, "never past 100 %");
        assert_eq!(fitted([0.01, 0.02].into_iter(), (0.0, f64::MAX)).0, 0.0095);
    }

    #[test]
    fn each_configuration_is_one_mean_line_with_a_band_when_it_has_seeds() {
        let trials = [trial(1, &[0.91, 0.95]), trial(2, &[0.93, 0.96])];
        let refs: Vec<&TrialSummary> = trials.iter().collect();
        let mut svg = String::new();
        draw(&configurations(&refs), "mnist", &mut svg).unwrap();
        assert_eq!(svg.matches("<polygon").count(), 2, "one band per panel");
        assert!(svg.contains("cnn (2 seeds)") && svg.contains("95 % interval"), "{svg}");
        // Per panel: two faint seed lines and the mean (the first CNN colour, #67000D).
        assert_eq!(svg.matches(r##"opacity="0.35" stroke="#67000D" stroke-width="1""##).count(), 2 * 2);
        assert_eq!(svg.matches(r##"opacity="1" stroke="#67000D" stroke-width="2""##).count(), 2);
    }
}
