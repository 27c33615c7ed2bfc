//! `panoptes store`: StoreAPI over the TSDB blocks in a bucket.

use crate::cli::StoreArgs;
use crate::telemetry::blockstore::BlockStoreMetrics;
use crate::telemetry::metrics;
use std::sync::Arc;
use store_api::objstore::{Bucket, BucketConfig, BucketStore, IndexCache};

pub async fn run(args: StoreArgs) -> Result<(), String> {
    let path = &args.objstore_config_file;
    let yaml = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let config = BucketConfig::parse(&yaml).map_err(|e| format!("{}: {e}", path.display()))?;
    let bucket = Arc::new(Bucket::new(
        config
            .open()
            .map_err(|e| format!("{}: {e}", path.display()))?,
        &config.prefix,
    ));
    let store = Arc::new(BucketStore::new(
        bucket,
        Arc::new(IndexCache::new(args.index_cache_size)),
    ));
    // Serve only once the blocks are known, so a gateway's first Info sees them.
    let report = store
        .sync()
        .await
        .map_err(|e| format!("first bucket sync: {e}"))?;
    tracing::info!(
        blocks = report.loaded.len(),
        failed = report.failed.len(),
        "bucket synced"
    );
    let _sync = store.spawn_sync(args.sync_interval);
    tracing::info!(
        grpc = %args.serve.grpc_address,
        http = %args.serve.http_address,
        kind = ?config.kind,
        "store serving StoreAPI"
    );
    let registry = metrics::registry();
    metrics::register(&registry, BlockStoreMetrics::new(store.clone()));
    super::serve::serve_store(store, registry, &args.serve).await
}
