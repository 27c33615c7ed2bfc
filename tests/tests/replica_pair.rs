//! The global view over a real HA pair: two Prometheus 2.42 replicas with the same data
//! behind two `panoptes sidecar`s, external labels `cluster="eu"` and `replica="a"|"b"`, and a
//! `panoptes query --query.replica-label=replica` over both. A third Prometheus holds the full
//! data with only `cluster="eu"`: the gateway must answer every query as that one does.
//!
//! The replicas' holes: replica b misses 20 minutes in the middle (`GAP`, longer than the
//! lookback), replica a came up 5 minutes after b (`A_STARTS`). So the merge starts on b (the
//! replica with the earliest sample), must leave it at the start of its gap and fill the gap
//! from a. Together they hold every sample once; timestamps are equal in both replicas.
//!
//! Compared: the cluster query set (`panoptes_tests::cluster_queries`, which lists the
//! deliberate 2.42-vs-3.x exclusions) at every evaluation, then the label and series APIs;
//! the replica label never appears.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::cluster_queries::{CLUSTER, QUERIES, compare_all};
use panoptes_tests::data::{self, Spec};
use panoptes_tests::net::free_addr;
use panoptes_tests::process::{Panoptes, Sidecar};
use panoptes_tests::prometheus::{
    Eval, PrometheusServer, api_client, api_time, get_data, json_labels, json_strings, query_answer,
};
use panoptes_tests::promtool;
use std::time::{Duration, Instant};
use store_api::Labels;

/// `Spec::default().start_ms`: the first generated sample is less than a second after it.
const S: i64 = 1_700_000_000_000;
const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
/// Replica b holds nothing in [GAP.0, GAP.1): 80 to 100 minutes into the data.
const GAP: (i64, i64) = (S + 80 * MINUTE, S + 100 * MINUTE);
/// Replica a holds nothing before this.
const A_STARTS: i64 = S + 5 * MINUTE;

/// Instant evaluations (seconds after `S`): before the gap, just inside it (windows reaching
/// back over its start), in its middle (past b's lookback), at its end, just after, late.
const INSTANTS: [i64; 9] = [1207, 3607, 4837, 5407, 5987, 6017, 6307, 9007, 10_507];

/// Range evaluations (seconds after `S`: start, end, step): the whole data, an hour around
/// the gap, and the gap and its edges at the scrape interval.
const RANGES: [(i64, i64, i64); 3] = [(1207, 10_507, 300), (4207, 6607, 60), (4717, 6217, 15)];

fn evaluations() -> Vec<Eval> {
    Eval::grid(S, &INSTANTS, &RANGES)
}

struct Topology {
    _dir: tempfile::TempDir,
    reference: PrometheusServer,
    replica_b: PrometheusServer,
    _replica_a: PrometheusServer,
    _sidecars: Vec<Sidecar>,
    _gateway: Panoptes,
    gateway: String,
}

fn start() -> Topology {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let full = data::generate(&Spec::default());
    let replica_a = data::without_window(&full, i64::MIN, A_STARTS);
    let replica_b = data::without_window(&full, GAP.0, GAP.1);
    // promtool and Prometheus start-ups in parallel: each takes a second or two.
    std::thread::scope(|scope| {
        scope.spawn(|| promtool::create_blocks(&full, &root.join("full")));
        scope.spawn(|| promtool::create_blocks(&replica_a, &root.join("a")));
        scope.spawn(|| promtool::create_blocks(&replica_b, &root.join("b")));
    });
    let (reference, a, b) = std::thread::scope(|scope| {
        let start = |name: &'static str, labels: &'static [(&'static str, &'static str)]| {
            scope.spawn(move || {
                PrometheusServer::start(
                    &root.join(name).join("blocks"),
                    &root.join(format!("prometheus-{name}")),
                    labels,
                )
            })
        };
        let reference = start("full", &[CLUSTER]);
        let a = start("a", &[CLUSTER, ("replica", "a")]);
        let b = start("b", &[CLUSTER, ("replica", "b")]);
        (
            reference.join().unwrap(),
            a.join().unwrap(),
            b.join().unwrap(),
        )
    });
    let mut sidecars = Vec::new();
    let mut endpoints = Vec::new();
    for prometheus in [&a, &b] {
        let sidecar = Sidecar::start(&prometheus.url());
        endpoints.push(format!("--endpoint={}", sidecar.grpc));
        sidecars.push(sidecar);
    }
    let http = free_addr();
    let mut args = vec![
        "query".to_string(),
        format!("--http-address={http}"),
        "--query.replica-label=replica".into(),
    ];
    args.extend(endpoints);
    let gateway = Panoptes::start(&args, http);
    Topology {
        _dir: dir,
        reference,
        replica_b: b,
        _replica_a: a,
        _sidecars: sidecars,
        _gateway: gateway,
        gateway: format!("http://{http}"),
    }
}

