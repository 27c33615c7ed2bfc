//! Checks an engine's answer against an eval's expectations by the Go harness' rules: floats
//! within a relative 1e-6, NaN equal to NaN, the staleness marker only to itself, labels
//! (`__name__` included) equal as sets, instant vectors in any order unless ordered, matrices
//! sorted by labels.

use super::parse::{Eval, ExpectKind, SeqValue, Window, is_stale_nan};
use gateway::promql::{InstantSample, RangeSeries, Value};
use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use store_api::Labels;

/// The harness' relative tolerance.
pub const EPSILON: f64 = 1e-6;

/// Prometheus' `almost.Equal`.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    // Near zero a relative error means nothing: compare against the smallest normal instead.
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Compares a query result with what the eval expects.
pub fn compare_result(eval: &Eval, value: &Value) -> Result<(), String> {
    match value {
        Value::Matrix(matrix) => compare_matrix(eval, matrix),
        Value::Vector(vector) => compare_vector(eval, vector),
        Value::Scalar { v, .. } => compare_scalar(eval, *v),
        Value::String { s, .. } if *s == eval.result.string => Ok(()),
        Value::String { s, .. } => Err(format!(
            "expected string {:?} but got {s:?}",
            eval.result.string
        )),
    }
}

/// Range results and range-vector results come sorted by labels.
pub fn check_matrix_sorted(matrix: &[RangeSeries]) -> Result<(), String> {
    match matrix.windows(2).position(|w| w[0].labels > w[1].labels) {
        Some(i) => Err(format!(
            "matrix results should always be sorted by labels, but series at index {} with \
             labels {} sorts before series at index {i} with labels {}",
            i + 1,
            matrix[i + 1].labels,
            matrix[i].labels
        )),
        None => Ok(()),
    }
}

fn compare_matrix(eval: &Eval, matrix: &[RangeSeries]) -> Result<(), String> {
    if eval.is_ordered() {
        return Err("expected ordered result, but query returned a matrix".into());
    }
    if eval.result.scalar.is_some() {
        return Err(format!(
            "expected scalar result, but got matrix {}",
            format_matrix(matrix)
        ));
    }
    check_matrix_sorted(matrix)?;
    let expected = expected_by_labels(eval);
    let window = eval.result_window();
    for series in matrix {
        let values = expected.get(&series.labels).ok_or_else(|| {
            format!(
                "unexpected metric {} in result, has {}",
                series.labels,
                format_points(&series.points)
            )
        })?;
        let points = expected_points(&series.labels, values, window)?;
        compare_points(&series.labels, &points, &series.points)?;
    }
    let seen: HashSet<&Labels> = matrix.iter().map(|s| &s.labels).collect();
    match eval
        .result
        .series
        .iter()
        .find(|s| !seen.contains(&s.def.labels))
    {
        Some(missing) => Err(format!("expected metric {} not found", missing.def.labels)),
        None => Ok(()),
    }
}

/// Lays expected values out on the window's steps; `_` positions expect no point.
fn expected_points(
    labels: &Labels,
    values: &[SeqValue],
    window: Window,
) -> Result<Vec<(i64, f64)>, String> {
    let mut points = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let t = (i as i64)
            .checked_mul(window.step_ms)
            .and_then(|offset| offset.checked_add(window.start_ms))
            .filter(|&t| t <= window.end_ms)
            .ok_or_else(|| {
                format!(
                    "expected {} points for {labels}, but query time range cannot return this \
                     many points",
                    values.len()
                )
            })?;
        if let SeqValue::Float(v) = value {
            points.push((t, *v));
        }
    }
    Ok(points)
}

fn compare_points(
    labels: &Labels,
    expected: &[(i64, f64)],
    actual: &[(i64, f64)],
) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} float points for {labels}, but got {}",
            expected.len(),
            format_points(actual)
        ));
    }
    for (i, (&(want_t, want), &(got_t, got))) in expected.iter().zip(actual).enumerate() {
        if want_t != got_t {
            return Err(format!(
                "expected float value at index {i} for {labels} to have timestamp {want_t}, but \
                 it had timestamp {got_t} (result has {})",
                format_points(actual)
            ));
        }
        if !almost_equal(got, want, EPSILON) {
            return Err(format!(
                "expected float value at index {i} (t={got_t}) for {labels} to be {}, but got {} \
                 (result has {})",
                format_float(want),
                format_float(got),
                format_points(actual)
            ));
        }
    }
    Ok(())
}

