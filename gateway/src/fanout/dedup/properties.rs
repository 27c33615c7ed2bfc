//! Contract tests shared by all algorithms, and property tests over random replica shapes.

use super::testutil::{Shape, XorShift, check_common};
use super::*;

#[test]
fn empty_and_single_inputs() {
    let mut ts = vec![99];
    let mut vs = vec![9.0];
    for a in DedupAlgorithm::ALL {
        for hint in [SeriesHint::Counter, SeriesHint::Other] {
            a.merge(&[], hint, &mut ts, &mut vs);
            assert!(ts.is_empty() && vs.is_empty(), "{a}");
            let empty = Replica::default();
            a.merge(&[empty, empty, empty], hint, &mut ts, &mut vs);
            assert!(ts.is_empty() && vs.is_empty(), "{a}");

            let one = Replica::new(&[5], &[f64::NAN]).unwrap();
            a.merge(&[empty, one], hint, &mut ts, &mut vs);
            assert_eq!(ts, [5], "{a}");
            assert!(vs[0].is_nan(), "{a}");
            a.merge(&[one, empty], hint, &mut ts, &mut vs);
            assert_eq!(ts, [5], "{a}");
        }
    }
}

#[test]
fn a_single_replica_passes_through_bit_for_bit() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let ts = [0, 15_000, 30_000, 45_000];
    let vs = [-0.0, stale, f64::NAN, 3.0];
    let r = Replica::new(&ts, &vs).unwrap();
    let (mut ots, mut ovs) = (Vec::new(), Vec::new());
    for a in DedupAlgorithm::ALL {
        a.merge(&[r], SeriesHint::Counter, &mut ots, &mut ovs);
        assert_eq!(ots, ts);
        let bits: Vec<u64> = ovs.iter().map(|v| v.to_bits()).collect();
        let want: Vec<u64> = vs.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, want, "{a}");
    }
}

/// Property test over random replica shapes: every algorithm, both hints.
#[test]
fn random_shapes_keep_the_contract() {
    let mut rng = XorShift::new(0x5eed_0001);
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for case in 0..3000 {
        let shape = Shape::random(&mut rng);
        let replicas = shape.replicas();
        for a in DedupAlgorithm::ALL {
            for hint in [SeriesHint::Counter, SeriesHint::Other] {
                a.merge(&replicas, hint, &mut ts, &mut vs);
                check_common(a, hint, &replicas, &ts, &vs)
                    .unwrap_or_else(|e| panic!("case {case} {a} {hint:?}: {e}\n{shape:?}"));
            }
        }
    }
}

/// Merging copies of one replica gives that replica back, whatever the algorithm.
#[test]
fn identical_replicas_merge_to_one_copy() {
    let mut rng = XorShift::new(0x5eed_0002);
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for case in 0..500 {
        let shape = Shape::random(&mut rng);
        let Some(first) = shape.replicas().first().copied() else {
            continue;
        };
        let copies = [first; 3];
        for a in DedupAlgorithm::ALL {
            for hint in [SeriesHint::Counter, SeriesHint::Other] {
                a.merge(&copies, hint, &mut ts, &mut vs);
                assert_eq!(ts, first.timestamps, "case {case} {a}");
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&vs), bits(first.values), "case {case} {a}");
            }
        }
    }
}

