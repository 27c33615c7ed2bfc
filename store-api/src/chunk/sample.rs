//! What the histogram chunk code needs of a sample, whatever its counts: one sealed trait
//! over [`Histogram`] and [`FloatHistogram`], so that the chunk frame, the layout checks and
//! the appender's decisions are written once.

use crate::histogram::{FloatHistogram, Histogram};

/// A histogram sample kind a chunk holds: [`Histogram`] or [`FloatHistogram`].
pub trait HistogramSample: sealed::Fields + sealed::Codec {}

impl HistogramSample for Histogram {}
impl HistogramSample for FloatHistogram {}

pub(super) mod sealed {
    use super::super::ChunkEncoding;
    use super::super::bstream::{BitReader, BitWriter};
    use super::super::error::{AppendError, ChunkError};
    use super::super::histogram_meta::{Corrupt, Layout};
    use crate::histogram::{
        CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span, absolute_counts,
        bucket_count, is_stale_nan,
    };

    /// Field access (crate-internal: the trait is sealed).
    pub trait Fields: Clone + std::fmt::Debug {
        /// An absolute bucket count.
        type Bucket: Copy + PartialOrd + Default;
        const ENCODING: ChunkEncoding;
        /// Whether Prometheus' float appender decides (it differs in small ways).
        const FLOAT: bool;

        fn stale_marker() -> Self;
        fn counter_reset_hint(&self) -> CounterResetHint;
        fn set_counter_reset_hint(&mut self, hint: CounterResetHint);
        fn sum(&self) -> f64;
        fn set_sum(&mut self, sum: f64);
        fn schema(&self) -> i32;
        fn zero_threshold(&self) -> f64;
        fn custom_values(&self) -> &[f64];
        /// Positive, then negative.
        fn spans(&self) -> [&[Span]; 2];
        fn bucket_lens(&self) -> [usize; 2];
        /// Takes `layout`, with zeroed buckets of the given counts.
        fn set_layout(&mut self, layout: Layout, lens: [usize; 2]);
        /// `self.count < last.count`.
        fn count_below(&self, last: &Self) -> bool;
        /// `self.zero_count < last.zero_count`.
        fn zero_count_below(&self, last: &Self) -> bool;
        /// Absolute counts, positive then negative.
        fn absolute_buckets(&self) -> [Vec<Self::Bucket>; 2];
        /// Replaces spans and buckets (absolute counts).
        fn set_buckets(&mut self, spans: [Vec<Span>; 2], absolute: [Vec<Self::Bucket>; 2]);

        fn is_stale(&self) -> bool {
            is_stale_nan(self.sum())
        }

        /// Buckets match spans, and custom bounds come with their schema only.
        fn validate(&self) -> Result<(), AppendError> {
            for (spans, buckets) in self.spans().into_iter().zip(self.bucket_lens()) {
                let spans = bucket_count(spans);
                if spans != buckets {
                    return Err(AppendError::BucketCount { spans, buckets });
                }
            }
            let schema = self.schema();
            if schema != CUSTOM_BUCKETS_SCHEMA && !self.custom_values().is_empty() {
                return Err(AppendError::CustomValues { schema });
            }
            Ok(())
        }
    }

    /// A kind's count, zero count, sum and bucket fields in a chunk (after the timestamp).
    pub trait Codec: Fields {
        /// The encoder's memory of the previous sample.
        type WriteState: Default + Clone + std::fmt::Debug;
        /// The decoder's, besides the sample itself.
        type ReadState: Default + Clone + std::fmt::Debug;
        /// The fewest bits a bucket takes in a chunk's first sample.
        const MIN_FIRST_BUCKET_BITS: u64;

