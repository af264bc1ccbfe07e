//! TPE's draw, as Optuna's `TPESampler` (5.1) makes it: random draws for the first
//! `n_startup_trials` finished trials; then the finished trials split into the best
//! `gamma(n) = min(ceil(0.1 n), 25)` ("below") and the rest ("above", with the trials still
//! running: Optuna's constant liar, so a round of parallel draws spreads out); a Parzen estimator
//! l(x) of the below and g(x) of the above; `n_ei_candidates` draws from l, and the one with the
//! largest log l(x) − log g(x).

use rand::Rng;

use super::parzen::{Param, ParzenEstimator, Settings, default_weights};

/// Optuna's knobs, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TpeSettings {
    pub n_startup_trials: usize,
    pub n_ei_candidates: usize,
    pub estimator: Settings,
}

impl Default for TpeSettings {
    fn default() -> TpeSettings {
        TpeSettings { n_startup_trials: 10, n_ei_candidates: 24, estimator: Settings::default() }
    }
}

/// An earlier trial, in trial order: its values (a choice's index for a choice) and its
/// objective to minimise, None while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub values: Vec<f64>,
    pub objective: Option<f64>,
}

/// Optuna's `default_gamma`: how many of `n` finished trials count as good.
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// The next trial's values over `space`, given the trials before it.
pub fn suggest(space: &[Param], history: &[Observed], settings: &TpeSettings, rng: &mut impl Rng) -> Vec<f64> {
    let finished = history.iter().filter(|o| o.objective.is_some()).count();
    if finished < settings.n_startup_trials {
        return random(space, rng);
    }
    // Best first; equal objectives keep trial order (a stable sort, as Python's).
    let mut ranked: Vec<usize> = (0..history.len()).filter(|&i| history[i].objective.is_some()).collect();
    ranked.sort_by(|&a, &b| history[a].objective.unwrap().total_cmp(&history[b].objective.unwrap()));
    let mut below: Vec<usize> = ranked[..gamma(finished)].to_vec();
    below.sort_unstable();
    let above: Vec<usize> = (0..history.len()).filter(|i| !below.contains(i)).collect();
    let estimator = |trials: &[usize]| {
        let observations: Vec<Vec<f64>> = trials.iter().map(|&i| history[i].values.clone()).collect();
        ParzenEstimator::new(&observations, space, &default_weights(observations.len()), settings.estimator)
    };
    let (good, bad) = (estimator(&below), estimator(&above));
    let candidates = good.sample(rng, settings.n_ei_candidates);
    let mut best = (f64::NEG_INFINITY, 0);
    for (i, candidate) in candidates.iter().enumerate() {
        let score = good.log_pdf(candidate) - bad.log_pdf(candidate);
        if score > best.0 {
            best = (score, i);
        }
    }
    candidates[best.1].clone()
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
            history.push(Observed { values, objective: Some(objective) });
        }
        let near = |trials: &[Observed]| trials.iter().filter(|o| (o.values[0] - 0.7).abs() < 0.1).count();
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
                Observed { values: vec![x], objective: Some((x - 0.3).powi(2)) }
            })
            .collect();
        let first = suggest(&space, &history, &TpeSettings::default(), &mut rng);
        // The same draw, with the first one running: the liar pushes it elsewhere.
        for _ in 0..3 {
            history.push(Observed { values: first.clone(), objective: None });
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let second = suggest(&space, &history, &TpeSettings::default(), &mut rng);
        assert_ne!(first, second);
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
