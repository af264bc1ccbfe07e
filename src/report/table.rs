//! The results table: trials grouped by data set, model and every key that differs but the seed;
//! means and standard deviations over seeds; the best group per data set and model marked.

use crate::run::state::Status;
use crate::run::summary::TrialSummary;
use crate::spec::{DatasetName, ModelKind};

/// Mean and sample standard deviation of a few values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl Stat {
    pub fn of(values: &[f64]) -> Stat {
        let n = values.len();
        if n == 0 {
            return Stat::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        Stat { mean, std: var.sqrt(), n }
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub dataset: DatasetName,
    pub model: ModelKind,
    /// Values of the other swept fields (same order as `Report::keys`).
    pub values: Vec<String>,
    /// Trials in the group (one per seed), and how many have metrics.
    pub trials: usize,
    pub final_acc: Stat,
    /// The final test accuracy of each finished trial (its seeds).
    pub finals: Vec<f64>,
    pub best_acc: Stat,
    /// What "best" is chosen on: the validation accuracy of the shipped epoch with a split,
    /// else the final test accuracy.
    pub selection: Stat,
    pub final_loss: Stat,
    pub train_seconds: Stat,
    pub images_per_second: Stat,
    /// "done", or a count per status ("2 done, 1 failed").
    pub status: String,
    /// Highest mean final accuracy among two or more groups of its data set and model.
    pub best: bool,
    /// Trial names, for the plots' legends.
    pub names: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Report {
    /// Swept fields shown as columns besides dataset and model.
    pub keys: Vec<String>,
    pub groups: Vec<Group>,
    /// Some trial had no validation split: its best epoch was picked on the test set.
    pub best_on_test: bool,
    /// What a random search or ASHA found and what it cost; None for grids.
    pub search: Option<SearchSummary>,
}

/// A search's result and budget.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSummary {
    pub methods: Vec<String>,
    pub trials: usize,
    pub pruned: usize,
    pub epochs_trained: usize,
    /// What the same trials would train without pruning or early stopping.
    pub epochs_full: usize,
    pub best: Option<BestTrial>,
}

/// The best trial of a search, at its best epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct BestTrial {
    /// Its folder name.
    pub name: String,
    /// "cnn on mnist".
    pub what: String,
    /// Validation accuracy (with a split).
    pub val_acc: Option<f64>,
    pub test_acc: f64,
}

fn search_summary(trials: &[TrialSummary]) -> Option<SearchSummary> {
    let searched: Vec<&TrialSummary> = trials.iter().filter(|t| t.trial.spec.search.samples()).collect();
    if searched.is_empty() {
        return None;
    }
    let mut methods: Vec<String> = searched.iter().map(|t| t.trial.spec.search.method.to_string()).collect();
    methods.dedup();
    let score = crate::run::metrics::selection_score;
    let best = searched
        .iter()
        .filter_map(|t| crate::run::metrics::best(&t.epochs).map(|e| (t, e)))
        .fold(None, |best: Option<(&&TrialSummary, &crate::train::EpochMetrics)>, (t, e)| match best {
            Some((_, b)) if score(b) >= score(e) => best,
            _ => Some((t, e)),
        })
        .map(|(t, e)| BestTrial {
            name: t.trial.dir_name(),
            what: format!("{} on {}", t.trial.spec.model, t.trial.spec.data_label()),
            val_acc: e.val_acc,
            test_acc: e.test_acc,
        });
    Some(SearchSummary {
        methods,
        trials: searched.len(),
        pruned: searched.iter().filter(|t| t.status == Status::Pruned).count(),
        epochs_trained: searched.iter().map(|t| t.epochs.len()).sum(),
        epochs_full: searched.iter().map(|t| t.trial.spec.epochs as usize).sum(),
        best,
    })
}

