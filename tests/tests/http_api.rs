//! The gateway's HTTP API as Grafana uses it, and a JSON differential against a real
//! Prometheus 2.42 serving the same data.
//!
//! Topology: `data::generate` series as promtool blocks; a real Prometheus over them with no
//! external labels (the reference); `panoptes sidecar` in front of that same Prometheus and
//! `panoptes query` over the sidecar. Both ends therefore hold identical series and labels,
//! and every request is sent to both:
//!
//! 1. Grafana's requests, replayed as its Prometheus datasource sends them
//!    (`../shared/specs/grafana-http-api.md`): methods, form bodies, float-second times, steps
//!    as `15`/`0.5`, millisecond exemplar probes, `match[]`, Grafana's headers (gzip included)
//!    and the custom query parameters `dedup=true&partial_response=true`. Each gateway answer
//!    must parse the way Grafana reads it, and equal Prometheus' answer.
//! 2. A differential over queries of every result type and the label, label values and series
//!    APIs: `status`, `data` (labels, values, timestamps compared as the JSON text they are —
//!    `1.500` is not `1.5`), order where Prometheus defines it (matrices, label lists, series,
//!    `sort`/`topk`; other instant vectors compare as sets).
//! 3. Bad requests of every kind: HTTP status code, `errorType`, and the message where
//!    Prometheus' wording is stable. Every gateway error must be Prometheus' JSON with a code
//!    Grafana parses (400, 422, 503).
//!
//! Where Prometheus 2.42 is not the reference (the gateway follows Prometheus 3.x):
//! - left-closed (2.42) vs left-open (3.x) range windows: sample timestamps are never on a
//!   whole second and range functions are evaluated at whole seconds only, so no window
//!   boundary is ever a sample time (plain selectors are safe at any time: the newest sample of
//!   a 15 s series is never on the lookback boundary);
//! - rate/increase windows reaching before a counter's first sample (2.42 and 3.x extrapolate
//!   differently): evaluated an hour into the data;
//! - delayed `__name__` removal and functions new in 3.x: no query depends on them;
//! - `sum`/`avg` of non-integers: 3.x adds with Kahan compensation, 2.42 naively, so the last
//!   digit may differ; exact aggregations only (sums of counters, max, min, count, topk);
//! - `infos` (3.x annotations such as "metric might not be a counter") do not exist in 2.42:
//!   ignored only where a case says so;
//! - `limit` on the label and series APIs is new in 2.49: Prometheus' full answer is cut to
//!   the limit, with 3.x's warning `results truncated due to limit` when it cuts;
//! - `U__` escaped label names (3.x) are literal names in 2.42: an escaped request is compared
//!   with Prometheus' answer to the unescaped name; label names that are valid UTF-8 but not
//!   legacy names (`a.b`) are accepted by 3.x and refused by 2.42, and are not compared.
//!
//! Differences found are listed in `KNOWN_DIFFERENCES`: printed, not failing. A listed case
//! that agrees again is printed as such, to be removed from the list.
//!
//! Needs the binary: `cargo build --bin panoptes`.
//! `cargo test -p panoptes-tests --test http_api -- --nocapture` shows the summary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::data::{self, Spec};
use panoptes_tests::net::free_addr;
use panoptes_tests::process::{Panoptes, Sidecar};
use panoptes_tests::prometheus::PrometheusServer;
use panoptes_tests::promtool;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The whole test, setup included, must end within this.
const TEST_LIMIT: Duration = Duration::from_secs(120);
/// One HTTP exchange.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Whole seconds at the start of the generated data (`Spec::default().start_ms`); the data
/// runs three hours from here, one sample every 15 s per series, never on a whole second.
const S: i64 = 1_700_000_000;
/// An evaluation time an hour into the data.
const T: i64 = S + 3607;

/// Where the gateway is known to answer differently from Prometheus: each difference with the
/// cases that show it. They run and are printed, but do not fail the test. Keep it short and
/// honest: only real differences of the gateway belong here.
const KNOWN_DIFFERENCES: &[(&str, &[&str])] = &[];

// ----- requests ------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
}

/// One HTTP request, with its URL query and form body already encoded (raw, so that a case
/// can send what no encoder would: `%ff`, `%zz`).
#[derive(Clone, Debug)]
struct Req {
    verb: Verb,
    path: String,
    query: String,
    body: Option<String>,
    /// Sent as Grafana sends it: its headers, and its custom query parameters appended.
    grafana: bool,
}

/// Form encoding (`application/x-www-form-urlencoded`), as Grafana's Go client writes it.
fn enc(params: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        out.append_pair(k, v);
    }
    out.finish()
}

impl Req {
    fn get(path: impl Into<String>, params: &[(&str, &str)]) -> Self {
        Self::raw(Verb::Get, path, &enc(params), None)
    }

    /// A POST with the parameters as a form body.
    fn post(path: impl Into<String>, params: &[(&str, &str)]) -> Self {
        Self::raw(Verb::Post, path, "", Some(enc(params)))
    }

    fn raw(verb: Verb, path: impl Into<String>, query: &str, body: Option<String>) -> Self {
        Self {
            verb,
            path: path.into(),
            query: query.to_string(),
            body,
            grafana: false,
        }
    }

    fn grafana(mut self) -> Self {
        self.grafana = true;
        self
    }

    fn query_string(&self) -> String {
        match (self.grafana, self.query.is_empty()) {
            (false, _) => self.query.clone(),
            (true, true) => GRAFANA_PARAMS.to_string(),
            (true, false) => format!("{}&{GRAFANA_PARAMS}", self.query),
        }
    }
}

impl std::fmt::Display for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.verb {
            Verb::Get => "GET",
            Verb::Post => "POST",
        };
        write!(f, "{verb} {}", self.path)?;
        let query = self.query_string();
        if !query.is_empty() {
            write!(f, "?{query}")?;
        }
        if let Some(body) = &self.body {
            write!(f, " form: {}", clip(body, 200))?;
        }
        Ok(())
    }
}

/// Grafana's custom query parameters (Thanos' `dedup` and `partial_response`), appended to
/// every URL of the datasource.
const GRAFANA_PARAMS: &str = "dedup=true&partial_response=true";

/// The headers Grafana's datasource proxy sends.
const GRAFANA_HEADERS: [(&str, &str); 8] = [
    ("User-Agent", "Grafana/12.2.0"),
    ("Accept-Encoding", "gzip"),
    ("X-Dashboard-Uid", "panoptes-http-api"),
    ("X-Panel-Id", "7"),
    ("X-Grafana-Org-Id", "1"),
    ("X-Datasource-Uid", "P1809F7CD0C75ACF3"),
    ("X-Query-Group-Id", "0b1c6f0e-3d5c-4b0c-9a0c-2f2d7f1e9a11"),
    ("X-Grafana-From-Expr", "false"),
];

// ----- answers -------------------------------------------------------------------------------

/// One HTTP answer.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    content_type: String,
    gzipped: bool,
    /// The body, decompressed.
    text: String,
    /// The body as JSON with every number marked (see [`mark_numbers`]); `None` if not JSON.
    json: Option<Value>,
}

impl Answer {
    fn is_error_json(&self) -> bool {
        self.json
            .as_ref()
            .is_some_and(|j| j["status"] == "error" && j["errorType"].is_string())
    }

    fn error_type(&self) -> &str {
        self.json
            .as_ref()
            .and_then(|j| j["errorType"].as_str())
            .unwrap_or("")
    }

