//! `[search]`: random search, ASHA and TPE over `[search.space]`, on top of the `[sweep]` grid.
//!
//! Every grid point gets its own `trials` samples; sample j of grid point p draws its values
//! from a ChaCha8 stream seeded by the search's `seed`, p and j alone, so the same spec gives
//! the same trials on every machine. With `method = "asha"`, each grid point is one bracket:
//! at each rung (`min_epochs * reduction_factor^k` epochs) a trial goes on only if its monitored
//! validation metric is among the best `max(1, n / reduction_factor)` of the n trials of its
//! bracket that have reached that rung so far (Optuna's successive halving rule). With
//! `method = "tpe"`, each grid point is one study whose trials are drawn in rounds of `parallel`
//! from the results of the rounds before (`tpe`, `rounds`), optionally pruned as ASHA prunes.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::catalog::names;

names!(
    /// How the trials of a spec are chosen.
    SearchMethod { Grid = "grid", Random = "random", Asha = "asha", Tpe = "tpe" }
);

names!(
    /// What stops a TPE search's trials early.
    Prune { Off = "none", Asha = "asha" }
);

/// `[search]` as written in a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchSpec {
    pub method: SearchMethod,
    /// Samples per grid point (random and asha).
    #[serde(skip_serializing_if = "is_zero")]
    pub trials: u32,
    /// The search's own seed (the trials' `seed` is a key like any other).
    pub seed: u64,
    /// ASHA (and TPE's `prune = "asha"`): epochs of the first rung.
    pub min_epochs: u32,
    /// ASHA: eta, the fraction (1/eta) of trials that go on at each rung.
    pub reduction_factor: u32,
    /// TPE: trials drawn per round, each from the rounds before it only.
    #[serde(skip_serializing_if = "is_default_parallel")]
    pub parallel: u32,
    /// TPE: prune its trials as ASHA does (`min_epochs`, `reduction_factor`).
    #[serde(skip_serializing_if = "is_off")]
    pub prune: Prune,
    /// TPE, under the names of Optuna 5's `TPESampler` arguments and with its defaults
    /// (multivariate kernels, running trials counted as bad ones), but for `group`, on here:
    /// conditional keys (momentum for SGD only) in groups of their own, as Optuna advises for
    /// them. Random draws before this many trials have ended.
    #[serde(skip_serializing_if = "is_10")]
    pub n_startup_trials: u32,
    /// TPE: candidates drawn from the good trials' estimator, of which the best is taken.
    #[serde(skip_serializing_if = "is_24")]
    pub n_ei_candidates: u32,
    /// TPE: the weight of the prior (uniform over the space) beside the trials' kernels.
    #[serde(skip_serializing_if = "is_one")]
    pub prior_weight: f64,
    #[serde(skip_serializing_if = "is_true")]
    pub consider_magic_clip: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub consider_endpoints: bool,
    #[serde(skip_serializing_if = "is_true")]
    pub multivariate: bool,
    #[serde(skip_serializing_if = "is_true")]
    pub group: bool,
    #[serde(skip_serializing_if = "is_true")]
    pub constant_liar: bool,
    /// Distributions per key: a list (uniform choice), `{ uniform = [a, b] }`,
    /// `{ log_uniform = [a, b] }` or `{ int_uniform = [a, b] }` (inclusive).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub space: BTreeMap<String, toml::Value>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_default_parallel(n: &u32) -> bool {
    *n == DEFAULT_PARALLEL
}

fn is_off(prune: &Prune) -> bool {
    *prune == Prune::Off
}

/// Trials per TPE round unless `parallel` says otherwise.
pub const DEFAULT_PARALLEL: u32 = 4;

