//! Classic (`le`-bucketed) histograms: histogram_quantile, histogram_fraction, the `le` label
//! parser and the `quantile` label formatter of histogram_quantiles, as Prometheus'
//! promql/quantile.go (`BucketQuantile`, `BucketFraction`).

use super::annotations::{Annotations, Position};
use super::format::go_g;

/// One classic bucket: cumulative count of observations ≤ `upper_bound`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// What forcing the bucket counts monotonic changed (for the info annotation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForcedMonotonicity {
    /// Lowest and highest upper bound whose count had to be raised.
    pub min_bucket: f64,
    pub max_bucket: f64,
    /// The largest decrease removed.
    pub max_diff: f64,
}

/// The result of [`bucket_quantile_detail`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketQuantile {
    pub value: f64,
    /// Some when a decreasing count had to be raised: Prometheus then adds an info.
    pub forced_monotonicity: Option<ForcedMonotonicity>,
    /// Whether differences within 1e-12 (float noise) were silently evened out.
    pub fixed_precision: bool,
}

/// Where a histogram_quantile result comes from, for its annotation.
#[derive(Clone, Copy, Debug)]
pub struct QuantileSite<'a> {
    /// The series' `__name__` ("" when the name is already dropped).
    pub metric_name: &'a str,
    /// Position of the histogram (vector) argument.
    pub pos: Option<Position>,
    /// Evaluation time, ms.
    pub ts: i64,
}

/// Relative difference under which neighbouring bucket counts count as equal.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// histogram_quantile over classic buckets, adding Prometheus' monotonicity info to
/// `annotations`. See [`bucket_quantile_detail`].
pub fn bucket_quantile(
    phi: f64,
    buckets: &mut Vec<Bucket>,
    site: &QuantileSite,
    annotations: &mut Annotations,
) -> f64 {
    let result = bucket_quantile_detail(phi, buckets);
    if let Some(f) = result.forced_monotonicity {
        annotations.histogram_quantile_forced_monotonicity(
            site.metric_name,
            site.pos,
            site.ts,
            f.min_bucket,
            f.max_bucket,
            f.max_diff,
        );
    }
    result.value
}

/// Prometheus' `BucketQuantile`: NaN φ → NaN, φ < 0 → -Inf, φ > 1 → +Inf; buckets are sorted
/// by bound (in place), the highest must be +Inf (else NaN), equal bounds are merged, counts are
/// made monotonic; fewer than 2 buckets or no observations → NaN. The quantile interpolates
/// linearly inside its bucket; the lowest bucket starts at 0 when its bound is positive (and is
/// returned as is otherwise); a quantile in the +Inf bucket returns the second highest bound.
pub fn bucket_quantile_detail(phi: f64, buckets: &mut Vec<Bucket>) -> BucketQuantile {
    let mut result = BucketQuantile {
        value: f64::NAN,
        forced_monotonicity: None,
        fixed_precision: false,
    };
    if phi.is_nan() {
        return result;
    }
    if phi < 0.0 {
        result.value = f64::NEG_INFINITY;
        return result;
    }
    if phi > 1.0 {
        result.value = f64::INFINITY;
        return result;
    }
    if !sort_and_coalesce(buckets) {
        return result;
    }
    let (forced, fixed) = ensure_monotonic(buckets);
    result.forced_monotonicity = forced;
    result.fixed_precision = fixed;
    // These exits come after the monotonicity fix, so its info is still reported.
    let n = buckets.len();
    if n < 2 {
        return result;
    }
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return result;
    }
    let rank = phi * observations;
    // First bucket (the +Inf one excluded) whose count reaches the rank.
    let b = go_search(n - 1, |i| buckets[i].count >= rank);
    result.value = if b == n - 1 {
        buckets[n - 2].upper_bound
    } else if b == 0 && buckets[0].upper_bound <= 0.0 {
        buckets[0].upper_bound
    } else {
        let end = buckets[b].upper_bound;
        let (start, count, rank) = if b > 0 {
            let prev = buckets[b - 1];
            (
                prev.upper_bound,
                buckets[b].count - prev.count,
                rank - prev.count,
            )
        } else {
            (0.0, buckets[b].count, rank)
        };
        start + (end - start) * (rank / count)
    };
    result
}

/// Prometheus' `BucketFraction`: the estimated fraction of observations in [lower, upper],
/// interpolating linearly inside buckets; the lowest bucket starts at 0 when its bound is
/// positive (at -Inf otherwise, contributing nothing partially), the +Inf bucket contributes
/// nothing partially. No +Inf bucket, no observations, or a NaN bound → NaN; lower ≥ upper → 0.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if !sort_and_coalesce(buckets) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper_bound <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper_bound;
        }
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.count
            } else {
                rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count; // Counts are cumulative.
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// Parses an `le` label value as Go's `strconv.ParseFloat(s, 64)`: decimal or hexadecimal
/// (`0x1p-2`) floats, `_` between digits, case-insensitive `inf`/`infinity` (signed) and `nan`;
/// no surrounding space; out-of-range values are errors. None = malformed (Prometheus warns and
/// skips the bucket).
pub fn parse_le(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let value = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" if body.len() == s.len() => return Some(f64::NAN),
        _ if lower.starts_with("0x") => parse_hex(&lower[2..])?,
        _ => parse_decimal(body)?,
    };
    Some(if neg { -value } else { value })
}

