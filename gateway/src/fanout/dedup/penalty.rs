//! Thanos' "penalty" de-duplication, reproduced exactly (`pkg/dedup/iter.go`,
//! `dedupSeriesIterator`, without the counter adjustment), for users who want Thanos' answers.
//!
//! Replicas are merged pairwise as a chain, `dedup(dedup(r0, r1), r2) ...`. Each pair keeps the
//! last emitted timestamp `lastT` (unset at start) and a penalty per side. A step seeks A to
//! `lastT + 1 + penA` and B to `lastT + 1 + penB`; if one side is exhausted the other is taken
//! (its penalty becomes 0), otherwise the smaller timestamp wins, ties to A. The side not taken
//! gets penalty `2 * (t_taken - lastT)` (5000 ms while `lastT` is unset); the taken side 0.
//! Seeks never move backwards, and a nested pair is seeked by stepping it (Thanos' `Seek` on a
//! dedup iterator iterates `Next` so as not to miss gaps).
//!
//! Effect: it stays on one replica and switches only across a gap longer than ~2 intervals,
//! losing the first ~2 intervals of every gap, and a counter switch shows the replicas' offset.
//!
//! The chain is evaluated lazily, level by level, with one small state per pair (no per-sample
//! allocation, no intermediate buffers).

use super::replica::{Replica, seek, with_states};

/// Thanos' `initialPenalty`: the penalty of the side not taken while `lastT` is unset.
const INITIAL_PENALTY_MS: i64 = 5000;

/// State of one pair `dedup(lower, replicas[level])`.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    started: bool,
    /// The current sample of side A (the lower level), `None` once exhausted.
    a: Option<(i64, f64)>,
    /// Position in replica 0 when side A is replica 0 itself (the bottom pair only).
    a_pos: usize,
    /// Position of side B in its replica (`len` once exhausted).
    b: usize,
    last_t: Option<i64>,
    pen_a: i64,
    pen_b: i64,
}

