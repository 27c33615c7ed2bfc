//! Property tests of the histogram chunk codecs: round trips of arbitrary samples (schemas
//! including custom buckets, odd spans, zero buckets, NaN and stale sums), chunking of
//! arbitrary series (resets, layout changes, gauges, staleness), and robustness of the
//! decoders against damaged and arbitrary input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;
use store_api::chunk::{
    ChunkEncoding, HistogramChunkDecoder, HistogramChunkEncoder, HistogramSample,
    decode_float_histograms, decode_histograms, histogram_chunks,
};
use store_api::histogram::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, STALE_NAN_BITS, Span,
};

/// What a decoded sample must equal, floats as bits (NaNs included).
trait Key {
    fn key(&self) -> Vec<u64>;
}

fn span_key(spans: &[Span]) -> impl Iterator<Item = u64> + '_ {
    spans
        .iter()
        .flat_map(|s| [s.offset as u32 as u64, u64::from(s.length)])
}

fn common_key(
    hint: CounterResetHint,
    schema: i32,
    zero_threshold: f64,
    sum: f64,
    spans: [&[Span]; 2],
    custom: &[f64],
) -> Vec<u64> {
    let mut k = vec![
        hint as u64,
        schema as u32 as u64,
        zero_threshold.to_bits(),
        sum.to_bits(),
    ];
    for side in spans {
        k.push(side.len() as u64);
        k.extend(span_key(side));
    }
    k.extend(custom.iter().map(|c| c.to_bits()));
    k
}

impl Key for Histogram {
    fn key(&self) -> Vec<u64> {
        let spans = [&self.positive_spans[..], &self.negative_spans[..]];
        let mut k = common_key(
            self.counter_reset_hint,
            self.schema,
            self.zero_threshold,
            self.sum,
            spans,
            &self.custom_values,
        );
        k.extend([
            self.count,
            self.zero_count,
            self.positive_buckets.len() as u64,
        ]);
        k.extend(
            self.positive_buckets
                .iter()
                .chain(&self.negative_buckets)
                .map(|&b| b as u64),
        );
        k
    }
}

impl Key for FloatHistogram {
    fn key(&self) -> Vec<u64> {
        let spans = [&self.positive_spans[..], &self.negative_spans[..]];
        let mut k = common_key(
            self.counter_reset_hint,
            self.schema,
            self.zero_threshold,
            self.sum,
            spans,
            &self.custom_values,
        );
        k.extend([self.count.to_bits(), self.zero_count.to_bits()]);
        k.push(self.positive_buckets.len() as u64);
        k.extend(
            self.positive_buckets
                .iter()
                .chain(&self.negative_buckets)
                .map(|b| b.to_bits()),
        );
        k
    }
}

/// The layout every sample of a chunk shares.
#[derive(Clone, Debug)]
struct Layout {
    schema: i32,
    zero_threshold: f64,
    positive: Vec<Span>,
    negative: Vec<Span>,
    custom: Vec<f64>,
}

fn spans(max: usize) -> impl Strategy<Value = Vec<Span>> {
    vec((-12i32..12, 0u32..5), 0..=max).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (offset, length))| Span {
                // Later spans start after the previous one; the first anywhere.
                offset: if i == 0 { offset } else { offset.abs() % 6 },
                length,
            })
            .collect()
    })
}

/// Floats whose bits round-trip everywhere (-0.0 is written as 0).
fn float_bits() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        (0u64..33_554_431).prop_map(|k| k as f64 / 1000.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
    ]
    .prop_filter("-0.0", |f| f.to_bits() != (-0.0f64).to_bits())
}

fn layout() -> impl Strategy<Value = Layout> {
    let zero_threshold = prop_oneof![
        Just(0.0),
        Just(2f64.powi(-128)),
        (-243i32..=10).prop_map(|e| 2f64.powi(e)),
        float_bits(),
    ];
    prop_oneof![
        3 => (-4i32..=8, zero_threshold, spans(4), spans(3)).prop_map(|(schema, zt, p, n)| Layout {
            schema,
            zero_threshold: zt,
            positive: p,
            negative: n,
            custom: vec![],
        }),
        1 => (spans(3), vec(float_bits(), 0..8)).prop_map(|(p, custom)| Layout {
            schema: CUSTOM_BUCKETS_SCHEMA,
            zero_threshold: 0.0,
            positive: p,
            negative: vec![],
            custom,
        }),
    ]
}

