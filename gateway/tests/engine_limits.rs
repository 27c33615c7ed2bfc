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

/// CPU time (user + system) spent so far by this process' threads named `name`, from
/// `/proc/self/task/*/{comm,stat}`: what the engine's evaluation threads burn.
fn cpu_of_threads(name: &str) -> Duration {
    let ticks_per_second = 100; // USER_HZ, fixed at 100 on Linux
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14 and stime 15.
        let after_name = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        if fields.len() > 12 {
            ticks +=
                fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        }
    }
    Duration::from_millis(ticks * 1000 / ticks_per_second)
}

/// A query dropped mid-evaluation (a client that went away) stops burning CPU at once: the
/// evaluation threads' CPU time, read from the kernel, stops growing. Uncanceled, this
/// query evaluates for several seconds; the probe window is one second, in which a running
/// evaluation burns at least half a core even beside two CPU hogs on two cores.
#[test]
fn a_dropped_query_stops_evaluating() {
    const THREADS: &str = "cancel-probe";
    const WINDOW: Duration = Duration::from_secs(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(THREADS)
        .enable_time()
        .build()
        .unwrap();
    let store = Arc::new(storage());
    let engine = engine(EngineOptions::default());
    let query = {
        let (store, engine) = (store.clone(), engine.clone());
        runtime.spawn(async move {
            engine
                .range_query(
                    &*store,
                    "quantile_over_time(0.5, m[4h])",
                    0,
                    15_000_000,
                    2_000,
                )
                .await
        })
    };
    // Wait until it evaluates: its threads burn CPU.
    let started = std::time::Instant::now();
    while cpu_of_threads(THREADS) < Duration::from_millis(200) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the query never ran"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !query.is_finished(),
        "the query ended before it could be dropped"
    );
    query.abort();
    let dropped_at = cpu_of_threads(THREADS);
    std::thread::sleep(WINDOW);
    let after = cpu_of_threads(THREADS) - dropped_at;
    println!("CPU burnt in the {WINDOW:?} after the drop: {after:?}");
    assert!(
        after < WINDOW / 5,
        "a dropped query went on evaluating: {after:?} of CPU in the {WINDOW:?} after it"
    );
    // And the engine still answers.
    let answer = runtime
        .block_on(engine.instant_query(&*store, "count(m)", 15_000_000))
        .unwrap();
    assert_eq!(answer.value.type_name(), "vector");
}
