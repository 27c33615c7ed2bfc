//! What the engine benchmarks share: the generated data set (see `engine.rs`'s doc), the query
//! window, and which queries `ENGINE_BENCH_QUERY` selects.

#![allow(dead_code)] // each bench uses part of it

use gateway::promql::benchmark_queries::BENCHMARK_QUERIES;
use store_api::Labels;

/// Query window: [START, END] at STEP.
pub const START: i64 = 1_700_000_000_000;
pub const END: i64 = START + 2 * 3600 * 1000;
pub const STEP: i64 = 30_000;
/// Data begins this long before START, so that range windows and subqueries at the first
/// step are full.
const HISTORY: i64 = 40 * 60 * 1000;
pub const SCRAPE: i64 = 30_000;

const NAMESPACES: usize = 10;
const PODS_PER_NAMESPACE: usize = 100;
const CONTAINERS: usize = 5;
const HISTOGRAM_PODS: usize = 50;
const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Scrape times of one series: every SCRAPE from START - HISTORY to END, at a phase that is
/// not on a whole second, each off by -3..=3 ms.
fn scrape_times(rng: &mut Rng) -> Vec<i64> {
    let phase = rng.range(0, SCRAPE / 1000 - 1) * 1000 + rng.range(1, 999);
    let n = (HISTORY + (END - START)) / SCRAPE;
    (0..n)
        .map(|i| START - HISTORY + phase + i * SCRAPE + rng.range(-3, 3))
        .collect()
}

fn namespace(n: usize) -> String {
    format!("ns-{n:02}")
}

fn pod(n: usize, p: usize) -> String {
    format!(
        "app-{n:02}-{p:03}-7d9f8c6b5-x{:04x}",
        (n * 1000 + p) * 2_654_435_761 % 65_536
    )
}

pub fn generate() -> Vec<(Labels, Vec<(i64, f64)>)> {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut out = Vec::new();
    // A counter: integer increments at a per-series rate, rarely a reset.
    for n in 0..NAMESPACES {
        for p in 0..PODS_PER_NAMESPACE {
            for c in 0..CONTAINERS {
                let labels = Labels::from_pairs([
                    ("__name__", "http_requests_total".to_string()),
                    ("job", "kubernetes-pods".to_string()),
                    ("namespace", namespace(n)),
                    ("pod", pod(n, p)),
                    ("container", format!("c{c}")),
                ]);
                let per_scrape = rng.range(1, 200);
                let mut v = rng.range(0, 1_000_000) as f64;
                let samples = scrape_times(&mut rng)
                    .into_iter()
                    .map(|t| {
                        if rng.next().is_multiple_of(2000) {
                            v = 0.0;
                        } else {
                            v += rng.range(0, 2 * per_scrape) as f64;
                        }
                        (t, v)
                    })
                    .collect();
                out.push((labels, samples));
            }
        }
    }
    // Pod metadata for the join.
    for n in 0..NAMESPACES {
        for p in 0..PODS_PER_NAMESPACE {
            let labels = Labels::from_pairs([
                ("__name__", "kube_pod_info".to_string()),
                ("job", "kube-state-metrics".to_string()),
                ("namespace", namespace(n)),
                ("pod", pod(n, p)),
                ("node", format!("node-{:02}", (n * 7 + p) % 40)),
            ]);
            let samples = scrape_times(&mut rng)
                .into_iter()
                .map(|t| (t, 1.0))
                .collect();
            out.push((labels, samples));
        }
    }
    // A classic histogram: each scrape observes a few requests with log-uniform latencies;
    // every bucket of one pod is scraped at the same times.
    let bounds: Vec<f64> = BUCKETS
        .iter()
        .map(|b| b.parse::<f64>().unwrap_or(f64::INFINITY))
        .collect();
    for n in 0..NAMESPACES {
        for p in 0..HISTOGRAM_PODS {
            let times = scrape_times(&mut rng);
            let mut counts = vec![0.0f64; BUCKETS.len()];
            let mut series: Vec<Vec<(i64, f64)>> =
                vec![Vec::with_capacity(times.len()); BUCKETS.len()];
            for &t in &times {
                for _ in 0..rng.range(0, 20) {
                    let latency = 10f64.powf(-3.0 + 4.0 * rng.unit());
                    for (count, &bound) in counts.iter_mut().zip(&bounds) {
                        if latency <= bound {
                            *count += 1.0;
                        }
                    }
                }
                for (s, &count) in series.iter_mut().zip(&counts) {
                    s.push((t, count));
                }
            }
            for (le, samples) in BUCKETS.iter().zip(series) {
                let labels = Labels::from_pairs([
                    (
                        "__name__",
                        "http_request_duration_seconds_bucket".to_string(),
                    ),
                    ("job", "kubernetes-pods".to_string()),
                    ("namespace", namespace(n)),
                    ("pod", pod(n, p)),
                    ("le", (*le).to_string()),
                ]);
                out.push((labels, samples));
            }
        }
    }
    out
}

// Never inlined: the instruction counter starts and dumps at each call.

/// The queries `ENGINE_BENCH_QUERY` selects: those whose name contains it (all when unset),
/// or with `ENGINE_BENCH_EXACT` set the one of that name.
pub fn selected_queries() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    let only = std::env::var("ENGINE_BENCH_QUERY").unwrap_or_default();
    let exact = std::env::var_os("ENGINE_BENCH_EXACT").is_some();
    BENCHMARK_QUERIES.iter().filter(move |(name, _)| {
        if exact {
            *name == only
        } else {
            name.contains(only.as_str())
        }
    })
}

/// `ENGINE_BENCH_ONCE`: run each query once without criterion, for an instruction counter.
pub fn once() -> bool {
    std::env::var_os("ENGINE_BENCH_ONCE").is_some()
}

/// Runs each selected query once, saying which ran (the counter's dumps follow this order).
pub fn run_each_once(mut run: impl FnMut(&str)) {
    for &(name, query) in selected_queries() {
        run(std::hint::black_box(query));
        eprintln!("{name}: done");
    }
}
