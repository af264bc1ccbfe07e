//! The Parzen estimator of TPE, as Optuna's `TPESampler` builds it (optuna 5.1,
//! `samplers/_tpe/parzen_estimator.py`): one kernel per observation plus a prior kernel, each a
//! product over the keys of a truncated normal (numbers; in log space for log keys, widened by
//! half a step for integer keys) or a smoothed categorical. Multivariate: the kernels are joint,
//! so one kernel draws every key of a sample.

use rand::Rng;
use statrs::function::erf::{erf_inv, erfc};

/// One key of the search space.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A number in `[low, high]`; `log` searches in log space; `step` makes it discrete
    /// (integers: `Some(1.0)`).
    Number { low: f64, high: f64, log: bool, step: Option<f64> },
    /// One of `choices` values, observed and drawn as its index.
    Choice { choices: usize },
}

/// Optuna's knobs of the estimator, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub prior_weight: f64,
    pub consider_magic_clip: bool,
    pub consider_endpoints: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { prior_weight: 1.0, consider_magic_clip: true, consider_endpoints: false }
    }
}

/// Optuna's `default_weights`: equal below 25 observations, else the oldest `n - 25` ramp up
/// from `1/n` to 1 (observations in trial order, oldest first).
pub fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut weights: Vec<f64> = (0..ramp)
        .map(|i| match ramp {
            1 => 1.0 / n as f64,
            _ => 1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64,
        })
        .collect();
    weights.extend(std::iter::repeat_n(1.0, 25));
    weights
}

/// The kernels of one key.
#[derive(Debug, Clone)]
enum Kernels {
    /// Truncated normals in the search's space (log space for log keys) on `[low, high]`, the
    /// bounds widened by half a step for discrete keys.
    Number { mus: Vec<f64>, sigmas: Vec<f64>, low: f64, high: f64, param: Param },
    /// Per kernel, the probability of each choice.
    Choice { probabilities: Vec<Vec<f64>> },
}

#[derive(Debug, Clone)]
pub struct ParzenEstimator {
    /// One per kernel: the observations' then the prior's, summing to 1.
    pub weights: Vec<f64>,
    kernels: Vec<Kernels>,
}

impl ParzenEstimator {
    /// `observations[i][k]`: observation i's value of key k (a choice's index for a choice);
    /// `weights`: one per observation (see [`default_weights`]).
    pub fn new(observations: &[Vec<f64>], space: &[Param], weights: &[f64], settings: Settings) -> ParzenEstimator {
        assert_eq!(observations.len(), weights.len());
        let mut weights: Vec<f64> = if observations.is_empty() {
            vec![1.0]
        } else {
            weights.iter().copied().chain([settings.prior_weight]).collect()
        };
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let kernels = space
            .iter()
            .enumerate()
            .map(|(k, param)| {
                let column: Vec<f64> = observations.iter().map(|o| o[k]).collect();
                kernels(&column, param, settings)
            })
            .collect();
        ParzenEstimator { weights, kernels }
    }

    /// The mixture's means and widths for key `k` (in the search's space), prior last; None for
    /// a choice.
    pub fn mus_sigmas(&self, k: usize) -> Option<(&[f64], &[f64])> {
        match &self.kernels[k] {
            Kernels::Number { mus, sigmas, .. } => Some((mus, sigmas)),
            Kernels::Choice { .. } => None,
        }
    }

    /// The log density of the mixture at `x` (one value per key, as observed), as Optuna's
    /// `log_pdf`: log space for log keys, without the change of variable, and a discrete key's
    /// probability mass for its step.
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        let per_kernel: Vec<f64> = (0..self.weights.len())
            .map(|j| {
                self.weights[j].ln()
                    + self.kernels.iter().zip(x).map(|(kernels, &value)| kernel_log_pdf(kernels, j, value)).sum::<f64>()
            })
            .collect();
        let max = per_kernel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return max;
        }
        max + per_kernel.iter().map(|l| (l - max).exp()).sum::<f64>().ln()
    }

    /// `n` draws from the mixture: each picks a kernel by weight, then every key from it.
    pub fn sample(&self, rng: &mut impl Rng, n: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                let j = pick(&self.weights, rng.random::<f64>());
                self.kernels.iter().map(|kernels| draw(kernels, j, rng)).collect()
            })
            .collect()
    }
}

