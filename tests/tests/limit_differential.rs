//! `limitk` and `limit_ratio` against a real Prometheus 3.5 (Debian sid's, with
//! `--enable-feature=promql-experimental-functions`, which these functions need there) on the
//! same promtool blocks: both must choose the same series at every evaluation, as instant and
//! as range queries. `limitk` takes the first k series of a group in label order, and
//! `limit_ratio` keeps a series by a hash of its labels, so agreeing here means the same order
//! and the same hash as Prometheus.
//!
//! `cargo test -p panoptes-tests --test limit_differential -- --nocapture` prints each query.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use gateway::promql::{Engine, EngineOptions, StoreStorage, Value};
use panoptes_tests::data::{self, Spec};
use panoptes_tests::prometheus::{
    Answer, Eval, PrometheusServer, Version, api_client, compare_answers, query_answer,
};
use panoptes_tests::promtool;
use std::sync::Arc;
use store_api::{Labels, MemoryStore};

const QUERIES: &[&str] = &[
    "limitk(3, node_cpu_seconds_total)",
    "limitk by (job) (2, http_requests_total)",
    "limitk without (code) (1, http_requests_total)",
    "limitk by (mode) (1, rate(node_cpu_seconds_total[5m]))",
    "limitk(1000, memory_usage_bytes)",
    "limitk(scalar(count(node_info)), node_cpu_seconds_total)",
    "sum by (mode) (limitk by (mode) (2, node_cpu_seconds_total))",
    "count(limitk(0, node_cpu_seconds_total)) or vector(0)",
    "limit_ratio(0.5, node_cpu_seconds_total)",
    "limit_ratio(-0.5, node_cpu_seconds_total)",
    "limit_ratio(0.3, request_duration_seconds_bucket)",
    "limit_ratio(-0.7, request_duration_seconds_bucket)",
    "limit_ratio by (job) (0.5, http_requests_total)",
    // The name is dropped before the hash: the series' labels at that point.
    "limit_ratio(0.4, rate(request_duration_seconds_bucket[5m]))",
    "limit_ratio(0.25, {__name__=~\"memory_usage_bytes|temperature_celsius|signed_gauge\"})",
    "count(limit_ratio(0.6, {__name__=~\".+\"}))",
    "limit_ratio(1, temperature_celsius)",
    "limit_ratio(0.5, memory_usage_bytes) or limit_ratio(-0.5, memory_usage_bytes)",
];

/// Seconds after the data's start: times that are never a sample time (samples are never on a
/// whole second), the last 7 minutes after the last sample (lookback only).
const INSTANTS: [i64; 3] = [307, 2107, 3667];
const RANGES: [(i64, i64, i64); 2] = [(7, 3607, 60), (1807, 2407, 20)];

fn ours(value: Value) -> Answer {
    match value {
        Value::Scalar { t, v } => Answer::from([(Labels::new(), vec![(t, v)])]),
        Value::Vector(samples) => samples
            .into_iter()
            .map(|s| (s.labels, vec![(s.t, s.v)]))
            .collect(),
        Value::Matrix(series) => series.into_iter().map(|s| (s.labels, s.points)).collect(),
        Value::String { .. } => panic!("a string answer"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_functions_agree_with_prometheus_3_5() {
    let spec = Spec {
        end_ms: Spec::default().start_ms + 3_600_000,
        pods: 8,
        ..Spec::default()
    };
    let series = data::generate_rich(&spec);
    let dir = tempfile::tempdir().unwrap();
    promtool::create_blocks(&series, &dir.path().join("tsdb"));
    let prometheus = PrometheusServer::start_version(
        Version::V3_5,
        &dir.path().join("tsdb/blocks"),
        &dir.path().join("prometheus"),
        &["--enable-feature=promql-experimental-functions"],
    );
    let store = MemoryStore::new(
        Labels::new(),
        series.iter().map(|s| (s.labels.clone(), s.samples.clone())),
    );
    let storage = StoreStorage::new(Arc::new(store));
    let engine = Engine::new(EngineOptions::default());
    let client = api_client();

    let mut failures = Vec::new();
    let mut compared = 0;
    for query in QUERIES {
        for eval in Eval::grid(spec.start_ms, &INSTANTS, &RANGES) {
            let want = query_answer(&client, &prometheus.url(), query, eval).await;
            let got = match eval {
                Eval::Instant(t) => engine.instant_query(&storage, query, t).await,
                Eval::Range(start, end, step) => {
                    engine.range_query(&storage, query, start, end, step).await
                }
            };
            let got = got.unwrap_or_else(|e| panic!("{query} {eval:?}: {e}"));
            assert!(got.warnings.is_empty(), "{query}: {:?}", got.warnings);
            let differences = compare_answers(&ours(got.value), &want, 1e-9);
            println!(
                "{query} {eval:?}: {} series, {}",
                want.len(),
                if differences.is_empty() {
                    "same"
                } else {
                    "DIFFERENT"
                }
            );
            if !differences.is_empty() {
                failures.push(format!(
                    "{query} {eval:?}:\n    {}",
                    differences.join("\n    ")
                ));
            }
            compared += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} evaluations differ from Prometheus 3.5:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
