//! Expectations from Prometheus' histograms.test (file:line cited per case).

use super::*;

fn bk(pairs: &[(f64, f64)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(upper_bound, count)| Bucket { upper_bound, count })
        .collect()
}

fn q(phi: f64, pairs: &[(f64, f64)]) -> f64 {
    bucket_quantile_detail(phi, &mut bk(pairs)).value
}

const INF: f64 = f64::INFINITY;

// testhistogram3 at 50m (histograms.test:28-41), counts ×10.
const POSITIVE: [(f64, f64); 5] = [
    (0.0, 0.0),
    (0.1, 50.0),
    (0.2, 70.0),
    (1.0, 110.0),
    (INF, 110.0),
];
const NEGATIVE: [(f64, f64); 5] = [
    (-0.25, 0.0),
    (-0.2, 10.0),
    (-0.1, 20.0),
    (0.3, 20.0),
    (INF, 20.0),
];

#[test]
fn conformance_quantiles() {
    // histograms.test:537-575.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    for (phi, pos, neg) in [
        (0.0, 0.0, -0.25),
        (0.25, 0.055, -0.225),
        (0.5, 0.125, -0.2),
        (0.75, 0.45, -0.15),
        (1.0, 1.0, -0.1),
    ] {
        assert!(
            close(q(phi, &POSITIVE), pos),
            "{phi}: {}",
            q(phi, &POSITIVE)
        );
        assert!(
            close(q(phi, &NEGATIVE), neg),
            "{phi}: {}",
            q(phi, &NEGATIVE)
        );
    }
    // Unsorted input with a duplicate bound ("+Inf" twice, histograms.test:79).
    assert!(q(0.5, &[(INF, 0.0), (INF, 0.0)]).is_nan());
}

#[test]
fn special_cases() {
    assert_eq!(q(-0.1, &POSITIVE), f64::NEG_INFINITY);
    assert_eq!(q(1.01, &POSITIVE), INF);
    assert!(q(f64::NAN, &POSITIVE).is_nan());
    assert!(q(0.5, &[(1.0, 1.0), (2.0, 2.0)]).is_nan()); // No +Inf bucket.
    assert!(q(0.5, &[(INF, 5.0)]).is_nan()); // One bucket.
    assert!(q(0.5, &[(1.0, 0.0), (INF, 0.0)]).is_nan()); // No observations.
    assert!(q(0.5, &[]).is_nan());
    // In the +Inf bucket: the second highest bound.
    assert_eq!(q(0.9, &[(1.0, 1.0), (2.0, 2.0), (INF, 10.0)]), 2.0);
    // Lowest bucket with a positive bound starts at 0: rank 0.5 of 2 in [0, 4].
    assert_eq!(q(0.25, &[(4.0, 2.0), (INF, 2.0)]), 1.0);
    // testhistogram2 (histograms.test:19): q(1/6), q(1/2), q(5/6) in bucket middles.
    let h2 = [
        (0.0, 0.0),
        (2.0, 10.0),
        (4.0, 20.0),
        (6.0, 30.0),
        (INF, 30.0),
    ];
    assert!((q(1.0 / 6.0, &h2) - 1.0).abs() < 1e-12);
    assert!((q(0.5, &h2) - 3.0).abs() < 1e-12);
    assert!((q(5.0 / 6.0, &h2) - 5.0).abs() < 1e-12);
}

#[test]
fn equal_bounds_are_merged() {
    // mixed_bucket ins1 at 50m (histograms.test:72): le 0.1, 0.2, 2e-1, 2.0e-1, +Inf after
    // rate(): 0.1→1, 0.2→3 (three series), +Inf→4 per 10 steps; quantile 0.5 = 0.15.
    let b = [(0.1, 1.0), (0.2, 1.0), (0.2, 1.0), (0.2, 1.0), (INF, 4.0)];
    assert!((q(0.5, &b) - 0.15).abs() < 1e-12);
    assert!((q(0.75, &b) - 0.2).abs() < 1e-12);
}

#[test]
fn monotonicity_is_forced() {
    // nonmonotonic_bucket at 50m (histograms.test:1012-1034): 20, 10, 50, 40, 90, 80.
    let b = [
        (0.1, 20.0),
        (1.0, 10.0),
        (10.0, 50.0),
        (100.0, 40.0),
        (1000.0, 90.0),
        (INF, 80.0),
    ];
    let r = bucket_quantile_detail(0.01, &mut bk(&b));
    assert!((r.value - 0.0045).abs() < 1e-12);
    assert_eq!(
        r.forced_monotonicity,
        Some(ForcedMonotonicity {
            min_bucket: 1.0,
            max_bucket: INF,
            max_diff: 10.0
        })
    );
    assert!((q(0.5, &b) - 8.5).abs() < 1e-12);
    assert!((q(0.99, &b) - 979.75).abs() < 1e-9);
    let mut annos = Annotations::new();
    let site = QuantileSite {
        metric_name: "nonmonotonic_bucket",
        pos: None,
        ts: 3_000_000,
    };
    bucket_quantile(0.5, &mut bk(&b), &site, &mut annos);
    assert_eq!(annos.infos.len(), 1);
    assert!(
        annos.infos[0].contains("from buckets 1 to +Inf, with a max diff of 10, over 1 samples")
    );
    // Float noise is evened out silently.
    let noisy = [(1.0, 10.0), (2.0, 10.0 - 1e-14), (INF, 10.0)];
    let r = bucket_quantile_detail(0.5, &mut bk(&noisy));
    assert_eq!((r.forced_monotonicity, r.fixed_precision), (None, true));
    assert_eq!(r.value, 0.5);
}

