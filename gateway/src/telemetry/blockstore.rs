//! `panoptes store`'s own figures, read from the store when scraped: blocks served and
//! failing, bucket requests and bytes read, and the index cache's hits, misses, items and
//! memory per kind of entry.

use crate::telemetry::metrics::{IntCounterVec, IntGaugeVec, counter_vec, gauge_vec};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use std::sync::Arc;
use store_api::objstore::BucketStore;

#[derive(Clone)]
pub struct BlockStoreMetrics {
    store: Arc<BucketStore>,
    blocks: IntGaugeVec,
    bucket_requests: IntCounterVec,
    bucket_bytes: IntCounterVec,
    cache_requests: IntCounterVec,
    cache_items: IntGaugeVec,
    cache_bytes: IntGaugeVec,
}

impl BlockStoreMetrics {
    pub fn new(store: Arc<BucketStore>) -> Self {
        Self {
            store,
            blocks: gauge_vec(
                "panoptes_blocks",
                "Blocks by state: loaded (served) or failed (could not be loaded; retried at \
                 every sync).",
                &["state"],
            ),
            bucket_requests: counter_vec(
                "panoptes_bucket_requests_total",
                "Read and list requests sent to the bucket.",
                &[],
            ),
            bucket_bytes: counter_vec(
                "panoptes_bucket_read_bytes_total",
                "Bytes read from the bucket (ranged reads and whole files).",
                &[],
            ),
            cache_requests: counter_vec(
                "panoptes_index_cache_requests_total",
                "Index cache lookups by kind of entry (postings, series) and result (hit, miss).",
                &["kind", "result"],
            ),
            cache_items: gauge_vec(
                "panoptes_index_cache_items",
                "Entries in the index cache, by kind.",
                &["kind"],
            ),
            cache_bytes: gauge_vec(
                "panoptes_index_cache_bytes",
                "Memory the index cache's entries hold, by kind (weighed as against \
                 --index-cache-size).",
                &["kind"],
            ),
        }
    }

    fn all(&self) -> [&dyn Collector; 6] {
        [
            &self.blocks,
            &self.bucket_requests,
            &self.bucket_bytes,
            &self.cache_requests,
            &self.cache_items,
            &self.cache_bytes,
        ]
    }
}

/// Sets a counter read from the store to its current total.
fn set_counter(counter: &IntCounterVec, labels: &[&str], total: u64) {
    let counter = counter.with_label_values(labels);
    counter.reset();
    counter.inc_by(total);
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Collector for BlockStoreMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.all().into_iter().flat_map(Collector::desc).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (loaded, failed) = self.store.block_counts();
        self.blocks
            .with_label_values(&["loaded"])
            .set(gauge(loaded as u64));
        self.blocks
            .with_label_values(&["failed"])
            .set(gauge(failed as u64));
        let bucket = self.store.bucket();
        set_counter(&self.bucket_requests, &[], bucket.requests());
        set_counter(&self.bucket_bytes, &[], bucket.bytes_read());
        for stats in self.store.cache().stats() {
            set_counter(&self.cache_requests, &[stats.kind, "hit"], stats.hits);
            set_counter(&self.cache_requests, &[stats.kind, "miss"], stats.misses);
            self.cache_items
                .with_label_values(&[stats.kind])
                .set(gauge(stats.items));
            self.cache_bytes
                .with_label_values(&[stats.kind])
                .set(gauge(stats.bytes));
        }
        self.all()
            .into_iter()
            .flat_map(Collector::collect)
            .collect()
    }
}
