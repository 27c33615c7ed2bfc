//! Range-vector functions (rate, *_over_time, …): one series' float samples in one step's
//! window → at most one output value, with Prometheus 3.x semantics (promql/functions.go).
//! No allocation: kernels read the window's slices; quantile_over_time and mad_over_time sort a
//! copy in the caller's scratch buffer.

use super::annotations::{Annotations, Position};
use super::format::go_printf_f;
use super::quantile::{mad, quantile};
use crate::promql::error::EngineError;
use store_api::Labels;
use store_api::labels::METRIC_NAME;

/// One series' samples in one step's window, and where the window lies.
#[derive(Clone, Copy, Debug)]
pub struct Window<'a> {
    /// The samples with `range_start < t <= range_end`, in time order (ms).
    pub timestamps: &'a [i64],
    pub values: &'a [f64],
    /// Exclusive, ms.
    pub range_start: i64,
    /// Inclusive, ms: the evaluation time minus offset (or the `@` time minus offset).
    pub range_end: i64,
    /// The step's evaluation time, ms (before offset and `@`): predict_linear predicts from it.
    pub eval_ts: i64,
    /// Position of the call's first argument, for the annotations a kernel adds.
    pub pos: Option<Position>,
    /// The series' labels, for the annotations a kernel adds.
    pub labels: Option<&'a Labels>,
    /// Each sample's start timestamp (ms, 0 where unknown), or none: rate, increase, irate
    /// and resets read counter resets and where a counter started from them.
    pub start_timestamps: &'a [i64],
}

impl<'a> Window<'a> {
    /// A window evaluated at `range_end` (no offset, no `@`), without position.
    pub fn new(timestamps: &'a [i64], values: &'a [f64], range_start: i64, range_end: i64) -> Self {
        Self {
            timestamps,
            values,
            range_start,
            range_end,
            eval_ts: range_end,
            pos: None,
            labels: None,
            start_timestamps: &[],
        }
    }

    /// Sets the step's evaluation time (differs from `range_end` under offset or `@`).
    pub fn at(self, eval_ts: i64) -> Self {
        Self { eval_ts, ..self }
    }

    pub fn with_position(self, pos: Option<Position>) -> Self {
        Self { pos, ..self }
    }

    pub fn with_labels(self, labels: &'a Labels) -> Self {
        Self {
            labels: Some(labels),
            ..self
        }
    }

    pub fn with_start_timestamps(self, start_timestamps: &'a [i64]) -> Self {
        Self {
            start_timestamps,
            ..self
        }
    }

    /// The samples; None when the slices disagree in length or are empty.
    fn samples(&self) -> Option<(&'a [i64], &'a [f64])> {
        let ok = self.timestamps.len() == self.values.len() && !self.values.is_empty();
        ok.then_some((self.timestamps, self.values))
    }

    /// The series' metric name, looked up only for an annotation: reading the labels of every
    /// series at every step would cost more than many kernels.
    fn metric_name(&self) -> &'a str {
        self.labels
            .and_then(|labels| labels.get(METRIC_NAME))
            .unwrap_or("")
    }

    /// The start timestamps; none when they do not line up with the samples.
    fn starts(&self) -> &'a [i64] {
        if self.start_timestamps.len() == self.values.len() {
            self.start_timestamps
        } else {
            &[]
        }
    }

    /// The selector's range in seconds, as Go's `Duration.Seconds()` computes it.
    fn range_seconds(&self) -> f64 {
        let ms = self.range_end.wrapping_sub(self.range_start);
        (ms / 1000) as f64 + ((ms % 1000) * 1_000_000) as f64 / 1e9
    }
}

/// A function of one range vector (plus scalar arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeFunction {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Deriv,
    /// args: [t] (seconds ahead).
    PredictLinear,
    Resets,
    Changes,
    AvgOverTime,
    SumOverTime,
    CountOverTime,
    MinOverTime,
    MaxOverTime,
    StddevOverTime,
    StdvarOverTime,
    /// args: [φ] (its first argument).
    QuantileOverTime,
    LastOverTime,
    FirstOverTime,
    PresentOverTime,
    MadOverTime,
    TsOfMinOverTime,
    TsOfMaxOverTime,
    TsOfLastOverTime,
    TsOfFirstOverTime,
    /// args: [sf, tf].
    DoubleExponentialSmoothing,
}