pub(super) fn merge(replicas: &[Replica<'_>], out_ts: &mut Vec<i64>, out_vs: &mut Vec<f64>) {
    if replicas.len() < 2 {
        if let Some(r) = replicas.first() {
            out_ts.extend_from_slice(r.timestamps);
            out_vs.extend_from_slice(r.values);
        }
        return;
    }
    with_states::<Pair, _>(replicas.len() - 1, |pairs| {
        while let Some((t, v)) = next(pairs, replicas) {
            out_ts.push(t);
            out_vs.push(v);
        }
    });
}

/// The next sample of the pair `pairs.last()`, which merges `pairs[..last]` over
/// `replicas[..pairs.len()]` (side A) with `replicas[pairs.len()]` (side B).
fn next(pairs: &mut [Pair], replicas: &[Replica<'_>]) -> Option<(i64, f64)> {
    let (top, lower) = pairs.split_last_mut()?;
    let b_rep = *replicas.get(lower.len() + 1)?;
    if !top.started {
        top.started = true;
        top.a = step_a(lower, &mut top.a_pos, replicas);
    }
    if let Some(last) = top.last_t {
        let seek_a = last.saturating_add(1).saturating_add(top.pen_a);
        while let Some((t, _)) = top.a {
            if t >= seek_a {
                break;
            }
            top.a = step_a(lower, &mut top.a_pos, replicas);
        }
        let seek_b = last.saturating_add(1).saturating_add(top.pen_b);
        top.b = seek(b_rep.timestamps, top.b, |t| t < seek_b);
    }
    let b = b_rep.get(top.b);
    let (taken, took_a) = match (top.a, b) {
        (None, None) => return None,
        (None, Some(sb)) => {
            top.pen_b = 0;
            top.last_t = Some(sb.0);
            return Some(sb);
        }
        (Some(sa), None) => {
            top.pen_a = 0;
            top.last_t = Some(sa.0);
            return Some(sa);
        }
        (Some(sa), Some(sb)) => {
            if sa.0 <= sb.0 {
                (sa, true)
            } else {
                (sb, false)
            }
        }
    };
    let penalty = match top.last_t {
        Some(last) => taken.0.saturating_sub(last).saturating_mul(2),
        None => INITIAL_PENALTY_MS,
    };
    if took_a {
        top.pen_a = 0;
        top.pen_b = penalty;
    } else {
        top.pen_a = penalty;
        top.pen_b = 0;
    }
    top.last_t = Some(taken.0);
    Some(taken)
}

/// Advances side A: replica 0 directly for the bottom pair, else the lower pair.
fn step_a(lower: &mut [Pair], a_pos: &mut usize, replicas: &[Replica<'_>]) -> Option<(i64, f64)> {
    if lower.is_empty() {
        let s = replicas.first()?.get(*a_pos)?;
        *a_pos += 1;
        Some(s)
    } else {
        next(lower, replicas)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{XorShift, grid, merged, replica};
    use super::super::{DedupAlgorithm, SeriesHint};
    use super::*;

    const S: i64 = 1000;

    fn penalty(replicas: &[Replica<'_>]) -> Vec<i64> {
        merged(DedupAlgorithm::Penalty, replicas, SeriesHint::Other).0
    }

    /// Reference: the pairwise chain materialised step by step (dedup of two slices).
    fn pair_reference(a: &[(i64, f64)], b: &[(i64, f64)]) -> Vec<(i64, f64)> {
        let (mut ia, mut ib) = (0, 0);
        let (mut last, mut pa, mut pb) = (None::<i64>, 0i64, 0i64);
        let mut out = Vec::new();
        loop {
            if let Some(l) = last {
                while ia < a.len() && a[ia].0 < l + 1 + pa {
                    ia += 1;
                }
                while ib < b.len() && b[ib].0 < l + 1 + pb {
                    ib += 1;
                }
            }
            let take_a = match (a.get(ia), b.get(ib)) {
                (None, None) => return out,
                (None, Some(_)) => false,
                (Some(_), None) => true,
                (Some(x), Some(y)) => x.0 <= y.0,
            };
            let both = a.get(ia).is_some() && b.get(ib).is_some();
            let s = if take_a { a[ia] } else { b[ib] };
            if both {
                let pen = last.map_or(INITIAL_PENALTY_MS, |l| 2 * (s.0 - l));
                if take_a {
                    (pa, pb) = (0, pen);
                } else {
                    (pa, pb) = (pen, 0);
                }
            } else if take_a {
                pa = 0;
            } else {
                pb = 0;
            }
            last = Some(s.0);
            out.push(s);
        }
    }

    #[test]
    fn stays_on_the_first_replica_without_gaps() {
        // b is phase-shifted by 5 s; a is complete, so b is never used, not even at the end.
        let (ta, va) = grid(0, 100 * S, 10 * S);
        let (tb, vb) = grid(5 * S, 105 * S, 10 * S);
        let out = penalty(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(out, ta);
    }

    #[test]
    fn does_not_switch_for_a_single_missed_scrape() {
        // a misses 50 s (a 20 s step, < ~2 intervals): Thanos keeps a and leaves the hole.
        let (ta, va) = grid(0, 100 * S, 10 * S);
        let (ta, va): (Vec<i64>, Vec<f64>) =
            ta.iter().zip(&va).filter(|(t, _)| **t != 50 * S).unzip();
        let (tb, vb) = grid(5 * S, 105 * S, 10 * S);
        let out = penalty(&[replica(&ta, &va), replica(&tb, &vb)]);
        assert_eq!(out, ta);
    }

    #[test]
    fn switches_late_across_a_long_gap_and_never_goes_back() {
        // a: 0..=50 s, then 90..=150 s; b: every 10 s from 5 s.
        // After a@50 b's penalty is 20 s: b is sought to 70.001 s, so b's 55 s and 65 s samples
        // are lost (Thanos #981). Once on b, a's penalty (2 * 25 s) keeps it on b; a's samples
        // at 90.. are never used although b and a overlap again, and nothing goes back in time.
        let (ta, va): (Vec<i64>, Vec<f64>) = grid(0, 150 * S, 10 * S)
            .0
            .into_iter()
            .filter(|t| *t <= 50 * S || *t >= 90 * S)
            .map(|t| (t, 1.0))
            .unzip();
        let (tb, vb) = grid(5 * S, 155 * S, 10 * S);
        let out = penalty(&[replica(&ta, &va), replica(&tb, &vb)]);
        let mut want: Vec<i64> = (0..=5).map(|k| k * 10 * S).collect();
        want.extend((7..=15).map(|k| k * 10 * S + 5 * S));
        assert_eq!(out, want);
    }

    #[test]
    fn ties_go_to_the_first_replica() {
        let ts = [0, 10 * S, 20 * S];
        let (va, vb) = ([1.0, 2.0, 3.0], [7.0, 8.0, 9.0]);
        let (t, v) = merged(
            DedupAlgorithm::Penalty,
            &[replica(&ts, &va), replica(&ts, &vb)],
            SeriesHint::Other,
        );
        assert_eq!(t, ts);
        assert_eq!(v, va);
    }

    #[test]
    fn three_replicas_are_chained_pairwise() {
        // inner = dedup(r0, r1) = [0, 10, 20, 45] (r0 ends at 20; r1 is sought past its
        // 20 s penalty to 45). The outer pair takes inner@0, then r2@8: the initial penalty
        // (5 s) is smaller than r2's phase, so Thanos switches right at the start and then
        // stays on r2 for good.
        let (t0, v0) = grid(0, 20 * S, 10 * S);
        let (t1, v1) = grid(5 * S, 45 * S, 10 * S);
        let (t2, v2) = grid(8 * S, 98 * S, 10 * S);
        let r = [replica(&t0, &v0), replica(&t1, &v1), replica(&t2, &v2)];
        let inner = penalty(&r[..2]);
        assert_eq!(inner, [0, 10 * S, 20 * S, 45 * S]);
        let mut want = vec![0];
        want.extend((0..10).map(|k| 8 * S + k * 10 * S));
        assert_eq!(penalty(&r), want);
    }

    #[test]
    fn lazy_chain_equals_materialised_pairwise_chain() {
        let mut rng = XorShift::new(7);
        for case in 0..2000 {
            let n = 2 + rng.below(4) as usize;
            let series: Vec<(Vec<i64>, Vec<f64>)> = (0..n)
                .map(|_| {
                    let step = 1 + rng.below(20_000) as i64;
                    let mut t = rng.below(60_000) as i64;
                    let (mut ts, mut vs) = (Vec::new(), Vec::new());
                    for _ in 0..rng.below(40) {
                        t += step + rng.below(3) as i64 * step * rng.below(2) as i64;
                        ts.push(t);
                        vs.push(rng.below(100) as f64);
                    }
                    (ts, vs)
                })
                .collect();
            let reps: Vec<Replica<'_>> = series.iter().map(|(t, v)| replica(t, v)).collect();
            let pairs = |i: usize| -> Vec<(i64, f64)> {
                series[i]
                    .0
                    .iter()
                    .copied()
                    .zip(series[i].1.iter().copied())
                    .collect()
            };
            let mut want = pairs(0);
            for i in 1..n {
                want = pair_reference(&want, &pairs(i));
            }
            let (t, v) = merged(DedupAlgorithm::Penalty, &reps, SeriesHint::Other);
            let got: Vec<(i64, f64)> = t.into_iter().zip(v).collect();
            assert_eq!(got, want, "case {case}");
        }
    }
}
