//! A TPE search's rounds, from the spec's side: each grid point is one study whose samples are
//! drawn `parallel` at a time. Round r of a study is drawn from its trials of rounds < r alone
//! (how each ended), with the search's seed, the grid point and r: the same draws whoever draws
//! them, in one process, under `--jobs` or in a Slurm task. `run::draws` records them.

use std::collections::BTreeMap;

use super::parzen::Param;
use super::search::{Distribution, SearchSpec, display_sample, stream};
use super::sweep::{Trial, spec_of};
use super::tpe::{Observed, Outcome, TpeSettings, suggest};
use super::{SearchMethod, Spec};

/// A TPE trial's round in its study, and whether its values have been drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Round {
    pub number: usize,
    pub drawn: bool,
}

/// Keys a TPE space may not hold: they decide the data or the device, read before round 0.
pub const FIXED_FOR_TPE: &[&str] = &[
    "dataset",
    "data_dir",
    "folder",
    "image_size",
    "hf_revision",
    "hf_config",
    "image_column",
    "label_column",
    "backend",
    "device",
    "threads",
];

/// The values a distribution can draw at its ends (every value of a list), to check them first.
pub fn extremes(distribution: &Distribution) -> Vec<toml::Value> {
    match distribution {
        Distribution::Choice(values) => values.clone(),
        Distribution::Uniform(a, b) | Distribution::LogUniform(a, b) => vec![(*a).into(), (*b).into()],
        Distribution::IntUniform(a, b) => vec![(*a).into(), (*b).into()],
    }
}

/// How many of a TPE study's trials are drawn at random (no failures): its rounds until
/// `n_startup_trials` trials have ended, as Optuna counts only ended trials.
pub fn random_trials(search: &SearchSpec) -> usize {
    let parallel = search.parallel.max(1) as usize;
    (search.n_startup_trials as usize).div_ceil(parallel) * parallel
}

/// What to tell a user whose TPE search draws every trial at random.
pub fn random_only(search: &SearchSpec) -> Option<String> {
    let random = random_trials(search);
    (search.method == SearchMethod::Tpe && search.trials as usize <= random).then(|| {
        format!(
            "warning: search.trials = {} but TPE draws its first {random} trials at random (n_startup_trials = {}, \
             drawn parallel = {} at a time): this search is then a random search; raise trials or lower n_startup_trials",
            search.trials, search.n_startup_trials, search.parallel
        )
    })
}

/// The space of a TPE search, in key order, as the sampler sees it.
struct Space {
    keys: Vec<String>,
    distributions: Vec<Distribution>,
}

impl Space {
    fn of(search: &SearchSpec) -> Space {
        let (keys, distributions) = search
            .space
            .iter()
            .map(|(k, v)| (k.clone(), Distribution::parse(v).expect("checked when the spec was loaded")))
            .unzip();
        Space { keys, distributions }
    }

    fn params(&self) -> Vec<Param> {
        self.distributions
            .iter()
            .map(|d| match *d {
                Distribution::Choice(ref values) => Param::Choice { choices: values.len() },
                Distribution::Uniform(low, high) => Param::Number { low, high, log: false, step: None },
                Distribution::LogUniform(low, high) => Param::Number { low, high, log: true, step: None },
                Distribution::IntUniform(low, high) => {
                    Param::Number { low: low as f64, high: high as f64, log: false, step: Some(1.0) }
                }
            })
            .collect()
    }

    /// A trial's value of key k as the sampler sees it (a choice's index); None where the key
    /// does not apply to the trial.
    fn observed(&self, k: usize, spec: &Spec, table: &toml::Table) -> Option<f64> {
        let key = &self.keys[k];
        let value = table.get(key).filter(|_| spec.applies(key))?;
        // A drawn width is a list of one (`as_drawn`).
        let value = match value {
            toml::Value::Array(items) if items.len() == 1 => &items[0],
            other => other,
        };
        match &self.distributions[k] {
            Distribution::Choice(values) => values.iter().position(|v| same(v, value)).map(|i| i as f64),
            _ => value.as_float().or_else(|| value.as_integer().map(|i| i as f64)),
        }
    }

    fn value(&self, k: usize, x: f64) -> toml::Value {
        match &self.distributions[k] {
            Distribution::Choice(values) => values[(x as usize).min(values.len() - 1)].clone(),
            Distribution::IntUniform(..) => toml::Value::Integer(x.round() as i64),
            _ => toml::Value::Float(x),
        }
    }
}

