//! Expectations from Prometheus' functions.test (file:line cited per case), evaluated the way
//! the engine will: samples loaded every `step`, the window (t - range - offset, t - offset].

// Literals as written in the Prometheus test files.
#![allow(clippy::excessive_precision)]

use super::RangeFunction::{self, *};
use super::*;
use crate::promql::functions::{FunctionKind, table};

const S: i64 = 1000;
const M: i64 = 60 * S;

/// A `load <step>` series: values at 0, step, 2·step…; NaN-free gaps are not needed here.
struct Series {
    ts: Vec<i64>,
    vs: Vec<f64>,
}

fn load(step: i64, values: &[f64]) -> Series {
    Series {
        ts: (0..values.len() as i64).map(|i| i * step).collect(),
        vs: values.to_vec(),
    }
}

/// `a+bxn`: n+1 values.
fn seq(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| a + b * i as f64).collect()
}

fn cat(parts: &[Vec<f64>]) -> Vec<f64> {
    parts.concat()
}

/// `f(series[range] offset off)` evaluated at `t`, with scalar `args`.
fn eval_full(
    f: RangeFunction,
    s: &Series,
    t: i64,
    range: i64,
    off: i64,
    args: &[f64],
) -> Option<f64> {
    let (end, start) = (t - off, t - off - range);
    let lo = s.ts.partition_point(|&x| x <= start);
    let hi = s.ts.partition_point(|&x| x <= end);
    let w = Window::new(&s.ts[lo..hi], &s.vs[lo..hi], start, end).at(t);
    let mut scratch = Vec::new();
    f.eval(&w, args, &mut scratch, &mut Annotations::new())
        .unwrap()
}

fn eval(f: RangeFunction, s: &Series, t: i64, range: i64) -> Option<f64> {
    eval_full(f, s, t, range, 0, &[])
}

fn assert_close(got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("no result, want {want}"));
    if want.is_nan() {
        assert!(got.is_nan(), "got {got}, want NaN");
    } else if want.is_infinite() || want == 0.0 {
        assert_eq!(got, want);
    } else {
        assert!(
            ((got - want) / want).abs() < 1e-12,
            "got {got}, want {want}"
        );
    }
}

#[test]
fn increase_extrapolates_to_bounds_and_zero() {
    // functions.test:103-130.
    let foo = load(5 * M, &seq(0.0, 10.0, 10));
    let bar = load(5 * M, &cat(&[seq(0.0, 18.0, 5), seq(0.0, 18.0, 5)]));
    let dings = load(5 * M, &seq(10.0, 10.0, 10));
    let bumms = load(5 * M, &seq(1.0, 10.0, 10));
    for (s, want50, want100) in [
        (&foo, 100.0, 100.0),
        (&bar, 160.0, 162.0),
        (&dings, 100.0, 105.0),
        (&bumms, 100.0, 101.0),
    ] {
        assert_close(eval(Increase, s, 50 * M, 50 * M), want50);
        assert_close(eval(Increase, s, 50 * M, 100 * M), want100);
    }
    // functions.test:139: 0 1 2 3 2 3 4 reads as 3 0 1 2 after the reset.
    let reset = load(5 * M, &[0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0]);
    assert_close(eval(Increase, &reset, 30 * M, 30 * M), 7.0);
}

#[test]
fn rate_counter_resets_and_offsets() {
    // functions.test:147-175.
    let middle = load(5 * M, &cat(&[seq(0.0, 27.0, 4), seq(0.0, 27.0, 5)]));
    assert_close(eval(Rate, &middle, 50 * M, 50 * M), 0.08);
    let end = load(5 * M, &cat(&[seq(0.0, 10.0, 9), vec![0.0, 10.0]]));
    assert_eq!(eval(Rate, &end, 50 * M, 5 * M), None);
    assert_close(eval(Rate, &end, 50 * M, 6 * M), 0.0);
    let window = load(5 * M, &seq(0.0, 80.0, 10));
    assert_close(eval(Rate, &window, 50 * M, 50 * M), 0.26666666666666666);
    let a = load(5 * M, &seq(0.0, 10.0, 10));
    let b = load(5 * M, &seq(0.0, 20.0, 10));
    assert_close(
        eval_full(Rate, &a, 50 * M, 10 * M, 5 * M, &[]),
        0.03333333333333333,
    );
    assert_close(
        eval_full(Rate, &b, 50 * M, 10 * M, 5 * M, &[]),
        0.06666666666666667,
    );
}

#[test]
fn rate_zero_cutoff() {
    // functions.test:177-205.
    let starts = [0.0, 60.0, 120.0, 180.0, 240.0, 300.0];
    let at_10m = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
    for (i, &start) in starts.iter().enumerate() {
        let s = load(4 * M, &seq(start, 240.0, 10));
        assert_close(eval(Rate, &s, 10 * M, 20 * M), at_10m[i]);
        assert_close(eval(Rate, &s, 50 * M, 20 * M), 0.6);
    }
}

