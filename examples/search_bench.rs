//! The TPE sampler on known functions, without training anything: prints one JSON object
//! `{"function", "sampler", "parallel", "values"}`, `values[s][t]` the objective (to minimise)
//! of trial t of seed s. `bench/tpe_vs_optuna.py` compares it with random search and Optuna.
//!
//!     cargo run --release --example search_bench -- --function branin --sampler tpe --trials 100 --seeds 30 --parallel 1
//!
//! Functions: `branin` (x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887), `hartmann6` ([0, 1]^6;
//! minimum -3.32237) and `mixed` (a log key, an integer key, a 3-way choice and a key that counts
//! only for one choice; minimum 0). With `--parallel P` trials are drawn in rounds of P: each
//! from the trials of earlier rounds, the round's earlier draws counted as running.

use rand::SeedableRng;
use runner::spec::parzen::Param;
use runner::spec::tpe::{Observed, Outcome, TpeSettings, random, suggest};

fn branin(x: &[f64]) -> f64 {
    let pi = std::f64::consts::PI;
    let (b, c, t) = (5.1 / (4.0 * pi * pi), 5.0 / pi, 1.0 / (8.0 * pi));
    (x[1] - b * x[0] * x[0] + c * x[0] - 6.0).powi(2) + 10.0 * (1.0 - t) * x[0].cos() + 10.0
}

fn hartmann6(x: &[f64]) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    -(0..4).map(|i| ALPHA[i] * (-(0..6).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum::<f64>()).exp()).sum::<f64>()
}

/// lr (log, best 0.01), layers (integer, best 7), optimizer (choice: 0 best), momentum (counts
/// for optimizer 0 only, best 0.3).
fn mixed(x: &[f64]) -> f64 {
    let (lr, layers, optimizer, momentum) = (x[0], x[1], x[2], x[3]);
    let choice = match optimizer as usize {
        0 => 4.0 * (momentum - 0.3).powi(2),
        1 => 0.5,
        _ => 1.0,
    };
    (lr.log10() + 2.0).powi(2) + (layers - 7.0).powi(2) / 20.0 + choice
}

fn space(function: &str) -> Vec<Param> {
    let number = |low, high| Param::Number { low, high, log: false, step: None };
    match function {
        "branin" => vec![number(-5.0, 10.0), number(0.0, 15.0)],
        "hartmann6" => vec![number(0.0, 1.0); 6],
        "mixed" => vec![
            Param::Number { low: 1e-5, high: 1.0, log: true, step: None },
            Param::Number { low: 1.0, high: 20.0, log: false, step: Some(1.0) },
            Param::Choice { choices: 3 },
            number(0.0, 1.0),
        ],
        other => panic!("unknown function {other}: branin, hartmann6 or mixed"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: &str| -> String {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.into())
    };
    let function = flag("--function", "branin");
    let sampler = flag("--sampler", "tpe");
    let trials: usize = flag("--trials", "100").parse().expect("--trials N");
    let seeds: u64 = flag("--seeds", "30").parse().expect("--seeds N");
    let parallel: usize = flag("--parallel", "1").parse().expect("--parallel N");
    assert!(parallel >= 1, "--parallel must be at least 1");
    let objective: fn(&[f64]) -> f64 = match function.as_str() {
        "branin" => branin,
        "hartmann6" => hartmann6,
        _ => mixed,
    };
    let space = space(&function);
    let settings = TpeSettings::default();
    let values: Vec<Vec<f64>> = (0..seeds)
        .map(|seed| {
            let mut history: Vec<Observed> = Vec::with_capacity(trials);
            while history.len() < trials {
                let round_start = history.len();
                let round = round_start / parallel;
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003) + round as u64);
                for _ in 0..parallel.min(trials - round_start) {
                    let values = match sampler.as_str() {
                        "random" => random(&space, &mut rng),
                        _ => suggest(&space, &history, &settings, &mut rng),
                    };
                    // mixed's momentum counts for optimizer 0 only: the other trials do not use it.
                    let used = |k: usize| !(function == "mixed" && k == 3 && values[2] != 0.0);
                    let values = values.iter().enumerate().map(|(k, &v)| used(k).then_some(v)).collect();
                    history.push(Observed { values, outcome: Outcome::Running });
                }
                for trial in &mut history[round_start..] {
                    let x: Vec<f64> = trial.values.iter().map(|v| v.unwrap_or(0.0)).collect();
                    trial.outcome = Outcome::Complete(objective(&x));
                }
            }
            history.iter().map(|o| if let Outcome::Complete(v) = o.outcome { v } else { f64::NAN }).collect()
        })
        .collect();
    let json = serde_json::json!({"function": function, "sampler": sampler, "parallel": parallel, "values": values});
    println!("{json}");
}