/// A list's value against a trial's: an integer list value matches its float (`lr = [1]`).
fn same(listed: &toml::Value, value: &toml::Value) -> bool {
    match (listed, value) {
        (toml::Value::Integer(i), toml::Value::Float(f)) => *i as f64 == *f,
        _ => listed == value,
    }
}

/// One drawn trial: its value of each searched key.
pub type Drawn = BTreeMap<String, toml::Value>;

/// The values of `count` trials of round `round` of the study at grid point `point`, drawn from
/// `earlier`: the study's trials of the rounds before, in trial order, each with how it ended
/// (None: failed, left out). `base` is one of the round's trials, not drawn yet.
pub fn draw_round(base: &Trial, round: usize, earlier: &[(&Trial, Option<Outcome>)], count: usize) -> Vec<Drawn> {
    let search = &base.spec.search;
    debug_assert_eq!(search.method, SearchMethod::Tpe);
    let space = Space::of(search);
    let params = space.params();
    let observe = |spec: &Spec| -> Vec<Option<f64>> {
        let table = spec.to_table();
        (0..space.keys.len()).map(|k| space.observed(k, spec, &table)).collect()
    };
    let mut history: Vec<Observed> = earlier
        .iter()
        .filter_map(|(trial, outcome)| Some(Observed { values: observe(&trial.spec), outcome: (*outcome)? }))
        .collect();
    let settings = TpeSettings::of(search);
    // Its own stream, apart from random search's (which is seeded by the grid point and sample).
    let mut rng = stream(search.seed ^ 0x7E5E_0000_0000_0000, base.group, round);
    let mut draws = Vec::with_capacity(count);
    for _ in 0..count {
        let x = suggest(&params, &history, &settings, &mut rng);
        let drawn: Drawn = x.iter().enumerate().map(|(k, &x)| (space.keys[k].clone(), space.value(k, x))).collect();
        // The round's earlier draws count as running (the constant liar), with the keys they use.
        let mut trial = base.clone();
        let values = match apply(&mut trial, &drawn) {
            Ok(()) => observe(&trial.spec),
            Err(_) => x.iter().map(|&v| Some(v)).collect(),
        };
        history.push(Observed { values, outcome: Outcome::Running });
        draws.push(drawn);
    }
    draws
}

