//! Deterministic native-histogram series for remote write: the shapes Prometheus' appender
//! treats differently (new buckets, empty buckets dropped, resets, schema and zero-threshold
//! changes, gauges, staleness markers, custom buckets), and random walks through them.

use crate::data::Rng;
use std::collections::BTreeMap;
use store_api::histogram::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span,
};

/// `1/n` chance.
fn one_in(rng: &mut Rng, n: u64) -> bool {
    rng.below(n) == 0
}

/// A histogram being built: absolute counts by bucket index.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub positive: BTreeMap<i32, u64>,
    pub negative: BTreeMap<i32, u64>,
    pub custom_values: Vec<f64>,
    pub hint: CounterResetHint,
    /// Split the first span of more than one bucket into two adjacent ones (same buckets,
    /// spelled differently).
    pub split_spans: bool,
}

/// Spans and delta-coded buckets of `counts`.
fn spans_and_deltas(counts: &BTreeMap<i32, u64>, split: bool) -> (Vec<Span>, Vec<i64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut next = 0;
    for (i, &index) in counts.keys().enumerate() {
        match spans.last_mut() {
            Some(span) if index == next => span.length += 1,
            _ => spans.push(Span {
                offset: if i == 0 { index } else { index - next },
                length: 1,
            }),
        }
        next = index + 1;
    }
    if split && let Some(i) = spans.iter().position(|s| s.length > 1) {
        spans[i].length -= 1;
        spans.insert(
            i + 1,
            Span {
                offset: 0,
                length: 1,
            },
        );
    }
    let mut prev = 0i64;
    let deltas = counts
        .values()
        .map(|&c| {
            let d = c as i64 - prev;
            prev = c as i64;
            d
        })
        .collect();
    (spans, deltas)
}

impl State {
    /// The histogram, its count and sum consistent with the buckets.
    pub fn histogram(&self) -> Histogram {
        let (positive_spans, positive_buckets) = spans_and_deltas(&self.positive, self.split_spans);
        let (negative_spans, negative_buckets) = spans_and_deltas(&self.negative, false);
        let observations = self.zero_count
            + self.positive.values().sum::<u64>()
            + self.negative.values().sum::<u64>();
        let sum = self
            .positive
            .iter()
            .map(|(i, c)| f64::from(*i) * *c as f64)
            .sum::<f64>()
            - self
                .negative
                .iter()
                .map(|(i, c)| f64::from(*i) * *c as f64)
                .sum::<f64>()
            + 0.125 * observations as f64;
        Histogram {
            counter_reset_hint: self.hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            count: observations,
            sum,
            positive_spans,
            negative_spans,
            positive_buckets,
            negative_buckets,
            custom_values: self.custom_values.clone(),
        }
    }

    /// Adds observations: every bucket gains 0 to `max` (the zero bucket too unless custom).
    fn grow(&mut self, rng: &mut Rng, max: u64) {
        for c in self.positive.values_mut().chain(self.negative.values_mut()) {
            *c += rng.below(max + 1);
        }
        if self.schema != CUSTOM_BUCKETS_SCHEMA {
            self.zero_count += rng.below(max + 1);
        }
    }
}

/// One series: its name and samples (ms, histogram) in time order.
pub struct HistogramSeries {
    pub name: String,
    pub samples: Vec<(i64, Histogram)>,
}

impl HistogramSeries {
    /// The same series with float counts: every count times 1.5 (exact), and the first
    /// bucket gains a tenth of an observation per sample (not exact: wide XOR windows).
    pub fn to_float(&self) -> Vec<(i64, FloatHistogram)> {
        self.samples
            .iter()
            .enumerate()
            .map(|(i, (t, h))| {
                let mut f = h.to_float();
                if !h.is_stale() {
                    let scale = |v: &mut f64| *v *= 1.5;
                    f.positive_buckets.iter_mut().for_each(scale);
                    f.negative_buckets.iter_mut().for_each(scale);
                    f.count *= 1.5;
                    f.zero_count *= 1.5;
                    if let Some(first) = f.positive_buckets.first_mut() {
                        *first += 0.1 * i as f64;
                        f.count += 0.1 * i as f64;
                    }
                }
                (*t, f)
            })
            .collect()
    }
}

const STEP_MS: i64 = 15_000;

/// Samples every 15 s from `base` (with a few ms of jitter): each step calls `step(i, state)`
/// and records the state's histogram, or a staleness marker where `step` says so.
fn series(
    name: &str,
    base: i64,
    n: usize,
    rng: &mut Rng,
    mut state: State,
    mut step: impl FnMut(usize, &mut State, &mut Rng) -> bool,
) -> HistogramSeries {
    let samples = (0..n)
        .map(|i| {
            let t = base + i as i64 * STEP_MS + rng.below(5) as i64;
            let stale = step(i, &mut state, rng);
            let h = if stale {
                Histogram::stale()
            } else {
                state.histogram()
            };
            (t, h)
        })
        .collect();
    HistogramSeries {
        name: name.to_string(),
        samples,
    }
}

