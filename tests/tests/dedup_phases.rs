//! Phase-shifted HA replicas through the real fan-out: replica b scrapes the same process a
//! few seconds after replica a (1 s, 4 s, 7.5 s, 13 s), each with its own disjoint gaps
//! (missed scrapes, and an outage longer than the 5 m lookback), over counters with real
//! resets and over gauges. Both replicas are real gRPC StoreAPI servers on loopback, read
//! through `FanoutStorage` with dedup on `replica`; the gateway's engine evaluates every query
//! on the merged view and on each replica alone. Instant queries run at every second around
//! each gap's start and end and each reset (alerting rules evaluate at any offset within the
//! scrape interval), range queries at a 7 s step (every offset within 15 s) across the gaps.
//!
//! What is proved, per series and evaluation (the window is `(t - range, t]`, or the lookback
//! for `x`):
//! 1. The merged window is a valid sampling of the process: every sample is a raw sample of a
//!    or b (same time, same value bits: counters are never shifted when the replicas agree),
//!    no scrape round is in it twice, and no round with a sample in it is missing. A round is
//!    a scrape of a and the scrape of b nearest to it (at exactly half an interval both are
//!    nearest, and each run of b's samples may pair either way). A round may be missing when
//!    its other scrape lies outside the window, before it (the merged sample may be that one)
//!    or after it or in its last eighth of an interval (the merge cannot tell a late scrape
//!    from a missed one there, and keeps to the replica it follows). A window that holds
//!    exactly one replica's samples is that replica's own sampling, and valid as it is: the
//!    merge answers with a replica that misses no scrape over the whole read, where one does.
//! 2. Where the merged window holds exactly one replica's samples, every answer EQUALS that
//!    replica's (stronger than "between"). Where one replica has no sample in an instant's
//!    window, the merged answer equals the other's.
//! 3. Where the merged window mixes replicas, "between a and b" cannot hold by construction
//!    for counts, `changes`, `resets`, rates or averages: the window holds one replica's
//!    samples up to the switch and the other's after, so each edge sits at one replica's
//!    scrape times. With b 1 s after a and b's scrapes missing, the window (855 s, 915 s]
//!    holds b@856, b@871, b@886, a@900, a@915: 5 samples where a has 4 and b 3, a rate over
//!    5 samples that is neither a's nor b's. In a range query one merged series serves every
//!    step, and a switch puts two samples less than an interval apart (so some window holds
//!    one more than a replica at that interval can) or more than an interval apart (some
//!    holds one less, and a window starting just after the old replica's last sample misses
//!    the round the other replica has in it, even where the old one has nothing): a switch
//!    that neither duplicates nor drops a scrape cannot avoid both. The tightest true bound
//!    is the range of the answers over every way of following a and b with as many switches
//!    as the merged window has (at least one), each switch taking the other replica's first
//!    sample at least half an interval after the last one taken (closer would double the
//!    sample rate). Pure a and pure b are two of these, so the bound contains "between a and
//!    b". The test computes that range with the engine's own formulas (checked against the
//!    engine on every window of each replica alone) and holds the merged answer to it. For
//!    counts it is the rounds of 1.: at most one sample more than a window has intervals.
//! 4. An instant's window is merged alone, so it holds no more samples than one scraper can
//!    (range / interval), but for one case: its first round is seen by one replica only (the
//!    other has no scrape within half an interval of it) and its last round is cut by its
//!    end, so it meets one round more than a scraper's rhythm fits, each with a sample.
//! 5. `x` (the latest sample in the lookback) is always exactly a's or b's answer.
//!
//! The summary prints, per query: evaluations, how many mixed replicas, how many fell outside
//! [a, b] and the largest distance (with where), how many mixed windows had one replica
//! empty, and instant windows denser than a scraper. Identical reads (one per window, not one
//! per query) are fetched once through the fan-out and shared by the queries at that time;
//! every 64th repeat is read again and must be identical. An answer with warnings (a replica
//! cut by hedging, say) fails the test.
//!
//! `cargo test -p panoptes-tests --test dedup_phases -- --nocapture` prints the summary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::future::BoxFuture;
use gateway::promql::{
    Engine, EngineError, EngineOptions, SelectRequest, SelectResult, Storage, Value,
};
use panoptes_tests::phased_pair::{
    self, HaPair, INTERVAL_MS, MINUTE_MS, Process, SECOND_MS, Scraper, T0,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use store_api::Labels;

const SEED: u64 = 0xd5ed_0007;
/// Replica b's phase after a, ms.
const PHASES_MS: [i64; 4] = [1000, 4000, 7500, 13_000];
/// A switch takes no sample closer than this to the last one (the dedup's `I/2`).
const MIN_STEP_MS: i64 = INTERVAL_MS / 2;
/// A scrape due this close to a window's end may be late rather than missed: the dedup
/// keeps to the followed replica there (`Timing::end_not_due`, 9/8 of an interval).
const END_SLACK_MS: i64 = INTERVAL_MS / 8;
/// Range queries' step: prime to the interval, so that the steps fall at every offset
/// within it.
const RANGE_STEP_MS: i64 = 7 * SECOND_MS;
/// Relative tolerance of float comparisons (summation order differs).
const TOLERANCE: f64 = 1e-9;
/// Every series (both stores hold only the process's). Not a regex: compiling one per query
/// costs milliseconds in a debug build.
const ALL: &str = "{__name__!=\"\"}";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    Count,
    Raw,
    Changes,
    Resets,
    Rate,
    Increase,
    Avg,
    Max,
    Min,
    Last,
}

