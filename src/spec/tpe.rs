//! TPE's draw, as Optuna's `TPESampler` (5.x) makes it: random draws until `n_startup_trials`
//! trials have ended; then the ended trials split into the best `gamma(n) = min(ceil(0.1 n), 25)`
//! ("below": complete trials by objective, then pruned ones by the epoch they reached and their
//! value there) and the rest ("above", with the trials still running: Optuna's constant liar, so
//! a round of parallel draws spreads out); per group of keys, a Parzen estimator l(x) of the
//! below and g(x) of the above; `n_ei_candidates` draws from l, and the one with the largest
//! log l(x) - log g(x).
//!
//! Groups: with `group`, Optuna's group decomposition (keys that are always used together, e.g.
//! momentum only with SGD, form a group of their own, estimated from the trials that used it);
//! with `multivariate` alone, the keys every trial used form one group and each other key is
//! its own; without `multivariate`, each key is its own group.

use rand::Rng;

use super::SearchSpec;
use super::parzen::{Param, ParzenEstimator, Settings, default_weights};

/// Optuna's knobs, as `[search]` sets them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TpeSettings {
    pub n_startup_trials: usize,
    pub n_ei_candidates: usize,
    pub multivariate: bool,
    pub group: bool,
    pub constant_liar: bool,
    pub estimator: Settings,
}

impl TpeSettings {
    pub fn of(search: &SearchSpec) -> TpeSettings {
        TpeSettings {
            n_startup_trials: search.n_startup_trials as usize,
            n_ei_candidates: search.n_ei_candidates as usize,
            multivariate: search.multivariate,
            group: search.group,
            constant_liar: search.constant_liar,
            estimator: Settings {
                prior_weight: search.prior_weight,
                consider_magic_clip: search.consider_magic_clip,
                consider_endpoints: search.consider_endpoints,
            },
        }
    }
}

/// A spec's defaults (`SearchSpec`'s).
impl Default for TpeSettings {
    fn default() -> TpeSettings {
        TpeSettings::of(&SearchSpec::default())
    }
}

/// How an earlier trial stands, its objective to minimise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Complete(f64),
    /// Stopped at `step` (its last epoch) with `value` there.
    Pruned {
        step: u32,
        value: f64,
    },
    Running,
}

/// An earlier trial, in trial order: its value of each key (a choice's index for a choice; None
/// for a key it did not use) and how it stands. Failed trials are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub values: Vec<Option<f64>>,
    pub outcome: Outcome,
}

impl Observed {
    fn ended(&self) -> bool {
        self.outcome != Outcome::Running
    }
}

/// Optuna's `default_gamma`: how many of `n` ended trials count as good.
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// The next trial's value of every key of `space`, given the trials before it. Keys the trials
/// have not used yet are drawn at random.
pub fn suggest(space: &[Param], history: &[Observed], settings: &TpeSettings, rng: &mut impl Rng) -> Vec<f64> {
    let ended: Vec<&Observed> = history.iter().filter(|o| o.ended()).collect();
    if ended.len() < settings.n_startup_trials {
        return random(space, rng);
    }
    let considered: Vec<&Observed> = if settings.constant_liar { history.iter().collect() } else { ended.clone() };
    let (below, above) = split(&considered, gamma(ended.len()));
    let mut drawn: Vec<Option<f64>> = vec![None; space.len()];
    for keys in groups(space.len(), &ended, settings) {
        let sub: Vec<Param> = keys.iter().map(|&k| space[k].clone()).collect();
        let estimator = |trials: &[&Observed]| {
            let observations: Vec<Vec<f64>> =
                trials.iter().filter_map(|o| keys.iter().map(|&k| o.values[k]).collect::<Option<Vec<f64>>>()).collect();
            ParzenEstimator::new(&observations, &sub, &default_weights(observations.len()), settings.estimator)
        };
        let (good, bad) = (estimator(&below), estimator(&above));
        let candidates = good.sample(rng, settings.n_ei_candidates.max(1));
        let mut best = (f64::NEG_INFINITY, 0);
        for (i, candidate) in candidates.iter().enumerate() {
            let score = good.log_pdf(candidate) - bad.log_pdf(candidate);
            if score > best.0 {
                best = (score, i);
            }
        }
        for (&k, &value) in keys.iter().zip(&candidates[best.1]) {
            drawn[k] = Some(value);
        }
    }
    let fallback = random(space, rng);
    drawn.into_iter().zip(fallback).map(|(d, r)| d.unwrap_or(r)).collect()
}

