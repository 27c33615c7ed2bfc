//! Whether two systems gave the same answer: query results compared series by series and
//! sample by sample (same label sets, same timestamps, values within a relative tolerance,
//! NaN equal to NaN), metadata answers as sets.

use super::queries::RequestKind;
use crate::prometheus::{Answer, close, json_labels, json_strings, parse_answer};
use std::collections::BTreeSet;
use store_api::Labels;

/// Values agree when within this relative difference (floating-point summation order differs
/// between engines).
pub const TOLERANCE: f64 = 1e-6;
/// The looser bound reported for answers that differ, to tell near misses (another
/// extrapolation rule) from wrong answers.
pub const LOOSE_TOLERANCE: f64 = 1e-2;

/// An answer in a form two systems' answers can be compared in.
#[derive(Debug)]
pub enum Normalized {
    Samples(Answer),
    Names(BTreeSet<String>),
    Series(BTreeSet<Labels>),
}

impl Normalized {
    /// The answer's `data`, without the labels named in `layout_labels`.
    pub fn parse(
        kind: &RequestKind,
        data: &serde_json::Value,
        layout_labels: &[&str],
    ) -> Result<Self, String> {
        let without_layout = |mut labels: Labels| {
            labels.retain(|l| !layout_labels.contains(&l.name.as_str()));
            labels
        };
        match kind {
            RequestKind::Query { .. } => {
                let answer = std::panic::catch_unwind(|| parse_answer(data))
                    .map_err(|_| "malformed query answer".to_string())?;
                let mut out = Answer::new();
                for (labels, samples) in answer {
                    let labels = without_layout(labels);
                    if out.insert(labels.clone(), samples).is_some() {
                        return Err(format!("series {labels} twice"));
                    }
                }
                Ok(Self::Samples(out))
            }
            RequestKind::LabelNames => Ok(Self::Names(
                json_strings(data)
                    .into_iter()
                    .filter(|name| !layout_labels.contains(&name.as_str()))
                    .collect(),
            )),
            RequestKind::LabelValues(_) => {
                Ok(Self::Names(json_strings(data).into_iter().collect()))
            }
            RequestKind::Series(_) => Ok(Self::Series(
                data.as_array()
                    .ok_or("series answer is not a list")?
                    .iter()
                    .map(|metric| without_layout(json_labels(metric)))
                    .collect(),
            )),
        }
    }

    /// The size of the answer: `series × points` for query results, the number of entries
    /// otherwise.
    pub fn size(&self) -> String {
        match self {
            Self::Samples(answer) => {
                let points: usize = answer.values().map(Vec::len).sum();
                let per_series = answer.values().map(Vec::len).max().unwrap_or(0);
                let plural = if points == 1 { "" } else { "s" };
                format!(
                    "{} × {per_series} ({} point{plural})",
                    thousands(answer.len()),
                    thousands(points)
                )
            }
            Self::Names(names) => format!("{} names", thousands(names.len())),
            Self::Series(series) => format!("{} series", thousands(series.len())),
        }
    }
}

/// The outcome of comparing an answer with the reference.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub agrees: bool,
    /// How it differs (empty when it agrees).
    pub difference: String,
}

/// Compares `got` with the reference answer `want`.
pub fn compare(got: &Normalized, want: &Normalized) -> Verdict {
    match (got, want) {
        (Normalized::Samples(got), Normalized::Samples(want)) => compare_samples(got, want),
        (Normalized::Names(got), Normalized::Names(want)) => compare_sets(got, want),
        (Normalized::Series(got), Normalized::Series(want)) => compare_sets(got, want),
        _ => Verdict {
            agrees: false,
            difference: "another kind of answer".into(),
        },
    }
}

fn compare_sets<T: Ord + std::fmt::Display>(got: &BTreeSet<T>, want: &BTreeSet<T>) -> Verdict {
    let missing: Vec<&T> = want.difference(got).collect();
    let extra: Vec<&T> = got.difference(want).collect();
    if missing.is_empty() && extra.is_empty() {
        return Verdict {
            agrees: true,
            difference: String::new(),
        };
    }
    let example = |items: &[&T]| {
        items
            .first()
            .map(|i| format!(" (e.g. {i})"))
            .unwrap_or_default()
    };
    Verdict {
        agrees: false,
        difference: format!(
            "{} missing{}, {} extra{}",
            missing.len(),
            example(&missing),
            extra.len(),
            example(&extra)
        ),
    }
}

/// Counts over the samples of the series both answers have.
#[derive(Default)]
struct PointCounts {
    reference: usize,
    equal: usize,
    near: usize,
    missing: usize,
    extra: usize,
}

