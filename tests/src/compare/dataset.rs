//! The benchmark's data set: a Kubernetes-like fleet of pods, each scraped every 15 s for 6
//! hours. Per pod (21 series):
//!
//! - `http_requests_total{job="kubernetes-pods", namespace, pod, instance, container, code}`:
//!   counters with resets, 2 containers × 2 codes;
//! - `container_memory_working_set_bytes{job="cadvisor", namespace, pod, instance,
//!   container}`: gauges (a random walk in bytes), 2 containers;
//! - `kube_pod_info{job="kube-state-metrics", namespace, pod, node}`: 1 (the "one" side of a
//!   many-to-one join);
//! - `http_request_duration_seconds_bucket{job="kubernetes-pods", namespace, pod, instance,
//!   le}` with the 12 default client buckets, plus `_sum` and `_count`: a classic histogram.
//!
//! Each scrape job of a pod has its own scrape times (a phase off whole seconds, a few
//! milliseconds of jitter). A pod's series come from a PRNG seeded by the pod's index, so
//! any pod can be generated again, identically, without the others: writers stream the
//! data set pod by pod instead of holding it.

use crate::data::{self, Rng, Series, Spec};
use store_api::Labels;

pub const HOUR_MS: i64 = 3_600_000;
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;
/// How much data every series has.
pub const DURATION_MS: i64 = 6 * HOUR_MS;
/// The data ends on a multiple of this (TSDB blocks cover aligned 2 h windows).
pub const ALIGNMENT_MS: i64 = 2 * HOUR_MS;

const PODS_PER_NAMESPACE: usize = 48;
const PODS_PER_NODE: usize = 12;
const CONTAINERS: [&str; 2] = ["app", "proxy"];
/// Status codes and the range of their request rates per second.
const CODES: [(&str, f64, f64); 2] = [("200", 1.0, 50.0), ("500", 0.01, 0.5)];
/// The Prometheus client libraries' default histogram buckets.
const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
pub const SERIES_PER_POD: usize =
    CONTAINERS.len() * CODES.len() + CONTAINERS.len() + 1 + BUCKETS.len() + 2;

/// How big the data set is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// 480 pods: 10,080 series.
    Small,
    /// 4,800 pods: 100,800 series.
    Large,
}

impl Preset {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "small" => Ok(Self::Small),
            "large" => Ok(Self::Large),
            other => Err(format!("unknown preset {other:?} (small or large)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Large => "large",
        }
    }

    fn namespaces(self) -> usize {
        match self {
            Self::Small => 10,
            Self::Large => 100,
        }
    }
}

/// The data set: which pods, over which time range.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub preset: Preset,
    /// First millisecond of data (inclusive) and end (exclusive); samples lie strictly inside.
    pub start_ms: i64,
    pub end_ms: i64,
    seed: u64,
}

/// The identity of one pod.
struct Pod {
    namespace: String,
    name: String,
    instance: String,
    node: String,
}

impl Dataset {
    /// Six hours of data ending at the last 2 h boundary at least 5 minutes before `now_ms`:
    /// recent enough for every system's retention, and in the past, so that every sample is
    /// in immutable blocks (Prometheus' head stays empty).
    pub fn ending_before(preset: Preset, now_ms: i64) -> Self {
        let end_ms = (now_ms - 5 * 60_000).div_euclid(ALIGNMENT_MS) * ALIGNMENT_MS;
        Self {
            preset,
            start_ms: end_ms - DURATION_MS,
            end_ms,
            seed: 0x00C0_FFEE_BE7C_0001,
        }
    }

    pub fn pods(&self) -> usize {
        self.preset.namespaces() * PODS_PER_NAMESPACE
    }

    pub fn series_count(&self) -> usize {
        self.pods() * SERIES_PER_POD
    }

    /// Every series has a sample in every scrape interval.
    pub fn samples_count(&self) -> usize {
        self.series_count() * (DURATION_MS / SCRAPE_INTERVAL_MS) as usize
    }

    pub fn namespaces(&self) -> usize {
        self.preset.namespaces()
    }

    /// Every series, pod after pod, generated as they are consumed.
    pub fn series(&self) -> impl Iterator<Item = Series> + '_ {
        (0..self.pods()).flat_map(|pod| self.pod_series(pod))
    }

    /// The series of the pod with index `index`, always the same for the same index.
    pub fn pod_series(&self, index: usize) -> Vec<Series> {
        let mut rng = Rng::new(self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let pod = pod(index);
        let labels = |name: &str, job: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("__name__", name),
                ("job", job),
                ("namespace", pod.namespace.as_str()),
                ("pod", pod.name.as_str()),
            ];
            pairs.extend_from_slice(extra);
            Labels::from_pairs(pairs)
        };
        let instance = ("instance", pod.instance.as_str());
        let mut out = Vec::with_capacity(SERIES_PER_POD);

        let app_times = self.scrape_times(&mut rng);
        for container in CONTAINERS {
            for (code, min_rate, max_rate) in CODES {
                let rate = min_rate + (max_rate - min_rate) * rng.unit();
                out.push(Series {
                    labels: labels(
                        "http_requests_total",
                        "kubernetes-pods",
                        &[instance, ("container", container), ("code", code)],
                    ),
                    samples: data::counter(&app_times, rate, &mut rng),
                });
            }
        }
        let latency = |le: &str| {
            let name = "http_request_duration_seconds_bucket";
            labels(name, "kubernetes-pods", &[instance, ("le", le)])
        };
        let (buckets, sum, count) = histogram(&app_times, &mut rng);
        for (le, samples) in BUCKETS.iter().zip(buckets) {
            out.push(Series {
                labels: latency(le),
                samples,
            });
        }
        for (name, samples) in [
            ("http_request_duration_seconds_sum", sum),
            ("http_request_duration_seconds_count", count),
        ] {
            out.push(Series {
                labels: labels(name, "kubernetes-pods", &[instance]),
                samples,
            });
        }

        let cadvisor_times = self.scrape_times(&mut rng);
        for container in CONTAINERS {
            out.push(Series {
                labels: labels(
                    "container_memory_working_set_bytes",
                    "cadvisor",
                    &[instance, ("container", container)],
                ),
                samples: memory_bytes(&cadvisor_times, &mut rng),
            });
        }

        let info_times = self.scrape_times(&mut rng);
        out.push(Series {
            labels: labels(
                "kube_pod_info",
                "kube-state-metrics",
                &[("node", pod.node.as_str())],
            ),
            samples: info_times.iter().map(|&t| (t, 1.0)).collect(),
        });
        out
    }

    fn scrape_times(&self, rng: &mut Rng) -> Vec<i64> {
        let spec = Spec {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            step_ms: SCRAPE_INTERVAL_MS,
            ..Spec::default()
        };
        data::timestamps(&spec, rng)
    }
}

