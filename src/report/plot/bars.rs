//! `final_accuracy.svg`: one bar per configuration, grouped by data set, named below it where
//! the names fit (one line per key), else numbered with a key below the chart.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::color;
use crate::error::Result;
use crate::report::table::Report;

/// The widest a figure grows to name its bars before it numbers them instead.
const MAX_WIDTH: u32 = 1800;

/// Pixels a 13 px sans-serif line takes per character, a little generously.
const CHAR_WIDTH: f64 = 7.5;

/// `final_accuracy.svg` and its PNG.
pub fn bars(report: &Report, path: &Path) -> Result<()> {
    super::save(path, |svg| draw(report, svg))
}

/// Each configuration's name, one line per part: its data set (when the report has several),
/// its model and its values of the report's keys.
fn name_lines(report: &Report) -> Vec<Vec<String>> {
    let groups = report.groups.iter().filter(|g| g.final_acc.n > 0);
    let several_data = report.groups.iter().any(|g| g.data != report.groups[0].data);
    groups
        .map(|g| {
            let mut lines = Vec::new();
            if several_data {
                lines.push(g.data.clone());
            }
            lines.push(g.model.to_string());
            lines.extend(report.keys.iter().zip(&g.values).map(|(k, v)| format!("{k}={v}")));
            lines
        })
        .collect()
}

/// The width of each bar's slot when the names fit under the bars; None when they do not.
fn named_slot(lines: &[Vec<String>]) -> Option<u32> {
    let widest = lines.iter().flatten().map(|l| l.chars().count()).max().unwrap_or(0);
    let slot = ((widest as f64 * CHAR_WIDTH) as u32 + 12).max(110);
    (lines.len() as u32 * slot + 200 <= MAX_WIDTH).then_some(slot)
}

fn draw(report: &Report, svg: &mut String) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let groups: Vec<_> = report.groups.iter().filter(|g| g.final_acc.n > 0).collect();
    let lines = name_lines(report);
    let slot = named_slot(&lines);
    let width = (groups.len() as u32 * slot.unwrap_or(110) + 200).max(700);
    let rows = lines.iter().map(Vec::len).max().unwrap_or(1) as u32;
    // Named: the names under the bars. Numbered: a key below the chart names each in full.
    let (label_area, key_height) = match slot {
        Some(_) => (20 + 16 * rows, 0),
        None => (40, 18 * groups.len() as u32 + 10),
    };
    let height = 460 + label_area;
    let root = SVGBackend::with_string(svg, (width, height + key_height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (root, key) = root.split_vertically(height);
    if slot.is_none() {
        for (row, (i, name)) in lines.iter().enumerate().enumerate() {
            let text = format!("{}: {}", i + 1, name.join(" "));
            key.draw(&Text::new(text, (80, 18 * row as i32), ("sans-serif", 13)))?;
        }
    }
    let numbers: Vec<String> = (1..=groups.len()).map(|i| i.to_string()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("Final test accuracy (NN blue, CNN red)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(label_area)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..(groups.len() as f64 - 0.5).max(0.5), 0.0..100.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("test accuracy (%)")
        .x_labels(groups.len().max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if slot.is_none() && (x - i).abs() < 1e-6 && i >= 0.0 {
                numbers.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .draw()?;
    if slot.is_some() {
        let style = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, name) in lines.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64, 0.0));
            for (row, line) in name.iter().enumerate() {
                root.draw(&Text::new(line.clone(), (x, y + 8 + 16 * row as i32), style.clone()))?;
            }
        }
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn bars_are_named_where_the_names_fit_and_numbered_where_they_do_not() {
        let short = vec![vec!["nn".to_string(), "lr=0.1".to_string()]; 4];
        assert_eq!(super::named_slot(&short), Some(110));
        let long = vec![vec!["cnn".to_string(), "conv_channels=16-32-64".to_string()]; 6];
        let slot = super::named_slot(&long).unwrap();
        assert!(slot as f64 >= 22.0 * super::CHAR_WIDTH, "widened to the longest line: {slot}");
        assert_eq!(super::named_slot(&vec![vec!["cnn".to_string(), "lr=0.1".to_string()]; 40]), None, "40 bars");
    }
}
