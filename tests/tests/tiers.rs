//! The gateway's faces in a two-tier topology of real processes:
//!
//! ```text
//! global gateway (--query.replica-label=replica)
//!   ├─ StoreAPI ─ region gateway eu (--label region=eu, --query.replica-label=replica)
//!   │               ├─ sidecar ─ Prometheus eu replica a
//!   │               └─ sidecar ─ Prometheus eu replica b
//!   └─ StoreAPI ─ region gateway us (--label region=us, --query.replica-label=replica)
//!                   ├─ sidecar ─ Prometheus us replica a
//!                   └─ sidecar ─ Prometheus us replica b
//! ```
//!
//! Each region's Prometheus pair holds that region's data (external label `replica` only);
//! replica a came up 5 minutes late and replica b misses a window longer than the lookback
//! (different in each region). The region gateways de-duplicate and attach `region`; the
//! global gateway also has the replica label configured, with nothing left to merge
//! (Thanos #1927: a lower tier that already de-duplicated must not be merged wrongly again).
//! The reference is one Prometheus holding all the data with `region` as a series label: the
//! global gateway must answer exactly as it does (labels included, values within a relative
//! 1e-6), and `/api/v1/stores` must list the two regions with their label sets.
//!
//! Deliberate exclusions, as in `replica_pair.rs` (Prometheus 2.42 vs 3.x): no window or
//! lookback boundary ever on a sample (samples off whole seconds, evaluations on them); no
//! rate window starting before a counter's first sample; no `__name__` read after a
//! name-dropping function; no 3.x-only functions; `topk` only over distinct values.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::StreamExt;
use panoptes_tests::data::{self, Series, Spec};
use panoptes_tests::net::free_addr;
use panoptes_tests::process::{Panoptes, Sidecar};
use panoptes_tests::prometheus::{
    Eval, PrometheusServer, api_client, compare_answers, get_data, json_labels, json_strings,
    query_answer,
};
use panoptes_tests::promtool;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use store_api::Labels;

/// `Spec::default().start_ms`: the first generated sample is less than a second after it.
const S: i64 = 1_700_000_000_000;
const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const TOLERANCE: f64 = 1e-6;

struct Region {
    name: &'static str,
    spec: Spec,
    /// Replica b holds nothing in this window.
    gap: (i64, i64),
}

fn regions() -> [Region; 2] {
    [
        Region {
            name: "eu",
            spec: Spec {
                seed: 1,
                pods: 4,
                ..Spec::default()
            },
            gap: (S + 80 * MINUTE, S + 100 * MINUTE),
        },
        Region {
            name: "us",
            spec: Spec {
                seed: 2,
                pods: 2,
                ..Spec::default()
            },
            gap: (S + 40 * MINUTE, S + 55 * MINUTE),
        },
    ]
}

/// Replica a holds nothing before this.
const A_STARTS: i64 = S + 5 * MINUTE;

/// Queries without matchers on `region`: sums across and by region, rates, joins.
const QUERIES: &[&str] = &[
    "http_requests_total",
    "sum(rate(http_requests_total[5m]))",
    "sum by (region) (rate(http_requests_total[5m]))",
    "sum by (region, code) (increase(http_requests_total[10m]))",
    "sum by (region, job) (irate(http_requests_total[1m]))",
    r#"increase(http_requests_total{code="500"}[10m])"#,
    "sum without (pod) (rate(http_requests_total[5m]))",
    "sum by (region) (resets(http_requests_total[10m]))",
    "count by (region) (memory_usage_bytes)",
    "count by (region, code) (http_requests_total)",
    "avg by (region) (memory_usage_bytes)",
    "sum by (job) (memory_usage_bytes)",
    "max by (region) (temperature_celsius)",
    "stddev by (region) (temperature_celsius)",
    "quantile by (region) (0.5, temperature_celsius)",
    "count_over_time(temperature_celsius[10m])",
    r#"max_over_time(memory_usage_bytes{pod="pod-1"}[5m])"#,
    "histogram_quantile(0.9, sum by (region, le) (rate(request_duration_seconds_bucket[5m])))",
    "sum by (region) (increase(request_duration_seconds_count[10m]))",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    "topk(3, memory_usage_bytes)",
    r#"label_replace(sum by (region) (memory_usage_bytes), "r", "$1", "region", "(.).*")"#,
    r#"absent(http_requests_total{region="mars"})"#,
    // No store has the region: the fan-out selects none, the answer is empty.
    r#"count(http_requests_total{region="nowhere"})"#,
];