/// Optuna's `_split_trials`: the best `n_below` ended trials (complete ones by objective, then
/// pruned ones by the epoch they reached, later first, and their value there) and the rest,
/// running trials included; each in trial order.
fn split<'a>(trials: &[&'a Observed], n_below: usize) -> (Vec<&'a Observed>, Vec<&'a Observed>) {
    let mut complete: Vec<(usize, f64)> = Vec::new();
    let mut pruned: Vec<(usize, (i64, f64))> = Vec::new();
    for (i, o) in trials.iter().enumerate() {
        match o.outcome {
            Outcome::Complete(value) => complete.push((i, value)),
            Outcome::Pruned { step, value } => {
                pruned.push((i, (-(step as i64), if value.is_nan() { f64::INFINITY } else { value })))
            }
            Outcome::Running => {}
        }
    }
    // Stable sorts: ties keep trial order, as Python's `sorted`.
    complete.sort_by(|a, b| a.1.total_cmp(&b.1));
    pruned.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.1.1.total_cmp(&b.1.1)));
    let from_complete = n_below.min(complete.len());
    let from_pruned = (n_below - from_complete).min(pruned.len());
    let mut below: Vec<usize> = complete[..from_complete]
        .iter()
        .map(|(i, _)| *i)
        .chain(pruned[..from_pruned].iter().map(|(i, _)| *i))
        .collect();
    below.sort_unstable();
    let above = (0..trials.len()).filter(|i| below.binary_search(i).is_err()).map(|i| trials[i]).collect();
    (below.into_iter().map(|i| trials[i]).collect(), above)
}

/// The groups of keys drawn together, each in key order, from the keys the ended trials used.
fn groups(keys: usize, ended: &[&Observed], settings: &TpeSettings) -> Vec<Vec<usize>> {
    let used = |o: &Observed| -> Vec<usize> { (0..keys).filter(|&k| o.values[k].is_some()).collect() };
    let seen: Vec<usize> = (0..keys).filter(|&k| ended.iter().any(|o| o.values[k].is_some())).collect();
    if !settings.multivariate {
        return seen.into_iter().map(|k| vec![k]).collect();
    }
    if !settings.group {
        let common: Vec<usize> =
            seen.iter().copied().filter(|&k| ended.iter().all(|o| o.values[k].is_some())).collect();
        let mut groups: Vec<Vec<usize>> = if common.is_empty() { Vec::new() } else { vec![common.clone()] };
        groups.extend(seen.into_iter().filter(|k| !common.contains(k)).map(|k| vec![k]));
        return groups;
    }
    // Optuna's `_SearchSpaceGroup.add_distributions`, trial by trial.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for trial in ended {
        let mut rest = used(trial);
        let mut next = Vec::new();
        for group in &groups {
            next.push(group.iter().copied().filter(|k| rest.contains(k)).collect::<Vec<_>>());
            next.push(group.iter().copied().filter(|k| !rest.contains(k)).collect::<Vec<_>>());
            rest.retain(|k| !group.contains(k));
        }
        next.push(rest);
        groups = next.into_iter().filter(|g| !g.is_empty()).collect();
    }
    groups
}

