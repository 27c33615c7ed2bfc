//! Native histograms from a real scrape, through `panoptes sidecar` and `panoptes query`,
//! while the gateway does not read them yet: never an empty success. A Prometheus 3.5 with
//! `--enable-feature=native-histograms` scrapes another Prometheus 3.5 every second (its
//! `prometheus_http_request_duration_seconds` is a native histogram); the sidecar passes the
//! histogram chunks through, and the gateway answers a selector of them with a warning naming
//! the endpoint, the series and the encoding (an error with `partial_response=false`), while
//! float series through the same endpoint answer cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::net::free_addr;
use panoptes_tests::process::{Panoptes, Sidecar};
use panoptes_tests::prometheus::{PrometheusServer, Version, api_client, get_json};
use std::time::{Duration, Instant};

const HISTOGRAM: &str = "prometheus_http_request_duration_seconds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_series_are_named_never_dropped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let target = PrometheusServer::launch(
        Version::V3_5,
        None,
        &dir.path().join("target"),
        &[],
        "",
        &[],
    );
    let scrape = format!(
        "scrape_configs:\n  - job_name: prometheus\n    scrape_interval: 1s\n    \
         static_configs:\n      - targets: ['{}']\n",
        target.addr()
    );
    let scraper = PrometheusServer::launch(
        Version::V3_5,
        None,
        &dir.path().join("scraper"),
        &[("replica", "a")],
        &scrape,
        &["--enable-feature=native-histograms"],
    );
    let sidecar = Sidecar::start(&scraper.url());
    let grpc = sidecar.grpc;
    let http = free_addr();
    let _gateway = Panoptes::start(
        &[
            "query".into(),
            format!("--http-address={http}"),
            format!("--endpoint={grpc}"),
        ],
        http,
    );
    let client = api_client();

    // The scraper holds native histograms (Prometheus answers them in `histogram`).
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let (_, body) = get_json(
            &client,
            &scraper.url(),
            "/api/v1/query",
            &[("query", HISTOGRAM)],
        )
        .await;
        let result = body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if result.iter().any(|s| s.get("histogram").is_some()) {
            break result;
        }
        assert!(
            Instant::now() < deadline,
            "no native histogram scraped: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!("Prometheus holds {} histogram series", stored.len());

    // Asked at once: the sidecar advertised the fresh Prometheus' range as starting at its
    // first Info, so the gateway did not leave it out as empty.
    let gateway = format!("http://{http}");
    let query = [("query", HISTOGRAM)];
    let (status, body) = get_json(&client, &gateway, "/api/v1/query", &query).await;
    println!("gateway: {status} {body}");
    assert_eq!(status, 200, "{body}");
    let warnings: Vec<&str> = body["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(|w| w.as_str()).collect())
        .unwrap_or_default();
    let endpoint = grpc.to_string();
    assert!(
        warnings.iter().any(|w| w.contains(&endpoint)
            && w.contains(HISTOGRAM)
            && w.contains("HISTOGRAM chunks")),
        "no warning names the endpoint, the series and the encoding: {body}"
    );

    let mut abort = query.to_vec();
    abort.push(("partial_response", "false"));
    let (status, body) = get_json(&client, &gateway, "/api/v1/query", &abort).await;
    assert_ne!(status, 200, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains(HISTOGRAM)),
        "{body}"
    );

    // Floats through the same endpoint: clean.
    let (status, body) = get_json(&client, &gateway, "/api/v1/query", &[("query", "up")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("warnings").is_none(), "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "1", "{body}");
}