fn compare_samples(got: &Answer, want: &Answer) -> Verdict {
    let missing_series = want.keys().filter(|l| !got.contains_key(*l)).count();
    let extra_series = got.keys().filter(|l| !want.contains_key(*l)).count();
    let mut points = PointCounts::default();
    for (labels, want) in want {
        if let Some(got) = got.get(labels) {
            count_points(got, want, &mut points);
        }
    }
    let agrees = missing_series == 0
        && extra_series == 0
        && points.missing == 0
        && points.extra == 0
        && points.equal == points.reference;
    if agrees {
        return Verdict {
            agrees,
            difference: String::new(),
        };
    }
    let mut parts = Vec::new();
    if missing_series + extra_series > 0 {
        parts.push(format!(
            "series: {} missing, {} extra of {}",
            thousands(missing_series),
            thousands(extra_series),
            thousands(want.len())
        ));
    }
    if points.reference > 0 {
        let share = |n: usize| 100.0 * n as f64 / points.reference as f64;
        parts.push(format!(
            "points: {:.1}% equal, {:.1}% within 1% of {}",
            share(points.equal),
            share(points.near),
            thousands(points.reference)
        ));
    }
    if points.missing + points.extra > 0 {
        parts.push(format!(
            "points at other times: {} missing, {} extra",
            thousands(points.missing),
            thousands(points.extra)
        ));
    }
    Verdict {
        agrees,
        difference: parts.join("; "),
    }
}

/// Matches samples by timestamp (both lists are in time order).
fn count_points(got: &[(i64, f64)], want: &[(i64, f64)], counts: &mut PointCounts) {
    let mut got = got.iter().peekable();
    for &(t, v) in want {
        counts.reference += 1;
        while got.next_if(|(tg, _)| *tg < t).is_some() {
            counts.extra += 1;
        }
        match got.next_if(|(tg, _)| *tg == t) {
            Some(&(_, g)) => {
                counts.equal += usize::from(close(g, v, TOLERANCE));
                counts.near += usize::from(close(g, v, LOOSE_TOLERANCE));
            }
            None => counts.missing += 1,
        }
    }
    counts.extra += got.count();
}

/// `12345` as `12,345`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prometheus::Eval;
    use serde_json::json;

    const QUERY: RequestKind = RequestKind::Query {
        promql: "x",
        eval: Eval::Instant(0),
    };

    fn matrix(series: serde_json::Value) -> serde_json::Value {
        json!({"resultType": "matrix", "result": series})
    }

    fn parse(data: serde_json::Value, layout: &[&str]) -> Normalized {
        Normalized::parse(&QUERY, &data, layout).unwrap()
    }

    #[test]
    fn equal_within_tolerance_and_nan_equals_nan() {
        let want = parse(
            matrix(json!([{"metric": {"a": "1"}, "values": [[1, "1"], [2, "NaN"]]}])),
            &[],
        );
        let got = parse(
            matrix(
                json!([{"metric": {"a": "1", "shard": "3"}, "values": [[1, "1.0000000001"], [2, "NaN"]]}]),
            ),
            &["shard"],
        );
        let verdict = compare(&got, &want);
        assert!(verdict.agrees, "{}", verdict.difference);
    }

    #[test]
    fn reports_near_values_and_missing_points_and_series() {
        let want = parse(
            matrix(json!([
                {"metric": {"a": "1"}, "values": [[1, "100"], [2, "100"], [3, "100"]]},
                {"metric": {"a": "2"}, "values": [[1, "1"]]}
            ])),
            &[],
        );
        let got = parse(
            matrix(json!([{"metric": {"a": "1"}, "values": [[1, "100"], [2, "100.5"]]}])),
            &[],
        );
        let verdict = compare(&got, &want);
        assert!(!verdict.agrees);
        assert_eq!(
            verdict.difference,
            "series: 1 missing, 0 extra of 2; points: 33.3% equal, 66.7% within 1% of 3; \
             points at other times: 1 missing, 0 extra"
        );
    }

    #[test]
    fn metadata_answers_compare_as_sets() {
        let names = |list: serde_json::Value| {
            Normalized::parse(&RequestKind::LabelNames, &list, &["shard"]).unwrap()
        };
        let verdict = compare(
            &names(json!(["b", "a", "shard"])),
            &names(json!(["a", "b"])),
        );
        assert!(verdict.agrees);
        let verdict = compare(&names(json!(["a"])), &names(json!(["a", "b"])));
        assert_eq!(verdict.difference, "1 missing (e.g. b), 0 extra");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
