//! Chained merge (Prometheus' `ChainSampleIterator` semantics): the union of all replicas by
//! timestamp. At a timestamp present in several replicas the first replica's sample wins; the
//! others only fill timestamps the earlier ones lack. Output never goes back in time.
//!
//! Right for replicas that hold disjoint parts of the same data (e.g. the same series in a
//! sidecar and in a compacted block); for phase-shifted scrapes of one target it interleaves both
//! replicas and doubles the sample rate, which is why it is not the default.

use super::replica::{Replica, with_states};

pub(super) fn merge(replicas: &[Replica<'_>], out_ts: &mut Vec<i64>, out_vs: &mut Vec<f64>) {
    with_states::<usize, _>(replicas.len(), |pos| {
        loop {
            // The smallest current timestamp; the first replica holding it wins.
            let mut best: Option<(i64, f64)> = None;
            for (r, &p) in replicas.iter().zip(pos.iter()) {
                if let Some((t, v)) = r.get(p)
                    && best.is_none_or(|(bt, _)| t < bt)
                {
                    best = Some((t, v));
                }
            }
            let Some((t, v)) = best else { break };
            out_ts.push(t);
            out_vs.push(v);
            for (r, p) in replicas.iter().zip(pos.iter_mut()) {
                if r.timestamps.get(*p) == Some(&t) {
                    *p += 1;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{XorShift, merged, replica};
    use super::super::{DedupAlgorithm, SeriesHint};
    use std::collections::BTreeMap;

    fn chain(replicas: &[(&[i64], &[f64])]) -> (Vec<i64>, Vec<f64>) {
        let reps: Vec<_> = replicas.iter().map(|(t, v)| replica(t, v)).collect();
        merged(DedupAlgorithm::Chain, &reps, SeriesHint::Other)
    }

    #[test]
    fn union_first_replica_wins_ties() {
        let (t, v) = chain(&[
            (&[10, 20, 30], &[1.0, 2.0, 3.0]),
            (&[5, 20, 40], &[0.5, 99.0, 4.0]),
            (&[20, 30, 35], &[98.0, 97.0, 3.5]),
        ]);
        assert_eq!(t, [5, 10, 20, 30, 35, 40]);
        assert_eq!(v, [0.5, 1.0, 2.0, 3.0, 3.5, 4.0]);
    }

    #[test]
    fn phase_shifted_replicas_interleave() {
        let (t, _) = chain(&[(&[0, 15, 30], &[0.0; 3]), (&[7, 22, 37], &[0.0; 3])]);
        assert_eq!(t, [0, 7, 15, 22, 30, 37]);
    }

    #[test]
    fn fills_gaps_from_later_replicas() {
        let (t, v) = chain(&[
            (&[0, 10, 50, 60], &[1.0; 4]),
            (&[0, 20, 30, 40, 50], &[2.0; 5]),
        ]);
        assert_eq!(t, [0, 10, 20, 30, 40, 50, 60]);
        assert_eq!(v, [1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0]);
    }

    #[test]
    fn equals_a_map_union_on_random_input() {
        let mut rng = XorShift::new(11);
        for case in 0..1000 {
            let n = rng.below(5) as usize;
            let series: Vec<(Vec<i64>, Vec<f64>)> = (0..n)
                .map(|i| {
                    let mut ts: Vec<i64> =
                        (0..rng.below(30)).map(|_| rng.below(100) as i64).collect();
                    ts.sort_unstable();
                    ts.dedup();
                    let vs = ts.iter().map(|&t| (t * 10 + i as i64) as f64).collect();
                    (ts, vs)
                })
                .collect();
            let mut want = BTreeMap::new();
            for (ts, vs) in &series {
                for (t, v) in ts.iter().zip(vs) {
                    want.entry(*t).or_insert(*v);
                }
            }
            let refs: Vec<(&[i64], &[f64])> = series
                .iter()
                .map(|(t, v)| (t.as_slice(), v.as_slice()))
                .collect();
            let (t, v) = chain(&refs);
            let got: Vec<(i64, f64)> = t.into_iter().zip(v).collect();
            let want: Vec<(i64, f64)> = want.into_iter().collect();
            assert_eq!(got, want, "case {case}");
        }
    }
}