/// Which series a query's checks cover: rates, increases and resets mean something for
/// counters only, averages and extremes of a counter little.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Over {
    All,
    Counters,
    Gauges,
}

struct Query {
    promql: String,
    range_ms: i64,
    func: Func,
    over: Over,
}

fn queries() -> Vec<Query> {
    let q = |f: &str, range: &str, range_ms, func, over| Query {
        promql: if f.is_empty() {
            format!("{ALL}{range}")
        } else {
            format!("{f}({ALL}{range})")
        },
        range_ms,
        func,
        over,
    };
    let (m1, m5) = (MINUTE_MS, 5 * MINUTE_MS);
    vec![
        q("count_over_time", "[1m]", m1, Func::Count, Over::All),
        q("count_over_time", "[5m]", m5, Func::Count, Over::All),
        q("", "[1m]", m1, Func::Raw, Over::All),
        q("changes", "[5m]", m5, Func::Changes, Over::All),
        q("resets", "[5m]", m5, Func::Resets, Over::Counters),
        q("rate", "[1m]", m1, Func::Rate, Over::Counters),
        q("rate", "[5m]", m5, Func::Rate, Over::Counters),
        q("increase", "[5m]", m5, Func::Increase, Over::Counters),
        q("", "", m5, Func::Last, Over::Gauges),
        q("avg_over_time", "[5m]", m5, Func::Avg, Over::Gauges),
        q("max_over_time", "[5m]", m5, Func::Max, Over::Gauges),
        q("min_over_time", "[5m]", m5, Func::Min, Over::Gauges),
    ]
}

// ---------------------------------------------------------------------------------------
// Reads shared by the queries at one time.

/// A storage that fetches each distinct read once and keeps it, so that the test can see
/// exactly what the engine read (the merged window) and the queries at one time share it.
/// Every query here has the one selector `ALL`: a read is known by its time range.
struct Recorded<'s> {
    inner: &'s dyn Storage,
    reads: Mutex<HashMap<(i64, i64), (String, SelectResult)>>,
    repeats: AtomicUsize,
}

impl<'s> Recorded<'s> {
    fn new(inner: &'s dyn Storage) -> Self {
        Self {
            inner,
            reads: Mutex::new(HashMap::new()),
            repeats: AtomicUsize::new(0),
        }
    }

    async fn read(&self, request: SelectRequest) -> Result<SelectResult, EngineError> {
        let key = (request.min_time, request.max_time);
        let matchers = format!("{:?}", request.matchers);
        let kept = self.reads.lock().unwrap().get(&key).cloned();
        if let Some((kept_matchers, kept)) = kept {
            assert_eq!(matchers, kept_matchers, "one selector only");
            // Every 64th repeat is read again: the fan-out must answer identically.
            if self
                .repeats
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(64)
            {
                let again = self.inner.select(request).await?;
                assert_eq!(
                    again.series, kept.series,
                    "a repeated read differs: {key:?}"
                );
            }
            return Ok(kept);
        }
        let result = self.inner.select(request).await?;
        self.reads
            .lock()
            .unwrap()
            .insert(key, (matchers, result.clone()));
        Ok(result)
    }

    /// The samples the engine read for `[min, max]`, by series (labels without the name).
    fn samples(&self, min: i64, max: i64) -> BTreeMap<Labels, Vec<(i64, f64)>> {
        let reads = self.reads.lock().unwrap();
        let (_, result) = reads
            .get(&(min, max))
            .unwrap_or_else(|| panic!("no read of [{min}, {max}]"));
        result
            .series
            .iter()
            .map(|s| {
                let pts = s.timestamps.iter().copied().zip(s.values.iter().copied());
                (unnamed(&s.labels), pts.collect())
            })
            .collect()
    }
}

impl Storage for Recorded<'_> {
    fn select(&self, request: SelectRequest) -> BoxFuture<'_, Result<SelectResult, EngineError>> {
        Box::pin(self.read(request))
    }
}

