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

/// A runtime whose threads (workers and blocking pool) are named `name`.
fn runtime(name: &str, workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_time()
        .build()
        .unwrap()
}

/// A subquery of a year at a 1 ms step over data of a few hours: billions of (mostly empty)
/// inner steps, minutes of CPU.
const HEAVY_SUBQUERY: &str = "rate(m[1y:1ms])";

/// A query dropped mid-evaluation (a client that went away) stops burning CPU at once: the
/// evaluation threads' CPU time, read from the kernel, stops growing. Uncanceled, these
/// queries evaluate for seconds (the range function) or minutes (the subquery, which is
/// evaluated while the outer query is planned); the probe window is one second, in which a
/// running evaluation burns at least half a core even beside two CPU hogs on two cores.
#[test]
fn a_dropped_query_stops_evaluating() {
    const WINDOW: Duration = Duration::from_secs(1);
    let queries: [(&str, &str, bool); 2] = [
        ("drop-range", "quantile_over_time(0.5, m[4h])", true),
        ("drop-subquery", HEAVY_SUBQUERY, false),
    ];
    for (threads, query, range) in queries {
        let runtime = runtime(threads, 1);
        let store = Arc::new(storage());
        let engine = engine(EngineOptions::default());
        let running = {
            let (store, engine) = (store.clone(), engine.clone());
            runtime.spawn(async move {
                if range {
                    engine
                        .range_query(&*store, query, 0, 15_000_000, 2_000)
                        .await
                } else {
                    engine.instant_query(&*store, query, 15_000_000).await
                }
            })
        };
        // Wait until it evaluates: its threads burn CPU.
        let started = std::time::Instant::now();
        while cpu_of_threads(threads) < Duration::from_millis(200) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{query} never ran"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !running.is_finished(),
            "{query} ended before it could be dropped"
        );
        running.abort();
        let dropped_at = cpu_of_threads(threads);
        std::thread::sleep(WINDOW);
        let after = cpu_of_threads(threads) - dropped_at;
        println!("{query}: CPU burnt in the {WINDOW:?} after the drop: {after:?}");
        assert!(
            after < WINDOW / 5,
            "{query}: a dropped query went on evaluating: {after:?} of CPU in the {WINDOW:?} \
             after it"
        );
        // And the engine still answers.
        let answer = runtime
            .block_on(engine.instant_query(&*store, "count(m)", 15_000_000))
            .unwrap();
        assert_eq!(answer.value.type_name(), "vector");
    }
}

/// Heavy subqueries, twice as many as the runtime has workers, starve nothing: a cheap query
/// beside them answers as if they were not there (they evaluate on blocking threads, not on
/// the workers that serve requests). The bound is a second; a starved runtime would answer
/// only when a subquery ends, minutes later.
#[test]
fn heavy_subqueries_do_not_starve_other_queries() {
    const WORKERS: usize = 2;
    let runtime = runtime("stall-probe", WORKERS);
    let store = Arc::new(storage());
    let engine = engine(EngineOptions::default());
    let heavy: Vec<_> = (0..2 * WORKERS)
        .map(|_| {
            let (store, engine) = (store.clone(), engine.clone());
            runtime.spawn(async move {
                engine
                    .instant_query(&*store, HEAVY_SUBQUERY, 15_000_000)
                    .await
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        // Spawned, so that it needs a worker (the test thread waits on a plain channel,
        // which needs none).
        let (done, answered) = std::sync::mpsc::channel();
        let (cheap_store, cheap_engine) = (store.clone(), engine.clone());
        let started = std::time::Instant::now();
        runtime.spawn(async move {
            let answer = cheap_engine
                .instant_query(&*cheap_store, "count(m)", 15_000_000)
                .await;
            let _ = done.send(answer);
        });
        let answer = answered
            .recv_timeout(Duration::from_secs(10))
            .expect("the cheap query answered within 10 s")
            .unwrap();
        assert_eq!(answer.value.type_name(), "vector");
        slowest = slowest.max(started.elapsed());
    }
    println!(
        "cheap query beside {} heavy subqueries: slowest of 5 {slowest:?}",
        2 * WORKERS
    );
    assert!(
        heavy.iter().all(|h| !h.is_finished()),
        "the heavy subqueries ended"
    );
    assert!(slowest < Duration::from_secs(1), "starved: {slowest:?}");
    for h in &heavy {
        h.abort();
    }
}
