//! The two tests of the NN-vs-CNN comparison: a paired t-test when both models ran the same
//! seeds, Welch's t-test otherwise; each with its 95 % interval of the gain (Student's t from
//! `statrs`; the tests check the figures against scipy.stats).

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A gain in accuracy with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub gain: f64,
    /// The 95 % interval of the gain.
    pub low: f64,
    pub high: f64,
    /// Two-sided; None when the gain and its spread are both zero (nothing to test).
    pub p_value: Option<f64>,
}

/// scipy's `ttest_rel(after, before)` and `t.interval(0.95, n - 1, mean, sem)` of the per-pair
/// differences `after[i] - before[i]`; None with fewer than two pairs.
pub fn paired(before: &[f64], after: &[f64]) -> Option<Estimate> {
    let differences: Vec<f64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let n = differences.len();
    if n < 2 || before.len() != after.len() {
        return None;
    }
    let (mean, variance) = mean_and_variance(&differences);
    Some(estimate(mean, (variance / n as f64).sqrt(), (n - 1) as f64))
}

/// scipy's `ttest_ind(after, before, equal_var=False)` and its `confidence_interval(0.95)`
/// (Welch-Satterthwaite degrees of freedom); None unless both groups have two values or more.
pub fn welch(before: &[f64], after: &[f64]) -> Option<Estimate> {
    let (n1, n2) = (before.len() as f64, after.len() as f64);
    if n1 < 2.0 || n2 < 2.0 {
        return None;
    }
    let ((m1, v1), (m2, v2)) = (mean_and_variance(before), mean_and_variance(after));
    let (s1, s2) = (v1 / n1, v2 / n2);
    let se = (s1 + s2).sqrt();
    let df = if se > 0.0 { (s1 + s2).powi(2) / (s1 * s1 / (n1 - 1.0) + s2 * s2 / (n2 - 1.0)) } else { n1 + n2 - 2.0 };
    Some(estimate(m2 - m1, se, df))
}

fn estimate(gain: f64, se: f64, df: f64) -> Estimate {
    if se == 0.0 {
        // No spread: the interval is the gain itself, and any gain is certain.
        let p_value = (gain != 0.0).then_some(0.0);
        return Estimate { gain, low: gain, high: gain, p_value };
    }
    let t = StudentsT::new(0.0, 1.0, df).expect("df > 0 and a unit scale are valid");
    let half = t.inverse_cdf(0.975) * se;
    let p_value = 2.0 * t.sf((gain / se).abs());
    Estimate { gain, low: gain - half, high: gain + half, p_value: Some(p_value) }
}

/// scipy's `t.interval(0.95, n - 1, mean, sem)` of a few values (a curve's seeds at one epoch):
/// (mean, low, high); the mean alone, as its own interval, with fewer than two values.
pub fn mean_interval(values: &[f64]) -> Option<(f64, f64, f64)> {
    match values.len() {
        0 => None,
        1 => Some((values[0], values[0], values[0])),
        n => {
            let (mean, variance) = mean_and_variance(values);
            let e = estimate(mean, (variance / n as f64).sqrt(), (n - 1) as f64);
            Some((mean, e.low, e.high))
        }
    }
}

/// Mean and sample variance (n - 1).
fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-300)
    }

    #[test]
    fn paired_matches_scipy() {
        let nn = [0.9183, 0.9201, 0.9177, 0.9195, 0.9188];
        let cnn = [0.9712, 0.9735, 0.9701, 0.9722, 0.9729];
        let e = paired(&nn, &cnn).unwrap();
        // scipy 1.17.1: d = cnn - nn; ttest_rel(cnn, nn).pvalue;
        // t.interval(0.95, 4, loc=d.mean(), scale=sem(d))
        assert!(close(e.gain, 0.0531, 1e-9), "{e:?}");
        assert!(close(e.low, 0.05227170680277224, 1e-6) && close(e.high, 0.05392829319722775, 1e-6), "{e:?}");
        assert!(close(e.p_value.unwrap(), 5.976704663269372e-09, 1e-4), "{e:?}");
        assert_eq!(paired(&[0.9], &[0.97]), None, "one pair: no interval");
    }

    #[test]
    fn welch_matches_scipy() {
        let nn = [0.41, 0.43, 0.40];
        let cnn = [0.55, 0.58, 0.52, 0.57];
        let e = welch(&nn, &cnn).unwrap();
        // scipy 1.17.1: r = ttest_ind(cnn, nn, equal_var=False); r.pvalue, r.confidence_interval(0.95)
        assert!(close(e.gain, 0.1416666666666666, 1e-9), "{e:?}");
        assert!(close(e.low, 0.10035671429852866, 1e-6) && close(e.high, 0.18297661903480456, 1e-6), "{e:?}");
        assert!(close(e.p_value.unwrap(), 0.00035407145957645005, 1e-4), "{e:?}");
        assert_eq!(welch(&[0.4], &cnn), None);
    }

    #[test]
    fn mean_interval_matches_scipy() {
        // scipy 1.17.1: t.interval(0.95, 2, loc=mean(v), scale=sem(v)) for v = [0.91, 0.93, 0.92]
        let (mean, low, high) = mean_interval(&[0.91, 0.93, 0.92]).unwrap();
        assert!(close(mean, 0.92, 1e-12), "{mean}");
        assert!(close(low, 0.8951586228824967, 1e-9) && close(high, 0.9448413771175034, 1e-9), "{low} {high}");
        assert_eq!(mean_interval(&[0.5]), Some((0.5, 0.5, 0.5)));
        assert_eq!(mean_interval(&[]), None);
    }

    #[test]
    fn no_spread_means_no_uncertainty() {
        let e = paired(&[0.5, 0.75], &[0.625, 0.875]).unwrap();
        assert!(e.gain == 0.125 && e.low == e.high && e.p_value == Some(0.0), "{e:?}");
        assert_eq!(paired(&[0.5, 0.6], &[0.5, 0.6]).unwrap().p_value, None);
    }
}
