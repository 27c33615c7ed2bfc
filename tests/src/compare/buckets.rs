//! Buckets for `panoptes store`: local directories of blocks (`type: FILESYSTEM`), and the
//! sharded layout in which each shard's blocks are copied into two replica buckets whose
//! `meta.json` carry Thanos' external labels, as a sidecar would have uploaded them.

use super::blocks::block_dirs;
use crate::promtool::copy_dir;
use std::path::{Path, PathBuf};

/// Writes the objstore configuration of a filesystem bucket at `dir` to `config` and
/// returns `config`.
pub fn filesystem_bucket_config(dir: &Path, config: &Path) -> PathBuf {
    let yaml = format!(
        "type: FILESYSTEM\nconfig:\n  directory: {:?}\n",
        dir.display()
    );
    std::fs::write(config, yaml).unwrap();
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
            for block in block_dirs(&bucket) {
                add_thanos_labels(&block, &[("shard", &shard_value), ("replica", replica)]);
            }
            buckets.push(ReplicaBucket {
                shard,
                replica,
                dir: bucket,
            });
        }
    }
    buckets
}

/// Adds Thanos' section to a block's `meta.json`: external labels, raw resolution, and the
/// sidecar as the block's source.
fn add_thanos_labels(block: &Path, labels: &[(&str, &str)]) {
    let path = block.join("meta.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    meta["thanos"] = serde_json::json!({
        "labels": labels,
        "downsample": {"resolution": 0},
        "source": "sidecar",
    });
    std::fs::write(&path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
}