fn compare_vector(eval: &Eval, vector: &[InstantSample]) -> Result<(), String> {
    if eval.result.scalar.is_some() {
        return Err(format!(
            "expected scalar result, but got vector {}",
            format_vector(vector)
        ));
    }
    let expected: HashMap<&Labels, (usize, &[SeqValue])> = eval
        .result
        .series
        .iter()
        .map(|s| (&s.def.labels, (s.pos, s.def.values.as_slice())))
        .collect();
    for (i, sample) in vector.iter().enumerate() {
        let &(pos, values) = expected.get(&sample.labels).ok_or_else(|| {
            format!(
                "unexpected metric {} in result, has value {}",
                sample.labels,
                format_float(sample.v)
            )
        })?;
        if eval.is_ordered() && pos != i + 1 {
            return Err(format!(
                "expected metric {} at position {pos} but was at {}",
                sample.labels,
                i + 1
            ));
        }
        // The harness reads a lone `_` as 0 here; a line without values has nothing to match.
        let want = match values.first() {
            Some(SeqValue::Float(v)) => *v,
            Some(SeqValue::Omitted) => 0.0,
            None => return Err(format!("expected metric {} has no value", sample.labels)),
        };
        if !almost_equal(want, sample.v, EPSILON) {
            return Err(format!(
                "expected {} for {} but got {}",
                format_float(want),
                sample.labels,
                format_float(sample.v)
            ));
        }
    }
    let seen: HashSet<&Labels> = vector.iter().map(|s| &s.labels).collect();
    match eval
        .result
        .series
        .iter()
        .find(|s| !seen.contains(&s.def.labels))
    {
        Some(missing) => Err(format!(
            "expected metric {} with {} not found",
            missing.def.labels,
            format_values(&missing.def.values)
        )),
        None => Ok(()),
    }
}

fn compare_scalar(eval: &Eval, v: f64) -> Result<(), String> {
    match eval.result.scalar {
        None => Err(format!(
            "expected vector or matrix result, but got scalar {}",
            format_float(v)
        )),
        Some(want) if almost_equal(want, v, EPSILON) => Ok(()),
        Some(want) => Err(format!(
            "expected scalar {} but got {}",
            format_float(want),
            format_float(v)
        )),
    }
}

fn expected_by_labels(eval: &Eval) -> HashMap<&Labels, &[SeqValue]> {
    eval.result
        .series
        .iter()
        .map(|s| (&s.def.labels, s.def.values.as_slice()))
        .collect()
}

/// Checks warnings and infos: `eval_warn`/`eval_info` want at least one; `expect warn|info`
/// lines must each match one, and then each one produced must match a line; `expect
/// no_warn|no_info` want none. Without any of these, annotations are not looked at.
pub fn check_annotations(
    eval: &Eval,
    query: &str,
    warnings: &[String],
    infos: &[String],
) -> Result<(), String> {
    if eval.warn && warnings.is_empty() {
        return Err(format!(
            "expected warnings evaluating query {query:?} but got none"
        ));
    }
    if eval.info && infos.is_empty() {
        return Err(format!(
            "expected info annotations evaluating query {query:?} but got none"
        ));
    }
    check_expected_annotations(eval, ExpectKind::Warn, "warn", query, warnings)?;
    check_expected_annotations(eval, ExpectKind::Info, "info", query, infos)?;
    if eval.has_expect(ExpectKind::NoWarn) && !warnings.is_empty() {
        return Err(format!(
            "unexpected warning annotations evaluating query {query:?}: {warnings:?}"
        ));
    }
    if eval.has_expect(ExpectKind::NoInfo) && !infos.is_empty() {
        return Err(format!(
            "unexpected info annotations evaluating query {query:?}: {infos:?}"
        ));
    }
    Ok(())
}

