//! The fan-out's metrics. Per endpoint: how its calls ended and how long they took, by API,
//! and the series it sent; and, read from the endpoint set at each scrape, whether it is up
//! (its last Info succeeded) and when its Info last succeeded.

use super::endpoints::EndpointSet;
use crate::telemetry::metrics::{
    HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Registry, counter, counter_vec,
    gauge_vec, histogram_vec, register,
};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// The StoreAPI call an endpoint answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Series,
    LabelNames,
    LabelValues,
    Metadata,
}

/// How an endpoint's call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The whole answer arrived.
    Complete,
    /// An error, or no whole answer within the response timeout.
    Failed,
    /// Cut by hedging: another replica of its shard had answered.
    Cut,
    /// Nobody wanted the rest any more (the query finished or was canceled).
    Abandoned,
}

const APIS: [Api; 4] = [
    Api::Series,
    Api::LabelNames,
    Api::LabelValues,
    Api::Metadata,
];
const OUTCOMES: [Outcome; 4] = [
    Outcome::Complete,
    Outcome::Failed,
    Outcome::Cut,
    Outcome::Abandoned,
];

impl Api {
    pub fn label(self) -> &'static str {
        match self {
            Api::Series => "series",
            Api::LabelNames => "label_names",
            Api::LabelValues => "label_values",
            Api::Metadata => "metadata",
        }
    }
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Failed => "failed",
            Outcome::Cut => "cut",
            Outcome::Abandoned => "abandoned",
        }
    }
}

#[derive(Debug)]
pub struct FanoutMetrics {
    calls: HistogramVec,
    series: IntCounterVec,
    samples: IntCounter,
    merged: IntCounter,
    switches: IntCounter,
}

impl Default for FanoutMetrics {
    fn default() -> Self {
        Self {
            calls: histogram_vec(
                "panoptes_endpoint_call_duration_seconds",
                "Time from a StoreAPI call to an endpoint to the end of its answer, by address, \
                 API and outcome (complete, failed, cut by hedging, abandoned).",
                &["address", "api", "outcome"],
            ),
            series: counter_vec(
                "panoptes_endpoint_series_received_total",
                "Series frames received from an endpoint's Series answers.",
                &["address"],
            ),
            samples: counter(
                "panoptes_decoded_samples_total",
                "Samples decoded from endpoints' chunks and kept (within the range read, replicas \
                 merged), for queries, the StoreAPI face and /federate.",
            ),
            merged: counter(
                "panoptes_dedup_merged_series_total",
                "Series read from more than one replica and merged into one.",
            ),
            switches: counter(
                "panoptes_dedup_replica_switches_total",
                "Times a merged series moves from one replica's samples to another's (the \
                 fewest moves that explain it): replicas with gaps, or out of step.",
            ),
        }
    }
}

impl FanoutMetrics {
    pub fn call(&self, address: &str, api: Api, outcome: Outcome, took: Duration) {
        self.calls
            .with_label_values(&[address, api.label(), outcome.label()])
            .observe(took.as_secs_f64());
    }

    pub fn series_received(&self, address: &str, count: u64) {
        if count > 0 {
            self.series.with_label_values(&[address]).inc_by(count);
        }
    }

    /// One series decoded: `samples` kept, and if it was merged from replicas, how often the
    /// merge switched between them.
    pub fn decoded(&self, samples: usize, merged_switches: Option<usize>) {
        self.samples.inc_by(samples as u64);
        if let Some(switches) = merged_switches {
            self.merged.inc();
            self.switches.inc_by(switches as u64);
        }
    }

    /// Drops the series of an endpoint that left the set.
    pub fn forget(&self, address: &str) {
        for api in APIS {
            for outcome in OUTCOMES {
                let _ = self
                    .calls
                    .remove_label_values(&[address, api.label(), outcome.label()]);
            }
        }
        let _ = self.series.remove_label_values(&[address]);
    }

    pub fn register(&self, registry: &Registry, endpoints: Arc<EndpointSet>) {
        register(registry, self.calls.clone());
        register(registry, self.series.clone());
        register(registry, self.samples.clone());
        register(registry, self.merged.clone());
        register(registry, self.switches.clone());
        register(registry, EndpointHealth::new(endpoints));
    }
}

/// Endpoint health, read from the endpoint set when scraped, so that it is never stale and
/// an endpoint that left the set leaves the metrics too.
#[derive(Clone)]
struct EndpointHealth {
    endpoints: Arc<EndpointSet>,
    up: IntGaugeVec,
    last_success: IntGaugeVec,
}

impl EndpointHealth {
    fn new(endpoints: Arc<EndpointSet>) -> Self {
        Self {
            endpoints,
            up: gauge_vec(
                "panoptes_endpoint_up",
                "1 if the endpoint's last Info call succeeded (it is queried), else 0.",
                &["address"],
            ),
            last_success: gauge_vec(
                "panoptes_endpoint_info_last_success_timestamp_seconds",
                "When the endpoint's Info call last succeeded, in seconds since the epoch.",
                &["address"],
            ),
        }
    }
}

impl Collector for EndpointHealth {
    fn desc(&self) -> Vec<&Desc> {
        self.up
            .desc()
            .into_iter()
            .chain(self.last_success.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.up.reset();
        self.last_success.reset();
        for endpoint in self.endpoints.all() {
            let state = endpoint.state();
            let address = [endpoint.address.as_str()];
            self.up
                .with_label_values(&address)
                .set(i64::from(state.healthy()));
            if let Some(at) = state.last_success_at {
                let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                self.last_success
                    .with_label_values(&address)
                    .set(i64::try_from(seconds).unwrap_or(i64::MAX));
            }
        }
        self.up
            .collect()
            .into_iter()
            .chain(self.last_success.collect())
            .collect()
    }
}
