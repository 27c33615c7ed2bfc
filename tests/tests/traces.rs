//! One trace across every hop, in a real OTLP receiver: a query sent to an upper gateway with
//! a W3C `traceparent` is traced through the upper gateway, the lower gateway it reads over
//! StoreAPI, the sidecar below that and the Prometheus 3.5 the sidecar reads, each process
//! exporting its own spans, each hop's span the child of the caller's; the answer is
//! Prometheus' own. A process with a tracing configuration it cannot honour refuses to start,
//! naming the option.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::net::free_addr;
use panoptes_tests::otlp::{ReceivedSpan, Receiver};
use panoptes_tests::process::{Panoptes, panoptes_binary};
use panoptes_tests::prometheus::{PrometheusServer, Version};
use std::time::{Duration, Instant};

/// The trace the test starts, and the caller's span in it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn tracing_flag(receiver: &Receiver, service: &str) -> String {
    format!(
        "--tracing.config=type: OTLP\nconfig:\n  endpoint: {}\n  insecure: true\n  service_name: {service}\n",
        receiver.addr()
    )
}

/// The spans of `service` named `name`.
fn named<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.service == service && s.name == name)
        .collect()
}

/// Whether `child`'s parent is one of `parents`.
fn child_of(child: &ReceivedSpan, parents: &[&ReceivedSpan]) -> bool {
    parents.iter().any(|p| p.span_id == child.parent_span_id)
}

/// `up`'s answer from the Prometheus API at `base`, once it has one, sent with `headers`.
async fn up(base: &str, traceparent: Option<&str>) -> serde_json::Value {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut request = client
            .get(format!("{base}/api/v1/query"))
            .query(&[("query", "up")]);
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let body = request.send().await.unwrap().bytes().await.unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if answer["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            return answer["data"]["result"].clone();
        }
        assert!(Instant::now() < deadline, "no `up` from {base}: {answer}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_spans_upper_gateway_lower_gateway_sidecar_and_prometheus() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Prometheus 3.5 scrapes itself and exports its own spans to the same receiver.
    let prom_addr = free_addr();
    let config = format!(
        "tracing:\n  endpoint: {}\n  insecure: true\n  sampling_fraction: 1\n\
         scrape_configs:\n  - job_name: prometheus\n    scrape_interval: 1s\n    \
         static_configs:\n      - targets: ['{prom_addr}']\n",
        receiver.addr()
    );
    let prometheus = PrometheusServer::launch_on(
        prom_addr,
        Version::V3_5,
        None,
        dir.path(),
        &[("cluster", "eu")],
        &config,
        &[],
    );
    let direct = up(&prometheus.url(), None).await;

    let (_sidecar, sidecar_grpc) =
        Panoptes::sidecar(&prometheus.url(), &[tracing_flag(&receiver, "sidecar")]);
    let (lower_grpc, lower_http) = (free_addr(), free_addr());
    let _lower = Panoptes::start(
        &[
            "query".to_string(),
            format!("--endpoint={sidecar_grpc}"),
            format!("--grpc-address={lower_grpc}"),
            format!("--http-address={lower_http}"),
            tracing_flag(&receiver, "lower"),
        ],
        lower_grpc,
    );
    let upper_http = free_addr();
    let _upper = Panoptes::start(
        &[
            "query".to_string(),
            format!("--endpoint={lower_grpc}"),
            format!("--http-address={upper_http}"),
            tracing_flag(&receiver, "upper"),
        ],
        upper_http,
    );

    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let through_tiers = up(&format!("http://{upper_http}"), Some(&traceparent)).await;
    assert_eq!(
        through_tiers.as_array().map(Vec::len),
        direct.as_array().map(Vec::len),
        "the tiers answer `up` as Prometheus does: {through_tiers} vs {direct}"
    );

    // Every process sends its batch within a few seconds (Prometheus' and Panoptes' batch
    // exporters wait up to 5 s).
    let trace_id = hex(TRACE_ID);
    let spans = receiver
        .wait_for(&trace_id, Duration::from_secs(30), |spans| {
            ["upper", "lower", "sidecar", "prometheus"]
                .iter()
                .all(|service| spans.iter().any(|s| s.service == *service))
                && spans
                    .iter()
                    .any(|s| s.name == "Series" && s.service == "lower")
                && spans
                    .iter()
                    .any(|s| s.service == "prometheus" && !s.parent_span_id.is_empty())
        })
        .await;
    let shown: Vec<String> = spans
        .iter()
        .map(|s| format!("{}:{}", s.service, s.name))
        .collect();

    // The upper gateway's request span continues the caller's trace.
    let upper_http_spans = named(&spans, "upper", "GET /api/v1/query");
    assert!(
        upper_http_spans
            .iter()
            .any(|s| s.parent_span_id == hex(CALLER_SPAN)),
        "the upper gateway's request span is the caller's child: {shown:?}"
    );
    for phase in ["query", "parse", "fetch", "eval", "encode", "select"] {
        assert!(
            !named(&spans, "upper", phase).is_empty(),
            "the upper gateway traces its {phase} phase: {shown:?}"
        );
    }
    let upper_reads = named(&spans, "upper", "Series");
    assert!(
        upper_reads
            .iter()
            .any(|s| s.attribute("endpoint") == Some(&lower_grpc.to_string())),
        "the upper gateway's endpoint span names the lower gateway: {upper_reads:?}"
    );

    // Each hop's server span is the child of the caller's endpoint span.
    let lower_served = named(&spans, "lower", "thanos.Store/Series");
    assert!(
        lower_served.iter().any(|s| child_of(s, &upper_reads)),
        "the lower gateway serves Series as the upper gateway's child: {shown:?}"
    );
    let lower_reads = named(&spans, "lower", "Series");
    let sidecar_served = named(&spans, "sidecar", "thanos.Store/Series");
    assert!(
        sidecar_served.iter().any(|s| child_of(s, &lower_reads)),
        "the sidecar serves Series as the lower gateway's child: {shown:?}"
    );
    let sidecar_reads = named(&spans, "sidecar", "remote read");
    assert!(
        sidecar_reads.iter().any(|s| child_of(s, &sidecar_served)),
        "the sidecar's remote read is inside its Series span: {shown:?}"
    );
    let prometheus_spans: Vec<&ReceivedSpan> =
        spans.iter().filter(|s| s.service == "prometheus").collect();
    assert!(
        prometheus_spans.iter().any(|s| child_of(s, &sidecar_reads)),
        "Prometheus' remote-read span is the sidecar's child: {shown:?}"
    );
}

#[test]
fn a_tracing_configuration_that_cannot_be_honoured_stops_the_process() {
    let output = std::process::Command::new(panoptes_binary())
        .args([
            "query",
            "--endpoint=127.0.0.1:1",
            "--tracing.config=type: OTLP\nconfig:\n  endpoint: 127.0.0.1:4317\n  tls_config: {}\n",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success(), "started with an unusable config");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tls_config"), "names the option: {stderr}");
}