        fn write_first(st: &mut Self::WriteState, w: &mut BitWriter, h: &Self);
        /// `h` is a staleness marker or has the chunk's layout.
        fn write_next(st: &mut Self::WriteState, w: &mut BitWriter, h: &Self);
        /// Into `h`, whose layout is set; returns the sum.
        fn read_first(
            st: &mut Self::ReadState,
            r: &mut BitReader<'_>,
            h: &mut Self,
        ) -> Result<f64, Corrupt>;
        /// Into `h` (the previous sample); returns the sum, after which a staleness marker
        /// has no buckets.
        fn read_next(
            st: &mut Self::ReadState,
            r: &mut BitReader<'_>,
            h: &mut Self,
        ) -> Result<f64, Corrupt>;
        fn decode(data: &[u8]) -> Result<Vec<(i64, Self)>, ChunkError>;
    }

    /// The field accessors both kinds spell alike.
    macro_rules! common_fields {
        () => {
            fn stale_marker() -> Self {
                Self::stale()
            }
            fn counter_reset_hint(&self) -> CounterResetHint {
                self.counter_reset_hint
            }
            fn set_counter_reset_hint(&mut self, hint: CounterResetHint) {
                self.counter_reset_hint = hint;
            }
            fn sum(&self) -> f64 {
                self.sum
            }
            fn set_sum(&mut self, sum: f64) {
                self.sum = sum;
            }
            fn schema(&self) -> i32 {
                self.schema
            }
            fn zero_threshold(&self) -> f64 {
                self.zero_threshold
            }
            fn custom_values(&self) -> &[f64] {
                &self.custom_values
            }
            fn spans(&self) -> [&[Span]; 2] {
                [&self.positive_spans, &self.negative_spans]
            }
            fn bucket_lens(&self) -> [usize; 2] {
                [self.positive_buckets.len(), self.negative_buckets.len()]
            }
            fn set_layout(&mut self, layout: Layout, [p, n]: [usize; 2]) {
                self.schema = layout.schema;
                self.zero_threshold = layout.zero_threshold;
                self.positive_spans = layout.positive_spans;
                self.negative_spans = layout.negative_spans;
                self.custom_values = layout.custom_values;
                self.positive_buckets.clear();
                self.positive_buckets.resize(p, Default::default());
                self.negative_buckets.clear();
                self.negative_buckets.resize(n, Default::default());
            }
            fn count_below(&self, last: &Self) -> bool {
                self.count < last.count
            }
            fn zero_count_below(&self, last: &Self) -> bool {
                self.zero_count < last.zero_count
            }
        };
    }

    impl Fields for Histogram {
        type Bucket = i64;
        const ENCODING: ChunkEncoding = ChunkEncoding::Histogram;
        const FLOAT: bool = false;

        common_fields!();

        fn absolute_buckets(&self) -> [Vec<i64>; 2] {
            [
                absolute_counts(&self.positive_buckets).collect(),
                absolute_counts(&self.negative_buckets).collect(),
            ]
        }

        fn set_buckets(&mut self, [pos, neg]: [Vec<Span>; 2], [p, n]: [Vec<i64>; 2]) {
            // Back to deltas (wrapping, as Go's int64).
            let deltas = |abs: Vec<i64>| -> Vec<i64> {
                let mut prev = 0i64;
                abs.into_iter()
                    .map(|c| {
                        let d = c.wrapping_sub(prev);
                        prev = c;
                        d
                    })
                    .collect()
            };
            (self.positive_spans, self.negative_spans) = (pos, neg);
            (self.positive_buckets, self.negative_buckets) = (deltas(p), deltas(n));
        }
    }

    impl Fields for FloatHistogram {
        type Bucket = f64;
        const ENCODING: ChunkEncoding = ChunkEncoding::FloatHistogram;
        const FLOAT: bool = true;

        common_fields!();

        fn absolute_buckets(&self) -> [Vec<f64>; 2] {
            [self.positive_buckets.clone(), self.negative_buckets.clone()]
        }

        fn set_buckets(&mut self, [pos, neg]: [Vec<Span>; 2], [p, n]: [Vec<f64>; 2]) {
            (self.positive_spans, self.negative_spans) = (pos, neg);
            (self.positive_buckets, self.negative_buckets) = (p, n);
        }
    }
}
