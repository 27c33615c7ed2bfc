//! `--query.max-samples` is enforced while the samples arrive, not after: a query over the
//! limit fails with Prometheus' words and the gateway stops reading the store's answer
//! (the endpoint's call ends `abandoned`, not `complete`), so a rejected query never holds
//! all it asked for; a query under the limit is answered. `--query.max-series` likewise.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::faults::Gateway;
use store_api::{Labels, MemoryStore};

/// 4,000 series of an hour at 15 s: 964,000 samples.
fn store() -> MemoryStore {
    let series = (0..4000).map(|i| {
        let labels = Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]);
        (labels, (0..241).map(|t| (t * 15_000, t as f64)).collect())
    });
    MemoryStore::new(Labels::new(), series.collect::<Vec<_>>())
}

/// The sum of `name`'s series with `label` in the gateway's `/metrics`.
async fn metric(gateway: &Gateway, name: &str, label: &str) -> f64 {
    let (_, _, text) = gateway.get_text("/metrics", &[]).await;
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `metric` once it reaches `want` (an endpoint's reader records how its call ended when it
/// notices the query is gone, a moment after the answer), or what it is after 5 s.
async fn metric_reaching(gateway: &Gateway, name: &str, label: &str, want: f64) -> f64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let got = metric(gateway, name, label).await;
        if got >= want || std::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_limit_stops_the_fetch() {
    let (gateway, _server) =
        Gateway::over_store(store(), &["--query.max-samples=100000".into()]).await;
    let calls = "panoptes_endpoint_call_duration_seconds_count";

    let over = gateway
        .get(
            "/api/v1/query",
            &[("query", "count(count_over_time(m[1h]))"), ("time", "3600")],
        )
        .await;
    println!(
        "over the limit: {} {} in {:?}",
        over.status, over.body, over.elapsed
    );
    assert_eq!(over.status, 422, "{}", over.body);
    assert_eq!(over.body["errorType"], "execution");
    assert_eq!(
        over.body["error"],
        "query processing would load too many samples into memory in query execution"
    );
    let abandoned = metric_reaching(&gateway, calls, "outcome=\"abandoned\"", 1.0).await;
    let complete = metric(&gateway, calls, "api=\"series\",outcome=\"complete\"").await;
    println!("series calls: {abandoned} abandoned, {complete} complete");
    assert_eq!(abandoned, 1.0, "the store's answer was read to its end");
    assert_eq!(complete, 0.0);

    // 400 series of 241 samples: under the limit.
    let under = gateway
        .get(
            "/api/v1/query",
            &[
                ("query", "count(count_over_time(m{i=~\"1..\"}[1h]))"),
                ("time", "3600"),
            ],
        )
        .await;
    assert!(under.is_success(), "{}", under.body);
    assert_eq!(under.body["data"]["result"][0]["value"][1], "100");
}

/// `--query.max-series` counts the series of every selector of a query together, stops the
/// fetch that passes it, and lets a query under it through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_series_limit_counts_every_selector() {
    let (gateway, _server) =
        Gateway::over_store(store(), &["--query.max-series=1000".into()]).await;
    let calls = "panoptes_endpoint_call_duration_seconds_count";
    let query = |q: &'static str| {
        let gateway = &gateway;
        async move {
            gateway
                .get("/api/v1/query", &[("query", q), ("time", "3600")])
                .await
        }
    };
    // 4,000 series in one selector: the fetch stops at the 1,001st.
    let over = query("count(m)").await;
    assert_eq!(over.status, 422, "{}", over.body);
    assert_eq!(over.body["errorType"], "execution");
    assert_eq!(
        over.body["error"],
        "query processing would load too many series into memory in query preparation \
         (--query.max-series)"
    );
    let abandoned = metric_reaching(&gateway, calls, "outcome=\"abandoned\"", 1.0).await;
    assert_eq!(abandoned, 1.0);
    // 600 + 600 series in two selectors: each alone under the limit, together over it.
    let two = query("count(m{i=~\"[1-6]..\"}) + count(m{i=~\"[1-6]..\"} offset 1m)").await;
    assert_eq!(two.status, 422, "{}", two.body);
    // 600 series: answered.
    let under = query("count(m{i=~\"[1-6]..\"})").await;
    assert!(under.is_success(), "{}", under.body);
    assert_eq!(under.body["data"]["result"][0]["value"][1], "600");
}