/// The index whose cumulative weight first reaches `u` in `[0, 1)`.
fn pick(weights: &[f64], u: f64) -> usize {
    let mut cumulative = 0.0;
    for (i, w) in weights.iter().enumerate() {
        cumulative += w;
        if u < cumulative {
            return i;
        }
    }
    weights.len() - 1
}

fn kernels(observations: &[f64], param: &Param, settings: Settings) -> Kernels {
    match *param {
        Param::Choice { choices } => {
            if observations.is_empty() {
                return Kernels::Choice { probabilities: vec![vec![1.0 / choices as f64; choices]] };
            }
            let n_kernels = observations.len() + 1;
            let mut probabilities = vec![vec![settings.prior_weight / n_kernels as f64; choices]; n_kernels];
            for (row, &index) in probabilities.iter_mut().zip(observations) {
                row[index as usize] += 1.0;
            }
            for row in &mut probabilities {
                let sum: f64 = row.iter().sum();
                if sum > 0.0 {
                    row.iter_mut().for_each(|p| *p /= sum);
                }
            }
            Kernels::Choice { probabilities }
        }
        Param::Number { low, high, log, step } => {
            let (mut low, mut high) = match step {
                Some(step) => (low - step / 2.0, high + step / 2.0),
                None => (low, high),
            };
            let mut mus: Vec<f64> = observations.to_vec();
            if log {
                mus.iter_mut().for_each(|m| *m = m.ln());
                (low, high) = (low.ln(), high.ln());
            }
            let mut sigmas = sigmas(&mus, low, high, settings);
            mus.push(0.5 * (low + high));
            sigmas.push(high - low);
            Kernels::Number { mus, sigmas, low, high, param: param.clone() }
        }
    }
}

/// Optuna's bandwidths: the larger gap to a sorted neighbour (the bounds count as neighbours),
/// clipped to `[(high - low) / min(100, 1 + kernels), high - low]` with the magic clip.
fn sigmas(mus: &[f64], low: f64, high: f64, settings: Settings) -> Vec<f64> {
    let mut order: Vec<usize> = (0..mus.len()).collect();
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let mut with_ends = Vec::with_capacity(mus.len() + 2);
    with_ends.push(low);
    with_ends.extend(order.iter().map(|&i| mus[i]));
    with_ends.push(high);
    let mut sorted: Vec<f64> = (1..with_ends.len() - 1)
        .map(|i| (with_ends[i] - with_ends[i - 1]).max(with_ends[i + 1] - with_ends[i]))
        .collect();
    if !settings.consider_endpoints && with_ends.len() >= 4 {
        let last = sorted.len() - 1;
        sorted[0] = with_ends[2] - with_ends[1];
        sorted[last] = with_ends[with_ends.len() - 2] - with_ends[with_ends.len() - 3];
    }
    let max_sigma = high - low;
    let min_sigma =
        if settings.consider_magic_clip { (high - low) / (100.0f64).min(1.0 + (mus.len() + 1) as f64) } else { 1e-12 };
    let mut sigmas = vec![0.0; mus.len()];
    for (rank, &i) in order.iter().enumerate() {
        sigmas[i] = sorted[rank].clamp(min_sigma, max_sigma);
    }
    sigmas
}

fn kernel_log_pdf(kernels: &Kernels, j: usize, value: f64) -> f64 {
    match kernels {
        Kernels::Choice { probabilities } => probabilities[j][value as usize].ln(),
        Kernels::Number { mus, sigmas, low, high, param } => {
            let (mu, sigma) = (mus[j], sigmas[j]);
            let Param::Number { log, step, .. } = *param else { unreachable!("a number's kernels") };
            let space = |v: f64| if log { v.ln() } else { v };
            let normalizer = log_gauss_mass((low - mu) / sigma, (high - mu) / sigma);
            match step {
                None => {
                    let z = (space(value) - mu) / sigma;
                    -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln() - normalizer
                }
                Some(step) => {
                    let left = (space(value - step / 2.0) - mu) / sigma;
                    let right = (space(value + step / 2.0) - mu) / sigma;
                    log_gauss_mass(left, right) - normalizer
                }
            }
        }
    }
}

