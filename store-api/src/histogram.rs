//! Native histogram samples as Prometheus' `model/histogram` has them: plain data, what the
//! histogram chunks hold and what remote write carries.
//!
//! Integer histograms keep their buckets as deltas (each bucket's count minus the previous
//! bucket's, the first against 0), like Prometheus' `Histogram` and the `*_deltas` fields of
//! remote write: that is what the chunk stores (as deltas over time), so decoding does one add
//! less per bucket than absolute counts would, and re-encoding needs no conversion back.
//! [`Histogram::to_float`] gives absolute counts. Float histograms keep absolute counts, as
//! their chunk does.

/// Prometheus' staleness marker, a NaN with this bit pattern in a sample's value or a
/// histogram's sum.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The schema of histograms with custom bucket bounds (NHCB): `custom_values` are the upper
/// bounds, the positive buckets index them, and there is no zero bucket.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// What a sample says about a counter reset before it (`histogram.CounterResetHint`); a chunk
/// header's two counter-reset bits take the same four values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CounterResetHint {
    /// Whether the counter was reset has to be found out by comparing with the previous sample.
    #[default]
    Unknown,
    /// The counter was reset since the previous sample.
    CounterReset,
    /// The counter was not reset since the previous sample.
    NotCounterReset,
    /// A gauge histogram: counter resets do not apply.
    Gauge,
}

/// A run of `length` consecutive buckets, `offset` buckets after the previous run (or, for the
/// first, starting at bucket index `offset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub offset: i32,
    pub length: u32,
}

/// A native histogram with integer counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub counter_reset_hint: CounterResetHint,
    /// Bucket resolution: `2^(2^-schema)` growth per bucket, or [`CUSTOM_BUCKETS_SCHEMA`].
    pub schema: i32,
    /// Observations with an absolute value up to this fall in the zero bucket.
    pub zero_threshold: f64,
    pub zero_count: u64,
    /// All observations (NaN ones included, which are in no bucket).
    pub count: u64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    /// One delta per bucket of `positive_spans`.
    pub positive_buckets: Vec<i64>,
    /// One delta per bucket of `negative_spans`.
    pub negative_buckets: Vec<i64>,
    /// Upper bucket bounds, for [`CUSTOM_BUCKETS_SCHEMA`] only.
    pub custom_values: Vec<f64>,
}

/// A native histogram with float counts (from recording rules, aggregations, remote write).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatHistogram {
    pub counter_reset_hint: CounterResetHint,
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: f64,
    pub count: f64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    /// One absolute count per bucket of `positive_spans`.
    pub positive_buckets: Vec<f64>,
    /// One absolute count per bucket of `negative_spans`.
    pub negative_buckets: Vec<f64>,
    pub custom_values: Vec<f64>,
}

/// Whether `v` is the staleness marker.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Number of buckets `spans` describe.
pub fn bucket_count(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

/// Absolute counts from delta-coded buckets (wrapping, as Go's int64).
pub fn absolute_counts(deltas: &[i64]) -> impl Iterator<Item = i64> + '_ {
    deltas.iter().scan(0i64, |count, &d| {
        *count = count.wrapping_add(d);
        Some(*count)
    })
}

impl Histogram {
    /// A staleness marker: the sum is [`STALE_NAN_BITS`], everything else empty.
    pub fn stale() -> Self {
        Self {
            sum: f64::from_bits(STALE_NAN_BITS),
            ..Self::default()
        }
    }

    pub fn is_stale(&self) -> bool {
        is_stale_nan(self.sum)
    }

    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// The same histogram with float counts (`Histogram.ToFloat`).
    pub fn to_float(&self) -> FloatHistogram {
        let floats = |deltas: &[i64]| absolute_counts(deltas).map(|c| c as f64).collect();
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: floats(&self.positive_buckets),
            negative_buckets: floats(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }
}

impl FloatHistogram {
    /// A staleness marker: the sum is [`STALE_NAN_BITS`], everything else empty.
    pub fn stale() -> Self {
        Self {
            sum: f64::from_bits(STALE_NAN_BITS),
            ..Self::default()
        }
    }

    pub fn is_stale(&self) -> bool {
        is_stale_nan(self.sum)
    }

    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_float_sums_the_deltas() {
        let h = Histogram {
            count: 9,
            zero_count: 1,
            sum: 12.5,
            schema: 1,
            positive_spans: vec![Span {
                offset: -1,
                length: 3,
            }],
            positive_buckets: vec![2, 1, -2],
            negative_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            negative_buckets: vec![1],
            ..Histogram::default()
        };
        let f = h.to_float();
        assert_eq!(f.positive_buckets, [2.0, 3.0, 1.0]);
        assert_eq!(f.negative_buckets, [1.0]);
        assert_eq!((f.count, f.zero_count, f.sum), (9.0, 1.0, 12.5));
        assert_eq!(f.positive_spans, h.positive_spans);
        assert_eq!(bucket_count(&h.positive_spans), 3);
    }

    #[test]
    fn stale_markers() {
        assert!(Histogram::stale().is_stale());
        assert!(FloatHistogram::stale().is_stale());
        assert!(!is_stale_nan(f64::NAN));
        assert!(!Histogram::default().is_stale());
    }
}
