//! Histogram samples of one series into chunks, as a Prometheus 3.5 head appends them: the
//! head's rule for when a chunk is full, and the appenders' decisions (`AppendHistogram`,
//! `AppendFloatHistogram`) for each sample: append; expand the sample with the chunk's empty
//! buckets it lacks; recode the chunk when the sample brings new buckets; or start a new chunk
//! on a counter reset, a schema, zero threshold or custom bounds change, after a staleness
//! marker, or between gauge and counter histograms, with the counter-reset header Prometheus
//! gives it.

use super::AppendError;
use super::histogram_chunk::{HistogramChunkEncoder, bits_equal};
use super::sample::HistogramSample;
use super::spans::{
    Expansion, Insert, adjust_for_inserts, expand_spans_and_buckets, expand_spans_both_ways,
    insert_empty,
};
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Span};
use crate::store::RawChunk;

/// Prometheus' default head chunk range (`--storage.tsdb.min-block-duration`).
const CHUNK_RANGE_MS: i64 = 2 * 3600 * 1000;
/// `chunkenc.TargetBytesPerHistogramChunk`.
const TARGET_BYTES: usize = 1024;
/// `chunkenc.MinSamplesPerHistogramChunk`.
const MIN_SAMPLES: u16 = 10;

/// The open chunk and what the appender knows of its last sample.
#[derive(Debug, Clone)]
struct Open<H: HistogramSample> {
    enc: HistogramChunkEncoder<H>,
    min_time: i64,
    max_time: i64,
    /// The last sample appended that was not a staleness marker, as appended.
    last: Option<H>,
    last_stale: bool,
}

impl<H: HistogramSample> Open<H> {
    fn new(header: CounterResetHint, t: i64) -> Self {
        Self {
            enc: HistogramChunkEncoder::new(header),
            min_time: t,
            max_time: t,
            last: None,
            last_stale: false,
        }
    }

    fn push(&mut self, t: i64, h: H) -> Result<(), AppendError> {
        self.enc.append(t, &h)?;
        self.max_time = t;
        self.last_stale = h.is_stale();
        if !self.last_stale {
            self.last = Some(h);
        }
        Ok(())
    }

    fn into_chunk(self) -> RawChunk {
        RawChunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: H::ENCODING,
            data: self.enc.into_bytes().into(),
        }
    }
}

/// Builds the chunks of one series from its samples in time order.
#[derive(Debug, Clone)]
pub struct HistogramChunks<H: HistogramSample> {
    done: Vec<RawChunk>,
    open: Option<Open<H>>,
    /// When the open chunk should end (the head's `nextAt`).
    next_at: i64,
    /// Whether `next_at` was estimated from the open chunk's fill (the head's
    /// `histogramChunkHasComputedEndTime`).
    computed_end: bool,
}

impl<H: HistogramSample> Default for HistogramChunks<H> {
    fn default() -> Self {
        Self {
            done: Vec::new(),
            open: None,
            next_at: 0,
            computed_end: false,
        }
    }
}