    fn error(&self) -> &str {
        self.json
            .as_ref()
            .and_then(|j| j["error"].as_str())
            .unwrap_or("")
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, clip(&self.text, 700))
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// A JSON number keeps the text it was written as: `"\u0001<number>"`.
const MARK: char = '\u{1}';

/// JSON text with every number turned into the string `"\u0001<number as written>"`, so that
/// numbers compare as the text they are (Prometheus' `1700003555.490` is not `1700003555.49`)
/// and stay recognisable as numbers (Grafana needs timestamps as numbers, values as strings).
fn mark_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut chars = text.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '-' | '0'..='9' => {
                out.push_str("\"\\u0001");
                out.push(c);
                while let Some(&d) = chars.peek() {
                    if !(d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-')) {
                        break;
                    }
                    out.push(d);
                    chars.next();
                }
                out.push('"');
            }
            c => out.push(c),
        }
    }
    out
}

/// The text of a JSON number, `None` for anything else.
fn number(v: &Value) -> Option<&str> {
    v.as_str()?.strip_prefix(MARK)
}

/// A value as JSON text, numbers unmarked.
fn show(v: &Value) -> String {
    static UNMARK: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r#""\\u0001([^"]*)""#).unwrap());
    clip(&UNMARK.replace_all(&v.to_string(), "$1"), 300)
}

/// Decompresses a gzip body with the system's `gzip`.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "not gzip");
    output.stdout
}

async fn fetch(client: &reqwest::Client, base: &str, req: &Req) -> Answer {
    let mut url = format!("{base}{}", req.path);
    let query = req.query_string();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    let method = match req.verb {
        Verb::Get => reqwest::Method::GET,
        Verb::Post => reqwest::Method::POST,
    };
    let mut request = client.request(method, url);
    if req.grafana {
        for (name, value) in GRAFANA_HEADERS {
            request = request.header(name, value);
        }
    }
    if let Some(body) = &req.body {
        request = request
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{req} to {base}: {e:?}"));
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = header("content-type");
    let gzipped = header("content-encoding") == "gzip";
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{req} to {base}: reading the body: {e}"));
    let bytes = if gzipped {
        gunzip(&bytes)
    } else {
        bytes.to_vec()
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&mark_numbers(&text)).ok();
    Answer {
        status,
        content_type,
        gzipped,
        text,
        json,
    }
}

// ----- what Grafana reads --------------------------------------------------------------------

/// Checks an answer the way Grafana's Prometheus datasource reads it: only 2xx, 400, 422 and
/// 503 are parsed (anything else is "unexpected response with status code N"), as JSON with
/// Prometheus' envelope, and `data` in the shape of the endpoint.
fn grafana_reads(path: &str, a: &Answer) -> Result<(), String> {
    if ![200, 400, 422, 503].contains(&a.status) {
        return Err(format!(
            "status {}: Grafana shows \"unexpected response with status code {}\"",
            a.status, a.status
        ));
    }
    let j = a.json.as_ref().ok_or("the body is not JSON")?;
    if !a.content_type.starts_with("application/json") {
        return Err(format!("Content-Type {:?}", a.content_type));
    }
    for key in ["warnings", "infos"] {
        if let Some(list) = j.get(key) {
            let strings = list
                .as_array()
                .is_some_and(|l| l.iter().all(|s| s.is_string() && number(s).is_none()));
            if !strings {
                return Err(format!("{key} is not an array of strings: {}", show(list)));
            }
        }
    }
    match j["status"].as_str() {
        Some("error") => {
            if a.status == 200 {
                return Err("status error with HTTP 200".into());
            }
            let error_type = j["errorType"].as_str().unwrap_or("");
            if error_type.is_empty() || !j["error"].is_string() {
                return Err("an error without errorType and error strings".into());
            }
            Ok(())
        }
        Some("success") => {
            if a.status != 200 {
                return Err(format!("status success with HTTP {}", a.status));
            }
            let data = j.get("data").ok_or("success without data")?;
            data_shape(path, data)
        }
        _ => Err(format!("status is {}", show(&j["status"]))),
    }
}

fn strings(v: &Value) -> bool {
    v.as_array()
        .is_some_and(|l| l.iter().all(|s| s.is_string() && number(s).is_none()))
}

fn label_map(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.values().all(|s| s.is_string() && number(s).is_none()))
}

/// `[<number seconds>, "<value>"]` with the value a Go float: digits, `NaN`, `+Inf`, `-Inf`.
fn sample_point(p: &Value) -> Result<(), String> {
    let bad = || format!("not a [number, \"value\"] point: {}", show(p));
    let pair = p.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
    let t = number(&pair[0]).ok_or_else(bad)?;
    t.parse::<f64>().map_err(|_| bad())?;
    let v = pair[1]
        .as_str()
        .filter(|v| number(&pair[1]).is_none() && !v.is_empty());
    let v = v.ok_or_else(bad)?;
    let valid = matches!(v, "NaN" | "+Inf" | "-Inf")
        || (v.parse::<f64>().is_ok()
            && v.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'e' | b'+')));
    if !valid {
        return Err(format!("value {v:?} is not a Go float"));
    }
    Ok(())
}

fn data_shape(path: &str, data: &Value) -> Result<(), String> {
    let ensure = |ok: bool, what: &str| {
        ok.then_some(())
            .ok_or_else(|| format!("data is not {what}: {}", show(data)))
    };
    match path {
        "/api/v1/query" | "/api/v1/query_range" => {
            let result = &data["result"];
            match data["resultType"].as_str() {
                Some("scalar") => sample_point(result),
                Some("string") => {
                    let pair = result.as_array().filter(|a| a.len() == 2);
                    let ok = pair.is_some_and(|p| number(&p[0]).is_some() && p[1].is_string());
                    ensure(ok && number(&result[1]).is_none(), "[number, \"string\"]")
                }
                Some("vector") => {
                    let samples = result.as_array().ok_or("vector result is not an array")?;
                    for s in samples {
                        ensure(label_map(&s["metric"]), "samples with a metric map")?;
                        sample_point(&s["value"])?;
                    }
                    Ok(())
                }
                Some("matrix") => {
                    let series = result.as_array().ok_or("matrix result is not an array")?;
                    for s in series {
                        ensure(label_map(&s["metric"]), "series with a metric map")?;
                        let values = s["values"].as_array().ok_or("series without values")?;
                        for p in values {
                            sample_point(p)?;
                        }
                    }
                    Ok(())
                }
                _ => ensure(false, "a query result with a resultType"),
            }
        }
        "/api/v1/labels" => ensure(strings(data), "a list of strings"),
        p if p.starts_with("/api/v1/label/") => ensure(strings(data), "a list of strings"),
        "/api/v1/series" => ensure(
            data.as_array().is_some_and(|l| l.iter().all(label_map)),
            "a list of label maps",
        ),
        "/api/v1/metadata" => {
            let entry = |e: &Value| ["type", "help", "unit"].iter().all(|k| e[k].is_string());
            let ok = data.as_object().is_some_and(|m| {
                m.values()
                    .all(|list| list.as_array().is_some_and(|l| l.iter().all(entry)))
            });
            ensure(ok, "{metric: [{type, help, unit}]}")
        }
        "/api/v1/rules" => ensure(
            data["groups"]
                .as_array()
                .is_some_and(|g| g.iter().all(|g| g["rules"].is_array())),
            "{groups: [{rules: []}]}",
        ),
        "/api/v1/alerts" => ensure(data["alerts"].is_array(), "{alerts: []}"),
        "/api/v1/query_exemplars" => ensure(data.is_array(), "a list"),
        "/api/v1/status/buildinfo" => ensure(data["version"].is_string(), "{version: string}"),
        "/api/v1/format_query" => ensure(data.is_string(), "a string"),
        _ => Ok(()),
    }
}

// ----- cases ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Grafana,
    Differential,
    BadRequest,
}

impl Section {
    fn title(self) -> &'static str {
        match self {
            Section::Grafana => "Grafana's requests",
            Section::Differential => "differential",
            Section::BadRequest => "bad requests",
        }
    }
}