fn check_expected_annotations(
    eval: &Eval,
    kind: ExpectKind,
    name: &str,
    query: &str,
    actual: &[String],
) -> Result<(), String> {
    let expected: Vec<_> = eval.expects_of(kind).map(|e| &e.matcher).collect();
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!(
            "expected {name} annotations but none were found for query {query:?}"
        ));
    }
    if let Some(unmatched) = expected
        .iter()
        .find(|m| !actual.iter().any(|a| m.matches(a)))
    {
        return Err(format!(
            "expected {name} annotation matching {unmatched} but no matching annotation was \
             found for query {query:?}, found: {actual:?}"
        ));
    }
    match actual
        .iter()
        .find(|a| !expected.iter().any(|m| m.matches(a)))
    {
        Some(extra) => Err(format!(
            "unexpected {name} annotation {extra:?} found for query {query:?}"
        )),
        None => Ok(()),
    }
}

/// Checks an error against `expected_fail_message`, `expected_fail_regexp` and `expect fail`.
pub fn check_expected_failure(eval: &Eval, error: &str) -> Result<(), String> {
    if let Some(message) = eval
        .expected_fail_message
        .as_deref()
        .filter(|m| !m.is_empty())
        && message != error
    {
        return Err(format!("expected error {message:?}, but got: {error}"));
    }
    if let Some(re) = &eval.expected_fail_regexp
        && !re.is_match(error)
    {
        return Err(format!(
            "expected error matching pattern {:?}, but got: {error}",
            re.as_str()
        ));
    }
    match eval.expects_of(ExpectKind::Fail).next() {
        Some(expect) if !expect.matcher.matches(error) => Err(format!(
            "expected error matching {}, but got: {error}",
            expect.matcher
        )),
        _ => Ok(()),
    }
}

/// Prometheus' spelling of special floats; the staleness marker is named.
pub fn format_float(v: f64) -> String {
    if is_stale_nan(v) {
        "stale".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

fn format_values(values: &[SeqValue]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| match v {
            SeqValue::Omitted => "_".into(),
            SeqValue::Float(f) => format_float(*f),
        })
        .collect();
    items.join(" ")
}

fn format_points(points: &[(i64, f64)]) -> String {
    let mut out = format!(
        "{} float point{} [",
        points.len(),
        if points.len() == 1 { "" } else { "s" }
    );
    for (i, (t, v)) in points.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(out, "{sep}{} @[{t}]", format_float(*v));
    }
    out.push(']');
    out
}

fn format_vector(vector: &[InstantSample]) -> String {
    let items: Vec<String> = vector
        .iter()
        .map(|s| format!("{} => {} @[{}]", s.labels, format_float(s.v), s.t))
        .collect();
    items.join(", ")
}

