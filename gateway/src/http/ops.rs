//! What every component serves its operator over HTTP: `/metrics`, `/-/healthy` and
//! `/-/ready`. The gateway has them among its API routes; the sidecar and the store serve
//! only these, on their `--http-address`.

use crate::telemetry::metrics::{self, Registry};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;

/// What `/-/healthy` answers while the process runs.
pub const HEALTHY: &str = "Panoptes is Healthy.\n";

/// The registry in the text exposition format.
pub fn metrics(registry: &Registry) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::encode(registry),
    )
        .into_response()
}

/// `/-/ready`: 200 once `ready` holds, else 503, as Prometheus answers before it is ready.
pub fn readiness(ready: bool) -> (StatusCode, &'static str) {
    if ready {
        (StatusCode::OK, "Panoptes is Ready.\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }
}

/// The routes of a component that serves nothing else over HTTP. `ready` is asked on every
/// `/-/ready` request.
pub fn router<F, Fut>(registry: Registry, ready: F) -> Router
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let registry = Arc::new(registry);
    Router::new()
        .route("/metrics", get(move || async move { metrics(&registry) }))
        .route("/-/healthy", get(|| async { HEALTHY }))
        .route(
            "/-/ready",
            get(move || async move { readiness(ready().await) }),
        )
}

/// Serves `router` on `address` until `shutdown` completes.
pub async fn serve(
    address: std::net::SocketAddr,
    router: Router,
    serving: &super::server::Serving,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    super::server::serve(listener, router, serving, shutdown)
        .await
        .map_err(|e| format!("HTTP server: {e}"))
}
