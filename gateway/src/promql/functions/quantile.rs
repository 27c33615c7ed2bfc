//! φ-quantile of a set of values (the `quantile` aggregation and quantile_over_time) and the
//! median absolute deviation (mad_over_time), as Prometheus' `quantile` in promql/quantile.go.

use std::cmp::Ordering;

/// Prometheus' `quantile`: linear interpolation between the two closest ranks of the sorted
/// values. NaN φ or no values → NaN; φ < 0 → -Inf; φ > 1 → +Inf. NaN values sort below
/// everything (so a rank between NaN and a number interpolates to NaN). Sorts `values` in
/// place: pass a scratch copy.
pub fn quantile(phi: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    values.sort_unstable_by(nan_first);
    let n = values.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    // Written as Prometheus does: with weight 0, an infinite upper value still gives NaN.
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Median absolute deviation: the median of |v - median(values)|. NaN when any value is NaN
/// (Prometheus 3.x's mad_over_time), NaN for no values. Reorders `values` and overwrites them
/// with the deviations: pass a scratch copy.
pub fn mad(values: &mut [f64]) -> f64 {
    if values.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let median = quantile(0.5, values);
    for v in values.iter_mut() {
        *v = (*v - median).abs();
    }
    quantile(0.5, values)
}

/// Go's sort order for quantiles (`vectorByValueHeap`): NaN below everything, else by value.
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(phi: f64, values: &[f64]) -> f64 {
        quantile(phi, &mut values.to_vec())
    }

    #[test]
    fn interpolates_between_ranks() {
        // functions.test:1385-1420 (quantile_over_time) and aggregators.test:504.
        assert_eq!(q(0.0, &[0.0, 1.0]), 0.0);
        assert_eq!(q(0.5, &[0.0, 1.0]), 0.5);
        assert_eq!(q(0.75, &[0.0, 1.0, 2.0]), 1.5);
        assert!((q(0.8, &[0.0, 1.0, 4.0]) - 2.8).abs() < 1e-12);
        assert!((q(0.8, &[2.0, 0.0, 1.0]) - 1.6).abs() < 1e-12);
        assert_eq!(q(1.0, &[4.0, 1.0, 0.0]), 4.0);
        assert_eq!(q(0.3, &[7.0]), 7.0);
    }

    #[test]
    fn out_of_range_and_nan_phi() {
        assert_eq!(q(-1.0, &[0.0, 1.0]), f64::NEG_INFINITY);
        assert_eq!(q(2.0, &[0.0, 1.0]), f64::INFINITY);
        assert!(q(f64::NAN, &[0.0, 1.0]).is_nan());
        assert!(q(0.5, &[]).is_nan());
        assert_eq!(q(-1.0, &[]).to_bits(), f64::NAN.to_bits());
    }

    #[test]
    fn nan_values_are_smallest() {
        // aggregators.test:509 and :517: the "NaN sample" group is {0, 1, NaN}.
        assert!((q(0.8, &[0.0, 1.0, f64::NAN]) - 0.6).abs() < 1e-12);
        assert!(q(0.2, &[0.0, f64::NAN, 1.0]).is_nan());
        assert_eq!(q(1.0, &[f64::NAN, f64::NAN, 3.0]), 3.0);
    }

    #[test]
    fn infinite_values_follow_the_formula() {
        // weight 0 with +Inf involved: x*1 + Inf*0 = NaN, as in Go.
        assert!(q(0.0, &[1.0, f64::INFINITY]).is_nan());
        assert!(q(1.0, &[1.0, f64::INFINITY]).is_nan());
        assert!(q(0.5, &[1.0, 2.0, f64::INFINITY]).is_nan());
        assert_eq!(q(0.25, &[1.0, 2.0, 3.0, f64::INFINITY]), 1.75);
    }

    #[test]
    fn median_absolute_deviation() {
        // functions.test:1276-1300.
        assert_eq!(mad(&mut [4.0, 6.0, 2.0, 1.0, 999.0, 1.0, 2.0]), 1.0);
        assert_eq!(mad(&mut [1.0, 2.0, 3.0, 4.0, 5.0]), 1.0);
        assert_eq!(mad(&mut [7.0; 5]), 0.0);
        assert_eq!(mad(&mut [5.0]), 0.0);
        assert!(mad(&mut [1.0, 2.0, f64::NAN, 4.0]).is_nan());
        assert!(mad(&mut []).is_nan());
    }
}
