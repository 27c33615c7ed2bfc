//! The HTTP face's metrics, named as Thanos names them so that its dashboards work: requests
//! by handler (the route's pattern: `/api/v1/label/{name}/values` is one handler, and every
//! unknown path is `other`), method and status code; their durations to the response head
//! (a streamed body may take longer); requests in flight. And how `/federate` answers went.

use super::AppState;
use crate::promql::Phases;
use crate::telemetry::metrics::{
    HistogramVec, IntCounterVec, IntGaugeVec, Registry, counter_vec, gauge_vec, histogram_vec,
    register,
};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub struct HttpMetrics {
    requests: IntCounterVec,
    durations: HistogramVec,
    in_flight: IntGaugeVec,
    federate: IntCounterVec,
    phases: HistogramVec,
}

/// How one `/federate` answer went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FederateOutcome {
    /// Every selected endpoint answered in full.
    Complete,
    /// Some endpoint's data is missing (partial response): logged, and counted here.
    Partial,
    /// Refused before the body: a bad `match[]`, or an endpoint failing with
    /// `partial_response=false`.
    Refused,
    /// Cut short after the body began (an endpoint failing with `partial_response=false`), or
    /// the client left.
    Cut,
}

impl FederateOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Partial => "partial",
            Self::Refused => "refused",
            Self::Cut => "cut",
        }
    }
}

impl HttpMetrics {
    pub fn new(registry: &Registry) -> Self {
        let metrics = Self {
            requests: counter_vec(
                "http_requests_total",
                "HTTP requests answered, by handler, method and status code.",
                &["handler", "method", "code"],
            ),
            durations: histogram_vec(
                "http_request_duration_seconds",
                "Time from an HTTP request to its response head, by handler and method.",
                &["handler", "method"],
            ),
            in_flight: gauge_vec(
                "http_inflight_requests",
                "HTTP requests being handled, by handler and method.",
                &["handler", "method"],
            ),
            federate: counter_vec(
                "panoptes_federate_answers_total",
                "/federate answers by outcome: complete, partial (an endpoint's data missing), \
                 refused (before the body) or cut (after it began).",
                &["outcome"],
            ),
            phases: histogram_vec(
                "panoptes_query_phase_duration_seconds",
                "Time of each phase of the queries answered: queue (waiting for a place), parse \
                 (parsing and the logical plan), fetch (building the operators, which reads the \
                 endpoints), eval (running them) and encode (the JSON answer).",
                &["phase"],
            ),
        };
        register(registry, metrics.requests.clone());
        register(registry, metrics.durations.clone());
        register(registry, metrics.in_flight.clone());
        register(registry, metrics.federate.clone());
        register(registry, metrics.phases.clone());
        metrics
    }

    /// One answered query's phases up to its result (encoding is observed by the body as it
    /// is sent: [`Self::encode_phase`]).
    pub fn query_phases(&self, queue: Duration, phases: Phases) {
        for (phase, took) in [
            ("queue", queue),
            ("parse", phases.parse),
            ("fetch", phases.fetch),
            ("eval", phases.eval),
        ] {
            self.phases
                .with_label_values(&[phase])
                .observe(took.as_secs_f64());
        }
    }

    /// The histogram of the time spent encoding answers.
    pub fn encode_phase(&self) -> prometheus::Histogram {
        self.phases.with_label_values(&["encode"])
    }

    pub fn federate_answered(&self, outcome: FederateOutcome) {
        self.federate.with_label_values(&[outcome.label()]).inc();
    }
}

/// Middleware: counts, times and traces every request (its span follows the caller's
/// `traceparent`).
pub async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let handler = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", MatchedPath::as_str)
        .to_owned();
    let method = request.method().as_str().to_owned();
    let metrics = &state.metrics;
    let labels = [handler.as_str(), method.as_str()];
    let in_flight = metrics.in_flight.with_label_values(&labels);
    in_flight.inc();
    let started = Instant::now();
    let span = store_api::trace::http_server_span(&method, &handler, request.headers());
    let response = next.run(request).instrument(span).await;
    metrics
        .durations
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    in_flight.dec();
    metrics
        .requests
        .with_label_values(&[&handler, &method, response.status().as_str()])
        .inc();
    response
}
