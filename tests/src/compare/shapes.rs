//! The three Panoptes deployments under test, each a gateway (`panoptes query`) over its
//! StoreAPI endpoints, all on loopback. Every process joins the [`Fleet`] in its tier.

use super::buckets::{ReplicaBucket, filesystem_bucket_config};
use super::fleet::{Fleet, TIER_GATEWAY, TIER_SIDECAR, TIER_STORAGE};
use super::processes::PanoptesProcess;
use super::systems::{Readiness, System, Target};
use crate::net::free_addr;
use std::net::SocketAddr;
use std::path::Path;

/// Logs of interest only: the harness's output stays readable.
const LOG_LEVEL: &str = "--log.level=warn";

/// The gateway over one `panoptes store` serving the blocks in `blocks` (as a filesystem
/// bucket; the config is written into `work`).
pub fn store(fleet: &mut Fleet, binary: &Path, blocks: &Path, work: &Path) -> Target {
    let config = filesystem_bucket_config(blocks, &work.join("bucket-all.yaml"));
    let store = start_store(fleet, System::Store, "store", binary, &config);
    gateway(fleet, System::Store, binary, &[store], &[])
}

/// The gateway over `panoptes sidecar` in front of the Prometheus at `prometheus_url`.
pub fn sidecar(fleet: &mut Fleet, binary: &Path, prometheus_url: &str) -> Target {
    let grpc = free_addr();
    let args = vec![
        "sidecar".to_string(),
        LOG_LEVEL.to_string(),
        format!("--prometheus.url={prometheus_url}"),
        format!("--grpc-address={grpc}"),
        format!("--http-address={}", free_addr()),
    ];
    let process = PanoptesProcess::start(binary, args, grpc);
    fleet.add(System::Sidecar, "sidecar", TIER_SIDECAR, Box::new(process));
    gateway(fleet, System::Sidecar, binary, &[grpc], &[])
}

/// The gateway over one `panoptes store` per replica bucket, de-duplicating on `replica`.
pub fn sharded(fleet: &mut Fleet, binary: &Path, buckets: &[ReplicaBucket], work: &Path) -> Target {
    let stores: Vec<SocketAddr> = buckets
        .iter()
        .map(|bucket| {
            let name = format!("store shard {} replica {}", bucket.shard, bucket.replica);
            let file = format!("bucket-shard-{}-{}.yaml", bucket.shard, bucket.replica);
            let config = filesystem_bucket_config(&bucket.dir, &work.join(file));
            start_store(fleet, System::Sharded, &name, binary, &config)
        })
        .collect();
    let replica_label = "--query.replica-label=replica".to_string();
    gateway(fleet, System::Sharded, binary, &stores, &[replica_label])
}

/// Starts `panoptes store` on the bucket that `config` describes; returns its gRPC address.
fn start_store(
    fleet: &mut Fleet,
    system: System,
    role: &str,
    binary: &Path,
    config: &Path,
) -> SocketAddr {
    let grpc = free_addr();
    let args = vec![
        "store".to_string(),
        LOG_LEVEL.to_string(),
        format!("--objstore.config-file={}", config.display()),
        format!("--grpc-address={grpc}"),
        format!("--http-address={}", free_addr()),
    ];
    let process = PanoptesProcess::start(binary, args, grpc);
    fleet.add(system, role, TIER_STORAGE, Box::new(process));
    grpc
}

fn gateway(
    fleet: &mut Fleet,
    system: System,
    binary: &Path,
    endpoints: &[SocketAddr],
    extra_args: &[String],
) -> Target {
    let http = free_addr();
    let mut args = vec![
        "query".to_string(),
        LOG_LEVEL.to_string(),
        format!("--http-address={http}"),
    ];
    args.extend(endpoints.iter().map(|e| format!("--endpoint={e}")));
    args.extend_from_slice(extra_args);
    let process = PanoptesProcess::start(binary, args, http);
    fleet.add(system, "gateway", TIER_GATEWAY, Box::new(process));
    Target {
        system,
        url: format!("http://{http}"),
        readiness: Readiness::Gateway {
            endpoints: endpoints.len(),
        },
    }
}

/// Whether `binary` has the `store` subcommand (it is being written while this harness is).
pub fn has_store_command(binary: &Path) -> bool {
    std::process::Command::new(binary)
        .args(["store", "--help"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