fn exponential(schema: i32, buckets: &[i32]) -> State {
    State {
        schema,
        zero_threshold: 2f64.powi(-128),
        positive: buckets.iter().map(|&i| (i, 1)).collect(),
        ..State::default()
    }
}

/// The hand-made shapes, then `random` random walks.
pub fn generate(base: i64, random: usize) -> Vec<HistogramSeries> {
    let mut rng = Rng::new(0x5eed_1234_abcd);
    let rng = &mut rng;
    let mut out = vec![
        // New buckets at both ends and in gaps: the chunk is recoded.
        series(
            "growing",
            base,
            9,
            rng,
            exponential(3, &[0, 1, 5]),
            |i, s, r| {
                s.grow(r, 3);
                if let Some(index) = [
                    None,
                    Some(-2),
                    Some(3),
                    None,
                    Some(9),
                    Some(2),
                    None,
                    Some(-7),
                    Some(4),
                ][i]
                {
                    s.positive.insert(index, r.below(3));
                }
                false
            },
        ),
        // The count drops: a new chunk with a counter-reset header.
        series(
            "reset",
            base,
            8,
            rng,
            exponential(0, &[0, 1, 2]),
            |i, s, r| {
                if i == 4 {
                    s.positive.values_mut().for_each(|c| *c = 1);
                    s.zero_count = 0;
                } else {
                    s.grow(r, 4);
                }
                false
            },
        ),
        // Only one bucket drops: a reset too.
        series(
            "bucket_reset",
            base,
            6,
            rng,
            exponential(1, &[0, 1, 2]),
            |i, s, r| {
                s.grow(r, 2);
                if i == 3 {
                    s.positive.insert(1, 0);
                }
                false
            },
        ),
        // Schema, then zero threshold changes: new chunks with an unknown header.
        series(
            "schema_change",
            base,
            8,
            rng,
            exponential(3, &[4, 5, 6]),
            |i, s, r| {
                if i == 3 {
                    s.schema = 2;
                    s.positive = s.positive.iter().map(|(k, v)| (k / 2, *v)).fold(
                        BTreeMap::new(),
                        |mut m, (k, v)| {
                            *m.entry(k).or_default() += v;
                            m
                        },
                    );
                }
                if i == 6 {
                    s.zero_threshold = 0.001;
                }
                s.grow(r, 2);
                false
            },
        ),
        // An empty bucket of the chunk missing later: the sample is expanded; then missing
        // while a new bucket appears: expanded and the chunk recoded.
        series(
            "empty_buckets",
            base,
            8,
            rng,
            exponential(2, &[0, 2, 4, 6]),
            |i, s, r| {
                match i {
                    0 => {
                        s.positive.insert(1, 0);
                        s.positive.insert(5, 0);
                    }
                    2 => {
                        s.positive.remove(&1);
                    }
                    4 => {
                        s.positive.remove(&5);
                        s.positive.insert(8, 1);
                        s.positive.insert(1, 0);
                    }
                    6 => {
                        s.positive.remove(&1);
                        s.positive.insert(-3, 0);
                        s.positive.insert(-2, 0);
                    }
                    _ => {}
                }
                s.grow(r, 1);
                s.positive.entry(1).and_modify(|c| *c = 0);
                s.positive.entry(5).and_modify(|c| *c = 0);
                s.positive.entry(-3).and_modify(|c| *c = 0);
                s.positive.entry(-2).and_modify(|c| *c = 0);
                false
            },
        ),
        // Runs of empty buckets missing while new buckets appear, in the middle and at the
        // end: the spans Prometheus 3.5 gives the expanded sample (see chunk::spans).
        series(
            "empty_runs",
            base,
            7,
            rng,
            exponential(0, &[0, 5]),
            |i, s, r| {
                let empty: &[i32] = match i {
                    0 => &[1, 2],
                    1 => {
                        s.positive.retain(|k, _| *k != 1 && *k != 2);
                        s.positive.insert(3, 1);
                        &[]
                    }
                    3 => &[9, 10],
                    4 => {
                        s.positive.retain(|k, _| *k != 9 && *k != 10);
                        s.positive.insert(4, 1);
                        &[]
                    }
                    _ => &[],
                };
                s.grow(r, 2);
                for &k in empty {
                    s.positive.insert(k, 0);
                }
                false
            },
        ),
        // An explicit counter-reset hint without a drop.
        series(
            "hinted_reset",
            base,
            6,
            rng,
            exponential(0, &[1, 2]),
            |i, s, r| {
                s.grow(r, 3);
                s.hint = if i == 3 {
                    CounterResetHint::CounterReset
                } else {
                    CounterResetHint::Unknown
                };
                false
            },
        ),
        // Gauge histograms: buckets come and go, counts go both ways; then counter samples.
        series(
            "gauge",
            base,
            10,
            rng,
            State {
                hint: CounterResetHint::Gauge,
                ..exponential(1, &[0, 3])
            },
            |i, s, r| {
                for c in s.positive.values_mut() {
                    *c = r.below(6);
                }
                match i {
                    2 => {
                        s.positive.insert(5, 2);
                    }
                    3 => {
                        s.positive.remove(&0);
                    }
                    4 => {
                        s.positive.insert(-1, 1);
                        s.positive.remove(&3);
                    }
                    5 => {
                        s.negative.insert(0, 3);
                    }
                    7 => s.hint = CounterResetHint::Unknown,
                    _ => {}
                }
                s.zero_count = r.below(3);
                false
            },
        ),
        // Staleness markers, then samples again.
        series("stale", base, 8, rng, exponential(0, &[0, 1]), |i, s, r| {
            s.grow(r, 2);
            i == 3 || i == 4
        }),
        // Staleness marker first.
        series(
            "stale_first",
            base,
            4,
            rng,
            exponential(0, &[0]),
            |i, s, r| {
                s.grow(r, 2);
                i == 0
            },
        ),
        // Custom buckets (NHCB), buckets appearing, then other bounds: a new chunk.
        series(
            "custom",
            base,
            8,
            rng,
            State {
                schema: CUSTOM_BUCKETS_SCHEMA,
                // Bounds in thousandths take a short code, 1e-4 and 33554.432 64 bits.
                custom_values: vec![1e-4, 0.1, 0.5, 1.0, 2.5, 100.0, 33_554.432],
                positive: [(0, 1), (2, 1)].into(),
                ..State::default()
            },
            |i, s, r| {
                if i == 2 {
                    s.positive.insert(4, 0);
                }
                if i == 5 {
                    s.custom_values = vec![0.25, 0.5, 1.0, 2.5, 10.0, 100.0];
                }
                s.grow(r, 3);
                false
            },
        ),
        // Negative buckets, the zero bucket, spans spelled two ways.
        series(
            "negative",
            base,
            8,
            rng,
            State {
                negative: [(-1, 2), (0, 1), (3, 1)].into(),
                zero_count: 1,
                ..exponential(4, &[-3, -2, 0])
            },
            |i, s, r| {
                s.split_spans = i % 3 == 1;
                if i == 4 {
                    s.negative.insert(1, 0);
                }
                s.grow(r, 2);
                false
            },
        ),
        // Many buckets and samples: the head cuts chunks by their size.
        series(
            "big",
            base,
            120,
            rng,
            exponential(5, &(-30..30).collect::<Vec<_>>()),
            |_, s, r| {
                s.grow(r, 20);
                false
            },
        ),
    ];
    for k in 0..random {
        out.push(random_walk(&format!("random_{k}"), base, rng));
    }
    out
}