/// A draw uniform over the space (log-uniform for log keys), as Optuna's `RandomSampler`.
pub fn random(space: &[Param], rng: &mut impl Rng) -> Vec<f64> {
    space
        .iter()
        .map(|param| match *param {
            Param::Choice { choices } => rng.random_range(0..choices) as f64,
            Param::Number { low, high, log, step } => {
                let value = match (log, step) {
                    (true, Some(step)) => {
                        let (l, h) = ((low - step / 2.0).ln(), (high + step / 2.0).ln());
                        (l + (h - l) * rng.random::<f64>()).exp()
                    }
                    (true, None) => (low.ln() + (high.ln() - low.ln()) * rng.random::<f64>()).exp(),
                    (false, Some(step)) => {
                        let points = ((high - low) / step).round() as u64;
                        return low + rng.random_range(0..=points) as f64 * step;
                    }
                    (false, None) => low + (high - low) * rng.random::<f64>(),
                };
                match step {
                    Some(step) => (low + ((value - low) / step).round() * step).clamp(low, high),
                    None => value.clamp(low, high),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn gamma_is_optunas() {
        assert_eq!([1, 9, 10, 11, 100, 250, 1000].map(gamma), [1, 1, 1, 2, 10, 25, 25]);
    }

    /// A quadratic bowl with its minimum at x = 0.7: after the random start, TPE's draws
    /// gather near it, random search's do not.
    #[test]
    fn draws_move_towards_what_did_well() {
        let space = [Param::Number { low: 0.0, high: 1.0, log: false, step: None }];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut history = Vec::new();
        for _ in 0..60 {
            let values = suggest(&space, &history, &TpeSettings::default(), &mut rng);
            let objective = (values[0] - 0.7).powi(2);
            history.push(Observed { values: vec![Some(values[0])], outcome: Outcome::Complete(objective) });
        }
        let near = |trials: &[Observed]| trials.iter().filter(|o| (o.values[0].unwrap() - 0.7).abs() < 0.1).count();
        // Random search puts 6 of 30 within 0.1 of it, on average.
        assert!(near(&history[30..]) >= 15, "{} of the last 30 near the minimum", near(&history[30..]));
    }

    #[test]
    fn a_running_trial_counts_as_bad_so_a_round_spreads_out() {
        let space = [Param::Number { low: 0.0, high: 1.0, log: false, step: None }];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut history: Vec<Observed> = (0..20)
            .map(|i| {
                let x = i as f64 / 19.0;
                Observed { values: vec![Some(x)], outcome: Outcome::Complete((x - 0.3).powi(2)) }
            })
            .collect();
        let first = suggest(&space, &history, &TpeSettings::default(), &mut rng);
        // The same draw, with the first one running: the liar pushes it elsewhere.
        for _ in 0..3 {
            history.push(Observed { values: vec![Some(first[0])], outcome: Outcome::Running });
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let second = suggest(&space, &history, &TpeSettings::default(), &mut rng);
        assert_ne!(first, second);
        // Without the liar, running trials are not seen: the same draw again.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let honest = TpeSettings { constant_liar: false, ..TpeSettings::default() };
        assert_eq!(suggest(&space, &history, &honest, &mut rng), first);
    }

    fn observed(values: &[Option<f64>], outcome: Outcome) -> Observed {
        Observed { values: values.to_vec(), outcome }
    }

    /// Optuna's `_split_trials`: complete trials first by value, then pruned ones by the epoch
    /// they reached (later is better) and their value there; running trials always above.
    #[test]
    fn pruned_trials_rank_below_complete_ones_by_the_epoch_they_reached() {
        let x = [Some(0.0)];
        let trials = [
            observed(&x, Outcome::Pruned { step: 1, value: -0.99 }),
            observed(&x, Outcome::Complete(-0.5)),
            observed(&x, Outcome::Pruned { step: 3, value: -0.2 }),
            observed(&x, Outcome::Running),
            observed(&x, Outcome::Pruned { step: 3, value: -0.4 }),
            observed(&x, Outcome::Complete(-0.6)),
        ];
        let refs: Vec<&Observed> = trials.iter().collect();
        let index = |list: Vec<&Observed>| -> Vec<usize> {
            list.iter().map(|o| trials.iter().position(|t| std::ptr::eq(t, *o)).unwrap()).collect()
        };
        let (below, above) = split(&refs, 3);
        // Both complete trials, then the pruned one that reached epoch 3 with the lower value.
        assert_eq!(index(below), [1, 4, 5]);
        assert_eq!(index(above), [0, 2, 3]);
        let (below, _) = split(&refs, 1);
        assert_eq!(index(below), [5]);
    }

    /// Optuna's `_SearchSpaceGroup`: trials {a, b, c}, {a, b} and {a, d} give the groups {a},
    /// {b}, {c} and {d}; the keys every trial used stay together.
    #[test]
    fn keys_used_together_form_groups_as_optunas_decomposition() {
        let (s, n) = (Some(0.5), None);
        let trials = [
            observed(&[s, s, s, n], Outcome::Complete(1.0)),
            observed(&[s, s, n, n], Outcome::Complete(1.0)),
            observed(&[s, s, n, n], Outcome::Complete(1.0)),
        ];
        let refs: Vec<&Observed> = trials.iter().collect();
        let settings = TpeSettings::default();
        assert_eq!(groups(4, &refs, &settings), [vec![0, 1], vec![2]]);
        let more = [trials[0].clone(), trials[1].clone(), observed(&[s, n, n, s], Outcome::Complete(1.0))];
        let refs: Vec<&Observed> = more.iter().collect();
        assert_eq!(groups(4, &refs, &settings), [vec![0], vec![1], vec![2], vec![3]]);
        // multivariate without group: what all used, jointly; the rest alone.
        let joint = TpeSettings { group: false, ..settings };
        let refs: Vec<&Observed> = trials.iter().collect();
        assert_eq!(groups(4, &refs, &joint), [vec![0, 1], vec![2]]);
        let univariate = TpeSettings { multivariate: false, group: false, ..settings };
        assert_eq!(groups(4, &refs, &univariate), [vec![0], vec![1], vec![2]]);
    }

    /// A key used only by one choice (momentum with SGD) is drawn from the trials that used it:
    /// its good values there pull the draws, whatever the other trials had.
    #[test]
    fn a_conditional_key_is_drawn_from_the_trials_that_used_it() {
        let space = [Param::Choice { choices: 2 }, Param::Number { low: 0.0, high: 1.0, log: false, step: None }];
        let mut history = Vec::new();
        for i in 0..40 {
            let x = (i as f64 * 0.618).fract();
            // Choice 0 uses the key, best near 0.8; choice 1 does not use it and is worse.
            history.push(if i % 2 == 0 {
                observed(&[Some(0.0), Some(x)], Outcome::Complete((x - 0.8).abs()))
            } else {
                observed(&[Some(1.0), None], Outcome::Complete(1.0 + x))
            });
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let draws: Vec<Vec<f64>> =
            (0..20).map(|_| suggest(&space, &history, &TpeSettings::default(), &mut rng)).collect();
        assert!(draws.iter().filter(|d| d[0] == 0.0).count() >= 18, "{draws:?}");
        let near = draws.iter().filter(|d| (d[1] - 0.8).abs() < 0.15).count();
        assert!(near >= 14, "{near} of 20 near 0.8: {draws:?}");
    }

    #[test]
    fn random_draws_cover_the_space_on_its_grid() {
        let space = [
            Param::Number { low: 32.0, high: 512.0, log: false, step: Some(1.0) },
            Param::Number { low: 1e-4, high: 0.3, log: true, step: None },
            Param::Choice { choices: 3 },
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let draws: Vec<Vec<f64>> = (0..3000).map(|_| random(&space, &mut rng)).collect();
        assert!(draws.iter().all(|d| (32.0..=512.0).contains(&d[0]) && d[0].fract() == 0.0));
        assert!(draws.iter().all(|d| (1e-4..=0.3).contains(&d[1])));
        // Log-uniform: a third of the decades' draws below 1e-2 (log 1e-2 is 4.6 of 8.0 nats up).
        let low = draws.iter().filter(|d| d[1] < 1e-2).count() as f64 / 3000.0;
        assert!((low - 4.605 / 8.006).abs() < 0.04, "{low}");
        for choice in 0..3 {
            let share = draws.iter().filter(|d| d[2] == choice as f64).count() as f64 / 3000.0;
            assert!((share - 1.0 / 3.0).abs() < 0.04, "{share}");
        }
    }
}
