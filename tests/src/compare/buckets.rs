//! Buckets for `panoptes store`: local directories of blocks (`type: FILESYSTEM`), and the
//! sharded layout in which each shard's blocks are copied into two replica buckets whose
//! `meta.json` carry Thanos' external labels, as a sidecar would have uploaded them.

use crate::block_store::{add_thanos_labels, filesystem_config};
use crate::promtool::copy_dir;
use std::path::{Path, PathBuf};

/// Writes the objstore configuration of a filesystem bucket at `dir` to `config` and
/// returns `config`.
pub fn filesystem_bucket_config(dir: &Path, config: &Path) -> PathBuf {
    std::fs::write(config, filesystem_config(dir)).unwrap();
    config.to_path_buf()
}

/// One replica's copy of one shard's blocks.
#[derive(Clone, Debug)]
pub struct ReplicaBucket {
    pub shard: usize,
    pub replica: &'static str,
    pub dir: PathBuf,
}

pub const REPLICAS: [&str; 2] = ["a", "b"];

/// Copies each shard's blocks into one bucket per replica under `dir`, labelled
/// `{shard="<i>", replica="a"|"b"}`.
pub fn replica_buckets(shard_blocks: &[PathBuf], dir: &Path) -> Vec<ReplicaBucket> {
    let mut buckets = Vec::new();
    for (shard, blocks) in shard_blocks.iter().enumerate() {
        for replica in REPLICAS {
            let bucket = dir.join(format!("shard-{shard}-{replica}"));
            copy_dir(blocks, &bucket);
            let shard_value = shard.to_string();
            add_thanos_labels(&bucket, &[("shard", &shard_value), ("replica", replica)]);
            buckets.push(ReplicaBucket {
                shard,
                replica,
                dir: bucket,
            });
        }
    }
    buckets
}
