//! The StoreAPI a component serves, counted as go-grpc-prometheus counts a gRPC server, under
//! the names Thanos' dashboards read: calls by service, method, type and code, and their
//! handling time to the end of the answer (a Series stream's last frame, or the client
//! leaving, which counts as `Canceled`).

use crate::telemetry::metrics::{
    HistogramVec, IntCounterVec, Registry, counter_vec, histogram_vec, register,
};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use store_api::error::code_name;
use store_api::{
    LabelNamesRequest, LabelValuesRequest, LabelsResponse, MetadataRequest, MetadataResponse,
    SeriesFrame, SeriesRequest, SeriesStream, Store, StoreError, StoreInfo,
};

struct StoreApiMetrics {
    handled: IntCounterVec,
    handling: HistogramVec,
}

/// One StoreAPI method: its service, name and whether it streams.
#[derive(Clone, Copy)]
struct Method {
    service: &'static str,
    name: &'static str,
    streams: bool,
}

const INFO: Method = Method::unary("thanos.Store", "Info");
const SERIES: Method = Method {
    service: "thanos.Store",
    name: "Series",
    streams: true,
};
const LABEL_NAMES: Method = Method::unary("thanos.Store", "LabelNames");
const LABEL_VALUES: Method = Method::unary("thanos.Store", "LabelValues");
const METRIC_METADATA: Method = Method::unary("thanos.Metadata", "MetricMetadata");

impl Method {
    const fn unary(service: &'static str, name: &'static str) -> Self {
        Self {
            service,
            name,
            streams: false,
        }
    }

    fn kind(self) -> &'static str {
        if self.streams {
            "server_stream"
        } else {
            "unary"
        }
    }
}

impl StoreApiMetrics {
    fn new(registry: &Registry) -> Self {
        let metrics = Self {
            handled: counter_vec(
                "grpc_server_handled_total",
                "StoreAPI calls completed on the server, by service, method, type and code.",
                &["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
            ),
            handling: histogram_vec(
                "grpc_server_handling_seconds",
                "Time from a StoreAPI call to the end of its answer, by service, method and type.",
                &["grpc_service", "grpc_method", "grpc_type"],
            ),
        };
        register(registry, metrics.handled.clone());
        register(registry, metrics.handling.clone());
        metrics
    }

    fn handled(&self, method: Method, code: &str, started: Instant) {
        self.handled
            .with_label_values(&[method.service, method.name, method.kind(), code])
            .inc();
        self.handling
            .with_label_values(&[method.service, method.name, method.kind()])
            .observe(started.elapsed().as_secs_f64());
    }

    fn answered<T>(&self, method: Method, started: Instant, result: &Result<T, StoreError>) {
        let code = result
            .as_ref()
            .map_or_else(|e| code_name(e.code()), |_| "OK");
        self.handled(method, code, started);
    }
}

/// A `Store` whose calls are counted in the process' registry.
pub struct MeteredStore<S> {
    inner: Arc<S>,
    metrics: Arc<StoreApiMetrics>,
}

impl<S: Store> MeteredStore<S> {
    pub fn new(inner: Arc<S>, registry: &Registry) -> Self {
        Self {
            inner,
            metrics: Arc::new(StoreApiMetrics::new(registry)),
        }
    }
}

impl<S: Store> Store for MeteredStore<S> {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let started = Instant::now();
        let result = self.inner.info().await;
        self.metrics.answered(INFO, started, &result);
        result
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let started = Instant::now();
        let result = self.inner.series(request).await;
        match result {
            Err(error) => {
                self.metrics
                    .handled(SERIES, code_name(error.code()), started);
                Err(error)
            }
            Ok(stream) => Ok(CountedStream {
                inner: stream,
                metrics: self.metrics.clone(),
                started,
                ended: false,
            }
            .boxed()),
        }
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        let started = Instant::now();
        let result = self.inner.label_names(request).await;
        self.metrics.answered(LABEL_NAMES, started, &result);
        result
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        let started = Instant::now();
        let result = self.inner.label_values(request).await;
        self.metrics.answered(LABEL_VALUES, started, &result);
        result
    }

    async fn metric_metadata(
        &self,
        request: MetadataRequest,
    ) -> Result<MetadataResponse, StoreError> {
        let started = Instant::now();
        let result = self.inner.metric_metadata(request).await;
        self.metrics.answered(METRIC_METADATA, started, &result);
        result
    }
}

/// A Series answer that is counted when it ends: at its last frame, at an error (which ends
/// a gRPC stream), or when dropped before either (the client left).
struct CountedStream {
    inner: SeriesStream,
    metrics: Arc<StoreApiMetrics>,
    started: Instant,
    ended: bool,
}

impl CountedStream {
    fn end(&mut self, code: &str) {
        if !self.ended {
            self.ended = true;
            self.metrics.handled(SERIES, code, self.started);
        }
    }
}

impl Stream for CountedStream {
    type Item = Result<SeriesFrame, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(None) => self.end("OK"),
            Poll::Ready(Some(Err(error))) => {
                let code = code_name(error.code());
                self.end(code);
            }
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.end("Canceled");
    }
}