fn sorted_series(data: &serde_json::Value) -> Vec<Labels> {
    let mut series: Vec<Labels> = data.as_array().unwrap().iter().map(json_labels).collect();
    series.sort();
    series
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_pair_with_a_gap_answers_as_one_prometheus() {
    let started = Instant::now();
    let topology = start();
    let setup = started.elapsed();
    let client = api_client();

    // The gap is real: replica b alone has nothing there, the reference has.
    let in_gap = Eval::Instant(S + 5407 * SECOND);
    let probe = "count_over_time(memory_usage_bytes[10m])";
    let b_alone = query_answer(&client, &topology.replica_b.url(), probe, in_gap).await;
    assert!(
        b_alone.is_empty(),
        "replica b has data in its gap: {b_alone:?}"
    );
    let reference = query_answer(&client, &topology.reference.url(), probe, in_gap).await;
    assert_eq!(reference.len(), 4, "one memory series per pod");

    let report = compare_all(
        &client,
        &topology.gateway,
        &topology.reference.url(),
        QUERIES,
        &evaluations(),
        Duration::from_secs(120),
    )
    .await;
    let mut failures = report.failures;
    let samples = report.samples;

    // Label and series APIs: the reference's answers plus the external `cluster`, never the
    // replica label.
    let gateway = topology.gateway.as_str();
    let reference = topology.reference.url();
    let reference = reference.as_str();
    let both = |path: &'static str, params: Vec<(&'static str, String)>| {
        let client = &client;
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            (
                get_data(client, gateway, path, &params).await,
                get_data(client, reference, path, &params).await,
            )
        }
    };
    let mut api_checks = 0;
    let mut check = |what: &str, ok: bool, detail: String| {
        api_checks += 1;
        if !ok {
            failures.push(format!("{what}: {detail}"));
        }
    };

    for params in [
        vec![],
        vec![("match[]", "temperature_celsius".to_string())],
        vec![
            ("match[]", r#"{__name__=~"http_.+"}"#.to_string()),
            ("start", api_time(GAP.0 + MINUTE)),
            ("end", api_time(GAP.1 - MINUTE)),
        ],
    ] {
        let what = format!("/api/v1/labels {params:?}");
        let (got, want) = both("/api/v1/labels", params).await;
        let mut want = json_strings(&want);
        want.push(CLUSTER.0.into());
        want.sort();
        let got = json_strings(&got);
        check(&what, got == want, format!("got {got:?}, want {want:?}"));
    }
    for (path, params) in [
        ("/api/v1/label/__name__/values", vec![]),
        ("/api/v1/label/pod/values", vec![]),
        ("/api/v1/label/le/values", vec![]),
        (
            "/api/v1/label/code/values",
            vec![("match[]", r#"http_requests_total{pod="pod-1"}"#.to_string())],
        ),
    ] {
        let what = format!("{path} {params:?}");
        let (got, want) = both(path, params).await;
        let (got, want) = (json_strings(&got), json_strings(&want));
        check(
            &what,
            got == want && !got.is_empty(),
            format!("got {got:?}, want {want:?}"),
        );
    }
    let (cluster, _) = both("/api/v1/label/cluster/values", vec![]).await;
    let cluster = json_strings(&cluster);
    check(
        "cluster values",
        cluster == [CLUSTER.1],
        format!("{cluster:?}"),
    );
    let (replica, _) = both("/api/v1/label/replica/values", vec![]).await;
    let replica = json_strings(&replica);
    check(
        "replica values (never shown)",
        replica.is_empty(),
        format!("{replica:?}"),
    );
    for params in [
        vec![
            ("match[]", "http_requests_total".to_string()),
            ("match[]", r#"memory_usage_bytes{job="api"}"#.to_string()),
        ],
        vec![
            (
                "match[]",
                r#"{__name__=~"temperature.*|request.*"}"#.to_string(),
            ),
            ("start", api_time(GAP.0 + MINUTE)),
            ("end", api_time(GAP.1 - MINUTE)),
        ],
    ] {
        let what = format!("/api/v1/series {params:?}");
        let (got, want) = both("/api/v1/series", params).await;
        let got = sorted_series(&got);
        let mut want = sorted_series(&want);
        for labels in &mut want {
            labels.set(CLUSTER.0.into(), CLUSTER.1.into());
        }
        want.sort();
        check(
            &what,
            got == want && !got.is_empty(),
            format!("got {} series, want {}: {got:?}", got.len(), want.len()),
        );
    }

    println!(
        "{} queries x {} evaluations = {} answers compared ({samples} samples), {api_checks} \
         label/series API checks; setup {setup:?}, total {:?}",
        QUERIES.len(),
        evaluations().len(),
        report.answers,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} differences between the gateway and the reference Prometheus:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
