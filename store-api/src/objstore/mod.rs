//! The block store: Prometheus TSDB blocks in object storage (a directory, S3, GCS, Azure),
//! served over the StoreAPI without downloading whole blocks.
//!
//! `config` opens the bucket, `bucket` counts every ranged read, `meta`/`index`/`tombstones`
//! decode a block's files, `block` answers one block, `cache` keeps decoded postings and
//! series within a byte budget, and `store` serves all blocks with a periodic sync.

pub mod block;
pub mod bucket;
pub mod cache;
pub mod config;
pub mod index;
pub mod meta;
pub mod store;
pub mod tombstones;

pub use bucket::Bucket;
pub use cache::IndexCache;
pub use config::BucketConfig;
pub use store::{BucketStore, SyncReport};
