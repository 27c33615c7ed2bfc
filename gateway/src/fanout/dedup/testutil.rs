//! Test helpers: a tiny PRNG, random replica shapes, a counter scrape simulator and the
//! window measures the counter tests assert on.

use super::counter::Timing;
use super::{DedupAlgorithm, Replica, STALE_NAN_BITS, SeriesHint, is_stale};

/// xorshift64* — deterministic, dependency-free.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

pub fn stale() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// `from, from + step, ... <= to`, values `0, 1, 2, ...`.
pub fn grid(from: i64, to: i64, step: i64) -> (Vec<i64>, Vec<f64>) {
    let ts: Vec<i64> = (0..)
        .map(|k| from + k * step)
        .take_while(|t| *t <= to)
        .collect();
    let vs = (0..ts.len()).map(|i| i as f64).collect();
    (ts, vs)
}

pub fn replica<'a>(ts: &'a [i64], vs: &'a [f64]) -> Replica<'a> {
    Replica::new(ts, vs).unwrap()
}

pub fn merged(a: DedupAlgorithm, reps: &[Replica<'_>], hint: SeriesHint) -> (Vec<i64>, Vec<f64>) {
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    a.merge(reps, hint, &mut ts, &mut vs);
    (ts, vs)
}

/// Random replicas of one series: any count (0..=4), lengths (0..150), phases, gaps,
/// counters with resets or random gauges, staleness markers and NaNs, extreme timestamps.
#[derive(Clone, Debug)]
pub struct Shape {
    pub series: Vec<(Vec<i64>, Vec<f64>)>,
}

impl Shape {
    pub fn random(rng: &mut XorShift) -> Self {
        let interval = match rng.below(4) {
            0 => 1 + rng.below(100) as i64,
            1 => 15_000,
            2 => 60_000,
            _ => 1 + rng.below(300_000) as i64,
        };
        let base = match rng.below(10) {
            0 => i64::MAX - 3000 * interval - 10_000_000,
            1 => i64::MIN + 10_000_000,
            2 => -1_000_000,
            _ => 1_700_000_000_000,
        };
        let n = rng.below(5) as usize;
        let series = (0..n)
            .map(|_| {
                let phase = rng.below(interval as u64) as i64;
                let jitter = rng.below((interval / 10 + 1) as u64) as i64;
                let len = match rng.below(6) {
                    0 => rng.below(2),
                    _ => rng.below(150),
                };
                let counter = rng.chance(60);
                let (mut ts, mut vs) = (Vec::new(), Vec::new());
                let mut value = rng.below(1000) as f64;
                let mut k = rng.below(20) as i64;
                while (ts.len() as u64) < len {
                    k += if rng.chance(10) {
                        1 + rng.below(12) as i64
                    } else {
                        1
                    };
                    let t = base + phase + k * interval + rng.range(-jitter, jitter) / 2;
                    if ts.last().is_some_and(|&l| t <= l) {
                        continue;
                    }
                    let v = match rng.below(100) {
                        0..=4 => stale(),
                        5 | 6 => f64::NAN,
                        9 if rng.chance(20) => f64::INFINITY,
                        7 | 8 if counter => {
                            value = rng.below(50) as f64;
                            value
                        }
                        _ if counter => {
                            value += rng.below(200) as f64 / 8.0;
                            value
                        }
                        _ => rng.range(-1000, 1000) as f64 / 3.0,
                    };
                    ts.push(t);
                    vs.push(v);
                }
                (ts, vs)
            })
            .collect();
        Self { series }
    }

    pub fn replicas(&self) -> Vec<Replica<'_>> {
        self.series.iter().map(|(t, v)| replica(t, v)).collect()
    }
}

/// Invariants every merge keeps, whatever the input.
pub fn check_common(
    a: DedupAlgorithm,
    hint: SeriesHint,
    reps: &[Replica<'_>],
    ts: &[i64],
    vs: &[f64],
) -> Result<(), String> {
    if ts.len() != vs.len() {
        return Err(format!("{} timestamps, {} values", ts.len(), vs.len()));
    }
    if let Some(w) = ts.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!("not strictly increasing: {} then {}", w[0], w[1]));
    }
    let total: usize = reps.iter().map(Replica::len).sum();
    if ts.len() > total {
        return Err(format!("{} samples out of {total} in", ts.len()));
    }
    let at = |t: i64| -> Vec<f64> {
        reps.iter()
            .filter_map(|r| {
                let i = r.timestamps.binary_search(&t).ok()?;
                r.values.get(i).copied()
            })
            .collect()
    };
    let exact = !(a == DedupAlgorithm::CounterAware && hint.is_counter());
    for (&t, &v) in ts.iter().zip(vs) {
        let there = at(t);
        if there.is_empty() {
            return Err(format!("timestamp {t} is in no replica"));
        }
        let same_bits = there.iter().any(|x| x.to_bits() == v.to_bits());
        if (exact || v.is_nan()) && !same_bits {
            return Err(format!("value {v} at {t} is in no replica ({there:?})"));
        }
        if a == DedupAlgorithm::Chain && there.first().map(|x| x.to_bits()) != Some(v.to_bits()) {
            return Err(format!("chain: value at {t} is not the first replica's"));
        }
    }
    match a {
        DedupAlgorithm::Chain => {
            let mut union: Vec<i64> = reps.iter().flat_map(|r| r.timestamps).copied().collect();
            union.sort_unstable();
            union.dedup();
            if union != ts {
                return Err("chain: output is not the union of the timestamps".into());
            }
        }
        DedupAlgorithm::CounterAware => {
            // Spacing below I/2 only where one replica has both samples itself.
            let min_step = Timing::of(reps).min_step;
            for w in ts.windows(2) {
                let own = reps.iter().any(|r| {
                    let rt = r.timestamps;
                    rt.binary_search(&w[0])
                        .is_ok_and(|i| rt.get(i + 1) == Some(&w[1]))
                });
                if w[1] - w[0] < min_step && !own {
                    return Err(format!(
                        "samples {} and {} closer than {min_step}",
                        w[0], w[1]
                    ));
                }
            }
            if !hint.is_counter() {
                return Ok(());
            }
            // Counters: offsets never make a number from nothing, and stale markers survive.
            for (&t, &v) in ts.iter().zip(vs) {
                if is_stale(v) && !at(t).iter().any(|x| is_stale(*x)) {
                    return Err(format!("stale marker at {t} invented"));
                }
            }
        }
        DedupAlgorithm::Penalty => {}
    }
    Ok(())
}