impl RangeFunction {
    /// Whether the function treats its input as a counter (rate, increase, irate, resets).
    /// Prometheus checks the metric name only after rate and increase: call
    /// `Annotations::possible_non_counter`, which applies that rule.
    pub fn wants_counter(self) -> bool {
        use RangeFunction::*;
        matches!(self, Rate | Increase | Irate | Resets)
    }

    /// Whether the output keeps the input's metric name (last_over_time, first_over_time);
    /// every other range function drops it.
    pub fn keeps_metric_name(self) -> bool {
        matches!(
            self,
            RangeFunction::LastOverTime | RangeFunction::FirstOverTime
        )
    }

    /// How many scalar arguments the function takes (its `args`).
    pub fn scalar_args(self) -> usize {
        use RangeFunction::*;
        match self {
            PredictLinear | QuantileOverTime => 1,
            DoubleExponentialSmoothing => 2,
            _ => 0,
        }
    }

    /// The function over one window. Ok(None) = no output point at this step (empty window,
    /// too few samples, missing argument). Errors are Prometheus' evaluation errors (invalid
    /// double_exponential_smoothing factors). `scratch` is reused for sorting; it is cleared
    /// and overwritten.
    pub fn eval(
        self,
        window: &Window,
        args: &[f64],
        scratch: &mut Vec<f64>,
        annotations: &mut Annotations,
    ) -> Result<Option<f64>, EngineError> {
        use RangeFunction::*;
        let Some((ts, vs)) = window.samples() else {
            return Ok(None);
        };
        let n = vs.len();
        // delta and idelta read no start timestamps, as in Prometheus.
        Ok(match self {
            Rate | Increase if !window.start_timestamps.is_empty() => {
                started_rate(window, ts, vs, self == Rate, annotations)
            }
            Rate => extrapolated_rate(window, ts, vs, true, true),
            Increase => extrapolated_rate(window, ts, vs, true, false),
            Delta => extrapolated_rate(window, ts, vs, false, false),
            Irate => instant_value(ts, vs, window.starts(), true),
            Idelta => instant_value(ts, vs, &[], false),
            // Regression around the first sample keeps x small (Prometheus issue 2674).
            Deriv => (n >= 2).then(|| linear_regression(ts, vs, ts[0]).0),
            PredictLinear => match args.first() {
                Some(&t) if n >= 2 => {
                    let (slope, intercept) = linear_regression(ts, vs, window.eval_ts);
                    Some(slope * t + intercept)
                }
                _ => None,
            },
            Resets if !window.start_timestamps.is_empty() => {
                let mut resets = 0usize;
                for_each_reset(ts, vs, window.starts(), |_| resets += 1);
                Some(resets as f64)
            }
            Resets => Some(vs.windows(2).filter(|w| w[1] < w[0]).count() as f64),
            Changes => Some(
                vs.windows(2)
                    .filter(|w| w[1] != w[0] && !(w[1].is_nan() && w[0].is_nan()))
                    .count() as f64,
            ),
            AvgOverTime => Some(avg(vs)),
            SumOverTime => Some(sum(vs)),
            CountOverTime => Some(n as f64),
            MinOverTime => Some(extreme(ts, vs, |cur, best| cur < best).0),
            MaxOverTime => Some(extreme(ts, vs, |cur, best| cur > best).0),
            TsOfMinOverTime => Some(seconds(extreme(ts, vs, |cur, best| cur <= best).1)),
            TsOfMaxOverTime => Some(seconds(extreme(ts, vs, |cur, best| cur >= best).1)),
            StddevOverTime => Some(variance(vs).sqrt()),
            StdvarOverTime => Some(variance(vs)),
            QuantileOverTime => match args.first() {
                Some(&phi) => {
                    annotations.check_quantile(phi, window.pos);
                    scratch.clear();
                    scratch.extend_from_slice(vs);
                    Some(quantile(phi, scratch))
                }
                None => None,
            },
            MadOverTime => {
                scratch.clear();
                scratch.extend_from_slice(vs);
                Some(mad(scratch))
            }
            LastOverTime => Some(vs[n - 1]),
            FirstOverTime => Some(vs[0]),
            PresentOverTime => Some(1.0),
            TsOfLastOverTime => Some(seconds(ts[n - 1])),
            TsOfFirstOverTime => Some(seconds(ts[0])),
            DoubleExponentialSmoothing => match args {
                [sf, tf, ..] => double_exponential_smoothing(vs, *sf, *tf)?,
                _ => None,
            },
        })
    }
}