fn bucket_count(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

fn small_or_any_i64() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -300i64..300, 1 => any::<i64>()]
}

fn small_or_any_u64() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..5000, 1 => any::<u64>()]
}

/// A sum that is not the staleness marker.
fn sum() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (-1000i64..100_000).prop_map(|s| s as f64 / 8.0),
        1 => float_bits(),
    ]
    .prop_filter("stale", |s| s.to_bits() != STALE_NAN_BITS)
}

fn timestamps(n: usize) -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        (
            any::<i64>(),
            vec(
                prop_oneof![Just(15_000i64), 14_990i64..15_010, 1i64..1 << 40],
                n
            )
        )
            .prop_map(|(start, steps)| steps
                .into_iter()
                .scan(start, |t, s| {
                    *t = t.wrapping_add(s);
                    Some(*t)
                })
                .collect()),
        vec(any::<i64>(), n),
    ]
}

/// One chunk's samples: a layout, counts, and a staleness-marker tail.
fn int_chunk() -> impl Strategy<Value = (CounterResetHint, Vec<(i64, Histogram)>)> {
    (layout(), 0usize..40, any::<bool>(), 0usize..45).prop_flat_map(|(l, n, gauge, stale_from)| {
        let (p, q) = (bucket_count(&l.positive), bucket_count(&l.negative));
        let sample = (
            small_or_any_u64(),
            small_or_any_u64(),
            sum(),
            vec(small_or_any_i64(), p),
            vec(small_or_any_i64(), q),
        );
        (timestamps(n), vec(sample, n)).prop_map(move |(ts, raw)| {
            let samples = ts
                .into_iter()
                .zip(raw)
                .enumerate()
                .map(|(i, (t, (count, zero_count, sum, pos, neg)))| {
                    let h = if i >= stale_from {
                        Histogram::stale()
                    } else {
                        Histogram {
                            schema: l.schema,
                            zero_threshold: l.zero_threshold,
                            positive_spans: l.positive.clone(),
                            negative_spans: l.negative.clone(),
                            custom_values: l.custom.clone(),
                            count,
                            zero_count,
                            sum,
                            positive_buckets: pos,
                            negative_buckets: neg,
                            ..Histogram::default()
                        }
                    };
                    (t, h)
                })
                .collect();
            let header = if gauge {
                CounterResetHint::Gauge
            } else {
                CounterResetHint::Unknown
            };
            (header, samples)
        })
    })
}

/// The same shapes with float counts.
fn float_chunk() -> impl Strategy<Value = (CounterResetHint, Vec<(i64, FloatHistogram)>)> {
    (int_chunk(), any::<u64>()).prop_map(|((header, samples), seed)| {
        let samples = samples
            .into_iter()
            .enumerate()
            .map(|(i, (t, h))| {
                let mut f = h.to_float();
                if !h.is_stale() {
                    // Some counts with arbitrary bits.
                    let noise = seed.rotate_left(i as u32);
                    if noise & 1 == 1 {
                        f.count = f64::from_bits(noise);
                    }
                    if let Some(b) = f.positive_buckets.first_mut() {
                        *b += (noise >> 8) as f64 * 1e-3;
                    }
                }
                (t, f)
            })
            .collect();
        (header, samples)
    })
}

/// What the decoder gives for `h`, the `i`-th sample of a chunk with `header`.
fn as_decoded<H: HistogramSample + Key + Clone>(
    i: usize,
    header: CounterResetHint,
    h: &H,
    stale: H,
    set_hint: fn(&mut H, CounterResetHint),
    is_stale: fn(&H) -> bool,
) -> Vec<u64> {
    if is_stale(h) {
        return stale.key();
    }
    let mut h = h.clone();
    set_hint(
        &mut h,
        match header {
            CounterResetHint::Gauge => CounterResetHint::Gauge,
            _ if i > 0 => CounterResetHint::NotCounterReset,
            _ => CounterResetHint::Unknown,
        },
    );
    h.key()
}

fn encode<H: HistogramSample>(header: CounterResetHint, samples: &[(i64, H)]) -> Vec<u8> {
    let mut e = HistogramChunkEncoder::new(header);
    for (t, h) in samples {
        e.append(*t, h).unwrap();
    }
    e.into_bytes()
}