fn format_matrix(matrix: &[RangeSeries]) -> String {
    let items: Vec<String> = matrix
        .iter()
        .map(|s| format!("{} => {}", s.labels, format_points(&s.points)))
        .collect();
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promqltest::parse::{Command, parse_script, stale_nan};

    fn eval_of(text: &str) -> Eval {
        let script = parse_script("t.test", text).unwrap();
        script
            .commands
            .into_iter()
            .find_map(|c| match c {
                Command::Eval(eval) => Some(*eval),
                _ => None,
            })
            .unwrap()
    }

    fn sample(labels: &[(&str, &str)], v: f64) -> InstantSample {
        InstantSample {
            labels: Labels::from_pairs(labels.iter().copied()),
            t: 0,
            v,
        }
    }

    fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> RangeSeries {
        RangeSeries {
            labels: Labels::from_pairs(labels.iter().copied()),
            points: points.to_vec(),
        }
    }

    #[test]
    fn almost_equal_follows_prometheus() {
        assert!(almost_equal(1.0, 1.0 + 1e-7, EPSILON));
        assert!(!almost_equal(1.0, 1.00001, EPSILON));
        assert!(almost_equal(1e300, 1e300 * (1.0 + 1e-7), EPSILON));
        assert!(almost_equal(f64::NAN, -f64::NAN, EPSILON));
        assert!(almost_equal(stale_nan(), stale_nan(), EPSILON));
        assert!(!almost_equal(stale_nan(), f64::NAN, EPSILON));
        assert!(!almost_equal(f64::NAN, stale_nan(), EPSILON));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY, EPSILON));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, EPSILON));
        assert!(
            !almost_equal(0.0, 1e-300, EPSILON),
            "zero is compared absolutely"
        );
        assert!(almost_equal(0.0, -0.0, EPSILON));
    }

    #[test]
    fn vectors_match_in_any_order_with_names() {
        let eval = eval_of("eval instant at 0 foo\n  foo{a=\"1\"} 1\n  foo{a=\"2\"} NaN\n");
        let good = [
            sample(&[("__name__", "foo"), ("a", "2")], f64::NAN),
            sample(&[("__name__", "foo"), ("a", "1")], 1.0000001),
        ];
        assert_eq!(compare_result(&eval, &Value::Vector(good.to_vec())), Ok(()));
        let no_name = [
            sample(&[("a", "2")], f64::NAN),
            sample(&[("__name__", "foo"), ("a", "1")], 1.0),
        ];
        assert!(
            compare_result(&eval, &Value::Vector(no_name.to_vec()))
                .unwrap_err()
                .contains("unexpected metric")
        );
        let missing = [sample(&[("__name__", "foo"), ("a", "1")], 1.0)];
        assert!(
            compare_result(&eval, &Value::Vector(missing.to_vec()))
                .unwrap_err()
                .contains("not found")
        );
        let wrong = [
            good[0].clone(),
            sample(&[("__name__", "foo"), ("a", "1")], 1.1),
        ];
        assert!(compare_result(&eval, &Value::Vector(wrong.to_vec())).is_err());
        assert!(compare_result(&eval, &Value::Scalar { t: 0, v: 1.0 }).is_err());
    }

    #[test]
    fn ordered_vectors_check_positions() {
        let eval =
            eval_of("eval_ordered instant at 0 sort(foo)\n  foo{a=\"1\"} 1\n  foo{a=\"2\"} 2\n");
        let a = sample(&[("__name__", "foo"), ("a", "1")], 1.0);
        let b = sample(&[("__name__", "foo"), ("a", "2")], 2.0);
        assert_eq!(
            compare_result(&eval, &Value::Vector(vec![a.clone(), b.clone()])),
            Ok(())
        );
        assert!(
            compare_result(&eval, &Value::Vector(vec![b, a]))
                .unwrap_err()
                .contains("position")
        );
        assert!(
            compare_result(&eval, &Value::Matrix(vec![])).is_err(),
            "ordered never matches a matrix"
        );
    }

    #[test]
    fn stale_matches_only_stale() {
        let eval = eval_of("eval instant at 0 foo\n  foo stale\n");
        let stale = sample(&[("__name__", "foo")], stale_nan());
        let nan = sample(&[("__name__", "foo")], f64::NAN);
        assert_eq!(compare_result(&eval, &Value::Vector(vec![stale])), Ok(()));
        assert!(compare_result(&eval, &Value::Vector(vec![nan])).is_err());
    }

    #[test]
    fn matrices_compare_points_on_the_steps() {
        let eval = eval_of("eval range from 0 to 2m step 1m foo\n  foo 1 _ 3\n  bar 1x2\n");
        let good = vec![
            series(
                &[("__name__", "bar")],
                &[(0, 1.0), (60_000, 1.0), (120_000, 1.0)],
            ),
            series(&[("__name__", "foo")], &[(0, 1.0), (120_000, 3.0)]),
        ];
        assert_eq!(compare_result(&eval, &Value::Matrix(good.clone())), Ok(()));
        let unsorted: Vec<_> = good.iter().rev().cloned().collect();
        assert!(
            compare_result(&eval, &Value::Matrix(unsorted))
                .unwrap_err()
                .contains("sorted")
        );
        let mut shifted = good.clone();
        shifted[1].points[1].0 = 60_000;
        assert!(
            compare_result(&eval, &Value::Matrix(shifted))
                .unwrap_err()
                .contains("timestamp")
        );
        let mut extra = good;
        extra[1].points.insert(1, (60_000, 2.0));
        assert!(compare_result(&eval, &Value::Matrix(extra)).is_err());
    }

    #[test]
    fn too_many_expected_points_fail() {
        let eval = eval_of("eval range from 0 to 1m step 1m foo\n  foo 1 2 3\n");
        let got = vec![series(&[("__name__", "foo")], &[(0, 1.0), (60_000, 2.0)])];
        assert!(
            compare_result(&eval, &Value::Matrix(got))
                .unwrap_err()
                .contains("cannot return")
        );
    }

    #[test]
    fn instant_matrix_needs_expect_range_vector() {
        let plain = eval_of("eval instant at 1m foo[1m]\n");
        assert_eq!(compare_result(&plain, &Value::Matrix(vec![])), Ok(()));
        let got = vec![series(
            &[("__name__", "foo")],
            &[(30_000, 1.0), (60_000, 2.0)],
        )];
        let with = eval_of(
            "eval instant at 1m foo[1m]\n  expect range vector from 30s to 1m step 30s\n  foo 1 2\n",
        );
        assert_eq!(compare_result(&with, &Value::Matrix(got.clone())), Ok(()));
        assert!(compare_result(&plain, &Value::Matrix(got)).is_err());
    }

    #[test]
    fn scalars_and_strings() {
        let eval = eval_of("eval instant at 0 1\n  1\n");
        assert_eq!(
            compare_result(&eval, &Value::Scalar { t: 0, v: 1.0 }),
            Ok(())
        );
        assert!(compare_result(&eval, &Value::Scalar { t: 0, v: 2.0 }).is_err());
        assert!(compare_result(&eval, &Value::Vector(vec![])).is_err());
        let empty = eval_of("eval instant at 0 vector(1) == 2\n");
        assert_eq!(compare_result(&empty, &Value::Vector(vec![])), Ok(()));
        assert!(compare_result(&empty, &Value::Scalar { t: 0, v: 1.0 }).is_err());
        let string = eval_of("eval instant at 0 \"a\"\n  expect string \"a\"\n");
        let value = |s: &str| Value::String { t: 0, s: s.into() };
        assert_eq!(compare_result(&string, &value("a")), Ok(()));
        assert!(compare_result(&string, &value("b")).is_err());
    }

    #[test]
    fn annotations() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let eval = eval_of("eval instant at 0 foo\n  expect warn msg: careful\n  expect no_info\n");
        assert_eq!(
            check_annotations(&eval, "foo", &strings(&["careful"]), &[]),
            Ok(())
        );
        assert!(check_annotations(&eval, "foo", &[], &[]).is_err());
        assert!(check_annotations(&eval, "foo", &strings(&["careful", "other"]), &[]).is_err());
        assert!(check_annotations(&eval, "foo", &strings(&["careful"]), &strings(&["i"])).is_err());
        let regex = eval_of("eval instant at 0 foo\n  expect info regex: ^PromQL info\n");
        assert_eq!(
            check_annotations(
                &regex,
                "foo",
                &strings(&["w"]),
                &strings(&["PromQL info: x"])
            ),
            Ok(())
        );
        let unchecked = eval_of("eval instant at 0 foo\n");
        assert_eq!(
            check_annotations(&unchecked, "foo", &strings(&["w"]), &strings(&["i"])),
            Ok(())
        );
        let legacy = eval_of("eval_warn instant at 0 foo\n");
        assert!(check_annotations(&legacy, "foo", &[], &strings(&["i"])).is_err());
    }

    #[test]
    fn expected_failures() {
        let any = eval_of("eval instant at 0 foo\n  expect fail\n");
        assert_eq!(check_expected_failure(&any, "whatever"), Ok(()));
        let msg = eval_of("eval instant at 0 foo\n  expect fail msg: exact text\n");
        assert_eq!(check_expected_failure(&msg, "exact text"), Ok(()));
        assert!(check_expected_failure(&msg, "exact text!").is_err());
        let legacy = eval_of("eval_fail instant at 0 foo\n  expected_fail_regexp ^bad\n");
        assert_eq!(check_expected_failure(&legacy, "bad things"), Ok(()));
        assert!(check_expected_failure(&legacy, "not bad").is_err());
        let message = eval_of("eval_fail instant at 0 foo\n  expected_fail_message exact\n");
        assert!(check_expected_failure(&message, "inexact").is_err());
    }
}
