//! Every component's `/metrics`, scraped by a real Prometheus 3.5 and linted by its
//! `promtool check metrics`: a gateway over a sidecar (before a Prometheus), a block store
//! and an endpoint that is down. After traffic of every kind (queries, a bad query, an
//! unknown path, label and series calls, `/federate`, a call on the gateway's own StoreAPI),
//! the scraper's answers show the HTTP requests by handler and code, the endpoint calls by
//! outcome, endpoint health (the down one included), `/federate` outcomes, the StoreAPI
//! calls each component served, build information and process metrics. The sidecar's and
//! the store's `/-/healthy` and `/-/ready` answer 200.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::block_store::{filesystem_config, start_store_with_http};
use panoptes_tests::data::{self, Spec};
use panoptes_tests::net::{free_addr, http_status};
use panoptes_tests::process::{Panoptes, Sidecar};
use panoptes_tests::prometheus::{PrometheusServer, Version, api_client, get_data};
use panoptes_tests::promtool;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use store_api::{SeriesRequest, Store, StoreClient};

/// The body of `http://{addr}/metrics`, after checking its content type.
async fn metrics_text(client: &reqwest::Client, addr: SocketAddr) -> String {
    let response = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

/// `promtool check metrics` (Prometheus 3.5's) on `text`: its findings, empty when clean.
fn lint(text: &str) -> String {
    let mut child = Command::new(Version::V3_5.binary().with_file_name("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        String::new()
    } else {
        findings
    }
}

/// A scrape job of one target, every second.
fn scrape_job(name: &str, target: SocketAddr) -> String {
    format!(
        "  - job_name: {name}\n    scrape_interval: 1s\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
}

/// The value of a one-series instant query on the scraper, if it has one.
async fn value(client: &reqwest::Client, scraper: &str, query: &str) -> Option<f64> {
    let data = get_data(client, scraper, "/api/v1/query", &[("query", query)]).await;
    let result = data["result"].as_array()?;
    assert!(result.len() <= 1, "{query}: {result:?}");
    result.first()?["value"][1].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_component_exports_metrics_a_prometheus_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let series = data::generate(&Spec::default());
    promtool::create_blocks(&series, &dir.path().join("tsdb"));
    let blocks = dir.path().join("tsdb/blocks");

    let (prometheus, sidecar) = tokio::task::block_in_place(|| {
        let prometheus = PrometheusServer::start(&blocks, &dir.path().join("prometheus"), &[]);
        let sidecar = Sidecar::start(&prometheus.url());
        (prometheus, sidecar)
    });
    let (_store, store_grpc, store_http) = tokio::task::block_in_place(|| {
        start_store_with_http(&filesystem_config(&blocks), &dir.path().join("store"), &[])
    });
    let down = free_addr(); // Nothing listens there.
    let (http, grpc) = (free_addr(), free_addr());
    let query_log = dir.path().join("queries.log");
    let _gateway = tokio::task::block_in_place(|| {
        Panoptes::start(
            &[
                "query".into(),
                format!("--http-address={http}"),
                format!("--grpc-address={grpc}"),
                format!("--endpoint={}", sidecar.grpc),
                format!("--endpoint={store_grpc}"),
                format!("--endpoint={down}"),
                format!("--query.log-file={}", query_log.display()),
            ],
            http,
        )
    });

    let scrape = format!(
        "scrape_configs:\n{}{}{}",
        scrape_job("gateway", http),
        scrape_job("sidecar", sidecar.http),
        scrape_job("store", store_http)
    );
    let scraper = tokio::task::block_in_place(|| {
        PrometheusServer::launch(
            Version::V3_5,
            None,
            &dir.path().join("scraper"),
            &[],
            &scrape,
            &[],
        )
    });
    let scraper = scraper.url();

    // Traffic of every kind.
    let client = api_client();
    let gateway = format!("http://{http}");
    let get = |path: &str, params: Vec<(&str, &str)>| {
        let request = client.get(format!("{gateway}{path}")).query(&params);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let end = (series[0].samples.last().unwrap().0 / 1000).to_string();
    assert_eq!(
        get("/api/v1/query", vec![("query", "up"), ("time", &end)]).await,
        200
    );
    let range = [
        ("start", "1700000000"),
        ("end", end.as_str()),
        ("step", "60"),
    ];
    let mut params = vec![("query", "sum by (job) (rate(http_requests_total[5m]))")];
    params.extend(range);
    assert_eq!(get("/api/v1/query_range", params).await, 200);
    assert_eq!(get("/api/v1/query", vec![("query", "sum(")]).await, 400);
    assert_eq!(get("/no/such/path", vec![]).await, 404);
    assert_eq!(get("/api/v1/labels", vec![]).await, 200);
    assert_eq!(get("/api/v1/label/job/values", vec![]).await, 200);
    assert_eq!(
        get("/api/v1/series", vec![("match[]", "{__name__=~\".+\"}")]).await,
        200
    );
    assert_eq!(
        get("/federate", vec![("match[]", "{__name__=~\".+\"}")]).await,
        200
    );
    let own = StoreClient::new(&grpc.to_string()).unwrap();
    own.info().await.unwrap();
    let mut stream = own
        .series(SeriesRequest {
            max_time: i64::MAX,
            matchers: vec![
                store_api::Matcher::new(store_api::MatchOp::Regex, "__name__", ".+").unwrap(),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    while futures_util::StreamExt::next(&mut stream).await.is_some() {}

    // The query log has each query, the failed one with its error, in Prometheus' shape.
    let logged: Vec<serde_json::Value> = std::fs::read_to_string(&query_log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    println!("query log: {logged:?}");
    let paths: Vec<&str> = logged
        .iter()
        .map(|l| l["httpRequest"]["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["/api/v1/query", "/api/v1/query_range", "/api/v1/query"]
    );
    assert_eq!(logged[0]["params"]["query"], "up");
    assert_eq!(logged[1]["params"]["step"], 60.0);
    assert!(
        logged[1]["stats"]["timings"]["execTotalTime"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(logged[0]["httpRequest"]["clientIP"], "127.0.0.1");
    assert!(
        logged[2]["error"]
            .as_str()
            .unwrap()
            .contains("unclosed left parenthesis")
    );

    // Every body lints clean.
    for (component, addr) in [
        ("gateway", http),
        ("sidecar", sidecar.http),
        ("store", store_http),
    ] {
        let text = metrics_text(&client, addr).await;
        let findings = lint(&text);
        assert!(findings.is_empty(), "{component}: {findings}\n{text}");
        assert_eq!(http_status(addr, "/-/healthy"), Some(200), "{component}");
        assert_eq!(http_status(addr, "/-/ready"), Some(200), "{component}");
    }

    // The scraper sees what happened, after a scrape that came later.
    let after = std::time::SystemTime::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The oldest of the three targets' last scrapes (none until all three were scraped).
        let newest = value(
            &client,
            &scraper,
            "min(timestamp(up{job=~\"gateway|sidecar|store\"})) and count(up) == 3",
        )
        .await;
        let after_s = after
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        if newest.is_some_and(|t| t > after_s + 1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "the scraper saw no fresh scrape");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let expect = |query: &'static str, check: fn(f64) -> bool| {
        let (client, scraper) = (client.clone(), scraper.clone());
        async move {
            let got = value(&client, &scraper, query).await;
            println!("{query} = {got:?}");
            assert!(got.is_some_and(check), "{query} = {got:?}");
        }
    };
    let at_least_one = |v: f64| v >= 1.0;
    expect("min(up{job=~\"gateway|sidecar|store\"})", |v| v == 1.0).await;
    expect("count(panoptes_build_info)", |v| v == 3.0).await;
    // Each binary says which commit it was built from (the tests build it from this checkout).
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 40, "git rev-parse HEAD: {head:?}");
    let built_from_head = format!("count(panoptes_build_info{{revision=\"{head}\"}})");
    assert_eq!(value(&client, &scraper, &built_from_head).await, Some(3.0));
    expect("count(process_resident_memory_bytes > 0)", |v| v == 3.0).await;
    for query in [
        "sum(http_requests_total{job=\"gateway\",handler=\"/api/v1/query\",code=\"200\"})",
        "sum(http_requests_total{job=\"gateway\",handler=\"/api/v1/query\",code=\"400\"})",
        "sum(http_requests_total{job=\"gateway\",handler=\"other\",code=\"404\"})",
        "sum(http_requests_total{job=\"gateway\",handler=\"/api/v1/label/{name}/values\"})",
        "sum(http_request_duration_seconds_count{job=\"gateway\",handler=\"/api/v1/query_range\"})",
        "sum(panoptes_federate_answers_total{job=\"gateway\",outcome=\"partial\"})",
        "min(panoptes_endpoint_series_received_total{job=\"gateway\"})",
        "sum(grpc_server_handled_total{job=\"sidecar\",grpc_method=\"Series\",grpc_code=\"OK\"})",
        "sum(grpc_server_handled_total{job=\"store\",grpc_method=\"Series\",grpc_code=\"OK\"})",
        "sum(grpc_server_handled_total{job=\"store\",grpc_method=\"LabelValues\",grpc_code=\"OK\"})",
        "sum(grpc_server_handled_total{job=\"gateway\",grpc_method=\"Series\",grpc_code=\"OK\"})",
        "sum(grpc_server_handled_total{job=\"gateway\",grpc_method=\"Info\",grpc_code=\"OK\"})",
    ] {
        expect(query, at_least_one).await;
    }
    // The two queries answered, by phase; the sidecar's and the store's copies of each series
    // merged (identical samples: no switch between them).
    for phase in ["queue", "parse", "fetch", "eval", "encode"] {
        let query = format!(
            "sum(panoptes_query_phase_duration_seconds_count{{job=\"gateway\",phase=\"{phase}\"}})"
        );
        let got = value(&client, &scraper, &query).await;
        assert_eq!(got, Some(2.0), "{query}");
    }
    expect(
        "sum(panoptes_decoded_samples_total{job=\"gateway\"})",
        |v| v > 1000.0,
    )
    .await;
    expect(
        "sum(panoptes_dedup_merged_series_total{job=\"gateway\"})",
        at_least_one,
    )
    .await;
    expect(
        "sum(panoptes_dedup_replica_switches_total{job=\"gateway\"})",
        |v| v == 0.0,
    )
    .await;
    // The block store read its bucket and cached what the queries needed.
    expect(
        "sum(panoptes_blocks{job=\"store\",state=\"loaded\"})",
        at_least_one,
    )
    .await;
    expect(
        "sum(panoptes_blocks{job=\"store\",state=\"failed\"})",
        |v| v == 0.0,
    )
    .await;
    expect(
        "sum(panoptes_bucket_requests_total{job=\"store\"})",
        at_least_one,
    )
    .await;
    expect(
        "sum(panoptes_bucket_read_bytes_total{job=\"store\"})",
        |v| v > 1000.0,
    )
    .await;
    expect(
        "sum(panoptes_index_cache_requests_total{job=\"store\",kind=\"postings\",result=\"miss\"})",
        at_least_one,
    )
    .await;
    expect(
        "sum(panoptes_index_cache_items{job=\"store\"})",
        at_least_one,
    )
    .await;
    expect(
        "sum(panoptes_index_cache_bytes{job=\"store\"})",
        at_least_one,
    )
    .await;
    // Two endpoints up, the third down; every up one answered Series calls in full.
    expect("sum(panoptes_endpoint_up{job=\"gateway\"})", |v| v == 2.0).await;
    expect("count(panoptes_endpoint_up{job=\"gateway\"})", |v| v == 3.0).await;
    expect(
        "count(panoptes_endpoint_info_last_success_timestamp_seconds{job=\"gateway\"})",
        |v| v == 2.0,
    )
    .await;
    expect(
        "count(panoptes_endpoint_call_duration_seconds_count{job=\"gateway\",api=\"series\",outcome=\"complete\"})",
        |v| v == 2.0,
    )
    .await;
    drop(prometheus);
}
