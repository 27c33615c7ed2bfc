//! The requests every system answers: the PromQL queries of the engine's criterion
//! benchmarks (`gateway/benches/engine.rs`, plus one gauge aggregation) as range queries over
//! the last hour and the whole 6 hours at two steps each and as instant queries, then the
//! label and series API calls over the whole data.

use super::dataset::{Dataset, HOUR_MS};
use crate::prometheus::{Eval, api_time};
use gateway::promql::benchmark_queries::BENCHMARK_QUERIES;

/// A gauge aggregation, run after the benchmark query set (`BENCHMARK_QUERIES`).
const GAUGE_QUERY: (&str, &str) = (
    "gauge_avg",
    "avg by (namespace) (container_memory_working_set_bytes)",
);

/// The queries, by the names the criterion benchmark gives them.
pub fn queries() -> impl Iterator<Item = (&'static str, &'static str)> {
    BENCHMARK_QUERIES.iter().copied().chain([GAUGE_QUERY])
}

/// Range queries: how far back from the end of the data, and the step.
const RANGES: [(i64, i64); 4] = [
    (HOUR_MS, 15_000),
    (HOUR_MS, 60_000),
    (6 * HOUR_MS, 60_000),
    (6 * HOUR_MS, 300_000),
];

/// What a request asks.
#[derive(Clone, Debug)]
pub enum RequestKind {
    Query { promql: &'static str, eval: Eval },
    LabelNames,
    LabelValues(&'static str),
    Series(&'static str),
}

/// One request of the benchmark.
#[derive(Clone, Debug)]
pub struct Request {
    /// The query's benchmark name, or the API call.
    pub name: String,
    /// How it is evaluated: `1h / 15s`, `instant`, or `6h` for the metadata calls.
    pub shape: String,
    pub kind: RequestKind,
}

/// Every request, over `dataset`'s time range: each query at every range and as an instant
/// query at the end of the data, then the metadata calls.
pub fn requests(dataset: &Dataset) -> Vec<Request> {
    let end = dataset.end_ms;
    let mut out = Vec::new();
    for (name, promql) in queries() {
        for (window, step) in RANGES {
            out.push(Request {
                name: name.to_string(),
                shape: format!("{}h / {}s", window / HOUR_MS, step / 1000),
                kind: RequestKind::Query {
                    promql,
                    eval: Eval::Range(end - window, end, step),
                },
            });
        }
        out.push(Request {
            name: name.to_string(),
            shape: "instant".into(),
            kind: RequestKind::Query {
                promql,
                eval: Eval::Instant(end),
            },
        });
    }
    let metadata = [
        ("labels".to_string(), RequestKind::LabelNames),
        ("label values: pod".into(), RequestKind::LabelValues("pod")),
        (
            "label values: __name__".into(),
            RequestKind::LabelValues("__name__"),
        ),
        (
            "series: kube_pod_info".into(),
            RequestKind::Series("kube_pod_info"),
        ),
        (
            "series: http_requests_total{namespace=\"ns-01\"}".into(),
            RequestKind::Series(r#"http_requests_total{namespace="ns-01"}"#),
        ),
    ];
    for (name, kind) in metadata {
        out.push(Request {
            name,
            shape: format!("{}h", (dataset.end_ms - dataset.start_ms) / HOUR_MS),
            kind,
        });
    }
    out
}

impl Request {
    /// The HTTP path and parameters; metadata calls cover the data's whole time range.
    pub fn http(&self, dataset: &Dataset) -> (String, Vec<(String, String)>) {
        let param = |k: &str, v: String| (k.to_string(), v);
        let whole_range = || {
            vec![
                param("start", api_time(dataset.start_ms)),
                param("end", api_time(dataset.end_ms)),
            ]
        };
        match &self.kind {
            RequestKind::Query {
                promql,
                eval: Eval::Instant(t),
            } => (
                "/api/v1/query".into(),
                vec![
                    param("query", promql.to_string()),
                    param("time", api_time(*t)),
                ],
            ),
            RequestKind::Query {
                promql,
                eval: Eval::Range(start, end, step),
            } => (
                "/api/v1/query_range".into(),
                vec![
                    param("query", promql.to_string()),
                    param("start", api_time(*start)),
                    param("end", api_time(*end)),
                    param("step", api_time(*step)),
                ],
            ),
            RequestKind::LabelNames => ("/api/v1/labels".into(), whole_range()),
            RequestKind::LabelValues(name) => {
                (format!("/api/v1/label/{name}/values"), whole_range())
            }
            RequestKind::Series(selector) => {
                let mut params = whole_range();
                params.push(param("match[]", selector.to_string()));
                ("/api/v1/series".into(), params)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::dataset::Preset;

    #[test]
    fn every_query_at_every_range_and_instant_then_metadata() {
        let dataset = Dataset::ending_before(Preset::Small, 1_800_000_000_000);
        let requests = requests(&dataset);
        assert_eq!(requests.len(), queries().count() * 5 + 5);
        let (path, params) = requests[0].http(&dataset);
        assert_eq!(path, "/api/v1/query_range");
        assert_eq!(requests[0].shape, "1h / 15s");
        assert!(params.contains(&("step".to_string(), "15.000".to_string())));
        let (path, params) = requests.last().unwrap().http(&dataset);
        assert_eq!(path, "/api/v1/series");
        assert_eq!(params.len(), 3);
    }
}
