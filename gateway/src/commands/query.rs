//! `panoptes query`: the gateway.

use crate::cli::QueryArgs;
use crate::fanout::dedup::DedupAlgorithm;
use crate::fanout::discovery::Discovery;
use crate::fanout::{Fanout, FanoutConfig};
use crate::http::{self, AppState};
use crate::promql::{Engine, EngineOptions};
use std::sync::Arc;
use std::time::SystemTime;

/// Builds the fan-out and engine the flags describe.
pub fn build(args: &QueryArgs) -> Result<(Arc<Fanout>, Engine), String> {
    let dedup: DedupAlgorithm = args
        .dedup_func
        .parse()
        .map_err(|e| format!("--deduplication.func: {e}"))?;
    let discovery = Discovery::new(&args.endpoints, &args.sd_files).map_err(|e| e.to_string())?;
    let config = FanoutConfig {
        replica_labels: args.replica_labels.clone(),
        dedup,
        partial_response: args.partial_response,
        response_timeout: args.response_timeout,
        unhealthy_timeout: args.unhealthy_timeout,
        ..FanoutConfig::default()
    };
    let engine = Engine::new(EngineOptions {
        lookback_delta_ms: args.lookback_delta.as_millis() as i64,
        max_samples: args.max_samples,
        timeout: args.query_timeout,
        ..EngineOptions::default()
    });
    Ok((Fanout::new(config, discovery), engine))
}

pub async fn run(args: QueryArgs) -> Result<(), String> {
    let (fanout, engine) = build(&args)?;
    fanout.refresh().await;
    fanout.spawn_refresh();
    let listener = tokio::net::TcpListener::bind(args.http_address)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_address))?;
    tracing::info!(http = %args.http_address, endpoints = ?args.endpoints, "gateway serving");
    let state = Arc::new(AppState {
        engine,
        fanout,
        started: SystemTime::now(),
        flags: vec![],
    });
    http::serve(listener, state, super::sidecar::shutdown_signal())
        .await
        .map_err(|e| format!("HTTP server: {e}"))
}
