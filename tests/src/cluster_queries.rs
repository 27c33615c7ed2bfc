//! The cluster query set: PromQL over the generated data (counters with resets, gauges,
//! classic histograms) that a gateway must answer exactly as one Prometheus holding all of
//! the data. Prometheus' HTTP API leaves its external labels out, while the gateway shows its
//! stores' `cluster="eu"` on every series whose labels survive the query: each query says
//! whether its series keep `cluster`, and the reference's series get it added when they do.
//!
//! Deliberate exclusions (Prometheus 2.42 vs the 3.x semantics the engine follows):
//! - left-closed (2.42) vs left-open (3.x) windows: samples are never on a whole second, every
//!   evaluation time, range and offset is whole seconds;
//! - rate/increase windows that start before a counter's first sample extrapolate differently
//!   (prometheus/prometheus#13725): every window, offset included, starts at least 7 s after
//!   the first sample (earliest evaluation 20 m 7 s in, longest window plus offset 15 m);
//! - delayed `__name__` removal: no query reads `__name__` after a name-dropping function;
//! - functions new in 3.x, and `topk`/`sort` order over ties: not used (`topk` runs over
//!   distinct random values and is compared as a set).

use crate::prometheus::{Answer, Eval, compare_answers, query_answer};
use futures_util::StreamExt;
use std::time::Duration;

/// The external label of the stores (and of the reference Prometheus).
pub const CLUSTER: (&str, &str) = ("cluster", "eu");
pub const TOLERANCE: f64 = 1e-6;

/// Whether a query's result series keep the series' own labels (and so the sidecars'
/// `cluster`), or are built from a subset that does not include it.
pub const KEEPS: bool = true;
pub const DROPS: bool = false;

