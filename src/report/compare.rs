//! "Does the CNN beat the NN, by how much, at what cost?": per data set and per setting of the
//! other keys that differ, the CNN's gain in test accuracy over the NN with its 95 % interval
//! and p-value, and the cost of each in parameters, MACs and train time (comparison.csv and
//! the sentences of report.md).

use super::stats::{self, Estimate};
use super::table::Stat;
use crate::model::ModelKind;
use crate::run::state::Status;
use crate::run::summary::TrialSummary;
use crate::spec::DatasetName;

/// The test the interval and p-value come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Test {
    /// Both models ran the same seeds: the per-seed differences.
    Paired,
    /// Welch's t-test on two independent groups.
    Welch,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub dataset: DatasetName,
    /// The values of the report's keys (model and seed aside) this row compares at.
    pub values: Vec<String>,
    pub nn: Side,
    pub cnn: Side,
    /// cnn mean - nn mean, as a fraction.
    pub gain: f64,
    /// With its test; None with fewer than two trials on a side (`why` says so).
    pub estimate: Option<(Test, Estimate)>,
    pub why: Option<String>,
}

/// One model's trials at a setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// Test accuracy of each done trial's shipped checkpoint, with its seed.
    pub accuracies: Vec<(i64, f64)>,
    pub accuracy: Stat,
    pub params: u128,
    pub macs: u128,
    pub train_seconds: f64,
    /// Mean seconds evaluating (validation and test after each epoch); None when a trial did not
    /// record it.
    pub eval_seconds: Option<f64>,
    /// Mean test images per second at evaluation, where the trials recorded it.
    pub eval_images_per_second: Option<f64>,
    /// Trials of this setting that did not finish done (pruned, failed, still to run).
    pub left_out: usize,
}

/// The comparisons of `trials`, grouped by data set and the values of `keys` (the report's
/// grouping keys, model and seed not among them). Only done trials count; a setting where one
/// model has none is no comparison.
pub fn compare(trials: &[TrialSummary], keys: &[String]) -> Vec<Comparison> {
    // Each trial's data set (a folder by its path) and exact values, read once.
    let of: Vec<(String, Vec<String>)> =
        trials.iter().map(|t| (t.trial.spec.data_label(), t.trial.values_exact(keys))).collect();
    let is = |i: usize, model: ModelKind| trials[i].trial.spec.model == model;
    // Each CNN configuration is a setting; its NN side is the NN trials that agree with it on
    // every key that applies to both (an NN has no conv keys: "-" agrees with any value).
    let mut settings: Vec<usize> = Vec::new();
    for i in 0..trials.len() {
        if is(i, ModelKind::Cnn) && !settings.iter().any(|&j| of[j] == of[i]) {
            settings.push(i);
        }
    }
    let agree = |a: &[String], b: &[String]| {
        a.iter().zip(b).all(|(x, y)| x == y || x == crate::spec::NOT_APPLICABLE || y == crate::spec::NOT_APPLICABLE)
    };
    settings
        .into_iter()
        .filter_map(|first| {
            let (data, exact) = &of[first];
            let members = |model: ModelKind| -> Vec<&TrialSummary> {
                (0..trials.len())
                    .filter(|&i| is(i, model) && of[i].0 == *data)
                    .filter(|&i| if model == ModelKind::Cnn { of[i].1 == *exact } else { agree(&of[i].1, exact) })
                    .map(|i| &trials[i])
                    .collect()
            };
            let (nn, cnn) = (side(&members(ModelKind::Nn))?, side(&members(ModelKind::Cnn))?);
            let gain = cnn.accuracy.mean - nn.accuracy.mean;
            let (estimate, why) = estimate(&nn, &cnn);
            let trial = &trials[first].trial;
            Some(Comparison {
                dataset: trial.spec.dataset.clone(),
                values: trial.values_text(keys),
                nn,
                cnn,
                gain,
                estimate,
                why,
            })
        })
        .collect()
}

