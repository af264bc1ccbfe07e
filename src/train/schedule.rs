//! Learning rate schedules and early stopping, as pure functions of the epoch (and batch) and
//! the metrics so far: a resumed trial recomputes them and continues exactly.
//!
//! Semantics are PyTorch's `torch.optim.lr_scheduler`, stepped once per epoch (OneCycleLR once
//! per batch); `tests/fixtures/lr_schedules.csv`, made with PyTorch by
//! `scripts/lr_schedules.py`, holds the values the tests compare with.

use crate::spec::{LrSchedule, Monitor, Spec};
use crate::train::EpochMetrics;

/// The learning rate of batch `batch` (from 0) of epoch `epoch` (from 1).
///
/// With `warmup_epochs = w` (not with onecycle), epochs 1..=w ramp linearly up to `lr`
/// (`lr * e / (w + 1)` in epoch e, PyTorch's `LinearLR(start_factor=1/(w+1), total_iters=w)`),
/// then the schedule runs over the remaining epochs (`SequentialLR(..., milestones=[w])`).
pub fn lr_at(spec: &Spec, epoch: u32, batch: usize, batches_per_epoch: usize) -> f64 {
    let e = epoch.saturating_sub(1); // from 0, as PyTorch counts
    let lr = spec.lr;
    if spec.lr_schedule == LrSchedule::Onecycle {
        let step = e as usize * batches_per_epoch + batch;
        return one_cycle(lr, step, spec.epochs as usize * batches_per_epoch);
    }
    let w = spec.warmup_epochs;
    if e < w {
        return lr * f64::from(e + 1) / f64::from(w + 1);
    }
    let e = e - w;
    let epochs = spec.epochs - w;
    match spec.lr_schedule {
        LrSchedule::Constant => lr,
        LrSchedule::Step => lr * spec.gamma.powi((e / spec.step_size.max(1)) as i32),
        LrSchedule::Multistep => {
            let passed = spec.milestones.iter().filter(|&&m| m.saturating_sub(w) <= e).count();
            lr * spec.gamma.powi(passed as i32)
        }
        LrSchedule::Cosine => {
            let t = f64::from(e) / f64::from(epochs.max(1));
            spec.min_lr + (lr - spec.min_lr) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
        }
        LrSchedule::Onecycle => unreachable!("handled above"),
    }
}

/// PyTorch's OneCycleLR with its defaults (pct_start 0.3, cosine annealing, div_factor 25,
/// final_div_factor 1e4, two phases) at step `step` of `total`.
fn one_cycle(max_lr: f64, step: usize, total: usize) -> f64 {
    let initial = max_lr / 25.0;
    let min = initial / 1e4;
    let peak = 0.3 * total as f64 - 1.0;
    let end = total as f64 - 1.0;
    let anneal =
        |start: f64, stop: f64, pct: f64| stop + (start - stop) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0);
    let s = step as f64;
    if s <= peak { anneal(initial, max_lr, s / peak) } else { anneal(max_lr, min, (s - peak) / (end - peak)) }
}

/// The monitored validation metric of an epoch, lower is better: the loss, or the accuracy
/// negated. None without a validation split.
pub fn monitored(monitor: Monitor, e: &EpochMetrics) -> Option<f64> {
    match monitor {
        Monitor::ValLoss => e.val_loss,
        Monitor::ValAcc => e.val_acc.map(|a| -a),
    }
}

