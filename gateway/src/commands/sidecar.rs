//! `panoptes sidecar`: StoreAPI over a Prometheus server.

use crate::cli::SidecarArgs;
use std::sync::Arc;
use store_api::server::StoreService;
use store_api::sidecar::{PrometheusClient, SidecarStore};

pub async fn run(args: SidecarArgs) -> Result<(), String> {
    let prometheus = PrometheusClient::new(&args.prometheus_url, args.prometheus_timeout)
        .map_err(|e| e.to_string())?;
    let store = Arc::new(SidecarStore::new(prometheus));
    let listener = tokio::net::TcpListener::bind(args.grpc_address)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.grpc_address))?;
    tracing::info!(
        grpc = %args.grpc_address,
        prometheus = %args.prometheus_url,
        "sidecar serving StoreAPI"
    );
    StoreService::new(store)
        .serve(listener, shutdown_signal())
        .await
        .map_err(|e| format!("gRPC server: {e}"))
}

/// Completes on SIGINT or SIGTERM, for a graceful stop.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}
