//! The engine benchmark's queries over the topology this project exists for: the same data
//! (see `engine.rs`) split into 2 shards by a hash of the pod, each shard an HA pair whose
//! replica b scrapes 7 s after replica a, every replica a real StoreAPI server on loopback,
//! read through the fan-out with `replica` de-duplication, and the answer encoded as the
//! HTTP API's JSON. It measures the gateway's side of the sharded path: gRPC decode, merge,
//! dedup, XOR decode, engine and JSON (the stores here are in memory; what a sidecar and a
//! Prometheus add is measured by the comparison harness).
//!
//! Run: `cargo bench -p gateway --bench sharded` (criterion, wall time);
//! `scripts/callgrind-engine.sh --bench sharded --stages` counts instructions per query and
//! per stage.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed unwrap is a bug

mod common;

use common::{END, START, STEP, generate, selected_queries};
use criterion::{Criterion, SamplingMode, criterion_group};
use gateway::fanout::{Fanout, FanoutConfig, FanoutStorage, QueryOptions};
use gateway::http::json::QueryBody;
use gateway::promql::{Engine, EngineOptions};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use store_api::server::RunningServer;
use store_api::{Labels, MemoryStore};
use tokio::runtime::Runtime;

const SHARDS: u64 = 2;
/// Replica b scrapes this long after replica a.
const PHASE_MS: i64 = 7_000;

/// The 4 stores: for each shard its series, as replica a sampled them and as b did.
fn replicas() -> Vec<MemoryStore> {
    let mut shards: Vec<Vec<_>> = (0..SHARDS).map(|_| Vec::new()).collect();
    for (labels, samples) in generate() {
        let mut hasher = DefaultHasher::new();
        labels.get("pod").hash(&mut hasher);
        shards[(hasher.finish() % SHARDS) as usize].push((labels, samples));
    }
    let mut stores = Vec::new();
    for (shard, series) in shards.into_iter().enumerate() {
        let shard = shard.to_string();
        let shifted: Vec<_> = series
            .iter()
            .map(|(labels, samples)| {
                let b = samples.iter().map(|&(t, v)| (t + PHASE_MS, v)).collect();
                (labels.clone(), b)
            })
            .collect();
        let a = Labels::from_pairs([("shard", shard.as_str()), ("replica", "a")]);
        let b = Labels::from_pairs([("shard", shard.as_str()), ("replica", "b")]);
        stores.push(MemoryStore::new(a, series));
        stores.push(MemoryStore::new(b, shifted));
    }
    stores
}

/// The gateway's storage over the replicas, served on loopback by `rt`.
struct Setup {
    storage: FanoutStorage,
    engine: Engine,
    rt: Runtime,
    _servers: Vec<RunningServer>,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stores = replicas();
    let (storage, servers) = rt.block_on(async {
        let mut servers = Vec::new();
        for store in stores {
            let addr = "127.0.0.1:0".parse().unwrap();
            servers.push(
                store_api::server::spawn(Arc::new(store), addr)
                    .await
                    .unwrap(),
            );
        }
        let endpoints: Vec<String> = servers.iter().map(|s| s.addr.to_string()).collect();
        // No deadline cuts an answer, which an instruction counter slows fiftyfold.
        let config = FanoutConfig {
            response_timeout: Duration::from_secs(24 * 3600),
            ..FanoutConfig::default()
        };
        let fanout = Fanout::over_replicas(&endpoints, config).await.unwrap();
        (FanoutStorage::new(fanout, QueryOptions::default()), servers)
    });
    Setup {
        storage,
        engine: Engine::new(EngineOptions {
            timeout: Duration::from_secs(24 * 3600),
            ..EngineOptions::default()
        }),
        rt,
        _servers: servers,
    }
}

/// The query and its JSON answer; returns the answer's size in bytes.
// Never inlined: the instruction counter dumps a profile at each call.
#[inline(never)]
fn run(setup: &Setup, query: &str) -> usize {
    let result = setup
        .rt
        .block_on(
            setup
                .engine
                .range_query(&setup.storage, query, START, END, STEP),
        )
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    // The fan-out's warnings would mean a partial answer; the engine's notes (`sort` in a
    // range query) do not.
    let partial = result.warnings.iter().find(|w| !w.starts_with("PromQL "));
    assert!(partial.is_none(), "{query}: {partial:?}");
    QueryBody::new(result.value, None, None)
        .map(|chunk| chunk.len())
        .sum()
}

fn sharded_benches(c: &mut Criterion) {
    let setup = setup();
    let mut group = c.benchmark_group("sharded");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for &(name, query) in selected_queries() {
        eprintln!("{name}: `{query}` → {} bytes of JSON", run(&setup, query));
        group.bench_function(name, |b| {
            b.iter(|| black_box(run(&setup, black_box(query))))
        });
    }
    group.finish();
}

criterion_group!(benches, sharded_benches);

fn main() {
    if common::once() {
        let setup = setup();
        common::run_each_once(|query| {
            black_box(run(&setup, query));
        });
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