impl<H: HistogramSample> HistogramChunks<H> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample; timestamps must increase. On error nothing changed.
    pub fn append(&mut self, t: i64, h: &H) -> Result<(), AppendError> {
        h.validate()?;
        let saved = (self.next_at, self.computed_end);
        // The chunk the head closes for its size before this sample.
        let prev = match self.open.take() {
            Some(open) if t <= open.max_time => {
                let last = open.max_time;
                self.open = Some(open);
                return Err(AppendError::OutOfOrder { t, last });
            }
            Some(open) if self.full(&open, t) => Some(open),
            open => {
                self.open = open;
                None
            }
        };
        let mut open = self.open.take().unwrap_or_else(|| {
            self.next_at = range_end(t);
            self.computed_end = false;
            Open::new(CounterResetHint::Unknown, t)
        });
        match append(&mut open, prev.as_ref(), t, h.clone()) {
            Ok(started) => {
                self.done.extend(prev.map(Open::into_chunk));
                self.open = Some(match started {
                    Some(next) => {
                        self.done.push(open.into_chunk());
                        self.next_at = range_end(t);
                        next
                    }
                    None => open,
                });
                Ok(())
            }
            Err(e) => {
                (self.next_at, self.computed_end) = saved;
                self.open = prev.or((open.enc.num_samples() > 0).then_some(open));
                Err(e)
            }
        }
    }

    /// The head's `histogramsAppendPreprocessor`: whether `open` is done before a sample at
    /// `t`, mostly by its size in bytes. Updates the estimated end time.
    fn full(&mut self, open: &Open<H>, t: i64) -> bool {
        let (num, bytes) = (open.enc.num_samples(), open.enc.bytes().len());
        let range_start = if self.computed_end {
            range_end(open.min_time)
        } else {
            self.next_at
        };
        if !self.computed_end && bytes >= TARGET_BYTES / 4 {
            let ratio_to_full = TARGET_BYTES as f64 / bytes as f64;
            self.next_at = chunk_end(open.min_time, open.max_time, self.next_at, ratio_to_full);
            self.computed_end = true;
        }
        let done = (t >= self.next_at || bytes >= TARGET_BYTES * 2)
            && (num >= MIN_SAMPLES || t >= range_start);
        if done {
            self.computed_end = false;
        }
        done
    }

    /// All chunks, the open one last.
    pub fn finish(mut self) -> Vec<RawChunk> {
        self.done.extend(self.open.map(Open::into_chunk));
        self.done
    }
}

/// Prometheus' `rangeForTimestamp`: the end of the chunk range `t` is in.
fn range_end(t: i64) -> i64 {
    (t / CHUNK_RANGE_MS) * CHUNK_RANGE_MS + CHUNK_RANGE_MS
}