pub fn build(trials: &[TrialSummary]) -> Report {
    // Groups are per data set, model and every other key that differs; they span the seeds.
    let keys: Vec<String> = crate::spec::differing_keys(trials.iter().map(|t| &t.trial))
        .into_iter()
        .filter(|k| !["model", "dataset", "seed"].contains(&k.as_str()))
        .collect();
    let mut groups: Vec<(Group, Vec<&TrialSummary>)> = Vec::new();
    for t in trials {
        let values = t.trial.values_text(&keys);
        let (dataset, model) = (t.trial.spec.dataset.clone(), t.trial.spec.model);
        match groups.iter_mut().find(|(g, _)| g.dataset == dataset && g.model == model && g.values == values) {
            Some((_, members)) => members.push(t),
            None => groups.push((
                Group {
                    dataset,
                    model,
                    values,
                    trials: 0,
                    final_acc: Stat::default(),
                    finals: Vec::new(),
                    best_acc: Stat::default(),
                    selection: Stat::default(),
                    final_loss: Stat::default(),
                    train_seconds: Stat::default(),
                    images_per_second: Stat::default(),
                    status: String::new(),
                    best: false,
                    names: Vec::new(),
                },
                vec![t],
            )),
        }
    }
    let mut groups: Vec<Group> = groups.into_iter().map(|(g, members)| summarize(g, &members)).collect();
    for i in 0..groups.len() {
        let rival = |g: &Group| g.dataset == groups[i].dataset && g.model == groups[i].model;
        let rivals = groups.iter().filter(|g| rival(g)).count();
        let top =
            groups.iter().filter(|g| rival(g) && g.selection.n > 0).map(|g| g.selection.mean).fold(f64::NAN, f64::max);
        groups[i].best = rivals > 1 && groups[i].selection.n > 0 && groups[i].selection.mean == top;
    }
    // Data sets in order of appearance, NN before CNN.
    let order: Vec<DatasetName> = groups.iter().fold(Vec::new(), |mut seen, g| {
        if !seen.contains(&g.dataset) {
            seen.push(g.dataset.clone());
        }
        seen
    });
    groups.sort_by_key(|g| (order.iter().position(|d| *d == g.dataset), g.model != ModelKind::Nn));
    let best_on_test = trials.iter().any(|t| t.epochs.first().is_some_and(|e| e.val_acc.is_none()));
    Report { keys, groups, best_on_test, search: search_summary(trials) }
}

