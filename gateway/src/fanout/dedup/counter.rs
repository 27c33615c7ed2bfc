//! Counter-aware de-duplication, the default (`counter-aware`).
//!
//! Thanos' penalty algorithm has three defects users hit: it reacts to a gap ~2 scrape
//! intervals late (the start of every gap is lost, #981/#7656); it treats the replicas' counters
//! as interchangeable, so a switch to a replica whose counter is lower looks like a reset and one
//! whose counter is higher looks like a burst, and `rate()`/`increase()` spike (#7623, #2890,
//! #1326); and its fixed 5 s initial penalty makes it hop to the other replica right at the
//! start when the replicas' scrapes are more than 5 s apart. Unlike Thanos' iterator, a merge
//! here sees all the samples of the series at once, so it looks ahead instead of guessing with
//! penalties.
//!
//! The merge:
//! 1. Estimates the scrape interval `I` from the data (median of up to 64 sampled spacings).
//!    A replica that holds the whole series without a gap — starting and ending less than `I`
//!    from the range read (no scrape missing at either end: the rest is phase), as
//!    many samples as the fullest, no step over `1.5 I`, no staleness marker but maybe a last
//!    one — is the answer as it is: no switch, so every window holds exactly what that replica
//!    holds.
//!    Switching at a gap cannot give that: a switch puts two samples either closer or further
//!    apart than `I` (unless the replicas scrape in phase), so some window holds one sample more
//!    or one fewer than a replica. The rest is for replicas that all have gaps.
//! 2. Starts on the replica with the earliest sample and follows it while it has data: its next
//!    sample is live (not a staleness marker) and at most `1.5 I` after the last emitted one.
//!    Following one replica keeps its natural sample rate: phase-shifted replicas never
//!    interleave.
//! 3. When the followed replica has a gap, a staleness marker or no more samples, it switches to
//!    the replica with the earliest live sample at least `I/2` after the last emitted sample
//!    that comes before the followed replica's own next live sample; that is the first usable
//!    sample of the gap, not ~2 intervals later. `I/2` is the spacing below which two samples
//!    would double the sample rate, so a switch never puts samples closer than that. Nor does
//!    it let the phase gained by switches (how much closer than `I` the samples have been
//!    since they were last further apart, counting from the other replicas' last scrape
//!    before the read) exceed `I/2`: a replica exactly half an interval out of phase,
//!    switched to and back at `I/2` each time, would put one scrape round in a window twice.
//!    It then stays on the new replica until that one has a gap: no switching back and
//!    forth. If no replica has data, the followed one's next sample (maybe a staleness
//!    marker) is emitted: a staleness marker is kept only when no replica has live data in
//!    its place.
//! 4. Counters (`SeriesHint::Counter`): the values of the replica switched to are shifted by an
//!    offset so that the switch is neither a reset nor a jump. The offset comes from the new
//!    replica's two samples around the last emitted time `t_f` (its latest sample at or before
//!    `t_f`, `g1`, and the next one, `g2`). If the last emitted raw value lies within
//!    `[g1, g2]`, the replicas are consistent with one counter read at different instants and
//!    the offset stays what it was (replicas that agree are never altered). Otherwise the new
//!    replica is interpolated at `t_f` and lined up with the last emitted value. Either way the
//!    step at the switch is between 0 and the new replica's own increase over `[g1's time,
//!    switch]`, a span that contains the step: a switch can neither fake a reset nor add more
//!    than one of the replicas saw. A decrease inside the followed replica is a genuine reset:
//!    the offset drops to 0 and the raw post-reset value is emitted, as Prometheus would see it.
//!    A decrease in the new replica between `g1` and the switch is a reset of that replica: it is
//!    shown as a reset, unless the merged series already showed one in that span (the same reset
//!    seen by both replicas), in which case the switch is made without a second drop. With no
//!    sample of the new replica before `t_f` there is nothing to estimate from and its raw
//!    values are trusted. Gauges are never adjusted.
//!
//! 5. A read that ends with more samples than one scraper's rhythm fits in it began on the
//!    round its start cuts (the later phase's scrape inside, the earlier one's just before)
//!    and ends on the round its end cuts. Where the stores sent that earlier scrape, the
//!    merged first sample goes: a window reaching further back holds the round.
//!
//! Staleness markers and NaN values are copied bit for bit, never adjusted. Cost: O(total
//! samples x replicas), no allocation per sample.

use super::replica::{Replica, SeriesHint, is_stale, seek, with_states};

/// Spacings sampled per replica, and in total, to estimate the scrape interval.
const SPACINGS_PER_REPLICA: usize = 16;
const SPACINGS: usize = 64;
/// A switch takes no sample closer than `I / MIN_STEP_DIVISOR` to the last emitted one: closer
/// samples would double the sample rate.
const MIN_STEP_DIVISOR: i64 = 2;
/// A step of the followed replica longer than `I + I / GAP_EXTRA_DIVISOR` is a gap: between one
/// interval (with jitter) and two (one missed scrape).
const GAP_EXTRA_DIVISOR: i64 = 2;
/// How far back (in samples) a switch looks for the new replica's sample before `t_f`.
const ANCHOR_SCAN_LIMIT: usize = 32;

