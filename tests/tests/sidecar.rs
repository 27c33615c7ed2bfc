//! `panoptes sidecar` in front of a real Prometheus 2.42 serving promtool blocks: every sample
//! read through the StoreAPI equals what Prometheus' own HTTP API returns.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::TryStreamExt;
use panoptes_tests::data::{self, Series, Spec};
use panoptes_tests::faults::Gateway;
use panoptes_tests::process::Sidecar;
use panoptes_tests::prometheus::{PrometheusServer, Version};
use panoptes_tests::promtool;
use std::collections::BTreeMap;
use std::time::Duration;
use store_api::chunk::{ChunkEncoding, XorEncoder, decode_into};
use store_api::{
    LabelNamesRequest, LabelValuesRequest, Labels, MatchOp, Matcher, MetadataRequest, SeriesData,
    SeriesFrame, SeriesRequest, Store, StoreClient, StoreError,
};

struct Setup {
    _dir: tempfile::TempDir,
    series: Vec<Series>,
    prometheus: PrometheusServer,
    _sidecar: Sidecar,
    client: StoreClient,
}

const EXTERNAL: [(&str, &str); 2] = [("cluster", "eu-1"), ("replica", "a")];

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let series = data::generate(&Spec::default());
    promtool::create_blocks(&series, &dir.path().join("tsdb"));
    let prometheus = PrometheusServer::start(
        &dir.path().join("tsdb/blocks"),
        &dir.path().join("prometheus"),
        &EXTERNAL,
    );
    let sidecar = Sidecar::start(&prometheus.url());
    let grpc = sidecar.grpc;
    let client = StoreClient::new(&grpc.to_string()).unwrap();
    Setup {
        _dir: dir,
        series,
        prometheus,
        _sidecar: sidecar,
        client,
    }
}

fn everything(min_time: i64, max_time: i64) -> SeriesRequest {
    SeriesRequest {
        min_time,
        max_time,
        matchers: vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()],
        ..Default::default()
    }
}

async fn series(
    client: &StoreClient,
    request: SeriesRequest,
) -> Result<Vec<SeriesData>, StoreError> {
    let frames: Vec<SeriesFrame> = client.series(request).await?.try_collect().await?;
    Ok(frames
        .into_iter()
        .map(|f| match f {
            SeriesFrame::Series(s) => s,
            SeriesFrame::Warning(w) => panic!("unexpected warning: {w}"),
        })
        .collect())
}

/// The samples of a series within [min, max], decoded from its chunks.
fn samples(series: &SeriesData, min: i64, max: i64) -> Vec<(i64, f64)> {
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for chunk in &series.chunks {
        assert_eq!(chunk.encoding, ChunkEncoding::Xor);
        decode_into(&chunk.data, &mut ts, &mut vs).unwrap();
    }
    ts.into_iter()
        .zip(vs)
        .filter(|(t, _)| (min..=max).contains(t))
        .collect()
}

