//! The HTTP face of the gateway (axum): Prometheus' API v1 as Grafana uses it, Thanos'
//! extras, health endpoints, the web UI (`ui`). Handlers return values; `envelope` writes the
//! JSON envelope.

pub mod admission;
mod api;
pub mod basic_auth;
pub mod envelope;
mod explain;
mod federate;
pub mod json;
pub mod metrics;
pub mod ops;
pub mod params;
pub mod query_log;
pub mod server;
mod ui;
pub mod web_config;

use crate::fanout::Fanout;
use crate::promql::Engine;
use crate::telemetry::metrics::Registry;
use axum::Router;
use metrics::HttpMetrics;
use std::sync::Arc;
use std::time::SystemTime;

/// What every handler can reach.
pub struct AppState {
    pub engine: Engine,
    pub fanout: Arc<Fanout>,
    /// This gateway's external labels (`--label`), for /federate.
    pub external_labels: store_api::Labels,
    pub started: SystemTime,
    /// The command line, for `status/flags`.
    pub flags: Vec<(String, String)>,
    /// The process' metrics, served on `/metrics`.
    pub registry: Registry,
    pub metrics: HttpMetrics,
    pub admission: admission::Admission,
    pub query_log: query_log::QueryLog,
}

/// Largest request body accepted (a form-encoded query).
pub const MAX_BODY_BYTES: usize = 4 << 20;

pub fn router(state: Arc<AppState>) -> Router {
    api::routes()
        .route("/federate", axum::routing::get(federate::federate))
        .route("/metrics", axum::routing::get(serve_metrics))
        .merge(ui::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // gzip when the client asks (Grafana and Prometheus do), streamed bodies included.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

async fn serve_metrics(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> axum::response::Response {
    ops::metrics(&state.registry)
}

/// Serves the router on a bound listener until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    serving: &server::Serving,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, router(state), serving, shutdown).await
}
