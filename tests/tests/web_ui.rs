//! The web UI in a real browser: a `panoptes query` process over a real gRPC store holding a
//! few known series, and `tests/ui/check.mjs` driving Debian's headless Chromium through the
//! pages. What the pages show (the graph's series and points, the legend, the hover read-out,
//! the table, the parse error's position, the stores, the build information) must equal the
//! API's own answer to the same request, so a wrong graph fails the test.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/ui/node_modules` (`npm ci` in `tests/ui`), as
//! `scripts/test.sh` installs them; without them the test fails, it never skips. Screenshots
//! go to `target/ui-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::faults::Gateway;
use panoptes_tests::process::target_dir;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};
use store_api::{Labels, MemoryStore};

const CHROMIUM: &str = "/usr/bin/chromium";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Three counters and two gauges at 15 s, from two hours ago to ten minutes ahead (so that
/// the page's "now" is always inside the data), behind the external label `site="ui"`.
fn store() -> MemoryStore {
    let now = now_ms();
    let times: Vec<i64> = (-480..40).map(|i| now + i * 15_000).collect();
    let counters =
        [("api", "a", 1.0), ("api", "b", 2.5), ("web", "c", 0.5)].map(|(job, instance, rate)| {
            let labels = Labels::from_pairs([
                ("__name__", "ui_requests_total"),
                ("job", job),
                ("instance", instance),
            ]);
            // The rate swings by half around `rate`, so that the graph has a shape.
            let mut total = 0.0;
            let samples = times.iter().enumerate().map(|(i, &t)| {
                total += 15.0 * rate * (1.0 + 0.5 * (i as f64 / 40.0).sin());
                (t, total)
            });
            (labels, samples.collect())
        });
    let gauges = [("kitchen", 21.0), ("cellar", 12.0)].map(|(room, base)| {
        let labels = Labels::from_pairs([("__name__", "ui_temperature_celsius"), ("room", room)]);
        let samples = times.iter().enumerate();
        (
            labels,
            samples.map(|(i, &t)| (t, base + (i % 7) as f64)).collect(),
        )
    });
    let series: Vec<(Labels, Vec<(i64, f64)>)> = counters.into_iter().chain(gauges).collect();
    MemoryStore::new(Labels::from_pairs([("site", "ui")]), series)
}

/// Fails (never skips) when the browser side is not installed.
fn require_browser_tools(ui: &Path) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh installs it)"
    );
    assert!(
        ui.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci` in {} (scripts/test.sh does)",
        ui.display()
    );
}

/// Runs `check.mjs` against the gateway: what the pages showed, as JSON.
fn run_browser(url: &str, screenshots: &Path) -> Value {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    require_browser_tools(&ui);
    let output = Command::new("node")
        .arg(ui.join("check.mjs"))
        .arg(url)
        .arg(screenshots)
        .current_dir(&ui)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install nodejs"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check.mjs failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("check.mjs printed {e}: {stdout}"))
}

/// `name{a="b", c="d"}`, as the page names a series (labels in the API's sorted order).
fn series_name(metric: &Value) -> String {
    let labels = metric.as_object().unwrap();
    let name = labels.get("__name__").and_then(Value::as_str).unwrap_or("");
    let pairs: Vec<String> = labels
        .iter()
        .filter(|(label, _)| *label != "__name__")
        .map(|(label, value)| format!("{label}={value}"))
        .collect();
    if pairs.is_empty() && !name.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", pairs.join(", "))
    }
}

/// The API's `data` for `path` with `params`; panics unless it succeeded.
async fn data(gateway: &Gateway, path: &str, params: &[(&str, &str)]) -> Value {
    let reply = gateway.get(path, params).await;
    assert_eq!(reply.status, 200, "{path} {params:?}: {}", reply.body);
    reply.body["data"].clone()
}

/// A series of a matrix: its name and its points (milliseconds, value).
type Series = (String, Vec<(i64, f64)>);

/// The API's answer to the range query the graph drew, series sorted by name.
async fn api_matrix(gateway: &Gateway, graph: &Value) -> Vec<Series> {
    let query = graph["query"].as_str().unwrap();
    let [start, end, step] = ["start", "end", "step"].map(|key| graph[key].to_string());
    let params = [
        ("query", query),
        ("start", &start),
        ("end", &end),
        ("step", &step),
    ];
    let answer = data(gateway, "/api/v1/query_range", &params).await;
    let mut series: Vec<Series> = answer["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let points = s["values"].as_array().unwrap().iter().map(|point| {
                let t = (point[0].as_f64().unwrap() * 1000.0).round() as i64;
                (t, point[1].as_str().unwrap().parse().unwrap())
            });
            (series_name(&s["metric"]), points.collect())
        })
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

/// The graph: the range query's series and their points, drawn, in the legend and on hover.
async fn check_graph(gateway: &Gateway, graph: &Value) {
    let span = graph["end"].as_i64().unwrap() - graph["start"].as_i64().unwrap();
    assert_eq!(span, 3600, "default range 1h");
    let step = graph["step"].as_i64();
    assert_eq!(
        step,
        Some(14),
        "Prometheus' step for 1h: 3600 s / 250, whole seconds"
    );
    let want = api_matrix(gateway, graph).await;
    assert_eq!(
        want.len(),
        3,
        "{}: the store's three counters",
        graph["query"]
    );
    assert!(
        want.iter().all(|(_, points)| points.len() > 200),
        "{want:?}"
    );

    let mut drawn: Vec<(String, usize)> = graph["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                series_name(&s["metric"]),
                s["points"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    drawn.sort();
    let counts: Vec<(String, usize)> = want.iter().map(|(n, p)| (n.clone(), p.len())).collect();
    assert_eq!(
        drawn, counts,
        "{}: series and points drawn vs API",
        graph["query"]
    );

    let mut legend: Vec<&str> = graph["legend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["text"].as_str().unwrap())
        .collect();
    legend.sort();
    let names: Vec<&str> = want.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(legend, names, "legend");

    check_hover(&graph["tooltip"], &want);
    assert_eq!(graph["stackedSeries"], 3, "stacked: the same series");
    let areas = graph["stackedAreas"].as_u64().unwrap();
    assert!(areas >= 3, "stacked: filled areas ({areas})");
}

/// The hover read-out: a row `name: value` per series, each the API's value at that time
/// (the page shows six significant digits).
fn check_hover(tooltip: &Value, want: &[Series]) {
    let t = tooltip["timeMs"].as_i64().unwrap();
    let rows = tooltip["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "a hover row per series: {tooltip}");
    for row in rows {
        let row = row.as_str().unwrap();
        let (name, shown) = row.rsplit_once(": ").unwrap();
        let (_, points) = want.iter().find(|(n, _)| n == name).expect(row);
        let (_, value) = points.iter().find(|(time, _)| *time == t).expect(row);
        let shown: f64 = shown.parse().unwrap();
        assert!(
            (shown - value).abs() <= value.abs() * 1e-5,
            "{row}: the API says {value}"
        );
    }
}

/// The table: the instant query's series and values at the page's evaluation time.
async fn check_table(gateway: &Gateway, table: &Value) {
    let query = table["query"].as_str().unwrap();
    let time = table["time"].to_string();
    let want = data(
        gateway,
        "/api/v1/query",
        &[("query", query), ("time", &time)],
    )
    .await;
    let mut want: Vec<(String, String)> = want["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                series_name(&s["metric"]),
                s["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut shown: Vec<(String, String)> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                series_name(&r["metric"]),
                r["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    want.sort();
    shown.sort();
    assert_eq!(want.len(), 3, "{query}");
    assert_eq!(shown, want, "{query}: table vs API");
}

/// The parse error: the API's message, its column marked under the line and in the input.
async fn check_parse_error(gateway: &Gateway, error: &Value) {
    let query = error["query"].as_str().unwrap();
    let reply = gateway.get("/api/v1/query", &[("query", query)]).await;
    assert_eq!(reply.status, 400, "{query}: {}", reply.body);
    let message = reply.body["error"].as_str().unwrap();
    assert_eq!(error["message"], message, "the API's message");
    let position = regex::Regex::new(r"(\d+):(\d+): parse error")
        .unwrap()
        .captures(message)
        .unwrap_or_else(|| panic!("no position in {message:?}"));
    let column: usize = position[2].parse().unwrap();
    assert_eq!(
        error["line"],
        position[1].parse::<u64>().unwrap(),
        "{error}"
    );
    assert_eq!(error["column"], column as u64, "{error}");
    assert!(
        column > 1 && column < query.len(),
        "an error inside the query: {message}"
    );
    assert_eq!(
        error["pointer"].as_str().unwrap(),
        format!("{query}\n{}^", " ".repeat(column - 1)),
        "a caret under the column"
    );
    assert_eq!(
        error["selectionStart"],
        column as u64 - 1,
        "the column selected in the input"
    );
    assert_eq!(error["inputMarked"], true);
    assert_eq!(
        error["markedOffset"],
        column as u64 - 1,
        "the mark under the column: {error}"
    );
    assert_eq!(error["markedText"], &query[column - 1..column], "{error}");
}

/// The stores page: every endpoint of `/api/v1/stores`, the store healthy.
async fn check_stores(gateway: &Gateway, stores: &Value, store: &str) {
    let want = data(gateway, "/api/v1/stores", &[]).await;
    let mut want: Vec<(String, String, bool)> = want
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(component, endpoints)| {
            endpoints.as_array().unwrap().iter().map(move |e| {
                let name = e["name"].as_str().unwrap().to_owned();
                (name, component.clone(), e["healthy"].as_bool().unwrap())
            })
        })
        .collect();
    let endpoints = stores["endpoints"].as_array().unwrap();
    let mut shown: Vec<(String, String, bool)> = endpoints
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_owned();
            (
                name,
                e["component"].as_str().unwrap().to_owned(),
                e["healthy"].as_bool().unwrap(),
            )
        })
        .collect();
    want.sort();
    shown.sort();
    assert_eq!(shown, want, "stores page vs API");
    let row = endpoints
        .iter()
        .find(|e| e["name"] == store)
        .expect("the store's row");
    let cells: Vec<&str> = row["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(cells[1], "UP", "{cells:?}");
    assert_eq!(cells[3], "", "no last error: {cells:?}");
    assert_eq!(cells[4], "{site=\"ui\"}", "its label set: {cells:?}");
}

fn screenshot(section: &Value) -> PathBuf {
    let path = PathBuf::from(section["screenshot"].as_str().unwrap());
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "{} is missing or blank ({size} bytes)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_show_what_the_api_answers() {
    let (gateway, server) = Gateway::over_store(store(), &[]).await;
    let screenshots = target_dir().join("ui-screenshots");
    let url = gateway.url().to_owned();
    let shown = tokio::task::spawn_blocking(move || run_browser(&url, &screenshots))
        .await
        .unwrap();

    let home = &shown["home"];
    assert_eq!(
        home["redirectedFrom"],
        format!("{}/", gateway.url()),
        "{home}"
    );
    assert_eq!(home["url"], format!("{}/query", gateway.url()), "{home}");
    assert_eq!(home["status"], 200, "{home}");
    let completions = &shown["completions"];
    assert_eq!(
        completions["names"],
        serde_json::json!(["ui_requests_total", "ui_temperature_celsius"]),
        "metric names completed from {}",
        completions["prefix"]
    );
    let label_names = &completions["labelNames"];
    assert_eq!(
        label_names,
        &serde_json::json!(["job"]),
        "label names in braces"
    );
    check_graph(&gateway, &shown["graph"]).await;
    check_table(&gateway, &shown["table"]).await;
    check_parse_error(&gateway, &shown["error"]).await;
    check_stores(&gateway, &shown["stores"], &server.addr.to_string()).await;
    let version = data(&gateway, "/api/v1/status/buildinfo", &[]).await["version"].clone();
    assert_eq!(
        shown["status"]["/api/v1/status/buildinfo"]["version"],
        version
    );
    let flags = &shown["status"]["/api/v1/status/flags"];
    assert_eq!(flags["endpoint"], server.addr.to_string(), "{flags}");
    assert!(shown["status"]["/api/v1/status/runtimeinfo"]["startTime"].is_string());
    assert_eq!(
        shown["pageErrors"],
        serde_json::json!([]),
        "errors in the page"
    );
    let failed = &shown["failedRequests"];
    assert_eq!(
        failed,
        &serde_json::json!([{"method": "POST", "path": "/api/v1/query", "status": 400}]),
        "only the bad query fails"
    );

    for section in ["graph", "stores"] {
        println!("screenshot: {}", screenshot(&shown[section]).display());
    }
}

/// Prometheus 3 redirects `/` to `/query`; a client that follows redirects (as Python's
/// `prometheus_api_client` does to check the connection) ends on a 200 page. Both requests
/// are counted under their route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_redirects_to_the_query_page() {
    let (gateway, _server) = Gateway::over_store(store(), &[]).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = plain
        .get(format!("{}/", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(response.headers()["location"], "/query");

    let following = reqwest::Client::new();
    let response = following
        .get(format!("{}/", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.url().path(), "/query");
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("/assets/panoptes.js"), "{page}");

    // Request metrics name each page by its route.
    let (_, _, metrics) = gateway.get_text("/metrics", &[]).await;
    for (handler, code) in [("/", "302"), ("/query", "200")] {
        let counted =
            format!("http_requests_total{{code=\"{code}\",handler=\"{handler}\",method=\"GET\"}}");
        assert!(metrics.contains(&counted), "no {counted} in\n{metrics}");
    }
}