/// Decodes with the lending and the owning decoder: they must agree.
fn decode<H: HistogramSample + Key>(data: &[u8]) -> Result<Vec<(i64, Vec<u64>)>, String> {
    let mut lending = HistogramChunkDecoder::<H>::new(data).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(sample) = lending.next_sample() {
        let (t, h) = sample.map_err(|e| e.to_string())?;
        out.push((t, h.key()));
    }
    let owning: Result<Vec<(i64, H)>, _> = HistogramChunkDecoder::<H>::new(data).unwrap().collect();
    let owning: Vec<_> = owning
        .unwrap()
        .into_iter()
        .map(|(t, h)| (t, h.key()))
        .collect();
    assert_eq!(owning, out);
    Ok(out)
}

/// Decoding must not panic, whatever the bytes.
fn decode_anything(data: &[u8]) {
    let _ = decode_histograms(data);
    let _ = decode_float_histograms(data);
}

/// Flips bits, cuts, rewrites the sample count: errors or samples, never a panic.
fn damage(
    data: &[u8],
    cut: prop::sample::Index,
    flips: &[prop::sample::Index],
    count: Option<u16>,
) {
    let truncated = &data[..cut.index(data.len() + 1)];
    decode_anything(truncated);
    let mut damaged = data.to_vec();
    for f in flips {
        let bit = f.index(damaged.len() * 8);
        damaged[bit / 8] ^= 0x80 >> (bit % 8);
    }
    if let Some(c) = count
        && damaged.len() >= 2
    {
        damaged[..2].copy_from_slice(&c.to_be_bytes());
    }
    decode_anything(&damaged);
    decode_anything(&damaged[..cut.index(damaged.len() + 1)]);
}

/// Bucket index -> absolute count, empty buckets left out.
fn bucket_map<T: Copy + PartialEq + Default>(spans: &[Span], counts: &[T]) -> BTreeMap<i64, T> {
    let mut index = 0i64;
    let mut indices = Vec::new();
    for s in spans {
        index += i64::from(s.offset);
        for _ in 0..s.length {
            indices.push(index);
            index += 1;
        }
    }
    indices
        .into_iter()
        .zip(counts.iter().copied())
        .filter(|(_, c)| *c != T::default())
        .collect()
}

fn int_map(spans: &[Span], deltas: &[i64]) -> BTreeMap<i64, i64> {
    let counts: Vec<i64> = deltas
        .iter()
        .scan(0i64, |c, d| {
            *c = c.wrapping_add(*d);
            Some(*c)
        })
        .collect();
    bucket_map(spans, &counts)
}

/// What chunking must keep of a sample: the observations, bucket by bucket.
type Observations = (Vec<u64>, [BTreeMap<i64, i64>; 2]);

fn observations(h: &Histogram) -> Observations {
    let mut fields = vec![
        u64::from(h.is_stale()),
        h.count,
        h.zero_count,
        h.sum.to_bits(),
        h.schema as u32 as u64,
        h.zero_threshold.to_bits(),
    ];
    fields.extend(h.custom_values.iter().map(|c| c.to_bits()));
    let maps = [
        int_map(&h.positive_spans, &h.positive_buckets),
        int_map(&h.negative_spans, &h.negative_buckets),
    ];
    (fields, maps)
}