fn is_10(n: &u32) -> bool {
    *n == 10
}
fn is_24(n: &u32) -> bool {
    *n == 24
}
fn is_one(x: &f64) -> bool {
    *x == 1.0
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for SearchSpec {
    fn default() -> Self {
        SearchSpec {
            method: SearchMethod::Grid,
            trials: 0,
            seed: 0,
            min_epochs: 1,
            reduction_factor: 3,
            parallel: DEFAULT_PARALLEL,
            prune: Prune::Off,
            n_startup_trials: 10,
            n_ei_candidates: 24,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
            multivariate: true,
            group: true,
            constant_liar: true,
            space: BTreeMap::new(),
        }
    }
}

/// The keys of `[search]`.
pub const SEARCH_FIELDS: &[&str] = &[
    "method",
    "trials",
    "seed",
    "min_epochs",
    "reduction_factor",
    "parallel",
    "prune",
    "n_startup_trials",
    "n_ei_candidates",
    "prior_weight",
    "consider_magic_clip",
    "consider_endpoints",
    "multivariate",
    "group",
    "constant_liar",
    "space",
];

/// The `[search]` keys that are Optuna's `TPESampler` arguments, which only `method = "tpe"`
/// reads: those of [`SEARCH_FIELDS`] from `n_startup_trials` to `constant_liar`.
pub const TPE_FIELDS: &[&str] = SEARCH_FIELDS.split_at(7).1.split_at(8).0;

impl SearchSpec {
    pub fn is_default(&self) -> bool {
        *self == SearchSpec::default()
    }

    /// Whether trials are sampled (random, asha or tpe) rather than only gridded.
    pub fn samples(&self) -> bool {
        self.method != SearchMethod::Grid
    }

    /// Whether trials are pruned at ASHA's rungs (`method = "asha"`, or tpe with `prune = "asha"`).
    pub fn prunes(&self) -> bool {
        self.method == SearchMethod::Asha || (self.method == SearchMethod::Tpe && self.prune == Prune::Asha)
    }

    /// The TPE round of a grid point's sample `sample`.
    pub fn round_of(&self, sample: usize) -> usize {
        sample / self.parallel.max(1) as usize
    }

    /// The rungs of ASHA for a trial of `epochs` epochs (empty when nothing prunes).
    pub fn rungs(&self, epochs: u32) -> Vec<u32> {
        if !self.prunes() {
            return Vec::new();
        }
        let mut rungs = Vec::new();
        let mut rung = self.min_epochs.max(1);
        while rung < epochs {
            rungs.push(rung);
            rung = rung.saturating_mul(self.reduction_factor.max(2));
        }
        rungs
    }
}

/// ASHA's successive-halving rule at a rung, on the sorted scores of the trials that reached it
/// (lower is better, `mine` among them): None to go on, else how many go on from this rung.
pub fn successive_halving(mine: f64, sorted: &[f64], reduction: usize) -> Option<usize> {
    let keep = (sorted.len() / reduction).max(1);
    let cutoff = sorted.get(keep - 1).copied().unwrap_or(mine);
    (mine > cutoff).then_some(keep)
}

/// A parsed `[search.space]` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Choice(Vec<toml::Value>),
    Uniform(f64, f64),
    LogUniform(f64, f64),
    IntUniform(i64, i64),
}

impl Distribution {
    /// Reads one entry; the error says what is wrong with it.
    pub fn parse(value: &toml::Value) -> Result<Distribution, String> {
        const FORMS: &str =
            "a list of values, { uniform = [a, b] }, { log_uniform = [a, b] } or { int_uniform = [a, b] }";
        match value {
            toml::Value::Array(list) if !list.is_empty() => Ok(Distribution::Choice(list.clone())),
            toml::Value::Table(table) if table.len() == 1 => {
                let (name, bounds) = table.iter().next().expect("one entry");
                let pair = |v: &toml::Value| -> Option<(f64, f64)> {
                    let list = v.as_array().filter(|l| l.len() == 2)?;
                    let num = |x: &toml::Value| x.as_float().or_else(|| x.as_integer().map(|i| i as f64));
                    Some((num(&list[0])?, num(&list[1])?))
                };
                let Some((a, b)) = pair(bounds).filter(|(a, b)| a.is_finite() && b.is_finite()) else {
                    return Err(format!("`{name}` needs two numbers [a, b], e.g. {name} = [0.001, 0.1]"));
                };
                if a > b {
                    return Err(format!("`{name}` = [{a}, {b}]: the lower bound is above the upper one"));
                }
                match name.as_str() {
                    "uniform" => Ok(Distribution::Uniform(a, b)),
                    "log_uniform" if a <= 0.0 => {
                        Err(format!("`log_uniform` = [{a}, {b}]: both bounds must be greater than 0"))
                    }
                    "log_uniform" => Ok(Distribution::LogUniform(a, b)),
                    "int_uniform" if a.fract() != 0.0 || b.fract() != 0.0 => {
                        Err(format!("`int_uniform` = [{a}, {b}]: the bounds must be integers"))
                    }
                    "int_uniform" => Ok(Distribution::IntUniform(a as i64, b as i64)),
                    other => Err(format!("unknown distribution `{other}`; use {FORMS}")),
                }
            }
            _ => Err(format!("must be {FORMS}")),
        }
    }

