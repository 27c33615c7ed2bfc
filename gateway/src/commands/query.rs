//! `panoptes query`: the gateway.

use crate::cli::{Feature, QueryArgs};
use crate::fanout::dedup::DedupAlgorithm;
use crate::fanout::discovery::{Discovery, DiscoveryError, HickoryResolver, parse_spec};
use crate::fanout::{Fanout, FanoutConfig};
use crate::grpc::GatewayStore;
use crate::http::{self, AppState};
use crate::promql::{Engine, EngineOptions};
use crate::telemetry::storeapi::MeteredStore;
use std::sync::Arc;
use std::time::SystemTime;
use store_api::Labels;

/// Builds the fan-out and engine the flags describe.
pub fn build(args: &QueryArgs) -> Result<(Arc<Fanout>, Engine), String> {
    let dedup: DedupAlgorithm = args
        .dedup_func
        .parse()
        .map_err(|e| format!("--deduplication.func: {e}"))?;
    let discovery = discovery(args).map_err(|e| e.to_string())?;
    let config = FanoutConfig {
        replica_labels: args.replica_labels.clone(),
        dedup,
        partial_response: args.partial_response,
        response_timeout: args.response_timeout,
        replica_grace: args.replica_grace,
        unhealthy_timeout: args.unhealthy_timeout,
        client_tls: args.grpc_client.connector()?,
        ..FanoutConfig::default()
    };
    let engine = Engine::new(EngineOptions {
        lookback_delta_ms: args.lookback_delta.as_millis() as i64,
        max_samples: args.max_samples,
        max_series: args.max_series,
        timeout: args.query_timeout,
        delayed_name_removal: args.features.contains(&Feature::PromqlDelayedNameRemoval),
        ..EngineOptions::default()
    });
    Ok((Fanout::new(config, discovery), engine))
}

/// `--endpoint`, `--endpoint.sd-file` and `--endpoint.config-file`.
fn discovery(args: &QueryArgs) -> Result<Discovery, DiscoveryError> {
    let discovery = flag_discovery(args)?;
    match &args.endpoint_config_file {
        Some(path) => discovery.with_config_file(path.clone()),
        None => Ok(discovery),
    }
}

/// `--endpoint` and `--endpoint.sd-file`; DNS specs go to `--endpoint.dns-server` when it is
/// given, else to the system resolver.
fn flag_discovery(args: &QueryArgs) -> Result<Discovery, DiscoveryError> {
    let Some(server) = args.dns_server else {
        return Discovery::new(&args.endpoints, &args.sd_files);
    };
    let specs = args
        .endpoints
        .iter()
        .map(|s| parse_spec(s))
        .collect::<Result<_, _>>()?;
    let resolver = HickoryResolver::with_nameserver(server)?;
    Ok(Discovery::from_specs(specs, args.sd_files.clone())?.with_resolver(Arc::new(resolver)))
}

/// The effective flags, for `/api/v1/status/flags`.
fn flags(args: &QueryArgs) -> Vec<(String, String)> {
    let join = |values: &[String]| values.join(",");
    let labels: Vec<String> = args
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let files: Vec<String> = args
        .sd_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    [
        ("http-address", args.http_address.to_string()),
        (
            "grpc-address",
            args.grpc_address.map(|a| a.to_string()).unwrap_or_default(),
        ),
        ("label", join(&labels)),
        ("endpoint", join(&args.endpoints)),
        ("endpoint.sd-file", join(&files)),
        (
            "endpoint.config-file",
            args.endpoint_config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("query.replica-label", join(&args.replica_labels)),
        ("deduplication.func", args.dedup_func.clone()),
        ("query.partial-response", args.partial_response.to_string()),
        (
            "store.response-timeout",
            format!("{:?}", args.response_timeout),
        ),
        ("store.replica-grace", format!("{:?}", args.replica_grace)),
        (
            "store.unhealthy-timeout",
            format!("{:?}", args.unhealthy_timeout),
        ),
        ("query.timeout", format!("{:?}", args.query_timeout)),
        (
            "query.log-file",
            args.query_log_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "query.slow-query-log-threshold",
            args.slow_query_threshold
                .map(|d| format!("{d:?}"))
                .unwrap_or_default(),
        ),
        ("query.max-concurrent", args.max_concurrent.to_string()),
        ("query.max-queued", args.max_queued.to_string()),
        ("query.max-samples", args.max_samples.to_string()),
        ("query.max-series", args.max_series.to_string()),
        ("query.lookback-delta", format!("{:?}", args.lookback_delta)),
        ("enable-feature", format!("{:?}", args.features)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub async fn run(args: QueryArgs) -> Result<(), String> {
    let (fanout, engine) = build(&args)?;
    // A TLS or auth file that cannot be applied stops the start, before anything listens.
    let serving = args.http_server.serving()?;
    // The first discovery and Info round runs while the gateway already serves: `/-/ready`
    // is 503 until it ends, and answers name the endpoints not yet probed.
    fanout.spawn_refresh();
    let external_labels = Labels::from_pairs(args.labels.clone());
    let registry = crate::telemetry::metrics::registry();
    fanout.register_metrics(&registry);
    let _grpc = match args.grpc_address {
        Some(addr) => {
            let store = Arc::new(GatewayStore::new(fanout.clone(), external_labels.clone()));
            let store = Arc::new(MeteredStore::new(store, &registry));
            let service = args.grpc_server.service(store)?;
            let server = store_api::server::spawn_service(service, addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            tracing::info!(grpc = %server.addr, "gateway serving StoreAPI");
            Some(server)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.http_address)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_address))?;
    tracing::info!(http = %args.http_address, endpoints = ?args.endpoints, "gateway serving");
    let state = Arc::new(AppState {
        engine,
        fanout,
        external_labels,
        started: SystemTime::now(),
        flags: flags(&args),
        metrics: http::metrics::HttpMetrics::new(&registry),
        admission: http::admission::Admission::new(args.max_concurrent, args.max_queued, &registry),
        query_log: http::query_log::QueryLog::open(
            args.query_log_file.as_deref(),
            args.slow_query_threshold,
            &registry,
        )
        .await?,
        registry,
    });
    http::serve(listener, state, &serving, super::serve::shutdown_signal())
        .await
        .map_err(|e| format!("HTTP server: {e}"))
}