/// log(Φ(b) − Φ(a)) for a < b, from the side of the normal where it does not cancel.
fn log_gauss_mass(a: f64, b: f64) -> f64 {
    let upper_tail = |x: f64| 0.5 * erfc(x / std::f64::consts::SQRT_2); // 1 − Φ(x)
    let mass = if a > 0.0 {
        upper_tail(a) - upper_tail(b)
    } else if b < 0.0 {
        upper_tail(-b) - upper_tail(-a)
    } else {
        1.0 - upper_tail(-a) - upper_tail(b)
    };
    mass.ln()
}

/// A draw of kernel `j` of one key: a truncated normal by inversion (then back from log space
/// and onto the step's grid), or a choice by its probabilities.
fn draw(kernels: &Kernels, j: usize, rng: &mut impl Rng) -> f64 {
    match kernels {
        Kernels::Choice { probabilities } => pick(&probabilities[j], rng.random::<f64>()) as f64,
        Kernels::Number { mus, sigmas, low, high, param } => {
            let (mu, sigma) = (mus[j], sigmas[j]);
            let cdf = |x: f64| 0.5 * erfc(-x / std::f64::consts::SQRT_2);
            let (a, b) = (cdf((low - mu) / sigma), cdf((high - mu) / sigma));
            let u = a + (b - a) * rng.random::<f64>();
            let z = std::f64::consts::SQRT_2 * erf_inv(2.0 * u - 1.0);
            let mut value = (mu + sigma * z).clamp(*low, *high);
            let Param::Number { low, high, log, step } = *param else { unreachable!("a number's kernels") };
            if log {
                value = value.exp();
            }
            if let Some(step) = step {
                value = low + ((value - low) / step).round() * step;
            }
            value.clamp(low, high)
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// The space and observations of the reference values below, computed with optuna 5.1.0
    /// (`pip install optuna`):
    ///
    /// ```python
    /// from optuna.distributions import FloatDistribution as F, IntDistribution as I, CategoricalDistribution as C
    /// from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
    /// from optuna.samplers._tpe.sampler import default_weights
    /// space = {"x": F(0.0, 1.0), "lr": F(1e-4, 0.3, log=True), "hidden": I(32, 512), "opt": C(["sgd", "adam", "adamw"])}
    /// obs = {"x": np.array([0.1, 0.35, 0.4, 0.9]), "lr": np.array([1e-3, 0.01, 0.02, 0.2]),
    ///        "hidden": np.array([64., 128., 130., 500.]), "opt": np.array([0., 2., 2., 1.])}
    /// p = _ParzenEstimatorParameters(prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False,
    ///                                weights=default_weights, multivariate=True)
    /// pe = _ParzenEstimator(obs, space, p)   # then pe._mixture_distribution, pe.log_pdf(points)
    /// ```
    fn space() -> Vec<Param> {
        vec![
            Param::Number { low: 0.0, high: 1.0, log: false, step: None },
            Param::Number { low: 1e-4, high: 0.3, log: true, step: None },
            Param::Number { low: 32.0, high: 512.0, log: false, step: Some(1.0) },
            Param::Choice { choices: 3 },
        ]
    }

    fn observations() -> Vec<Vec<f64>> {
        vec![
            vec![0.1, 1e-3, 64.0, 0.0],
            vec![0.35, 0.01, 128.0, 2.0],
            vec![0.4, 0.02, 130.0, 2.0],
            vec![0.9, 0.2, 500.0, 1.0],
        ]
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }

    fn estimator(space: &[Param], observations: &[Vec<f64>]) -> ParzenEstimator {
        ParzenEstimator::new(observations, space, &default_weights(observations.len()), Settings::default())
    }

    #[test]
    fn kernels_equal_optunas() {
        use std::f64::consts::LN_10;
        let pe = estimator(&space(), &observations());
        close(&pe.weights, &[0.2; 5]);
        let (mus, sigmas) = pe.mus_sigmas(0).unwrap();
        close(mus, &[0.1, 0.35, 0.4, 0.9, 0.5]);
        close(sigmas, &[0.24999999999999997, 0.24999999999999997, 0.5, 0.5, 1.0]);
        let (mus, sigmas) = pe.mus_sigmas(1).unwrap();
        close(
            mus,
            &[-6.907755278982137, -4.605170185988091, -3.912023005428146, -1.6094379124341003, -5.207156588151059],
        );
        // Optuna prints 2.302585092994046: ln 10, the gap of a decade.
        close(sigmas, &[LN_10, LN_10, LN_10, LN_10, 8.006367567650246]);
        let (mus, sigmas) = pe.mus_sigmas(2).unwrap();
        close(mus, &[64.0, 128.0, 130.0, 500.0, 272.0]);
        close(sigmas, &[80.16666666666667, 80.16666666666667, 370.0, 370.0, 481.0]);
        let Kernels::Choice { probabilities } = &pe.kernels[3] else { panic!("a choice") };
        close(&probabilities[0], &[0.75, 0.125, 0.125]);
        close(&probabilities[3], &[0.125, 0.75, 0.125]);
        close(&probabilities[4], &[1.0 / 3.0; 3]);
    }

    #[test]
    fn log_densities_equal_optunas() {
        let points = [[0.0, 1e-4, 32.0, 0.0], [0.37, 0.015, 129.0, 2.0], [0.95, 0.3, 512.0, 1.0]];
        let joint = estimator(&space(), &observations());
        let got: Vec<f64> = points.iter().map(|p| joint.log_pdf(p)).collect();
        close(&got, &[-8.072265947042123, -7.819361008624902, -8.57741350043225]);
        // Each key alone (univariate estimators).
        let expected = [
            [-0.005263983887284662, 0.20735292525486893, -0.46029277422201254],
            [-2.875310449488409, -1.857440866702248, -2.1404599815312104],
            [-5.801402519244155, -5.678068836561785, -6.737370814581831],
            [-1.2321436812926323, -0.8754687373538996, -1.2321436812926323],
        ];
        for (k, expected) in expected.iter().enumerate() {
            let column: Vec<Vec<f64>> = observations().iter().map(|o| vec![o[k]]).collect();
            let one = estimator(&space()[k..=k], &column);
            let got: Vec<f64> = points.iter().map(|p| one.log_pdf(&[p[k]])).collect();
            close(&got, expected);
        }
    }

    #[test]
    fn weights_ramp_up_from_the_oldest_past_25_observations() {
        close(&default_weights(3), &[1.0; 3]);
        let thirty = default_weights(30);
        close(&thirty[..5], &[0.03333333333333333, 0.275, 0.5166666666666667, 0.7583333333333333, 1.0]);
        close(&thirty[5..], &[1.0; 25]);
    }

    #[test]
    fn draws_stay_in_the_space_and_follow_the_mixture() {
        let pe = estimator(&space(), &observations());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let draws = pe.sample(&mut rng, 4000);
        for d in &draws {
            assert!((0.0..=1.0).contains(&d[0]) && (1e-4..=0.3).contains(&d[1]), "{d:?}");
            assert!((32.0..=512.0).contains(&d[2]) && d[2].fract() == 0.0 && [0.0, 1.0, 2.0].contains(&d[3]), "{d:?}");
        }
        // Choice 2 ("adamw") was observed twice of four: most likely, as the kernels say
        // (0.2 * (0.125 + 0.75 + 0.75 + 0.125 + 1/3) = 0.4167).
        let share = draws.iter().filter(|d| d[3] == 2.0).count() as f64 / draws.len() as f64;
        assert!((share - 0.4167).abs() < 0.03, "{share}");
        // No observations: the prior alone, uniform-ish over the space.
        let prior = estimator(&space(), &[]);
        assert_eq!(prior.weights, [1.0]);
        let mean = prior.sample(&mut rng, 4000).iter().map(|d| d[0]).sum::<f64>() / 4000.0;
        assert!((mean - 0.5).abs() < 0.03, "{mean}");
    }
}
