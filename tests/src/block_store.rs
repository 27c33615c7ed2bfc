//! Buckets of promtool blocks and `panoptes store` processes over them.

use crate::net::free_addr;
use crate::process::Panoptes;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use store_api::chunk::decode_into;
use store_api::{Labels, SeriesFrame, SeriesRequest, Store, StoreError};

/// The blocks (directories with a `meta.json`) directly under `dir`.
pub fn block_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut blocks: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("meta.json").is_file())
        .collect();
    blocks.sort();
    blocks
}

/// Bytes of the files under `dir`, recursively.
pub fn disk_usage(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| {
                    let entry = entry.unwrap();
                    let meta = entry.metadata().unwrap();
                    if meta.is_dir() {
                        disk_usage(&entry.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
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

/// The objstore YAML of a local directory bucket (the path quoted, as any path can be).
pub fn filesystem_config(dir: &Path) -> String {
    format!(
        "type: FILESYSTEM\nconfig:\n  directory: {:?}\n",
        dir.display()
    )
}

/// A `panoptes store` over the bucket `config` describes; `extra` flags are appended.
pub fn start_store(config: &str, work_dir: &Path, extra: &[&str]) -> (Panoptes, SocketAddr) {
    let (store, grpc, _) = start_store_with_http(config, work_dir, extra);
    (store, grpc)
}

/// Like [`start_store`], with the address of its `/metrics`, `/-/healthy` and `/-/ready`.
pub fn start_store_with_http(
    config: &str,
    work_dir: &Path,
    extra: &[&str],
) -> (Panoptes, SocketAddr, SocketAddr) {
    std::fs::create_dir_all(work_dir).unwrap();
    let file = work_dir.join("bucket.yaml");
    std::fs::write(&file, config).unwrap();
    let (grpc, http) = (free_addr(), free_addr());
    let mut args = vec![
        "store".to_string(),
        format!("--objstore.config-file={}", file.display()),
        format!("--grpc-address={grpc}"),
        format!("--http-address={http}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    (Panoptes::start(&args, grpc), grpc, http)
}

/// A gateway over the given StoreAPI endpoints; its HTTP base URL.
pub fn start_gateway(endpoints: &[SocketAddr], extra: &[&str]) -> (Panoptes, String) {
    let http = free_addr();
    let mut args = vec!["query".to_string(), format!("--http-address={http}")];
    args.extend(endpoints.iter().map(|e| format!("--endpoint={e}")));
    args.extend(extra.iter().map(|s| s.to_string()));
    (Panoptes::start(&args, http), format!("http://{http}"))
}

/// A decoded series: its labels and its samples.
pub type DecodedSeries = (Labels, Vec<(i64, f64)>);

/// The series of a Series call, each with its chunks decoded (and checked to go forward in
/// time), and the call's warnings.
pub async fn decoded_series(
    store: &impl Store,
    request: SeriesRequest,
) -> Result<(Vec<DecodedSeries>, Vec<String>), StoreError> {
    let mut stream = store.series(request).await?;
    let (mut series, mut warnings) = (Vec::new(), Vec::new());
    while let Some(frame) = stream.next().await {
        match frame? {
            SeriesFrame::Warning(w) => warnings.push(w),
            SeriesFrame::Series(s) => {
                let (mut ts, mut vs) = (Vec::new(), Vec::new());
                for chunk in &s.chunks {
                    decode_into(&chunk.data, &mut ts, &mut vs).unwrap();
                }
                assert!(
                    ts.windows(2).all(|w| w[0] < w[1]),
                    "{}: time goes back",
                    s.labels
                );
                series.push((s.labels, ts.into_iter().zip(vs).collect()));
            }
        }
    }
    Ok((series, warnings))
}
