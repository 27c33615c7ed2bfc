//! PromQL engine throughput on generated data: range queries over 2 h at a 30 s step
//! (241 steps) against an in-memory store of ~12,000 series.
//!
//! The data: a request counter `http_requests_total{namespace, pod, container}` of
//! 10 × 100 × 5 = 5,000 series; a classic histogram
//! `http_request_duration_seconds_bucket{namespace, pod, le}` of 10 × 50 × 12 = 6,000 series;
//! and `kube_pod_info{namespace, pod, node}` (1,000 series, value 1) for a many-to-one join.
//! Every series is scraped every 30 s from 40 min before the query's start to its end, at a
//! per-series phase that is off whole seconds, with a few milliseconds of jitter.
//!
//! Each iteration runs the whole query (select from the store, decode chunks, evaluate) on a
//! tokio current-thread runtime. Sample sizes are small so that the whole bench runs in a few
//! minutes on two cores: numbers are indicative, not precise.
//!
//! Run: `cargo bench -p gateway --bench engine`; one query: `ENGINE_BENCH_QUERY=topk cargo
//! bench -p gateway --bench engine`. `ENGINE_BENCH_ONCE=1` runs each query once, without
//! criterion: `scripts/callgrind-engine.sh` counts its instructions per query, which are
//! stable where wall time is not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a bug

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::{END, START, STEP, generate, selected_queries};
use criterion::{Criterion, SamplingMode, criterion_group};
use gateway::promql::benchmark_queries::BENCHMARK_QUERIES;
use gateway::promql::{Engine, EngineOptions, QueryResult, StoreStorage, Value};
use store_api::{Labels, MemoryStore};
use tokio::runtime::Runtime;

#[inline(never)]
fn run(rt: &Runtime, engine: &Engine, storage: &StoreStorage<MemoryStore>, q: &str) -> QueryResult {
    rt.block_on(engine.range_query(storage, q, START, END, STEP))
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

/// The benchmark's store, engine and runtime.
struct Setup {
    storage: StoreStorage<MemoryStore>,
    engine: Engine,
    rt: Runtime,
}

fn setup() -> Setup {
    let data = generate();
    let series_in = data.len();
    let samples_in: usize = data.iter().map(|(_, s)| s.len()).sum();
    let steps = (END - START) / STEP + 1;
    eprintln!("data: {series_in} series, {samples_in} samples; queries: {steps} steps");
    Setup {
        storage: StoreStorage::new(Arc::new(MemoryStore::new(Labels::new(), data))),
        engine: Engine::new(EngineOptions::default()),
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap(),
    }
}

fn engine_benches(c: &mut Criterion) {
    let Setup {
        storage,
        engine,
        rt,
    } = setup();
    let steps = (END - START) / STEP + 1;

    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    // `ENGINE_BENCH_QUERY=sort` also skips the other queries' shape runs below, e.g. under a
    // profiler with `--profile-time`.
    for &(name, query) in selected_queries() {
        // Once outside the measurement: the result's shape, for the report.
        let result = run(&rt, &engine, &storage, query);
        let (series, points) = match &result.value {
            Value::Matrix(m) => (m.len(), m.iter().map(|s| s.points.len()).sum::<usize>()),
            other => panic!("{query}: unexpected {}", other.type_name()),
        };
        eprintln!("{name}: `{query}` → {series} series × {steps} steps ({points} points)");
        group.bench_function(name, |b| {
            b.iter(|| black_box(run(&rt, &engine, &storage, black_box(query))));
        });
    }
    group.finish();
}

/// Parsing and type-checking alone: every query pays it once.
fn parse_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group.bench_function("benchmark queries", |b| {
        b.iter(|| {
            for (_, query) in BENCHMARK_QUERIES {
                black_box(gateway::promql::syntax::parse(black_box(query)).is_ok());
            }
        });
    });
    group.finish();
}

criterion_group!(benches, engine_benches, parse_benches);

fn main() {
    if common::once() {
        let Setup {
            storage,
            engine,
            rt,
        } = setup();
        common::run_each_once(|query| {
            black_box(run(&rt, &engine, &storage, query));
        });
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
