//! `/federate` as a real Prometheus 2.42 scrapes it.
//!
//! The gateway reads two in-test `MemoryStore` replicas (external labels `cluster="c1"`,
//! `replica="a"|"b"`; replica a lags the last minute, replica b misses ten minutes before
//! that) holding samples up to the moment the test starts, so the data is live for
//! federation (newest samples within the 5-minute lookback). It runs with
//! `--label region=eu --label cluster=global`. A Prometheus scrapes its `/federate` every
//! second (`honor_labels: true`, timestamps honoured by default). Checked:
//! - what `/federate` serves: for every series with a sample in the lookback its newest sample
//!   (merged over both replicas), labels with the replica label removed, the gateway's
//!   `--label`s only where the series lacks them, `instance=""` where it has no instance;
//!   the series whose newest sample is older than the lookback is left out; text format
//!   0.0.4, one `# TYPE <name> untyped` per family, families sorted, explicit timestamps;
//! - that the scraper stored exactly that: the same series and labels (`instance=""` keeps
//!   it from stamping its target's instance), one sample per series at the federated
//!   timestamp with the same value, however many scrapes it made;
//! - gzip when asked; no `match[]`: 200 with an empty body (as Prometheus; our documented
//!   choice); `match[]` that matches the empty string (`{__name__=~".*"}`): every series, as
//!   Prometheus; a bad `match[]`: 400 with Prometheus' plain-text error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::data::{self, Series, Spec};
use panoptes_tests::net::free_addr;
use panoptes_tests::process::Panoptes;
use panoptes_tests::prometheus::{PrometheusServer, api_client, api_time, get_data, json_labels};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store_api::server::RunningServer;
use store_api::{Labels, MemoryStore};

const MINUTE: i64 = 60_000;
const LOOKBACK: i64 = 5 * MINUTE;
/// Prometheus' staleness marker.
const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);
const SCRAPE_JOB: &str = "federate";
const MATCH: &str = r#"{job=~".+"}"#;
/// The scraper's own series (its job is `SCRAPE_JOB`, they match `MATCH` too).
const SCRAPER_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Generated families over the last 30 minutes, plus series that exercise the labels:
/// with an `instance` of their own, with a `region` of their own, with escapes in a label
/// value, with a NaN as newest sample, and two that must not be federated: one whose newest
/// sample is a staleness marker, one whose newest sample is older than the lookback.
fn live_data(now: i64) -> Vec<Series> {
    let spec = Spec {
        start_ms: now - 30 * MINUTE,
        end_ms: now,
        step_ms: 15_000,
        pods: 3,
        seed: 7,
    };
    let mut series = data::generate(&spec);
    let times: Vec<i64> = series[0].samples.iter().map(|s| s.0).collect();
    let gauge = |pairs: &[(&str, &str)], f: &dyn Fn(usize) -> f64| Series {
        labels: Labels::from_pairs(pairs.iter().copied()),
        samples: times.iter().enumerate().map(|(i, &t)| (t, f(i))).collect(),
    };
    series.push(gauge(
        &[
            ("__name__", "node_load1"),
            ("job", "node"),
            ("instance", "node-0:9100"),
            ("region", "us"),
        ],
        &|i| 0.25 + (i % 7) as f64 / 3.0,
    ));
    series.push(gauge(
        &[
            ("__name__", "node_load1"),
            ("job", "node"),
            ("instance", "node-1:9100"),
        ],
        &|i| 1.0 / (1 + i) as f64,
    ));
    series.push(gauge(
        &[
            ("__name__", "build_info"),
            ("job", "node"),
            ("version", "1.0 \"quoted\" C:\\path\nline two"),
        ],
        &|_| 1.0,
    ));
    let last = times.len() - 1;
    series.push(gauge(&[("__name__", "ratio"), ("job", "node")], &|i| {
        if i == last { f64::NAN } else { 0.5 }
    }));
    series.push(gauge(&[("__name__", "gone"), ("job", "node")], &|i| {
        if i == last { STALE_NAN } else { 2.0 }
    }));
    let mut old = gauge(&[("__name__", "old_metric"), ("job", "node")], &|i| {
        i as f64
    });
    old.samples.retain(|(t, _)| *t < now - 2 * LOOKBACK);
    series.push(old);
    series
}

fn to_store(series: &[Series]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    series
        .iter()
        .map(|s| (s.labels.clone(), s.samples.clone()))
        .collect()
}

/// What the gateway must federate: each series' newest sample if it is within the lookback,
/// labelled as the gateway labels it (`instance=""` is no label: the same as absent).
fn expected(series: &[Series], now: i64) -> BTreeMap<Labels, (i64, f64)> {
    let mut out = BTreeMap::new();
    for s in series {
        let &(t, v) = s.samples.last().unwrap();
        if t <= now - LOOKBACK || v.to_bits() == STALE_NAN.to_bits() {
            continue;
        }
        let mut labels = s.labels.clone();
        labels.merge_missing(&Labels::from_pairs([("cluster", "c1"), ("region", "eu")]));
        out.insert(labels, (t, v));
    }
    out
}

