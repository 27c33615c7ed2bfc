//! An HA pair reading ONE generated process: replica a scrapes it every 15 s at phase 0,
//! replica b at its own phase, each with its own disjoint gaps (missed scrapes, one outage
//! longer than the 5 m lookback). Both see the same counters (with real resets to 0) and
//! gauges, each at its own scrape times. Served as two StoreAPI endpoints over gRPC on
//! loopback (external label `replica="a"|"b"`) and read through the gateway's fan-out with
//! dedup on `replica`; each replica is also readable alone, without the fan-out.

use crate::data::Rng;
use gateway::fanout::FanoutStorage;
use std::sync::Arc;
use store_api::server::RunningServer;
use store_api::{Labels, MemoryStore};

pub const SECOND_MS: i64 = 1000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const INTERVAL_MS: i64 = 15 * SECOND_MS;
/// Replica a's scrape grid starts here (a multiple of the interval).
pub const T0: i64 = 113_333_334 * INTERVAL_MS;
/// How long the process is scraped.
pub const DURATION_MS: i64 = 62 * MINUTE_MS;
/// Counter events happen a quarter second into a second, resets three quarters: scrapes (on
/// half seconds) never coincide with either.
const EVENT_OFFSET_MS: i64 = 250;
const RESET_OFFSET_MS: i64 = 750;

/// What happened to the scraped process, and when (ms since `T0`).
#[derive(Clone, Debug)]
pub struct Event {
    pub what: String,
    pub at_ms: i64,
}

/// One counter: events counted per second, and the seconds after which it restarts from 0.
#[derive(Clone, Debug)]
struct Counter {
    path: &'static str,
    /// `cumulative[s]`: events in seconds `0..=s`.
    cumulative: Vec<u64>,
    /// Seconds (since `T0`) at whose `RESET_OFFSET_MS` the counter restarts.
    resets: Vec<i64>,
    base: u64,
}

impl Counter {
    /// Varying increments: a rate per 40 s block (some blocks flat, so `changes` has work).
    fn generate(rng: &mut Rng, path: &'static str, resets: Vec<i64>) -> Self {
        let seconds = (DURATION_MS / SECOND_MS + 120) as usize;
        let mut cumulative = Vec::with_capacity(seconds);
        let (mut total, mut rate) = (0u64, 0u64);
        for s in 0..seconds {
            if s % 40 == 0 {
                rate = [0, 1, 2, 5, 9][rng.below(5) as usize];
            }
            total += rng.below(2 * rate + 1);
            cumulative.push(total);
        }
        Self {
            path,
            cumulative,
            resets,
            base: 1000 + rng.below(5000),
        }
    }

    /// The counter's value at `t` (ms since `T0`).
    fn value(&self, t: i64) -> f64 {
        let counted = |s: i64| -> u64 {
            usize::try_from(s)
                .ok()
                .and_then(|s| self.cumulative.get(s))
                .copied()
                .unwrap_or(0)
        };
        let last_event = (t - EVENT_OFFSET_MS).div_euclid(SECOND_MS);
        match self
            .resets
            .iter()
            .rev()
            .find(|&&r| r * SECOND_MS + RESET_OFFSET_MS <= t)
        {
            Some(&r) => (counted(last_event) - counted(r)) as f64,
            None => (self.base + counted(last_event)) as f64,
        }
    }
}

/// One gauge: a slow wave plus a random walk, read at whole seconds (quarter units).
#[derive(Clone, Debug)]
struct Gauge {
    queue: &'static str,
    walk: Vec<i64>,
    period_s: f64,
}

impl Gauge {
    fn generate(rng: &mut Rng, queue: &'static str) -> Self {
        let seconds = (DURATION_MS / SECOND_MS + 120) as usize;
        let mut level = 0i64;
        let walk = (0..seconds)
            .map(|_| {
                level += rng.below(7) as i64 - 3;
                level
            })
            .collect();
        Self {
            queue,
            walk,
            period_s: 200.0 + rng.below(400) as f64,
        }
    }

    fn value(&self, t: i64) -> f64 {
        let s = t.div_euclid(SECOND_MS);
        let wave = (40.0 * (std::f64::consts::TAU * s as f64 / self.period_s).sin()).round();
        let walk = usize::try_from(s)
            .ok()
            .and_then(|s| self.walk.get(s))
            .copied()
            .unwrap_or(0);
        (400.0 + wave + walk as f64) / 4.0
    }
}

/// The process both replicas scrape.
#[derive(Clone, Debug)]
pub struct Process {
    counters: Vec<Counter>,
    gauges: Vec<Gauge>,
    pub events: Vec<Event>,
}

/// A span of time (ms since `T0`, half-open).
pub type Span = (i64, i64);

/// Series with their samples, as a store is built from them.
pub type SeriesSet = Vec<(Labels, Vec<(i64, f64)>)>;

