//! The engine's limits, each failing with Prometheus' wording: samples held in memory, the
//! query timeout, the 11,000 points per series of range queries, and parse errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use gateway::promql::{Engine, EngineError, EngineOptions, StoreStorage};
use std::sync::Arc;
use std::time::Duration;
use store_api::{Labels, MemoryStore};

/// 100 series of 1,000 samples, one every 15 s.
fn storage() -> StoreStorage<MemoryStore> {
    let series = (0..100).map(|i| {
        let labels = Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]);
        (labels, (0..1000).map(|t| (t * 15_000, t as f64)).collect())
    });
    StoreStorage::new(Arc::new(MemoryStore::new(Labels::new(), series)))
}

fn engine(options: EngineOptions) -> Engine {
    Engine::new(options)
}

#[tokio::test]
async fn too_many_samples_fails_with_prometheus_wording() {
    let small = engine(EngineOptions {
        max_samples: 5_000,
        ..EngineOptions::default()
    });
    let err = small
        .range_query(&storage(), "rate(m[5m])", 0, 15_000_000, 60_000)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        EngineError::Limit(
            "query processing would load too many samples into memory in query execution".into()
        )
    );
    // The same query within the default limit answers.
    let answer = engine(EngineOptions::default())
        .range_query(&storage(), "rate(m[5m])", 0, 15_000_000, 60_000)
        .await
        .unwrap();
    assert_eq!(answer.value.type_name(), "matrix");
}

#[tokio::test]
async fn timeout_fails_the_query() {
    let hasty = engine(EngineOptions {
        timeout: Duration::ZERO,
        ..EngineOptions::default()
    });
    let err = hasty
        .range_query(&storage(), "sum(m)", 0, 15_000_000, 15_000)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Timeout(_)), "{err:?}");
    assert!(err.to_string().starts_with("query timed out in "), "{err}");
}

#[tokio::test]
async fn range_queries_are_limited_to_11000_steps() {
    let e = engine(EngineOptions::default());
    let err = e
        .range_query(&storage(), "m", 0, 11_001_000, 1_000)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    );
    // 11,000 steps after the first (11,001 points) are allowed, as in Prometheus.
    assert!(
        e.range_query(&storage(), "vector(1)", 0, 11_000_000, 1_000)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn bad_parameters_and_queries_are_errors() {
    let e = engine(EngineOptions::default());
    let step = e.range_query(&storage(), "m", 0, 10, 0).await.unwrap_err();
    assert!(
        step.to_string()
            .contains("zero or negative query resolution step"),
        "{step}"
    );
    let backwards = e.range_query(&storage(), "m", 10, 0, 1).await.unwrap_err();
    assert!(
        backwards
            .to_string()
            .contains("end timestamp must not be before start time")
    );
    let parse = e.instant_query(&storage(), "sum(m", 0).await.unwrap_err();
    assert!(matches!(parse, EngineError::Parse(_)), "{parse:?}");
    let string_range = e
        .range_query(&storage(), "\"text\"", 0, 10, 1)
        .await
        .unwrap_err();
    assert!(
        string_range
            .to_string()
            .contains("invalid expression type \"string\""),
        "{string_range}"
    );
}

#[tokio::test]
async fn a_dropped_query_stops() {
    // Dropping the query future (a client that went away) cancels the evaluation; the
    // engine must stay usable afterwards.
    let e = engine(EngineOptions::default());
    let store = storage();
    let query = e.range_query(&store, "sum by (i) (rate(m[5m]))", 0, 15_000_000, 15_000);
    let _ = tokio::time::timeout(Duration::from_millis(1), query).await;
    let answer = e
        .instant_query(&store, "count(m)", 15_000_000)
        .await
        .unwrap();
    assert_eq!(answer.value.type_name(), "vector");
}