/// How an error message is compared.
#[derive(Clone, Copy, Debug)]
enum Msg {
    /// Word for word.
    Exact,
    /// Word for word but for letter case: Prometheus 3.x lower-cased the `Invalid time value
    /// for '<param>': ` that 2.42 writes.
    IgnoringCase,
    /// The part before the first occurrence of the delimiter (what follows lists series in
    /// an order neither side defines).
    Before(&'static str),
    /// Not compared: Prometheus' message is an artifact of its implementation.
    Any,
}

/// What is compared.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// The same HTTP status and the same JSON.
    Same,
    /// Like `Same`, with `data.result` compared as a set (instant vectors of queries that do
    /// not order their result).
    Unordered,
    /// Like `Unordered`, without `infos` (3.x annotations 2.42 does not have).
    UnorderedIgnoringInfos,
    /// Prometheus 2.42 ignores `limit` (new in 2.49): Prometheus' answer cut to the limit,
    /// with 3.x's warning when it cuts.
    Limit(usize),
    /// Both answer an error: the same HTTP status and `errorType`, the message as said.
    Error(Msg),
    /// The same HTTP status only (answers that are not the API's JSON, e.g. 405).
    StatusOnly,
    /// The gateway only (Prometheus cannot be the reference): a success Grafana can read.
    GatewaySuccess,
    /// The gateway only: an error with this status, `errorType` and message prefix.
    GatewayError(u16, &'static str, &'static str),
}

/// A gateway-only assertion on the JSON answer, beyond the comparison.
type Extra = fn(&Value) -> Result<(), String>;

struct Case {
    section: Section,
    name: String,
    req: Req,
    /// What Prometheus is asked instead of `req`, where 2.42 needs another spelling.
    reference: Option<Req>,
    check: Check,
    extra: Option<Extra>,
}

impl Case {
    fn reference(&mut self, req: Req) -> &mut Self {
        self.reference = Some(req);
        self
    }

    fn extra(&mut self, extra: Extra) -> &mut Self {
        self.extra = Some(extra);
        self
    }

    fn asks_prometheus(&self) -> bool {
        !matches!(self.check, Check::GatewaySuccess | Check::GatewayError(..))
    }
}

#[derive(Default)]
struct Cases(Vec<Case>);

impl Cases {
    fn add(&mut self, section: Section, name: &str, req: Req, check: Check) -> &mut Case {
        assert!(
            !self.0.iter().any(|c| c.name == name),
            "case listed twice: {name}"
        );
        self.0.push(Case {
            section,
            name: name.to_string(),
            req,
            reference: None,
            check,
            extra: None,
        });
        self.0.last_mut().unwrap()
    }
}

const Q: &str = "/api/v1/query";
const QR: &str = "/api/v1/query_range";
const LABELS: &str = "/api/v1/labels";
const SERIES: &str = "/api/v1/series";

fn values_path(name: &str) -> String {
    format!("/api/v1/label/{name}/values")
}

fn instant(query: &str, time: i64) -> Req {
    Req::get(Q, &[("query", query), ("time", &time.to_string())])
}

fn range(query: &str, start: i64, end: i64, step: &str) -> Req {
    Req::get(
        QR,
        &[
            ("query", query),
            ("start", &start.to_string()),
            ("end", &end.to_string()),
            ("step", step),
        ],
    )
}

/// Grafana's range start/end: float seconds floored to a multiple of the step.
fn floored(seconds: i64, step: i64) -> String {
    (seconds - seconds.rem_euclid(step)).to_string()
}