impl RangeFunction {
    /// The function over an `anchored` or `smoothed` window, whose samples may include the
    /// last one at or before the window's start and (smoothed) the first after its end.
    /// changes and resets count over the anchored samples as usual.
    pub fn eval_extended(
        self,
        window: &Window,
        smoothed: bool,
        scratch: &mut Vec<f64>,
        annotations: &mut Annotations,
    ) -> Result<Option<f64>, EngineError> {
        let Some((ts, vs)) = window.samples() else {
            return Ok(None);
        };
        Ok(match self {
            RangeFunction::Rate => extended_rate(window, ts, vs, smoothed, true, true),
            RangeFunction::Increase => extended_rate(window, ts, vs, smoothed, true, false),
            RangeFunction::Delta => extended_rate(window, ts, vs, smoothed, false, false),
            _ => return self.eval(window, &[], scratch, annotations),
        })
    }
}

fn seconds(t_ms: i64) -> f64 {
    t_ms as f64 / 1000.0
}

/// rate, increase, delta: the change over the window, counter resets corrected for counters,
/// extrapolated towards the window's bounds. Fewer than two samples: no result.
fn extrapolated_rate(
    w: &Window,
    ts: &[i64],
    vs: &[f64],
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let n = vs.len();
    if n < 2 {
        return None;
    }
    let mut result = vs[n - 1] - vs[0];
    if is_counter {
        // Values alone decide: windows with start timestamps go to started_rate. Inline, not
        // through for_each_reset, whose closure makes this hot loop slower.
        for pair in vs.windows(2) {
            if pair[1] < pair[0] {
                result += pair[0];
            }
        }
    }
    Some(extrapolate(w, ts, vs, result, is_counter, is_rate))
}

/// rate, increase, delta over an extended window: the change between the values at the
/// window's bounds, not extrapolated. At the start, the last sample at or before it (anchored),
/// or the value interpolated there (smoothed); at the end, the last sample, or (smoothed) the
/// value interpolated there. Counter resets between the bounds are corrected.
fn extended_rate(
    w: &Window,
    ts: &[i64],
    vs: &[f64],
    smoothed: bool,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let last_index = ts.len().checked_sub(1)?;
    // The last sample at or before the start, or else the first one.
    let first = ts[..last_index]
        .partition_point(|&t| t <= w.range_start)
        .saturating_sub(1);
    // Smoothed: the first sample at or after the end, or else the last one.
    let last = if smoothed {
        ts[..last_index].partition_point(|&t| t < w.range_end)
    } else {
        last_index
    };
    let (first_t, last_t) = (*ts.get(first)?, *ts.get(last)?);
    if last_t <= w.range_start || (smoothed && first_t > w.range_end) {
        return None;
    }
    let left = if smoothed && first_t < w.range_start {
        interpolate(ts, vs, first, w.range_start, is_counter)?
    } else {
        vs[first]
    };
    let right = if smoothed && last_t > w.range_end {
        interpolate(ts, vs, last.checked_sub(1)?, w.range_end, is_counter)?
    } else {
        vs[last]
    };
    let mut result = right - left;
    if is_counter {
        // The bounds' own samples are in `left` and `right`, resets next to them included.
        let inner_from = if first_t <= w.range_start {
            first + 1
        } else {
            first
        };
        let inner_to = if last_t >= w.range_end {
            last
        } else {
            last + 1
        };
        let inner = vs.get(inner_from..inner_to).unwrap_or_default();
        result += reset_correction(left, right, inner);
    }
    Some(if is_rate {
        result / w.range_seconds()
    } else {
        result
    })
}

/// The value at `t` on the line between samples `i` and `i + 1`. A counter that reset between
/// them is taken to have restarted from zero.
pub(crate) fn interpolate(
    ts: &[i64],
    vs: &[f64],
    i: usize,
    t: i64,
    is_counter: bool,
) -> Option<f64> {
    let (t1, t2) = (*ts.get(i)?, *ts.get(i + 1)?);
    let (y1, y2) = (*vs.get(i)?, *vs.get(i + 1)?);
    let y1 = if is_counter && y2 < y1 { 0.0 } else { y1 };
    Some(y1 + (y2 - y1) * t.wrapping_sub(t1) as f64 / t2.wrapping_sub(t1) as f64)
}

