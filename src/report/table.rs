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
    /// The data set as messages name it (an image folder by its path): two folders are two
    /// data sets.
    pub data: String,
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
    /// Seconds evaluating after each epoch (validation and test), apart from training.
    pub eval_seconds: Stat,
    pub images_per_second: Stat,
    /// "done", or a count per status ("2 done, 1 failed").
    pub status: String,
    /// Highest mean final accuracy among two or more groups of its data set and model.
    pub best: bool,
    /// Trial names, for the plots' legends.
    pub names: Vec<String>,
    /// The run folders its trials came from, and its first trial's spec (every key but the seed
    /// is the group's), for report.csv.
    pub runs: Vec<String>,
    pub spec: toml::Table,
    pub seeds: Vec<i64>,
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
    /// Trials left out because an earlier one had the same configuration and seed (the same run
    /// read twice, or a run repeated): each (configuration, seed) counts once.
    pub repeated: usize,
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
    /// Its values of the searched keys that apply to it: "lr=0.01, optimizer=adam".
    pub values: String,
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
            values: t.trial.searched_text(),
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
    // A configuration is its exact values (sampled ones are not merged by their rounded display);
    // a repeated (configuration, seed), across runs, is one trial.
    let mut groups: Vec<(Group, Vec<&TrialSummary>)> = Vec::new();
    let mut exact: Vec<Vec<String>> = Vec::new();
    let mut repeated = 0;
    for t in trials {
        let values = t.trial.values_text(&keys);
        let identity = t.trial.values_exact(&keys);
        let (dataset, model) = (t.trial.spec.dataset.clone(), t.trial.spec.model);
        let data = t.trial.spec.data_label();
        let found = groups.iter().zip(&exact).position(|((g, members), e)| {
            g.dataset == dataset && g.model == model && *e == identity && members[0].trial.spec.data_label() == data
        });
        match found {
            Some(i) if groups[i].1.iter().any(|m| m.trial.spec.seed == t.trial.spec.seed) => repeated += 1,
            Some(i) => groups[i].1.push(t),
            None => groups.push((
                Group {
                    dataset,
                    data,
                    model,
                    values,
                    trials: 0,
                    final_acc: Stat::default(),
                    finals: Vec::new(),
                    best_acc: Stat::default(),
                    selection: Stat::default(),
                    final_loss: Stat::default(),
                    train_seconds: Stat::default(),
                    eval_seconds: Stat::default(),
                    images_per_second: Stat::default(),
                    status: String::new(),
                    best: false,
                    names: Vec::new(),
                    runs: Vec::new(),
                    spec: toml::Table::new(),
                    seeds: Vec::new(),
                },
                vec![t],
            )),
        }
        if found.is_none() {
            exact.push(identity);
        }
    }
    let mut groups: Vec<Group> = groups.into_iter().map(|(g, members)| summarize(g, &members)).collect();
    for i in 0..groups.len() {
        let rival = |g: &Group| g.data == groups[i].data && g.model == groups[i].model;
        let rivals = groups.iter().filter(|g| rival(g)).count();
        let top =
            groups.iter().filter(|g| rival(g) && g.selection.n > 0).map(|g| g.selection.mean).fold(f64::NAN, f64::max);
        groups[i].best = rivals > 1 && groups[i].selection.n > 0 && groups[i].selection.mean == top;
    }
    // Data sets in order of appearance, NN before CNN.
    let order: Vec<String> = groups.iter().fold(Vec::new(), |mut seen, g| {
        if !seen.contains(&g.data) {
            seen.push(g.data.clone());
        }
        seen
    });
    groups.sort_by_key(|g| (order.iter().position(|d| *d == g.data), g.model != ModelKind::Nn));
    let best_on_test = trials.iter().any(|t| t.epochs.first().is_some_and(|e| e.val_acc.is_none()));
    Report { keys, groups, best_on_test, search: search_summary(trials), repeated }
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
    group.train_seconds = take(&|t| t.train_seconds());
    // Trials from before eval_seconds was recorded have none to average.
    let timed: Vec<f64> = finished.iter().filter_map(|t| t.eval_seconds()).collect();
    group.eval_seconds = if timed.len() == finished.len() { Stat::of(&timed) } else { Stat::default() };
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
    for t in members {
        if !group.runs.contains(&t.run) {
            group.runs.push(t.run.clone());
        }
    }
    // A key that does not apply (an NN's conv keys) shows "-", as in the table.
    let spec = &members[0].trial.spec;
    group.spec = spec.to_table();
    for (key, value) in group.spec.iter_mut() {
        if !spec.applies(key) {
            *value = toml::Value::String(crate::spec::NOT_APPLICABLE.into());
        }
    }
    group.seeds = members.iter().map(|t| t.trial.spec.seed).collect();
    group
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DatasetName;

    #[test]
    fn stats_over_seeds() {
        let s = Stat::of(&[0.9, 0.92, 0.94]);
        assert!((s.mean - 0.92).abs() < 1e-12 && (s.std - 0.02).abs() < 1e-12 && s.n == 3);
        assert_eq!(Stat::of(&[0.5]), Stat { mean: 0.5, std: 0.0, n: 1 });
        assert_eq!(Stat::of(&[]).n, 0);
    }

    fn record(model: &str, lr: &str, acc: f64, status: Status) -> TrialSummary {
        let spec =
            crate::spec::Spec { model: model.parse().unwrap(), lr: lr.parse().unwrap_or(0.01), ..Default::default() };
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
        let trial =
            crate::spec::Trial { index: 0, name: format!("lr={lr},model={model}"), swept, spec, group: 0, round: None };
        TrialSummary {
            trial,
            status,
            reason: String::new(),
            epochs: vec![epoch],
            eval_images_per_second: None,
            images: None,
            run: String::new(),
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

    #[test]
    fn sampled_values_group_by_their_exact_value_and_a_repeated_seed_counts_once() {
        // Two sampled rates that display alike ("0.0123") are two configurations.
        let sampled = |lr: f64, seed: i64| {
            let mut t = record("nn", "0.0123", 0.9, Status::Done);
            t.trial.spec.lr = lr;
            t.trial.spec.seed = seed;
            t
        };
        let report = build(&[sampled(0.012301, 1), sampled(0.012349, 1), sampled(0.012301, 1), sampled(0.012301, 2)]);
        let rows: Vec<(&str, usize)> = report.groups.iter().map(|g| (g.values[0].as_str(), g.trials)).collect();
        assert_eq!(rows, [("0.0123", 2), ("0.0123", 1)], "exact values apart; seed 1 of the first once");
        assert_eq!(report.repeated, 1);
    }

    #[test]
    fn two_image_folders_are_two_data_sets_and_an_nn_shows_no_conv_keys() {
        let at = |folder: &str, model: &str, acc: f64| {
            let mut t = record(model, "0.01", acc, Status::Done);
            t.trial.spec.dataset = DatasetName::Folder;
            t.trial.spec.folder = folder.into();
            t.trial.spec.conv_channels = vec![64, 128];
            t
        };
        let trials = [at("a", "nn", 0.5), at("a", "cnn", 0.6), at("b", "nn", 0.7), at("b", "cnn", 0.8)];
        let mut keys = vec!["conv_channels".to_string()];
        let report = build(&trials);
        assert_eq!(report.groups.len(), 4);
        assert!(report.groups.iter().all(|g| !g.best), "no folder's configuration is another folder's rival");
        let data: Vec<&str> = report.groups.iter().map(|g| g.data.as_str()).collect();
        assert_eq!(data, ["folder a", "folder a", "folder b", "folder b"]);
        keys.push("folder".into());
        assert_eq!(trials[0].trial.values_text(&keys)[0], "-", "an NN has no conv keys");
        // The NN-vs-CNN comparison pairs each folder's NN with its CNN of other conv keys.
        let comparisons = super::super::compare::compare(&trials, &report.keys);
        let gains: Vec<f64> = comparisons.iter().map(|c| (c.gain * 100.0).round()).collect();
        assert_eq!(gains, [10.0, 10.0]);
    }
}
