//! Histogram chunk throughput on realistic chunks: a request-duration histogram scraped every
//! 15 s (schema 3, 20 buckets in two spans, counts growing unevenly), as an integer chunk of
//! the samples Prometheus would put in one chunk, and as a float chunk of its per-second
//! rates (what a recording rule stores). Throughput is reported in samples.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "common/rng.rs"]
mod rng;

use rng::Rng;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use store_api::chunk::{
    FloatHistogramDecoder, FloatHistogramEncoder, HistogramDecoder, HistogramEncoder,
    decode_float_histograms, decode_histograms,
};
use store_api::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

/// About what fits Prometheus' 1 KiB target for 20 buckets.
const SAMPLES: usize = 60;
const BUCKETS: usize = 20;

fn scraped() -> Vec<(i64, Histogram)> {
    let mut rng = Rng(0x1234_5678);
    let mut counts = [0u64; BUCKETS];
    let mut zero_count = 0;
    let mut sum = 0.0;
    (0..SAMPLES as i64)
        .map(|i| {
            // Most observations in the middle buckets.
            for (j, c) in counts.iter_mut().enumerate() {
                let weight = 1 + (BUCKETS / 2).abs_diff(j) as u64;
                *c += rng.next() % (40 / weight);
            }
            zero_count += rng.next() % 2;
            sum += (rng.next() % 10_000) as f64 / 100.0;
            let mut prev = 0i64;
            let deltas = counts
                .iter()
                .map(|&c| {
                    let d = c as i64 - prev;
                    prev = c as i64;
                    d
                })
                .collect();
            let h = Histogram {
                schema: 3,
                zero_threshold: 2f64.powi(-128),
                zero_count,
                count: zero_count + counts.iter().sum::<u64>(),
                sum,
                positive_spans: vec![
                    Span {
                        offset: -8,
                        length: 12,
                    },
                    Span {
                        offset: 2,
                        length: 8,
                    },
                ],
                positive_buckets: deltas,
                ..Histogram::default()
            };
            let t = 1_700_000_000_000 + i * 15_000 + (rng.next() % 5) as i64;
            (t, h)
        })
        .collect()
}

/// The per-second rate between consecutive scrapes.
fn rates(scraped: &[(i64, Histogram)]) -> Vec<(i64, FloatHistogram)> {
    scraped
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0].1.to_float(), w[1].1.to_float());
            let seconds = (w[1].0 - w[0].0) as f64 / 1000.0;
            let rate = |x: f64, y: f64| (y - x) / seconds;
            let mut f = b.clone();
            f.counter_reset_hint = CounterResetHint::Gauge;
            f.count = rate(a.count, b.count);
            f.zero_count = rate(a.zero_count, b.zero_count);
            f.sum = rate(a.sum, b.sum);
            for (y, x) in f.positive_buckets.iter_mut().zip(&a.positive_buckets) {
                *y = rate(*x, *y);
            }
            (w[1].0, f)
        })
        .collect()
}

fn encode_ints(samples: &[(i64, Histogram)]) -> Vec<u8> {
    let mut e = HistogramEncoder::new(CounterResetHint::Unknown);
    for (t, h) in samples {
        e.append(*t, h).unwrap();
    }
    e.into_bytes()
}

fn encode_floats(samples: &[(i64, FloatHistogram)]) -> Vec<u8> {
    let mut e = FloatHistogramEncoder::new(CounterResetHint::Gauge);
    for (t, h) in samples {
        e.append(*t, h).unwrap();
    }
    e.into_bytes()
}

fn bench(c: &mut Criterion) {
    let ints = scraped();
    let floats = rates(&ints);
    let (int_chunk, float_chunk) = (encode_ints(&ints), encode_floats(&floats));
    println!(
        "histogram chunk: {} samples, {} bytes; float histogram chunk: {} samples, {} bytes",
        ints.len(),
        int_chunk.len(),
        floats.len(),
        float_chunk.len()
    );

    // The hot path: one histogram updated in place.
    let mut g = c.benchmark_group("decode_in_place");
    g.throughput(Throughput::Elements(ints.len() as u64));
    g.bench_function("histogram", |b| {
        b.iter(|| {
            let mut d = HistogramDecoder::new(black_box(&int_chunk)).unwrap();
            let mut total = 0;
            while let Some(s) = d.next_sample() {
                let (t, h) = s.unwrap();
                total += t as u64 + h.count + h.positive_buckets[BUCKETS - 1] as u64;
            }
            black_box(total)
        })
    });
    g.throughput(Throughput::Elements(floats.len() as u64));
    g.bench_function("float_histogram", |b| {
        b.iter(|| {
            let mut d = FloatHistogramDecoder::new(black_box(&float_chunk)).unwrap();
            let mut total = 0.0;
            while let Some(s) = d.next_sample() {
                let (t, h) = s.unwrap();
                total += t as f64 + h.count + h.positive_buckets[BUCKETS - 1];
            }
            black_box(total)
        })
    });
    g.finish();

    // Owned samples: one allocation set per sample.
    let mut g = c.benchmark_group("decode_owned");
    g.throughput(Throughput::Elements(ints.len() as u64));
    g.bench_function("histogram", |b| {
        b.iter(|| black_box(decode_histograms(black_box(&int_chunk)).unwrap()))
    });
    g.throughput(Throughput::Elements(floats.len() as u64));
    g.bench_function("float_histogram", |b| {
        b.iter(|| black_box(decode_float_histograms(black_box(&float_chunk)).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(ints.len() as u64));
    g.bench_function("histogram", |b| b.iter(|| encode_ints(black_box(&ints))));
    g.throughput(Throughput::Elements(floats.len() as u64));
    g.bench_function("float_histogram", |b| {
        b.iter(|| encode_floats(black_box(&floats)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