fn unnamed(labels: &Labels) -> Labels {
    let mut labels = labels.clone();
    labels.remove("__name__");
    labels
}

/// An answer by series (labels without the name): points in time order.
type Answer = BTreeMap<Labels, Vec<(i64, f64)>>;

/// An answer with a warning (a replica cut, a part not decoded) is not a full answer.
fn no_warnings(result: gateway::promql::QueryResult) -> Value {
    assert!(
        result.warnings.is_empty(),
        "warnings: {:?}",
        result.warnings
    );
    result.value
}

fn answer(value: Value) -> Answer {
    match value {
        Value::Vector(samples) => samples
            .into_iter()
            .map(|s| (unnamed(&s.labels), vec![(s.t, s.v)]))
            .collect(),
        Value::Matrix(series) => series
            .into_iter()
            .map(|s| (unnamed(&s.labels), s.points))
            .collect(),
        other => panic!("unexpected answer {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The engine's formulas, over one window's samples (to bound what mixed windows may give).

fn evaluate(func: Func, start: i64, end: i64, s: &[(i64, f64)]) -> Option<f64> {
    let values = || s.iter().map(|p| p.1);
    let pairs = || s.windows(2).map(|w| (w[0].1, w[1].1));
    let (&(_, first), &(_, last)) = (s.first()?, s.last()?);
    Some(match func {
        Func::Count | Func::Raw => s.len() as f64,
        Func::Changes => pairs().filter(|(x, y)| x != y).count() as f64,
        Func::Resets => pairs().filter(|(x, y)| y < x).count() as f64,
        Func::Rate | Func::Increase => extrapolated(start, end, s, func == Func::Rate)?,
        Func::Avg => values().sum::<f64>() / s.len() as f64,
        Func::Max => values().fold(first, f64::max),
        Func::Min => values().fold(first, f64::min),
        Func::Last => last,
    })
}

/// Prometheus' extrapolated rate/increase over `(start, end]` (counter: resets corrected,
/// extrapolation to the start cut where the counter would be zero).
fn extrapolated(start: i64, end: i64, s: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let ((t0, v0), (t1, v1)) = (s[0], s[s.len() - 1]);
    let corrections: f64 = s
        .windows(2)
        .filter(|w| w[1].1 < w[0].1)
        .map(|w| w[0].1)
        .sum();
    let result = v1 - v0 + corrections;
    let seconds = |ms: i64| ms as f64 / 1000.0;
    let sampled = seconds(t1 - t0);
    let average = sampled / (s.len() - 1) as f64;
    let bound = |gap: f64| {
        if gap >= average * 1.1 {
            average / 2.0
        } else {
            gap
        }
    };
    let mut to_start = bound(seconds(t0 - start));
    if result > 0.0 && v0 >= 0.0 {
        to_start = to_start.min(sampled * (v0 / result));
    }
    let to_end = bound(seconds(end - t1));
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= seconds(end - start);
    }
    Some(result * factor)
}

/// What is called with each following's samples.
type Visit<'v> = dyn FnMut(&[(i64, f64)]) + 'v;

/// Every way of following the replicas with at most `switches` switches: at a switch, the
/// other replica's first sample at least `MIN_STEP_MS` after the last one taken.
fn each_following(reps: [&[(i64, f64)]; 2], switches: usize, visit: &mut Visit<'_>) {
    fn follow(
        reps: [&[(i64, f64)]; 2],
        cur: usize,
        next: usize,
        last: Option<i64>,
        left: usize,
        taken: &mut Vec<(i64, f64)>,
        visit: &mut Visit<'_>,
    ) {
        match reps[cur].get(next) {
            Some(&sample) => {
                taken.push(sample);
                follow(reps, cur, next + 1, Some(sample.0), left, taken, visit);
                taken.pop();
            }
            None => visit(taken),
        }
        if left > 0 {
            let other = reps[1 - cur];
            let j = last.map_or(0, |l| other.partition_point(|p| p.0 < l + MIN_STEP_MS));
            if let Some(&sample) = other.get(j) {
                taken.push(sample);
                follow(reps, 1 - cur, j + 1, Some(sample.0), left - 1, taken, visit);
                taken.pop();
            }
        }
    }
    let mut taken = Vec::new();
    for start in 0..2 {
        follow(reps, start, 0, None, switches, &mut taken, visit);
    }
}

/// The range of `func` over every following of the replicas' samples in `(start - I, end]`
/// (a window's first merged sample may follow one just before it), trimmed to the window;
/// and whether some following has no answer.
fn bound_of_followings(
    func: Func,
    start: i64,
    end: i64,
    reps: [&[(i64, f64)]; 2],
    switches: usize,
) -> (Option<(f64, f64)>, bool) {
    let (mut range, mut none) = (None::<(f64, f64)>, false);
    each_following(reps, switches, &mut |taken| {
        let from = taken.partition_point(|p| p.0 <= start);
        match evaluate(func, start, end, &taken[from..]) {
            Some(v) => {
                range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
            }
            None => none = true,
        }
    });
    (range, none)
}

// ---------------------------------------------------------------------------------------
// Rounds: the structural check of a merged window.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    A,
    B,
}

/// One series as both replicas hold it.
struct Pair<'d> {
    phase_ms: i64,
    a: &'d [(i64, f64)],
    b: &'d [(i64, f64)],
}

