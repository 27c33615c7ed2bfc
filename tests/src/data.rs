//! Deterministic generated series: counters with resets, gauges, classic histograms, with
//! sample timestamps off whole seconds so they never coincide with query-window boundaries.

use store_api::Labels;

/// A small deterministic PRNG (SplitMix64): the same seed gives the same data everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// One generated series.
#[derive(Clone, Debug)]
pub struct Series {
    pub labels: Labels,
    /// (milliseconds, value), strictly increasing in time.
    pub samples: Vec<(i64, f64)>,
}

impl Series {
    pub fn name(&self) -> &str {
        self.labels.get("__name__").unwrap_or("")
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    /// Pods per job; every metric family is generated for each pod.
    pub pods: usize,
    pub seed: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_000_000 + 3 * 3_600_000,
            step_ms: 15_000,
            pods: 4,
            seed: 42,
        }
    }
}

const BUCKETS: [&str; 6] = ["0.05", "0.1", "0.5", "1", "5", "+Inf"];

/// Counters with resets (`http_requests_total`), fractional gauges (`memory_usage_bytes`,
/// `temperature_celsius`, which has gaps) and a classic histogram
/// (`request_duration_seconds_bucket/_sum/_count`) per pod.
pub fn generate(spec: &Spec) -> Vec<Series> {
    let mut rng = Rng::new(spec.seed);
    let mut out = Vec::new();
    for pod in 0..spec.pods {
        let pod_name = format!("pod-{pod}");
        let job = if pod % 2 == 0 { "api" } else { "worker" };
        let base = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![("__name__", name), ("job", job), ("pod", pod_name.as_str())];
            pairs.extend_from_slice(extra);
            Labels::from_pairs(pairs)
        };
        let times = timestamps(spec, &mut rng);
        for (code, rate) in [("200", 10.0), ("500", 0.5)] {
            out.push(Series {
                labels: base("http_requests_total", &[("code", code)]),
                samples: counter(&times, rate, &mut rng),
            });
        }
        out.push(Series {
            labels: base("memory_usage_bytes", &[]),
            samples: times
                .iter()
                .map(|&t| (t, 1e8 + (rng.unit() * 5e7).round() + rng.unit()))
                .collect(),
        });
        out.push(Series {
            labels: base("temperature_celsius", &[]),
            samples: times
                .iter()
                .filter_map(|&t| {
                    let gap = rng.below(10) == 0;
                    let value = 20.0 + rng.unit() * 15.0 - 5.0;
                    (!gap).then_some((t, value))
                })
                .collect(),
        });
        out.extend(histogram(&base, &times, &mut rng));
    }
    out
}

/// Scrape times in `[spec.start_ms, spec.end_ms)` every `spec.step_ms`, at a phase of 1 to
/// 900 ms past the interval with a few milliseconds of jitter: never on a whole second.
pub fn timestamps(spec: &Spec, rng: &mut Rng) -> Vec<i64> {
    let offset = 1 + rng.below(900) as i64;
    (0..)
        .map(|i| spec.start_ms + i * spec.step_ms + offset + rng.below(50) as i64)
        .take_while(|&t| t < spec.end_ms)
        .collect()
}

/// A counter growing at about `rate` per second, reset to a small value now and then (one
/// sample in 200).
pub fn counter(times: &[i64], rate: f64, rng: &mut Rng) -> Vec<(i64, f64)> {
    let mut value = (rng.unit() * 1000.0).round();
    let mut last_t = times.first().copied().unwrap_or(0);
    times
        .iter()
        .map(|&t| {
            if rng.below(200) == 0 {
                value = rng.below(5) as f64;
            } else {
                let seconds = (t - last_t) as f64 / 1000.0;
                value += (rate * seconds * (0.5 + rng.unit())).round();
            }
            last_t = t;
            (t, value)
        })
        .collect()
}

/// Builds a series' labels from a metric name and extra pairs.
type LabelsFor<'a> = dyn Fn(&str, &[(&str, &str)]) -> Labels + 'a;

fn histogram(base: &LabelsFor<'_>, times: &[i64], rng: &mut Rng) -> Vec<Series> {
    let mut counts = [0.0f64; BUCKETS.len()];
    let mut sum = 0.0;
    let mut buckets: Vec<Series> = BUCKETS
        .iter()
        .map(|le| Series {
            labels: base("request_duration_seconds_bucket", &[("le", le)]),
            samples: Vec::new(),
        })
        .collect();
    let mut sums = Vec::new();
    let mut totals = Vec::new();
    for &t in times {
        for _ in 0..rng.below(20) {
            let observation = rng.unit() * rng.unit() * 6.0;
            sum += observation;
            for (i, le) in BUCKETS.iter().enumerate() {
                let bound: f64 = le.parse().unwrap_or(f64::INFINITY);
                if observation <= bound {
                    counts[i] += 1.0;
                }
            }
        }
        for (series, count) in buckets.iter_mut().zip(counts) {
            series.samples.push((t, count));
        }
        sums.push((t, sum));
        totals.push((t, counts[BUCKETS.len() - 1]));
    }
    buckets.push(Series {
        labels: base("request_duration_seconds_sum", &[]),
        samples: sums,
    });
    buckets.push(Series {
        labels: base("request_duration_seconds_count", &[]),
        samples: totals,
    });
    buckets
}

