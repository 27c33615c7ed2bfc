//! Loading the data set into VictoriaMetrics through its import API: Prometheus' text format
//! with millisecond timestamps, POSTed to `/api/v1/import/prometheus` a few pods at a time.
//! VictoriaMetrics skips lines it cannot parse without failing the request, and its
//! `/api/v1/series/count` is approximate (series registered concurrently may be counted
//! twice), so the import is checked by queries: every series present at the end of the
//! data, every sample counted.

use super::dataset::Dataset;
use super::http::Http;
use crate::promtool::{format_value, series_selector};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Pods per request: about 30 MB of text.
const PODS_PER_REQUEST: usize = 8;

/// Imports every sample of `dataset`, flushes, and checks that every series and sample is
/// searchable. Panics otherwise.
pub fn import(http: &Http, url: &str, dataset: &Dataset) {
    let pods: Vec<usize> = (0..dataset.pods()).collect();
    let mut samples = 0;
    for batch in pods.chunks(PODS_PER_REQUEST) {
        let mut body = String::new();
        for series in batch.iter().flat_map(|&pod| dataset.pod_series(pod)) {
            let selector = series_selector(&series.labels);
            for &(t, v) in &series.samples {
                writeln!(body, "{selector} {} {t}", format_value(v)).unwrap();
            }
            samples += series.samples.len();
        }
        let reply = http
            .post(url, "/api/v1/import/prometheus", body)
            .unwrap_or_else(|e| panic!("VictoriaMetrics import: {e}"));
        assert!(
            reply.status / 100 == 2,
            "VictoriaMetrics import: HTTP {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    flush(http, url);
    let searchable = || {
        let series = http.query_number(url, SERIES, dataset.end_ms);
        let stored = http.query_number(url, SAMPLES, dataset.end_ms);
        let want = (Ok(dataset.series_count() as f64), Ok(samples as f64));
        ((&series, &stored) == (&want.0, &want.1))
            .then_some(())
            .ok_or(format!("{series:?} series, {stored:?} samples"))
    };
    wait_for(searchable, Duration::from_secs(120)).unwrap_or_else(|state| {
        panic!(
            "VictoriaMetrics after the import: {state}; want {} series, {samples} samples",
            dataset.series_count()
        )
    });
}

/// Counts the series with a sample in the lookback window before the evaluation time.
pub const SERIES: &str = r#"count({__name__=~".+"})"#;
/// Counts every sample in the 6 hours before the evaluation time.
const SAMPLES: &str = r#"sum(count_over_time({__name__=~".+"}[6h]))"#;

/// Makes recently imported data searchable.
fn flush(http: &Http, url: &str) {
    let reply = http
        .get(url, "/internal/force_flush", &[])
        .unwrap_or_else(|e| panic!("VictoriaMetrics force_flush: {e}"));
    assert_eq!(reply.status, 200, "VictoriaMetrics force_flush");
}

/// Polls `check` every half second until it succeeds; its last error after `timeout`.
fn wait_for(check: impl Fn() -> Result<(), String>, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