fn summarize(mut group: Group, members: &[&TrialSummary]) -> Group {
    // A failed trial's last epoch says nothing about the configuration, nor does a pruned
    // trial's (it stopped after a rung): their status says it.
    let finished: Vec<&TrialSummary> = members
        .iter()
        .copied()
        .filter(|t| !t.epochs.is_empty() && !matches!(t.status, Status::Failed | Status::Pruned))
        .collect();
    let take = |f: &dyn Fn(&TrialSummary) -> f64| Stat::of(&finished.iter().map(|t| f(t)).collect::<Vec<_>>());
    group.trials = members.len();
    group.final_acc = take(&|t| t.epochs.last().map_or(0.0, |e| e.test_acc));
    group.finals = finished.iter().map(|t| t.epochs.last().map_or(0.0, |e| e.test_acc)).collect();
    // The test accuracy of the best epoch: picked on validation accuracy where there is a split.
    group.best_acc = take(&|t| crate::run::metrics::best(&t.epochs).map_or(0.0, |e| e.test_acc));
    group.selection = take(&|t| match crate::run::metrics::shipped(&t.epochs) {
        Some(e) => e.val_acc.unwrap_or_else(|| t.epochs.last().map_or(0.0, |l| l.test_acc)),
        None => 0.0,
    });
    group.final_loss = take(&|t| t.epochs.last().map_or(0.0, |e| e.test_loss));
    group.train_seconds = take(&|t| t.epochs.iter().map(|e| e.epoch_seconds).sum());
    group.images_per_second =
        take(&|t| t.epochs.iter().map(|e| e.images_per_second).sum::<f64>() / t.epochs.len() as f64);
    let mut counts: Vec<(Status, usize)> = Vec::new();
    for t in members {
        match counts.iter_mut().find(|(s, _)| *s == t.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((t.status, 1)),
        }
    }
    group.status = match counts.as_slice() {
        [(status, _)] => status.as_str().to_string(),
        _ => counts.iter().map(|(s, n)| format!("{n} {}", s.as_str())).collect::<Vec<_>>().join(", "),
    };
    group.names = members.iter().map(|t| t.trial.name.clone()).collect();
    group
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_over_seeds() {
        let s = Stat::of(&[0.9, 0.92, 0.94]);
        assert!((s.mean - 0.92).abs() < 1e-12 && (s.std - 0.02).abs() < 1e-12 && s.n == 3);
        assert_eq!(Stat::of(&[0.5]), Stat { mean: 0.5, std: 0.0, n: 1 });
        assert_eq!(Stat::of(&[]).n, 0);
    }

    fn record(model: &str, lr: &str, acc: f64, status: Status) -> TrialSummary {
        let spec = crate::spec::Spec { model: model.parse().unwrap(), ..Default::default() };
        let epoch = crate::train::EpochMetrics {
            epoch: 1,
            train_loss: 0.1,
            train_acc: acc,
            test_loss: 0.1,
            test_acc: acc,
            lr: 0.1,
            epoch_seconds: 1.0,
            images_per_second: 1.0,
            finished_at: String::new(),
            ..Default::default()
        };
        let swept = vec![("lr".into(), lr.into()), ("model".into(), model.into())];
        let trial = crate::spec::Trial { index: 0, name: format!("lr={lr},model={model}"), swept, spec, group: 0 };
        TrialSummary {
            trial,
            status,
            reason: String::new(),
            epochs: vec![epoch],
            eval_images_per_second: None,
            images: None,
        }
    }

    #[test]
    fn best_configuration_per_model_and_failed_trials_left_out() {
        let trials = [
            record("nn", "0.1", 0.90, Status::Done),
            record("nn", "0.01", 0.92, Status::Done),
            record("cnn", "0.1", 0.99, Status::Failed),
            record("cnn", "0.01", 0.97, Status::Done),
        ];
        let report = build(&trials);
        assert_eq!(report.keys, ["lr"]);
        let best: Vec<(&str, &str, bool)> =
            report.groups.iter().map(|g| (g.model.as_str(), g.values[0].as_str(), g.best)).collect();
        assert_eq!(best, [("nn", "0.1", false), ("nn", "0.01", true), ("cnn", "0.1", false), ("cnn", "0.01", true)]);
        assert_eq!(report.groups[2].final_acc.n, 0, "the failed trial has no statistics");
    }

    #[test]
    fn runs_that_differ_in_an_unswept_key_are_not_seeds_of_one_configuration() {
        // Two runs of one trial each, nothing swept: lr 0.1 in one, 1e-5 in the other.
        let unswept = |lr: f64, seed: i64, acc: f64| {
            let mut t = record("nn", "", acc, Status::Done);
            t.trial.swept.clear();
            t.trial.spec.lr = lr;
            t.trial.spec.seed = seed;
            t
        };
        let report = build(&[unswept(0.1, 1, 0.9), unswept(1e-5, 1, 0.3), unswept(0.1, 2, 0.92)]);
        assert_eq!(report.keys, ["lr"], "lr differs, seed is what a group spans, the rest is equal");
        let rows: Vec<(&str, usize)> = report.groups.iter().map(|g| (g.values[0].as_str(), g.trials)).collect();
        assert_eq!(rows, [("0.1", 2), ("0.00001", 1)]);
    }

    #[test]
    fn with_a_split_the_best_configuration_is_chosen_on_validation() {
        let with_val = |lr: &str, val: f64, test: f64| {
            let mut t = record("nn", lr, test, Status::Done);
            t.epochs[0].val_acc = Some(val);
            t
        };
        let report = build(&[with_val("0.1", 0.90, 0.80), with_val("0.01", 0.80, 0.85)]);
        let best: Vec<(&str, bool)> = report.groups.iter().map(|g| (g.values[0].as_str(), g.best)).collect();
        assert_eq!(best, [("0.1", true), ("0.01", false)], "not the higher test accuracy");
    }
}
