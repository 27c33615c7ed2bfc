//! Heavy queries stall nothing and stop with their clients, through a real gateway process:
//! while twice the cores' worth of `rate(m[1y:1ms])` (minutes of CPU each) run over the HTTP
//! API, `/-/healthy` and a cheap query keep answering in milliseconds; when those clients
//! close their connections, the gateway's CPU use falls to idle within a second.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::faults::Gateway;
use std::time::{Duration, Instant};
use store_api::{Labels, MemoryStore};

/// Four hours of one series scraped every 15 s.
fn store() -> MemoryStore {
    let samples = (0..960).map(|i| (i * 15_000, i as f64)).collect();
    MemoryStore::new(
        Labels::new(),
        [(Labels::from_pairs([("__name__", "m")]), samples)],
    )
}

/// CPU time (user + system) the process `pid` has used, from `/proc/<pid>/stat`.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised name: utime is field 14 and stime 15 (1-based).
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields[11] + fields[12];
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

const HEAVY: &str = "rate(m[1y:1ms])";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_queries_starve_nothing_and_stop_when_their_clients_leave() {
    let (gateway, _server) = Gateway::over_store(store(), &[]).await;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let url = gateway.url().to_owned();
    let heavy: Vec<_> = (0..2 * cores)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                // Its own client: its connection closes when the task is dropped.
                let client = reqwest::Client::new();
                client
                    .get(format!("{url}/api/v1/query"))
                    .query(&[("query", HEAVY), ("time", "14400")])
                    .send()
                    .await
            })
        })
        .collect();

    // They run: the gateway burns CPU.
    let pid = gateway.pid();
    let started = Instant::now();
    let before = cpu_of(pid);
    while cpu_of(pid) - before < Duration::from_millis(500) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the heavy queries never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (mut healthy, mut cheap) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..10 {
        let started = Instant::now();
        let (status, _, _) = gateway.get_text("/-/healthy", &[]).await;
        assert_eq!(status, 200);
        healthy = healthy.max(started.elapsed());
        let answer = gateway
            .get("/api/v1/query", &[("query", "count(m)"), ("time", "14400")])
            .await;
        assert!(answer.is_success(), "{}", answer.body);
        cheap = cheap.max(answer.elapsed);
    }
    println!(
        "beside {} heavy queries: /-/healthy slowest {healthy:?}, count(m) slowest {cheap:?}",
        2 * cores
    );
    assert!(
        heavy.iter().all(|h| !h.is_finished()),
        "a heavy query ended"
    );
    // Milliseconds when nothing starves; a starved gateway answers when a query ends.
    assert!(healthy < Duration::from_millis(500), "{healthy:?}");
    assert!(cheap < Duration::from_millis(500), "{cheap:?}");

    // The clients leave: within a second the evaluations stop.
    for h in &heavy {
        h.abort();
    }
    let left = cpu_of(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = cpu_of(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let burnt = cpu_of(pid) - settled;
    println!(
        "CPU after the clients left: {:?} in the first second, {burnt:?} in the next",
        settled - left
    );
    assert!(
        burnt < Duration::from_millis(200),
        "evaluations went on after their clients left: {burnt:?} of CPU in a second"
    );
}

/// Admission control: with two places and two queue slots, ten heavy queries at once are two
/// running, two waiting and six refused at once (503, Prometheus' envelope, `unavailable`);
/// `/-/healthy` is never held back; and a waiting query gives up at its own timeout
/// (503, `timeout`, `query timed out in query queue`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_queries_are_refused_at_once() {
    let (gateway, _server) = Gateway::over_store(
        store(),
        &[
            "--query.max-concurrent=2".into(),
            "--query.max-queued=2".into(),
        ],
    )
    .await;
    let url = gateway.url().to_owned();
    let send = |timeout: &'static str| {
        let url = url.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let response = reqwest::Client::new()
                .get(format!("{url}/api/v1/query"))
                .query(&[("query", HEAVY), ("time", "14400"), ("timeout", timeout)])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            (status, body, started.elapsed())
        })
    };
    let finished =
        |tasks: &[tokio::task::JoinHandle<_>]| tasks.iter().filter(|t| t.is_finished()).count();

    let heavy: Vec<_> = (0..10).map(|_| send("2m")).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while finished(&heavy) < 6 {
        assert!(
            Instant::now() < deadline,
            "only {} answered",
            finished(&heavy)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(finished(&heavy), 6, "two run and two wait");
    let (healthy, _, _) = gateway.get_text("/-/healthy", &[]).await;
    assert_eq!(healthy, 200);
    let mut unfinished = Vec::new();
    for task in heavy {
        if !task.is_finished() {
            unfinished.push(task);
            continue;
        }
        let (status, body, took) = task.await.unwrap();
        println!("refused: {status} after {took:?}: {body}");
        assert_eq!(status, 503);
        assert_eq!(body["status"], "error");
        assert_eq!(body["errorType"], "unavailable");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("too many concurrent queries"), "{body}");
        assert!(took < Duration::from_secs(2), "refused late: {took:?}");
    }

    // Two of the four leave (their clients go): whichever they were, two run and none waits,
    // so a query with a 1 s timeout waits its second.
    for task in unfinished.drain(2..) {
        task.abort();
    }
    let (status, body, took) = send("1s").await.unwrap();
    println!("queued with a 1 s timeout: {status} after {took:?}: {body}");
    assert_eq!(
        (status, &body["errorType"]),
        (503, &serde_json::json!("timeout")),
        "{body}"
    );
    assert_eq!(body["error"], "query timed out in query queue");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    for task in unfinished {
        task.abort();
    }
}
