//! What the commands share: the stop signal, and serving a `Store` as the sidecar and the
//! store do (StoreAPI on the gRPC address; `/metrics`, `/-/healthy` and `/-/ready` on the
//! HTTP address; both until SIGINT or SIGTERM).

use crate::cli::StoreServerArgs;
use crate::http::ops;
use crate::telemetry::metrics;
use crate::telemetry::storeapi::MeteredStore;
use std::sync::Arc;
use store_api::Store;
use tokio::sync::watch;

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

/// Serves `store` until the stop signal, its metrics and the StoreAPI's in `registry` (a
/// component adds its own first); ready while its Info answers.
pub async fn serve_store<S: Store>(
    store: Arc<S>,
    registry: metrics::Registry,
    serve: &StoreServerArgs,
) -> Result<(), String> {
    let grpc_address = serve.grpc_address;
    let metered = Arc::new(MeteredStore::new(store.clone(), &registry));
    let listener = tokio::net::TcpListener::bind(grpc_address)
        .await
        .map_err(|e| format!("cannot listen on {grpc_address}: {e}"))?;
    let ready = move || {
        let store = store.clone();
        async move { store.info().await.is_ok() }
    };
    // One stop signal for both servers, each stopping gracefully.
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let service = serve.grpc_server.service(metered)?;
    let serving = serve.http_server.serving()?;
    let grpc = async {
        service
            .serve(listener, until_stopped(stopped.clone()))
            .await
            .map_err(|e| format!("gRPC server: {e}"))
    };
    let http = ops::serve(
        serve.http_address,
        ops::router(registry, ready),
        &serving,
        until_stopped(stopped.clone()),
    );
    tokio::try_join!(grpc, http).map(|_| ())
}