/// The queries: selectors, counters, histograms, `*_over_time`, aggregations, arithmetic.
pub const QUERIES: &[(bool, &str)] = &[
    // Selectors.
    (KEEPS, "http_requests_total"),
    (KEEPS, r#"memory_usage_bytes{job="api"}"#),
    (KEEPS, r#"temperature_celsius{pod=~"pod-[13]"}"#),
    (KEEPS, r#"request_duration_seconds_bucket{le="0.5"}"#),
    (
        KEEPS,
        r#"{__name__=~"request_duration_seconds_(sum|count)", pod!="pod-0"}"#,
    ),
    (KEEPS, "memory_usage_bytes offset 10m"),
    (KEEPS, "memory_usage_bytes > 1.3e8"),
    // Counters (with resets).
    (KEEPS, "rate(http_requests_total[5m])"),
    (KEEPS, r#"increase(http_requests_total{code="500"}[10m])"#),
    (KEEPS, "irate(http_requests_total[1m])"),
    (KEEPS, "resets(http_requests_total[10m])"),
    (KEEPS, "rate(http_requests_total[5m] offset 10m)"),
    (DROPS, "sum by (job) (rate(http_requests_total[5m]))"),
    (DROPS, "sum by (code) (increase(http_requests_total[10m]))"),
    (DROPS, "sum(rate(http_requests_total[2m]))"),
    (KEEPS, "sum without (pod) (rate(http_requests_total[5m]))"),
    (KEEPS, "http_requests_total - http_requests_total offset 5m"),
    // Histograms.
    (
        DROPS,
        "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    ),
    (
        DROPS,
        "histogram_quantile(0.5, sum by (job, le) (rate(request_duration_seconds_bucket[10m])))",
    ),
    (
        KEEPS,
        "histogram_quantile(0.99, rate(request_duration_seconds_bucket[5m]))",
    ),
    (
        KEEPS,
        "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    ),
    // *_over_time and other range functions over gauges.
    (KEEPS, "avg_over_time(memory_usage_bytes[10m])"),
    (KEEPS, "max_over_time(temperature_celsius[5m])"),
    (KEEPS, "min_over_time(temperature_celsius[10m])"),
    (KEEPS, "sum_over_time(temperature_celsius[2m])"),
    (KEEPS, "count_over_time(temperature_celsius[10m])"),
    (KEEPS, "quantile_over_time(0.9, memory_usage_bytes[10m])"),
    (KEEPS, "stddev_over_time(temperature_celsius[10m])"),
    (KEEPS, "last_over_time(temperature_celsius[5m])"),
    (KEEPS, "changes(memory_usage_bytes[5m])"),
    (KEEPS, "delta(temperature_celsius[10m])"),
    (KEEPS, "deriv(memory_usage_bytes[10m])"),
    (KEEPS, "predict_linear(memory_usage_bytes[10m], 600)"),
    // Aggregations.
    (DROPS, "count by (job) (memory_usage_bytes)"),
    (KEEPS, "avg without (pod) (temperature_celsius)"),
    (DROPS, "max by (job) (memory_usage_bytes)"),
    (DROPS, "quantile(0.5, temperature_celsius)"),
    (KEEPS, "topk(2, memory_usage_bytes)"),
    (DROPS, "sum(memory_usage_bytes) / count(memory_usage_bytes)"),
    (DROPS, r#"scalar(sum(http_requests_total{code="500"}))"#),
    (DROPS, "absent(nonexistent_metric)"),
];

/// Prometheus' series with the external `cluster` label the gateway shows.
pub fn with_cluster(answer: Answer) -> Answer {
    answer
        .into_iter()
        .map(|(mut labels, samples)| {
            labels.set(CLUSTER.0.into(), CLUSTER.1.into());
            (labels, samples)
        })
        .collect()
}

struct Outcome {
    query: &'static str,
    eval: Eval,
    samples: usize,
    problems: Vec<String>,
}

async fn compare(
    client: &reqwest::Client,
    gateway: &str,
    reference: &str,
    keeps_cluster: bool,
    query: &'static str,
    eval: Eval,
) -> Outcome {
    let (got, want) = futures_util::join!(
        query_answer(client, gateway, query, eval),
        query_answer(client, reference, query, eval),
    );
    let mut problems = Vec::new();
    for labels in got.keys() {
        if labels.get("replica").is_some() {
            problems.push(format!("replica label in {labels}"));
        }
        let cluster = labels.get(CLUSTER.0);
        if keeps_cluster && cluster != Some(CLUSTER.1) || !keeps_cluster && cluster.is_some() {
            problems.push(format!("cluster label: {labels}"));
        }
    }
    let want = if keeps_cluster {
        with_cluster(want)
    } else {
        want
    };
    problems.extend(compare_answers(&got, &want, TOLERANCE));
    Outcome {
        query,
        eval,
        samples: want.values().map(Vec::len).sum(),
        problems,
    }
}

/// What comparing every query at every evaluation found.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per differing answer, and per query that was empty everywhere (a query that
    /// compares nothing checks nothing).
    pub failures: Vec<String>,
    /// Answers compared and samples in them.
    pub answers: usize,
    pub samples: usize,
}

/// Asks the gateway and the reference Prometheus every query at every evaluation, four at a
/// time, within `timeout`.
pub async fn compare_all(
    client: &reqwest::Client,
    gateway: &str,
    reference: &str,
    queries: &[(bool, &'static str)],
    evaluations: &[Eval],
    timeout: Duration,
) -> Report {
    let jobs: Vec<(bool, &'static str, Eval)> = queries
        .iter()
        .flat_map(|&(keeps, query)| evaluations.iter().map(move |&eval| (keeps, query, eval)))
        .collect();
    let outcomes: Vec<Outcome> = tokio::time::timeout(
        timeout,
        futures_util::stream::iter(jobs)
            .map(|(keeps, query, eval)| compare(client, gateway, reference, keeps, query, eval))
            .buffer_unordered(4)
            .collect(),
    )
    .await
    .expect("the queries finish in time");
    let mut report = Report {
        answers: outcomes.len(),
        ..Report::default()
    };
    for &(_, query) in queries {
        let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.query == query).collect();
        let compared: usize = mine.iter().map(|o| o.samples).sum();
        if compared == 0 {
            report.failures.push(format!(
                "{query}: empty at every evaluation (checks nothing)"
            ));
        }
        report.samples += compared;
        for o in mine.iter().filter(|o| !o.problems.is_empty()) {
            report.failures.push(format!(
                "{query} ({:?}):\n    {}",
                o.eval,
                o.problems.join("\n    ")
            ));
        }
    }
    report
}
