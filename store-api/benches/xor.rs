//! XOR chunk throughput on realistic chunks: 120 samples, 15 s scrape
//! interval with a few milliseconds of jitter, counter-like and gauge-like
//! values. Throughput is reported in samples.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "common/rng.rs"]
mod rng;

use rng::Rng;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use store_api::chunk::{XorDecoder, XorEncoder, decode_into};

const SAMPLES: usize = 120;

/// Scrape timestamps: 15 s apart, each off by -2..=2 ms.
fn timestamps(rng: &mut Rng) -> Vec<i64> {
    let start = 1_700_000_000_000i64;
    (0..SAMPLES as i64)
        .map(|i| start + i * 15_000 + rng.range(-2, 2))
        .collect()
}

/// A request counter: integer increments, sometimes none.
fn counter() -> Vec<(i64, f64)> {
    let mut rng = Rng(0x1234_5678);
    let mut v = 1_234_567.0;
    timestamps(&mut rng)
        .into_iter()
        .map(|t| {
            if !rng.next().is_multiple_of(10) {
                v += rng.range(1, 60) as f64;
            }
            (t, v)
        })
        .collect()
}

/// A gauge with two decimals (e.g. a temperature or a load), random walk.
fn gauge() -> Vec<(i64, f64)> {
    let mut rng = Rng(0x9abc_def0);
    let mut v: f64 = 42.0;
    timestamps(&mut rng)
        .into_iter()
        .map(|t| {
            v = ((v + rng.range(-150, 150) as f64 / 100.0) * 100.0).round() / 100.0;
            (t, v)
        })
        .collect()
}

fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut e = XorEncoder::new();
    for &(t, v) in samples {
        e.append(t, v);
    }
    e.into_bytes()
}

fn bench(c: &mut Criterion) {
    let chunks = [("counter", counter()), ("gauge", gauge())];

    let mut g = c.benchmark_group("decode_into");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    for (name, samples) in &chunks {
        let data = encode(samples);
        let mut ts = Vec::with_capacity(SAMPLES);
        let mut vs = Vec::with_capacity(SAMPLES);
        g.bench_function(*name, |b| {
            b.iter(|| {
                ts.clear();
                vs.clear();
                decode_into(black_box(&data), &mut ts, &mut vs).unwrap();
                black_box((&ts, &vs));
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decode_iter");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    for (name, samples) in &chunks {
        let data = encode(samples);
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut sum = 0.0;
                for s in XorDecoder::new(black_box(&data)).unwrap() {
                    let (t, v) = s.unwrap();
                    sum += t as f64 + v;
                }
                black_box(sum)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    for (name, samples) in &chunks {
        g.bench_function(*name, |b| b.iter(|| encode(black_box(samples))));
    }
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
