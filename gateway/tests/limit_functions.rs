//! `limitk` and `limit_ratio`: the series they choose are a deterministic subset of their
//! input, the same at every step and in every run; `limitk` takes the first k of each group in
//! series order; `limit_ratio(r)` and `limit_ratio(r - 1)` split the input into two disjoint
//! parts that together are all of it, and a larger ratio keeps a superset. Which series
//! Prometheus itself picks is the differential test's (`tests/tests/limit_differential.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use gateway::promql::{Engine, EngineOptions, StoreStorage, Value};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use store_api::{Labels, MemoryStore};

/// One sample a minute for ten minutes.
const STEP_MS: i64 = 60_000;
const END_MS: i64 = 10 * STEP_MS;

/// `series` series named `m`, `i="<n>"` and `g="<n % groups>"`, each with the value `i` at
/// every minute.
fn storage(series: usize, groups: usize) -> StoreStorage<MemoryStore> {
    let data = (0..series).map(|i| {
        let labels = Labels::from_pairs([
            ("__name__", "m".to_string()),
            ("i", format!("{i:03}")),
            ("g", (i % groups).to_string()),
        ]);
        let samples = (0..=END_MS / STEP_MS)
            .map(|t| (t * STEP_MS, i as f64))
            .collect();
        (labels, samples)
    });
    StoreStorage::new(Arc::new(MemoryStore::new(Labels::new(), data)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// The label sets of an instant query's answer.
fn instant(storage: &StoreStorage<MemoryStore>, query: &str) -> BTreeSet<Labels> {
    let engine = Engine::new(EngineOptions::default());
    let answer = runtime()
        .block_on(engine.instant_query(storage, query, END_MS))
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    match answer.value {
        Value::Vector(samples) => samples.into_iter().map(|s| s.labels).collect(),
        other => panic!("{query}: {other:?}"),
    }
}

/// Per series of a range query's answer over the whole data, its sample times.
fn range(storage: &StoreStorage<MemoryStore>, query: &str) -> BTreeMap<Labels, Vec<i64>> {
    let engine = Engine::new(EngineOptions::default());
    let answer = runtime()
        .block_on(engine.range_query(storage, query, 0, END_MS, STEP_MS))
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    match answer.value {
        Value::Matrix(series) => series
            .into_iter()
            .map(|s| (s.labels, s.points.iter().map(|p| p.0).collect()))
            .collect(),
        other => panic!("{query}: {other:?}"),
    }
}

fn group_of(labels: &Labels) -> &str {
    labels.get("g").unwrap()
}

#[test]
fn limitk_takes_the_first_k_of_each_group() {
    let store = storage(10, 3);
    let chosen = instant(&store, "limitk by (g) (2, m)");
    let names: Vec<&str> = chosen.iter().map(|l| l.get("i").unwrap()).collect();
    // Series order is label order (`g` before `i`): group 0 is 000, 003, 006, 009, ...
    assert_eq!(names, ["000", "003", "001", "004", "002", "005"]);
    assert_eq!(instant(&store, "limitk(3, m)").len(), 3);
    assert!(instant(&store, "limitk(0, m)").is_empty());
    assert!(instant(&store, "limitk(-1, m)").is_empty());
    assert_eq!(instant(&store, "limitk(100, m)").len(), 10);
    // The values are the input's, not a rank.
    let values = instant(&store, "limitk(1, m) == 0");
    assert_eq!(values.len(), 1);
}

#[test]
fn limit_ratio_bounds() {
    let store = storage(50, 1);
    assert!(instant(&store, "limit_ratio(0, m)").is_empty());
    assert_eq!(instant(&store, "limit_ratio(1, m)").len(), 50);
    assert_eq!(instant(&store, "limit_ratio(-1, m)").len(), 50);
    let engine = Engine::new(EngineOptions::default());
    let capped = runtime()
        .block_on(engine.instant_query(&store, "limit_ratio(1.5, m)", END_MS))
        .unwrap();
    assert_eq!(
        capped.warnings,
        ["PromQL warning: ratio value should be between -1 and 1, got 1.5, capping to 1 (1:13)"]
    );
    let nan = runtime().block_on(engine.instant_query(&store, "limit_ratio(NaN, m)", END_MS));
    assert!(nan.is_err(), "{nan:?}");
}

/// A ratio changing from step to step (`time()`-driven) still splits the same way at each
/// step: complements are disjoint and cover the input at every step.
#[test]
fn limit_ratio_complements_hold_at_every_step() {
    let store = storage(30, 1);
    let ratio = "(time() % 600) / 600";
    let both = range(
        &store,
        &format!("limit_ratio({ratio}, m) and limit_ratio({ratio} - 1, m)"),
    );
    assert!(both.is_empty(), "{both:?}");
    let either = range(
        &store,
        &format!("count(limit_ratio({ratio}, m) or limit_ratio({ratio} - 1, m))"),
    );
    let counts: Vec<_> = either.values().collect();
    assert_eq!(counts, [&(0..=10).map(|t| t * STEP_MS).collect::<Vec<_>>()]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// limitk: per group min(k, size) series, a subset of the input, the same set at every
    /// step of a range query and in a second run.
    #[test]
    fn limitk_is_a_stable_subset(series in 0usize..40, groups in 1usize..6, k in -2i64..12) {
        let store = storage(series, groups);
        let query = format!("limitk by (g) ({k}, m)");
        let chosen = instant(&store, &query);
        let all = instant(&store, "m");
        prop_assert!(chosen.is_subset(&all));
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for labels in &all {
            *sizes.entry(group_of(labels)).or_default() += 1;
        }
        for (group, size) in sizes {
            let got = chosen.iter().filter(|l| group_of(l) == group).count();
            prop_assert_eq!(got, size.min(k.max(0) as usize), "group {}", group);
        }
        prop_assert_eq!(&instant(&store, &query), &chosen, "a second run");
        let steps = range(&store, &query);
        let every_step: Vec<i64> = (0..=END_MS / STEP_MS).map(|t| t * STEP_MS).collect();
        prop_assert_eq!(steps.keys().cloned().collect::<BTreeSet<_>>(), chosen);
        for times in steps.values() {
            prop_assert_eq!(times, &every_step);
        }
    }

    /// limit_ratio(r) and limit_ratio(r - 1) partition the input; a larger ratio keeps a
    /// superset; the choice is the same at every step and in a second run.
    #[test]
    fn limit_ratio_complements_partition(series in 0usize..60, r in 0.0f64..=1.0, more in 0.0f64..=1.0) {
        let store = storage(series, 1);
        let all = instant(&store, "m");
        let kept = instant(&store, &format!("limit_ratio({r}, m)"));
        let rest = instant(&store, &format!("limit_ratio({}, m)", r - 1.0));
        prop_assert!(kept.is_disjoint(&rest));
        prop_assert_eq!(kept.union(&rest).cloned().collect::<BTreeSet<_>>(), all);
        let wider = instant(&store, &format!("limit_ratio({}, m)", (r + more).min(1.0)));
        prop_assert!(kept.is_subset(&wider));
        prop_assert_eq!(&instant(&store, &format!("limit_ratio({r}, m)")), &kept);
        let steps = range(&store, &format!("limit_ratio({r}, m)"));
        prop_assert_eq!(steps.keys().cloned().collect::<BTreeSet<_>>(), kept);
    }
}