/// Gives a TPE trial its drawn values: in its spec, in `swept` (rounded; "-" where a key does
/// not apply) and marks it drawn. Err says which value is out of range.
pub fn apply(trial: &mut Trial, drawn: &Drawn) -> Result<(), String> {
    let mut table = trial.spec.to_table();
    let mut swept: Vec<(String, String)> =
        trial.swept.iter().filter(|(k, _)| !drawn.contains_key(k)).cloned().collect();
    for (key, value) in drawn {
        table.insert(key.clone(), value.clone());
        swept.push((key.clone(), display_sample(value)));
    }
    let searched: Vec<String> = drawn.keys().cloned().collect();
    let spec = spec_of(table, &searched, &mut swept)?;
    spec.validate().map_err(|e| format!("{} {}", e.key, e.message))?;
    trial.spec = spec;
    trial.swept = swept;
    if let Some(round) = &mut trial.round {
        round.drawn = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpe_spec(space: &str) -> Spec {
        let text = format!(
            "val_split = 0.1\n[search]\nmethod = \"tpe\"\ntrials = 12\nparallel = 3\nn_startup_trials = 3\n[search.space]\n{space}"
        );
        let spec: Spec = toml::from_str(&text).unwrap();
        spec
    }

    #[test]
    fn a_tpe_search_expands_to_named_rounds_not_drawn_yet() {
        let trials = super::super::expand(&tpe_spec("lr = { log_uniform = [1e-4, 0.3] }")).unwrap();
        assert_eq!(trials.len(), 12);
        assert_eq!(trials[4].name, "round=1");
        assert_eq!(trials[4].round, Some(Round { number: 1, drawn: false }));
        assert!(trials.iter().all(|t| t.spec.lr == Spec::default().lr && t.swept.is_empty()));
    }

    #[test]
    fn a_round_is_the_same_whoever_draws_it_and_uses_what_the_rounds_before_gave() {
        let spec = tpe_spec(
            "lr = { log_uniform = [1e-4, 0.3] }\noptimizer = [\"sgd\", \"adam\"]\nmomentum = { uniform = [0.0, 0.95] }\nhidden = { int_uniform = [32, 512] }",
        );
        let mut trials = super::super::expand(&spec).unwrap();
        let first = draw_round(&trials[0], 0, &[], 3);
        assert_eq!(first, draw_round(&trials[0], 0, &[], 3));
        for (trial, drawn) in trials[..3].iter_mut().zip(&first) {
            apply(trial, drawn).unwrap();
            assert!((1e-4..=0.3).contains(&trial.spec.lr));
            assert!(trial.spec.hidden.len() == 1 && (32..=512).contains(&trial.spec.hidden[0]));
            // The sampler sees the width it drew, not "no value".
            let space = Space::of(&trial.spec.search);
            let k = space.keys.iter().position(|k| k == "hidden").unwrap();
            assert_eq!(space.observed(k, &trial.spec, &trial.spec.to_table()), Some(trial.spec.hidden[0] as f64));
            // Momentum only with SGD; shown as "-" otherwise.
            let momentum = trial.swept.iter().find(|(k, _)| k == "momentum").unwrap();
            assert_eq!(momentum.1 == "-", trial.spec.optimizer != crate::spec::OptimizerName::Sgd, "{trial:?}");
        }
        let ended: Vec<(&Trial, Option<Outcome>)> =
            trials[..3].iter().enumerate().map(|(i, t)| (t, Some(Outcome::Complete(-(i as f64))))).collect();
        let second = draw_round(&trials[3], 1, &ended, 3);
        assert_eq!(second, draw_round(&trials[3], 1, &ended, 3));
        assert_ne!(second, first);
        // Before 3 (n_startup_trials) have ended, draws are random whatever came before; from
        // then on, results matter.
        let mut worse = ended.clone();
        worse[1].1 = Some(Outcome::Complete(5.0));
        assert_eq!(draw_round(&trials[3], 1, &worse[..2], 3), draw_round(&trials[3], 1, &ended[..2], 3));
        // The best of 3 (gamma(3) = 1) is the good one: another best, other draws.
        assert_eq!(draw_round(&trials[3], 1, &worse, 3), second, "trial 2 is still the best");
        worse[2].1 = Some(Outcome::Complete(5.0));
        assert_ne!(draw_round(&trials[3], 1, &worse, 3), second, "3 ended: TPE draws");
        let six: Vec<(&Trial, Option<Outcome>)> =
            (0..6).map(|i| (&trials[i % 3], Some(Outcome::Complete(if i == 0 { -1.0 } else { 0.0 })))).collect();
        let mut other = six.clone();
        other[0].1 = Some(Outcome::Complete(1.0));
        other[2].1 = Some(Outcome::Complete(-1.0));
        assert_ne!(draw_round(&trials[6], 2, &six, 3), draw_round(&trials[6], 2, &other, 3));
        // A failed trial is left out: the draw is the one without it.
        let mut failed = six.clone();
        failed.push((&trials[0], None));
        assert_eq!(draw_round(&trials[6], 2, &failed, 3), draw_round(&trials[6], 2, &six, 3));
    }

    #[test]
    fn a_search_too_short_for_its_startup_trials_is_called_random() {
        let mut spec = tpe_spec("lr = { log_uniform = [1e-4, 0.3] }");
        (spec.search.trials, spec.search.n_startup_trials, spec.search.parallel) = (12, 10, 4);
        assert_eq!(random_trials(&spec.search), 12, "8 ended trials after 2 rounds: round 3 is random too");
        assert!(random_only(&spec.search).unwrap().contains("first 12 trials at random"));
        spec.search.trials = 13;
        assert_eq!(random_only(&spec.search), None);
        spec.search.parallel = 1;
        assert_eq!(random_trials(&spec.search), 10);
    }

    #[test]
    fn applying_a_value_out_of_range_says_which() {
        let mut trial = super::super::expand(&tpe_spec("batch_size = { int_uniform = [1, 8] }")).unwrap().remove(0);
        let drawn: Drawn = [("batch_size".to_string(), toml::Value::Integer(0))].into();
        assert!(apply(&mut trial, &drawn).unwrap_err().contains("batch_size"));
    }
}