fn side(members: &[&TrialSummary]) -> Option<Side> {
    // A repeated seed (the same run read twice) is one trial, not two independent ones.
    let mut done: Vec<&&TrialSummary> = Vec::new();
    for t in members.iter().filter(|t| t.status == Status::Done) {
        if !done.iter().any(|d| d.trial.spec.seed == t.trial.spec.seed) {
            done.push(t);
        }
    }
    let first = done.first()?;
    let accuracies: Vec<(i64, f64)> = done
        .iter()
        .filter_map(|t| Some((t.trial.spec.seed, crate::run::metrics::shipped(&t.epochs)?.test_acc)))
        .collect();
    // Done trials recorded their images before they trained.
    let (params, macs) = first.costs().unwrap_or_default();
    Some(Side {
        accuracy: Stat::of(&accuracies.iter().map(|(_, a)| *a).collect::<Vec<_>>()),
        accuracies,
        params,
        macs,
        train_seconds: done.iter().map(|t| t.train_seconds()).sum::<f64>() / done.len() as f64,
        eval_seconds: done.iter().map(|t| t.eval_seconds()).sum::<Option<f64>>().map(|s| s / done.len() as f64),
        eval_images_per_second: {
            let rates: Vec<f64> = done.iter().filter_map(|t| t.eval_images_per_second).collect();
            (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
        },
        left_out: members.len() - done.len(),
    })
}

fn estimate(nn: &Side, cnn: &Side) -> (Option<(Test, Estimate)>, Option<String>) {
    let mut nn_seeds: Vec<i64> = nn.accuracies.iter().map(|(s, _)| *s).collect();
    let mut cnn_seeds: Vec<i64> = cnn.accuracies.iter().map(|(s, _)| *s).collect();
    nn_seeds.sort_unstable();
    cnn_seeds.sort_unstable();
    let unique = nn_seeds.windows(2).all(|w| w[0] != w[1]);
    let values = |side: &Side| side.accuracies.iter().map(|(_, a)| *a).collect::<Vec<f64>>();
    if nn_seeds == cnn_seeds && unique {
        let by_seed = |side: &Side| {
            let mut pairs = side.accuracies.clone();
            pairs.sort_by_key(|(s, _)| *s);
            pairs.into_iter().map(|(_, a)| a).collect::<Vec<f64>>()
        };
        if let Some(e) = stats::paired(&by_seed(nn), &by_seed(cnn)) {
            return (Some((Test::Paired, e)), None);
        }
    } else if let Some(e) = stats::welch(&values(nn), &values(cnn)) {
        return (Some((Test::Welch, e)), None);
    }
    let why = format!(
        "{} NN and {} CNN trial{}: an interval needs two seeds of each",
        nn.accuracies.len(),
        cnn.accuracies.len(),
        if cnn.accuracies.len() == 1 { "" } else { "s" }
    );
    (None, Some(why))
}

/// The header and rows of comparison.csv: accuracies as fractions, as in summary.csv.
pub fn csv_table(comparisons: &[Comparison], keys: &[String]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["dataset".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(
        [
            "n_nn",
            "n_cnn",
            "nn_mean",
            "cnn_mean",
            "gain",
            "ci_low",
            "ci_high",
            "p_value",
            "test",
            "nn_params",
            "cnn_params",
            "nn_macs",
            "cnn_macs",
            "nn_train_seconds",
            "cnn_train_seconds",
            "nn_eval_seconds",
            "cnn_eval_seconds",
            "nn_eval_images_per_second",
            "cnn_eval_images_per_second",
            "nn_left_out",
            "cnn_left_out",
        ]
        .map(String::from),
    );
    let rows = comparisons
        .iter()
        .map(|c| {
            let mut row = vec![c.dataset.to_string()];
            row.extend(c.values.iter().cloned());
            let estimate = c.estimate.as_ref();
            row.extend([
                c.nn.accuracies.len().to_string(),
                c.cnn.accuracies.len().to_string(),
                format!("{:.6}", c.nn.accuracy.mean),
                format!("{:.6}", c.cnn.accuracy.mean),
                format!("{:.6}", c.gain),
                estimate.map(|(_, e)| format!("{:.6}", e.low)).unwrap_or_default(),
                estimate.map(|(_, e)| format!("{:.6}", e.high)).unwrap_or_default(),
                estimate.and_then(|(_, e)| e.p_value).map(|p| format!("{p:.4e}")).unwrap_or_default(),
                estimate.map(|(t, _)| test_name(*t).to_string()).unwrap_or_default(),
                c.nn.params.to_string(),
                c.cnn.params.to_string(),
                c.nn.macs.to_string(),
                c.cnn.macs.to_string(),
                format!("{:.3}", c.nn.train_seconds),
                format!("{:.3}", c.cnn.train_seconds),
                c.nn.eval_seconds.map(|s| format!("{s:.3}")).unwrap_or_default(),
                c.cnn.eval_seconds.map(|s| format!("{s:.3}")).unwrap_or_default(),
                c.nn.eval_images_per_second.map(|r| format!("{r:.0}")).unwrap_or_default(),
                c.cnn.eval_images_per_second.map(|r| format!("{r:.0}")).unwrap_or_default(),
                c.nn.left_out.to_string(),
                c.cnn.left_out.to_string(),
            ]);
            row
        })
        .collect();
    (header, rows)
}

/// "0.012", "2.0e-6": three decimals, scientific below 0.001.
pub fn show_p(p: f64) -> String {
    match p {
        0.0 => "0".into(),
        p if p >= 0.001 => format!("{p:.3}"),
        p => format!("{p:.1e}"),
    }
}

pub fn test_name(test: Test) -> &'static str {
    match test {
        Test::Paired => "paired",
        Test::Welch => "welch",
    }
}

/// "mnist: CNN 97.40 % vs NN 91.80 % (5 seeds, paired): +5.60 pt, 95 % CI [5.30, 5.90],
/// p = 2.0e-6; 2.2x the parameters, 26x the MACs, 12x the train time, 3.1x the evaluation time".
pub fn sentence(c: &Comparison, keys: &[String]) -> String {
    let setting: Vec<String> = keys.iter().zip(&c.values).map(|(k, v)| format!("{k}={v}")).collect();
    let at = if setting.is_empty() { String::new() } else { format!(" ({})", setting.join(", ")) };
    let pt = |x: f64| x * 100.0;
    let (n_nn, n_cnn) = (c.nn.accuracies.len(), c.cnn.accuracies.len());
    let trials = match c.estimate {
        Some((Test::Paired, _)) => format!("{n_nn} seeds, paired"),
        Some((Test::Welch, _)) => format!("{n_cnn} vs {n_nn} trials, Welch"),
        None => format!("{n_cnn} vs {n_nn} trial{}", if n_nn == 1 { "" } else { "s" }),
    };
    let uncertainty = match (&c.estimate, &c.why) {
        (Some((_, e)), _) => {
            format!(
                ", 95 % CI [{:+.2}, {:+.2}], p = {}",
                pt(e.low),
                pt(e.high),
                e.p_value.map_or_else(|| "-".to_string(), show_p)
            ) + if e.low == e.high { " (no spread)" } else { "" }
        }
        (None, Some(why)) => format!(" (no interval: {why})"),
        (None, None) => String::new(),
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.1}x", a / b) } else { "-".into() };
    let eval = match (c.cnn.eval_seconds, c.nn.eval_seconds) {
        (Some(cnn), Some(nn)) => format!(", {} the evaluation time", ratio(cnn, nn)),
        _ => String::new(),
    };
    let left_out = c.nn.left_out + c.cnn.left_out;
    let left = if left_out > 0 {
        format!("; {left_out} pruned, failed or unfinished trial{} left out", if left_out == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    format!(
        "{}{at}: CNN {:.2} % vs NN {:.2} % ({trials}): {:+.2} pt{uncertainty}; {} the parameters, {} the MACs, {} the train time{eval}{left}",
        c.dataset,
        pt(c.cnn.accuracy.mean),
        pt(c.nn.accuracy.mean),
        pt(c.gain),
        ratio(c.cnn.params as f64, c.nn.params as f64),
        ratio(c.cnn.macs as f64, c.nn.macs as f64),
        ratio(c.cnn.train_seconds, c.nn.train_seconds),
    )
}