/// A random walk: observations, new buckets (some empty), empty buckets dropped, resets,
/// schema changes, gauge stretches, staleness markers.
fn random_walk(name: &str, base: i64, rng: &mut Rng) -> HistogramSeries {
    let n = 10 + rng.below(50) as usize;
    let start = exponential(rng.below(9) as i32 - 2, &[0, 1]);
    let mut stale_left = 0;
    series(name, base, n, rng, start, move |_, s, r| {
        if stale_left > 0 {
            stale_left -= 1;
            return true;
        }
        if one_in(r, 20) {
            stale_left = r.below(3);
            return true;
        }
        s.hint = CounterResetHint::Unknown;
        if one_in(r, 5) {
            let index = r.below(40) as i32 - 20;
            let side = if one_in(r, 3) {
                &mut s.negative
            } else {
                &mut s.positive
            };
            side.entry(index).or_insert(r.below(2));
        }
        if one_in(r, 6) {
            let empty: Vec<i32> = s
                .positive
                .iter()
                .filter(|(_, c)| **c == 0)
                .map(|(i, _)| *i)
                .collect();
            if let Some(&i) = empty.get(r.below(empty.len().max(1) as u64) as usize) {
                s.positive.remove(&i);
            }
        }
        if one_in(r, 15) {
            s.positive.values_mut().for_each(|c| *c /= 3);
            s.zero_count /= 2;
        }
        if one_in(r, 25) {
            s.schema = (s.schema + 1).min(8);
        }
        if one_in(r, 12) {
            s.hint = CounterResetHint::Gauge;
            s.positive.values_mut().for_each(|c| *c = r.below(5));
        }
        s.split_spans = one_in(r, 8);
        s.grow(r, 5);
        false
    })
}
