//! The process' metrics registry and its exposition: Prometheus' text format 0.0.4 on
//! `/metrics`. Every registry carries what every component exports: `panoptes_build_info`
//! and the process collector (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! open file descriptors, start time).

use prometheus::core::Collector;
use prometheus::{Encoder, HistogramOpts, Opts, TextEncoder};

pub use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Registry};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request durations, in seconds: from a cached label lookup to a long range query.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A registry with the build information and the process collector.
pub fn registry() -> Registry {
    let registry = Registry::new();
    let build_info = gauge_vec(
        "panoptes_build_info",
        "A metric with a constant '1' value labeled by the version, revision, branch and \
         compiler Panoptes was built from.",
        &["version", "revision", "branch", "rustversion"],
    );
    use crate::build_info::{BRANCH, REVISION, RUSTC, VERSION};
    build_info
        .with_label_values(&[VERSION, REVISION, BRANCH, RUSTC])
        .set(1);
    register(&registry, build_info);
    register(
        &registry,
        prometheus::process_collector::ProcessCollector::for_self(),
    );
    registry
}

/// Registers `collector`; a clash (the same name twice) is logged, not fatal: the process
/// serves on without that metric rather than not at all.
pub fn register(registry: &Registry, collector: impl Collector + 'static) {
    if let Err(error) = registry.register(Box::new(collector)) {
        tracing::error!(%error, "metric not registered");
    }
}

/// The registry's metrics in the text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::error!(%error, "encoding metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

// The constructors below take constant names and help texts: they fail only for a malformed
// name, which every component's metrics unit test would catch first.

#[allow(clippy::expect_used)]
pub fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::with_opts(Opts::new(name, help)).expect("a valid metric name")
}

#[allow(clippy::expect_used)]
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric name")
}

#[allow(clippy::expect_used)]
pub fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric name")
}

#[allow(clippy::expect_used)]
pub fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(DURATION_BUCKETS.to_vec());
    HistogramVec::new(opts, labels).expect("a valid metric name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_has_build_info_and_process_metrics() {
        let text = encode(&registry());
        let info = text
            .lines()
            .find(|l| l.starts_with("panoptes_build_info{"))
            .unwrap_or_default();
        assert!(info.ends_with(" 1"), "{text}");
        assert!(
            info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
            "{info}"
        );
        assert!(
            info.contains(&format!("revision=\"{}\"", crate::build_info::REVISION)),
            "{info}"
        );
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
    }
}
