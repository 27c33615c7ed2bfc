//! The gateway's logs as an operator's collector reads them: `--log.format=logfmt` writes
//! every line as `key=value` pairs, `--log.format=json` one JSON object per line; an endpoint
//! that goes down is logged once, not at every Info poll, and once more when it is healthy
//! again.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::net::free_addr;
use panoptes_tests::process::Panoptes;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store_api::{Labels, MemoryStore};

fn store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new(
        Labels::new(),
        [(Labels::from_pairs([("__name__", "up")]), vec![(0, 1.0)])],
    ))
}

/// Waits until the log at `path` holds `needle` `count` times; returns the log.
fn wait_for(path: &Path, needle: &str, count: usize, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches(needle).count() >= count {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} not logged {count} times within {within:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `line` is logfmt: `key=value` pairs, values bare or double-quoted.
fn is_logfmt(line: &str) -> bool {
    let pair =
        regex::Regex::new(r#"^(?:[A-Za-z_][A-Za-z0-9_.]*=(?:"(?:[^"\\]|\\.)*"|[^ "=]*)(?: |$))+$"#)
            .unwrap();
    pair.is_match(line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logfmt_lines_and_one_line_per_change_of_health() {
    let dir = tempfile::tempdir().unwrap();
    let store_addr = free_addr();
    let server = store_api::server::spawn(store(), store_addr).await.unwrap();
    let http = free_addr();
    let log = dir.path().join("gateway.log");
    let _gateway = Panoptes::start_logging_to(
        &[
            "query".to_string(),
            "--log.format=logfmt".to_string(),
            format!("--endpoint={store_addr}"),
            format!("--http-address={http}"),
        ],
        http,
        &log,
    );
    wait_for(&log, "gateway serving", 1, Duration::from_secs(10));

    drop(server);
    wait_for(&log, "endpoint unhealthy", 1, Duration::from_secs(15));
    // Two more Info polls (every 5 s) fail the same way: no more lines about it.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let _server = store_api::server::spawn(store(), store_addr).await.unwrap();
    let text = wait_for(&log, "endpoint healthy again", 1, Duration::from_secs(15));
    assert_eq!(
        text.matches("endpoint unhealthy").count(),
        1,
        "one line for going down:\n{text}"
    );
    for line in text.lines().filter(|l| !l.is_empty()) {
        assert!(is_logfmt(line), "not logfmt: {line:?}");
    }
    let healthy = text
        .lines()
        .find(|l| l.contains("endpoint healthy again"))
        .unwrap();
    assert!(
        healthy.contains(&format!("endpoint={store_addr}")),
        "names the endpoint: {healthy}"
    );
}

#[test]
fn json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let http = free_addr();
    let log = dir.path().join("gateway.log");
    let _gateway = Panoptes::start_logging_to(
        &[
            "query".to_string(),
            "--log.format=json".to_string(),
            "--endpoint=127.0.0.1:1".to_string(),
            format!("--http-address={http}"),
        ],
        http,
        &log,
    );
    let text = wait_for(&log, "gateway serving", 1, Duration::from_secs(10));
    let mut lines = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert!(
            object["level"].is_string() && object["fields"].is_object(),
            "{line}"
        );
        lines += 1;
    }
    assert!(lines >= 2, "{text}");
}
