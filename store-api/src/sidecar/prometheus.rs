//! A small HTTP client for what the sidecar needs from Prometheus: remote read (streamed XOR
//! chunks), the configuration (external labels), the label APIs and the TSDB's lowest
//! timestamp.

use super::frames::FrameReader;
use super::http_client::HttpClientConfig;
use crate::error::StoreError;
use crate::labels::{Labels, MatchOp, Matcher, selector};
use crate::store::{Meta, MetadataResponse};
use crate::trace;
use panoptes_proto::prometheus as prompb;
use prost::Message;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::Instrument;

const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// What the sidecar advertises of the TSDB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsdbStatus {
    /// The oldest sample, in blocks or head (ms).
    pub min_time: i64,
    /// The newest sample of the head; with an empty head, the end of the newest block (ms).
    pub head_max_time: i64,
    /// Series in the head: non-zero while Prometheus ingests.
    pub head_series: u64,
}

#[derive(Clone, Debug)]
pub struct PrometheusClient {
    base: String,
    /// `base` with its password redacted: what messages and logs show.
    shown: String,
    /// What the server is, for messages ("Prometheus", or another server speaking its API).
    server: &'static str,
    http: reqwest::Client,
    /// Credentials and TLS (`--prometheus.http-client-file`).
    config: HttpClientConfig,
}

/// The `{status, data, error}` envelope of Prometheus' HTTP API.
#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ConfigData {
    yaml: String,
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    global: GlobalConfig,
}

#[derive(Deserialize, Default)]
struct GlobalConfig {
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
}

