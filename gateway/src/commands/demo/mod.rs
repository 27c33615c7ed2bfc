//! `panoptes demo`: the whole topology in one process on generated data. Two shards, each
//! an HA pair whose replicas miss different windows and keep receiving samples (`live`), plus
//! a long-term store holding older data (`data`), all served over real gRPC on loopback, and
//! the gateway on 127.0.0.1:10902.

mod data;
mod live;

use crate::cli::QueryArgs;
use crate::fanout::Fanout;
use crate::grpc::GatewayStore;
use data::{Series, instance_series, only_range, with_gap};
use live::LiveStore;
use std::sync::Arc;
use store_api::server::RunningServer;
use store_api::{Labels, MemoryStore, Store};

/// History generated at start, before the live data.
const HOURS: i64 = 6;

/// A gateway over `endpoints`, de-duplicating by `replica`, served as a StoreAPI endpoint.
async fn lower_tier_gateway(
    endpoints: &[String],
    servers: &mut Vec<RunningServer>,
) -> Result<String, String> {
    let fanout = Fanout::over_replicas(endpoints, Default::default())
        .await
        .map_err(|e| e.to_string())?;
    fanout.spawn_refresh();
    let gateway = GatewayStore::new(fanout, Labels::new());
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = store_api::server::spawn(Arc::new(gateway), any_port)
        .await
        .map_err(|e| format!("cannot start the cluster gateway: {e}"))?;
    let addr = server.addr.to_string();
    servers.push(server);
    Ok(addr)
}

/// Serves `store` on a loopback port until `servers` is dropped; returns its address.
async fn serve<S: Store>(
    store: Arc<S>,
    servers: &mut Vec<RunningServer>,
) -> Result<String, String> {
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = store_api::server::spawn(store, any_port)
        .await
        .map_err(|e| format!("cannot start a demo store: {e}"))?;
    let addr = server.addr.to_string();
    servers.push(server);
    Ok(addr)
}

pub async fn run(http_address: std::net::SocketAddr) -> Result<(), String> {
    let now = live::now_ms();
    let start = now - HOURS * 3_600_000;
    let recent = now - 2 * 3_600_000;
    // Each instance restarts once, in the middle of the history.
    let reset_at = start + HOURS * 3_600_000 / 2;
    let shard_data = move |shard: usize, end: i64| -> Vec<Series> {
        (0..4)
            .filter(|i| i % 2 == shard)
            .flat_map(|i| instance_series(i, start, end, reset_at))
            .collect()
    };
    let mut endpoints = Vec::new();
    let mut shard_endpoints = Vec::new();
    let mut servers = Vec::new();
    let mut long_term = Vec::new();
    for shard in 0..2 {
        // Prometheus keeps the last 2 hours; older data lives in the long-term store.
        // Compacted history: de-duplicated, with the shard's labels but no replica label.
        let shard_label = Labels::from_pairs([("shard", shard.to_string())]);
        long_term.extend(
            only_range(&shard_data(shard, now), start, recent)
                .into_iter()
                .map(|(mut labels, samples)| {
                    labels.merge_missing(&shard_label);
                    (labels, samples)
                }),
        );
        for (replica, gap) in [("a", 20), ("b", 70)] {
            let gap_start = recent + gap * 60_000;
            let external = Labels::from_pairs([
                ("cluster", "demo"),
                ("shard", &shard.to_string()),
                ("replica", replica),
            ]);
            // The replica's recent data up to the present, without its 10-minute outage.
            let scraped = Box::new(move |now: i64| {
                let recent_data = only_range(&shard_data(shard, now), recent, now);
                with_gap(&recent_data, gap_start, gap_start + 10 * 60_000)
            });
            let store = LiveStore::spawn(external, scraped);
            shard_endpoints.push(serve(store, &mut servers).await?);
        }
    }
    // The shards sit behind a lower-tier (cluster) gateway, which de-duplicates them and is a
    // StoreAPI endpoint of the top gateway, beside the long-term store.
    let lower_tier = lower_tier_gateway(&shard_endpoints, &mut servers).await?;
    endpoints.push(lower_tier.clone());
    let long_term_store = MemoryStore::new(Labels::from_pairs([("cluster", "demo")]), long_term);
    endpoints.push(serve(Arc::new(long_term_store), &mut servers).await?);

    println!("Panoptes demo: 2 shards x 2 replicas (replica label `replica`, each missing a");
    println!("different 10-minute window) behind a cluster gateway, and a long-term store,");
    println!("{HOURS} hours of history, and samples arriving every 15 s as from real scrapes.");
    println!(
        "Shard stores (gRPC StoreAPI): {}",
        shard_endpoints.join(", ")
    );
    println!("Cluster gateway (gRPC StoreAPI): {lower_tier}");
    println!();
    println!("Open http://{http_address}/api/v1/stores or point Grafana at http://{http_address}");
    println!("Try:");
    for query in [
        "sum by (job) (rate(http_requests_total[5m]))",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "max_over_time(process_resident_memory_bytes[1h])",
    ] {
        println!("  curl -s 'http://{http_address}/api/v1/query' --data-urlencode 'query={query}'");
    }
    let args = QueryArgs {
        http_address,
        endpoints,
        replica_labels: vec!["replica".into()],
        ..QueryArgs::defaults()
    };
    let result = super::query::run(args).await;
    drop(servers);
    result
}
