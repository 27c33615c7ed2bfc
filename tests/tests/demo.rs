//! `panoptes demo` as a new user runs it: its suggested queries answer with data, and keep
//! answering for "the last 5 minutes" because samples keep arriving: the newest sample the
//! gateway serves moves forward with the clock.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::net::free_addr;
use panoptes_tests::process::Panoptes;
use panoptes_tests::prometheus::get_json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

async fn query(client: &reqwest::Client, base: &str, query: &str) -> serde_json::Value {
    let (status, answer) = get_json(client, base, "/api/v1/query", &[("query", query)]).await;
    assert_eq!(status, 200, "{query}: {answer}");
    answer["data"]["result"].clone()
}

/// The newest sample's time the gateway serves, in seconds.
async fn newest(client: &reqwest::Client, base: &str) -> f64 {
    let result = query(client, base, "max(timestamp(http_requests_total))").await;
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_answers_its_queries_and_its_data_keeps_arriving() {
    let http = free_addr();
    let _demo = Panoptes::start_listening(
        &["demo".to_string(), format!("--http-address={http}")],
        http,
    );
    let base = format!("http://{http}");
    let client = reqwest::Client::new();
    for suggested in [
        "sum by (job) (rate(http_requests_total[5m]))",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "max_over_time(process_resident_memory_bytes[1h])",
    ] {
        let result = query(&client, &base, suggested).await;
        assert!(
            result.as_array().is_some_and(|r| !r.is_empty()),
            "{suggested}: {result}"
        );
    }
    let first = newest(&client, &base).await;
    assert!(
        now_s() - first < 20.0,
        "the newest sample is recent: {first}"
    );
    // One scrape interval later, newer samples are there.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let later = newest(&client, &base).await;
    assert!(
        later >= first + 10.0,
        "samples keep arriving: newest {first} then {later}"
    );
    assert!(now_s() - later < 20.0, "and stay recent: {later}");
}