/// A series for the chunk builder: increasing timestamps, a few layouts, resets, gauges,
/// staleness markers, new buckets appearing; no empty buckets (Prometheus 3.5 gives
/// samples that lack empty buckets odd spans, see chunk::spans).
fn int_series() -> impl Strategy<Value = Vec<(i64, Histogram)>> {
    let step = (
        0u8..20,
        -6i32..6,
        1u64..30,
        vec((-8i64..8, 1i64..50), 0..6),
        0u32..3,
    );
    (vec(step, 1..80), any::<i64>()).prop_map(|(steps, start)| {
        let mut t = start / 2;
        let mut schema = 0;
        let mut zero_count = 0u64;
        let mut buckets: BTreeMap<i64, i64> = BTreeMap::new();
        let mut out = Vec::new();
        for (kind, new_schema, grow, new_buckets, split) in steps {
            t += 1 + i64::from(kind) * 997;
            let mut hint = CounterResetHint::Unknown;
            match kind {
                0 => {
                    out.push((t, Histogram::stale()));
                    continue;
                }
                1 => schema = new_schema,
                2 => buckets.values_mut().for_each(|c| *c = (*c / 3).max(1)),
                3 => hint = CounterResetHint::Gauge,
                4 => hint = CounterResetHint::CounterReset,
                _ => {}
            }
            for (index, count) in new_buckets {
                *buckets.entry(index).or_insert(0) += count;
            }
            buckets.values_mut().for_each(|c| *c += grow as i64 % 4);
            zero_count += grow % 3;
            // Spans, sometimes spelled with a split.
            let mut spans: Vec<Span> = Vec::new();
            let mut next = 0i64;
            for (i, &index) in buckets.keys().enumerate() {
                match spans.last_mut() {
                    Some(s) if index == next && !(split == 1 && i == 1) => s.length += 1,
                    _ => spans.push(Span {
                        offset: (if i == 0 { index } else { index - next }) as i32,
                        length: 1,
                    }),
                }
                next = index + 1;
            }
            let mut prev = 0;
            let deltas = buckets
                .values()
                .map(|&c| {
                    let d = c - prev;
                    prev = c;
                    d
                })
                .collect();
            let count = zero_count + buckets.values().sum::<i64>() as u64;
            out.push((
                t,
                Histogram {
                    counter_reset_hint: hint,
                    schema,
                    zero_threshold: 2f64.powi(-128),
                    zero_count,
                    count,
                    sum: count as f64 * 0.75,
                    positive_spans: spans,
                    positive_buckets: deltas,
                    ..Histogram::default()
                },
            ));
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn integer_chunks_round_trip((header, samples) in int_chunk()) {
        let data = encode(header, &samples);
        let want: Vec<_> = samples.iter().enumerate().map(|(i, (t, h))| {
            (*t, as_decoded(i, header, h, Histogram::stale(), |h, c| h.counter_reset_hint = c, Histogram::is_stale))
        }).collect();
        prop_assert_eq!(decode::<Histogram>(&data).unwrap(), want);
        prop_assert_eq!(HistogramChunkDecoder::<Histogram>::new(&data).unwrap().header(), header);
    }

    #[test]
    fn float_chunks_round_trip((header, samples) in float_chunk()) {
        let data = encode(header, &samples);
        let want: Vec<_> = samples.iter().enumerate().map(|(i, (t, h))| {
            (*t, as_decoded(i, header, h, FloatHistogram::stale(), |h, c| h.counter_reset_hint = c, FloatHistogram::is_stale))
        }).collect();
        prop_assert_eq!(decode::<FloatHistogram>(&data).unwrap(), want);
    }

    #[test]
    fn chunking_keeps_every_observation(samples in int_series()) {
        let chunks = histogram_chunks(&samples).unwrap();
        let mut decoded = Vec::new();
        for c in &chunks {
            prop_assert_eq!(c.encoding, ChunkEncoding::Histogram);
            let part = decode_histograms(&c.data).unwrap();
            prop_assert_eq!((c.min_time, c.max_time), (part[0].0, part[part.len() - 1].0));
            decoded.extend(part);
        }
        prop_assert_eq!(decoded.len(), samples.len());
        for ((t, want), (u, got)) in samples.iter().zip(&decoded) {
            prop_assert_eq!(t, u);
            prop_assert_eq!(observations(want), observations(got));
        }
        // The same series with float counts.
        let floats: Vec<(i64, FloatHistogram)> = samples.iter().map(|(t, h)| (*t, h.to_float())).collect();
        let mut decoded = Vec::new();
        for c in histogram_chunks(&floats).unwrap() {
            decoded.extend(decode_float_histograms(&c.data).unwrap());
        }
        prop_assert_eq!(decoded.len(), floats.len());
        for ((_, want), (_, got)) in floats.iter().zip(&decoded) {
            prop_assert_eq!(want.is_stale(), got.is_stale());
            if !want.is_stale() {
                prop_assert_eq!(want.count.to_bits(), got.count.to_bits());
                prop_assert_eq!(
                    bucket_map(&want.positive_spans, &want.positive_buckets),
                    bucket_map(&got.positive_spans, &got.positive_buckets)
                );
            }
        }
    }

    #[test]
    fn damaged_chunks_never_panic(
        (header, samples) in int_chunk(),
        floats in float_chunk(),
        cut in any::<prop::sample::Index>(),
        flips in vec(any::<prop::sample::Index>(), 0..4),
        count in any::<Option<u16>>(),
    ) {
        damage(&encode(header, &samples), cut, &flips, count);
        damage(&encode(floats.0, &floats.1), cut, &flips, count);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..400)) {
        decode_anything(&data);
    }
}