/// When a replica scrapes: its phase after `T0`, and the spans (ms since `T0`, half-open)
/// in which it is down.
#[derive(Clone, Debug)]
pub struct Scraper {
    pub phase_ms: i64,
    pub gaps: Vec<(i64, i64)>,
}

impl Scraper {
    /// Scrape times, ms since `T0`.
    pub fn times(&self) -> Vec<i64> {
        (0..)
            .map(|k| self.phase_ms + k * INTERVAL_MS)
            .take_while(|&t| t < DURATION_MS)
            .filter(|t| !self.gaps.iter().any(|(from, to)| (from..to).contains(&t)))
            .collect()
    }
}

/// A time near `minute` minutes, moved by up to `jitter_s` seconds either way.
fn near(rng: &mut Rng, minute: f64, jitter_s: i64) -> i64 {
    (minute * 60.0) as i64 + rng.below(2 * jitter_s as u64 + 1) as i64 - jitter_s
}

impl Process {
    /// Three counters (one resets just before replica a's outage, one during it and one
    /// right after replica b's, one never) and two gauges.
    pub fn generate(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let resets_1 = vec![near(&mut rng, 11.3, 20), near(&mut rng, 24.5, 20), 45 * 60];
        let resets_2 = vec![
            near(&mut rng, 20.9, 3),
            near(&mut rng, 42.1, 3),
            near(&mut rng, 57.0, 20),
        ];
        let counters = vec![
            Counter::generate(&mut rng, "/one", resets_1),
            Counter::generate(&mut rng, "/two", resets_2),
            Counter::generate(&mut rng, "/three", Vec::new()),
        ];
        let gauges = vec![
            Gauge::generate(&mut rng, "in"),
            Gauge::generate(&mut rng, "out"),
        ];
        let events = counters
            .iter()
            .flat_map(|c| {
                c.resets.iter().map(|&r| Event {
                    what: format!("reset of {}", c.path),
                    at_ms: r * SECOND_MS + RESET_OFFSET_MS,
                })
            })
            .collect();
        Self {
            counters,
            gauges,
            events,
        }
    }

    /// Every series' value at each of `times` (ms since `T0`), with absolute timestamps.
    pub fn scrape(&self, times: &[i64]) -> SeriesSet {
        let counters = self.counters.iter().map(|c| {
            let labels =
                Labels::from_pairs([("__name__", "proc_requests_total"), ("path", c.path)]);
            (
                labels,
                times.iter().map(|&t| (T0 + t, c.value(t))).collect(),
            )
        });
        let gauges = self.gauges.iter().map(|g| {
            let labels = Labels::from_pairs([("__name__", "proc_queue_depth"), ("queue", g.queue)]);
            (
                labels,
                times.iter().map(|&t| (T0 + t, g.value(t))).collect(),
            )
        });
        counters.chain(gauges).collect()
    }
}

/// Disjoint gaps for the two replicas (ms since `T0`): a missed scrape, an outage of 7
/// minutes (longer than the lookback), two missed scrapes in a row; b the same, later.
pub fn gaps(seed: u64) -> (Vec<Span>, Vec<Span>) {
    let mut rng = Rng::new(seed ^ 0x9a95);
    let mut gap = |minute: f64, length_ms: i64| {
        let from = near(&mut rng, minute, 40) * SECOND_MS;
        (from, from + length_ms)
    };
    let a = vec![
        gap(8.0, INTERVAL_MS),
        gap(21.0, 7 * MINUTE_MS),
        gap(48.0, 2 * INTERVAL_MS),
    ];
    let b = vec![
        gap(15.0, 2 * INTERVAL_MS),
        gap(35.0, 7 * MINUTE_MS),
        gap(53.0, INTERVAL_MS),
    ];
    (a, b)
}

/// The pair: both replicas' samples, the fan-out over them, and each alone.
pub struct HaPair {
    pub a: SeriesSet,
    pub b: SeriesSet,
    pub merged: FanoutStorage,
    pub a_alone: gateway::promql::StoreStorage<MemoryStore>,
    pub b_alone: gateway::promql::StoreStorage<MemoryStore>,
    _servers: Vec<RunningServer>,
}

impl HaPair {
    /// Serves `a` and `b` on loopback and builds the fan-out with dedup on `replica`.
    pub async fn serve(process: &Process, a: &Scraper, b: &Scraper) -> Self {
        let (a, b) = (process.scrape(&a.times()), process.scrape(&b.times()));
        let stores = [("a", &a), ("b", &b)].map(|(replica, series)| {
            MemoryStore::new(
                Labels::from_pairs([("replica", replica)]),
                series.iter().cloned(),
            )
        });
        let (merged, servers) = crate::topology::replica_fanout(stores.into()).await;
        let alone = |series: &[(Labels, Vec<(i64, f64)>)]| {
            gateway::promql::StoreStorage::new(Arc::new(MemoryStore::new(
                Labels::new(),
                series.iter().cloned(),
            )))
        };
        Self {
            a_alone: alone(&a),
            b_alone: alone(&b),
            a,
            b,
            merged,
            _servers: servers,
        }
    }
}