/// Merges `replicas` (the samples within the range); `read` holds the same replicas with
/// whatever the stores sent around the range. True when one replica was the answer as it is
/// (no switch).
pub(super) fn merge(
    replicas: &[Replica<'_>],
    read: &[Replica<'_>],
    hint: SeriesHint,
    (range_start, range_end): (i64, i64),
    out_ts: &mut Vec<i64>,
    out_vs: &mut Vec<f64>,
) -> bool {
    let timing = Timing::of(replicas);
    if let Some(whole) = whole_replica(replicas, &timing, (range_start, range_end)) {
        out_ts.extend_from_slice(whole.timestamps);
        out_vs.extend_from_slice(whole.values);
        return true;
    }
    with_states::<Cursor, _>(replicas.len(), |cursors| {
        let mut start: Option<(i64, usize)> = None;
        for (i, (r, c)) in replicas.iter().zip(cursors.iter_mut()).enumerate() {
            c.refresh_live(r);
            if let Some(&t) = r.timestamps.first()
                && start.is_none_or(|(bt, _)| t < bt)
            {
                start = Some((t, i));
            }
        }
        let Some((first, cur)) = start else { return };
        let mut m = Merger {
            gain: gain_at_start(read, &timing, (first, cur), range_start),
            replicas,
            counter: hint.is_counter(),
            timing,
            range_end,
            cur,
            last_t: None,
            off: 0.0,
            last_raw: None,
            last_value: None,
            last_reset_t: None,
            out_ts,
            out_vs,
        };
        while m.step(cursors) {}
    });
    drop_surplus_round(
        replicas,
        read,
        &timing,
        (range_start, range_end),
        out_ts,
        out_vs,
    );
    false
}

/// A read whose merge holds more samples than any replica's scrapes fit in it starts in a
/// scrape round that the read's start cuts (its other phase's scrape is before the start)
/// and ends in one its end cuts. If another replica's scrape of that first round is in what
/// the stores sent, before the start, the merged first sample goes: a window reaching further
/// back holds that round, and this one then holds what one scraper can. If none is, the
/// round is seen by one replica only and stays, as does the last: it is the latest sample.
fn drop_surplus_round(
    replicas: &[Replica<'_>],
    read: &[Replica<'_>],
    timing: &Timing,
    (start, end): (i64, i64),
    out_ts: &mut Vec<i64>,
    out_vs: &mut Vec<f64>,
) {
    let i = timing.interval;
    let Some(&first) = out_ts.first() else { return };
    if i == i64::MAX || start == i64::MIN || end == i64::MAX {
        return;
    }
    // Each replica's scrape times, continued over the read from its first sample in it.
    let fits = replicas
        .iter()
        .filter_map(|r| r.timestamps.first().copied())
        .map(|f| (f - start).div_euclid(i) + (end - f).div_euclid(i) + 1)
        .max()
        .unwrap_or(0);
    let round_seen_before = read.iter().any(|r| {
        r.live_before(start)
            .is_some_and(|t| first.saturating_sub(t) < timing.min_step)
    });
    if out_ts.len() as i64 > fits && round_seen_before {
        out_ts.remove(0);
        out_vs.remove(0);
    }
}

/// The phase a merge starting on replica `cur` at `first` has gained on another replica
/// whose last scrape before the read is at least half an interval and less than one before
/// `first` (a different round, closer than a scraper's): as if the merge had switched there.
fn gain_at_start(
    read: &[Replica<'_>],
    timing: &Timing,
    (first, cur): (i64, usize),
    start: i64,
) -> i64 {
    let i = timing.interval;
    if i == i64::MAX || start == i64::MIN {
        return 0;
    }
    read.iter()
        .enumerate()
        .filter(|(g, _)| *g != cur)
        .filter_map(|(_, r)| r.live_before(start))
        .map(|t| first.saturating_sub(t))
        .filter(|step| (timing.min_step..i).contains(step))
        .map(|step| i - step)
        .max()
        .unwrap_or(0)
}

/// The replica (the earliest such) that misses no scrape: its first and last samples less
/// than an interval from the range's start and end (the rest is phase) — or, where the
/// series begins or ends inside the range (no replica has a sample within an interval of
/// that end of it), from the earliest first or the latest last sample of all replicas — as
/// many samples as the fullest replica, no step longer than a gap, and no staleness marker
/// before its last sample. None without a known interval, or with a single replica.
fn whole_replica<'r>(
    replicas: &'r [Replica<'r>],
    timing: &Timing,
    (start, end): (i64, i64),
) -> Option<&'r Replica<'r>> {
    if replicas.len() < 2 || timing.gap == i64::MAX {
        return None;
    }
    let earliest = *replicas.iter().filter_map(|r| r.timestamps.first()).min()?;
    let latest = *replicas.iter().filter_map(|r| r.timestamps.last()).max()?;
    let interval = timing.gap.saturating_sub(timing.min_step);
    let start = if earliest.saturating_sub(start) >= interval {
        earliest
    } else {
        start
    };
    let end = if end.saturating_sub(latest) >= interval {
        latest
    } else {
        end
    };
    let fullest = replicas.iter().map(|r| r.timestamps.len()).max()?;
    replicas
        .iter()
        .filter(|r| r.timestamps.len() == fullest)
        .filter(|r| {
            let (Some(&first), Some(&last)) = (r.timestamps.first(), r.timestamps.last()) else {
                return false;
            };
            let live_inside = r.values[..r.values.len() - 1].iter().all(|&v| !is_stale(v));
            first.saturating_sub(start) < interval
                && end.saturating_sub(last) < interval
                && live_inside
                && r.timestamps.windows(2).all(|w| w[1] - w[0] <= timing.gap)
        })
        .min_by_key(|r| r.timestamps[0])
}

/// The scrape interval `I` (median of sampled spacings over all replicas), if any replica has
/// two samples.
pub(super) fn estimate_interval(replicas: &[Replica<'_>]) -> Option<i64> {
    let mut buf = [0i64; SPACINGS];
    let mut n = 0;
    for r in replicas {
        let ts = r.timestamps;
        let spacings = ts.len().saturating_sub(1);
        let take = spacings.min(SPACINGS_PER_REPLICA).min(SPACINGS - n);
        for j in 0..take {
            let i = j * spacings / take;
            if let (Some(a), Some(b), Some(slot)) = (ts.get(i), ts.get(i + 1), buf.get_mut(n)) {
                *slot = b.saturating_sub(*a);
                n += 1;
            }
        }
    }
    let sample = buf.get_mut(..n)?;
    sample.sort_unstable();
    sample.get(n / 2).copied()
}

/// Spacing rules derived from the estimated interval `I`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    /// The scrape interval `I` (`i64::MAX`: not known).
    pub(super) interval: i64,
    /// A switch takes no sample closer than this to the last emitted one (`I/2`).
    pub(super) min_step: i64,
    /// A step of the followed replica up to this is a plain interval (`1.25 I`): no scrape
    /// is missing inside it.
    pub(super) plain_step: i64,
    /// A followed replica whose last sample is less than this before the range's end has its
    /// next scrape still to come (`7/8 I`: an eighth is left for the jitter of scrape times,
    /// so that a scrape due at the very end is not dropped).
    pub(super) end_not_due: i64,
    /// A step of the followed replica longer than this is a gap (`1.5 I`).
    pub(super) gap: i64,
}

impl Timing {
    pub(super) fn of(replicas: &[Replica<'_>]) -> Self {
        match estimate_interval(replicas) {
            Some(i) if i > 0 => Self {
                interval: i,
                min_step: (i / MIN_STEP_DIVISOR).max(1),
                plain_step: i.saturating_add(i / 4),
                end_not_due: i.saturating_sub(i / 8),
                gap: i.saturating_add(i / GAP_EXTRA_DIVISOR),
            },
            // No interval known (a sample or none per replica): no step misses a scrape, and
            // the end of the data is no gap — replicas' lone samples are copies of one scrape.
            _ => Self {
                interval: i64::MAX,
                min_step: 1,
                plain_step: i64::MAX,
                end_not_due: i64::MAX,
                gap: i64::MAX,
            },
        }
    }
}

/// Position in one replica.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    /// The first sample not yet passed.
    next: usize,
    /// The first sample at or after `next` that is not a staleness marker (`len` if none).
    live: usize,
}

impl Cursor {
    /// Passes every sample at or before `bound`.
    fn advance(&mut self, r: &Replica<'_>, bound: i64) {
        self.next = seek(r.timestamps, self.next, |t| t <= bound);
        self.refresh_live(r);
    }

    fn refresh_live(&mut self, r: &Replica<'_>) {
        self.live = self.live.max(self.next);
        let vs = r.values;
        while let Some(&v) = vs.get(self.live)
            && is_stale(v)
        {
            self.live += 1;
        }
    }

    fn live_time(&self, r: &Replica<'_>) -> Option<i64> {
        r.timestamps.get(self.live).copied()
    }
}

/// The last emitted number (not NaN): when, what was emitted, the raw value and the offset.
#[derive(Clone, Copy, Debug)]
struct LastValue {
    t: i64,
    out: f64,
    raw: f64,
    off: f64,
}

struct Merger<'r, 'a, 'o> {
    replicas: &'r [Replica<'a>],
    counter: bool,
    timing: Timing,
    /// Where the samples were read up to (`i64::MAX`: not known).
    range_end: i64,
    /// The followed replica.
    cur: usize,
    /// How much closer than one interval apart the emitted samples have been since the last
    /// stretch where they were further apart (ms, never negative): the phase gained by
    /// switches. A switch keeps it within half an interval, or a window holds one scrape
    /// round twice (a replica exactly half an interval out of phase, switched to and back at
    /// `I/2` each time, would gain a whole interval).
    gain: i64,
    /// Timestamp of the last emitted sample of any kind.
    last_t: Option<i64>,
    /// Added to the followed replica's values (counters only).
    off: f64,
    /// Raw value of the last number emitted from the followed replica (reset detection); unset
    /// right after a switch.
    last_raw: Option<f64>,
    last_value: Option<LastValue>,
    /// Timestamp of the last emitted decrease.
    last_reset_t: Option<i64>,
    out_ts: &'o mut Vec<i64>,
    out_vs: &'o mut Vec<f64>,
}

impl Merger<'_, '_, '_> {
    /// Emits one sample; false when done.
    fn step(&mut self, cursors: &mut [Cursor]) -> bool {
        let cur = self.cur;
        let (Some(f), Some(fc)) = (self.replicas.get(cur), cursors.get(cur).copied()) else {
            return false;
        };
        let next = f.get(fc.next);
        if let Some((t, v)) = next
            && !is_stale(v)
            && self.last_t.is_none_or(|l| {
                t.saturating_sub(l) <= self.timing.gap && !self.missed_scrape(cur, l, t)
            })
        {
            self.emit(cursors);
            return true;
        }
        // The followed replica's next scrape is not due by the range's end: no gap, and a
        // later sample of another replica is that replica's copy of its last one (unless it
        // says the series went stale there).
        if next.is_none()
            && self.range_end != i64::MAX
            && self
                .last_t
                .is_some_and(|l| self.range_end.saturating_sub(l) < self.timing.end_not_due)
        {
            return self.end_with_marker(cur, cursors);
        }
        // Gap, staleness marker or end of the followed replica: the earliest live sample of
        // another replica, far enough from the last emitted one and before the followed
        // replica's own next live sample.
        let bound = self
            .last_t
            .map(|l| l.saturating_add(self.timing.min_step + self.gain - 1));
        let f_live = fc.live_time(f).unwrap_or(i64::MAX);
        let mut best: Option<(i64, usize)> = None;
        for (g, (r, c)) in self.replicas.iter().zip(cursors.iter_mut()).enumerate() {
            if g == cur {
                continue;
            }
            if let Some(b) = bound {
                c.advance(r, b);
            }
            if let Some(t) = c.live_time(r)
                && t < f_live
                && best.is_none_or(|(bt, _)| t < bt)
            {
                best = Some((t, g));
            }
        }
        if let Some((_, g)) = best {
            self.switch(g, cursors);
            true
        } else if next.is_some() {
            self.emit(cursors);
            true
        } else {
            self.end_with_marker(cur, cursors)
        }
    }

    /// The followed replica ended. If another one says the series went stale there, that
    /// marker is kept (or the series would live on for a lookback window); then done.
    fn end_with_marker(&mut self, cur: usize, cursors: &mut [Cursor]) -> bool {
        match self.ending_marker(cur, cursors) {
            Some(g) => {
                self.cur = g;
                self.emit(cursors);
                true
            }
            None => false,
        }
    }

    /// Another replica whose next sample (after the last emitted one) is a staleness marker.
    fn ending_marker(&self, cur: usize, cursors: &[Cursor]) -> Option<usize> {
        let last = self.last_t?;
        self.replicas
            .iter()
            .zip(cursors)
            .enumerate()
            .find(|(g, (r, c))| {
                *g != cur && r.get(c.next).is_some_and(|(t, v)| t > last && is_stale(v))
            })
            .map(|(g, _)| g)
    }

    /// Whether another replica has a live sample between `last` and the followed replica's
    /// next sample `t`, at least half an interval from both: the followed replica missed a
    /// scrape the interval estimate cannot show (sparse data), so the other one fills it. A
    /// phase-shifted replica's samples sit closer than that to one side and never qualify,
    /// nor does any sample inside a plain interval step (a replica half an interval out of
    /// phase would otherwise take turns with the followed one, doubling the sample rate).
    fn missed_scrape(&self, cur: usize, last: i64, t: i64) -> bool {
        let from = last.saturating_add(self.timing.min_step);
        let to = t.saturating_sub(self.timing.min_step);
        t.saturating_sub(last) > self.timing.plain_step
            && from <= to
            && self.replicas.iter().enumerate().any(|(g, r)| {
                let i = r.timestamps.partition_point(|&x| x < from);
                g != cur
                    && r.timestamps.get(i).is_some_and(|&x| x <= to)
                    && r.values.get(i).is_some_and(|&v| !is_stale(v))
            })
    }

    /// Follows replica `g` from its first live sample (its cursor's `live`).
    fn switch(&mut self, g: usize, cursors: &mut [Cursor]) {
        let (Some(r), Some(c)) = (self.replicas.get(g).copied(), cursors.get_mut(g)) else {
            return;
        };
        c.next = c.live;
        if !self.counter {
            self.off = 0.0;
        } else if let Some((_, v)) = r.get(c.live)
            && !v.is_nan()
        {
            self.off = self.offset_for(&r, c.live, v);
        }
        self.cur = g;
        self.last_raw = None;
        self.emit(cursors);
    }

    /// The offset for replica `r` whose sample `c` (value `v`) is emitted next.
    fn offset_for(&self, r: &Replica<'_>, c: usize, v: f64) -> f64 {
        let Some(last) = self.last_value else {
            return 0.0;
        };
        // Walk back to r's latest number at or before `last.t` (g1), noting a decrease on the
        // way; `hi` ends as the number after g1 (g2).
        let (ts, vs) = (r.timestamps, r.values);
        let mut hi = (ts.get(c).copied().unwrap_or(last.t), v);
        let mut reset = false;
        let mut anchor = None;
        for j in (c.saturating_sub(ANCHOR_SCAN_LIMIT)..c).rev() {
            let (Some(&t), Some(&x)) = (ts.get(j), vs.get(j)) else {
                break;
            };
            if x.is_nan() {
                continue;
            }
            reset |= x > hi.1;
            if t <= last.t {
                anchor = Some((t, x));
                break;
            }
            hi = (t, x);
        }
        let Some((t1, g1)) = anchor else {
            // No overlap to estimate from: trust the raw values.
            return last.off;
        };
        let off = if reset {
            if self.last_reset_t.is_none_or(|rt| rt < t1) {
                // This replica restarted its counter: show the reset as it saw it.
                return 0.0;
            }
            // The merged series already showed this reset: switch without a second drop.
            last.off
        } else if g1 <= last.raw && last.raw <= hi.1 {
            // Consistent with the same counter read at other instants: no adjustment.
            last.off
        } else {
            let (t2, g2) = hi;
            let frac = if t2 > t1 {
                (last.t.saturating_sub(t1)) as f64 / (t2.saturating_sub(t1)) as f64
            } else {
                0.0
            };
            last.out - (g1 + (g2 - g1) * frac)
        };
        if off.is_finite() {
            no_drop(off, v, last.out)
        } else {
            0.0
        }
    }

    /// Emits the followed replica's next sample.
    fn emit(&mut self, cursors: &mut [Cursor]) {
        let (Some(r), Some(c)) = (self.replicas.get(self.cur), cursors.get_mut(self.cur)) else {
            return;
        };
        let Some((t, v)) = r.get(c.next) else {
            return;
        };
        c.next += 1;
        c.refresh_live(r);
        if let Some(l) = self.last_t
            && self.timing.interval != i64::MAX
        {
            let closer = self.timing.interval.saturating_sub(t.saturating_sub(l));
            self.gain = self.gain.saturating_add(closer).max(0);
        }
        self.last_t = Some(t);
        if v.is_nan() {
            // Staleness markers and NaNs: copied bit for bit.
            self.out_ts.push(t);
            self.out_vs.push(v);
            return;
        }
        let mut out = v;
        if self.counter {
            if self.last_raw.is_some_and(|p| v < p) {
                // A reset in the followed replica is a genuine reset: emit it raw.
                self.off = 0.0;
            }
            if self.off != 0.0 {
                out = v + self.off;
            }
            self.last_raw = Some(v);
        }
        if self.last_value.is_some_and(|l| out < l.out) {
            self.last_reset_t = Some(t);
        }
        self.last_value = Some(LastValue {
            t,
            out,
            raw: v,
            off: self.off,
        });
        self.out_ts.push(t);
        self.out_vs.push(out);
    }
}