fn grafana_cases(c: &mut Cases) {
    use Check::*;
    use Section::Grafana as G;
    let (from, to) = ((S + 3600).to_string(), (S + 7200).to_string());
    let (from, to) = (from.as_str(), to.as_str());

    // "Save & test": `1+1` at 1970-01-01T00:00:04Z, then the build information.
    c.add(
        G,
        "health check: POST query 1+1 at time=4",
        Req::post(Q, &[("query", "1+1"), ("time", "4")]).grafana(),
        Same,
    )
    .extra(|j| {
        let (data, result) = (&j["data"], &j["data"]["result"]);
        let ok =
            data["resultType"] == "scalar" && number(&result[0]) == Some("4") && result[1] == "2";
        ok.then_some(())
            .ok_or(format!("data is not scalar [4, \"2\"]: {}", show(data)))
    });
    c.add(
        G,
        "health check: GET status/buildinfo",
        Req::get("/api/v1/status/buildinfo", &[]).grafana(),
        GatewaySuccess,
    )
    .extra(|j| match j["data"].get("features") {
        Some(_) => Err("data.features present: Grafana would take us for Mimir".into()),
        None => Ok(()),
    });

    // Range panels: POST form, start/end floored to the step, step as Grafana formats it.
    c.add(
        G,
        "range panel: POST, step 15",
        Req::post(
            QR,
            &[
                ("query", r#"rate(http_requests_total{code="200"}[5m])"#),
                ("start", &floored(S + 3600, 15)),
                ("end", &floored(S + 7200, 15)),
                ("step", "15"),
            ],
        )
        .grafana(),
        Same,
    );
    c.add(
        G,
        "range panel: POST, step 0.5, fractional start",
        Req::post(
            QR,
            &[
                ("query", r#"memory_usage_bytes{pod="pod-1"}"#),
                ("start", &format!("{}.5", S + 3600)),
                ("end", &(S + 3630).to_string()),
                ("step", "0.5"),
            ],
        )
        .grafana(),
        Same,
    );
    c.add(
        G,
        "range panel: GET (datasource set to GET), step 60, timeout",
        Req::get(
            QR,
            &[
                ("query", "max by (job) (memory_usage_bytes)"),
                ("start", &floored(S + 3600, 60)),
                ("end", &floored(S + 10_800, 60)),
                ("step", "60"),
                ("timeout", "30s"),
            ],
        )
        .grafana(),
        Same,
    );

    // Instant panels: POST form, time in float seconds (Grafana's `now` has milliseconds).
    c.add(
        G,
        "instant panel: POST topk at a fractional time",
        Req::post(
            Q,
            &[
                ("query", "topk(3, memory_usage_bytes)"),
                ("time", &format!("{T}.123")),
            ],
        )
        .grafana(),
        Same,
    );
    c.add(
        G,
        "instant panel: POST table of a selector",
        Req::post(
            Q,
            &[("query", "http_requests_total"), ("time", &T.to_string())],
        )
        .grafana(),
        Unordered,
    );

    // Exemplars: the frontend's probe in milliseconds, and the backend's query in seconds.
    let (from_ms, to_ms) = ((S + 3600) * 1000, (S + 7200) * 1000);
    c.add(
        G,
        "exemplars probe: GET query=test, start/end in ms",
        Req::get(
            "/api/v1/query_exemplars",
            &[
                ("query", "test"),
                ("start", &from_ms.to_string()),
                ("end", &to_ms.to_string()),
            ],
        )
        .grafana(),
        Same,
    )
    .extra(|j| {
        let ok = j["status"] == "success" && j["data"].is_array();
        ok.then_some(())
            .ok_or_else(|| format!("not a success with a list: {}", show(j)))
    });
    c.add(
        G,
        "exemplars query",
        Req::get(
            "/api/v1/query_exemplars",
            &[
                ("query", "rate(http_requests_total[5m])"),
                ("start", from),
                ("end", to),
            ],
        )
        .grafana(),
        Same,
    );

    // Metric names, label names and values, series: what the query editor and variables ask.
    c.add(
        G,
        "metric names: label/__name__/values limit=40000",
        Req::get(
            values_path("__name__"),
            &[("limit", "40000"), ("start", from), ("end", to)],
        )
        .grafana(),
        Limit(40_000),
    );
    c.add(
        G,
        "metric names matching a word",
        Req::get(
            values_path("__name__"),
            &[
                ("match[]", r#"{__name__=~".*request.*"}"#),
                ("limit", "40000"),
                ("start", from),
                ("end", to),
            ],
        )
        .grafana(),
        Limit(40_000),
    );
    c.add(
        G,
        "label names: GET",
        Req::get(LABELS, &[("limit", "40000"), ("start", from), ("end", to)]).grafana(),
        Limit(40_000),
    );
    c.add(
        G,
        "label names: GET with match[]",
        Req::get(
            LABELS,
            &[
                ("match[]", r#"{__name__=~".*duration.*"}"#),
                ("limit", "40000"),
                ("start", from),
                ("end", to),
            ],
        )
        .grafana(),
        Limit(40_000),
    );
    c.add(
        G,
        "label names: POST with match[]",
        Req::post(
            LABELS,
            &[
                ("match[]", "temperature_celsius"),
                ("limit", "40000"),
                ("start", from),
                ("end", to),
            ],
        )
        .grafana(),
        Limit(40_000),
    );
    c.add(
        G,
        "label values with match[] (label_values(m, l))",
        Req::get(
            values_path("pod"),
            &[
                (
                    "match[]",
                    r#"http_requests_total{code="500", job="worker"}"#,
                ),
                ("limit", "40000"),
                ("start", from),
                ("end", to),
            ],
        )
        .grafana(),
        Limit(40_000),
    );
    c.add(
        G,
        "label values of an escaped name (U__p_6f_d = pod)",
        Req::get(values_path("U__p_6f_d"), &[("start", from), ("end", to)]).grafana(),
        Same,
    )
    .reference(Req::get(values_path("pod"), &[("start", from), ("end", to)]).grafana());
    c.add(
        G,
        "label values of an escaped UTF-8 name (U__service_2e_name)",
        Req::get(
            values_path("U__service_2e_name"),
            &[("start", from), ("end", to)],
        )
        .grafana(),
        Same,
    );
    c.add(
        G,
        "series: GET match[]={__name__!=\"\"}",
        Req::get(
            SERIES,
            &[
                ("match[]", r#"{__name__!=""}"#),
                ("start", from),
                ("end", to),
                ("limit", "40000"),
            ],
        )
        .grafana(),
        Limit(40_000),
    );
    c.add(
        G,
        "series: POST match[]={__name__!=\"\"}",
        Req::post(
            SERIES,
            &[
                ("match[]", r#"{__name__!=""}"#),
                ("start", from),
                ("end", to),
            ],
        )
        .grafana(),
        Same,
    );
    c.add(
        G,
        "metadata",
        Req::get("/api/v1/metadata", &[("limit", "10000")]).grafana(),
        Same,
    );
    c.add(G, "rules", Req::get("/api/v1/rules", &[]).grafana(), Same);
    c.add(
        G,
        "query_result variable: GET query at an integer time",
        Req::get(
            Q,
            &[
                ("query", "max by (job) (memory_usage_bytes)"),
                ("time", &T.to_string()),
            ],
        )
        .grafana(),
        Unordered,
    );
}

fn differential_cases(c: &mut Cases) {
    use Check::*;
    use Section::Differential as D;

    // Every result type and the number formats: scalars, strings, NaN and infinities.
    c.add(D, "scalar literal", instant("42", T), Same);
    c.add(D, "scalar arithmetic", instant("2 ^ 10 / 3", T), Same);
    c.add(D, "scalar NaN", instant("0 / 0", T), Same);
    c.add(D, "scalar +Inf", instant("1 / 0", T), Same);
    c.add(D, "scalar -Inf", instant("-1 / 0", T), Same);
    c.add(
        D,
        "scalar tiny and huge",
        instant("1e-7 + 1e300 * 0", T),
        Same,
    );
    c.add(
        D,
        "scalar at a fractional time",
        Req::get(Q, &[("query", "time()"), ("time", &format!("{T}.25"))]),
        Same,
    );
    c.add(
        D,
        "string literal",
        instant(r#""hello \"world\"""#, T),
        Same,
    );
    c.add(
        D,
        "scalar(max(...))",
        instant("scalar(max(memory_usage_bytes))", T),
        Same,
    );

    // Instant vectors.
    c.add(
        D,
        "vector selector",
        instant("memory_usage_bytes", T),
        Unordered,
    );
    c.add(
        D,
        "vector at a fractional time",
        Req::get(
            Q,
            &[("query", "memory_usage_bytes"), ("time", &format!("{T}.5"))],
        ),
        Unordered,
    );
    c.add(
        D,
        "vector with matchers",
        instant(r#"http_requests_total{code="500", pod=~"pod-[01]"}"#, T),
        Unordered,
    );
    c.add(
        D,
        "vector with offset",
        instant("temperature_celsius offset 10m", T),
        Unordered,
    );
    c.add(
        D,
        "vector with @",
        instant(&format!("memory_usage_bytes @ {}", S + 5000), T),
        Unordered,
    );
    c.add(
        D,
        "vector of NaN",
        instant("(memory_usage_bytes - memory_usage_bytes) / 0", T),
        Unordered,
    );
    c.add(
        D,
        "rate",
        instant("rate(http_requests_total[5m])", T),
        Unordered,
    );
    c.add(
        D,
        "increase",
        instant(r#"increase(http_requests_total{code="500"}[10m])"#, T),
        Unordered,
    );
    c.add(
        D,
        "max_over_time of a gauge with gaps",
        instant("max_over_time(temperature_celsius[10m])", T),
        Unordered,
    );
    c.add(
        D,
        "sum by of integer counters",
        instant("sum by (code) (http_requests_total)", T),
        Unordered,
    );
    c.add(
        D,
        "count and max",
        instant(
            "count by (job) (temperature_celsius) or max by (job) (memory_usage_bytes)",
            T,
        ),
        Unordered,
    );
    c.add(
        D,
        "sort_desc (ordered)",
        instant("sort_desc(memory_usage_bytes)", T),
        Same,
    );
    c.add(
        D,
        "sort (ordered)",
        instant("sort(temperature_celsius)", T),
        Same,
    );
    c.add(
        D,
        "bottomk (ordered)",
        instant("bottomk(2, memory_usage_bytes)", T),
        Same,
    );
    c.add(
        D,
        "histogram_quantile over classic buckets",
        instant(
            "histogram_quantile(0.9, request_duration_seconds_bucket)",
            T,
        ),
        Unordered,
    );
    c.add(
        D,
        "absent",
        instant(r#"absent(nonexistent_metric{job="x"})"#, T),
        Same,
    );
    c.add(
        D,
        "label_replace",
        instant(
            r#"label_replace(memory_usage_bytes, "n", "$1", "pod", "pod-(.*)")"#,
            T,
        ),
        Unordered,
    );
    c.add(
        D,
        "count_values",
        instant(r#"count_values("v", http_requests_total{code="500"})"#, T),
        Unordered,
    );
    c.add(
        D,
        "comparison filter keeps the name",
        instant("memory_usage_bytes > 1.2e8", T),
        Unordered,
    );
    c.add(
        D,
        "bool comparison",
        instant("memory_usage_bytes > bool 1.2e8", T),
        Unordered,
    );
    c.add(
        D,
        "one-to-one matching",
        instant(
            r#"http_requests_total{code="500"} / on(pod) http_requests_total{code="200"}"#,
            T,
        ),
        Unordered,
    );
    c.add(
        D,
        "subquery",
        instant(
            r#"max_over_time(rate(http_requests_total{code="200"}[5m])[30m:1m])"#,
            T,
        ),
        Unordered,
    );
    c.add(
        D,
        "rate of a gauge (3.x's info ignored)",
        instant("rate(memory_usage_bytes[5m])", T),
        UnorderedIgnoringInfos,
    );
    c.add(D, "empty vector", instant("nonexistent_metric", T), Same);
    c.add(
        D,
        "vector after the end of the data, within the lookback",
        instant("memory_usage_bytes", S + 10_897),
        Unordered,
    );
    c.add(
        D,
        "vector long after the data",
        instant("memory_usage_bytes", S + 20_000),
        Same,
    );
    c.add(
        D,
        "RFC 3339 time",
        Req::get(
            Q,
            &[
                ("query", "memory_usage_bytes"),
                ("time", "2023-11-14T23:13:27.000Z"),
            ],
        ),
        Unordered,
    );
    c.add(
        D,
        "instant query: POST form",
        Req::post(
            Q,
            &[("query", "temperature_celsius"), ("time", &T.to_string())],
        ),
        Unordered,
    );
    c.add(
        D,
        "instant query: URL and form parameters together",
        Req::raw(
            Verb::Post,
            Q,
            &enc(&[("time", &T.to_string())]),
            Some(enc(&[("query", "temperature_celsius")])),
        ),
        Unordered,
    );

    // Matrices: from instant queries (raw samples: millisecond timestamps) and range queries.
    c.add(
        D,
        "range vector: raw samples",
        instant(r#"memory_usage_bytes{pod="pod-2"}[1m]"#, T),
        Same,
    );
    c.add(
        D,
        "range query: rate, step 60",
        range("rate(http_requests_total[5m])", S + 3600, S + 7200, "60"),
        Same,
    );
    c.add(
        D,
        "range query: the end of the data, step 15",
        range("memory_usage_bytes", S + 10_500, S + 11_200, "15"),
        Same,
    );
    c.add(
        D,
        "range query: whole data, sum of counters, step 2m",
        range("sum(http_requests_total)", S, S + 11_000, "2m"),
        Same,
    );
    c.add(D, "range query: scalar", range("1", S, S + 600, "60"), Same);
    c.add(
        D,
        "range query: time() at half seconds",
        Req::get(
            QR,
            &[
                ("query", "time()"),
                ("start", &format!("{T}.5")),
                ("end", &(T + 3).to_string()),
                ("step", "0.5"),
            ],
        ),
        Same,
    );
    c.add(
        D,
        "range query: topk",
        range("topk(1, memory_usage_bytes)", S + 3600, S + 5400, "300"),
        Same,
    );
    c.add(
        D,
        "range query: empty",
        range("nonexistent_metric", S, S + 3600, "60"),
        Same,
    );
    c.add(
        D,
        "range query: RFC 3339 start and end, step as a duration",
        Req::get(
            QR,
            &[
                ("query", "temperature_celsius"),
                ("start", "2023-11-14T23:13:20Z"),
                ("end", "2023-11-14T23:43:20Z"),
                ("step", "1m30s"),
            ],
        ),
        Same,
    );
    c.add(
        D,
        "range query: POST form",
        Req::post(
            QR,
            &[
                ("query", "increase(http_requests_total[10m])"),
                ("start", &(S + 3600).to_string()),
                ("end", &(S + 5400).to_string()),
                ("step", "120"),
            ],
        ),
        Same,
    );

    // Label names.
    let inside = [
        ("start", (S + 3600).to_string()),
        ("end", (S + 3900).to_string()),
    ];
    let inside: Vec<(&str, &str)> = inside.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = [("start", "1600000000"), ("end", "1600003600")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all: Vec<(&str, &str)> = inside.clone();
        all.extend_from_slice(extra);
        all
    };
    c.add(D, "labels", Req::get(LABELS, &[]), Same);
    c.add(D, "labels: start/end", Req::get(LABELS, &inside), Same);
    c.add(
        D,
        "labels: before the data",
        Req::get(LABELS, &before),
        Same,
    );
    c.add(
        D,
        "labels: match[]",
        Req::get(LABELS, &[("match[]", "temperature_celsius")]),
        Same,
    );
    c.add(
        D,
        "labels: two match[] and start/end",
        Req::get(
            LABELS,
            &with(&[
                ("match[]", "memory_usage_bytes"),
                (
                    "match[]",
                    r#"{__name__="request_duration_seconds_bucket", pod="pod-1"}"#,
                ),
            ]),
        ),
        Same,
    );
    c.add(
        D,
        "labels: match[] matching nothing",
        Req::get(LABELS, &[("match[]", "nonexistent_metric")]),
        Same,
    );
    c.add(
        D,
        "labels: limit 2",
        Req::get(LABELS, &[("limit", "2")]),
        Limit(2),
    );

    // Label values.
    c.add(
        D,
        "label values: job",
        Req::get(values_path("job"), &[]),
        Same,
    );
    c.add(
        D,
        "label values: __name__ with start/end",
        Req::get(values_path("__name__"), &inside),
        Same,
    );
    c.add(
        D,
        "label values: __name__ before the data",
        Req::get(values_path("__name__"), &before),
        Same,
    );
    c.add(
        D,
        "label values: le with match[]",
        Req::get(
            values_path("le"),
            &[("match[]", r#"request_duration_seconds_bucket{pod="pod-3"}"#)],
        ),
        Same,
    );
    c.add(
        D,
        "label values: two match[]",
        Req::get(
            values_path("code"),
            &with(&[
                ("match[]", r#"http_requests_total{pod="pod-0"}"#),
                ("match[]", r#"{__name__=~"http_.+", code=~"5.."}"#),
            ]),
        ),
        Same,
    );
    c.add(
        D,
        "label values: a label nobody has",
        Req::get(values_path("nonexistent"), &[]),
        Same,
    );
    c.add(
        D,
        "label values: match[] matching nothing",
        Req::get(values_path("pod"), &[("match[]", "nonexistent_metric")]),
        Same,
    );
    c.add(
        D,
        "label values: limit 3",
        Req::get(values_path("__name__"), &[("limit", "3")]),
        Limit(3),
    );
    c.add(
        D,
        "label values: limit 0 is no limit",
        Req::get(values_path("pod"), &[("limit", "0")]),
        Limit(0),
    );
    c.add(
        D,
        "label values: limit above the count",
        Req::get(values_path("job"), &[("limit", "2")]),
        Limit(2),
    );

    // Series.
    c.add(
        D,
        "series: one match[]",
        Req::get(SERIES, &[("match[]", "temperature_celsius")]),
        Same,
    );
    c.add(
        D,
        "series: overlapping match[] with start/end",
        Req::get(
            SERIES,
            &with(&[
                ("match[]", r#"http_requests_total{code="500"}"#),
                ("match[]", r#"{__name__=~"http_.*", pod=~"pod-[12]"}"#),
            ]),
        ),
        Same,
    );
    c.add(
        D,
        "series: regex and negative matchers",
        Req::get(
            SERIES,
            &[(
                "match[]",
                r#"{__name__=~"request_duration_seconds_.+", le!~"0.*|\\+Inf", job!="worker"}"#,
            )],
        ),
        Same,
    );
    c.add(
        D,
        "series: before the data",
        Req::get(
            SERIES,
            &[
                ("match[]", "memory_usage_bytes"),
                ("start", "1600000000"),
                ("end", "1600003600"),
            ],
        ),
        Same,
    );
    c.add(
        D,
        "series: RFC 3339 start/end",
        Req::get(
            SERIES,
            &[
                ("match[]", "memory_usage_bytes"),
                ("start", "2023-11-14T23:00:00Z"),
                ("end", "2023-11-14T23:30:00+00:00"),
            ],
        ),
        Same,
    );
    c.add(
        D,
        "series: limit 5",
        Req::get(
            SERIES,
            &[("match[]", r#"{__name__=~".+"}"#), ("limit", "5")],
        ),
        Limit(5),
    );

    // The rest of what Grafana and Prometheus' UI read.
    c.add(
        D,
        "metadata of a metric",
        Req::get("/api/v1/metadata", &[("metric", "memory_usage_bytes")]),
        Same,
    );
    c.add(D, "alerts", Req::get("/api/v1/alerts", &[]), Same);
    c.add(
        D,
        "exemplars in seconds, POST",
        Req::post(
            "/api/v1/query_exemplars",
            &[
                ("query", "http_requests_total"),
                ("start", &T.to_string()),
                ("end", &(T + 60).to_string()),
            ],
        ),
        Same,
    );
    c.add(
        D,
        "format_query",
        Req::get(
            "/api/v1/format_query",
            &[("query", "sum(rate(x[5m]))by(job)")],
        ),
        Same,
    );
    c.add(D, "/-/healthy", Req::get("/-/healthy", &[]), StatusOnly);
    c.add(D, "/-/ready", Req::get("/-/ready", &[]), StatusOnly);
}

fn bad_request_cases(c: &mut Cases) {
    use Check::*;
    use Msg::*;
    use Section::BadRequest as B;
    let t = T.to_string();
    let t = t.as_str();
    let from = (S + 3600).to_string();
    let from = from.as_str();

    // Unparsable queries.
    c.add(
        B,
        "unparsable query: unclosed parenthesis",
        instant("sum(", T),
        Error(Exact),
    );
    c.add(
        B,
        "unparsable query: unclosed braces",
        instant("foo{", T),
        Error(Exact),
    );
    c.add(
        B,
        "unparsable query: trailing operator",
        instant("rate(foo[5m]) +", T),
        Error(Exact),
    );
    // Parse errors word for word, position included, for what 2.42 and 3.x word alike.
    for query in [
        "1)",
        "(1",
        "foo[5m",
        "sum by (foo) bar",
        "foo offset",
        "foo @",
        "{}",
        "foo{__name__=\"bar\"}",
        "rate(foo)",
        "foo(1)",
        "topk(foo)",
        "1 > 2",
        "foo and 1",
        "foo[5m:1m][1m]",
        "\"a\" + 1",
        "x @ 1 @ 2",
        "x offset 1m offset 2m",
        "sum(x) offset 5m",
        "rate(foo[5m],)",
        "1e",
        "foo[0s]",
        "{a=b}",
        "{a=\"b\" c=\"d\"}",
        "count_values(1, foo)",
        "a and on(x) group_left(y) b",
        "-{a=\"b\"}[5m]",
        "round(x,1,2)",
        "x offset 5m[5m]",
        "sum(a) by (a b)",
        "foo @ Inf",
        "foo\n  + bar baz",
    ] {
        c.add(
            B,
            &format!("parse error: {query}"),
            instant(query, T),
            Error(Exact),
        );
    }
    c.add(
        B,
        "unparsable query: range query",
        range("sum(", S, S + 100, "10"),
        Error(Exact),
    );
    c.add(
        B,
        "missing query",
        Req::get(Q, &[("time", t)]),
        Error(Exact),
    );
    c.add(
        B,
        "missing query: range query",
        Req::get(QR, &[("start", from), ("end", from), ("step", "10")]),
        Error(Exact),
    );
    c.add(
        B,
        "range query of a string",
        range(r#""a""#, S, S + 100, "10"),
        Error(Exact),
    );
    c.add(
        B,
        "range query of a range vector",
        range("up[5m]", S, S + 100, "10"),
        Error(Exact),
    );

    // Times, steps, resolution.
    c.add(
        B,
        "bad time: yesterday",
        Req::get(Q, &[("query", "1"), ("time", "yesterday")]),
        Error(IgnoringCase),
    );
    c.add(
        B,
        "bad start",
        Req::get(
            QR,
            &[
                ("query", "1"),
                ("start", "yesterday"),
                ("end", "100"),
                ("step", "10"),
            ],
        ),
        Error(Exact),
    );
    c.add(
        B,
        "missing start",
        Req::get(QR, &[("query", "1"), ("end", "100"), ("step", "10")]),
        Error(Exact),
    );
    c.add(
        B,
        "missing step",
        Req::get(QR, &[("query", "1"), ("start", "1"), ("end", "100")]),
        Error(Exact),
    );
    c.add(B, "step 0", range("1", 1, 100, "0"), Error(Exact));
    c.add(B, "negative step", range("1", 1, 100, "-5"), Error(Exact));
    c.add(
        B,
        "unparsable step",
        range("1", 1, 100, "abc"),
        Error(Exact),
    );
    c.add(B, "end before start", range("1", 100, 1, "5"), Error(Exact));
    c.add(
        B,
        "too many points: 11,002",
        range("nonexistent_metric", 0, 110_010, "10"),
        Error(Exact),
    );
    c.add(
        B,
        "at the resolution limit: 11,001 points are accepted",
        range("nonexistent_metric", 0, 110_000, "10"),
        Same,
    );
    c.add(
        B,
        "bad timeout",
        Req::get(Q, &[("query", "1"), ("time", t), ("timeout", "abc")]),
        Error(Exact),
    );
    c.add(
        B,
        "bad start on labels",
        Req::get(LABELS, &[("start", "abc")]),
        Error(IgnoringCase),
    );
    c.add(
        B,
        "bad end on series",
        Req::get(SERIES, &[("match[]", "up"), ("end", "abc")]),
        Error(IgnoringCase),
    );

    // Execution errors (422).
    c.add(
        B,
        "execution: duplicate label set",
        instant(
            r#"label_replace(http_requests_total, "code", "x", "", "")"#,
            T,
        ),
        Error(Exact),
    );
    c.add(
        B,
        "execution: many-to-many matching",
        instant("http_requests_total + on(job) memory_usage_bytes", T),
        Error(Before("[")),
    );

    // Parameters nobody knows, and encodings.
    c.add(
        B,
        "unknown parameters are accepted",
        Req::get(
            Q,
            &[("query", "1"), ("time", t), ("foo", "bar"), ("stats", "")],
        ),
        Same,
    );
    c.add(
        B,
        "unknown form parameters are accepted",
        Req::post(
            QR,
            &[
                ("query", "1"),
                ("start", from),
                ("end", from),
                ("step", "1"),
                ("whatever[]", "x"),
            ],
        ),
        Same,
    );
    c.add(
        B,
        "Thanos' parameters are accepted (Prometheus ignores them)",
        Req::get(
            Q,
            &[
                ("query", "memory_usage_bytes"),
                ("time", t),
                ("dedup", "false"),
                ("partial_response", "false"),
                ("replicaLabels[]", "replica"),
                ("storeMatch[]", r#"{__address__=~"127\\.0\\.0\\.1:.+"}"#),
            ],
        ),
        Unordered,
    );
    c.add(
        B,
        "invalid UTF-8 in the query (%ff)",
        Req::raw(Verb::Get, Q, &format!("query=%ff&time={t}"), None),
        Error(Any),
    );
    c.add(
        B,
        "invalid UTF-8 in a form body (%ff)",
        Req::raw(Verb::Post, Q, "", Some(format!("query=up%ff&time={t}"))),
        Error(Any),
    );
    c.add(
        B,
        "invalid UTF-8 in an unknown parameter's value",
        Req::raw(Verb::Get, Q, &format!("query=1&time={t}&x=%ff"), None),
        Same,
    );
    c.add(
        B,
        "invalid UTF-8 in an unknown parameter's name",
        Req::raw(Verb::Get, Q, &format!("query=1&time={t}&%ff=1"), None),
        Same,
    );
    c.add(
        B,
        "invalid UTF-8 in match[]",
        Req::raw(Verb::Get, SERIES, "match[]=%ff", None),
        Error(Any),
    );
    c.add(
        B,
        "malformed percent escape (%zz)",
        Req::raw(Verb::Get, Q, &format!("query=1&time={t}&x=%zz"), None),
        Same,
    );
    c.add(
        B,
        "huge form body (5 MiB)",
        Req::raw(
            Verb::Post,
            Q,
            "",
            Some(format!("query=1&time={t}&pad={}", "a".repeat(5 << 20))),
        ),
        GatewayError(400, "bad_data", ""),
    );
    c.add(
        B,
        "large form body under the limit (3 MiB)",
        Req::raw(
            Verb::Post,
            Q,
            "",
            Some(format!("query=1&time={t}&pad={}", "a".repeat(3 << 20))),
        ),
        Same,
    );

    // match[].
    c.add(
        B,
        "series without match[]",
        Req::get(SERIES, &[]),
        Error(Exact),
    );
    c.add(
        B,
        "series: unparsable match[]",
        Req::get(SERIES, &[("match[]", "{")]),
        Error(Exact),
    );
    c.add(
        B,
        "series: match[] that is not a selector",
        Req::get(SERIES, &[("match[]", "sum(x)")]),
        Error(Exact),
    );
    c.add(
        B,
        "series: match[] with only empty matchers",
        Req::get(SERIES, &[("match[]", r#"{foo=""}"#)]),
        Error(Exact),
    );
    c.add(
        B,
        "labels: unparsable match[]",
        Req::get(LABELS, &[("match[]", "{")]),
        Error(Exact),
    );
    c.add(
        B,
        "label values: unparsable match[]",
        Req::get(values_path("job"), &[("match[]", "{")]),
        Error(Exact),
    );
    c.add(
        B,
        "label values: match[] with only empty matchers",
        Req::get(values_path("job"), &[("match[]", r#"{foo=""}"#)]),
        Error(Exact),
    );

    // limit: 2.42 ignores the parameter; 3.x refuses what is not a non-negative integer.
    c.add(
        B,
        "bad limit: abc",
        Req::get(values_path("job"), &[("limit", "abc")]),
        GatewayError(400, "bad_data", r#"invalid parameter "limit""#),
    );
    c.add(
        B,
        "bad limit: negative",
        Req::get(LABELS, &[("limit", "-1")]),
        GatewayError(400, "bad_data", r#"invalid parameter "limit""#),
    );
    c.add(
        B,
        "bad limit: series",
        Req::get(SERIES, &[("match[]", "up"), ("limit", "1.5")]),
        GatewayError(400, "bad_data", r#"invalid parameter "limit""#),
    );

    // Thanos' parameters: strictly booleans.
    c.add(
        B,
        "bad dedup",
        Req::get(Q, &[("query", "1"), ("time", t), ("dedup", "maybe")]),
        GatewayError(400, "bad_data", r#"invalid parameter "dedup""#),
    );

    // Label names in the path.
    c.add(
        B,
        "label name: invalid UTF-8 (%ff)",
        Req::raw(Verb::Get, values_path("%ff"), "", None),
        Error(Exact),
    );
    c.add(
        B,
        "label name: bad U__ escape (not hex)",
        Req::get(values_path("U__a_zz_"), &[]),
        Same,
    );
    c.add(
        B,
        "label name: bad U__ escape (unterminated)",
        Req::get(values_path("U__a_2e"), &[]),
        Same,
    );
    c.add(
        B,
        "label name: bad U__ escape (surrogate)",
        Req::get(values_path("U__a_d800_"), &[]),
        Same,
    );

    // Exemplars: validated like queries.
    c.add(
        B,
        "exemplars: unparsable query",
        Req::get(
            "/api/v1/query_exemplars",
            &[("query", "sum("), ("start", "1"), ("end", "2")],
        ),
        Error(Exact),
    );
    c.add(
        B,
        "exemplars: end before start",
        Req::get(
            "/api/v1/query_exemplars",
            &[("query", "up"), ("start", "10"), ("end", "2")],
        ),
        Error(Exact),
    );

    // Methods: Grafana retries a refused POST on a metadata path as GET.
    c.add(
        B,
        "POST on label values is refused",
        Req::post(values_path("job"), &[("match[]", "up")]),
        StatusOnly,
    );
}

// ----- comparison ----------------------------------------------------------------------------

/// The path of the first difference between Prometheus' JSON (`want`) and ours.
fn first_difference(want: &Value, got: &Value, path: &str) -> Option<String> {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let here = format!("{path}.{k}");
                match b.get(k) {
                    None => return Some(format!("{here}: missing (Prometheus: {})", show(v))),
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, &here) {
                            return Some(d);
                        }
                    }
                }
            }
            b.iter()
                .find(|(k, _)| !a.contains_key(*k))
                .map(|(k, v)| format!("{path}.{k}: only ours has it: {}", show(v)))
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if let Some(d) = first_difference(x, y, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (a.len() != b.len()).then(|| {
                format!(
                    "{path}: {} elements from Prometheus, {} from us",
                    a.len(),
                    b.len()
                )
            })
        }
        _ if want == got => None,
        _ => Some(format!(
            "{path}: Prometheus {}, ours {}",
            show(want),
            show(got)
        )),
    }
}

/// The JSON to compare: without `data.stats` (Prometheus' optional statistics, which we do
/// not produce), `data.result` sorted where order is not defined, `infos` dropped if asked.
fn comparable(a: &Answer, check: Check) -> Value {
    let mut v = a.json.clone().unwrap_or(Value::Null);
    if let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) {
        data.remove("stats");
    }
    if matches!(check, Check::UnorderedIgnoringInfos)
        && let Some(o) = v.as_object_mut()
    {
        o.remove("infos");
    }
    if matches!(check, Check::Unordered | Check::UnorderedIgnoringInfos)
        && let Some(result) = v
            .get_mut("data")
            .and_then(|d| d.get_mut("result"))
            .and_then(Value::as_array_mut)
    {
        result.sort_by_key(|s| s["metric"].to_string());
    }
    v
}

/// Compares our answer with Prometheus' (`None` for gateway-only cases).
fn compare(case: &Case, want: Option<&Answer>, got: &Answer) -> Result<(), String> {
    let both = || {
        format!(
            "\n      Prometheus: {}\n      ours:       {got}",
            want.map_or("-".to_string(), |w| w.to_string())
        )
    };
    let same_json = |w: Value, g: Value, want: &Answer| -> Result<(), String> {
        if want.status != got.status {
            return Err(format!(
                "HTTP {} from Prometheus, {} from us{}",
                want.status,
                got.status,
                both()
            ));
        }
        if want.json.is_none() {
            return Err(format!("Prometheus' answer is not JSON{}", both()));
        }
        match first_difference(&w, &g, "") {
            None => Ok(()),
            Some(d) => Err(format!("{d}{}", both())),
        }
    };
    match (case.check, want) {
        (Check::Same | Check::Unordered | Check::UnorderedIgnoringInfos, Some(want)) => same_json(
            comparable(want, case.check),
            comparable(got, case.check),
            want,
        ),
        (Check::Limit(n), Some(want)) => {
            let mut w = comparable(want, case.check);
            if n > 0
                && let Some(data) = w.get_mut("data").and_then(Value::as_array_mut)
                && data.len() > n
            {
                data.truncate(n);
                w["warnings"] = serde_json::json!(["results truncated due to limit"]);
            }
            same_json(w, comparable(got, case.check), want)
        }
        (Check::Error(msg), Some(want)) => {
            if !want.is_error_json() {
                return Err(format!("Prometheus did not answer an error{}", both()));
            }
            if !got.is_error_json() {
                return Err(format!("no error from us{}", both()));
            }
            if want.status != got.status || want.error_type() != got.error_type() {
                return Err(format!(
                    "HTTP {} {} from Prometheus, {} {} from us{}",
                    want.status,
                    want.error_type(),
                    got.status,
                    got.error_type(),
                    both()
                ));
            }
            let (w, g) = (want.error(), got.error());
            let same = match msg {
                Msg::Exact => w == g,
                Msg::IgnoringCase => w.eq_ignore_ascii_case(g),
                Msg::Before(delimiter) => w.split(delimiter).next() == g.split(delimiter).next(),
                Msg::Any => true,
            };
            if !same {
                return Err(format!(
                    "message differs ({msg:?}): Prometheus {w:?}, ours {g:?}"
                ));
            }
            Ok(())
        }
        (Check::StatusOnly, Some(want)) => {
            (want.status == got.status).then_some(()).ok_or_else(|| {
                format!(
                    "HTTP {} from Prometheus, {} from us{}",
                    want.status,
                    got.status,
                    both()
                )
            })
        }
        (Check::GatewaySuccess, _) => (got.status == 200)
            .then_some(())
            .ok_or_else(|| format!("not a success: {got}")),
        (Check::GatewayError(status, error_type, prefix), _) => {
            let ok = got.status == status
                && got.error_type() == error_type
                && got.error().starts_with(prefix);
            ok.then_some(()).ok_or_else(|| {
                format!("expected HTTP {status} {error_type} {prefix:?}…, got {got}")
            })
        }
        (_, None) => unreachable!("Prometheus was asked"),
    }
}

/// Everything checked about one case; `Err` lists what failed.
fn judge(case: &Case, want: Option<&Answer>, got: &Answer) -> Result<(), String> {
    let mut problems = Vec::new();
    let grafana_parsed = !matches!(case.check, Check::StatusOnly);
    if grafana_parsed && let Err(e) = grafana_reads(&case.req.path, got) {
        problems.push(format!("Grafana cannot read our answer: {e}: {got}"));
    }
    // The checker itself must accept what Prometheus says.
    if grafana_parsed
        && let Some(want) = want
        && want.status < 405
        && let Err(e) = grafana_reads(&case.req.path, want)
    {
        problems.push(format!(
            "(checker) Prometheus' answer rejected: {e}: {want}"
        ));
    }
    if let Err(e) = compare(case, want, got) {
        problems.push(e);
    }
    if let (Some(extra), Some(json)) = (case.extra, &got.json)
        && let Err(e) = extra(json)
    {
        problems.push(e);
    }
    // Grafana asks for gzip: a sizeable answer comes compressed.
    if case.req.grafana && got.text.len() > 1024 && !got.gzipped {
        problems.push(format!(
            "{} bytes not gzip-compressed though Grafana asked",
            got.text.len()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

// ----- topology ------------------------------------------------------------------------------

/// Prometheus over promtool blocks, a sidecar in front of it, the gateway over the sidecar.
/// Fields drop in order: the gateway, the sidecar, Prometheus, then the files.
struct Topology {
    _gateway: Panoptes,
    _sidecar: Sidecar,
    prometheus: PrometheusServer,
    gateway_url: String,
    _dir: tempfile::TempDir,
}

fn start() -> Topology {
    let dir = tempfile::tempdir().unwrap();
    let series = data::generate(&Spec::default());
    promtool::create_blocks(&series, &dir.path().join("tsdb"));
    let prometheus = PrometheusServer::start(
        &dir.path().join("tsdb/blocks"),
        &dir.path().join("prometheus"),
        &[],
    );
    let sidecar = Sidecar::start(&prometheus.url());
    let grpc = sidecar.grpc;
    let http = free_addr();
    let gateway = Panoptes::start(
        &[
            "query".into(),
            format!("--http-address={http}"),
            format!("--endpoint={grpc}"),
        ],
        http,
    );
    Topology {
        _gateway: gateway,
        _sidecar: sidecar,
        prometheus,
        gateway_url: format!("http://{http}"),
        _dir: dir,
    }
}

/// Waits until the gateway sees the sidecar's series.
async fn wait_for_data(client: &reqwest::Client, gateway: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let probe = Req::get(values_path("__name__"), &[]);
    loop {
        let answer = fetch(client, gateway, &probe).await;
        let names = answer
            .json
            .as_ref()
            .and_then(|j| j["data"].as_array())
            .map_or(0, Vec::len);
        if names > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway never saw the sidecar's data: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ----- the test ------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    requests: usize,
    compared: usize,
    passed: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_requests_and_json_differential_against_prometheus() {
    tokio::time::timeout(TEST_LIMIT, run())
        .await
        .expect("the test ran past its time limit");
}

async fn run() {
    let started = Instant::now();
    let mut cases = Cases::default();
    grafana_cases(&mut cases);
    differential_cases(&mut cases);
    bad_request_cases(&mut cases);
    let cases = cases.0;
    let known: BTreeMap<&str, usize> = KNOWN_DIFFERENCES
        .iter()
        .enumerate()
        .flat_map(|(i, (_, names))| names.iter().map(move |n| (*n, i)))
        .collect();
    assert_eq!(
        known.len(),
        KNOWN_DIFFERENCES
            .iter()
            .map(|(_, c)| c.len())
            .sum::<usize>(),
        "a case listed twice in KNOWN_DIFFERENCES"
    );
    for name in known.keys() {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "known difference of no case: {name}"
        );
    }

    let topology = start();
    let prometheus = topology.prometheus.url();
    let gateway = topology.gateway_url.clone();
    let client = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .build()
        .unwrap();
    let fresh = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    wait_for_data(&client, &gateway).await;
    let setup = started.elapsed();

    let mut tallies: BTreeMap<Section, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut known_seen: BTreeMap<&str, String> = BTreeMap::new();
    for case in &cases {
        let tally = tallies.entry(case.section).or_default();
        // An answer to an oversized body leaves its connection unusable: no reuse after one.
        let client = if case.req.body.as_ref().is_some_and(|b| b.len() > 1 << 20) {
            &fresh
        } else {
            &client
        };
        let got = fetch(client, &gateway, &case.req).await;
        tally.requests += 1;
        let want = if case.asks_prometheus() {
            let req = case.reference.as_ref().unwrap_or(&case.req);
            tally.requests += 1;
            tally.compared += 1;
            Some(fetch(client, &prometheus, req).await)
        } else {
            None
        };
        match judge(case, want.as_ref(), &got) {
            Ok(()) => tally.passed += 1,
            Err(e) => {
                let line = format!(
                    "[{}] {}\n    {}\n    {e}",
                    case.section.title(),
                    case.name,
                    case.req
                );
                if known.contains_key(case.name.as_str()) {
                    known_seen.insert(case.name.as_str(), line);
                } else {
                    failures.push(line);
                }
            }
        }
    }

    println!(
        "\nHTTP API against Prometheus 2.42 (setup {setup:.1?}, total {:.1?}):",
        started.elapsed()
    );
    for (section, t) in &tallies {
        println!(
            "  {:<20} {:>3} requests, {:>3} compared with Prometheus, {:>3} of {:>3} cases pass",
            section.title(),
            t.requests,
            t.compared,
            t.passed,
            cases.iter().filter(|c| c.section == *section).count()
        );
    }
    let known_cases: usize = KNOWN_DIFFERENCES.iter().map(|(_, c)| c.len()).sum();
    println!(
        "\nknown differences ({}, in {known_cases} cases; {} still differ):",
        KNOWN_DIFFERENCES.len(),
        known_seen.len()
    );
    for (i, (difference, names)) in KNOWN_DIFFERENCES.iter().enumerate() {
        println!("\n{}. {difference}", i + 1);
        for name in *names {
            match known_seen.get(name) {
                Some(line) => println!("  {line}"),
                None => println!("  {name}: NOW AGREES, remove it from KNOWN_DIFFERENCES"),
            }
        }
    }
    let mut message = String::new();
    for f in &failures {
        writeln!(message, "{f}").unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Prometheus or cannot be read by Grafana:\n{message}",
        failures.len(),
        cases.len()
    );
}