/// The epoch at which early stopping ends the trial, given its metrics so far: after `patience`
/// epochs in a row without an improvement of more than `min_delta` in the monitored validation
/// metric. None while training goes on (or without `patience`).
pub fn stopped_at(spec: &Spec, epochs: &[EpochMetrics]) -> Option<u32> {
    let patience = spec.patience?;
    let mut best: Option<f64> = None;
    let mut waited = 0;
    for e in epochs {
        let value = monitored(spec.monitor, e)?;
        if best.is_none_or(|b| value < b - spec.min_delta) {
            best = Some(value);
            waited = 0;
        } else {
            waited += 1;
            if waited >= patience && e.epoch < spec.epochs {
                return Some(e.epoch);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(schedule: LrSchedule, epochs: u32) -> Spec {
        Spec { lr: 0.1, epochs, lr_schedule: schedule, ..Spec::default() }
    }

    /// Every row of the fixture PyTorch made: case, epochs, batches per epoch, epoch, batch, lr.
    #[test]
    fn schedules_match_pytorch() {
        let text = include_str!("../../tests/fixtures/lr_schedules.csv");
        let mut rows = 0;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (case, epochs, batches, epoch, batch): (&str, u32, usize, u32, usize) =
                (f[0], f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap(), f[4].parse().unwrap());
            let expected: f64 = f[5].parse().unwrap();
            let s = case_spec(case, epochs);
            let got = lr_at(&s, epoch, batch, batches);
            assert!(
                (got - expected).abs() <= 1e-12 * expected.abs().max(1e-3),
                "{case} epoch {epoch} batch {batch}: {got} vs PyTorch {expected}"
            );
            rows += 1;
        }
        assert!(rows > 50, "the fixture has {rows} rows");
    }

    /// The specs of the fixture's cases (scripts/lr_schedules.py makes the same ones).
    fn case_spec(case: &str, epochs: u32) -> Spec {
        let base = spec(LrSchedule::Constant, epochs);
        match case {
            "constant" => base,
            "step" => Spec { lr_schedule: LrSchedule::Step, step_size: 2, gamma: 0.5, ..base },
            "multistep" => Spec { lr_schedule: LrSchedule::Multistep, milestones: vec![2, 5], gamma: 0.1, ..base },
            "cosine" => Spec { lr_schedule: LrSchedule::Cosine, min_lr: 0.001, ..base },
            "cosine_warmup" => Spec { lr_schedule: LrSchedule::Cosine, min_lr: 0.0, warmup_epochs: 2, ..base },
            "step_warmup" => Spec { lr_schedule: LrSchedule::Step, step_size: 2, gamma: 0.5, warmup_epochs: 1, ..base },
            "multistep_warmup" => Spec {
                lr_schedule: LrSchedule::Multistep,
                milestones: vec![3, 5],
                gamma: 0.5,
                warmup_epochs: 2,
                ..base
            },
            "onecycle" => Spec { lr_schedule: LrSchedule::Onecycle, ..base },
            other => panic!("unknown case {other}"),
        }
    }

    #[test]
    fn constant_is_the_seed_experiments_lr() {
        let s = Spec::default();
        assert!((1..=5).all(|e| lr_at(&s, e, 0, 600) == 0.01));
    }

    fn epochs(values: &[(f64, f64)]) -> Vec<EpochMetrics> {
        values
            .iter()
            .enumerate()
            .map(|(i, &(loss, acc))| EpochMetrics {
                epoch: i as u32 + 1,
                val_loss: Some(loss),
                val_acc: Some(acc),
                ..EpochMetrics::default()
            })
            .collect()
    }

    #[test]
    fn early_stopping_waits_patience_epochs_without_improvement() {
        let s = Spec { epochs: 10, val_split: 0.1, patience: Some(2), ..Spec::default() };
        let history = epochs(&[(1.0, 0.5), (0.8, 0.6), (0.81, 0.7), (0.79, 0.65), (0.9, 0.6), (0.85, 0.6), (0.7, 0.9)]);
        // Loss improves at 1, 2, 4; epochs 5 and 6 do not: stop after epoch 6.
        assert_eq!(stopped_at(&s, &history), Some(6));
        assert_eq!(stopped_at(&s, &history[..5]), None);
        // min_delta: 0.79 is not better than 0.8 by more than 0.05, so 3 and 4 wait.
        assert_eq!(stopped_at(&Spec { min_delta: 0.05, ..s.clone() }, &history), Some(4));
        // On accuracy: improves at 1, 2, 3, then 4 and 5 do not.
        assert_eq!(stopped_at(&Spec { monitor: Monitor::ValAcc, ..s.clone() }, &history), Some(5));
        assert_eq!(stopped_at(&Spec { patience: None, ..s.clone() }, &history), None);
        // Stopping at the last epoch is just the end.
        assert_eq!(stopped_at(&Spec { epochs: 6, ..s }, &history[..6]), None);
    }
}