/// `generate` plus the families of `generate_extra`: what the PromQL differential test runs on.
pub fn generate_rich(spec: &Spec) -> Vec<Series> {
    let mut out = generate(spec);
    out.extend(generate_extra(spec));
    out
}

/// More shapes and label combinations, from their own random stream (so `generate` is
/// unchanged by them):
/// - `node_cpu_seconds_total{job="node", instance, cpu, mode}`: counters with resets over
///   3 instances × 2 cpus × 3 modes (`by`/`without` aggregations, many-to-one joins);
/// - `node_info{job="node", instance, version, region}`: constant 1 (the `group_left` side);
/// - `signed_gauge{job, pod}`: half-integers in [-10, 10] with repeats (`round` ties, zeros,
///   negatives for `sqrt`/`ln`, constant stretches);
/// - `intermittent_gauge{job, pod}`: present in bursts of 15–40 minutes separated by silences
///   of 8–30 minutes (longer than the lookback), and now and then a NaN sample.
pub fn generate_extra(spec: &Spec) -> Vec<Series> {
    let mut rng = Rng::new(spec.seed ^ 0x5EED_F00D);
    let mut out = Vec::new();
    for instance in 0..3 {
        let instance_name = format!("node-{instance}");
        let times = timestamps(spec, &mut rng);
        for cpu in ["0", "1"] {
            for (mode, rate) in [("idle", 0.8), ("user", 0.15), ("system", 0.05)] {
                let mut samples = counter(&times, rate * 100.0, &mut rng);
                for sample in &mut samples {
                    sample.1 /= 100.0;
                }
                out.push(Series {
                    labels: Labels::from_pairs([
                        ("__name__", "node_cpu_seconds_total"),
                        ("job", "node"),
                        ("instance", instance_name.as_str()),
                        ("cpu", cpu),
                        ("mode", mode),
                    ]),
                    samples,
                });
            }
        }
        let version = ["1.0.3", "1.1.0", "2.0.0-rc.1"][instance];
        let region = if instance == 2 { "us" } else { "eu" };
        out.push(Series {
            labels: Labels::from_pairs([
                ("__name__", "node_info"),
                ("job", "node"),
                ("instance", instance_name.as_str()),
                ("version", version),
                ("region", region),
            ]),
            samples: times.iter().map(|&t| (t, 1.0)).collect(),
        });
    }
    for pod in 0..spec.pods {
        let pod_name = format!("pod-{pod}");
        let job = if pod % 2 == 0 { "api" } else { "worker" };
        let labels = |name: &str| {
            Labels::from_pairs([("__name__", name), ("job", job), ("pod", pod_name.as_str())])
        };
        let times = timestamps(spec, &mut rng);
        let mut value = 0.0;
        out.push(Series {
            labels: labels("signed_gauge"),
            samples: times
                .iter()
                .map(|&t| {
                    if rng.below(3) != 0 {
                        value = (rng.below(41) as f64 - 20.0) / 2.0;
                    }
                    (t, value)
                })
                .collect(),
        });
        let times = timestamps(spec, &mut rng);
        let mut on = rng.below(2) == 0;
        let mut switch_at = times[0] + 60_000 * (5 + rng.below(20) as i64);
        let mut samples = Vec::new();
        for &t in &times {
            if t >= switch_at {
                on = !on;
                let minutes = if on {
                    15 + rng.below(26)
                } else {
                    8 + rng.below(23)
                };
                switch_at = t + 60_000 * minutes as i64;
            }
            if on {
                let v = if rng.below(40) == 0 {
                    f64::NAN
                } else {
                    (rng.unit() * 1000.0).round() / 8.0
                };
                samples.push((t, v));
            }
        }
        out.push(Series {
            labels: labels("intermittent_gauge"),
            samples,
        });
    }
    out
}

/// The series with their samples in `[from_ms, to_ms)` removed, as a replica that was down
/// then holds them; series left without samples are dropped.
pub fn without_window(series: &[Series], from_ms: i64, to_ms: i64) -> Vec<Series> {
    series
        .iter()
        .map(|s| Series {
            labels: s.labels.clone(),
            samples: s
                .samples
                .iter()
                .filter(|(t, _)| !(from_ms..to_ms).contains(t))
                .copied()
                .collect(),
        })
        .filter(|s| !s.samples.is_empty())
        .collect()
}

/// The series with `extra` labels set on each (replacing labels of the same names).
pub fn with_labels(series: &[Series], extra: &[(&str, &str)]) -> Vec<Series> {
    series
        .iter()
        .map(|s| {
            let mut labels = s.labels.clone();
            for (name, value) in extra {
                labels.set(name.to_string(), value.to_string());
            }
            Series {
                labels,
                samples: s.samples.clone(),
            }
        })
        .collect()
}
