//! `stats=all` as Prometheus 3.5 reports it: a real Prometheus over promtool blocks, and a
//! gateway over a sidecar in front of that same Prometheus, are asked the same instant and
//! range queries with `stats=all`; `totalQueryableSamples` and `totalQueryableSamplesPerStep`
//! must be equal, and both answers carry Prometheus' timing keys. (`peakSamples` is each
//! engine's own peak, not compared; see docs/api.md.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::block_store::start_gateway;
use panoptes_tests::data::{self, Spec};
use panoptes_tests::process::Panoptes;
use panoptes_tests::prometheus::{PrometheusServer, Version, get_json};
use panoptes_tests::promtool;

/// Queries whose samples each engine counts: selectors, range functions over raw windows
/// and over subqueries, `@` and `offset`, aggregations and operators above them.
const QUERIES: &[&str] = &[
    "http_requests_total",
    "memory_usage_bytes offset 10m",
    "rate(http_requests_total[5m])",
    "sum by (job) (rate(http_requests_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[10m])))",
    "max_over_time(temperature_celsius[3m])",
    "count_over_time(temperature_celsius[2m] @ 1700003600)",
    "avg_over_time(rate(http_requests_total[5m])[30m:1m])",
    "memory_usage_bytes / on (pod) group_left temperature_celsius",
    "timestamp(memory_usage_bytes)",
    "absent(nonexistent)",
    "vector(1) + 1",
];

/// Instant query times and range queries, in seconds.
const INSTANTS: &[i64] = &[1_700_003_600, 1_700_010_007];
const RANGES: &[(i64, i64, i64)] = &[
    (1_700_001_000, 1_700_004_600, 60),
    (1_700_005_000, 1_700_005_900, 15),
];

fn samples_of(answer: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    let samples = &answer["data"]["stats"]["samples"];
    (
        samples["totalQueryableSamples"].clone(),
        samples["totalQueryableSamplesPerStep"].clone(),
    )
}

async fn ask(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    params: &[(&str, String)],
) -> serde_json::Value {
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, answer) = get_json(client, base, path, &params).await;
    assert_eq!(status, 200, "{base}{path} {params:?}: {answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_read_are_counted_as_prometheus_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let tsdb = dir.path().join("tsdb");
    promtool::create_blocks(&data::generate(&Spec::default()), &tsdb);
    let blocks = tsdb.join("blocks");
    let prometheus = PrometheusServer::start_version(
        Version::V3_5,
        &blocks,
        &dir.path().join("prom"),
        &["--enable-feature=promql-per-step-stats"],
    );

    let (_sidecar, sidecar_grpc) = Panoptes::sidecar(&prometheus.url(), &[]);
    let (_gateway, gateway) = start_gateway(&[sidecar_grpc], &[]);
    let client = reqwest::Client::new();

    let mut compared = 0;
    // Comparisons where Prometheus read any sample: the data must be there.
    let mut counted = 0;
    let mut differences = Vec::new();
    for query in QUERIES {
        let mut asks: Vec<(&str, Vec<(&str, String)>)> = INSTANTS
            .iter()
            .map(|t| ("/api/v1/query", vec![("time", t.to_string())]))
            .collect();
        asks.extend(RANGES.iter().map(|(start, end, step)| {
            (
                "/api/v1/query_range",
                vec![
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                    ("step", step.to_string()),
                ],
            )
        }));
        for (path, mut params) in asks {
            params.push(("query", query.to_string()));
            params.push(("stats", "all".to_string()));
            let want = ask(&client, &prometheus.url(), path, &params).await;
            let got = ask(&client, &gateway, path, &params).await;
            for key in [
                "evalTotalTime",
                "queryPreparationTime",
                "innerEvalTime",
                "execQueueTime",
                "execTotalTime",
                "resultSortTime",
            ] {
                assert!(
                    got["data"]["stats"]["timings"][key].is_number(),
                    "{key} in {got}"
                );
            }
            assert!(got["data"]["stats"]["samples"]["peakSamples"].is_number());
            compared += 1;
            if samples_of(&want).0.as_u64().is_some_and(|n| n > 0) {
                counted += 1;
            }
            if samples_of(&got) != samples_of(&want) {
                let shown = |answer: &serde_json::Value| {
                    let (total, per_step) = samples_of(answer);
                    let steps: Vec<String> = per_step
                        .as_array()
                        .map(|steps| steps.iter().map(|s| s[1].to_string()).collect())
                        .unwrap_or_default();
                    let series = answer["data"]["result"].as_array().map_or(0, Vec::len);
                    format!(
                        "{series} series; total {total}, per step [{}]",
                        steps.join(" ")
                    )
                };
                differences.push(format!(
                    "{path} {params:?}:\n  Prometheus {}\n  gateway    {}",
                    shown(&want),
                    shown(&got)
                ));
            }
        }
    }
    assert!(compared >= 40, "compared {compared}");
    assert!(counted >= 36, "only {counted} of {compared} read samples");
    assert!(
        differences.is_empty(),
        "{} of {compared} differ:\n{}",
        differences.len(),
        differences.join("\n")
    );

    // Without `stats` there is none; with any other value, no per-step counts.
    let plain = ask(
        &client,
        &gateway,
        "/api/v1/query",
        &[("query", "up".into())],
    )
    .await;
    assert!(plain["data"].get("stats").is_none(), "{plain}");
    let basic = ask(
        &client,
        &gateway,
        "/api/v1/query",
        &[
            ("query", "http_requests_total".into()),
            ("time", INSTANTS[0].to_string()),
            ("stats", "1".into()),
        ],
    )
    .await;
    let samples = &basic["data"]["stats"]["samples"];
    assert!(
        samples["totalQueryableSamples"].as_u64().unwrap() > 0,
        "{basic}"
    );
    assert!(
        samples.get("totalQueryableSamplesPerStep").is_none(),
        "{basic}"
    );
}