impl Pair<'_> {
    /// Where b's scrape of a round sits relative to a's: the nearest, both at half a phase.
    fn pairings(&self) -> Vec<i64> {
        let p = self.phase_ms;
        match (2 * p).cmp(&INTERVAL_MS) {
            std::cmp::Ordering::Less => vec![p],
            std::cmp::Ordering::Greater => vec![p - INTERVAL_MS],
            std::cmp::Ordering::Equal => vec![p, p - INTERVAL_MS],
        }
    }

    fn round(origin: Origin, t: i64, pairing: i64) -> i64 {
        match origin {
            Origin::A => (t - T0).div_euclid(INTERVAL_MS),
            Origin::B => (t - T0 - pairing).div_euclid(INTERVAL_MS),
        }
    }

    fn replica(&self, origin: Origin) -> &[(i64, f64)] {
        match origin {
            Origin::A => self.a,
            Origin::B => self.b,
        }
    }

    /// Which replica `sample` is a raw sample of (same time, same value bits).
    fn origin(&self, (t, v): (i64, f64)) -> Result<Origin, String> {
        for origin in [Origin::A, Origin::B] {
            let r = self.replica(origin);
            if let Ok(i) = r.binary_search_by_key(&t, |p| p.0) {
                return if r[i].1.to_bits() == v.to_bits() {
                    Ok(origin)
                } else {
                    Err(format!("merged {v} at {t} is {origin:?}'s {}", r[i].1))
                };
            }
        }
        Err(format!(
            "merged sample at {t} is a sample of neither replica"
        ))
    }

    fn within(r: &[(i64, f64)], start: i64, end: i64) -> &[(i64, f64)] {
        let from = r.partition_point(|p| p.0 <= start);
        let to = r.partition_point(|p| p.0 <= end);
        &r[from..to]
    }

    /// Checks 1. of the file's doc comment on the merged samples in `(start, end]`.
    fn check_rounds(
        &self,
        merged: &[(i64, f64)],
        origins: &[Origin],
        start: i64,
        end: i64,
    ) -> Result<(), String> {
        // One replica's own samples are what that replica answers: a valid sampling whatever
        // the other holds (rule 2 then holds every answer to that replica's).
        if [Origin::A, Origin::B]
            .iter()
            .any(|&o| Self::within(self.replica(o), start, end) == merged)
        {
            return Ok(());
        }
        let pairings = self.pairings();
        // Each run of b's samples may pair either way when the phase is exactly I/2.
        let runs = origins
            .iter()
            .enumerate()
            .filter(|(i, o)| **o == Origin::B && (*i == 0 || origins[i - 1] == Origin::A))
            .count();
        let choices = pairings.len().pow(runs as u32);
        let mut first_error = None;
        for choice in 0..choices {
            let (mut run, mut rounds) = (0usize, Vec::with_capacity(merged.len()));
            for (i, (&(t, _), &o)) in merged.iter().zip(origins).enumerate() {
                if o == Origin::B && (i == 0 || origins[i - 1] == Origin::A) {
                    run += 1;
                }
                let pick =
                    (choice / pairings.len().pow(run.saturating_sub(1) as u32)) % pairings.len();
                rounds.push(Self::round(o, t, pairings[pick]));
            }
            match self.rounds_valid(merged, &rounds, start, end, &pairings) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_default())
    }

    fn rounds_valid(
        &self,
        merged: &[(i64, f64)],
        rounds: &[i64],
        start: i64,
        end: i64,
        pairings: &[i64],
    ) -> Result<(), String> {
        if let Some(w) = rounds.windows(2).position(|w| w[0] >= w[1]) {
            return Err(format!(
                "two merged samples of one scrape round: {} and {}",
                merged[w].0 - T0,
                merged[w + 1].0 - T0
            ));
        }
        let in_window = |t: i64| t > start && t <= end;
        let has = |r: &[(i64, f64)], t: i64| r.binary_search_by_key(&t, |p| p.0).is_ok();
        for (origin, other) in [(Origin::A, Origin::B), (Origin::B, Origin::A)] {
            for &(t, _) in Self::within(self.replica(origin), start, end) {
                if merged.binary_search_by_key(&t, |p| p.0).is_ok() {
                    continue;
                }
                let covered = pairings
                    .iter()
                    .any(|&d| rounds.contains(&Self::round(origin, t, d)));
                // The round's other scrape is due after the window's end or in its last
                // eighth of an interval, whether or not it happens (the merge cannot tell a
                // late scrape from a missed one there, and keeps to the followed replica),
                // or it is before the window's start and may be the round's merged sample.
                let straddles = pairings.iter().any(|&d| {
                    let partner = if origin == Origin::A { t + d } else { t - d };
                    partner > end - END_SLACK_MS
                        || (has(self.replica(other), partner) && !in_window(partner))
                });
                if !covered && !straddles {
                    return Err(format!("dropped {origin:?}'s scrape at {}", t - T0));
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Checking one evaluation.

#[derive(Default)]
struct Figures {
    evaluations: usize,
    mixed: usize,
    outside: usize,
    /// Largest distance outside [a, b], relative to max(|a|, |b|, 1).
    max_outside: f64,
    /// Mixed windows where one replica has no sample (range queries only).
    one_missing_differs: usize,
    /// Where `max_outside` was seen.
    worst: String,
    /// Instant windows holding more samples than one scraper can.
    denser: usize,
}

struct Evaluation<'e> {
    query: &'e Query,
    phase_ms: i64,
    labels: &'e Labels,
    range_query: bool,
    t: i64,
    merged: Option<f64>,
    a: Option<f64>,
    b: Option<f64>,
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= TOLERANCE * x.abs().max(y.abs()).max(1.0)
}

fn same(x: Option<f64>, y: Option<f64>) -> bool {
    match (x, y) {
        (Some(x), Some(y)) => close(x, y),
        (None, None) => true,
        _ => false,
    }
}

/// How far `v` lies outside `[lo, hi]`, relative to their size.
fn outside_by(v: f64, lo: f64, hi: f64) -> f64 {
    let distance = (lo - v).max(v - hi).max(0.0);
    distance / lo.abs().max(hi.abs()).max(1.0)
}

/// Checks one series at one evaluation; `merged_read` is what the fan-out gave for the whole
/// read (for a range query, every step's window is a part of it).
fn check(
    e: &Evaluation<'_>,
    pair: &Pair<'_>,
    merged_read: &[(i64, f64)],
    figures: &mut Figures,
) -> Result<(), String> {
    let (start, end) = if e.query.func == Func::Last {
        (e.t - 5 * MINUTE_MS, e.t)
    } else {
        (e.t - e.query.range_ms, e.t)
    };
    let window = Pair::within(merged_read, start, end);
    let origins: Vec<Origin> = window
        .iter()
        .map(|&s| pair.origin(s))
        .collect::<Result<_, _>>()?;
    pair.check_rounds(window, &origins, start, end)?;
    let (a, b) = (
        Pair::within(pair.a, start, end),
        Pair::within(pair.b, start, end),
    );
    // The engine's formulas agree with the engine on each replica alone and on the merged
    // window: what the bound below is computed with is what the engine computes.
    let func = e.query.func;
    for (name, samples, got) in [("a", a, e.a), ("b", b, e.b), ("merged", window, e.merged)] {
        let want = evaluate(func, start, end, samples);
        if !same(want, got) {
            return Err(format!(
                "engine on {name} gave {got:?}, its window gives {want:?}"
            ));
        }
    }
    figures.evaluations += 1;
    if let (Some(m), Some(x), Some(y)) = (e.merged, e.a, e.b) {
        let d = outside_by(m, x.min(y), x.max(y));
        if d > TOLERANCE {
            figures.outside += 1;
            if d > figures.max_outside {
                figures.max_outside = d;
                figures.worst = format!(
                    "phase {} ms, {} at {} s, {:?}: merged {m}, a {x}, b {y}",
                    e.phase_ms,
                    if e.range_query {
                        "range step"
                    } else {
                        "instant"
                    },
                    (e.t - T0) as f64 / 1000.0,
                    e.labels,
                );
            }
        }
    }
    // An instant's window is merged on its own: it can follow one replica where the other
    // would make it hold more samples than a scraper at the interval can (R / I; a range
    // query's one merged series cannot always avoid that, see the doc comment).
    // One more where the window's first round is seen by one replica only (the other has no
    // scrape within half an interval of it, inside the window or before): then the window
    // meets that round and one its end cuts, and both have samples.
    let first_round_alone = window
        .first()
        .zip(origins.first())
        .is_some_and(|(&(t, _), o)| {
            let other = if *o == Origin::A { pair.b } else { pair.a };
            !other.iter().any(|&(u, _)| (u - t).abs() <= INTERVAL_MS / 2)
        });
    let fits = e.query.range_ms / INTERVAL_MS + i64::from(first_round_alone);
    if matches!(func, Func::Count | Func::Raw)
        && !e.range_query
        && e.merged.is_some_and(|m| m > fits as f64)
    {
        figures.denser += 1;
        return Err(format!(
            "an instant window holds {:?} samples, more than one scraper can ({fits})",
            e.merged,
        ));
    }
    // The latest sample is one replica's latest: exactly a's or b's answer.
    if func == Func::Last && !(same(e.merged, e.a) || same(e.merged, e.b)) {
        return Err("the latest merged sample is neither replica's latest".into());
    }
    let follows_one = window == a || window == b;
    if follows_one {
        let r = if window == a { e.a } else { e.b };
        return if same(e.merged, r) {
            Ok(())
        } else {
            Err(format!(
                "merged holds one replica's samples, yet {:?} != {r:?}",
                e.merged
            ))
        };
    }
    figures.mixed += 1;
    if a.is_empty() || b.is_empty() {
        figures.one_missing_differs += 1;
        if !e.range_query {
            return Err("one replica has no sample here, yet merged is not the other".into());
        }
    }
    // Mixed replicas: the range over every following with as many switches as the merged
    // series makes here, counted from the sample before the window.
    let before = Pair::within(merged_read, start - INTERVAL_MS, end);
    let switches = before
        .windows(2)
        .filter(|w| pair.origin(w[0]).ok() != pair.origin(w[1]).ok())
        .count()
        .max(1);
    if switches > 3 {
        return Err(format!("{switches} replica switches in one window"));
    }
    let reps = [
        Pair::within(pair.a, start - INTERVAL_MS, end),
        Pair::within(pair.b, start - INTERVAL_MS, end),
    ];
    let (range, none) = bound_of_followings(func, start, end, reps, switches);
    match (e.merged, range) {
        (None, _) if none => Ok(()),
        (Some(m), Some((lo, hi))) if outside_by(m, lo, hi) <= TOLERANCE => Ok(()),
        (m, range) => Err(format!(
            "merged {m:?} outside every following's answer {range:?} (none possible: {none})"
        )),
    }
}

/// The merged and replica samples around `t`, for a failure report.
fn context(pair: &Pair<'_>, merged: &[(i64, f64)], start: i64, end: i64) -> String {
    let show = |s: &[(i64, f64)]| {
        Pair::within(s, start - INTERVAL_MS, end)
            .iter()
            .map(|(t, v)| format!("{}:{v}", (t - T0) as f64 / 1000.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "      merged {}\n      a      {}\n      b      {}",
        show(merged),
        show(pair.a),
        show(pair.b)
    )
}

// ---------------------------------------------------------------------------------------
// The run.

/// Times (ms since `T0`) where something happens: gap edges and counter resets.
fn events(process: &Process, scrapers: &[(&str, &Scraper)]) -> Vec<(String, i64)> {
    let mut events: Vec<(String, i64)> = process
        .events
        .iter()
        .map(|e| (e.what.clone(), e.at_ms))
        .collect();
    for (name, scraper) in scrapers {
        for &(from, to) in &scraper.gaps {
            events.push((format!("{name} down"), from));
            if to - from > 2 * INTERVAL_MS {
                events.push((format!("{name} back"), to));
            }
        }
    }
    events.sort_by_key(|e| e.1);
    events
}

/// Every second from 2 s before to 30 s after each event (two scrape intervals: every
/// offset, the windows' ends crossing it), and for gap edges 2 s either side of 1 m and 5 m
/// after (the windows' starts crossing it); plus one interval of steady state. Absolute ms.
fn instants(events: &[(String, i64)]) -> Vec<i64> {
    let mut times: Vec<i64> = (180..195).map(|s| s * SECOND_MS).collect();
    for (what, at) in events {
        let at_s = at.div_euclid(SECOND_MS);
        times.extend((at_s - 2..=at_s + 30).map(|s| s * SECOND_MS));
        if is_gap_edge(what) {
            times.extend((at_s + 58..=at_s + 62).map(|s| s * SECOND_MS));
            times.extend((at_s + 298..=at_s + 302).map(|s| s * SECOND_MS));
        }
    }
    times.sort_unstable();
    times.dedup();
    times.into_iter().map(|t| T0 + t).collect()
}

fn is_gap_edge(what: &str) -> bool {
    what.ends_with("down") || what.ends_with("back")
}

struct Run<'r> {
    engine: Engine,
    queries: &'r [Query],
    figures: Vec<Figures>,
    failures: Vec<String>,
    querying: std::time::Duration,
    checking: std::time::Duration,
    /// Failures by reason (digits removed), for the report.
    reasons: BTreeMap<String, usize>,
}

impl Run<'_> {
    fn record(
        &mut self,
        key: String,
        result: Result<(), String>,
        context: impl FnOnce() -> String,
    ) {
        let Err(e) = result else { return };
        let reason: String = e.chars().filter(|c| !c.is_ascii_digit()).take(60).collect();
        *self.reasons.entry(reason).or_default() += 1;
        if self.failures.len() < 40 {
            self.failures.push(format!("{key}: {e}\n{}", context()));
        } else {
            self.failures.push(key);
        }
    }

    async fn phase(&mut self, process: &Process, a: &Scraper, b: &Scraper) {
        let ha = HaPair::serve(process, a, b).await;
        let (merged, alone_a, alone_b) = (
            Recorded::new(&ha.merged),
            Recorded::new(&ha.a_alone),
            Recorded::new(&ha.b_alone),
        );
        let series_a: BTreeMap<Labels, Vec<(i64, f64)>> =
            ha.a.iter().map(|(l, s)| (unnamed(l), s.clone())).collect();
        let series_b: BTreeMap<Labels, Vec<(i64, f64)>> =
            ha.b.iter().map(|(l, s)| (unnamed(l), s.clone())).collect();
        let events = events(process, &[("a", a), ("b", b)]);
        let storages: [&dyn Storage; 3] = [&merged, &alone_a, &alone_b];

        for t in instants(&events) {
            for (qi, query) in self.queries.iter().enumerate() {
                let timer = Instant::now();
                let mut answers = Vec::new();
                for storage in storages {
                    let got = self.engine.instant_query(storage, &query.promql, t).await;
                    answers.push(answer(no_warnings(got.expect("instant query"))));
                }
                self.querying += timer.elapsed();
                let timer = Instant::now();
                let read = merged.samples(t - query.range_ms + 1, t);
                self.compare(
                    qi,
                    b.phase_ms,
                    false,
                    &answers,
                    &read,
                    &series_a,
                    &series_b,
                    &[t],
                );
                self.checking += timer.elapsed();
            }
        }
        // Across the gaps (whose 8 minutes also hold every reset).
        let gap_edges = events.iter().filter(|(what, _)| is_gap_edge(what));
        for (_, at) in gap_edges {
            let start = T0 + at.div_euclid(SECOND_MS) * SECOND_MS - 90 * SECOND_MS;
            let end = start + 8 * MINUTE_MS;
            let steps: Vec<i64> = (start..=end).step_by(RANGE_STEP_MS as usize).collect();
            for (qi, query) in self.queries.iter().enumerate() {
                if query.func == Func::Raw {
                    continue; // a matrix is no range query's answer
                }
                let timer = Instant::now();
                let mut answers = Vec::new();
                for storage in storages {
                    let got = self
                        .engine
                        .range_query(storage, &query.promql, start, end, RANGE_STEP_MS)
                        .await;
                    answers.push(answer(no_warnings(got.expect("range query"))));
                }
                self.querying += timer.elapsed();
                let timer = Instant::now();
                let read = merged.samples(start - query.range_ms + 1, end);
                self.compare(
                    qi, b.phase_ms, true, &answers, &read, &series_a, &series_b, &steps,
                );
                self.checking += timer.elapsed();
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compare(
        &mut self,
        qi: usize,
        phase_ms: i64,
        range_query: bool,
        answers: &[Answer],
        read: &BTreeMap<Labels, Vec<(i64, f64)>>,
        series_a: &BTreeMap<Labels, Vec<(i64, f64)>>,
        series_b: &BTreeMap<Labels, Vec<(i64, f64)>>,
        steps: &[i64],
    ) {
        let query = &self.queries[qi];
        for (labels, a_samples) in series_a {
            // The fixture's counters are the series with a `path` label, its gauges `queue`.
            let counter = labels.get("path").is_some();
            if (query.over == Over::Counters && !counter) || (query.over == Over::Gauges && counter)
            {
                continue;
            }
            let pair = Pair {
                phase_ms,
                a: a_samples,
                b: &series_b[labels],
            };
            let merged_read = read.get(labels).map_or(&[][..], Vec::as_slice);
            let at = |answer: &Answer, t: i64| -> Option<f64> {
                let points = answer.get(labels)?;
                let i = points.binary_search_by_key(&t, |p| p.0).ok()?;
                Some(points[i].1)
            };
            for &t in steps {
                let key = format!("{phase_ms} {} {}", query.promql, t - T0);
                if query.func == Func::Raw {
                    let result = check_raw(&answers[0], labels, merged_read, t, query.range_ms);
                    self.record(format!("{key} raw"), result, || {
                        context(&pair, merged_read, t - query.range_ms, t)
                    });
                }
                let e = Evaluation {
                    query,
                    phase_ms,
                    labels,
                    range_query,
                    t,
                    merged: if query.func == Func::Raw {
                        answers[0].get(labels).map(|p| p.len() as f64)
                    } else {
                        at(&answers[0], t)
                    },
                    a: if query.func == Func::Raw {
                        answers[1].get(labels).map(|p| p.len() as f64)
                    } else {
                        at(&answers[1], t)
                    },
                    b: if query.func == Func::Raw {
                        answers[2].get(labels).map(|p| p.len() as f64)
                    } else {
                        at(&answers[2], t)
                    },
                };
                let result = check(&e, &pair, merged_read, &mut self.figures[qi]);
                let window_start = if query.func == Func::Last {
                    t - 5 * MINUTE_MS
                } else {
                    t - query.range_ms
                };
                self.record(format!("{key} {labels:?}"), result, || {
                    format!(
                        "    merged {:?} a {:?} b {:?}\n{}",
                        e.merged,
                        e.a,
                        e.b,
                        context(&pair, merged_read, window_start, t)
                    )
                });
            }
        }
    }
}

/// The raw `x[1m]` answer is exactly the merged read (what the fan-out gave the engine).
fn check_raw(
    answer: &Answer,
    labels: &Labels,
    merged_read: &[(i64, f64)],
    t: i64,
    range_ms: i64,
) -> Result<(), String> {
    let got = answer.get(labels).map_or(&[][..], Vec::as_slice);
    let want = Pair::within(merged_read, t - range_ms, t);
    let bits = |s: &[(i64, f64)]| s.iter().map(|p| (p.0, p.1.to_bits())).collect::<Vec<_>>();
    if bits(got) == bits(want) {
        Ok(())
    } else {
        Err(format!(
            "raw answer {got:?} is not the merged read {want:?}"
        ))
    }
}

fn print_summary(queries: &[Query], figures: &[Figures]) {
    println!(
        "{:<40} {:>6} {:>6} {:>7} {:>8} {:>7} {:>6}",
        "query", "evals", "mixed", "outside", "max out", "1-empty", "denser"
    );
    for (q, f) in queries.iter().zip(figures) {
        println!(
            "{:<40} {:>6} {:>6} {:>7} {:>8.4} {:>7} {:>6}",
            q.promql,
            f.evaluations,
            f.mixed,
            f.outside,
            f.max_outside,
            f.one_missing_differs,
            f.denser
        );
    }
    println!("largest distance outside [a, b] (relative to max(|a|, |b|, 1)), where:");
    for (q, f) in queries.iter().zip(figures) {
        if !f.worst.is_empty() {
            println!("  {}: {}", q.promql, f.worst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase_shifted_replicas_answer_within_what_each_replica_gives() {
    let began = Instant::now();
    let queries = queries();
    let mut run = Run {
        engine: Engine::new(EngineOptions::default()),
        queries: &queries,
        figures: queries.iter().map(|_| Figures::default()).collect(),
        failures: Vec::new(),
        querying: std::time::Duration::ZERO,
        checking: std::time::Duration::ZERO,
        reasons: BTreeMap::new(),
    };
    for (i, &phase_ms) in PHASES_MS.iter().enumerate() {
        let seed = SEED + i as u64;
        let process = Process::generate(seed);
        let (gaps_a, gaps_b) = phased_pair::gaps(seed);
        let a = Scraper {
            phase_ms: 0,
            gaps: gaps_a,
        };
        let b = Scraper {
            phase_ms,
            gaps: gaps_b,
        };
        run.phase(&process, &a, &b).await;
        println!(
            "phase {phase_ms} ms (seed {seed:#x}) done after {:.1} s (querying {:.1} s, checking {:.1} s)",
            began.elapsed().as_secs_f64(),
            run.querying.as_secs_f64(),
            run.checking.as_secs_f64()
        );
    }
    print_summary(&queries, &run.figures);
    println!("wall time {:.1} s", began.elapsed().as_secs_f64());
    // A one-minute window rarely holds both replicas' gaps, and where one replica has none
    // in it, that replica is followed alone (no switch): the one-minute queries may never
    // meet a switch; the five-minute ones must.
    for (q, f) in queries.iter().zip(&run.figures) {
        assert!(f.evaluations > 0, "{} never evaluated", q.promql);
        assert!(
            f.mixed > 0 || q.promql.contains("[1m]"),
            "{} was never checked at a switch",
            q.promql
        );
    }
    for (reason, n) in &run.reasons {
        println!("failing {n:>6}: {reason}");
    }
    assert!(
        run.failures.is_empty(),
        "{} failures:\n{}",
        run.failures.len(),
        run.failures.join("\n")
    );
}