#[test]
fn irate_and_idelta_use_the_last_two_samples() {
    // functions.test:222-244 and :318-329.
    let foo = load(5 * M, &seq(0.0, 10.0, 10));
    let bar = load(5 * M, &cat(&[seq(0.0, 10.0, 5), seq(0.0, 10.0, 5)]));
    assert_close(eval(Irate, &foo, 50 * M, 50 * M), 0.03333333333333333);
    assert_close(eval(Irate, &bar, 50 * M, 50 * M), 0.03333333333333333);
    assert_close(eval(Irate, &bar, 30 * M, 50 * M), 0.0);
    let nan = load(5 * M, &[1.0, f64::NAN, f64::NAN, 5.0, 11.0]);
    let range = 15 * M + S;
    assert_eq!(eval(Irate, &nan, 0, range), None);
    assert_eq!(eval(Idelta, &nan, 0, range), None);
    for t in [5, 10, 15] {
        assert_close(eval(Irate, &nan, t * M, range), f64::NAN);
        assert_close(eval(Idelta, &nan, t * M, range), f64::NAN);
    }
    assert_close(eval(Irate, &nan, 20 * M, range), 0.02);
    assert_close(eval(Idelta, &nan, 20 * M, range), 6.0);
    let up = load(5 * M, &[0.0, 50.0, 100.0, 150.0]);
    let down = load(5 * M, &[0.0, 50.0, 100.0, 50.0]);
    assert_close(eval(Idelta, &up, 20 * M, 20 * M), 50.0);
    assert_close(eval(Idelta, &down, 20 * M, 20 * M), -50.0);
}

#[test]
fn delta_is_not_counter_corrected() {
    // functions.test:284-287.
    let foo = load(5 * M, &[0.0, 50.0, 100.0, 150.0, 200.0]);
    let bar = load(5 * M, &[200.0, 150.0, 100.0, 50.0, 0.0]);
    assert_close(eval(Delta, &foo, 20 * M, 20 * M), 200.0);
    assert_close(eval(Delta, &bar, 20 * M, 20 * M), -200.0);
}

#[test]
fn deriv_and_predict_linear() {
    // functions.test:370-470.
    let total = load(5 * M, &seq(0.0, 80.0, 10));
    assert_close(eval(Deriv, &total, 50 * M, 50 * M), 0.26666666666666666);
    let middle = load(5 * M, &cat(&[seq(0.0, 10.0, 4), seq(0.0, 10.0, 5)]));
    assert_close(eval(Deriv, &middle, 50 * M, 100 * M), 0.010606060606060607);
    let args = [3600.0];
    assert_close(
        eval_full(PredictLinear, &middle, 50 * M, 50 * M, 0, &args),
        70.0,
    );
    // `[55m] @ 3000`: the window ends at 3000 s but predicts from the evaluation time.
    let at = |t: i64| {
        let w = Window::new(&middle.ts, &middle.vs, 3000 * S - 55 * M, 3000 * S).at(t);
        PredictLinear
            .eval(&w, &args, &mut Vec::new(), &mut Annotations::new())
            .unwrap()
    };
    assert_close(at(50 * M), 76.81818181818181);
    assert_close(at(10 * M), 51.36363636363637);
    assert_close(at(70 * M), 89.54545454545455);
    let inf = load(
        5 * M,
        &cat(&[
            vec![f64::NEG_INFINITY],
            seq(0.0, 80.0, 10),
            vec![f64::INFINITY],
        ]),
    );
    assert_close(eval(Deriv, &inf, 100 * M, 100 * M), f64::NAN);
    assert_close(
        eval_full(PredictLinear, &inf, 100 * M, 100 * M, 0, &[6000.0]),
        f64::NAN,
    );
    // Constant series: slope 0; constant infinity: NaN; one sample: nothing.
    let flat = load(M, &[3.0, 3.0, 3.0]);
    assert_close(eval(Deriv, &flat, 2 * M, 5 * M), 0.0);
    assert_close(
        eval_full(PredictLinear, &flat, 2 * M, 5 * M, 0, &[100.0]),
        3.0,
    );
    let flat_inf = load(M, &[f64::INFINITY; 3]);
    assert_close(eval(Deriv, &flat_inf, 2 * M, 5 * M), f64::NAN);
    assert_eq!(eval(Deriv, &flat, 0, M), None);
    assert_eq!(eval(PredictLinear, &middle, 50 * M, 50 * M), None); // Missing t.
}

