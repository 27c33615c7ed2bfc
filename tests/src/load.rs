//! What the load harnesses (`src/bin/load.rs`, `src/bin/slow_readers.rs`) share: a release
//! gateway over one real gRPC store on loopback holding 1,000 series of 6 h at 15 s, and the
//! gateway's memory as the kernel reports it.

use crate::net::free_addr;
use crate::process::{Panoptes, panoptes_binary_in};
use std::sync::Arc;
use store_api::server::RunningServer;
use store_api::{Labels, MemoryStore};

pub const SERIES: usize = 1000;
pub const HOURS: i64 = 6;
pub const STEP_MS: i64 = 15_000;

/// `m{job, i}`: 1,000 counters of 6 h at 15 s.
pub fn store() -> MemoryStore {
    let points = HOURS * 3_600_000 / STEP_MS;
    let series = (0..SERIES).map(|i| {
        let labels = Labels::from_pairs([
            ("__name__", "m".to_string()),
            ("job", format!("job{}", i % 10)),
            ("i", i.to_string()),
        ]);
        let samples = (0..=points)
            .map(|k| (k * STEP_MS, (k * (1 + i as i64 % 7)) as f64))
            .collect();
        (labels, samples)
    });
    MemoryStore::new(Labels::new(), series.collect::<Vec<_>>())
}

/// A release gateway with `flags` over the store, served on loopback: the gateway, its HTTP
/// base URL, and the store's server (dropping it stops the store).
pub async fn gateway_over_store(flags: &[String]) -> (Panoptes, String, RunningServer) {
    let server = store_api::server::spawn(Arc::new(store()), free_addr())
        .await
        .unwrap();
    let http = free_addr();
    let mut args = vec![
        "query".to_string(),
        format!("--http-address={http}"),
        format!("--endpoint={}", server.addr),
    ];
    args.extend(flags.iter().cloned());
    let binary = panoptes_binary_in("release");
    let gateway = tokio::task::spawn_blocking(move || Panoptes::start_binary(&binary, &args, http))
        .await
        .unwrap();
    (gateway, format!("http://{http}"), server)
}

/// `VmRSS` and `VmHWM` of `pid`, in MB.
pub fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
