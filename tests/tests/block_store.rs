//! `panoptes store` over real promtool blocks, from a local directory and from a real
//! S3-compatible server (s3s-fs) on loopback: the gateway over the store answers the cluster
//! query set exactly as a real Prometheus 2.42 over the same blocks; Prometheus' own
//! tombstones (its delete API) are honoured.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::StreamExt;
use panoptes_tests::block_store::{
    add_thanos_labels, block_dirs, filesystem_config, start_gateway, start_store,
};
use panoptes_tests::cluster_queries::{CLUSTER, DROPS, KEEPS, QUERIES, compare_all};
use panoptes_tests::data::{self, Spec};
use panoptes_tests::prometheus::{
    Eval, PrometheusServer, api_client, compare_answers, get_data, json_strings, query_answer,
};
use panoptes_tests::promtool;
use panoptes_tests::s3::S3Server;
use std::time::{Duration, Instant};
use store_api::Store;

/// `Spec::default().start_ms`: the data runs 3 hours from here.
const S: i64 = 1_700_000_000_000;
const SECOND: i64 = 1000;

/// Selectors that exercise the index: postings intersected, unioned (regex alternatives) and
/// subtracted (negative matchers, matchers that accept the empty value).
const INDEX_QUERIES: &[(bool, &str)] = &[
    (KEEPS, r#"http_requests_total{code!="200"}"#),
    (
        KEEPS,
        r#"http_requests_total{code=~"5..|404", pod!~"pod-[02]"}"#,
    ),
    (
        KEEPS,
        r#"{__name__=~"temperature_celsius|memory_usage_bytes", pod="pod-3"}"#,
    ),
    (KEEPS, r#"memory_usage_bytes{nonexistent=""}"#),
    (KEEPS, r#"memory_usage_bytes{nonexistent!="x", job=~".+"}"#),
    (
        KEEPS,
        r#"request_duration_seconds_bucket{le=~`0\.(05|5)|\+Inf`}"#,
    ),
    (KEEPS, r#"{job="api", __name__!~"request_.*"}"#),
    (KEEPS, r#"temperature_celsius{pod=~"pod-.*", pod!="pod-1"}"#),
    (DROPS, r#"absent(memory_usage_bytes{job="nonexistent"})"#),
    (DROPS, r#"count({__name__=~".+"})"#),
    (DROPS, r#"count by (__name__) ({pod=~"pod-[12]"})"#),
    (
        KEEPS,
        r#"last_over_time(http_requests_total{code=~"2.."}[1h])"#,
    ),
];

fn evaluations() -> Vec<Eval> {
    Eval::grid(
        S,
        &[1207, 3607, 6017, 9007, 10_507],
        &[(1207, 10_507, 300), (4207, 6607, 60)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_and_s3_buckets_answer_as_prometheus() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    promtool::create_blocks(&data::generate(&Spec::default()), &root.join("full"));
    let blocks = root.join("full/blocks");
    let reference = PrometheusServer::start(&blocks, &root.join("prometheus"), &[CLUSTER]);

    // The bucket: the same blocks with Thanos' external labels in meta.json.
    let bucket_dir = root.join("bucket");
    promtool::copy_dir(&blocks, &bucket_dir);
    add_thanos_labels(&bucket_dir, &[CLUSTER]);
    assert!(
        block_dirs(&bucket_dir).len() >= 2,
        "data spans several 2h blocks"
    );

    let s3 = S3Server::start();
    s3.create_bucket("metrics").await;
    let uploaded = s3.upload_dir("metrics", &bucket_dir, "").await;
    assert!(!uploaded.is_empty());

    let (_fs_store, fs_grpc) = start_store(&filesystem_config(&bucket_dir), &root.join("fs"), &[]);
    let (_s3_store, s3_grpc) =
        start_store(&s3.bucket_config_yaml("metrics"), &root.join("s3"), &[]);
    let (_fs_gateway, fs_gateway) = start_gateway(&[fs_grpc], &[]);
    let (_s3_gateway, s3_gateway) = start_gateway(&[s3_grpc], &[]);
    let setup = started.elapsed();

    let client = api_client();
    let mut failures = Vec::new();
    let queries: Vec<(bool, &str)> = QUERIES.iter().chain(INDEX_QUERIES).copied().collect();
    for (bucket, gateway) in [("directory", &fs_gateway), ("s3", &s3_gateway)] {
        let report = compare_all(
            &client,
            gateway,
            &reference.url(),
            &queries,
            &evaluations(),
            Duration::from_secs(180),
        )
        .await;
        println!(
            "{bucket}: {} queries, {} answers, {} samples compared",
            queries.len(),
            report.answers,
            report.samples
        );
        failures.extend(
            report
                .failures
                .into_iter()
                .map(|f| format!("{bucket}: {f}")),
        );

        // Label APIs: Prometheus' answers plus the external label.
        let labels = json_strings(&get_data(&client, gateway, "/api/v1/labels", &[]).await);
        let mut want =
            json_strings(&get_data(&client, &reference.url(), "/api/v1/labels", &[]).await);
        want.push(CLUSTER.0.into());
        want.sort();
        if labels != want {
            failures.push(format!("{bucket}: labels {labels:?}, want {want:?}"));
        }
        for (path, params) in [
            ("/api/v1/label/pod/values", vec![]),
            ("/api/v1/label/__name__/values", vec![]),
            (
                "/api/v1/label/code/values",
                vec![("match[]", r#"http_requests_total{pod="pod-1"}"#)],
            ),
        ] {
            let got = json_strings(&get_data(&client, gateway, path, &params).await);
            let want = json_strings(&get_data(&client, &reference.url(), path, &params).await);
            if got != want || got.is_empty() {
                failures.push(format!(
                    "{bucket}: {path} {params:?}: {got:?}, want {want:?}"
                ));
            }
        }
    }
    println!("setup {setup:?}, total {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} differences from Prometheus:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Prometheus' delete API writes tombstones into its blocks; served from a bucket, the deleted
/// samples stay deleted (chunks cut and re-encoded where a deletion splits them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones_written_by_prometheus_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    promtool::create_blocks(&data::generate(&Spec::default()), &root.join("full"));
    let work = root.join("prometheus");
    let prometheus = PrometheusServer::start_with_flags(
        &root.join("full/blocks"),
        &work,
        &["--web.enable-admin-api"],
    );
    let client = api_client();
    let time = |s: i64| format!("{}", (S + s * SECOND) as f64 / 1000.0);
    for (selector, from, to) in [
        (r#"memory_usage_bytes{pod="pod-1"}"#, 3000, 4000),
        (r#"http_requests_total{code="500"}"#, -10, 20_000),
        (r#"temperature_celsius{pod="pod-2"}"#, 7000, 7300),
    ] {
        let response = client
            .post(format!(
                "{}/api/v1/admin/tsdb/delete_series",
                prometheus.url()
            ))
            .query(&[
                ("match[]", selector),
                ("start", &time(from)),
                ("end", &time(to)),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }
    let data_dir = work.join("data");
    let tombstoned = block_dirs(&data_dir)
        .iter()
        .filter(|b| std::fs::metadata(b.join("tombstones")).is_ok_and(|m| m.len() > 9))
        .count();
    assert!(
        tombstoned >= 2,
        "Prometheus wrote tombstones into its blocks"
    );

    let bucket_dir = root.join("bucket");
    for block in block_dirs(&data_dir) {
        promtool::copy_dir(&block, &bucket_dir.join(block.file_name().unwrap()));
    }
    let (_store, grpc) = start_store(&filesystem_config(&bucket_dir), &root.join("store"), &[]);
    let (_gateway, gateway) = start_gateway(&[grpc], &[]);

    let mut failures = Vec::new();
    let mut samples = 0;
    for query in [
        "memory_usage_bytes",
        "http_requests_total",
        "count_over_time(memory_usage_bytes[10m])",
        "rate(http_requests_total[5m])",
        "temperature_celsius",
        "max_over_time(temperature_celsius[2m])",
    ] {
        let across_deletions = Eval::Range(S + 2800 * SECOND, S + 7600 * SECOND, 15 * SECOND);
        for eval in evaluations().into_iter().chain([across_deletions]) {
            let got = query_answer(&client, &gateway, query, eval).await;
            let want = query_answer(&client, &prometheus.url(), query, eval).await;
            samples += want.values().map(Vec::len).sum::<usize>();
            for problem in compare_answers(&got, &want, 1e-9) {
                failures.push(format!("{query} {eval:?}: {problem}"));
            }
        }
    }
    assert!(samples > 1000, "the comparison covered data: {samples}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An HA pair uploading to one bucket: blocks of replica a (which came up 5 minutes late) and
/// of replica b (missing 20 minutes mid-way), told apart by `replica` in meta.json. The gateway
/// with `--query.replica-label=replica` over one store of that bucket answers as one
/// Prometheus holding all the data: the store keeps the replicas apart for the gateway's
/// de-duplication rather than mixing their samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_in_one_bucket_are_deduplicated() {
    const MINUTE: i64 = 60 * SECOND;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let full = data::generate(&Spec::default());
    let replica_a = data::without_window(&full, i64::MIN, S + 5 * MINUTE);
    let replica_b = data::without_window(&full, S + 80 * MINUTE, S + 100 * MINUTE);
    std::thread::scope(|scope| {
        scope.spawn(|| promtool::create_blocks(&full, &root.join("full")));
        scope.spawn(|| promtool::create_blocks(&replica_a, &root.join("a")));
        scope.spawn(|| promtool::create_blocks(&replica_b, &root.join("b")));
    });
    let reference = PrometheusServer::start(
        &root.join("full/blocks"),
        &root.join("prometheus"),
        &[CLUSTER],
    );
    let bucket = root.join("bucket");
    for replica in ["a", "b"] {
        let blocks = root.join(replica).join("blocks");
        add_thanos_labels(&blocks, &[CLUSTER, ("replica", replica)]);
        promtool::copy_dir(&blocks, &bucket);
    }
    let (_store, grpc) = start_store(&filesystem_config(&bucket), &root.join("store"), &[]);
    let (_gateway, gateway) = start_gateway(&[grpc], &["--query.replica-label=replica"]);

    // Asked to drop `replica`, the store sends each replica's series separately, one after
    // the other, never one series mixing both.
    let store = store_api::StoreClient::new(&grpc.to_string()).unwrap();
    let request = store_api::SeriesRequest {
        min_time: S,
        max_time: S + 3 * 60 * MINUTE,
        matchers: vec![
            store_api::Matcher::equal("__name__", "memory_usage_bytes"),
            store_api::Matcher::equal("pod", "pod-1"),
        ],
        without_replica_labels: vec!["replica".into()],
        ..Default::default()
    };
    let frames: Vec<store_api::SeriesData> = store
        .series(request)
        .await
        .unwrap()
        .filter_map(|f| async move {
            match f.unwrap() {
                store_api::SeriesFrame::Series(s) => Some(s),
                store_api::SeriesFrame::Warning(w) => panic!("{w}"),
            }
        })
        .collect()
        .await;
    assert_eq!(frames.len(), 2, "one series per replica");
    assert_eq!(frames[0].labels, frames[1].labels);
    assert!(frames[0].labels.get("replica").is_none());
    let starts: Vec<i64> = frames.iter().map(|f| f.chunks[0].min_time).collect();
    assert_ne!(starts[0], starts[1], "replica a starts 5 minutes late");

    let client = api_client();
    let evaluations = Eval::grid(
        S,
        &[1207, 4837, 5407, 6017, 9007],
        &[(1207, 10_507, 300), (4717, 6217, 15)],
    );
    let report = compare_all(
        &client,
        &gateway,
        &reference.url(),
        QUERIES,
        &evaluations,
        Duration::from_secs(180),
    )
    .await;
    println!(
        "{} answers, {} samples compared",
        report.answers, report.samples
    );
    assert!(
        report.failures.is_empty(),
        "{} differences from Prometheus:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
}
