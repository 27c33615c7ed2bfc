//! The query log (`--query.log-file`): one JSON line per query, in Prometheus' query log
//! shape (`params`, `stats.timings`, `ts`, `httpRequest`), plus `error` for a failed query.
//! Lines go through a bounded queue to a writer task, so a slow disk never holds a query; a
//! line that finds the queue full is dropped and counted. Queries slower than
//! `--query.slow-query-log-threshold` are also logged as warnings.

use crate::promql::functions::format::rfc3339_millis;
use crate::telemetry::metrics::{IntCounterVec, Registry, counter_vec, register};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Lines waiting for the writer at most.
const QUEUE_LINES: usize = 4096;

pub struct QueryLog {
    lines: Option<mpsc::Sender<String>>,
    slow: Option<Duration>,
    dropped: IntCounterVec,
}

/// One query, as logged.
pub struct Entry<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub client: Option<SocketAddr>,
    pub query: &'a str,
    /// Milliseconds: the evaluation time of an instant query is start and end.
    pub start: i64,
    pub end: i64,
    pub step: Duration,
    pub timings: Timings,
    pub error: Option<&'a str>,
}

/// Where a query's time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Waiting for a place (admission).
    pub queue: Duration,
    /// Evaluating, fetching included.
    pub eval: Duration,
    /// The whole request.
    pub total: Duration,
}

impl QueryLog {
    /// Logs to `file` (appended to; created if missing) when given.
    pub async fn open(
        file: Option<&Path>,
        slow: Option<Duration>,
        registry: &Registry,
    ) -> Result<Self, String> {
        let dropped = counter_vec(
            "panoptes_query_log_dropped_total",
            "Query log lines dropped because the writer fell behind, or could not write.",
            &["reason"],
        );
        register(registry, dropped.clone());
        let lines = match file {
            None => None,
            Some(path) => {
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| format!("query log {}: {e}", path.display()))?;
                let (sender, receiver) = mpsc::channel(QUEUE_LINES);
                tokio::spawn(write_lines(file, receiver, dropped.clone()));
                Some(sender)
            }
        };
        Ok(Self {
            lines,
            slow,
            dropped,
        })
    }

    pub fn record(&self, entry: &Entry<'_>) {
        if let Some(slow) = self.slow
            && entry.timings.total >= slow
        {
            tracing::warn!(
                query = entry.query,
                path = entry.path,
                took = ?entry.timings.total,
                error = entry.error,
                "slow query"
            );
        }
        let Some(lines) = &self.lines else {
            return;
        };
        if lines.try_send(line(entry)).is_err() {
            self.dropped.with_label_values(&["queue_full"]).inc();
        }
    }
}

async fn write_lines(
    mut file: tokio::fs::File,
    mut lines: mpsc::Receiver<String>,
    dropped: IntCounterVec,
) {
    while let Some(line) = lines.recv().await {
        if let Err(error) = file.write_all(line.as_bytes()).await {
            tracing::error!(%error, "query log not written");
            dropped.with_label_values(&["write_error"]).inc();
        }
    }
}

fn line(entry: &Entry<'_>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut value = json!({
        "params": {
            "query": entry.query,
            "start": rfc3339_millis(entry.start),
            "end": rfc3339_millis(entry.end),
            "step": entry.step.as_secs_f64(),
        },
        "stats": {
            "timings": {
                "execQueueTime": entry.timings.queue.as_secs_f64(),
                "evalTotalTime": entry.timings.eval.as_secs_f64(),
                "execTotalTime": entry.timings.total.as_secs_f64(),
            }
        },
        "ts": rfc3339_millis(now),
        "httpRequest": {
            "clientIP": entry.client.map(|c| c.ip().to_string()).unwrap_or_default(),
            "method": entry.method,
            "path": entry.path,
        },
    });
    if let Some(error) = entry.error {
        value["error"] = json!(error);
    }
    let mut line = value.to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_json_in_prometheus_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queries.log");
        let log = QueryLog::open(Some(&path), None, &Registry::new())
            .await
            .unwrap();
        let entry = Entry {
            path: "/api/v1/query_range",
            method: "GET",
            client: Some("127.0.0.1:5000".parse().unwrap()),
            query: "up == 0",
            start: 1_581_170_390_368,
            end: 1_581_173_990_368,
            step: Duration::from_secs(5),
            timings: Timings {
                queue: Duration::from_millis(1),
                eval: Duration::from_millis(2),
                total: Duration::from_millis(4),
            },
            error: None,
        };
        log.record(&entry);
        log.record(&Entry {
            error: Some("parse error"),
            ..entry
        });
        drop(log);
        let mut text = String::new();
        for _ in 0..100 {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["params"]["query"], "up == 0");
        assert_eq!(lines[0]["params"]["start"], "2020-02-08T13:59:50.368Z");
        assert_eq!(lines[0]["params"]["step"], 5.0);
        assert_eq!(lines[0]["stats"]["timings"]["execTotalTime"], 0.004);
        assert_eq!(lines[0]["httpRequest"]["clientIP"], "127.0.0.1");
        assert!(lines[0].get("error").is_none());
        assert_eq!(lines[1]["error"], "parse error");
    }
}