impl PrometheusClient {
    /// A client for the Prometheus at `base_url` (credentials in it are used, and redacted
    /// wherever it is shown), with `config`'s credentials and TLS.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        config: HttpClientConfig,
    ) -> Result<Self, StoreError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout);
        if let Some(tls) = config.tls() {
            let tls = tls
                .config(&[b"http/1.1"])
                .map_err(|e| StoreError::InvalidArgument(format!("Prometheus client TLS: {e}")))?;
            builder = builder.tls_backend_preconfigured((*tls).clone());
        }
        let http = builder
            .build()
            .map_err(|e| StoreError::Internal(format!("HTTP client: {e}")))?;
        let base = base_url.trim_end_matches('/').to_string();
        Ok(Self {
            shown: redacted(&base),
            server: "Prometheus",
            base,
            http,
            config,
        })
    }

    /// Names the server in messages: another server that speaks Prometheus' HTTP API.
    pub fn named(mut self, server: &'static str) -> Self {
        self.server = server;
        self
    }

    /// The URL, its password redacted.
    pub fn url(&self) -> &str {
        &self.shown
    }

    fn unavailable(&self, what: &str, err: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable(format!("{} at {} ({what}): {err}", self.server, self.shown))
    }

    /// A request that got no answer: a timeout is one, anything else means unreachable.
    pub(crate) fn request_error(&self, what: &str, err: reqwest::Error) -> StoreError {
        let timeout = err.is_timeout();
        let error = self.unavailable(what, error_chain(&err.without_url()));
        if timeout {
            StoreError::Timeout(error.message().to_owned())
        } else {
            error
        }
    }

    /// A GET of `path` whose body the caller reads (as a stream, for long answers).
    pub async fn get(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<reqwest::Response, StoreError> {
        let request = self.http.get(format!("{}{path}", self.base)).query(params);
        self.send(path, request).await
    }

    /// Whether the server answers its API (`/api/v1/status/buildinfo`, served by Prometheus
    /// and VictoriaMetrics alike).
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.get_api::<serde::de::IgnoredAny>("/api/v1/status/buildinfo", &[])
            .await
            .map(|_| ())
    }

    /// External labels from the loaded configuration (`global.external_labels`).
    pub async fn external_labels(&self) -> Result<Labels, StoreError> {
        let data: ConfigData = self.get_api("/api/v1/status/config", &[]).await?;
        let config: ConfigFile = serde_yaml_ng::from_str(&data.yaml).map_err(|e| {
            StoreError::BadData(format!("Prometheus configuration is not YAML: {e}"))
        })?;
        Ok(Labels::from_pairs(config.global.external_labels))
    }

    /// The TSDB's time range and whether its head is live, read from Prometheus' own metrics.
    pub async fn tsdb_status(&self) -> Result<TsdbStatus, StoreError> {
        let text = self
            .send("metrics", self.http.get(format!("{}/metrics", self.base)))
            .await?
            .text()
            .await
            .map_err(|e| self.unavailable("metrics", e))?;
        let gauge = |name: &str| -> Result<f64, StoreError> {
            let value = text
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .ok_or_else(|| StoreError::BadData(format!("Prometheus exposes no {name}")))?;
            value
                .trim()
                .parse()
                .map_err(|e| StoreError::BadData(format!("bad {name} value {value:?}: {e}")))
        };
        // Timestamps are milliseconds; `as` saturates where an empty TSDB reports i64 bounds.
        Ok(TsdbStatus {
            min_time: gauge("prometheus_tsdb_lowest_timestamp")? as i64,
            head_max_time: gauge("prometheus_tsdb_head_max_time")? as i64,
            head_series: gauge("prometheus_tsdb_head_series")? as u64,
        })
    }

    pub async fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StoreError> {
        let params = label_api_params(start, end, matchers);
        self.get_api("/api/v1/labels", &params).await
    }

    pub async fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StoreError> {
        let params = label_api_params(start, end, matchers);
        self.get_api(
            &format!("/api/v1/label/{}/values", path_label_name(name)),
            &params,
        )
        .await
    }

    /// Metric metadata from `/api/v1/metadata` (`metric` "" for all, `limit` 0 for no limit).
    pub async fn metadata(
        &self,
        metric: &str,
        limit: usize,
    ) -> Result<MetadataResponse, StoreError> {
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "type")]
            kind: String,
            help: String,
            #[serde(default)]
            unit: String,
        }
        let mut params = Vec::new();
        if !metric.is_empty() {
            params.push(("metric", metric.to_string()));
        }
        if limit > 0 {
            params.push(("limit", limit.to_string()));
        }
        let data: BTreeMap<String, Vec<Entry>> = self.get_api("/api/v1/metadata", &params).await?;
        let metrics = data
            .into_iter()
            .map(|(name, entries)| {
                let metas = entries
                    .into_iter()
                    .map(|e| Meta {
                        kind: e.kind,
                        help: e.help,
                        unit: e.unit,
                    })
                    .collect();
                (name, metas)
            })
            .collect();
        Ok(MetadataResponse {
            metrics,
            warnings: Vec::new(),
        })
    }

    /// Starts a streamed remote read of one query; the answer's frames come from
    /// [`RemoteReadStream::next_series`].
    pub async fn remote_read(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<RemoteReadStream, StoreError> {
        let request = prompb::ReadRequest {
            queries: vec![prompb::Query {
                start_timestamp_ms: start,
                end_timestamp_ms: end,
                matchers: matchers.iter().map(matcher_to_prompb).collect(),
                hints: None,
            }],
            accepted_response_types: vec![
                prompb::read_request::ResponseType::StreamedXorChunks as i32,
            ],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .map_err(|e| StoreError::Internal(format!("snappy: {e}")))?;
        let response = self
            .send(
                "remote read",
                self.http
                    .post(format!("{}/api/v1/read", self.base))
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Read-Version", "0.1.0")
                    .body(body),
            )
            .await?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type != STREAMED_CONTENT_TYPE {
            return Err(StoreError::BadData(format!(
                "Prometheus answered remote read with {content_type:?}, not streamed chunks \
                 (Prometheus 2.13 or newer is needed)"
            )));
        }
        Ok(RemoteReadStream {
            response,
            frames: FrameReader::default(),
            pending: Vec::new().into_iter(),
            base: self.shown.clone(),
        })
    }

    async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, StoreError> {
        // Prometheus traces its handlers too: its spans join the caller's trace.
        let span = tracing::info_span!("prometheus.request", otel.name = what);
        let traced = request.headers(span.in_scope(trace::http_headers));
        let response = self
            .config
            .authorize(traced)?
            .send()
            .instrument(span)
            .await
            .map_err(|e| self.request_error(what, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message = format!(
            "{} at {}: {what} answered {status}: {}",
            self.server,
            self.shown,
            body.trim()
        );
        Err(match status {
            reqwest::StatusCode::TOO_MANY_REQUESTS => StoreError::LimitExceeded(message),
            s if s.is_server_error() => StoreError::Unavailable(message),
            _ => StoreError::InvalidArgument(message),
        })
    }

    async fn get_api<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, StoreError> {
        let body = self
            .get(path, params)
            .await?
            .bytes()
            .await
            .map_err(|e| self.request_error(path, e))?;
        let envelope: Envelope<T> = serde_json::from_slice(&body).map_err(|e| {
            StoreError::BadData(format!("{path}: bad JSON from {}: {e}", self.server))
        })?;
        match (envelope.status.as_str(), envelope.data) {
            ("success", Some(data)) => Ok(data),
            _ => Err(StoreError::BadData(format!(
                "{path}: {} says {}",
                self.server,
                envelope.error.unwrap_or(envelope.status)
            ))),
        }
    }
}

/// The streamed answer of one remote read.
pub struct RemoteReadStream {
    response: reqwest::Response,
    frames: FrameReader,
    pending: std::vec::IntoIter<prompb::ChunkedSeries>,
    base: String,
}

impl RemoteReadStream {
    /// The next series part; a series may span several consecutive parts.
    pub async fn next_series(&mut self) -> Result<Option<prompb::ChunkedSeries>, StoreError> {
        loop {
            if let Some(series) = self.pending.next() {
                return Ok(Some(series));
            }
            if let Some(payload) = self.frames.next_frame()? {
                let frame = prompb::ChunkedReadResponse::decode(payload).map_err(|e| {
                    StoreError::BadData(format!("remote-read frame is not protobuf: {e}"))
                })?;
                self.pending = frame.chunked_series.into_iter();
                continue;
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.frames.push(&bytes),
                Ok(None) if self.frames.pending() == 0 => return Ok(None),
                Ok(None) => {
                    return Err(StoreError::Unavailable(format!(
                        "Prometheus at {}: remote-read answer cut short",
                        self.base
                    )));
                }
                Err(e) => {
                    return Err(StoreError::Unavailable(format!(
                        "Prometheus at {}: reading remote-read answer: {}",
                        self.base,
                        error_chain(&e.without_url())
                    )));
                }
            }
        }
    }
}

fn matcher_to_prompb(m: &Matcher) -> prompb::LabelMatcher {
    use prompb::label_matcher::Type;
    let kind = match m.op() {
        MatchOp::Equal => Type::Eq,
        MatchOp::NotEqual => Type::Neq,
        MatchOp::Regex => Type::Re,
        MatchOp::NotRegex => Type::Nre,
    };
    prompb::LabelMatcher {
        r#type: kind as i32,
        name: m.name().to_string(),
        value: m.value().to_string(),
    }
}

/// `start`, `end` (float seconds) and one `match[]` selector for the label APIs.
fn label_api_params(start: i64, end: i64, matchers: &[Matcher]) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("start", millis_to_seconds(start)),
        ("end", millis_to_seconds(end)),
    ];
    if !matchers.is_empty() {
        params.push(("match[]", selector(matchers)));
    }
    params
}

/// Prometheus' API accepts times between year -292273086 and 292277025; clamp to what its
/// time parser takes so that open ranges (i64::MIN..i64::MAX) are valid.
fn millis_to_seconds(ms: i64) -> String {
    const LIMIT_MS: i64 = 9_000_000_000_000_000;
    let ms = ms.clamp(-LIMIT_MS, LIMIT_MS);
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// A label name for the URL path: legacy names as they are, others escaped the way
/// Prometheus reads them (`U__` + `_` doubled + other characters as `_<hex>_`).
fn path_label_name(name: &str) -> String {
    let legacy = name
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if legacy && !name.is_empty() {
        return name.to_string();
    }
    let mut out = String::from("U__");
    for c in name.chars() {
        match c {
            '_' => out.push_str("__"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => out.push_str(&format!("_{:x}_", c as u32)),
        }
    }
    out
}

/// An error with its causes, e.g. "error sending request: connection refused".
/// `scheme://user:xxxxx@host/...` for a URL with a password (as Go's `URL.Redacted`
/// writes it); any other URL as it is.
pub fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    match authority.rfind('@') {
        Some(at) if authority[..at].contains(':') => {
            let user = &authority[..authority[..at].find(':').unwrap_or(at)];
            format!(
                "{}{user}:xxxxx{}",
                &url[..scheme_end],
                &url[scheme_end + at..]
            )
        }
        _ => url.to_string(),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        use super::redacted;
        assert_eq!(
            redacted("http://admin:s3cr3t@prometheus:9090/prefix"),
            "http://admin:xxxxx@prometheus:9090/prefix"
        );
        assert_eq!(redacted("https://u:p@h"), "https://u:xxxxx@h");
        assert_eq!(redacted("http://user@h:9090"), "http://user@h:9090");
        assert_eq!(redacted("http://h:9090/a@b"), "http://h:9090/a@b");
        assert_eq!(redacted("localhost:9090"), "localhost:9090");
    }

    use super::*;

    #[test]
    fn label_names_in_paths_are_escaped_when_not_legacy() {
        assert_eq!(path_label_name("job"), "job");
        assert_eq!(path_label_name("service.name"), "U__service_2e_name");
        assert_eq!(path_label_name("a_b.c"), "U__a__b_2e_c");
    }

    #[test]
    fn seconds_keep_milliseconds() {
        assert_eq!(millis_to_seconds(1_500), "1.500");
        assert_eq!(millis_to_seconds(-1), "-0.001");
        assert_eq!(millis_to_seconds(i64::MIN), "-9000000000000.000");
    }
}
