//! `history.svg`: a TPE search's optimization history, its objective trial by trial and the
//! best so far, with its rounds marked.

use std::path::Path;

use plotters::prelude::*;

use super::color;
use super::search::objective;
use crate::error::Result;
use crate::run::summary::TrialSummary;

/// One point of the history: a trial's place in its study, round, objective (%) and model.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    study: usize,
    nth: usize,
    round: usize,
    objective: Option<f64>,
    model: crate::spec::ModelKind,
}

/// `history.svg` and its PNG for the TPE trials of `trials` (one study per grid point, each its
/// own best-so-far line): each trial's objective against its place in its study, dashed lines
/// where a round begins. Nothing is drawn when no trial is a TPE trial.
pub fn history(trials: &[&TrialSummary], path: &Path) -> Result<bool> {
    let points = points(trials);
    if points.is_empty() {
        return Ok(false);
    }
    super::save(path, |svg| draw(&points, svg))?;
    Ok(true)
}

fn points(trials: &[&TrialSummary]) -> Vec<Point> {
    // A study is a grid point of one run: a report over several runs has one per run and point.
    let mut studies: Vec<(&str, usize)> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    trials
        .iter()
        .filter_map(|t| {
            let round = t.trial.round?;
            let id = (t.run.as_str(), t.trial.group);
            let study = match studies.iter().position(|s| *s == id) {
                Some(s) => s,
                None => {
                    studies.push(id);
                    counts.push(0);
                    studies.len() - 1
                }
            };
            counts[study] += 1;
            Some(Point {
                study,
                nth: counts[study],
                round: round.number,
                objective: objective(t).map(|(v, _)| v),
                model: t.trial.spec.model,
            })
        })
        .collect()
}

/// The best objective so far at each point of `study` that has one.
fn best_so_far(points: &[Point], study: usize) -> Vec<(usize, f64)> {
    let mut best = f64::NEG_INFINITY;
    points
        .iter()
        .filter(|p| p.study == study)
        .filter_map(|p| {
            best = best.max(p.objective?);
            Some((p.nth, best))
        })
        .collect()
}

fn draw(points: &[Point], svg: &mut String) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let n = points.iter().map(|p| p.nth).max().unwrap_or(1);
    let values: Vec<f64> = points.iter().filter_map(|p| p.objective).collect();
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo <= hi { ((lo - 2.0).max(0.0), (hi + 2.0).min(100.0)) } else { (0.0, 100.0) };
    let root = SVGBackend::with_string(svg, (960, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("TPE search: objective per trial and the best so far", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5f64..n as f64 + 0.5, lo..hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("trial of the study, in the order drawn")
        .y_desc("best validation accuracy (%)")
        .x_label_formatter(&|v: &f64| format!("{v:.0}"))
        .y_label_formatter(&|v: &f64| format!("{v:.0}"))
        .draw()?;
    // A dashed line before each round's first trial, of the first study (all share the rounds).
    let starts: Vec<usize> = points
        .windows(2)
        .filter(|w| w[0].study == 0 && w[1].study == 0 && w[1].round != w[0].round)
        .map(|w| w[1].nth)
        .collect();
    let grey = RGBColor(150, 150, 150);
    for &start in &starts {
        let x = start as f64 - 0.5;
        chart.draw_series(DashedLineSeries::new([(x, lo), (x, hi)], 4, 4, grey.stroke_width(1)))?;
    }
    // Each round named at the top, left in its span (the first one too).
    let font = ("sans-serif", 13).into_font().color(&grey);
    let top = hi - (hi - lo) * 0.01;
    for (round, start) in std::iter::once(1).chain(starts.iter().copied()).enumerate() {
        let label = format!("round {round}");
        chart.draw_series(std::iter::once(Text::new(label, (start as f64 - 0.4, top), font.clone())))?;
    }
    let studies = points.iter().map(|p| p.study).max().unwrap_or(0) + 1;
    for study in 0..studies {
        let model = points.iter().find(|p| p.study == study).map_or(crate::spec::ModelKind::Nn, |p| p.model);
        let line = color(model, study);
        let best = best_so_far(points, study);
        let steps: Vec<(f64, f64)> = best
            .iter()
            .enumerate()
            .flat_map(|(i, &(x, y))| {
                let next = best.get(i + 1).map_or(x as f64, |&(nx, _)| nx as f64);
                [(x as f64, y), (next, y)]
            })
            .collect();
        let label = if studies == 1 { "best so far".to_string() } else { format!("search {}: best so far", study + 1) };
        chart
            .draw_series(LineSeries::new(steps, line.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], line.stroke_width(2)));
        let dots = points.iter().filter(|p| p.study == study).filter_map(|p| Some((p.nth as f64, p.objective?)));
        chart.draw_series(dots.map(|(x, y)| Circle::new((x, y), 4, line.mix(0.7).filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::rounds::Round;
    use crate::spec::{Spec, Trial};
    use crate::train::EpochMetrics;

    fn trial(index: usize, round: usize, val: Option<f64>) -> TrialSummary {
        let spec = Spec { val_split: 0.1, ..Spec::default() };
        let round = Some(Round { number: round, drawn: true });
        let trial = Trial { index, name: format!("round={round:?}"), swept: vec![], spec, group: 0, round };
        let mut t = TrialSummary::pending(&trial);
        if let Some(v) = val {
            t.epochs = vec![EpochMetrics { epoch: 1, val_acc: Some(v), test_acc: 0.5, ..Default::default() }];
        }
        t
    }

    #[test]
    fn the_best_so_far_only_rises_and_skips_trials_without_an_objective() {
        let trials = [trial(0, 0, Some(0.5)), trial(1, 0, None), trial(2, 1, Some(0.4)), trial(3, 1, Some(0.7))];
        let refs: Vec<&TrialSummary> = trials.iter().collect();
        let points = points(&refs);
        assert_eq!(points.iter().map(|p| p.round).collect::<Vec<_>>(), [0, 0, 1, 1]);
        assert_eq!(best_so_far(&points, 0), [(1, 50.0), (3, 50.0), (4, 70.0)]);
        let dir = tempfile::tempdir().unwrap();
        assert!(history(&refs, &dir.path().join("history.svg")).unwrap());
        let svg = std::fs::read_to_string(dir.path().join("history.svg")).unwrap();
        assert!(svg.contains("best so far") && svg.contains("objective per trial"), "{svg}");
        assert!(dir.path().join("history.png").is_file());
    }

    #[test]
    fn two_runs_are_two_studies() {
        let mut trials = [trial(0, 0, Some(0.5)), trial(1, 0, Some(0.6)), trial(0, 0, Some(0.2))];
        trials[2].run = "other".into();
        let refs: Vec<&TrialSummary> = trials.iter().collect();
        let points = points(&refs);
        assert_eq!(points.iter().map(|p| (p.study, p.nth)).collect::<Vec<_>>(), [(0, 1), (0, 2), (1, 1)]);
        assert_eq!(best_so_far(&points, 1), [(1, 20.0)]);
    }

    #[test]
    fn no_history_without_a_tpe_trial() {
        let mut plain = trial(0, 0, Some(0.5));
        plain.trial.round = None;
        let dir = tempfile::tempdir().unwrap();
        assert!(!history(&[&plain], &dir.path().join("history.svg")).unwrap());
        assert!(!dir.path().join("history.svg").exists());
    }
}