/// Queries with matchers on `region`, the region gateways' external label, which each region
/// gateway settles itself (its endpoints' series lack it).
const REGION_MATCHER_QUERIES: &[&str] = &[
    r#"memory_usage_bytes{region=~"e.*"}"#,
    r#"{__name__=~"request_duration_seconds_(sum|count)", region="us"}"#,
    r#"rate(http_requests_total{region="us"}[5m])"#,
    r#"avg_over_time(temperature_celsius{region="eu"}[10m])"#,
    r#"sum(memory_usage_bytes{region="eu"}) / sum(memory_usage_bytes{region="us"})"#,
    r#"memory_usage_bytes{region="eu"} - ignoring(region) memory_usage_bytes{region="us"}"#,
];

type ApiCheck = (&'static str, &'static [(&'static str, &'static str)]);

/// Label and series API requests without matchers on `region`.
const API_CHECKS: &[ApiCheck] = &[
    ("/api/v1/labels", &[]),
    (
        "/api/v1/labels",
        &[("match[]", "request_duration_seconds_bucket")],
    ),
    ("/api/v1/label/region/values", &[]),
    ("/api/v1/label/pod/values", &[]),
    ("/api/v1/label/replica/values", &[]),
    ("/api/v1/series", &[("match[]", "memory_usage_bytes")]),
    (
        "/api/v1/series",
        &[
            ("match[]", r#"{__name__=~"http_.+", code="500"}"#),
            ("match[]", r#"temperature_celsius{pod="pod-0"}"#),
        ],
    ),
];

/// Label and series API requests with matchers on `region` or a region's values under a
/// matcher only one region satisfies.
const REGION_API_CHECKS: &[ApiCheck] = &[
    ("/api/v1/labels", &[("match[]", r#"{region="us"}"#)]),
    (
        "/api/v1/label/region/values",
        &[("match[]", r#"memory_usage_bytes{pod="pod-3"}"#)],
    ),
    (
        "/api/v1/label/pod/values",
        &[("match[]", r#"{region="us"}"#)],
    ),
    (
        "/api/v1/series",
        &[("match[]", r#"{region="us", __name__=~"http_.+"}"#)],
    ),
];

/// Instant evaluations (seconds after `S`): early, in the us gap, in the eu gap, late.
const INSTANTS: [i64; 5] = [1207, 2707, 5407, 6017, 9007];
/// Range evaluations (seconds after `S`: start, end, step).
const RANGES: [(i64, i64, i64); 2] = [(1207, 10_507, 300), (2107, 6307, 60)];

fn evaluations() -> Vec<Eval> {
    Eval::grid(S, &INSTANTS, &RANGES)
}

struct RegionProcesses {
    _prometheus: Vec<PrometheusServer>,
    _sidecars: Vec<Sidecar>,
    _gateway: Panoptes,
    grpc: SocketAddr,
    first_sample: i64,
    last_sample: i64,
}

struct Topology {
    _dir: tempfile::TempDir,
    reference: PrometheusServer,
    regions: Vec<(&'static str, RegionProcesses)>,
    _global: Panoptes,
    global: String,
}

fn time_range(series: &[Series]) -> (i64, i64) {
    let first = series.iter().map(|s| s.samples[0].0).min().unwrap();
    let last = series
        .iter()
        .map(|s| s.samples.last().unwrap().0)
        .max()
        .unwrap();
    (first, last)
}

fn start() -> Topology {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let regions = regions();
    let full: Vec<Vec<Series>> = regions.iter().map(|r| data::generate(&r.spec)).collect();
    let mut reference_data = Vec::new();
    // (block directory, data, external labels) of every Prometheus but the reference.
    let mut replicas = Vec::new();
    for (region, series) in regions.iter().zip(&full) {
        reference_data.extend(data::with_labels(series, &[("region", region.name)]));
        replicas.push((
            format!("{}-a", region.name),
            data::without_window(series, i64::MIN, A_STARTS),
            "a",
        ));
        replicas.push((
            format!("{}-b", region.name),
            data::without_window(series, region.gap.0, region.gap.1),
            "b",
        ));
    }
    replicas.push(("reference".into(), reference_data, ""));

    // promtool and Prometheus start-ups in parallel: each takes a second or two.
    let mut servers: Vec<PrometheusServer> = std::thread::scope(|scope| {
        let handles: Vec<_> = replicas
            .iter()
            .map(|(name, series, replica)| {
                scope.spawn(move || {
                    let blocks = root.join(name);
                    promtool::create_blocks(series, &blocks);
                    let labels: &[(&str, &str)] = if replica.is_empty() {
                        &[]
                    } else {
                        &[("replica", replica)]
                    };
                    PrometheusServer::start(
                        &blocks.join("blocks"),
                        &root.join(format!("prometheus-{name}")),
                        labels,
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let reference = servers.pop().unwrap();

    let mut started = Vec::new();
    for (region, series) in regions.iter().zip(&full).rev() {
        let prometheus = vec![servers.pop().unwrap(), servers.pop().unwrap()];
        let mut sidecars = Vec::new();
        let mut args = vec!["query".to_string()];
        for p in &prometheus {
            let sidecar = Sidecar::start(&p.url());
            args.push(format!("--endpoint={}", sidecar.grpc));
            sidecars.push(sidecar);
        }
        let (http, grpc) = (free_addr(), free_addr());
        args.extend([
            format!("--http-address={http}"),
            format!("--grpc-address={grpc}"),
            format!("--label=region={}", region.name),
            "--query.replica-label=replica".into(),
        ]);
        // The gRPC server is up before the HTTP one.
        let gateway = Panoptes::start(&args, http);
        let (first_sample, last_sample) = time_range(series);
        started.push((
            region.name,
            RegionProcesses {
                _prometheus: prometheus,
                _sidecars: sidecars,
                _gateway: gateway,
                grpc,
                first_sample,
                last_sample,
            },
        ));
    }
    started.reverse();
    let http = free_addr();
    let mut args = vec![
        "query".to_string(),
        format!("--http-address={http}"),
        "--query.replica-label=replica".into(),
    ];
    args.extend(
        started
            .iter()
            .map(|(_, r)| format!("--endpoint={}", r.grpc)),
    );
    let global = Panoptes::start(&args, http);
    Topology {
        _dir: dir,
        reference,
        regions: started,
        _global: global,
        global: format!("http://{http}"),
    }
}

struct Outcome {
    query: &'static str,
    eval: Eval,
    samples: usize,
    problems: Vec<String>,
}

async fn compare(
    client: &reqwest::Client,
    global: &str,
    reference: &str,
    query: &'static str,
    eval: Eval,
) -> Outcome {
    let (got, want) = futures_util::join!(
        query_answer(client, global, query, eval),
        query_answer(client, reference, query, eval),
    );
    let mut problems: Vec<String> = got
        .keys()
        .filter(|l| l.get("replica").is_some())
        .map(|l| format!("replica label in {l}"))
        .collect();
    problems.extend(compare_answers(&got, &want, TOLERANCE));
    Outcome {
        query,
        eval,
        samples: want.values().map(Vec::len).sum(),
        problems,
    }
}

/// A series API answer, sorted and written out.
fn sorted_series(data: &serde_json::Value) -> String {
    let mut series: Vec<Labels> = data.as_array().unwrap().iter().map(json_labels).collect();
    series.sort();
    let series: Vec<String> = series.iter().map(Labels::to_string).collect();
    format!("[{}]", series.join(", "))
}

/// Runs every query at every evaluation on the global gateway and the reference; the
/// differences, and a summary line.
async fn compare_queries(topology: &Topology, queries: &[&'static str]) -> (Vec<String>, String) {
    let client = api_client();
    let global = topology.global.as_str();
    let reference = topology.reference.url();
    let jobs: Vec<(&'static str, Eval)> = queries
        .iter()
        .flat_map(|&query| evaluations().into_iter().map(move |eval| (query, eval)))
        .collect();
    let outcomes: Vec<Outcome> = tokio::time::timeout(
        Duration::from_secs(120),
        futures_util::stream::iter(jobs)
            .map(|(query, eval)| compare(&client, global, &reference, query, eval))
            .buffer_unordered(4)
            .collect(),
    )
    .await
    .expect("the queries finish within 2 minutes");

    let mut failures = Vec::new();
    let mut samples = 0;
    for &query in queries {
        let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.query == query).collect();
        let compared: usize = mine.iter().map(|o| o.samples).sum();
        let expect_empty = query.contains("nowhere");
        if (compared == 0) != expect_empty {
            failures.push(format!("{query}: {compared} samples at all evaluations"));
        }
        samples += compared;
        for o in mine.iter().filter(|o| !o.problems.is_empty()) {
            failures.push(format!(
                "{query} ({:?}):\n    {}",
                o.eval,
                o.problems.join("\n    ")
            ));
        }
    }
    let summary = format!(
        "{} queries x {} evaluations = {} answers compared ({samples} samples)",
        queries.len(),
        evaluations().len(),
        outcomes.len(),
    );
    (failures, summary)
}

/// Label and series API requests on the global gateway and the reference: the answers must
/// be equal, and empty exactly for the replica label.
async fn compare_apis(topology: &Topology, checks: &[ApiCheck]) -> Vec<String> {
    let client = api_client();
    let global = topology.global.as_str();
    let reference = topology.reference.url();
    let mut failures = Vec::new();
    for &(path, params) in checks {
        let (got, want) = futures_util::join!(
            get_data(&client, global, path, params),
            get_data(&client, &reference, path, params),
        );
        let (got, want) = if path == "/api/v1/series" {
            (sorted_series(&got), sorted_series(&want))
        } else {
            (
                format!("{:?}", json_strings(&got)),
                format!("{:?}", json_strings(&want)),
            )
        };
        let expect_empty = path.contains("replica");
        if got != want || (want == "[]") != expect_empty {
            failures.push(format!(
                "{path} {params:?}:\n    got  {got}\n    want {want}"
            ));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_gateway_over_region_gateways_answers_as_one_prometheus() {
    let started = Instant::now();
    let topology = start();
    let setup = started.elapsed();
    let (mut failures, summary) = compare_queries(&topology, QUERIES).await;
    failures.extend(compare_apis(&topology, API_CHECKS).await);

    // The global gateway's endpoints: the two region gateways, with their label sets and the
    // time ranges of their regions' data.
    let client = api_client();
    let global = topology.global.as_str();
    let stores = get_data(&client, global, "/api/v1/stores", &[]).await;
    let groups = stores.as_object().unwrap();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["query"],
        "component types: {stores}"
    );
    let mut endpoints = groups["query"].as_array().unwrap().clone();
    endpoints.sort_by_key(|e| e["labelSets"].to_string());
    assert_eq!(endpoints.len(), 2, "{stores}");
    for ((name, region), endpoint) in topology.regions.iter().zip(&endpoints) {
        assert_eq!(endpoint["name"], region.grpc.to_string(), "{stores}");
        assert_eq!(
            endpoint["labelSets"],
            serde_json::json!([{ "region": name }]),
            "{stores}"
        );
        assert_eq!(endpoint["healthy"], true, "{stores}");
        assert_eq!(endpoint["lastError"], serde_json::Value::Null, "{stores}");
        assert_eq!(endpoint["minTime"], region.first_sample, "{stores}");
        assert_eq!(endpoint["maxTime"], region.last_sample, "{stores}");
    }
    let regions =
        json_strings(&get_data(&client, global, "/api/v1/label/region/values", &[]).await);
    assert_eq!(regions, ["eu", "us"]);

    println!(
        "{summary}, {} label/series API checks, /api/v1/stores; setup {setup:?}, total {:?}",
        API_CHECKS.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} differences between the global gateway and the reference Prometheus:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A gateway serving StoreAPI evaluates matchers on its own `--label`s itself (its endpoints'
/// series lack them), and reports them in label APIs only where some series matches: a
/// `{region="eu"}` selector, and `label_values(region)` under `{pod="pod-3"}` (only eu has
/// it), answer through the tiers as one Prometheus would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matchers_on_the_region_label_select_through_the_tiers() {
    let started = Instant::now();
    let topology = start();
    let (mut failures, summary) = compare_queries(&topology, REGION_MATCHER_QUERIES).await;
    failures.extend(compare_apis(&topology, REGION_API_CHECKS).await);
    println!(
        "{summary}, {} label/series API checks; total {:?}",
        REGION_API_CHECKS.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} differences between the global gateway and the reference Prometheus:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