fn parse_decimal(s: &str) -> Option<f64> {
    let plain = strip_underscores(s, false)?;
    let ok = !plain.starts_with(['+', '-'])
        && plain
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && plain.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    let v: f64 = plain.parse().ok()?;
    // Go reports overflow as an error (ErrRange).
    v.is_finite().then_some(v)
}

/// `0x` mantissa (hex digits, optional point) and a mandatory `p` binary exponent.
fn parse_hex(s: &str) -> Option<f64> {
    let s = strip_underscores(s, true)?;
    let (mantissa, exp) = s.split_once('p')?;
    let exp: i64 = match exp.strip_prefix('+') {
        Some(e) if !e.starts_with(['+', '-']) => e.parse().ok()?,
        _ => exp.parse().ok()?,
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut m: u128 = 0;
    let mut shift: i64 = 0;
    let mut sticky = false;
    for (i, c) in int.chars().chain(frac.chars()).enumerate() {
        let d = u128::from(c.to_digit(16)?);
        if m >> 120 == 0 {
            m = m * 16 + d;
            if i >= int.len() {
                shift -= 4;
            }
        } else {
            sticky |= d != 0;
            if i < int.len() {
                shift += 4;
            }
        }
    }
    if sticky {
        m |= 1; // Keeps round-to-nearest honest for digits beyond 120 bits.
    }
    let v = scale_by_power_of_two(m as f64, exp.saturating_add(shift));
    v.is_finite().then_some(v)
}

/// `x × 2^e` without overflowing the factor on the way.
fn scale_by_power_of_two(mut x: f64, e: i64) -> f64 {
    let mut e = e.clamp(-2200, 2200) as i32;
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// Removes `_` digit separators, allowed only between digits (or after a `0x` prefix).
fn strip_underscores(s: &str, hex: bool) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let is_digit = |b: u8| {
        if hex {
            b.is_ascii_hexdigit()
        } else {
            b.is_ascii_digit()
        }
    };
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let before_ok = (i == 0 && hex) || (i > 0 && is_digit(bytes[i - 1]));
            let after_ok = i + 1 < bytes.len() && is_digit(bytes[i + 1]);
            if !before_ok || !after_ok {
                return None;
            }
        }
    }
    Some(s.replace('_', ""))
}

/// Go's `labels.FormatOpenMetricsFloat`, used for histogram_quantiles' quantile label:
/// `%g` with ".0" added to integers ("0.0", "1.0", "0.25", "1e+06", "+Inf", "NaN").
pub fn format_openmetrics_float(f: f64) -> String {
    if f == 0.0 {
        return "0.0".to_string(); // -0 too, as in Go.
    }
    let s = go_g(f, None);
    if f.is_nan() || f.is_infinite() || s.contains(['e', '.']) {
        s
    } else {
        s + ".0"
    }
}

/// Sorts by bound (NaN bounds last: Go's order for them is unspecified) and merges equal bounds.
/// False when there is no +Inf bucket (the caller's NaN).
fn sort_and_coalesce(buckets: &mut Vec<Bucket>) -> bool {
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    match buckets.last() {
        Some(last) if last.upper_bound == f64::INFINITY => {}
        _ => return false,
    }
    let mut out = 0;
    for i in 1..buckets.len() {
        if buckets[i].upper_bound == buckets[out].upper_bound {
            buckets[out].count += buckets[i].count;
        } else {
            out += 1;
            buckets[out] = buckets[i];
        }
    }
    buckets.truncate(out + 1);
    true
}

/// Evens out float noise (relative delta ≤ 1e-12) in either direction, then raises any
/// decreasing count to the last accepted one. Returns what was forced and whether noise was
/// evened out.
fn ensure_monotonic(buckets: &mut [Bucket]) -> (Option<ForcedMonotonicity>, bool) {
    let mut forced = ForcedMonotonicity {
        min_bucket: f64::INFINITY,
        max_bucket: f64::NEG_INFINITY,
        max_diff: 0.0,
    };
    let (mut was_forced, mut fixed) = (false, false);
    let Some(first) = buckets.first() else {
        return (None, false);
    };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            fixed = true;
            continue;
        }
        if curr < prev {
            b.count = prev;
            was_forced = true;
            if b.upper_bound < forced.min_bucket {
                forced.min_bucket = b.upper_bound;
            }
            if b.upper_bound > forced.max_bucket {
                forced.max_bucket = b.upper_bound;
            }
            if prev - curr > forced.max_diff {
                forced.max_diff = prev - curr;
            }
            continue;
        }
        prev = curr;
    }
    (was_forced.then_some(forced), fixed)
}

/// Go's `sort.Search`: the smallest i in [0, n) with f(i), else n; probing as Go does, so even a
/// non-monotonic f (NaN counts) gives Go's answer.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = (i + j) / 2;
        if f(h) {
            j = h;
        } else {
            i = h + 1;
        }
    }
    i
}

/// Prometheus' `almost.Equal`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests;