#[test]
fn fractions() {
    // histograms.test:120-470.
    let h2 = [
        (0.0, 0.0),
        (2.0, 10.0),
        (4.0, 20.0),
        (6.0, 30.0),
        (INF, 30.0),
    ];
    let f = |lo: f64, hi: f64, b: &[(f64, f64)]| bucket_fraction(lo, hi, &mut bk(b));
    assert!((f(0.0, 4.0, &h2) - 0.6666666666666666).abs() < 1e-12);
    assert_eq!(f(0.0, 6.0, &h2), 1.0);
    assert!((f(0.0, 3.5, &h2) - 0.5833333333333334).abs() < 1e-12);
    assert!((f(0.0, 0.2, &POSITIVE) - 0.6363636363636364).abs() < 1e-12);
    assert_eq!(f(0.0, 0.2, &NEGATIVE), 0.0);
    let pos = [(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (INF, 100.0)];
    let neg = [(-3.0, 10.0), (-2.0, 12.0), (-1.0, 15.0), (INF, 100.0)];
    assert!((f(0.0, 1.5, &pos) - 0.02).abs() < 1e-12);
    assert!((f(-4.0, -2.0, &neg) - 0.02).abs() < 1e-12);
    assert!((f(f64::NEG_INFINITY, -1.5, &neg) - 0.135).abs() < 1e-12);
    assert_eq!(f(f64::NEG_INFINITY, INF, &pos), 1.0);
    assert_eq!(f(f64::NEG_INFINITY, INF, &neg), 1.0);
    assert_eq!(f(4.0, 5.0, &pos), 0.0);
    assert_eq!(f(0.0, 1.0, &neg), 0.0);
    assert!((f(2.0, 5.0, &pos) - 0.03).abs() < 1e-12);
    assert!((f(400.0, INF, &pos) - 0.94).abs() < 1e-12);
    assert_eq!(f(2.0, 2.0, &pos), 0.0);
    assert_eq!(f(3.0, 2.0, &pos), 0.0);
    assert_eq!(f(0.0, 1.0, &[(INF, 100.0)]), 0.0);
    assert!(f(0.0, 5.0, &[(1.0, 0.0), (INF, 0.0)]).is_nan());
    assert!((f(0.5, 2.0, &pos) - 0.025).abs() < 1e-12);
    assert!((f(1.0, 3.0, &pos) - 0.05).abs() < 1e-12);
    assert!((f(0.1, 0.75, &[(0.5, 2.5), (1.0, 7.5), (INF, 100.0)]) - 0.045).abs() < 1e-12);
    let crossing = [
        (-2.0, 5.0),
        (-1.0, 10.0),
        (0.0, 15.0),
        (1.0, 20.0),
        (INF, 100.0),
    ];
    assert!((f(-1.0, 1.0, &crossing) - 0.1).abs() < 1e-12);
    assert!(f(f64::NAN, 1.0, &[(1.0, 1.0), (INF, 100.0)]).is_nan());
    assert!(f(0.0, f64::NAN, &[(1.0, 1.0), (INF, 100.0)]).is_nan());
    assert_eq!(f(-10.0, -5.0, &[(1.0, 1.0), (2.0, 3.0), (INF, 10.0)]), 0.0);
    assert_eq!(f(5.0, 10.0, &[(1.0, 1.0), (2.0, 3.0), (INF, 10.0)]), 0.0);
    assert!(f(0.0, 1.0, &[]).is_nan());
    assert!(f(0.0, 1.0, &[(1.0, 1.0)]).is_nan());
}

#[test]
fn le_parsing_follows_go() {
    for (s, want) in [
        ("0.1", 0.1),
        (".2", 0.2),
        ("1e0", 1.0),
        ("2.0e-1", 0.2),
        ("+Inf", INF),
        ("+inf", INF),
        ("-Infinity", f64::NEG_INFINITY),
        ("1_000", 1000.0),
        ("0x1p-2", 0.25),
        ("0x1.8p1", 3.0),
        ("0X_1P4", 16.0),
        ("-0", -0.0),
        ("1.", 1.0),
    ] {
        assert_eq!(parse_le(s), Some(want), "{s}");
    }
    assert!(parse_le("NaN").is_some_and(f64::is_nan));
    assert!(parse_le("nan").is_some_and(f64::is_nan));
    for s in [
        "",
        "Hello World",
        " 1",
        "1 ",
        "+NaN",
        "infin",
        "1e400",
        "0x1",
        "1__0",
        "_1",
        "1_",
        ".",
        "e5",
        "1e",
        "0x",
        "++1",
        "1.2.3",
    ] {
        assert_eq!(parse_le(s), None, "{s:?}");
    }
}

#[test]
fn openmetrics_floats() {
    // histograms.test:575-600: the q label of histogram_quantiles.
    for (f, want) in [
        (0.0, "0.0"),
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (0.25, "0.25"),
        (-0.1, "-0.1"),
        (1.01, "1.01"),
        (2.0, "2.0"),
        (1e6, "1e+06"),
        (f64::NAN, "NaN"),
        (INF, "+Inf"),
    ] {
        assert_eq!(format_openmetrics_float(f), want);
    }
}