#[test]
fn resets_and_changes() {
    // functions.test:1-95.
    let foo = load(5 * M, &[1.0, 2.0, 3.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0]);
    let bar = load(5 * M, &[1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let biz = load(5 * M, &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    assert_eq!(eval(Resets, &foo, 50 * M, 5 * M), None);
    for (range, want) in [
        (10, [0.0, 0.0, 0.0]),
        (20, [1.0, 0.0, 0.0]),
        (32, [2.0, 1.0, 0.0]),
        (50, [3.0, 1.0, 0.0]),
    ] {
        for (s, w) in [&foo, &bar, &biz].into_iter().zip(want) {
            assert_close(eval(Resets, s, 50 * M, range * M), w);
        }
    }
    for (range, want) in [
        (6, [0.0, 0.0, 0.0]),
        (20, [2.0, 2.0, 0.0]),
        (30, [3.0, 4.0, 0.0]),
        (50, [7.0, 8.0, 1.0]),
    ] {
        for (s, w) in [&foo, &bar, &biz].into_iter().zip(want) {
            assert_close(eval(Changes, s, 50 * M, range * M), w);
        }
    }
    // functions.test:98-106: NaN to NaN is no change.
    let b = load(5 * M, &[f64::NAN; 3]);
    let c = load(5 * M, &[0.0, f64::NAN, 0.0]);
    assert_close(eval(Changes, &b, 15 * M, 20 * M), 0.0);
    assert_close(eval(Changes, &c, 15 * M, 20 * M), 2.0);
}

#[test]
fn avg_and_sum_over_time_special_values() {
    // functions.test:945-1060.
    let inf = f64::INFINITY;
    let cases: [(&[f64], f64); 13] = [
        (&[1.0, 2.0, 3.0, 4.0, 5.0], 3.0),
        (&[1.0, 2.0, 3.0, 4.0, inf], inf),
        (&[1.0, 2.0, 3.0, 4.0, -inf], -inf),
        (&[1.0, 2.0, 3.0, inf, -inf], f64::NAN),
        (&[inf, 0.0, inf], inf),
        (&[inf, inf, inf, -inf], f64::NAN),
        (&[1.0, 2.0, 3.0, -inf, -inf], -inf),
        (&[-inf, 0.0, -inf], -inf),
        (&[-inf, -inf, -inf, inf], f64::NAN),
        (&[1.0, 2.0, -inf, -inf, inf], f64::NAN),
        (
            &[9.988465674311579e307, 9.988465674311579e307],
            9.988465674311579e307,
        ),
        (
            &[
                -9.988465674311579e307,
                -9.988465674311579e307,
                -9.988465674311579e307,
            ],
            -9.988465674311579e307,
        ),
        (&[-9.988465674311579e307, 9.988465674311579e307], 0.0),
    ];
    for (values, want) in cases {
        assert_close(eval(AvgOverTime, &load(10 * S, values), 55 * S, M), want);
    }
    // The plain sum overflows where the average does not.
    let big = load(10 * S, &[9.988465674311579e307, 9.988465674311579e307]);
    assert_close(eval(SumOverTime, &big, 55 * S, M), inf);
    // NaN behaviour (functions.test:1040-1050).
    let nan = load(10 * S, &[1.0, 2.0, 3.0, f64::NAN, f64::NAN]);
    assert_close(eval(AvgOverTime, &nan, 20 * S, M), 2.0);
    assert_close(eval(AvgOverTime, &nan, 30 * S, M), f64::NAN);
    assert_eq!(
        eval(
            AvgOverTime,
            &load(10 * S, &[1.0, 2.0, 3.0, 4.0, 5.0]),
            55 * S,
            10 * S
        ),
        None
    );
    assert_close(
        eval(
            AvgOverTime,
            &load(10 * S, &[1.0, 2.0, 3.0, 4.0, 5.0]),
            55 * S,
            20 * S,
        ),
        5.0,
    );
}

#[test]
fn compensated_sums_keep_detail() {
    // functions.test:1075-1160.
    let s = load(10 * S, &[1.0, 1e100, 1.0, -1e100]);
    assert_close(eval(SumOverTime, &s, M, 2 * M), 2.0);
    assert_close(eval(AvgOverTime, &s, M, 2 * M), 0.5);
    let avg5s = |values: &[f64]| eval(AvgOverTime, &load(5 * S, values), 55 * S, M);
    assert_close(
        avg5s(&[1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6]),
        1.6666666666666675e+09,
    );
    let m2 = [
        5.30921651659898,
        0.961118537914768,
        1.62091361305318,
        0.865089463758091,
        0.323055185914577,
        0.951811357687154,
    ];
    assert!((avg5s(&m2).unwrap() - 1.67186744582113).abs() < 1e-13);
    assert!(
        (avg5s(&[1.78264e50, 0.76342771, 1.9592258, 7.69805412, 458.90154]).unwrap() / 3.56528e49
            - 1.0)
            .abs()
            < 1e-14
    );
    let m5 = [
        1.78264E+50,
        0.76342771,
        1.9592258,
        2.258E+220,
        7.69805412,
        458.90154,
    ];
    assert!((avg5s(&m5).unwrap() / 3.76333333333333E+219 - 1.0).abs() < 1e-14);
    let m9 = [
        -1.78264E+215,
        0.76342771,
        1.9592258,
        2.258E+220,
        7.69805412,
        1.78264E+215,
        -458.90154,
    ];
    assert_close(avg5s(&m9), 3.225714285714286e+219);
    let m10 = [
        -1.78264E+219,
        0.76342771,
        1.9592258,
        2.3757689E+217,
        -2.3757689E+217,
        2.258E+220,
        7.69805412,
        1.78264E+219,
        -458.90154,
    ];
    assert_close(avg5s(&m10), 2.5088888888888888e+219);
    // Cancellation Kahan cannot see through: Prometheus documents 0 (functions.test:1124).
    let m11 = [
        -2.258E+220,
        -1.78264E+219,
        0.76342771,
        1.9592258,
        2.3757689E+217,
        -2.3757689E+217,
        2.258E+220,
        7.69805412,
        1.78264E+219,
        -458.90154,
    ];
    assert_eq!(avg5s(&m11), Some(0.0));
    // Exactly 52 (functions.test:1150-1160).
    let foo = load(10 * S, &[52.0; 101]);
    for range in [100, 110, 120, 130] {
        assert_eq!(eval(AvgOverTime, &foo, 10 * M, range * S), Some(52.0));
    }
    let dense = load(1, &[1.0; 4001]);
    for range in [1000, 1001, 2003, 3003] {
        assert_eq!(eval(SumOverTime, &dense, 4 * S, range), Some(range as f64));
    }
}

#[test]
fn variance_family() {
    // functions.test:1200-1270.
    let m = load(10 * S, &[0.0, 8.0, 8.0, 2.0, 3.0]);
    assert_close(eval(StdvarOverTime, &m, M, 2 * M), 10.56);
    assert!((eval(StddevOverTime, &m, M, 2 * M).unwrap() - 3.249615).abs() < 1e-6);
    let c = load(10 * S, &[1.5990505637277868; 3]);
    assert_eq!(eval(StdvarOverTime, &c, 55 * S, M), Some(0.0));
    assert_eq!(eval(StddevOverTime, &c, 55 * S, M), Some(0.0));
}

#[test]
fn min_max_first_last_count() {
    // functions.test:1575-1650.
    let nan = f64::NAN;
    let data: [(&[f64], f64, f64, f64, f64); 5] = [
        (&[2.0, 0.0, 3.0], 0.0, 3.0, 2.0, 3.0),
        (&[2.0, 0.0, nan], 0.0, 2.0, 2.0, nan),
        (&[2.0, nan, 1.0], 1.0, 2.0, 2.0, 1.0),
        (&[nan, 0.0, 1.0], 0.0, 1.0, nan, 1.0),
        (&[nan, nan, nan], nan, nan, nan, nan),
    ];
    for (values, min, max, first, last) in data {
        let s = load(10 * S, values);
        assert_close(eval(MinOverTime, &s, M, 2 * M), min);
        assert_close(eval(MaxOverTime, &s, M, 2 * M), max);
        assert_close(eval(FirstOverTime, &s, M, 2 * M), first);
        assert_close(eval(LastOverTime, &s, M, 2 * M), last);
        assert_close(eval(CountOverTime, &s, M, 2 * M), 3.0);
        assert_close(eval(PresentOverTime, &s, M, 2 * M), 1.0);
    }
}

#[test]
fn timestamps_of_extremes() {
    // functions.test:1318-1370: samples every 10.053 s.
    let s = load(10_053, &[1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 2.0, 1.0, 4.0]);
    assert_close(eval(TsOfMinOverTime, &s, 90 * S, 90 * S), 30.159);
    assert_close(eval(TsOfMaxOverTime, &s, 90 * S, 90 * S), 50.265);
    let gaps = Series {
        ts: vec![0, 10_053, 20_106],
        vs: vec![1.0, 2.0, 3.0],
    };
    assert_close(eval(TsOfLastOverTime, &gaps, 90 * S, 90 * S), 20.106);
    let late = Series {
        ts: vec![20_106, 30_159, 40_212],
        vs: vec![1.0, 2.0, 3.0],
    };
    assert_close(eval(TsOfFirstOverTime, &late, 95 * S, 90 * S), 20.106);
    assert_eq!(eval(TsOfFirstOverTime, &late, 15 * S, 90 * S), None);
    // Ties: the last minimum / maximum wins.
    let ties = load(S, &[1.0, 0.0, 0.0, 2.0, 2.0]);
    assert_close(eval(TsOfMinOverTime, &ties, 4 * S, 10 * S), 2.0);
    assert_close(eval(TsOfMaxOverTime, &ties, 4 * S, 10 * S), 4.0);
}

#[test]
fn quantile_and_mad_over_time() {
    // functions.test:1380-1430 and :1276-1310.
    let three = load(10 * S, &[0.0, 1.0, 2.0]);
    for (phi, want) in [
        (0.0, 0.0),
        (0.5, 1.0),
        (0.75, 1.5),
        (1.0, 2.0),
        (-1.0, f64::NEG_INFINITY),
        (2.0, f64::INFINITY),
    ] {
        assert_close(
            eval_full(QuantileOverTime, &three, M, 2 * M, 0, &[phi]),
            want,
        );
    }
    let mut annos = Annotations::new();
    let w = Window::new(&three.ts, &three.vs, -M, M);
    let got = QuantileOverTime
        .eval(&w, &[2.0], &mut Vec::new(), &mut annos)
        .unwrap();
    assert_eq!(got, Some(f64::INFINITY));
    assert_eq!(
        annos.warnings,
        ["PromQL warning: quantile value should be between 0 and 1, got 2"]
    );
    let m = load(10 * S, &[4.0, 6.0, 2.0, 1.0, 999.0, 1.0, 2.0]);
    assert_close(eval(MadOverTime, &m, 70 * S, 70 * S), 1.0);
    let nan = load(10 * S, &[1.0, 2.0, f64::NAN, 4.0]);
    assert_close(eval(MadOverTime, &nan, 30 * S, 40 * S), f64::NAN);
    assert_close(eval(MadOverTime, &load(10 * S, &[5.0]), 0, 10 * S), 0.0);
}

#[test]
fn double_exponential_smoothing_and_its_errors() {
    // functions.test:870-945.
    let args = [0.01, 0.1];
    let up = load(
        10 * S,
        &cat(&[seq(0.0, 10.0, 1000), seq(100.0, 30.0, 1000)]),
    );
    assert!(
        (eval_full(DoubleExponentialSmoothing, &up, 8000 * S, M, 0, &args).unwrap() - 8000.0).abs()
            < 1e-6
    );
    let down = load(10 * S, &seq(8000.0, -10.0, 1000));
    assert!(
        eval_full(DoubleExponentialSmoothing, &down, 8000 * S, M, 0, &args)
            .unwrap()
            .abs()
            < 1e-6
    );
    // Hand-computed: s1 = 1, b = 1; x = 0.5*2, b stays 1 (first step), y = 0.5*(1+1) → 2.
    let three = load(S, &[1.0, 2.0, 3.0]);
    let two = load(S, &[1.0, 2.0]);
    assert_close(
        eval_full(DoubleExponentialSmoothing, &two, S, 10 * S, 0, &[0.5, 0.5]),
        2.0,
    );
    // Third point: b = 0.5*(2-1) + 0.5*1 = 1; y = 0.5*(2+1) = 1.5; s1 = 1.5 + 1.5 = 3.
    assert_close(
        eval_full(
            DoubleExponentialSmoothing,
            &three,
            2 * S,
            10 * S,
            0,
            &[0.5, 0.5],
        ),
        3.0,
    );
    let mut scratch = Vec::new();
    let mut annos = Annotations::new();
    let w = Window::new(&three.ts, &three.vs, -S, 2 * S);
    let err = DoubleExponentialSmoothing.eval(&w, &[0.0, 0.5], &mut scratch, &mut annos);
    assert_eq!(
        err,
        Err(EngineError::Execution(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: 0.000000".into()
        ))
    );
    let err = DoubleExponentialSmoothing.eval(&w, &[0.5, 1.0], &mut scratch, &mut annos);
    assert_eq!(
        err,
        Err(EngineError::Execution(
            "invalid trend factor. Expected: 0 < tf < 1, got: 1.000000".into()
        ))
    );
    // Checked only when there are samples; NaN passes the check.
    let empty = Window::new(&[], &[], 0, S);
    assert_eq!(
        DoubleExponentialSmoothing.eval(&empty, &[0.0, 0.0], &mut scratch, &mut annos),
        Ok(None)
    );
    let single = Window::new(&three.ts[..1], &three.vs[..1], -S, 0);
    assert!(
        DoubleExponentialSmoothing
            .eval(&single, &[2.0, 0.5], &mut scratch, &mut annos)
            .is_err()
    );
    let nan = DoubleExponentialSmoothing.eval(&w, &[f64::NAN, 0.5], &mut scratch, &mut annos);
    assert!(nan.unwrap().unwrap().is_nan());
}

#[test]
fn degenerate_windows_give_nothing() {
    let mut scratch = Vec::new();
    let mut annos = Annotations::new();
    // Every range function the table knows.
    let all = table::all().iter().filter_map(|f| match f.kind {
        FunctionKind::Range(r) => Some((f.name, r)),
        _ => None,
    });
    let weird = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, f64::MAX];
    for (name, f) in all {
        let empty = Window::new(&[], &[], 0, 1);
        assert_eq!(
            f.eval(&empty, &[0.5, 0.5], &mut scratch, &mut annos),
            Ok(None),
            "{name}"
        );
        let mismatched = Window::new(&[1, 2], &[1.0], 0, 2);
        assert_eq!(
            f.eval(&mismatched, &[0.5, 0.5], &mut scratch, &mut annos),
            Ok(None)
        );
        // Extreme inputs never panic.
        let ts = [i64::MIN, -1, 0, i64::MAX];
        let w = Window::new(&ts, &weird[..4], i64::MIN, i64::MAX).at(i64::MIN);
        let _ = f.eval(&w, &weird, &mut scratch, &mut annos);
        let w = Window::new(&[5, 5], &[1.0, 2.0], 0, 5);
        let _ = f.eval(&w, &[], &mut scratch, &mut annos);
    }
    // One sample: rate & co need two.
    let one = Window::new(&[5], &[1.0], 0, 10);
    for f in [Rate, Increase, Delta, Irate, Idelta, Deriv] {
        assert_eq!(f.eval(&one, &[], &mut scratch, &mut annos), Ok(None));
    }
    assert_eq!(
        Resets.eval(&one, &[], &mut scratch, &mut annos),
        Ok(Some(0.0))
    );
    assert!(Rate.wants_counter() && Irate.wants_counter() && Resets.wants_counter());
    assert!(!Delta.wants_counter() && !Changes.wants_counter());
}

/// Samples every minute from 2m on, as start_timestamps.test loads them (`_ _ v...`).
fn from_2m(values: &[f64]) -> Series {
    Series {
        ts: (0..values.len() as i64).map(|i| (i + 2) * M).collect(),
        vs: values.to_vec(),
    }
}

/// Start timestamps written like a script's `@st` line: offsets from each sample's time,
/// None where unknown.
fn starts(s: &Series, offsets: &[Option<i64>]) -> Vec<i64> {
    s.ts.iter()
        .zip(offsets)
        .map(|(t, offset)| offset.map_or(0, |o| t + o))
        .collect()
}

/// `f(series[range])` at `t` over samples with start timestamps, and its annotations.
fn eval_started(
    f: RangeFunction,
    s: &Series,
    starts: &[i64],
    t: i64,
    range: i64,
) -> (Option<f64>, Annotations) {
    let start = t - range;
    let lo = s.ts.partition_point(|&x| x <= start);
    let hi = s.ts.partition_point(|&x| x <= t);
    let labels = Labels::from_pairs([(METRIC_NAME, "counter_total")]);
    let w = Window::new(&s.ts[lo..hi], &s.vs[lo..hi], start, t)
        .with_position(Some(Position { line: 1, column: 6 }))
        .with_labels(&labels)
        .with_start_timestamps(&starts[lo..hi]);
    let mut annotations = Annotations::new();
    let got = f.eval(&w, &[], &mut Vec::new(), &mut annotations).unwrap();
    (got, annotations)
}

#[test]
fn start_timestamps_mark_counter_resets() {
    // start_timestamps.test:1-45, {type="st_resets"}: restarts at 5m (start at the previous
    // sample, whose own start is known), 8m, 11m and 14m (starts after the previous sample).
    let s = from_2m(&seq(0.0, 60.0, 14));
    let offsets: Vec<Option<i64>> = [-30 * S, -M, -59_999, -S, -1]
        .iter()
        .flat_map(|&first| (0..3).map(move |i| Some(first - i * M)))
        .collect();
    let st = starts(&s, &offsets);
    let increase = [
        420.0, 780.0, 675.0, 675.0, 1275.0, 1080.0, 900.0, 1725.0, 1440.0,
    ];
    let irate = [1.0, 6.0, 1.0, 1.0, 9.0, 1.0, 1.0, 12.0, 1.0];
    let resets = [1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0];
    for (i, t) in (7..=15).map(|m| m * M).enumerate() {
        assert_close(eval_started(Increase, &s, &st, t, 5 * M).0, increase[i]);
        assert_close(eval_started(Rate, &s, &st, t, 5 * M).0, increase[i] / 300.0);
        assert_close(eval_started(Irate, &s, &st, t, 5 * M).0, irate[i]);
        assert_close(eval_started(Resets, &s, &st, t, 5 * M).0, resets[i]);
        // Without start timestamps the values alone show no reset.
        assert_close(eval(Increase, &s, t, 5 * M), 300.0);
        assert_close(eval(Resets, &s, t, 5 * M), 0.0);
    }
}

#[test]
fn counter_starts_from_zero_at_a_start_inside_the_window() {
    // start_timestamps.test:119-176, `increase(series[5m])` at 6m.
    let rising = from_2m(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let four = from_2m(&[1.0, 2.0, 3.0, 4.0]);
    let cases: [(&Series, i64, f64); 6] = [
        (&rising, -60 * S, 5.0), // at the window's (excluded) start: extrapolated
        (&rising, -30 * S, 5.0),
        (&rising, 0, 5.0), // at the sample itself: unknown start
        (&rising, 1, 6.0), // after the sample: invalid, but the next one restarts
        (&four, -30 * S, 5.142857142857143),
        (&four, 0, 5.0),
    ];
    for (s, first, want) in cases {
        let offsets: Vec<_> = (0..s.ts.len() as i64)
            .map(|i| Some(first - i * M))
            .collect();
        let got = eval_started(Increase, s, &starts(s, &offsets), 6 * M, 5 * M).0;
        assert_close(got, want);
    }
    // Two samples late in the window: only the right side extrapolates.
    let late = Series {
        ts: vec![3 * M, 4 * M],
        vs: vec![2.0, 3.0],
    };
    let st = starts(&late, &[Some(-90 * S), Some(-150 * S)]);
    assert_close(eval_started(Increase, &late, &st, 6 * M, 5 * M).0, 3.6);
    // One sample is enough when its start is inside the window, and nothing otherwise.
    let one = Series {
        ts: vec![4 * M],
        vs: vec![3.0],
    };
    for (offset, want) in [
        (-150 * S, Some(3.0)),
        (-180 * S, None),
        (0, None),
        (1, None),
    ] {
        let st = starts(&one, &[Some(offset)]);
        assert_eq!(eval_started(Increase, &one, &st, 6 * M, 5 * M).0, want);
    }
    assert_eq!(eval(Increase, &one, 6 * M, 5 * M), None);
}

#[test]
fn restarts_tell_delta_from_cumulative_samples() {
    // start_timestamps.test:191-207: the second sample starts at the first one.
    let (prev_t, t) = (2 * M, 3 * M);
    assert!(
        restarted(M, prev_t, prev_t, t),
        "delta: the first start is known"
    );
    assert!(
        !restarted(0, prev_t, prev_t, t),
        "cumulative, unknown start"
    );
    assert!(
        !restarted(prev_t, prev_t, prev_t, t),
        "cumulative, OTel's unknown start"
    );
    assert!(!restarted(3 * M, prev_t, prev_t, t), "invalid first start");
    assert!(
        restarted(0, prev_t, prev_t + 1, t),
        "started after the first sample"
    );
    assert!(!restarted(M, prev_t, M, t), "same start: cumulative");
    assert!(!restarted(M, prev_t, t, t), "unknown start");
    assert!(!restarted(M, prev_t, t + 1, t), "invalid start");
    assert!(!restarted(M, prev_t, 0, t), "no start");
}

#[test]
fn overlapping_starts_warn() {
    // start_timestamps.test:266-300, `rate(counter_total[3m])` at 4m.
    let overlap = from_2m(&[60.0, 120.0, 180.0]);
    let st = starts(&overlap, &[Some(-2 * M); 3]);
    let (got, annotations) = eval_started(Rate, &overlap, &st, 4 * M, 3 * M);
    assert_close(got, 1.0);
    assert_eq!(
        annotations.warnings,
        [
            "PromQL warning: sample has start time that overlaps with previous sample timestamp for metric \"counter_total\" (1:6)"
        ]
    );
    let delta = from_2m(&[60.0; 3]);
    let cumulative = from_2m(&[60.0, 120.0, 180.0]);
    for (s, offsets) in [
        (&delta, [Some(-M); 3]),
        (&cumulative, [Some(-30 * S), Some(-90 * S), Some(-150 * S)]),
    ] {
        let (got, annotations) = eval_started(Rate, s, &starts(s, &offsets), 4 * M, 3 * M);
        assert_close(got, 1.0);
        assert!(annotations.is_empty(), "{annotations:?}");
    }
}

#[test]
fn gauge_functions_ignore_start_timestamps() {
    // Every sample a delta one (start at the previous sample): counters see resets only.
    let s = from_2m(&[60.0; 15]);
    let st = starts(&s, &[Some(-M); 15]);
    assert_close(eval_started(Increase, &s, &st, 10 * M, 5 * M).0, 300.0);
    assert_close(eval_started(Irate, &s, &st, 10 * M, 5 * M).0, 1.0);
    assert_close(eval_started(Delta, &s, &st, 10 * M, 5 * M).0, 0.0);
    assert_close(eval_started(Idelta, &s, &st, 10 * M, 5 * M).0, 0.0);
    // Start timestamps that do not line up with the samples are ignored.
    let w = Window::new(&s.ts, &s.vs, 0, 16 * M).with_start_timestamps(&st[1..]);
    let got = Increase.eval(&w, &[], &mut Vec::new(), &mut Annotations::new());
    assert_close(got.unwrap(), 0.0);
}

/// `f(series[range] anchored|smoothed)` at `t`: the window's samples plus those the engine adds
/// within the 5m lookback (before the start; after the end when smoothed).
fn eval_extended(f: RangeFunction, s: &Series, t: i64, range: i64, smoothed: bool) -> Option<f64> {
    let start = t - range;
    let after = if smoothed { 5 * M } else { 0 };
    let lo = s.ts.partition_point(|&x| x <= start - 5 * M);
    let hi = s.ts.partition_point(|&x| x <= t + after);
    let w = Window::new(&s.ts[lo..hi], &s.vs[lo..hi], start, t);
    f.eval_extended(&w, smoothed, &mut Vec::new(), &mut Annotations::new())
        .unwrap()
}

#[test]
fn anchored_increase_starts_at_the_anchor_without_extrapolating() {
    // extended_vectors.test:46-73: 1+1x4 9+1x4 every 15s.
    let s = load(15 * S, &cat(&[seq(1.0, 1.0, 4), seq(9.0, 1.0, 4)]));
    for (t, want) in [(5, 0.0), (50, 3.0), (80, 7.0), (125, 7.0)] {
        assert_close(eval_extended(Increase, &s, t * S, M, false), want);
    }
    // Counter resets between the anchor and the end are corrected (lines 166-169).
    let reset = load(M, &cat(&[vec![3.0], seq(2.0, 2.0, 9)]));
    assert_close(eval_extended(Increase, &reset, 5 * M, 5 * M, false), 10.0);
    // delta keeps the drop (lines 154-157).
    let drop = load(M, &cat(&[seq(5.0, 3.0, 2), seq(3.0, 3.0, 6)]));
    assert_close(eval_extended(Delta, &drop, 3 * M, M, false), -8.0);
}

#[test]
fn smoothed_increase_interpolates_both_bounds() {
    // extended_vectors.test:75-100.
    let s = load(15 * S, &cat(&[seq(1.0, 1.0, 4), seq(9.0, 1.0, 4)]));
    for (t, want) in [(5, 1.0 / 3.0), (65, 5.0), (125, 6.0)] {
        assert_close(eval_extended(Increase, &s, t * S, M, true), want);
    }
    // A reset between the samples around a bound restarts the counter from zero there, and
    // the resets inside count once (lines 253-258).
    let resets = load(M, &[9.0, 8.0, 5.0, 4.0]);
    assert_close(
        eval_extended(Increase, &resets, 2 * M + 15 * S, 2 * M, true),
        12.0,
    );
    // rate divides by the range (lines 261-266).
    let reset = load(15 * S, &[100.0, 10.0]);
    assert_close(
        eval_extended(Rate, &reset, 12 * S, 10 * S, true),
        0.666666666666667,
    );
    // delta interpolates a gauge as is (lines 196-203).
    let gauge = load(M, &[11.0, -1.0, 100.0, 0.0]);
    assert_close(
        eval_extended(Delta, &gauge, 5 * M + 30 * S, 5 * M, true),
        -5.0,
    );
}

#[test]
fn smoothed_needs_data_on_both_sides_of_the_start() {
    // extended_vectors.test:335-349: samples at 10s..50s only.
    let s = Series {
        ts: (1..=5).map(|i| i * 10 * S).collect(),
        vs: seq(5.0, 1.0, 4),
    };
    assert_eq!(eval_extended(Rate, &s, 5 * S, 5 * S, true), None);
    assert_eq!(eval_extended(Increase, &s, 60 * S, 5 * S, true), None);
    assert_close(eval_extended(Increase, &s, 15 * S, 10 * S, true), 0.5);
}

#[test]
fn anchored_changes_and_resets_count_from_the_anchor() {
    // extended_vectors.test:220-245.
    let up = load(M, &seq(1.0, 1.0, 10));
    let down = load(M, &seq(99.0, -1.0, 10));
    assert_close(eval_extended(Changes, &up, 5 * M, 5 * M, false), 5.0);
    assert_close(
        eval_extended(Resets, &down, 5 * M + 30 * S, 5 * M, false),
        5.0,
    );
    assert_close(
        eval_extended(Resets, &up, 5 * M + 30 * S, 5 * M, false),
        0.0,
    );
}
