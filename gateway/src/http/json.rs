//! Writing Prometheus' JSON by hand: results can be large, and their number formats are
//! specific (timestamps as seconds with millisecond decimals, values as Go-formatted
//! strings).

use crate::promql::functions::format::{push_go_f, push_integer};
use crate::promql::{InstantSample, Phases, RangeSeries, SampleSummary, Value};
use store_api::Labels;

/// A JSON string literal.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A sample's milliseconds as a JSON number of seconds, as Prometheus writes them:
/// `1435781451.781`, `4`, `1.500` (three decimals whenever there is a fraction).
pub fn push_timestamp(out: &mut String, ms: i64) {
    push_seconds(out, ms, false);
}

/// A scalar's or string's time: a Go float, trailing zeros trimmed (`1.5`).
fn push_float_seconds(out: &mut String, ms: i64) {
    push_seconds(out, ms, true);
}

fn push_seconds(out: &mut String, ms: i64, trim: bool) {
    if ms < 0 {
        out.push('-');
    }
    let abs = ms.unsigned_abs();
    push_integer(out, (abs / 1000) as i64);
    let frac = abs % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if trim {
            3 - digits.iter().rev().take_while(|&&d| d == b'0').count()
        } else {
            3
        };
        out.push('.');
        out.extend(digits[..len].iter().map(|&d| char::from(d)));
    }
}

/// A sample value as Prometheus writes it: a string, `"+Inf"`, `"NaN"`, Go's 'f' format.
pub fn push_value(out: &mut String, v: f64) {
    out.push('"');
    push_go_f(out, v);
    out.push('"');
}

pub fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, &label.name);
        out.push(':');
        push_str(out, &label.value);
    }
    out.push('}');
}

fn push_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    push_timestamp(out, t);
    out.push(',');
    push_value(out, v);
    out.push(']');
}

fn push_vector(out: &mut String, samples: &[InstantSample]) {
    out.push('[');
    for (i, s) in samples.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        push_labels(out, &s.labels);
        out.push_str(",\"value\":");
        push_point(out, s.t, s.v);
        out.push('}');
    }
    out.push(']');
}

fn push_matrix(out: &mut String, series: &[RangeSeries]) {
    out.push('[');
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        push_labels(out, &s.labels);
        out.push_str(",\"values\":[");
        for (j, &(t, v)) in s.points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_point(out, t, v);
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// `{"resultType": ..., "result": ...}`.
pub fn query_data(value: &Value, stats: Option<&QueryStats>) -> String {
    let mut out = String::from("{\"resultType\":\"");
    out.push_str(value.type_name());
    out.push_str("\",\"result\":");
    match value {
        Value::Scalar { t, v } => {
            out.push('[');
            push_float_seconds(&mut out, *t);
            out.push(',');
            push_value(&mut out, *v);
            out.push(']');
        }
        Value::String { t, s } => {
            out.push('[');
            push_float_seconds(&mut out, *t);
            out.push(',');
            push_str(&mut out, s);
            out.push(']');
        }
        Value::Vector(samples) => push_vector(&mut out, samples),
        Value::Matrix(series) => push_matrix(&mut out, series),
    }
    if let Some(stats) = stats {
        out.push_str(",\"stats\":");
        out.push_str(&stats.to_json());
    }
    out.push('}');
    out
}

/// Prometheus' `stats` object (`stats=<any>`; per step with `stats=all`): its timings in
/// seconds, mapped from the gateway's phases, and the samples read.
#[derive(Debug)]
pub struct QueryStats {
    pub queue: std::time::Duration,
    pub phases: crate::promql::Phases,
    pub samples: SampleSummary,
}

impl QueryStats {
    fn to_json(&self) -> String {
        let Phases { parse, fetch, eval } = self.phases;
        let mut samples = serde_json::Map::new();
        if let Some(per_step) = &self.samples.per_step {
            let points: Vec<serde_json::Value> = per_step
                .iter()
                .map(|&(t, n)| {
                    let mut seconds = String::new();
                    push_float_seconds(&mut seconds, t);
                    let seconds: serde_json::Number = seconds
                        .parse()
                        .unwrap_or_else(|_| serde_json::Number::from(0));
                    serde_json::json!([seconds, n])
                })
                .collect();
            samples.insert("totalQueryableSamplesPerStep".into(), points.into());
        }
        samples.insert("totalQueryableSamples".into(), self.samples.total.into());
        samples.insert("peakSamples".into(), self.samples.peak.into());
        serde_json::json!({
            "timings": {
                // Preparation is fetching the selectors' series; evaluation runs operators.
                "evalTotalTime": (fetch + eval).as_secs_f64(),
                "resultSortTime": 0.0,
                "queryPreparationTime": fetch.as_secs_f64(),
                "innerEvalTime": eval.as_secs_f64(),
                "execQueueTime": self.queue.as_secs_f64(),
                "execTotalTime": (self.queue + parse + fetch + eval).as_secs_f64(),
            },
            "samples": samples,
        })
        .to_string()
    }
}

/// A JSON array of strings.
pub fn string_array(values: &[String]) -> String {
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, v);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_values_as_prometheus() {
        let mut s = String::new();
        push_timestamp(&mut s, 1_435_781_451_781);
        s.push(' ');
        push_timestamp(&mut s, 4000);
        s.push(' ');
        push_timestamp(&mut s, -500);
        s.push(' ');
        push_timestamp(&mut s, 1_500);
        s.push(' ');
        push_float_seconds(&mut s, 1_500);
        assert_eq!(s, "1435781451.781 4 -0.500 1.500 1.5");
        let mut v = String::new();
        push_value(&mut v, f64::INFINITY);
        push_value(&mut v, 1e6);
        push_value(&mut v, 0.1);
        assert_eq!(v, "\"+Inf\"\"1000000\"\"0.1\"");
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        push_str(&mut s, "a\"b\\c\n\u{1}");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
