//! Endpoint kinds without a sidecar: a real `panoptes query` reading a real VictoriaMetrics
//! 1.145 (export and label APIs) and a real Prometheus 3.5 (remote read) named in
//! `--endpoint.config-file`. Every sample the gateway answers equals the backend's own; a
//! backend that is down is a warning naming it (an error without partial response); the
//! config file is followed without restart and a bad one says what is wrong; a Prometheus
//! and a VictoriaMetrics holding copies of its series merge as replicas.
//!
//! Needs the binary (`cargo build --bin panoptes`) and the reference systems
//! (`scripts/reference-systems.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::compare::victoria::VictoriaMetrics;
use panoptes_tests::data::{self, Series, Spec};
use panoptes_tests::net::free_addr;
use panoptes_tests::process::{Panoptes, panoptes_binary};
use panoptes_tests::prometheus::{
    Eval, PrometheusServer, Version, api_client, api_time, compare_answers, get_data, get_json,
    json_labels, json_strings, query_answer,
};
use panoptes_tests::{block_store::decoded_series, promtool};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use store_api::{Labels, MatchOp, Matcher, SeriesRequest, StoreClient};

/// Samples by series, values as bits (exact equality, NaN included).
type Exact = BTreeMap<Labels, Vec<(i64, u64)>>;

/// A gateway over the endpoints of a config file.
struct Gateway {
    _process: Panoptes,
    base: String,
    grpc: SocketAddr,
}

