//! Where `__name__` goes: by default (Prometheus 3.5's, without
//! `--enable-feature=promql-delayed-name-removal`) a function or operator that drops the name
//! drops it at once, so later steps cannot read it, and series that only the name told apart
//! collide right there: for a range function or a unary minus anywhere in the range (3.5
//! checks the whole matrix), for an instant function or an operator only at one step. With
//! delayed removal the name goes at the end and such series merge where they do not overlap.
//! The differential test compares the instant cases with a real Prometheus 3.5; the range
//! cases need a renamed metric, which its data set has not: Prometheus 3.5 answered these
//! queries over the same data as asserted here when measured by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use gateway::promql::{Engine, EngineOptions, QueryResult, StoreStorage, Value};
use std::sync::Arc;
use store_api::{Labels, MemoryStore};

const MINUTE: i64 = 60_000;
const END: i64 = 30 * MINUTE;

/// A counter renamed halfway: `old_total` until minute 10, `new_total` from minute 20 (more
/// than the 5 m lookback apart), and `other_total` beside both all the time.
fn storage() -> StoreStorage<MemoryStore> {
    let series = |name: &str, minutes: std::ops::RangeInclusive<i64>| {
        let labels = Labels::from_pairs([("__name__", name), ("job", "x")]);
        let samples = minutes.map(|m| (m * MINUTE, m as f64)).collect();
        (labels, samples)
    };
    let data = vec![
        series("old_total", 0..=10),
        series("new_total", 20..=30),
        series("other_total", 0..=30),
    ];
    StoreStorage::new(Arc::new(MemoryStore::new(Labels::new(), data)))
}

fn engine(delayed_name_removal: bool) -> Engine {
    Engine::new(EngineOptions {
        delayed_name_removal,
        ..EngineOptions::default()
    })
}

fn run(delayed: bool, query: &str) -> Result<QueryResult, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime
        .block_on(engine(delayed).range_query(&storage(), query, 0, END, MINUTE))
        .map_err(|e| e.to_string())
}

/// The label sets of a range query's answer, each with its number of points.
fn series(delayed: bool, query: &str) -> Vec<(Labels, usize)> {
    match run(delayed, query)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .value
    {
        Value::Matrix(series) => series
            .into_iter()
            .map(|s| (s.labels, s.points.len()))
            .collect(),
        other => panic!("{query}: {other:?}"),
    }
}

fn fails_with_collision(delayed: bool, query: &str) {
    let error = run(delayed, query).expect_err(query);
    assert!(
        error.contains("vector cannot contain metrics with the same labelset"),
        "{query}: {error}"
    );
}

const RENAMED: &str = r#"{__name__=~"old_total|new_total"}"#;

#[test]
fn a_range_function_over_a_renamed_series_collides_across_the_range() {
    fails_with_collision(false, &format!("rate({RENAMED}[2m])"));
    fails_with_collision(false, &format!("-{RENAMED}"));
    // Delayed: the two halves never share a step, so they merge into one series.
    let job_x = Labels::from_pairs([("job", "x")]);
    let merged = series(true, &format!("rate({RENAMED}[2m])"));
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0].0, job_x);
    assert_eq!(series(true, &format!("-{RENAMED}"))[0].0, job_x);
}

#[test]
fn an_instant_function_collides_only_at_a_shared_step() {
    // abs() sees old_total before minute 15 (its last sample at 10 plus the left-open 5 m
    // lookback) and new_total from minute 20 on.
    let merged = series(false, &format!("abs({RENAMED})"));
    assert_eq!(merged, [(Labels::from_pairs([("job", "x")]), 15 + 11)]);
    // Through a 12 m window old_total lasts until minute 21, past new_total's start.
    fails_with_collision(false, &format!("abs(last_over_time({RENAMED}[12m]))"));
}

#[test]
fn a_dropped_name_is_gone_for_later_steps_unless_removal_is_delayed() {
    // Grouping by the name keeps it through the sum only while it is there to keep.
    let query = r#"label_replace(sum by (__name__) (rate(other_total[5m])), "__name__", "$1", "__name__", "(.+)")"#;
    assert_eq!(series(false, query)[0].0, Labels::new());
    assert_eq!(
        series(true, query)[0].0,
        Labels::from_pairs([("__name__", "other_total")])
    );
    let query = r#"label_replace(rate(other_total[5m]), "was", "$1", "__name__", "(.+)")"#;
    assert_eq!(series(false, query)[0].0.get("was"), None);
    assert_eq!(series(true, query)[0].0.get("was"), Some("other_total"));
    // Both agree where nothing reads the name: it is dropped in the answer.
    let query = "rate(other_total[5m]) * 2";
    assert_eq!(series(false, query), series(true, query));
}