/// Raises `off` just enough that `v + off >= floor` despite rounding (a decrease of one ulp is
/// a counter reset to PromQL).
fn no_drop(mut off: f64, v: f64, floor: f64) -> f64 {
    for _ in 0..8 {
        let out = v + off;
        if out >= floor || out.is_nan() {
            break;
        }
        off += (floor - out)
            .max(floor.abs() * f64::EPSILON)
            .max(f64::MIN_POSITIVE);
    }
    off
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{
        Events, Scrape, XorShift, check_common, check_raw, merged, min_spacing, replica, resets,
        stale,
    };
    use super::super::{DedupAlgorithm, is_stale};
    use super::*;

    const S: i64 = 1000;
    const M: i64 = 60 * S;
    const I: i64 = 15 * S;

    fn counter_aware(reps: &[Replica<'_>]) -> (Vec<i64>, Vec<f64>) {
        merged(DedupAlgorithm::CounterAware, reps, SeriesHint::Counter)
    }

    /// `v = base + 10/s * t` on a grid.
    fn line(from: i64, to: i64, base: f64) -> (Vec<i64>, Vec<f64>) {
        let ts: Vec<i64> = (0..)
            .map(|k| from + k * I)
            .take_while(|t| *t <= to)
            .collect();
        let vs = ts.iter().map(|&t| base + (t / 100) as f64).collect();
        (ts, vs)
    }

    fn concat(a: (Vec<i64>, Vec<f64>), b: (Vec<i64>, Vec<f64>)) -> (Vec<i64>, Vec<f64>) {
        let (mut ts, mut vs) = a;
        ts.extend(b.0);
        vs.extend(b.1);
        (ts, vs)
    }

    #[test]
    fn interval_is_the_median_spacing() {
        let (ta, va) = line(0, 10 * M, 0.0);
        let (tb, vb) = line(7 * S, 3 * M, 0.0);
        assert_eq!(
            estimate_interval(&[replica(&ta, &va), replica(&tb, &vb)]),
            Some(I)
        );
        // A few long gaps do not move the median.
        let ts = [0, 15, 30, 45, 60, 500, 515, 530, 2000, 2015];
        assert_eq!(estimate_interval(&[replica(&ts, &[0.0; 10])]), Some(15));
        assert_eq!(estimate_interval(&[replica(&[5], &[0.0])]), None);
        assert_eq!(estimate_interval(&[]), None);
    }

    #[test]
    fn offset_lines_up_the_new_replica() {
        // a = 1000 + 10/s, b = the same events counted by a process started later (10/s, no
        // base). a stops after 45 s; b (phase 7 s) is interpolated at 45 s between 37 s and
        // 52 s (370..520 -> 450) and shifted by 1450 - 450 = 1000: exactly a's line. (b misses
        // its 22 s and 37 s scrapes, so neither replica is whole; being linear, b interpolates
        // to 450 between 7 s and 52 s all the same.)
        let (ta, va) = concat(line(0, 45 * S, 1000.0), line(2 * M, 3 * M, 1000.0));
        let b_with_a_gap =
            |base| concat(line(7 * S, 7 * S, base), line(52 * S, 3 * M + 10 * S, base));
        let (tb, vb) = b_with_a_gap(0.0);
        let (t, v) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        // b@52 s is 7 s after a@45 s (< I/2): the switch takes b@67 s.
        let i = t.iter().position(|&x| x == 67 * S).unwrap();
        assert_eq!(&t[..i], &ta[..4]);
        for (&x, &y) in t.iter().zip(&v) {
            assert_eq!(y, 1000.0 + (x / 100) as f64, "at {x}");
        }
        // ... and stays on b after a is back (b has no gap there).
        assert!(t[i..].iter().all(|x| tb.contains(x)));
        assert_eq!(t.last(), tb.last());

        // The other way round: b's counter is higher; same line-up, no spike.
        let (tb, vb) = b_with_a_gap(5000.0);
        let (t, v) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        for (&x, &y) in t.iter().zip(&v) {
            assert_eq!(y, 1000.0 + (x / 100) as f64, "at {x}");
        }
    }

    #[test]
    fn replicas_that_agree_are_never_adjusted() {
        // Both replicas scrape the same counter (noisy rate, so interpolation would not be
        // exact); a has a gap. Every emitted value is a raw value of the replica it comes from.
        for seed in 0..10 {
            let mut rng = XorShift::new(seed);
            let ev = Events::new(&mut rng, -60, 16 * 60, 10, 3);
            let sa = Scrape {
                phase_ms: 0,
                interval_ms: I,
                from_ms: 0,
                to_ms: 15 * M,
                jitter_ms: 20,
                gaps: vec![(4 * M, 7 * M)],
                counter_starts: vec![-M],
                stale_at: vec![],
            };
            let sb = Scrape {
                phase_ms: 7 * S,
                gaps: vec![(10 * M, 12 * M)],
                ..sa.clone()
            };
            let (ta, va) = sa.samples(&ev, &mut rng);
            let (tb, vb) = sb.samples(&ev, &mut rng);
            let reps = [replica(&ta, &va), replica(&tb, &vb)];
            let (t, v) = counter_aware(&reps);
            check_raw(&reps, &t, &v).unwrap();
            assert!(t.iter().any(|x| tb.contains(x)), "b fills a's gap");
            assert!(resets(&t, &v).is_empty());
        }
    }

    #[test]
    fn gauges_are_never_adjusted() {
        let (ta, va) = concat(line(0, 45 * S, 1000.0), line(2 * M, 3 * M, 1000.0));
        let (tb, vb) = line(7 * S, 3 * M, 0.0);
        let reps = [replica(&ta, &va), replica(&tb, &vb)];
        let (t, v) = merged(DedupAlgorithm::CounterAware, &reps, SeriesHint::Other);
        check_raw(&reps, &t, &v).unwrap();
        assert_eq!(v[4], vb[4], "b@67 s raw");
    }

    #[test]
    fn gap_switches_at_the_first_sample_after_the_last_emitted() {
        // a: every 15 s with a 3-minute gap; b: phase 8 s, with a gap of its own while a is
        // followed (so neither is whole). The merged series has b's samples from the first b
        // sample after a's last sample, then stays on b.
        let (ta, va) = concat(line(0, 2 * M, 0.0), line(5 * M, 10 * M, 0.0));
        let (tb, vb) = concat(line(8 * S, 38 * S, 0.0), line(98 * S, 10 * M, 0.0));
        let reps = [replica(&ta, &va), replica(&tb, &vb)];
        for hint in [SeriesHint::Counter, SeriesHint::Other] {
            let (t, _) = merged(DedupAlgorithm::CounterAware, &reps, hint);
            let last_a = 2 * M;
            let first_b = tb.iter().copied().find(|&x| x > last_a).unwrap();
            assert_eq!(first_b, last_a + 8 * S);
            let i = t.iter().position(|&x| x == last_a).unwrap();
            assert_eq!(&t[..=i], &ta[..=i]);
            let from_b: Vec<i64> = tb.iter().copied().filter(|&x| x >= first_b).collect();
            assert_eq!(&t[i + 1..], &from_b[..], "{hint:?}");
        }
    }

    /// Times `from, from + I, ...` up to `to`, without `missing`, all in ms, with a rising
    /// counter.
    fn scrapes(from: i64, to: i64, missing: &[i64]) -> (Vec<i64>, Vec<f64>) {
        let ts: Vec<i64> = (0..)
            .map(|k| from + k * I)
            .take_while(|t| *t <= to)
            .filter(|t| !missing.contains(t))
            .collect();
        let vs = ts.iter().map(|&t| (t / 100) as f64).collect();
        (ts, vs)
    }

    #[test]
    fn switches_half_an_interval_out_of_phase_gain_at_most_half_an_interval() {
        // b is exactly I/2 after a. a misses 30 s and 45 s: the merge switches to b at 22.5 s,
        // I/2 after a@15 s. b misses 97.5 s: switching back at I/2 (a@90 s) would make the
        // two switches gain a whole interval, one scrape round held twice; it takes a@105 s.
        let (ta, va) = scrapes(0, 150 * S, &[30 * S, 45 * S]);
        let (tb, vb) = scrapes(7500, 142_500, &[97_500]);
        let (t, _) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        let want = [
            0, 15_000, 22_500, 37_500, 52_500, 67_500, 82_500, 105_000, 120_000,
        ];
        assert_eq!(t[..want.len()], want);
    }

    #[test]
    fn a_round_cut_by_the_read_start_is_not_held_twice() {
        // The window (2865 s, 3165 s]: b scrapes 4 s after a; a misses 2880 s and b 3154 s.
        // The merge starts on b@2869 s (the round of a@2865 s, before the window) and ends on
        // a@3150 s and a@3165 s: 21 samples where a scraper fits 20. Where the stores sent
        // a@2865 s, b@2869 s goes; where a missed it too, b@2869 s is that round's only
        // sample and stays.
        let range = (2_865_001, 3_165_000);
        let b = scrapes(2_854_000, 3_169_000, &[3_154_000]);
        for (a_missing, first) in [
            (&[2_880_000][..], 2_884_000),
            (&[2_865_000, 2_880_000][..], 2_869_000),
        ] {
            let a = scrapes(2_850_000, 3_180_000, a_missing);
            let reps = [replica(&a.0, &a.1), replica(&b.0, &b.1)];
            let (mut t, mut v) = (Vec::new(), Vec::new());
            DedupAlgorithm::CounterAware.merge_within(
                &reps,
                SeriesHint::Counter,
                range,
                &mut t,
                &mut v,
            );
            assert_eq!(t.first(), Some(&first), "a misses {a_missing:?}");
            assert_eq!(t.last(), Some(&3_165_000));
            assert!(t.iter().all(|&x| (range.0..=range.1).contains(&x)));
        }
    }

    #[test]
    fn a_replica_without_a_gap_is_the_answer() {
        // a has a 3-minute gap; b, 11 s behind, misses nothing: every window of the merged
        // series must hold what b holds, raw values included (a's counter runs 500 ahead),
        // where switching at a's gap would put a's and b's samples 11 s apart.
        let (ta, va) = concat(line(0, 2 * M, 500.0), line(5 * M, 10 * M, 500.0));
        let (tb, vb) = line(11 * S, 10 * M + 11 * S, 0.0);
        let reps = [replica(&ta, &va), replica(&tb, &vb)];
        for hint in [SeriesHint::Counter, SeriesHint::Other] {
            let (t, v) = merged(DedupAlgorithm::CounterAware, &reps, hint);
            assert_eq!((&t, &v), (&tb, &vb), "{hint:?}");
        }
        // b starting a whole interval late misses a scrape: it is not whole.
        let (tb, vb) = line(16 * S, 10 * M + 11 * S, 0.0);
        let (t, _) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(t[0], 0, "starts on a, which has the first scrape");
    }

    #[test]
    fn a_staleness_marker_of_another_replica_ends_the_series() {
        // a misses the last scrape, where b recorded that the series went stale.
        let stale = f64::from_bits(super::super::STALE_NAN_BITS);
        let (ta, va) = (vec![0, 60_000], vec![10.0, 20.0]);
        let (tb, vb) = (vec![0, 60_000, 120_000], vec![10.0, 20.0, stale]);
        let (t, v) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(t, tb);
        assert_eq!(v[2].to_bits(), stale.to_bits());
    }

    #[test]
    fn a_missed_scrape_in_sparse_data_is_filled() {
        // Too few samples for the interval estimate (120 s) to show a's missing 120 s sample:
        // b has it, a full interval from both neighbours, so it fills the hole.
        let (ta, va) = (vec![0, 180_000, 240_000], vec![0.0, 3.0, 4.0]);
        let (tb, vb) = (vec![0, 120_000, 180_000, 240_000], vec![0.0, 2.0, 3.0, 4.0]);
        let (t, v) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(t, tb);
        assert_eq!(v, vb);
    }

    #[test]
    fn a_first_sample_closer_than_half_an_interval_is_skipped() {
        // b is only 3 s behind a: taking b@(last a + 3 s) would put two samples 3 s apart
        // (5x the sample rate). The switch takes b's next sample, 18 s after a's last. (b has
        // a gap of its own while a is followed: neither is whole.)
        let (ta, va) = concat(line(0, 2 * M, 0.0), line(5 * M, 10 * M, 0.0));
        let (tb, vb) = concat(line(3 * S, 33 * S, 0.0), line(93 * S, 10 * M, 0.0));
        let (t, _) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        let i = t.iter().position(|&x| x == 2 * M).unwrap();
        assert_eq!(t[i + 1], 2 * M + 18 * S);
        assert!(min_spacing(&t) >= I / 2);
    }

    #[test]
    fn single_missed_scrape_is_filled_without_doubling() {
        // a misses one scrape (30 s step); b@22 s fills it and the merge stays on b. (b has a
        // gap later, so neither replica is whole.)
        let (ta, va) = line(0, 5 * M, 0.0);
        let (ta, va): (Vec<i64>, Vec<f64>) =
            ta.into_iter().zip(va).filter(|(t, _)| *t != 15 * S).unzip();
        let (tb, vb) = concat(line(7 * S, 3 * M, 0.0), line(4 * M, 5 * M, 0.0));
        let (t, _) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(&t[..3], &[0, 22 * S, 37 * S]);
        assert!(min_spacing(&t) >= I / 2);
    }

    #[test]
    fn staleness_markers_are_kept_only_when_no_replica_has_data() {
        // a's scrape at 60 s failed (staleness marker); b covers it. Both targets vanish at
        // the end: each replica writes one marker, the merge ends with exactly one.
        let (mut ta, mut va) = line(0, 3 * M, 0.0);
        va[4] = stale();
        ta.push(3 * M + I);
        va.push(stale());
        let (mut tb, mut vb) = line(7 * S, 3 * M, 0.0);
        tb.push(3 * M + 7 * S + I);
        vb.push(stale());
        let reps = [replica(&ta, &va), replica(&tb, &vb)];
        for hint in [SeriesHint::Counter, SeriesHint::Other] {
            let (t, v) = merged(DedupAlgorithm::CounterAware, &reps, hint);
            check_common(DedupAlgorithm::CounterAware, hint, &reps, &t, &v).unwrap();
            assert_eq!(&t[..4], &[0, 15 * S, 30 * S, 45 * S]);
            assert_eq!(t[4], 67 * S, "b after a's failed scrape");
            assert_eq!(v.iter().filter(|x| is_stale(**x)).count(), 1, "{hint:?}");
            // b's last number is at 172 s, a's at 180 s: a's marker at 195 s ends the series.
            assert!(is_stale(*v.last().unwrap()));
            assert_eq!(&t[t.len() - 3..], &[3 * M - 8 * S, 3 * M, 3 * M + I]);
        }
    }

    #[test]
    fn three_replicas_switch_to_the_earliest_fill() {
        let (ta, va) = concat(line(0, M, 0.0), line(3 * M, 4 * M, 0.0));
        // b and c miss scrapes while a is followed: none is whole.
        let (tb, vb) = concat(line(12 * S, 12 * S, 0.0), line(57 * S, 4 * M, 0.0));
        let (tc, vc) = concat(line(9 * S, 9 * S, 0.0), line(54 * S, 4 * M, 0.0));
        let (t, _) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb), replica(&tc, &vc)]);
        let i = t.iter().position(|&x| x == M).unwrap();
        assert_eq!(t[i + 1], M + 9 * S, "c fills first");
        assert!(
            t[i + 1..].iter().all(|x| tc.contains(x)),
            "and the merge stays on c"
        );
    }

    #[test]
    fn reset_of_the_new_replica_before_the_switch_is_shown() {
        // b's process restarted (its counter reset) while a was followed; when a stops, the
        // switch sees b's decrease since its last sample before the switch: a reset.
        let (ta, va) = line(0, 2 * M, 50_000.0);
        // b: last sample before its restart at 97 s, back at 127 s counting from 10.
        let (tb1, vb1) = line(7 * S, 2 * M - 20 * S, 10_000.0);
        let (tb2, vb2) = line(2 * M + 7 * S, 4 * M, 10.0 - 1270.0);
        let (tb, vb) = concat((tb1, vb1), (tb2, vb2));
        let (t, v) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(resets(&t, &v), [2 * M + 22 * S]);
        let i = t.iter().position(|&x| x == 2 * M + 22 * S).unwrap();
        assert_eq!(v[i], vb[tb.iter().position(|&x| x == t[i]).unwrap()], "raw");
    }

    #[test]
    fn a_reset_seen_by_both_replicas_is_shown_once() {
        // Both processes restart at ~60 s. a's sample at 60 s shows its reset (the merged
        // series resets there), then a stops. b's first sample after its restart (82 s) is lower
        // than a's last: the switch straddles b's reset of the same event, so the merged series
        // goes on without a second drop.
        let (ta, va) = concat(
            line(0, 45 * S, 9_000.0),
            line(60 * S, 60 * S, 300.0 - 600.0),
        );
        let (tb, vb) = concat(
            line(7 * S, 52 * S, 3_000.0),
            line(82 * S, 5 * M, 100.0 - 820.0),
        );
        let (t, v) = counter_aware(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(resets(&t, &v), [60 * S]);
        let i = t.iter().position(|&x| x == 82 * S).unwrap();
        assert_eq!((v[i - 1], v[i], v[i + 1]), (300.0, 300.0, 450.0));
    }
}