    pub fn sample(&self, rng: &mut ChaCha8Rng) -> toml::Value {
        match self {
            Distribution::Choice(list) => list[rng.random_range(0..list.len())].clone(),
            Distribution::Uniform(a, b) => toml::Value::Float(a + (b - a) * rng.random::<f64>()),
            Distribution::LogUniform(a, b) => {
                toml::Value::Float((a.ln() + (b.ln() - a.ln()) * rng.random::<f64>()).exp())
            }
            Distribution::IntUniform(a, b) => toml::Value::Integer(rng.random_range(*a..=*b)),
        }
    }

    /// Whether 0 is among the values it may draw.
    pub fn can_draw_zero(&self) -> bool {
        match self {
            Distribution::Choice(list) => list.iter().any(|v| v.as_float() == Some(0.0) || v.as_integer() == Some(0)),
            Distribution::Uniform(a, b) => *a <= 0.0 && *b >= 0.0,
            Distribution::LogUniform(..) => false,
            Distribution::IntUniform(a, b) => *a <= 0 && *b >= 0,
        }
    }

    /// Whether values are drawn on a log scale (plots use a log axis for them).
    pub fn is_log(&self) -> bool {
        matches!(self, Distribution::LogUniform(..))
    }
}

/// The random stream of sample `sample` of grid point `point`.
pub fn stream(search_seed: u64, point: usize, sample: usize) -> ChaCha8Rng {
    let mix = (point as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (sample as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    ChaCha8Rng::seed_from_u64(search_seed ^ mix ^ 0x0005_EA2C_0000_0000)
}

/// A sampled value for trial names: 4 significant digits (spec.toml keeps every digit).
pub fn display_sample(value: &toml::Value) -> String {
    match value {
        toml::Value::Float(v) if *v != 0.0 && v.is_finite() => {
            let decimals = (3 - v.abs().log10().floor() as i32).max(0) as usize;
            let text = format!("{v:.decimals$}");
            if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
        }
        other => super::display_value(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successive_halving_keeps_the_best_third_and_the_first_alone() {
        let decide = successive_halving;
        // Lower is better. The first trial at a rung has no one to lose to.
        assert_eq!(decide(0.5, &[0.5], 3), None);
        // Two trials: one goes on (max(1, 2/3)); the worse is pruned.
        assert_eq!(decide(0.4, &[0.4, 0.5], 3), None);
        assert_eq!(decide(0.5, &[0.4, 0.5], 3), Some(1));
        // Six trials: the best two go on.
        let six = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        assert_eq!(decide(0.2, &six, 3), None);
        assert_eq!(decide(0.3, &six, 3), Some(2));
        // Ties at the cutoff go on.
        assert_eq!(decide(0.2, &[0.1, 0.2, 0.2, 0.4, 0.5, 0.6], 3), None);
        // eta 2: half go on.
        assert_eq!(decide(0.2, &[0.1, 0.2, 0.3, 0.4], 2), None);
        assert_eq!(decide(0.3, &[0.1, 0.2, 0.3, 0.4], 2), Some(2));
    }

    #[test]
    fn distributions_parse_or_say_what_is_wrong() {
        let parse =
            |text: &str| Distribution::parse(&toml::from_str::<toml::Table>(&format!("v = {text}")).unwrap()["v"]);
        assert_eq!(parse("{ uniform = [0, 1] }"), Ok(Distribution::Uniform(0.0, 1.0)));
        assert_eq!(parse("{ log_uniform = [1e-4, 0.1] }"), Ok(Distribution::LogUniform(1e-4, 0.1)));
        assert_eq!(parse("{ int_uniform = [16, 256] }"), Ok(Distribution::IntUniform(16, 256)));
        assert_eq!(parse("[\"nn\", \"cnn\"]"), Ok(Distribution::Choice(vec!["nn".into(), "cnn".into()])));
        assert!(parse("{ uniform = [2, 1] }").unwrap_err().contains("lower bound is above"));
        assert!(parse("{ log_uniform = [0, 1] }").unwrap_err().contains("greater than 0"));
        assert!(parse("{ normal = [0, 1] }").unwrap_err().contains("unknown distribution `normal`"));
        assert!(parse("{ int_uniform = [1.5, 3] }").unwrap_err().contains("integers"));
        assert!(parse("[]").unwrap_err().contains("must be a list"));
        assert!(parse("0.1").unwrap_err().contains("must be a list"));
    }

    #[test]
    fn samples_are_reproducible_and_within_bounds() {
        let log = Distribution::LogUniform(1e-4, 1e-1);
        let draw = |point, sample| log.sample(&mut stream(7, point, sample)).as_float().unwrap();
        assert_eq!(draw(0, 3), draw(0, 3), "the same stream on every machine");
        assert_ne!(draw(0, 3), draw(0, 4));
        assert_ne!(draw(0, 3), draw(1, 3));
        let int = Distribution::IntUniform(2, 4);
        let mut seen = [0; 5];
        let mut rng = stream(1, 0, 0);
        for _ in 0..3000 {
            let v = int.sample(&mut rng).as_integer().unwrap();
            assert!((2..=4).contains(&v));
            seen[v as usize] += 1;
        }
        assert!(seen[2..].iter().all(|&n| n > 900), "inclusive and even: {seen:?}");
    }

    #[test]
    fn log_uniform_spreads_evenly_over_decades() {
        // 1e-4..1e-1 spans 3 decades: each should get about a third of the draws (and a plain
        // uniform would put 90 % into the last one).
        let log = Distribution::LogUniform(1e-4, 1e-1);
        let mut rng = stream(42, 0, 0);
        let n = 30_000;
        let mut decades = [0usize; 3];
        for _ in 0..n {
            let v = log.sample(&mut rng).as_float().unwrap();
            assert!((1e-4..=1e-1).contains(&v));
            decades[((v.log10() + 4.0).floor() as usize).min(2)] += 1;
        }
        // Chi-square against 1/3 each, 2 degrees of freedom: 13.8 is the 0.1 % critical value.
        let expected = n as f64 / 3.0;
        let chi2: f64 = decades.iter().map(|&o| (o as f64 - expected).powi(2) / expected).sum();
        assert!(chi2 < 13.8, "{decades:?} chi2 {chi2}");
    }

    #[test]
    fn the_tpe_fields_are_optunas_knobs() {
        assert_eq!((TPE_FIELDS[0], TPE_FIELDS[TPE_FIELDS.len() - 1]), ("n_startup_trials", "constant_liar"));
        let table = toml::Table::try_from(SearchSpec { method: SearchMethod::Tpe, ..SearchSpec::default() }).unwrap();
        assert!(TPE_FIELDS.iter().all(|k| !table.contains_key(*k)), "each knob left out at its default");
    }

    #[test]
    fn rungs_grow_by_the_reduction_factor_below_the_epochs() {
        let asha = SearchSpec { method: SearchMethod::Asha, ..SearchSpec::default() };
        assert_eq!(asha.rungs(27), [1, 3, 9]);
        assert_eq!(asha.rungs(9), [1, 3]);
        assert_eq!(SearchSpec { min_epochs: 2, reduction_factor: 2, ..asha.clone() }.rungs(20), [2, 4, 8, 16]);
        assert!(SearchSpec::default().rungs(27).is_empty());
    }

    #[test]
    fn sampled_values_display_rounded() {
        assert_eq!(display_sample(&toml::Value::Float(0.0123456)), "0.01235");
        assert_eq!(display_sample(&toml::Value::Float(0.91234)), "0.9123");
        assert_eq!(display_sample(&toml::Value::Float(123.456)), "123.5");
        assert_eq!(display_sample(&toml::Value::Float(12345.6)), "12346");
        assert_eq!(display_sample(&toml::Value::Integer(64)), "64");
    }
}
