//! `/federate`, as an upper-tier Prometheus scrapes it: for every series matching any
//! `match[]`, its newest sample within the lookback window, in the text exposition format
//! 0.0.4 with explicit timestamps. Streamed: series are written as the fan-out yields them
//! (one `fanout::series` stream per selector, their union here), so memory stays flat however
//! many series match. No `match[]` answers 200 with an empty body,
//! and errors are plain text, as Prometheus has them: a bad `match[]` is a 400, and with
//! `partial_response=false` an endpoint that fails (or is left out) before the first series
//! is a 500; one failing later cuts the body short, so the scrape fails rather than taking
//! partial data. With partial response, what an endpoint could not give is logged. Each
//! answer's outcome is counted (`panoptes_federate_answers_total`).

use super::AppState;
use super::metrics::FederateOutcome;
use super::params::Params;
use crate::fanout::series::{DecodedSeries, FanoutSeries, Samples, SeriesEvent};
use crate::fanout::{FanoutStorage, QueryOptions};
use crate::promql::functions::format::go_g;
use crate::promql::syntax;
use crate::promql::value::is_stale_nan;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use store_api::StoreError;
use store_api::labels::METRIC_NAME;
use store_api::{Labels, SeriesRequest};
use tokio::sync::mpsc;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn federate(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_query(query.as_deref());
    let selectors: Result<Vec<_>, String> = params
        .get_all("match[]")
        .into_iter()
        .map(|s| syntax::parse_metric_selector(s).map_err(|e| e.to_string()))
        .collect();
    let selectors = match selectors {
        Ok(s) => s,
        Err(e) => return refuse(&state, StatusCode::BAD_REQUEST, &e),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let lookback = state.engine.options().lookback_delta_ms;
    let storage = FanoutStorage::new(state.fanout.clone(), QueryOptions::default());
    let mut streams: Vec<FanoutSeries<Samples>> = selectors
        .into_iter()
        .map(|selector| {
            storage.series(SeriesRequest {
                min_time: now - lookback + 1,
                max_time: now,
                matchers: selector.matchers,
                ..Default::default()
            })
        })
        .collect();
    // The first series of each selector before the status line, so that a failure known by
    // then is the status.
    let mut heads = Vec::with_capacity(streams.len());
    let mut partial = false;
    for stream in &mut streams {
        match next_series(stream, &mut partial).await {
            Ok(head) => heads.push(head),
            Err(error) => {
                return refuse(&state, StatusCode::INTERNAL_SERVER_ERROR, error.message());
            }
        }
    }
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let writer = Writer {
        external: state.external_labels.clone(),
        family: None,
        buffer: String::new(),
        partial,
    };
    let state = state.clone();
    tokio::spawn(async move {
        let outcome = writer.run(streams, heads, sender).await;
        state.metrics.federate_answered(outcome);
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// A refusal, counted, as Prometheus' `http.Error` writes it: plain text and a newline.
fn refuse(state: &AppState, status: StatusCode, message: &str) -> Response {
    state.metrics.federate_answered(FederateOutcome::Refused);
    tracing::warn!(%status, error = %message, "federate");
    let mut response = (status, format!("{message}\n")).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Writes series in label order (so each family is contiguous, families by name).
struct Writer {
    external: Labels,
    family: Option<String>,
    buffer: String,
    /// Some endpoint's data is missing (partial response).
    partial: bool,
}

/// Flush to the client past this many buffered bytes.
const FLUSH_BYTES: usize = 64 << 10;

impl Writer {
    /// Writes the union of the selectors' series; `heads` are their first series. A failure
    /// (abort strategy) ends the body with an error, which the client sees as a cut answer.
    async fn run(
        mut self,
        mut streams: Vec<FanoutSeries<Samples>>,
        mut heads: Vec<Option<DecodedSeries<Samples>>>,
        sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> FederateOutcome {
        match self.write_union(&mut streams, &mut heads, &sender).await {
            Err(error) => {
                tracing::warn!(%error, "federate: answer cut");
                let _ = sender
                    .send(Err(std::io::Error::other(error.message().to_owned())))
                    .await;
                FederateOutcome::Cut
            }
            Ok(false) => FederateOutcome::Cut,
            Ok(true) if self.partial => FederateOutcome::Partial,
            Ok(true) => FederateOutcome::Complete,
        }
    }

    /// Whether the whole answer was written (else the client went away).
    async fn write_union(
        &mut self,
        streams: &mut [FanoutSeries<Samples>],
        heads: &mut [Option<DecodedSeries<Samples>>],
        sender: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> Result<bool, StoreError> {
        // The union of the selectors: the smallest head, once even if several match.
        while let Some(min) = heads.iter().flatten().map(|s| s.labels.clone()).min() {
            let mut chosen = None;
            for (i, head) in heads.iter_mut().enumerate() {
                if head.as_ref().is_some_and(|s| s.labels == min) {
                    chosen = head.take();
                    *head = next_series(&mut streams[i], &mut self.partial).await?;
                }
            }
            if let Some(series) = chosen {
                self.write(&series);
            }
            if self.buffer.len() > FLUSH_BYTES && !self.flush(sender).await {
                return Ok(false);
            }
        }
        Ok(self.flush(sender).await)
    }

    async fn flush(&mut self, sender: &mpsc::Sender<Result<Bytes, std::io::Error>>) -> bool {
        let chunk = std::mem::take(&mut self.buffer);
        chunk.is_empty() || sender.send(Ok(Bytes::from(chunk))).await.is_ok()
    }

    /// Writes the newest sample of `series`, unless it is a staleness marker.
    fn write(&mut self, series: &DecodedSeries<Samples>) {
        let samples = &series.data;
        let (Some(&t), Some(&v)) = (samples.timestamps.last(), samples.values.last()) else {
            return;
        };
        if is_stale_nan(v) {
            return;
        }
        let name = series.labels.get(METRIC_NAME).unwrap_or("");
        if self.family.as_deref() != Some(name) {
            self.buffer.push_str(&format!("# TYPE {name} untyped\n"));
            self.family = Some(name.to_string());
        }
        let mut labels = series.labels.clone();
        labels.remove(METRIC_NAME);
        labels.merge_missing(&self.external);
        // Federated data without an instance says so (`instance=""`), so that an
        // honor_labels scraper does not stamp the federation target's instance on it.
        let no_instance = labels.get("instance").is_none();
        self.buffer.push_str(name);
        write_labels(&mut self.buffer, &labels, no_instance);
        self.buffer.push(' ');
        self.buffer.push_str(&format_value(v));
        self.buffer.push(' ');
        self.buffer.push_str(&t.to_string());
        self.buffer.push('\n');
    }
}

/// A selector's next series; warnings (partial response) are logged and set `partial`, a
/// failure (abort) is the error.
async fn next_series(
    stream: &mut FanoutSeries<Samples>,
    partial: &mut bool,
) -> Result<Option<DecodedSeries<Samples>>, StoreError> {
    loop {
        match stream.next().await.transpose()? {
            None => return Ok(None),
            Some(SeriesEvent::Series(series)) => return Ok(Some(series)),
            Some(SeriesEvent::Warning(warning)) => {
                tracing::warn!(%warning, "federate: partial data");
                *partial = true;
            }
        }
    }
}

/// `{a="1",b="2"}` with the text format's escapes (`\\`, `\"`, `\n`); `empty_instance`
/// adds `instance=""` in its sorted place.
fn write_labels(out: &mut String, labels: &Labels, empty_instance: bool) {
    let mut pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    if empty_instance {
        pairs.push(("instance", ""));
        pairs.sort_by(|a, b| a.0.cmp(b.0));
    }
    if pairs.is_empty() {
        return;
    }
    out.push('{');
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

/// The text format's float: Go's shortest 'g' formatting, `+Inf`, `-Inf`, `NaN`.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        go_g(v, None)
    }
}