/// What the counter lost at its resets, walking from `left` through `inner` to `right`.
fn reset_correction(left: f64, right: f64, inner: &[f64]) -> f64 {
    let mut correction = 0.0;
    let mut prev = left;
    for &v in inner.iter().chain(std::iter::once(&right)) {
        if v < prev {
            correction += prev;
        }
        prev = v;
    }
    correction
}

/// rate and increase over samples with start timestamps: a sample that started after the one
/// before it is a counter reset too, and a counter whose first sample started inside the
/// window rose from zero at that start rather than being extrapolated towards the window's
/// start, which one sample suffices for.
fn started_rate(
    w: &Window,
    ts: &[i64],
    vs: &[f64],
    is_rate: bool,
    annotations: &mut Annotations,
) -> Option<f64> {
    let starts = w.starts();
    if starts_overlap(ts, starts) {
        annotations.start_time_overlap(w.metric_name(), w.pos);
    }
    let n = vs.len();
    let mut result = vs[n - 1] - vs[0];
    for_each_reset(ts, vs, starts, |lost| result += lost);
    let Some(start) = start_inside(w, ts[0], starts) else {
        return (n >= 2).then(|| extrapolate(w, ts, vs, result, true, is_rate));
    };
    let last_t = ts[n - 1];
    let average = if n > 1 {
        seconds(last_t.wrapping_sub(ts[0])) / (n - 1) as f64
    } else {
        0.0
    };
    let to_end = gap_to_bound(seconds(w.range_end.wrapping_sub(last_t)), average);
    let sampled = seconds(last_t.wrapping_sub(start));
    Some(scale(w, result + vs[0], sampled, 0.0, to_end, is_rate))
}