fn start_gateway(config: &Path, extra: &[&str]) -> Gateway {
    let (http, grpc) = (free_addr(), free_addr());
    let mut args = vec![
        "query".to_string(),
        format!("--http-address={http}"),
        format!("--grpc-address={grpc}"),
        format!("--endpoint.config-file={}", config.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Gateway {
        _process: Panoptes::start(&args, http),
        base: format!("http://{http}"),
        grpc,
    }
}

fn write_config(path: &Path, entries: &[String]) -> PathBuf {
    let mut text = String::from("endpoints:\n");
    for entry in entries {
        text.push_str(&format!("  - {entry}\n"));
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn vm_entry(url: &str) -> String {
    format!("{{kind: victoriametrics, address: '{url}', labels: {{source: vm}}, timeout: 10s}}")
}

/// Three hours of generated data ending now (VictoriaMetrics keeps nothing older than its
/// retention, and its label APIs are for recent data).
fn recent_spec() -> Spec {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start_ms = (now - 3 * 3_600_000) / 60_000 * 60_000;
    Spec {
        start_ms,
        end_ms: start_ms + 2 * 3_600_000,
        pods: 2,
        ..Spec::default()
    }
}

/// The gauges of [`recent_spec`]: one series per pod.
fn recent_gauges() -> (Spec, Vec<Series>) {
    let spec = recent_spec();
    let series = data::generate(&spec)
        .into_iter()
        .filter(|s| s.name() == "memory_usage_bytes")
        .collect();
    (spec, series)
}

/// Loads `series` through `/api/v1/import` (JSON lines, Rust's shortest round-trip floats)
/// and flushes, so everything is searchable at once.
async fn import(client: &reqwest::Client, vm: &str, series: &[Series]) {
    let mut body = String::new();
    for s in series {
        let metric: serde_json::Map<String, serde_json::Value> = s
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone().into()))
            .collect();
        let line = serde_json::json!({
            "metric": metric,
            "values": s.samples.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            "timestamps": s.samples.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        });
        body.push_str(&line.to_string());
        body.push('\n');
    }
    let status = client
        .post(format!("{vm}/api/v1/import"))
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "import: {status}");
    let flushed = client
        .get(format!("{vm}/internal/force_flush"))
        .send()
        .await
        .unwrap();
    assert!(flushed.status().is_success());
}

/// VictoriaMetrics' own export of everything in `[start, end]`.
async fn vm_export(client: &reqwest::Client, vm: &str, start: i64, end: i64) -> Exact {
    let body = client
        .get(format!("{vm}/api/v1/export"))
        .query(&[
            ("match[]", "{__name__=~\".+\"}".to_string()),
            ("start", api_time(start)),
            ("end", api_time(end)),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut out = Exact::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let samples = out.entry(json_labels(&line["metric"])).or_default();
        let values = line["values"].as_array().unwrap();
        let timestamps = line["timestamps"].as_array().unwrap();
        for (t, v) in timestamps.iter().zip(values) {
            samples.push((t.as_i64().unwrap(), v.as_f64().unwrap().to_bits()));
        }
    }
    for samples in out.values_mut() {
        samples.sort_unstable();
    }
    out
}

/// The value a selector sees at `t`: the newest sample in the lookback window `(t - 5m, t]`.
fn at(samples: &[(i64, u64)], t: i64) -> Option<u64> {
    samples
        .iter()
        .rev()
        .find(|(st, _)| *st <= t && *st > t - 300_000)
        .map(|(_, v)| *v)
}

/// `labels` with the endpoint's external label.
fn with_source(labels: &Labels) -> Labels {
    let mut labels = labels.clone();
    labels.set("source".into(), "vm".into());
    labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoriametrics_alone_answers_what_its_own_export_holds() {
    let dir = tempfile::tempdir().unwrap();
    let vm = VictoriaMetrics::start_reference(&dir.path().join("vm"));
    let client = api_client();
    let spec = recent_spec();
    let series = data::generate(&spec);
    import(&client, &vm.url(), &series).await;
    let export = vm_export(&client, &vm.url(), spec.start_ms, spec.end_ms).await;
    assert_eq!(
        export.len(),
        series.len(),
        "VictoriaMetrics holds every series"
    );
    let imported_equal = series
        .iter()
        .flat_map(|s| {
            let held = &export[&s.labels];
            s.samples
                .iter()
                .zip(held)
                .map(|((t, v), (ht, hv))| t == ht && v.to_bits() == *hv)
        })
        .filter(|&equal| equal)
        .count();
    let samples: usize = export.values().map(Vec::len).sum();
    let config = write_config(&dir.path().join("endpoints.yml"), &[vm_entry(&vm.url())]);
    let gateway = start_gateway(&config, &[]);

    // StoreAPI: every series with every sample, bit for bit, with the external label.
    let store = StoreClient::new(&gateway.grpc.to_string()).unwrap();
    let request = SeriesRequest {
        min_time: spec.start_ms,
        max_time: spec.end_ms,
        matchers: vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()],
        ..SeriesRequest::default()
    };
    let (got, warnings) = decoded_series(&store, request).await.unwrap();
    assert_eq!(warnings, Vec::<String>::new());
    let got: Exact = got
        .into_iter()
        .map(|(labels, samples)| {
            let samples = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
            (labels, samples)
        })
        .collect();
    let want: Exact = export
        .iter()
        .map(|(labels, samples)| (with_source(labels), samples.clone()))
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "StoreAPI series differ from VictoriaMetrics' export"
    );

    // query_range with the data's own step: each step is the sample at that instant.
    let (start, end, step) = (spec.start_ms, spec.end_ms, spec.step_ms);
    let mut compared = 0;
    for name in ["memory_usage_bytes", "http_requests_total"] {
        let answer =
            query_answer(&client, &gateway.base, name, Eval::Range(start, end, step)).await;
        assert!(!answer.is_empty(), "{name}: no series");
        for (labels, points) in &answer {
            let held = &want[labels];
            for (t, v) in points {
                assert_eq!(at(held, *t), Some(v.to_bits()), "{labels} at {t}");
                compared += 1;
            }
        }
    }
    // An instant query: the newest sample of each series.
    let instant = query_answer(
        &client,
        &gateway.base,
        "temperature_celsius",
        Eval::Instant(end),
    )
    .await;
    assert!(!instant.is_empty());
    for (labels, points) in &instant {
        assert_eq!(
            at(&want[labels], end),
            Some(points[0].1.to_bits()),
            "{labels}"
        );
        compared += 1;
    }

    // Label APIs: VictoriaMetrics' own, plus the external label.
    let window = [("start", api_time(start)), ("end", api_time(end))];
    let params: Vec<(&str, &str)> = window.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let vm_names = json_strings(&get_data(&client, &vm.url(), "/api/v1/labels", &params).await);
    let names = json_strings(&get_data(&client, &gateway.base, "/api/v1/labels", &params).await);
    let mut want_names = vm_names.clone();
    want_names.push("source".into());
    want_names.sort();
    assert_eq!(names, want_names);
    let mut values_compared = 0;
    for name in &vm_names {
        let path = format!("/api/v1/label/{name}/values");
        let vm_values = get_data(&client, &vm.url(), &path, &params).await;
        let values = get_data(&client, &gateway.base, &path, &params).await;
        assert_eq!(values, vm_values, "values of {name}");
        values_compared += vm_values.as_array().unwrap().len();
    }
    let source = get_data(
        &client,
        &gateway.base,
        "/api/v1/label/source/values",
        &params,
    )
    .await;
    assert_eq!(source, serde_json::json!(["vm"]));
    eprintln!(
        "{} series, {samples} samples equal over StoreAPI ({imported_equal} bit-equal to the \
         imported values); {compared} query samples, {} label names and {values_compared} \
         label values equal VictoriaMetrics' own",
        want.len(),
        vm_names.len()
    );
}

/// A Prometheus 3.5 over an hour of generated data with `pods` pods, with `external` labels:
/// the series and the server.
fn prometheus_3_5(
    dir: &Path,
    pods: usize,
    external: &[(&str, &str)],
) -> (Spec, Vec<Series>, PrometheusServer) {
    let spec = Spec {
        end_ms: Spec::default().start_ms + 3_600_000,
        pods,
        ..Spec::default()
    };
    let series = data::generate(&spec);
    promtool::create_blocks(&series, &dir.join("tsdb"));
    let prometheus = PrometheusServer::launch(
        Version::V3_5,
        Some(&dir.join("tsdb/blocks")),
        &dir.join("prometheus"),
        external,
        "",
        &[],
    );
    (spec, series, prometheus)
}

/// Runs every query at every evaluation on both servers; panics unless the answers are
/// equal (and Prometheus' not empty). Returns the number of samples compared.
async fn assert_same_answers(
    got_base: &str,
    prometheus: &str,
    queries: &[&str],
    evals: &[Eval],
) -> usize {
    let client = api_client();
    let mut samples = 0;
    for query in queries {
        for &eval in evals {
            let want = query_answer(&client, prometheus, query, eval).await;
            let got = query_answer(&client, got_base, query, eval).await;
            // VictoriaMetrics stores floats as decimals: its copy may differ in the last digits.
            let failures = compare_answers(&got, &want, 1e-12);
            assert!(failures.is_empty(), "{query} {eval:?}: {failures:?}");
            assert!(!want.is_empty(), "{query} {eval:?}: Prometheus has nothing");
            samples += want.values().map(Vec::len).sum::<usize>();
        }
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_read_directly_answers_as_prometheus_does() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _, prometheus) = prometheus_3_5(dir.path(), Spec::default().pods, &[]);
    let entry = format!("{{kind: prometheus, address: '{}'}}", prometheus.url());
    let config = write_config(&dir.path().join("endpoints.yml"), &[entry]);
    let gateway = start_gateway(&config, &[]);
    let queries = [
        "http_requests_total",
        "rate(http_requests_total[5m])",
        "sum by (job) (memory_usage_bytes)",
        "max_over_time(temperature_celsius[10m])",
        "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
        "count by (__name__) ({__name__=~\".+\"})",
    ];
    let evals = Eval::grid(spec.start_ms, &[600, 1_800], &[(0, 3_600, 60)]);
    let samples = assert_same_answers(&gateway.base, &prometheus.url(), &queries, &evals).await;
    eprintln!(
        "{} answers ({samples} samples) equal Prometheus 3.5's own",
        queries.len() * evals.len()
    );
}

/// The answer of `path` with `params`: status and body.
async fn answer(base: &str, path: &str, params: &[(&str, &str)]) -> (u16, serde_json::Value) {
    get_json(&api_client(), base, path, params).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victoriametrics_that_is_down_is_named_never_an_empty_success() {
    let dir = tempfile::tempdir().unwrap();
    let up = VictoriaMetrics::start_reference(&dir.path().join("up"));
    let killed = VictoriaMetrics::start_reference(&dir.path().join("killed"));
    let never = format!("http://{}", free_addr());
    let (spec, series) = recent_gauges();
    let client = api_client();
    import(&client, &up.url(), &series).await;
    import(&client, &killed.url(), &series).await;
    let entries = [
        vm_entry(&up.url()),
        vm_entry(&killed.url()),
        vm_entry(&never),
    ];
    let config = write_config(&dir.path().join("endpoints.yml"), &entries);
    let gateway = start_gateway(&config, &[]);
    let killed_url = killed.url();
    drop(killed);

    let time = api_time(spec.end_ms);
    let query = [("query", "memory_usage_bytes"), ("time", time.as_str())];
    let (status, body) = answer(&gateway.base, "/api/v1/query", &query).await;
    assert_eq!(status, 200, "{body}");
    let warnings = body["warnings"].to_string();
    assert!(
        warnings.contains(&never),
        "the never-up endpoint is named: {body}"
    );
    assert!(
        warnings.contains(&killed_url),
        "the killed endpoint is named: {body}"
    );
    assert_eq!(
        body["data"]["result"].as_array().unwrap().len(),
        series.len(),
        "the endpoint that is up still answers: {body}"
    );

    let mut abort = query.to_vec();
    abort.push(("partial_response", "false"));
    let (status, body) = answer(&gateway.base, "/api/v1/query", &abort).await;
    assert_ne!(status, 200, "{body}");
    assert_eq!(body["status"], "error");
    assert!(body["error"].as_str().unwrap().contains(&never), "{body}");
    eprintln!("down: {warnings}; aborted: {}", body["error"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_is_followed_without_restart_and_a_bad_one_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let vm = VictoriaMetrics::start_reference(&dir.path().join("vm"));
    let path = dir.path().join("endpoints.yml");
    write_config(&path, &[vm_entry(&vm.url())]);
    let gateway = start_gateway(&path, &[]);
    let stores = || async {
        let (_, body) = answer(&gateway.base, "/api/v1/stores", &[]).await;
        body["data"].to_string()
    };
    assert!(stores().await.contains(&vm.url()));

    let other = VictoriaMetrics::start_reference(&dir.path().join("other"));
    write_config(&path, &[vm_entry(&vm.url()), vm_entry(&other.url())]);
    let added = Instant::now();
    while !stores().await.contains(&other.url()) {
        assert!(
            added.elapsed() < Duration::from_secs(20),
            "the new endpoint never appeared: {}",
            stores().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("new endpoint listed after {:?}", added.elapsed());

    std::fs::write(
        &path,
        format!(
            "endpoints:\n  - {{kind: victoria, address: '{}'}}\n",
            vm.url()
        ),
    )
    .unwrap();
    let expected = format!(
        "parsing endpoint config file {}: endpoints[0] ({}): kind: unknown kind \"victoria\"",
        path.display(),
        vm.url()
    );
    let query = [("query", "up"), ("time", "1000")];
    let written = Instant::now();
    loop {
        let (status, body) = answer(&gateway.base, "/api/v1/query", &query).await;
        assert_eq!(status, 200, "{body}");
        let warnings = body["warnings"].as_array().cloned().unwrap_or_default();
        if warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains(&expected))
        {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(20),
            "no warning about the bad file: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The last good endpoints stay.
    let listed = stores().await;
    assert!(
        listed.contains(&vm.url()) && listed.contains(&other.url()),
        "{listed}"
    );

    // A gateway started with the bad file does not start, and says why.
    let refused = std::process::Command::new(panoptes_binary())
        .args([
            "query",
            &format!("--http-address={}", free_addr()),
            &format!("--endpoint.config-file={}", path.display()),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "started with a bad config file");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&expected), "names the problem: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_and_the_victoriametrics_holding_its_copies_merge_without_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, series, prometheus) = prometheus_3_5(dir.path(), 2, &[("replica", "a")]);
    // What remote write from the pair stores: each replica's series with its external label.
    let vm = VictoriaMetrics::start_reference(&dir.path().join("vm"));
    let client = api_client();
    let copies: Vec<Series> = ["a", "b"]
        .iter()
        .flat_map(|replica| {
            series.iter().map(|s| {
                let mut labels = s.labels.clone();
                labels.set("replica".into(), (*replica).into());
                Series {
                    labels,
                    samples: s.samples.clone(),
                }
            })
        })
        .collect();
    import(&client, &vm.url(), &copies).await;
    let entries = [
        format!("{{kind: prometheus, address: '{}'}}", prometheus.url()),
        format!("{{kind: victoriametrics, address: '{}'}}", vm.url()),
    ];
    let config = write_config(&dir.path().join("endpoints.yml"), &entries);
    let gateway = start_gateway(&config, &["--query.replica-label=replica"]);
    let queries = [
        "count_over_time(http_requests_total[10m])",
        "memory_usage_bytes",
        "sum by (job) (rate(http_requests_total[5m]))",
    ];
    let evals = Eval::grid(spec.start_ms, &[900, 2_700], &[(0, 3_600, 60)]);
    let samples = assert_same_answers(&gateway.base, &prometheus.url(), &queries, &evals).await;
    // Without dedup, replica "b" (held only by the VictoriaMetrics) is there beside "a"
    // (equal labels in both stores, one series): the VictoriaMetrics was read.
    let time = api_time(spec.start_ms + 1_800_000);
    let raw = get_data(
        &client,
        &gateway.base,
        "/api/v1/query",
        &[
            ("query", "memory_usage_bytes"),
            ("time", &time),
            ("dedup", "false"),
        ],
    )
    .await;
    let pods = series
        .iter()
        .filter(|s| s.name() == "memory_usage_bytes")
        .count();
    assert_eq!(raw["result"].as_array().unwrap().len(), 2 * pods, "{raw}");
    eprintln!(
        "{} series held three times (Prometheus, and two replicas' copies in VictoriaMetrics) \
         answer as Prometheus alone: {samples} samples compared",
        series.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_kinds_take_credentials_from_an_http_client_file() {
    let dir = tempfile::tempdir().unwrap();
    let vm = VictoriaMetrics::start_reference_with(
        &dir.path().join("vm"),
        &["-httpAuth.username=reader", "-httpAuth.password=s3cret"],
    );
    let with_auth = vm.url().replace("http://", "http://reader:s3cret@");
    let (spec, series) = recent_gauges();
    let client = api_client();
    import(&client, &with_auth, &series).await;
    // Relative to the endpoint config file, as the password file is to the client file.
    std::fs::write(dir.path().join("password"), "s3cret\n").unwrap();
    std::fs::write(
        dir.path().join("vm-client.yml"),
        "basic_auth: {username: reader, password_file: password}\n",
    )
    .unwrap();
    let without = vm.url().replace("127.0.0.1", "localhost");
    let entries = [
        format!(
            "{{kind: victoriametrics, address: '{}', http_client_file: vm-client.yml}}",
            vm.url()
        ),
        format!("{{kind: victoriametrics, address: '{without}'}}"),
    ];
    let config = write_config(&dir.path().join("endpoints.yml"), &entries);
    let gateway = start_gateway(&config, &[]);

    let time = api_time(spec.end_ms);
    let query = [("query", "memory_usage_bytes"), ("time", time.as_str())];
    let (status, body) = answer(&gateway.base, "/api/v1/query", &query).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["result"].as_array().unwrap().len(),
        series.len(),
        "{body}"
    );
    let warnings = body["warnings"].to_string();
    assert!(
        warnings.contains(&without) && warnings.contains("401"),
        "the endpoint without credentials is named with its refusal: {body}"
    );
    assert!(!warnings.contains("s3cret"), "{body}");
}
