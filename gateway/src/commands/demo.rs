//! `panoptes demo`: the whole topology in one process on generated data. Two shards, each
//! an HA pair whose replicas miss different windows, plus a long-term store holding older
//! data, all served over real gRPC on loopback, and the gateway on 127.0.0.1:10902.

use crate::cli::QueryArgs;
use crate::fanout::discovery::Discovery;
use crate::fanout::{Fanout, FanoutConfig};
use crate::grpc::GatewayStore;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use store_api::memory::Sample;
use store_api::server::RunningServer;
use store_api::{Labels, MemoryStore};

const STEP_MS: i64 = 15_000;
const HOURS: i64 = 6;

/// One generated series: labels and samples.
type Series = (Labels, Vec<Sample>);

/// Scraped data of one instance: a request counter with a reset, a memory gauge and a
/// latency histogram.
fn instance_series(instance: usize, start: i64, end: i64) -> Vec<Series> {
    let name = format!("app-{instance}:8080");
    let job = if instance.is_multiple_of(2) {
        "api"
    } else {
        "checkout"
    };
    let labels = |metric: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("__name__", metric),
            ("job", job),
            ("instance", name.as_str()),
        ];
        pairs.extend_from_slice(extra);
        Labels::from_pairs(pairs)
    };
    let times: Vec<i64> = (0..)
        .map(|i| start + i * STEP_MS + (instance as i64 * 137) % 1000)
        .take_while(|&t| t < end)
        .collect();
    let wave = |t: i64, period: f64| ((t as f64 / 1000.0 / period).sin() + 1.0) / 2.0;
    let mut out = Vec::new();
    for (code, share) in [("200", 0.97), ("500", 0.03)] {
        let mut total = 0.0;
        let samples = times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                // A restart halfway through resets the counter.
                if i == times.len() / 2 {
                    total = 0.0;
                }
                total += (20.0 + 30.0 * wave(t, 1800.0)) * share * 15.0;
                (t, total.round())
            })
            .collect();
        out.push((labels("http_requests_total", &[("code", code)]), samples));
    }
    let memory = times
        .iter()
        .map(|&t| {
            (
                t,
                (2.0e8 + 1.0e8 * wave(t + instance as i64 * 600_000, 3600.0)).round(),
            )
        })
        .collect();
    out.push((labels("process_resident_memory_bytes", &[]), memory));
    let mut counts = [0.0f64; 5];
    let bounds = ["0.05", "0.1", "0.25", "1", "+Inf"];
    let mut buckets: Vec<Vec<Sample>> = vec![Vec::new(); bounds.len()];
    for &t in &times {
        let load = wave(t, 2400.0);
        for (i, share) in [0.5, 0.75, 0.86, 0.99, 1.0].iter().enumerate() {
            counts[i] += (40.0 * (share - 0.3 * load * (1.0 - share)))
                .max(0.0)
                .round();
        }
        for (i, count) in counts.iter().enumerate() {
            buckets[i].push((t, *count));
        }
    }
    for (le, samples) in bounds.iter().zip(buckets) {
        out.push((
            labels("http_request_duration_seconds_bucket", &[("le", le)]),
            samples,
        ));
    }
    out
}

/// Drops the samples in [from, to): a replica that was down for a while.
fn with_gap(series: &[Series], from: i64, to: i64) -> Vec<Series> {
    series
        .iter()
        .map(|(labels, samples)| {
            let kept = samples
                .iter()
                .filter(|(t, _)| *t < from || *t >= to)
                .copied()
                .collect();
            (labels.clone(), kept)
        })
        .collect()
}

fn only_range(series: &[Series], from: i64, to: i64) -> Vec<Series> {
    with_gap(series, i64::MIN, from)
        .into_iter()
        .map(|(labels, samples)| {
            (
                labels,
                samples.into_iter().filter(|(t, _)| *t < to).collect(),
            )
        })
        .collect()
}

/// A gateway over `endpoints`, de-duplicating by `replica`, served as a StoreAPI endpoint.
async fn lower_tier_gateway(
    endpoints: &[String],
    servers: &mut Vec<RunningServer>,
) -> Result<String, String> {
    let discovery = Discovery::new(endpoints, &[]).map_err(|e| e.to_string())?;
    let config = FanoutConfig {
        replica_labels: vec!["replica".into()],
        ..FanoutConfig::default()
    };
    let fanout = Fanout::new(config, discovery);
    fanout.refresh().await;
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
async fn serve(store: MemoryStore, servers: &mut Vec<RunningServer>) -> Result<String, String> {
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = store_api::server::spawn(Arc::new(store), any_port)
        .await
        .map_err(|e| format!("cannot start a demo store: {e}"))?;
    let addr = server.addr.to_string();
    servers.push(server);
    Ok(addr)
}

pub async fn run(http_address: std::net::SocketAddr) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let start = now - HOURS * 3_600_000;
    let recent = now - 2 * 3_600_000;
    let mut endpoints = Vec::new();
    let mut shard_endpoints = Vec::new();
    let mut servers = Vec::new();
    let mut long_term = Vec::new();
    for shard in 0..2 {
        let data: Vec<Series> = (0..4)
            .filter(|i| i % 2 == shard)
            .flat_map(|i| instance_series(i, start, now))
            .collect();
        // Prometheus keeps the last 2 hours; older data lives in the long-term store.
        // Compacted history: de-duplicated, with the shard's labels but no replica label.
        let shard_label = Labels::from_pairs([("shard", shard.to_string())]);
        long_term.extend(only_range(&data, start, recent).into_iter().map(
            |(mut labels, samples)| {
                labels.merge_missing(&shard_label);
                (labels, samples)
            },
        ));
        let recent_data = only_range(&data, recent, now);
        for (replica, gap) in [("a", 20), ("b", 70)] {
            let gap_start = recent + gap * 60_000;
            let external = Labels::from_pairs([
                ("cluster", "demo"),
                ("shard", &shard.to_string()),
                ("replica", replica),
            ]);
            let store = MemoryStore::new(
                external,
                with_gap(&recent_data, gap_start, gap_start + 10 * 60_000),
            );
            shard_endpoints.push(serve(store, &mut servers).await?);
        }
    }
    // The shards sit behind a lower-tier (cluster) gateway, which de-duplicates them and is a
    // StoreAPI endpoint of the top gateway, beside the long-term store.
    let lower_tier = lower_tier_gateway(&shard_endpoints, &mut servers).await?;
    endpoints.push(lower_tier.clone());
    let long_term_store = MemoryStore::new(Labels::from_pairs([("cluster", "demo")]), long_term);
    endpoints.push(serve(long_term_store, &mut servers).await?);

    println!("Panoptes demo: 2 shards x 2 replicas (replica label `replica`, each missing a");
    println!("different 10-minute window) behind a cluster gateway, and a long-term store,");
    println!("{HOURS} hours of data.");
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
