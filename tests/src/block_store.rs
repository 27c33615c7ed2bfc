//! Buckets of promtool blocks and `panoptes store` processes over them.

use crate::net::free_addr;
use crate::process::Panoptes;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The block directories (ULIDs) under `dir`.
pub fn block_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut blocks: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    blocks.sort();
    blocks
}

/// Adds Thanos' external labels to every block's meta.json, as a sidecar does on upload.
pub fn add_thanos_labels(dir: &Path, labels: &[(&str, &str)]) {
    for block in block_dirs(dir) {
        let path = block.join("meta.json");
        let mut meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        meta["thanos"] = serde_json::json!({
            "labels": labels,
            "downsample": {"resolution": 0},
            "source": "sidecar",
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    }
}

/// The objstore YAML of a local directory bucket.
pub fn filesystem_config(dir: &Path) -> String {
    format!(
        "type: FILESYSTEM\nconfig:\n  directory: {}\n",
        dir.display()
    )
}

/// A `panoptes store` over the bucket `config` describes; `extra` flags are appended.
pub fn start_store(config: &str, work_dir: &Path, extra: &[&str]) -> (Panoptes, SocketAddr) {
    std::fs::create_dir_all(work_dir).unwrap();
    let file = work_dir.join("bucket.yaml");
    std::fs::write(&file, config).unwrap();
    let grpc = free_addr();
    let mut args = vec![
        "store".to_string(),
        format!("--objstore.config-file={}", file.display()),
        format!("--grpc-address={grpc}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    (Panoptes::start(&args, grpc), grpc)
}

/// A gateway over the given StoreAPI endpoints; its HTTP base URL.
pub fn start_gateway(endpoints: &[SocketAddr], extra: &[&str]) -> (Panoptes, String) {
    let http = free_addr();
    let mut args = vec!["query".to_string(), format!("--http-address={http}")];
    args.extend(endpoints.iter().map(|e| format!("--endpoint={e}")));
    args.extend(extra.iter().map(|s| s.to_string()));
    (Panoptes::start(&args, http), format!("http://{http}"))
}