/// Raw samples as Prometheus' HTTP API returns them for `{__name__=~".+"}[range]` at `time`,
/// keyed by labels with the external labels added (the HTTP API leaves them out).
async fn prometheus_raw(
    url: &str,
    time_ms: i64,
    range_ms: i64,
) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let query = format!("{{__name__=~\".+\"}}[{range_ms}ms]");
    let time = format!("{}.{:03}", time_ms / 1000, time_ms % 1000);
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/query"))
        .query(&[("query", query.as_str()), ("time", time.as_str())])
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(body["status"], "success", "{body}");
    let mut out = BTreeMap::new();
    for item in body["data"]["result"].as_array().unwrap() {
        let mut labels = Labels::from_pairs(
            item["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
        );
        labels.merge_missing(&Labels::from_pairs(EXTERNAL));
        let values = item["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                let v: f64 = p[1].as_str().unwrap().parse().unwrap();
                (t, v)
            })
            .collect();
        out.insert(labels, values);
    }
    out
}

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        let bytes = self.bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_equals_prometheus_http_api_and_chunks_reencode_identically() {
    let s = setup();
    let spec = Spec::default();
    let info = s.client.info().await.unwrap();
    let first = s.series.iter().map(|x| x.samples[0].0).min().unwrap();
    let last = s
        .series
        .iter()
        .map(|x| x.samples.last().unwrap().0)
        .max()
        .unwrap();
    assert_eq!(info.min_time, first, "Info min time is the oldest sample");
    assert_eq!(
        info.max_time, last,
        "Info max time is the newest sample (no live head)"
    );
    assert_eq!(info.label_sets, vec![Labels::from_pairs(EXTERNAL)]);

    // The whole range, and a window inside it (chunks reach outside; we trim).
    let windows = [
        (spec.start_ms, spec.end_ms + 60_000),
        (
            spec.start_ms + 3_600_000,
            spec.start_ms + 3_600_000 + 1_800_000,
        ),
    ];
    let mut compared = 0;
    for (min, max) in windows {
        let got = series(&s.client, everything(min, max)).await.unwrap();
        assert!(
            got.windows(2).all(|w| w[0].labels < w[1].labels),
            "sorted by labels"
        );
        let want = prometheus_raw(&s.prometheus.url(), max, max - min).await;
        assert_eq!(got.len(), want.len());
        for series in &got {
            let expected = &want[&series.labels];
            assert_eq!(&samples(series, min, max), expected, "{}", series.labels);
            compared += expected.len();
        }
    }
    let generated: usize = s.series.iter().map(|x| x.samples.len()).sum();
    assert!(compared > generated, "compared {compared} samples");

    // Our encoder writes Prometheus' chunks byte for byte; 2.42's (promtool's and its
    // head's) may end in one more, empty, byte (its bit writer left it behind a whole-byte
    // write; Prometheus 3, our reference, does not).
    let all = series(&s.client, everything(i64::MIN, i64::MAX))
        .await
        .unwrap();
    let mut chunks = 0;
    for series in &all {
        for chunk in &series.chunks {
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            decode_into(&chunk.data, &mut ts, &mut vs).unwrap();
            let mut encoder = XorEncoder::new();
            for (t, v) in ts.iter().zip(&vs) {
                encoder.append(*t, *v);
            }
            let theirs = &chunk.data[..];
            assert!(
                encoder.bytes() == theirs || theirs.strip_suffix(&[0]) == Some(encoder.bytes()),
                "chunk of {}:\n ours:   {:02x?}\n theirs: {theirs:02x?}",
                series.labels,
                encoder.bytes()
            );
            assert_eq!(
                (chunk.min_time, chunk.max_time),
                (ts[0], *ts.last().unwrap())
            );
            chunks += 1;
        }
    }
    assert!(
        chunks > all.len() * 2,
        "several chunks per series ({chunks})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_labels_are_attached_matched_and_removable() {
    let s = setup();
    let all = series(&s.client, everything(i64::MIN, i64::MAX))
        .await
        .unwrap();
    assert_eq!(all.len(), s.series.len());
    assert!(all.iter().all(|x| x.labels.get("replica") == Some("a")));

    let with = |matchers: Vec<Matcher>| SeriesRequest {
        min_time: i64::MIN,
        max_time: i64::MAX,
        matchers,
        ..Default::default()
    };
    let re = |name: &str, value: &str| Matcher::new(MatchOp::Regex, name, value).unwrap();
    let only_external = series(&s.client, with(vec![Matcher::equal("replica", "a")]))
        .await
        .unwrap();
    assert_eq!(only_external.len(), all.len());
    let other_replica = series(&s.client, with(vec![Matcher::equal("replica", "b")]))
        .await
        .unwrap();
    assert!(other_replica.is_empty());
    let regex = series(
        &s.client,
        with(vec![
            re("cluster", "eu-.*"),
            re("__name__", "http_.+"),
            re("code", "5.."),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(regex.len(), 4, "one 5xx counter per pod");

    let without = series(
        &s.client,
        SeriesRequest {
            without_replica_labels: vec!["replica".into()],
            skip_chunks: true,
            limit: 5,
            ..everything(i64::MIN, i64::MAX)
        },
    )
    .await
    .unwrap();
    assert_eq!(without.len(), 5);
    assert!(
        without
            .iter()
            .all(|x| x.labels.get("replica").is_none() && x.chunks.is_empty())
    );
    assert!(without.windows(2).all(|w| w[0].labels < w[1].labels));

    let names = s
        .client
        .label_names(LabelNamesRequest {
            start: i64::MIN,
            end: i64::MAX,
            without_replica_labels: vec!["replica".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        names.values,
        ["__name__", "cluster", "code", "job", "le", "pod"]
    );
    let replica = s
        .client
        .label_values(LabelValuesRequest {
            label: "replica".into(),
            start: i64::MIN,
            end: i64::MAX,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(replica.values, ["a"]);
    let codes = s
        .client
        .label_values(LabelValuesRequest {
            label: "code".into(),
            start: i64::MIN,
            end: i64::MAX,
            matchers: vec![Matcher::equal("pod", "pod-1")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(codes.values, ["200", "500"]);
    let none = s
        .client
        .label_values(LabelValuesRequest {
            label: "cluster".into(),
            start: i64::MIN,
            end: i64::MAX,
            matchers: vec![Matcher::equal("pod", "no-such-pod")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.values.is_empty(), "{:?}", none.values);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_down_gives_clear_errors_and_the_sidecar_recovers() {
    let mut s = setup();
    let before = series(&s.client, everything(i64::MIN, i64::MAX))
        .await
        .unwrap();
    s.prometheus.stop();
    let err = series(&s.client, everything(i64::MIN, i64::MAX))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        err.to_string().contains(&s.prometheus.url()),
        "names Prometheus: {err}"
    );
    let err = s.client.info().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    s.prometheus.restart();
    let after = series(&s.client, everything(i64::MIN, i64::MAX))
        .await
        .unwrap();
    assert_eq!(before, after);
    assert!(s.client.info().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_metadata_comes_from_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    // A Prometheus that scrapes another one knows the metadata of what it scraped.
    let target = PrometheusServer::start_with_config(None, &dir.path().join("target"), &[], "");
    let scrape = format!(
        "scrape_configs:\n  - job_name: prometheus\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n",
        target.addr()
    );
    let scraper =
        PrometheusServer::start_with_config(None, &dir.path().join("scraper"), &EXTERNAL, &scrape);
    let sidecar = Sidecar::start(&scraper.url());
    let grpc = sidecar.grpc;
    let client = StoreClient::new(&grpc.to_string()).unwrap();
    assert!(client.info().await.unwrap().serves_metadata);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let metadata = loop {
        let answer = client
            .metric_metadata(MetadataRequest {
                metric: "prometheus_build_info".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        if !answer.metrics.is_empty() || std::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let metas = &metadata.metrics["prometheus_build_info"];
    assert_eq!(metas[0].kind, "gauge");
    assert!(metas[0].help.contains("build"), "{metas:?}");
    let limited = client
        .metric_metadata(MetadataRequest {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.metrics.len(), 2);
}

/// A Prometheus behind basic auth (its web config, a bcrypt hash): the sidecar reads it with
/// the credentials in `--prometheus.url`, a wrong password is refused, and the password shows
/// nowhere a user sees: once Prometheus is gone, the gateway's `/api/v1/stores` names the
/// sidecar's failure with the URL redacted (`admin:xxxxx@`), as the sidecar logs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_prometheus_url_work_and_stay_secret() {
    // bcrypt of "s3cr3t" (cost 4: quick to check).
    const WEB_CONFIG: &str = "basic_auth_users:\n  admin: $2b$04$YsqhLwFJsVPoH/vZ2E./iuNldDtJH03X5y.zZPNNMm4iy6NcEAPem\n";
    let dir = tempfile::tempdir().unwrap();
    let series = data::generate(&Spec::default());
    promtool::create_blocks(&series, &dir.path().join("tsdb"));
    let web_config = dir.path().join("web.yml");
    std::fs::write(&web_config, WEB_CONFIG).unwrap();
    let flag = format!("--web.config.file={}", web_config.display());
    let (mut prometheus, sidecar, wrong) = tokio::task::block_in_place(|| {
        let prometheus = PrometheusServer::start_version(
            Version::V3_5,
            &dir.path().join("tsdb/blocks"),
            &dir.path().join("prometheus"),
            &[&flag],
        );
        let sidecar = Sidecar::start(&format!("http://admin:s3cr3t@{}", prometheus.addr()));
        let wrong = Sidecar::start(&format!("http://admin:wrong@{}", prometheus.addr()));
        (prometheus, sidecar, wrong)
    });

    let client = StoreClient::new(&sidecar.grpc.to_string()).unwrap();
    client.info().await.unwrap();
    let got = client
        .series(SeriesRequest {
            min_time: i64::MIN,
            max_time: i64::MAX,
            matchers: vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()],
            ..Default::default()
        })
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(
        got.len(),
        series.len(),
        "every series read through basic auth"
    );
    let refused = StoreClient::new(&wrong.grpc.to_string())
        .unwrap()
        .info()
        .await
        .err()
        .unwrap()
        .to_string();
    println!("wrong password: {refused}");
    assert!(refused.contains("401"), "{refused}");
    assert!(!refused.contains("wrong"), "{refused}");

    let gateway = Gateway::start(&[format!("--endpoint={}", sidecar.grpc)]).await;
    prometheus.stop();
    let address = sidecar.grpc.to_string();
    gateway
        .wait_for_store(&address, Duration::from_secs(20), "failing", |s| {
            s.is_some_and(|s| s.last_error.is_some())
        })
        .await;
    let error = gateway.store(&address).await.unwrap().last_error.unwrap();
    println!("Prometheus gone: {error}");
    assert!(error.contains("admin:xxxxx@"), "{error}");
    let stores = gateway.get("/api/v1/stores", &[]).await.body.to_string();
    assert!(!stores.contains("s3cr3t"), "{stores}");
}