/// One sample line of the text format: labels as written (empty values kept), value,
/// timestamp.
#[derive(Debug)]
struct Line {
    name: String,
    pairs: Vec<(String, String)>,
    value: f64,
    timestamp: Option<i64>,
}

impl Line {
    fn labels(&self) -> Labels {
        let mut labels = Labels::from_pairs(self.pairs.iter().cloned());
        labels.set("__name__".into(), self.name.clone());
        labels
    }
}

/// Parses the text exposition format (what /federate writes): `# TYPE` lines and samples.
fn parse_exposition(text: &str) -> (Vec<(String, String)>, Vec<Line>) {
    let mut types = Vec::new();
    let mut lines = Vec::new();
    for raw in text.lines() {
        if let Some(rest) = raw.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.push((name.to_string(), kind.to_string()));
            continue;
        }
        assert!(!raw.starts_with('#'), "unexpected comment line {raw:?}");
        let name_end = raw.find(['{', ' ']).unwrap();
        let name = raw[..name_end].to_string();
        let mut rest = &raw[name_end..];
        let mut pairs = Vec::new();
        if let Some(labels) = rest.strip_prefix('{') {
            (pairs, rest) = parse_labels(labels);
        }
        let mut fields = rest.split_whitespace();
        let value = match fields.next().unwrap() {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("{raw:?}: {e}")),
        };
        let timestamp = fields.next().map(|t| t.parse().unwrap());
        assert!(fields.next().is_none(), "{raw:?}");
        lines.push(Line {
            name,
            pairs,
            value,
            timestamp,
        });
    }
    (types, lines)
}

/// `name="value",...}` (after the `{`): the pairs with their escapes undone, and what follows
/// the `}`.
fn parse_labels(text: &str) -> (Vec<(String, String)>, &str) {
    let mut pairs = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.strip_prefix(',').unwrap_or(rest);
        if let Some(after) = rest.strip_prefix('}') {
            return (pairs, after);
        }
        let (name, quoted) = rest.split_once("=\"").expect("name=\"value\"");
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i + 1,
                (_, '\\') => match chars.next().expect("escaped character").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        pairs.push((name.to_string(), value));
        rest = &quoted[end..];
    }
}

fn same_value(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "not gzip");
    output.stdout
}

struct Setup {
    _dir: tempfile::TempDir,
    _stores: Vec<RunningServer>,
    _gateway: Panoptes,
    gateway: SocketAddr,
    scraper: PrometheusServer,
    expected: BTreeMap<Labels, (i64, f64)>,
}