fn pod(index: usize) -> Pod {
    let namespace = index / PODS_PER_NAMESPACE;
    let within = index % PODS_PER_NAMESPACE;
    let suffix = (index * 2_654_435_761) % 65_536;
    Pod {
        namespace: format!("ns-{namespace:02}"),
        name: format!("app-{namespace:02}-{within:03}-7d9f8c6b5-x{suffix:04x}"),
        instance: format!(
            "10.{}.{}.{}:8080",
            (index >> 16) & 255,
            (index >> 8) & 255,
            index & 255
        ),
        node: format!("node-{:03}", index / PODS_PER_NODE),
    }
}

/// A working-set gauge in bytes: a random walk between 20 MB and 1 GB.
fn memory_bytes(times: &[i64], rng: &mut Rng) -> Vec<(i64, f64)> {
    let mut bytes = (50e6 + rng.unit() * 400e6).round();
    times
        .iter()
        .map(|&t| {
            bytes = (bytes + ((rng.unit() - 0.5) * 4e6).round()).clamp(20e6, 1e9);
            (t, bytes)
        })
        .collect()
}

/// Cumulative bucket counts, the sum and the count of a latency histogram: each scrape
/// observes 0 to 29 requests with log-uniform latencies from 1 ms to 10 s.
type Histogram = (Vec<Vec<(i64, f64)>>, Vec<(i64, f64)>, Vec<(i64, f64)>);

fn histogram(times: &[i64], rng: &mut Rng) -> Histogram {
    let bounds: Vec<f64> = BUCKETS
        .iter()
        .map(|b| b.parse().unwrap_or(f64::INFINITY))
        .collect();
    let mut counts = [0.0f64; BUCKETS.len()];
    let mut sum = 0.0;
    let mut buckets = vec![Vec::with_capacity(times.len()); BUCKETS.len()];
    let mut sums = Vec::with_capacity(times.len());
    let mut totals = Vec::with_capacity(times.len());
    for &t in times {
        for _ in 0..rng.below(30) {
            let latency = 10f64.powf(-3.0 + 4.0 * rng.unit());
            sum += latency;
            for (count, &bound) in counts.iter_mut().zip(&bounds) {
                if latency <= bound {
                    *count += 1.0;
                }
            }
        }
        for (series, &count) in buckets.iter_mut().zip(&counts) {
            series.push((t, count));
        }
        sums.push((t, sum));
        totals.push((t, counts[BUCKETS.len() - 1]));
    }
    (buckets, sums, totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset() -> Dataset {
        Dataset::ending_before(Preset::Small, 1_800_000_000_000)
    }

    #[test]
    fn every_pod_has_its_series_over_the_whole_range() {
        let data = dataset();
        assert_eq!(data.end_ms % ALIGNMENT_MS, 0);
        let series = data.pod_series(7);
        assert_eq!(series.len(), SERIES_PER_POD);
        for s in &series {
            let (first, last) = (s.samples[0].0, s.samples[s.samples.len() - 1].0);
            assert!(first > data.start_ms && first < data.start_ms + SCRAPE_INTERVAL_MS);
            assert!(last < data.end_ms && last >= data.end_ms - SCRAPE_INTERVAL_MS);
            assert_eq!(s.samples.len() as i64, DURATION_MS / SCRAPE_INTERVAL_MS);
        }
    }

    #[test]
    fn a_pod_is_generated_the_same_way_every_time() {
        let data = dataset();
        let (a, b) = (data.pod_series(3), data.pod_series(3));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.labels, y.labels);
            assert_eq!(x.samples, y.samples);
        }
        assert_ne!(data.pod_series(4)[0].samples, a[0].samples);
    }

    #[test]
    fn small_preset_has_ten_thousand_series_with_distinct_labels() {
        let data = dataset();
        assert!(data.series_count() >= 10_000);
        let pods: std::collections::BTreeSet<_> = (0..data.pods()).map(|i| pod(i).name).collect();
        assert_eq!(pods.len(), data.pods());
        let labels: std::collections::BTreeSet<_> =
            data.pod_series(0).into_iter().map(|s| s.labels).collect();
        assert_eq!(labels.len(), SERIES_PER_POD);
    }
}
