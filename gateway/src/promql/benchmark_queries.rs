//! The benchmark query set: what the criterion benchmark (`benches/engine.rs`) and the
//! side-by-side harness (`tests/src/compare`) both run, by name, over data with a counter
//! `http_requests_total{namespace, pod, ...}`, `kube_pod_info{namespace, pod, node}` and a
//! classic histogram `http_request_duration_seconds_bucket{..., le}`.

pub const BENCHMARK_QUERIES: &[(&str, &str)] = &[
    ("selector", "http_requests_total"),
    ("sum", "sum(http_requests_total)"),
    ("sum_by_pod", "sum by (pod) (http_requests_total)"),
    ("rate", "rate(http_requests_total[5m])"),
    (
        "sum_by_pod_rate",
        "sum by (pod) (rate(http_requests_total[5m]))",
    ),
    (
        "group_left",
        "http_requests_total * on (namespace, pod) group_left (node) kube_pod_info",
    ),
    (
        "histogram_quantile",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    ("topk", "topk(10, http_requests_total)"),
    ("sort", "sort(http_requests_total)"),
    (
        "nested_functions",
        "abs(round(rate(http_requests_total[5m]) * 100))",
    ),
    (
        "subquery",
        "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    ),
];