/// Prometheus' `computeChunkEndTime`: an end time that spreads the rest of the range evenly
/// over chunks as full as this one would be at `ratio_to_full` of its size.
fn chunk_end(start: i64, cur: i64, max: i64, ratio_to_full: f64) -> i64 {
    let n = (max - start) as f64 / ((cur - start + 1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max;
    }
    (start as f64 + (max - start) as f64 / n.floor()) as i64
}

/// Appends `h` to `open`, or returns the new chunk it starts. `prev` is the chunk just
/// closed for size, whose last sample decides the new chunk's header.
fn append<H: HistogramSample>(
    open: &mut Open<H>,
    prev: Option<&Open<H>>,
    t: i64,
    mut h: H,
) -> Result<Option<Open<H>>, AppendError> {
    if open.enc.num_samples() == 0 {
        let header = match h.counter_reset_hint() {
            CounterResetHint::Gauge => CounterResetHint::Gauge,
            CounterResetHint::CounterReset => CounterResetHint::CounterReset,
            _ => match prev {
                Some(prev) => {
                    let verdict = appendable(prev, &h)
                        .err()
                        .unwrap_or(CounterResetHint::NotCounterReset);
                    if H::FLOAT && verdict != CounterResetHint::CounterReset {
                        CounterResetHint::NotCounterReset
                    } else {
                        verdict
                    }
                }
                None => CounterResetHint::Unknown,
            },
        };
        open.push(t, h)?;
        open.enc.set_header(header);
        return Ok(None);
    }
    let gauge = h.counter_reset_hint() == CounterResetHint::Gauge;
    let planned = if gauge {
        appendable_gauge(open, &h).ok_or(CounterResetHint::Gauge)
    } else {
        appendable(open, &h).map_err(|verdict| {
            if H::FLOAT && verdict != CounterResetHint::CounterReset {
                CounterResetHint::Unknown
            } else {
                verdict
            }
        })
    };
    let (expansions, merged) = match planned {
        Ok(plan) => plan,
        Err(header) => {
            let mut next = Open::new(header, t);
            next.push(t, h)?;
            return Ok(Some(next));
        }
    };
    let [pos, neg] = &expansions;
    if !pos.backward.is_empty() || !neg.backward.is_empty() {
        // The sample gets the chunk's empty buckets it lacks.
        let spans = match merged {
            Some(merged) => merged,
            None if pos.forward.is_empty() && neg.forward.is_empty() => {
                let layout = open.enc.layout();
                [layout.positive_spans.clone(), layout.negative_spans.clone()]
            }
            None => {
                let [p, n] = h.spans();
                [
                    adjust_for_inserts(p, &pos.backward),
                    adjust_for_inserts(n, &neg.backward),
                ]
            }
        };
        let [p, n] = h.absolute_buckets();
        let buckets = [with_empty(p, &pos.backward), with_empty(n, &neg.backward)];
        h.set_buckets(spans, buckets);
    }
    if !pos.forward.is_empty() || !neg.forward.is_empty() {
        let [p, n] = h.spans();
        let mut recoded = recode(open, [&pos.forward, &neg.forward], [p.to_vec(), n.to_vec()])?;
        recoded.push(t, h)?;
        *open = recoded;
        return Ok(None);
    }
    open.push(t, h)?;
    Ok(None)
}

/// `values` with the empty buckets of `inserts` (none: unchanged).
fn with_empty<T: Copy + Default>(values: Vec<T>, inserts: &[Insert]) -> Vec<T> {
    if inserts.is_empty() {
        values
    } else {
        insert_empty(&values, inserts)
    }
}

/// Gauge appends also say the merged spans (`Some`); counter appends do not.
type Plan = ([Expansion; 2], Option<[Vec<Span>; 2]>);

/// Prometheus' counter `appendable`: the inserts to append `h` to `open`, or why not: the
/// counter-reset header of the integer appender (`NotCounterReset` after a gauge chunk,
/// `CounterReset` on a reset, `Unknown` after a staleness marker or a layout change).
fn appendable<H: HistogramSample>(open: &Open<H>, h: &H) -> Result<Plan, CounterResetHint> {
    use CounterResetHint::{CounterReset, NotCounterReset, Unknown};
    let none = || ([Expansion::default(), Expansion::default()], None);
    if open.enc.num_samples() > 0 && open.enc.header() == CounterResetHint::Gauge {
        return Err(NotCounterReset);
    }
    if h.counter_reset_hint() == CounterReset {
        return Err(CounterReset);
    }
    if h.is_stale() {
        return Ok(none());
    }
    let Some(last) = open.last.as_ref().filter(|_| !open.last_stale) else {
        return Err(Unknown);
    };
    if h.count_below(last) {
        return Err(CounterReset);
    }
    let layout = open.enc.layout();
    if h.schema() != layout.schema || h.zero_threshold() != layout.zero_threshold {
        return Err(Unknown);
    }
    if h.schema() == CUSTOM_BUCKETS_SCHEMA && !bits_equal(h.custom_values(), &layout.custom_values)
    {
        return Err(CounterReset);
    }
    if h.zero_count_below(last) {
        return Err(CounterReset);
    }
    let chunk_spans = [&layout.positive_spans, &layout.negative_spans];
    let (ours, theirs) = (last.absolute_buckets(), h.absolute_buckets());
    let mut expansions = [Expansion::default(), Expansion::default()];
    for (side, expansion) in expansions.iter_mut().enumerate() {
        *expansion = expand_spans_and_buckets(
            chunk_spans[side],
            h.spans()[side],
            &ours[side],
            &theirs[side],
            H::FLOAT,
        )
        .ok_or(CounterReset)?;
    }
    Ok((expansions, None))
}

/// Prometheus' `appendableGauge`: the inserts and merged spans to append gauge `h` to
/// `open`, or `None` for a new chunk.
fn appendable_gauge<H: HistogramSample>(open: &Open<H>, h: &H) -> Option<Plan> {
    if open.enc.num_samples() > 0 && open.enc.header() != CounterResetHint::Gauge {
        return None;
    }
    if h.is_stale() {
        return Some(([Expansion::default(), Expansion::default()], None));
    }
    if open.last_stale {
        return None;
    }
    let layout = open.enc.layout();
    if h.schema() != layout.schema || h.zero_threshold() != layout.zero_threshold {
        return None;
    }
    if h.schema() == CUSTOM_BUCKETS_SCHEMA && !bits_equal(h.custom_values(), &layout.custom_values)
    {
        return None;
    }
    let [p, n] = h.spans();
    let (pos, pos_spans) = expand_spans_both_ways(&layout.positive_spans, p);
    let (neg, neg_spans) = expand_spans_both_ways(&layout.negative_spans, n);
    Some(([pos, neg], Some([pos_spans, neg_spans])))
}

/// The open chunk re-encoded with `spans`, the buckets of `inserts` added (empty) to every
/// sample; the header stays.
fn recode<H: HistogramSample>(
    open: &Open<H>,
    inserts: [&[Insert]; 2],
    spans: [Vec<Span>; 2],
) -> Result<Open<H>, AppendError> {
    let samples = H::decode(open.enc.bytes()).map_err(AppendError::Recode)?;
    let mut recoded = Open::new(open.enc.header(), open.min_time);
    for (t, mut old) in samples {
        let [p, n] = old.absolute_buckets();
        old.set_buckets(
            spans.clone(),
            [with_empty(p, inserts[0]), with_empty(n, inserts[1])],
        );
        recoded.push(t, old)?;
    }
    Ok(recoded)
}

/// Encodes samples of one series, in time order, into chunks as Prometheus 3.5 would.
pub fn histogram_chunks<H: HistogramSample>(
    samples: &[(i64, H)],
) -> Result<Vec<RawChunk>, AppendError> {
    let mut chunks = HistogramChunks::new();
    for (t, h) in samples {
        chunks.append(*t, h)?;
    }
    Ok(chunks.finish())
}

#[cfg(test)]
mod tests {
    use super::super::{ChunkEncoding, decode_float_histograms, decode_histograms};
    use super::*;
    use crate::histogram::{FloatHistogram, Histogram};

    /// Schema 0, buckets at `indices` with the counts given, zero bucket empty.
    fn h(indices: &[(i32, i64)]) -> Histogram {
        let mut spans: Vec<Span> = Vec::new();
        let mut next = 0;
        let (mut prev, mut deltas, mut count) = (0, Vec::new(), 0);
        for (i, &(index, c)) in indices.iter().enumerate() {
            match spans.last_mut() {
                Some(s) if index == next => s.length += 1,
                _ => spans.push(Span {
                    offset: if i == 0 { index } else { index - next },
                    length: 1,
                }),
            }
            next = index + 1;
            deltas.push(c - prev);
            prev = c;
            count += c as u64;
        }
        Histogram {
            count,
            sum: count as f64,
            positive_spans: spans,
            positive_buckets: deltas,
            ..Histogram::default()
        }
    }

    fn headers(chunks: &[RawChunk]) -> Vec<(u16, CounterResetHint)> {
        chunks
            .iter()
            .map(|c| {
                let (n, header) = super::super::histogram_meta::read_header(&c.data, c.encoding)
                    .unwrap_or_else(|e| panic!("{e}"));
                (n, header)
            })
            .collect()
    }

    fn chunk<H: HistogramSample>(samples: &[(i64, H)]) -> Vec<RawChunk> {
        histogram_chunks(samples).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn resets_layout_changes_and_gauges_start_chunks_with_prometheus_headers() {
        use CounterResetHint::{CounterReset, Gauge, NotCounterReset, Unknown};
        let gauge = |mut h: Histogram| {
            h.counter_reset_hint = Gauge;
            h
        };
        let schema_1 = Histogram {
            schema: 1,
            ..h(&[(0, 9)])
        };
        let samples = [
            (1, h(&[(0, 1)])),
            (2, h(&[(0, 2)])),
            (3, h(&[(0, 1)])), // count drops
            (4, schema_1),
            (5, gauge(h(&[(0, 5)]))),
            (6, gauge(h(&[(1, 1)]))),  // gauges may lose buckets
            (7, h(&[(0, 6), (1, 1)])), // counter after gauge
            (8, Histogram::stale()),
            (9, h(&[(0, 7), (1, 1)])), // after a staleness marker
        ];
        let ints = chunk(&samples);
        assert_eq!(
            headers(&ints),
            [
                (2, Unknown),
                (1, CounterReset),
                (1, Unknown),
                (2, Gauge),
                (2, NotCounterReset),
                (1, Unknown)
            ]
        );
        // The float appender says less.
        let floats: Vec<(i64, FloatHistogram)> =
            samples.iter().map(|(t, h)| (*t, h.to_float())).collect();
        let floats = chunk(&floats);
        assert_eq!(
            headers(&floats),
            [
                (2, Unknown),
                (1, CounterReset),
                (1, Unknown),
                (2, Gauge),
                (2, Unknown),
                (1, Unknown)
            ]
        );
        assert_eq!(floats[3].encoding, ChunkEncoding::FloatHistogram);
        assert_eq!((floats[3].min_time, floats[3].max_time), (5, 6));
    }

    #[test]
    fn new_buckets_recode_the_chunk_and_missing_empty_ones_expand_the_sample() {
        let samples = [
            (1, h(&[(0, 1), (3, 0)])),
            (2, h(&[(0, 2), (1, 1), (3, 0)])), // new bucket 1: recoded
            (3, h(&[(0, 3), (1, 1)])),         // empty bucket 3 missing: expanded
        ];
        let chunks = chunk(&samples);
        assert_eq!(chunks.len(), 1);
        let decoded = decode_histograms(&chunks[0].data).unwrap_or_else(|e| panic!("{e}"));
        let layout = h(&[(0, 0), (1, 0), (3, 0)]).positive_spans;
        for (_, h) in &decoded {
            assert_eq!(h.positive_spans, layout);
        }
        let counts: Vec<Vec<i64>> = decoded
            .iter()
            .map(|(_, h)| crate::histogram::absolute_counts(&h.positive_buckets).collect())
            .collect();
        assert_eq!(counts, [vec![1, 0, 0], vec![2, 1, 0], vec![3, 1, 0]]);
        // A non-empty bucket missing is a reset.
        let reset = chunk(&[(1, h(&[(0, 1), (3, 1)])), (2, h(&[(0, 2)]))]);
        assert_eq!(headers(&reset)[1], (1, CounterResetHint::CounterReset));
    }

    #[test]
    fn big_chunks_are_cut_for_their_size() {
        let wide: Vec<(i32, i64)> = (0..100).map(|i| (i, 1)).collect();
        let samples: Vec<(i64, FloatHistogram)> = (0..40)
            .map(|i| {
                let mut f = h(&wide).to_float();
                f.positive_buckets
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, b)| *b += (i * j) as f64 * 0.1);
                (i as i64 * 15_000, f)
            })
            .collect();
        let chunks = chunk(&samples);
        let sizes = headers(&chunks);
        assert!(sizes.len() > 2, "{sizes:?}");
        assert!(
            sizes[1..]
                .iter()
                .all(|&(n, h)| n >= MIN_SAMPLES && h == CounterResetHint::NotCounterReset)
        );
        let decoded: usize = chunks
            .iter()
            .map(|c| {
                decode_float_histograms(&c.data)
                    .map(|s| s.len())
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(decoded, samples.len());
    }

    #[test]
    fn out_of_order_and_invalid_samples_change_nothing() {
        let mut chunks = HistogramChunks::new();
        chunks
            .append(10, &h(&[(0, 1)]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            chunks.append(10, &h(&[(0, 2)])),
            Err(AppendError::OutOfOrder { t: 10, last: 10 })
        );
        let broken = Histogram {
            positive_buckets: vec![],
            ..h(&[(0, 3)])
        };
        assert!(chunks.append(11, &broken).is_err());
        let done = chunks.finish();
        assert_eq!(headers(&done), [(1, CounterResetHint::Unknown)]);
    }

    #[test]
    fn chunk_end_estimates_follow_prometheus() {
        // Half full after a quarter of the range: two chunks per range.
        assert_eq!(chunk_end(0, 1_799_999, 7_200_000, 2.0), 3_600_000);
        // Fuller than the range allows: the range end.
        assert_eq!(chunk_end(0, 7_000_000, 7_200_000, 1.5), 7_200_000);
        assert_eq!(range_end(7_199_999), 7_200_000);
        assert_eq!(range_end(7_200_000), 14_400_000);
    }
}
