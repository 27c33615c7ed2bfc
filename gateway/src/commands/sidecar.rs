//! `panoptes sidecar`: StoreAPI over a Prometheus server.

use crate::cli::SidecarArgs;
use std::sync::Arc;
use store_api::sidecar::{HttpClientConfig, PrometheusClient, SidecarStore};

pub async fn run(args: SidecarArgs) -> Result<(), String> {
    let config = match &args.prometheus_http_client_file {
        Some(path) => HttpClientConfig::load(path).map_err(|e| e.to_string())?,
        None => HttpClientConfig::default(),
    };
    let prometheus = PrometheusClient::new(&args.prometheus_url, args.prometheus_timeout, config)
        .map_err(|e| e.to_string())?;
    let shown = prometheus.url().to_string();
    let store = Arc::new(SidecarStore::new(prometheus));
    tracing::info!(
        grpc = %args.serve.grpc_address,
        http = %args.serve.http_address,
        prometheus = %shown,
        "sidecar serving StoreAPI"
    );
    let registry = crate::telemetry::metrics::registry();
    super::serve::serve_store(store, registry, &args.serve).await
}