/// `result`, the change over two or more samples, extrapolated towards the window's bounds. A
/// counter never extrapolates below zero.
fn extrapolate(
    w: &Window,
    ts: &[i64],
    vs: &[f64],
    result: f64,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    let n = vs.len();
    let (first_t, last_t) = (ts[0], ts[n - 1]);
    let sampled = seconds(last_t.wrapping_sub(first_t));
    let average = sampled / (n - 1) as f64;
    let mut to_start = gap_to_bound(seconds(first_t.wrapping_sub(w.range_start)), average);
    if is_counter {
        // Where the counter would have been zero, if that is closer than the start.
        let mut to_zero = to_start;
        if result > 0.0 && vs[0] >= 0.0 {
            to_zero = sampled * (vs[0] / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let to_end = gap_to_bound(seconds(w.range_end.wrapping_sub(last_t)), average);
    scale(w, result, sampled, to_start, to_end, is_rate)
}

/// How far to extrapolate over the gap (s) between the samples and a bound of the window: all
/// of it within 1.1 × the average interval, else half an interval (the series likely starts
/// or ends inside the window).
fn gap_to_bound(gap: f64, average: f64) -> f64 {
    if gap >= average * 1.1 {
        average / 2.0
    } else {
        gap
    }
}

/// `result` over `sampled` seconds, extended by `to_start` and `to_end` seconds; per second of
/// the range for a rate.
fn scale(w: &Window, result: f64, sampled: f64, to_start: f64, to_end: f64, is_rate: bool) -> f64 {
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if is_rate {
        factor /= w.range_seconds();
    }
    result * factor
}

/// The first sample's start timestamp when it lies inside the window (which excludes its
/// start) before the sample: the counter is taken to have been zero there.
fn start_inside(w: &Window, first_t: i64, starts: &[i64]) -> Option<i64> {
    let start = *starts.first()?;
    (start != 0 && start > w.range_start && start < first_t).then_some(start)
}

/// Calls `on_reset` with the value before each counter reset: a drop in value or, given start
/// timestamps (one per sample), a sample that started after the one before it. Windows
/// without start timestamps have loops of their own, on the hot path.
fn for_each_reset(ts: &[i64], vs: &[f64], starts: &[i64], mut on_reset: impl FnMut(f64)) {
    for i in 1..vs.len() {
        let restart = !starts.is_empty() && restarted(starts[i - 1], ts[i - 1], starts[i], ts[i]);
        if vs[i] < vs[i - 1] || restart {
            on_reset(vs[i - 1]);
        }
    }
}

/// Whether a sample's start timestamp says its counter restarted after the previous sample.
/// An unknown start (0) says nothing, nor does an invalid one (after the sample) or OTel's
/// "unknown start" (the sample's own time). A start at the previous sample's time marks a
/// delta sample, a reset, unless the previous start is unknown or invalid: then it is a
/// cumulative series whose start was not known.
fn restarted(prev_start: i64, prev_t: i64, start: i64, t: i64) -> bool {
    if start == 0 || start >= t || start < prev_t {
        return false;
    }
    start > prev_t || (prev_start != 0 && prev_start < prev_t)
}

/// Whether a sample starts before the previous sample's time without sharing its start: a
/// cumulative series keeps its start and a delta sample starts at the previous sample, so
/// this overlap is bad data.
fn starts_overlap(ts: &[i64], starts: &[i64]) -> bool {
    starts
        .windows(2)
        .zip(ts)
        .any(|(pair, &prev_t)| pair[1] != 0 && pair[1] < prev_t && pair[1] != pair[0])
}

/// irate, idelta: the last two samples; irate takes a decrease or a restart (by the start
/// timestamps) as a counter reset, the last value then being the increase, and divides by
/// their distance in seconds.
fn instant_value(ts: &[i64], vs: &[f64], starts: &[i64], is_rate: bool) -> Option<f64> {
    let n = vs.len();
    if n < 2 {
        return None;
    }
    let (prev, last) = (vs[n - 2], vs[n - 1]);
    let interval = ts[n - 1].wrapping_sub(ts[n - 2]);
    if interval == 0 {
        return None;
    }
    let restart = matches!(starts, [.., prev_start, start]
        if restarted(*prev_start, ts[n - 2], *start, ts[n - 1]));
    let mut result = if is_rate && (last < prev || restart) {
        last
    } else {
        last - prev
    };
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Kahan–Neumaier step (Prometheus' util/kahansum.Inc): the new sum and compensation.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Least squares over (seconds since `intercept_ms`, value): (slope, value at `intercept_ms`).
/// A constant series has slope 0 (NaN if the constant is infinite).
fn linear_regression(ts: &[i64], vs: &[f64], intercept_ms: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = vs[0];
    let mut const_y = true;
    for (i, (&t, &y)) in ts.iter().zip(vs).enumerate() {
        if const_y && i > 0 && y != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = t.wrapping_sub(intercept_ms) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(y, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * y, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        return if init_y.is_infinite() {
            (f64::NAN, f64::NAN)
        } else {
            (0.0, init_y)
        };
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2);
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    (slope, sum_y / n - slope * sum_x / n)
}

/// Compensated sum; an infinite sum drops the compensation.
fn sum(vs: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for &v in vs {
        (s, c) = kahan_inc(v, s, c);
    }
    if s.is_infinite() { s } else { s + c }
}

/// Mean by compensated direct sum while it stays finite, then incrementally (Prometheus
/// issue 16714): accurate, and no overflow for huge finite values.
fn avg(vs: &[f64]) -> f64 {
    let (mut sum, mut count) = (vs[0], 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, &v) in vs.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan_inc(v, sum, c);
            if !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// Population variance by Welford's online algorithm with compensated mean and sum of squares.
fn variance(vs: &[f64]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &v in vs {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// The value `better` prefers over all others (a NaN best is always replaced) and its time.
fn extreme(ts: &[i64], vs: &[f64], better: impl Fn(f64, f64) -> bool) -> (f64, i64) {
    let (mut best, mut at) = (vs[0], ts[0]);
    for (&t, &v) in ts.iter().zip(vs) {
        if better(v, best) || best.is_nan() {
            (best, at) = (v, t);
        }
    }
    (best, at)
}

/// Holt's double exponential smoothing with smoothing factor `sf` and trend factor `tf`, both
/// in (0, 1) (NaN passes the check, as in Prometheus). Fewer than two samples: no result.
fn double_exponential_smoothing(vs: &[f64], sf: f64, tf: f64) -> Result<Option<f64>, EngineError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(EngineError::Execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_printf_f(sf)
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(EngineError::Execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_printf_f(tf)
        )));
    }
    if vs.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1, mut b) = (0.0, vs[0], vs[1] - vs[0]);
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Ok(Some(s1))
}

#[cfg(test)]
mod tests;
