//! W3C trace context across processes: the current span's `traceparent` goes out with every
//! StoreAPI call and every request to Prometheus, and an incoming call's becomes the parent of
//! the span that serves it, so one trace runs from the top gateway down to the sidecars. The
//! propagator is whatever the process installed (`--tracing.config`); without one, nothing is
//! sent and nothing read.

use futures_util::Stream;
use futures_util::stream::BoxStream;
use opentelemetry::propagation::{Extractor, Injector};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::metadata::{KeyAndValueRef, MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A gRPC request carrying the current span's trace context.
pub fn grpc_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()));
    });
    request
}

/// The current span's trace context as HTTP headers, for a request to another process.
pub fn http_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
    });
    headers
}

/// The span serving a gRPC call (`service/method`), child of the caller's span if the call
/// carried one.
pub fn grpc_server_span(method: &'static str, metadata: &MetadataMap) -> tracing::Span {
    let span = tracing::info_span!("grpc.server", otel.name = method, rpc.method = method);
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&MetadataExtractor(metadata))
    });
    // Fails only when no tracer is installed, and then there is nothing to follow.
    let _ = span.set_parent(parent);
    span
}

/// The span serving an HTTP request, child of the caller's span if the request carried one.
pub fn http_server_span(method: &str, route: &str, headers: &HeaderMap) -> tracing::Span {
    let span = tracing::info_span!(
        "http.server",
        otel.name = format!("{method} {route}"),
        http.request.method = method,
        http.route = route,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
    span
}

/// A stream that runs inside `span` each time it is polled, and ends the span when dropped:
/// a streamed answer's work is traced to its last item.
pub struct InSpan<T> {
    stream: BoxStream<'static, T>,
    span: tracing::Span,
}

impl<T> InSpan<T> {
    pub fn new(stream: BoxStream<'static, T>, span: tracing::Span) -> Self {
        Self { stream, span }
    }
}

impl<T> Stream for InSpan<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        this.stream.as_mut().poll_next(cx)
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|entry| match entry {
                KeyAndValueRef::Ascii(key, _) => Some(key.as_str()),
                KeyAndValueRef::Binary(..) => None,
            })
            .collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}