async fn setup() -> Setup {
    let now = now_ms();
    let full = live_data(now);
    let mut stores = Vec::new();
    for (replica, series) in [
        ("a", data::without_window(&full, now - MINUTE, i64::MAX)),
        (
            "b",
            data::without_window(&full, now - 11 * MINUTE, now - MINUTE),
        ),
    ] {
        let store = MemoryStore::new(
            Labels::from_pairs([("cluster", "c1"), ("replica", replica)]),
            to_store(&series),
        );
        let server = store_api::server::spawn(Arc::new(store), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("serve a store on loopback");
        stores.push(server);
    }
    let gateway = free_addr();
    let mut args = vec![
        "query".to_string(),
        format!("--http-address={gateway}"),
        "--query.replica-label=replica".into(),
        "--label=region=eu".into(),
        "--label=cluster=global".into(),
    ];
    args.extend(stores.iter().map(|s| format!("--endpoint={}", s.addr)));
    let gateway_process = tokio::task::block_in_place(|| Panoptes::start(&args, gateway));

    let dir = tempfile::tempdir().unwrap();
    let scrape_config = format!(
        "scrape_configs:
  - job_name: {SCRAPE_JOB}
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{MATCH}']
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['{gateway}']
"
    );
    let scraper = tokio::task::block_in_place(|| {
        PrometheusServer::start_with_config(None, dir.path(), &[], &scrape_config)
    });
    Setup {
        _dir: dir,
        _stores: stores,
        _gateway: gateway_process,
        gateway,
        scraper,
        expected: expected(&full, now),
    }
}

/// Waits until the scraper has scraped the gateway `scrapes` times, successfully.
async fn wait_for_scrapes(client: &reqwest::Client, scraper: &PrometheusServer, scrapes: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let query = format!(r#"count_over_time(up{{job="{SCRAPE_JOB}"}}[1m])"#);
    loop {
        let data = get_data(
            client,
            &scraper.url(),
            "/api/v1/query",
            &[("query", &query)],
        )
        .await;
        let done = data["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|n| n >= scrapes as f64);
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {scrapes} scrapes after 30 s: {data}; log: {}",
            scraper.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scraping_federate_stores_what_the_gateway_serves() {
    let started = Instant::now();
    let s = setup().await;
    let client = api_client();
    let base = format!("http://{}", s.gateway);

    // What the gateway serves.
    let response = client
        .get(format!("{base}/federate"))
        .query(&[("match[]", MATCH)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let plain = response.bytes().await.unwrap();
    let text = std::str::from_utf8(&plain).unwrap();
    let (types, lines) = parse_exposition(text);
    let families: Vec<&str> = types.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = families.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(families, sorted, "one TYPE line per family, sorted");
    assert!(types.iter().all(|(_, kind)| kind == "untyped"), "{types:?}");
    let mut served = BTreeMap::new();
    for line in &lines {
        assert!(
            families.contains(&line.name.as_str()),
            "{line:?} has no TYPE"
        );
        let has_instance = line.pairs.iter().any(|(n, _)| n == "instance");
        assert!(has_instance, "instance=\"\" where it has none: {line:?}");
        let timestamp = line.timestamp.expect("explicit timestamp");
        let previous = served.insert(line.labels(), (timestamp, line.value));
        assert!(previous.is_none(), "served twice: {line:?}");
    }
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        s.expected.keys().collect::<Vec<_>>(),
        "federated series"
    );
    for (labels, &(t, v)) in &s.expected {
        let (st, sv) = served[labels];
        assert!(
            st == t && same_value(sv, v),
            "{labels}: served {sv} @{st}, want {v} @{t}"
        );
    }
    assert!(served.keys().all(|l| l.get("replica").is_none()));
    assert!(served.len() > 30, "{} series", served.len());

    // What the scraper stored.
    wait_for_scrapes(&client, &s.scraper, 3).await;
    let up = get_data(
        &client,
        &s.scraper.url(),
        "/api/v1/query",
        &[("query", "up"), ("time", &api_time(now_ms()))],
    )
    .await;
    assert_eq!(up["result"][0]["value"][1], "1", "{up}");
    let scraped = get_data(
        &client,
        &s.scraper.url(),
        "/api/v1/query",
        &[("query", r#"scrape_samples_scraped"#)],
    )
    .await;
    assert_eq!(
        scraped["result"][0]["value"][1],
        lines.len().to_string(),
        "every federated sample parsed: {scraped}"
    );
    let stored = get_data(
        &client,
        &s.scraper.url(),
        "/api/v1/query",
        &[
            ("query", &format!("{MATCH}[10m]")),
            ("time", &api_time(now_ms())),
        ],
    )
    .await;
    let mut scraper_has = BTreeMap::new();
    for series in stored["result"].as_array().unwrap() {
        let labels = json_labels(&series["metric"]);
        if SCRAPER_SERIES.contains(&labels.get("__name__").unwrap_or("")) {
            continue;
        }
        let values = series["values"].as_array().unwrap();
        assert_eq!(
            values.len(),
            1,
            "{labels}: one sample at the federated timestamp, however many scrapes: {values:?}"
        );
        let t = (values[0][0].as_f64().unwrap() * 1000.0).round() as i64;
        let v: f64 = values[0][1].as_str().unwrap().parse().unwrap();
        scraper_has.insert(labels, (t, v));
    }
    assert_eq!(
        scraper_has.keys().collect::<Vec<_>>(),
        served.keys().collect::<Vec<_>>(),
        "the scraper's series (honor_labels; instance=\"\" is no instance)"
    );
    for (labels, &(t, v)) in &served {
        let (st, sv) = scraper_has[labels];
        assert!(
            st == t && same_value(sv, v),
            "{labels}: scraper has {sv} @{st}, gateway served {v} @{t}"
        );
    }

    // gzip when asked: the same bytes.
    let response = client
        .get(format!("{base}/federate"))
        .query(&[("match[]", MATCH)])
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    assert!(compressed.len() < plain.len() / 2);
    assert_eq!(gunzip(&compressed), plain);

    // No match[]: 200 and an empty body, as Prometheus answers.
    let response = client.get(format!("{base}/federate")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().is_empty());

    // Selectors that match the empty string are taken, as Prometheus takes them: a
    // federation job asking for everything gets everything.
    for everything in [
        r#"{__name__=~".*"}"#,
        r#"{__name__=~".+"}"#,
        r#"{job=~".*"}"#,
    ] {
        let response = client
            .get(format!("{base}/federate"))
            .query(&[("match[]", everything)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{everything}");
        let all = response.text().await.unwrap();
        assert_eq!(
            parse_exposition(&all).1.len(),
            lines.len(),
            "{everything}: {all}"
        );
    }

    // A bad match[]: 400 with Prometheus' plain-text error (Prometheus 3.5's words).
    for (bad, error) in [
        ("rate(up[5m])", "1:5: parse error: unexpected \"(\""),
        (
            "up{",
            "1:4: parse error: unexpected end of input inside braces",
        ),
    ] {
        let response = client
            .get(format!("{base}/federate"))
            .query(&[("match[]", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8",
            "{bad}"
        );
        assert_eq!(
            response.text().await.unwrap(),
            format!("{error}\n"),
            "{bad}"
        );
    }

    println!(
        "{} series federated and scraped, {} scraper samples checked; total {:?}",
        served.len(),
        scraper_has.len(),
        started.elapsed()
    );
}
