//! `pareto_<data>.svg`: accuracy against train time, the trials nothing beats on both named.

use std::path::Path;

use plotters::prelude::*;

use super::{color, labels, significant};
use crate::error::Result;
use crate::run::state::Status;
use crate::run::summary::TrialSummary;

/// `pareto_<dataset>.svg`: each done trial's shipped test accuracy against its train seconds
/// (log axis), NN blue and CNN red; the trials no other trial beats on both drawn as a line and
/// named.
pub fn pareto(trials: &[&TrialSummary], dataset: &str, path: &Path) -> Result<()> {
    super::save(path, |svg| draw_pareto(trials, dataset, svg))
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

fn draw_pareto(
    trials: &[&TrialSummary],
    dataset: &str,
    svg: &mut String,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
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
    fn the_frontier_keeps_the_points_nothing_beats() {
        // (seconds, accuracy): b is slower and worse than a; d ties c's time, less accurate.
        let points = [(1.0, 90.0), (2.0, 89.0), (10.0, 97.0), (10.0, 96.0), (0.5, 85.0), (30.0, 97.0)];
        assert_eq!(super::frontier(&points), [4, 0, 2]);
        assert!(super::frontier(&[]).is_empty());
    }
}