/// Unchecked replicas (built from the public fields) that are out of order, repeat timestamps
/// or have more values than timestamps are repaired, not merged wrongly.
#[test]
fn bad_input_is_repaired() {
    let ts_a = [30, 10, 20, 20, 40];
    let vs_a = [3.0, 1.0, 2.0, 2.5, 4.0, 99.0];
    let ts_b = [15, 25, 35];
    let vs_b = [1.5, 2.5, 3.5];
    let bad = Replica {
        timestamps: &ts_a,
        values: &vs_a,
    };
    assert!(bad.validate().is_err());
    let good = Replica::new(&ts_b, &vs_b).unwrap();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for a in DedupAlgorithm::ALL {
        for hint in [SeriesHint::Counter, SeriesHint::Other] {
            a.merge(&[bad, good], hint, &mut ts, &mut vs);
            assert!(ts.windows(2).all(|w| w[0] < w[1]), "{a}: {ts:?}");
            a.merge(&[bad], hint, &mut ts, &mut vs);
            assert_eq!(ts, [10, 20, 30, 40], "{a}");
            assert_eq!(vs, [1.0, 2.0, 3.0, 4.0], "{a}");
        }
    }
    let (mut rng, mut ts, mut vs) = (XorShift::new(0x5eed_0003), Vec::new(), Vec::new());
    for case in 0..500 {
        let mut shape = Shape::random(&mut rng);
        for (t, v) in &mut shape.series {
            for _ in 0..rng.below(4) {
                let (i, j) = (rng.below(t.len() as u64 + 1), rng.below(t.len() as u64 + 1));
                if let (Some(&x), true) = (t.get(j as usize), (i as usize) < t.len()) {
                    t[i as usize] = x;
                }
            }
            if rng.chance(20) {
                v.pop();
            }
        }
        let reps: Vec<Replica<'_>> = shape
            .series
            .iter()
            .map(|(t, v)| Replica {
                timestamps: t,
                values: v,
            })
            .collect();
        for a in DedupAlgorithm::ALL {
            for hint in [SeriesHint::Counter, SeriesHint::Other] {
                a.merge(&reps, hint, &mut ts, &mut vs);
                assert_eq!(ts.len(), vs.len(), "case {case} {a}");
                assert!(ts.windows(2).all(|w| w[0] < w[1]), "case {case} {a}");
            }
        }
    }
}

/// Phase-shifted replicas without gaps, read over a window as a range selector reads them
/// (each trimmed to the window, merged up to its end): the counter-aware merge never holds
/// more samples in the window than a replica does, at any phase and window position. (It
/// held one more in most windows ending after the followed replica's last sample: the end of
/// the data was taken for a gap; and then still where the other replica scrapes in the last
/// eighth of an interval after the followed one, as a live HA pair of Prometheus showed.)
#[test]
fn phase_shifted_replicas_hold_no_extra_sample_in_a_window() {
    const I: i64 = 15_000;
    let mut rng = XorShift::new(0x5eed_0003);
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for case in 0..2000 {
        let phase = 1 + rng.below(I as u64 - 1) as i64;
        let jitter = |rng: &mut XorShift| rng.below(40) as i64;
        let series = |offset: i64, rng: &mut XorShift| -> Vec<i64> {
            (0..40).map(|k| k * I + offset + jitter(rng)).collect()
        };
        let (a, b) = (series(0, &mut rng), series(phase, &mut rng));
        let start = rng.below(20 * I as u64) as i64;
        let end = start + I * (1 + rng.below(12) as i64) + rng.below(I as u64) as i64;
        let window = |t: &[i64]| -> Vec<i64> {
            t.iter()
                .copied()
                .filter(|&x| x > start && x <= end)
                .collect()
        };
        let (wa, wb) = (window(&a), window(&b));
        let values = vec![1.0; 40];
        let replicas = [
            Replica::new(&wa, &values[..wa.len()]).unwrap(),
            Replica::new(&wb, &values[..wb.len()]).unwrap(),
        ];
        for hint in [SeriesHint::Counter, SeriesHint::Other] {
            DedupAlgorithm::CounterAware.merge_within(
                &replicas,
                hint,
                (start, end),
                &mut ts,
                &mut vs,
            );
            let most = wa.len().max(wb.len());
            assert!(
                ts.len() <= most,
                "case {case}: {} samples in ({start}, {end}], replicas hold {} and {}: {ts:?}\n\
                 a {wa:?}\n b {wb:?}",
                ts.len(),
                wa.len(),
                wb.len()
            );
            assert!(
                ts.len() >= wa.len().min(wb.len()),
                "case {case}: dropped a scrape"
            );
        }
    }
}