/// Every output value is, bit for bit, a value some replica has at that timestamp (nothing
/// was adjusted).
pub fn check_raw(reps: &[Replica<'_>], ts: &[i64], vs: &[f64]) -> Result<(), String> {
    for (&t, &v) in ts.iter().zip(vs) {
        let found = reps.iter().any(|r| {
            r.timestamps
                .binary_search(&t)
                .is_ok_and(|i| r.values.get(i).map(|x| x.to_bits()) == Some(v.to_bits()))
        });
        if !found {
            return Err(format!("value {v} at {t} is no replica's"));
        }
    }
    Ok(())
}

/// A counted event stream: ~`rate`/s with jitter, integer counts, from `from_s` to `to_s`.
#[derive(Clone, Debug)]
pub struct Events {
    from_s: i64,
    /// `cum[k]`: events in `[from_s, from_s + k)` seconds.
    cum: Vec<u64>,
}

impl Events {
    pub fn new(rng: &mut XorShift, from_s: i64, to_s: i64, rate: u64, jitter: u64) -> Self {
        let mut cum = vec![0u64];
        let mut total = 0;
        for _ in from_s..to_s {
            total += rate - jitter + rng.below(2 * jitter + 1);
            cum.push(total);
        }
        Self { from_s, cum }
    }

    /// Events before `t_ms` (monotone in `t_ms`).
    pub fn at(&self, t_ms: i64) -> f64 {
        let s = t_ms.div_euclid(1000) - self.from_s;
        let frac = t_ms.rem_euclid(1000) as f64 / 1000.0;
        let idx = s.clamp(0, self.cum.len() as i64 - 1) as usize;
        let here = self.cum[idx] as f64;
        let next = self.cum.get(idx + 1).map_or(here, |&x| x as f64);
        (here + (next - here) * frac).floor()
    }
}

/// How one replica scrapes a counter of its own process (its counter restarts from 0 at each
/// of `counter_starts`, the first being the process start).
#[derive(Clone, Debug)]
pub struct Scrape {
    pub phase_ms: i64,
    pub interval_ms: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub jitter_ms: i64,
    pub gaps: Vec<(i64, i64)>,
    pub counter_starts: Vec<i64>,
    pub stale_at: Vec<i64>,
}

impl Scrape {
    pub fn samples(&self, ev: &Events, rng: &mut XorShift) -> (Vec<i64>, Vec<f64>) {
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        let mut k = (self.from_ms - self.phase_ms).div_euclid(self.interval_ms);
        loop {
            let nominal = self.phase_ms + k * self.interval_ms;
            k += 1;
            if nominal >= self.to_ms {
                break;
            }
            let t = nominal + rng.range(-self.jitter_ms, self.jitter_ms);
            if t < self.from_ms || self.gaps.iter().any(|&(a, b)| t >= a && t < b) {
                continue;
            }
            let v = if self
                .stale_at
                .iter()
                .any(|&s| (s - nominal).abs() < self.interval_ms / 2)
            {
                stale()
            } else {
                let start = self
                    .counter_starts
                    .iter()
                    .filter(|&&s| s <= t)
                    .max()
                    .copied();
                ev.at(t) - start.map_or(0.0, |s| ev.at(s))
            };
            ts.push(t);
            vs.push(v);
        }
        (ts, vs)
    }
}

/// Extrapolation-free increase over the numbers in `(lo, hi]`: `last - first`, corrected for
/// resets as PromQL does (a decrease adds the value before it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Increase {
    pub inc: f64,
    pub first_t: i64,
    pub last_t: i64,
}

impl Increase {
    /// Per second of the sampled span.
    pub fn rate(&self) -> f64 {
        self.inc * 1000.0 / (self.last_t - self.first_t) as f64
    }
}

pub fn increase(ts: &[i64], vs: &[f64], lo: i64, hi: i64) -> Option<Increase> {
    let mut first: Option<(i64, f64)> = None;
    let mut prev: Option<(i64, f64)> = None;
    let mut inc = 0.0;
    for (&t, &v) in ts.iter().zip(vs) {
        if t <= lo || t > hi || v.is_nan() {
            continue;
        }
        if let Some((_, p)) = prev {
            inc += if v < p { v } else { v - p };
        }
        first.get_or_insert((t, v));
        prev = Some((t, v));
    }
    let (first, last) = (first?, prev?);
    (last.0 > first.0).then_some(Increase {
        inc,
        first_t: first.0,
        last_t: last.0,
    })
}

/// Timestamps where a number is lower than the previous number (PromQL's counter resets).
pub fn resets(ts: &[i64], vs: &[f64]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut prev: Option<f64> = None;
    for (&t, &v) in ts.iter().zip(vs) {
        if v.is_nan() {
            continue;
        }
        if prev.is_some_and(|p| v < p) {
            out.push(t);
        }
        prev = Some(v);
    }
    out
}

pub fn min_spacing(ts: &[i64]) -> i64 {
    ts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(i64::MAX)
}
