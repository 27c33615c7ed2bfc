//! Writing Prometheus' JSON by hand: results can be large, and their number formats are
//! specific (timestamps as seconds with millisecond decimals, values as Go-formatted
//! strings).

use crate::promql::functions::format::{digits_before, push_ascii, push_go_f};
use crate::promql::{InstantSample, Phases, RangeSeries, SampleSummary, Value};
use store_api::Labels;
use store_api::text::push_json_string;

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
    // '-', 20 digits of seconds, '.', 3 of milliseconds.
    let mut text = [0u8; 25];
    let abs = ms.unsigned_abs();
    let point = 21;
    let mut end = point;
    let frac = abs % 1000;
    if frac != 0 {
        text[point] = b'.';
        text[point + 1] = b'0' + (frac / 100) as u8;
        text[point + 2] = b'0' + (frac / 10 % 10) as u8;
        text[point + 3] = b'0' + (frac % 10) as u8;
        end = point + 4;
        while trim && text[end - 1] == b'0' {
            end -= 1;
        }
    }
    let mut start = digits_before(&mut text, point, abs / 1000);
    if ms < 0 {
        start -= 1;
        text[start] = b'-';
    }
    push_ascii(out, &text[start..end]);
}

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
        push_json_string(out, &label.name);
        out.push(':');
        push_json_string(out, &label.value);
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

fn push_instant_sample(out: &mut String, s: &InstantSample) {
    out.push_str("{\"metric\":");
    push_labels(out, &s.labels);
    out.push_str(",\"value\":");
    push_point(out, s.t, s.v);
    out.push('}');
}

fn push_range_series(out: &mut String, s: &RangeSeries) {
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

/// How much text a query's answer is encoded in before it is handed to the connection.
const CHUNK_BYTES: usize = 64 << 10;

/// A query's `data` (`{"resultType": ..., "result": ..., "stats": ...}`), encoded a chunk at a
/// time as the connection takes it: a slow reader holds the result and one chunk of its text,
/// never the whole answer's text beside it.
pub struct QueryBody {
    value: Value,
    stats: Option<QueryStats>,
    /// The next result element to encode; `None` once the closing brace is out.
    next: Option<usize>,
    /// Time spent encoding, observed once the body is complete.
    encoding: std::time::Duration,
    encode_phase: Option<prometheus::Histogram>,
    span: tracing::Span,
}

impl QueryBody {
    /// `encode_phase` observes the whole encoding time at the end.
    pub fn new(
        value: Value,
        stats: Option<QueryStats>,
        encode_phase: Option<prometheus::Histogram>,
    ) -> Self {
        Self {
            value,
            stats,
            next: Some(0),
            encoding: std::time::Duration::ZERO,
            encode_phase,
            span: tracing::info_span!("encode"),
        }
    }

    /// Appends up to a chunk of result elements from `*next`; true at the last one.
    fn push_elements(&self, out: &mut String, next: &mut usize) -> bool {
        match &self.value {
            Value::Scalar { t, v } => {
                out.push('[');
                push_float_seconds(out, *t);
                out.push(',');
                push_value(out, *v);
                out.push(']');
                true
            }
            Value::String { t, s } => {
                out.push('[');
                push_float_seconds(out, *t);
                out.push(',');
                push_json_string(out, s);
                out.push(']');
                true
            }
            Value::Vector(samples) => push_list(out, samples, next, push_instant_sample),
            Value::Matrix(series) => push_list(out, series, next, push_range_series),
        }
    }
}

/// Appends `items` from `*next` (opening and closing the list at its ends) until a chunk is
/// full; true once the list is closed.
fn push_list<T>(
    out: &mut String,
    items: &[T],
    next: &mut usize,
    push: fn(&mut String, &T),
) -> bool {
    if *next == 0 {
        out.push('[');
    }
    while *next < items.len() && out.len() < CHUNK_BYTES {
        if *next > 0 {
            out.push(',');
        }
        push(out, &items[*next]);
        *next += 1;
    }
    let done = *next == items.len();
    if done {
        out.push(']');
    }
    done
}

impl Iterator for QueryBody {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut next = self.next?;
        let _entered = self.span.clone().entered();
        let started = std::time::Instant::now();
        let mut out = String::with_capacity(CHUNK_BYTES + 4096);
        if next == 0 {
            out.push_str("{\"resultType\":\"");
            out.push_str(self.value.type_name());
            out.push_str("\",\"result\":");
        }
        let done = self.push_elements(&mut out, &mut next);
        self.next = Some(next);
        if done {
            if let Some(stats) = &self.stats {
                out.push_str(",\"stats\":");
                out.push_str(&stats.to_json());
            }
            out.push('}');
            self.next = None;
        }
        self.encoding += started.elapsed();
        if done && let Some(phase) = self.encode_phase.take() {
            phase.observe(self.encoding.as_secs_f64());
        }
        Some(out)
    }
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
        push_json_string(&mut out, v);
    }
    out.push(']');
    out
}

/// A JSON object of string values: `{"name":"value",...}` in the order given.
pub fn string_object<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push(':');
        push_json_string(&mut out, value);
    }
    out.push('}');
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
    fn a_large_result_is_encoded_in_bounded_chunks() {
        let series: Vec<RangeSeries> = (0..2000)
            .map(|i| RangeSeries {
                labels: Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]),
                points: (0..100).map(|t| (t * 15_000, t as f64)).collect(),
            })
            .collect();
        let chunks: Vec<String> = QueryBody::new(Value::Matrix(series), None, None).collect();
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() < CHUNK_BYTES + 8192));
        let parsed: serde_json::Value = serde_json::from_str(&chunks.concat()).unwrap();
        assert_eq!(parsed["resultType"], "matrix");
        assert_eq!(parsed["result"].as_array().unwrap().len(), 2000);
        assert_eq!(
            parsed["result"][1999],
            serde_json::json!({"metric": {"__name__": "m", "i": "1999"},
                "values": (0..100).map(|t| serde_json::json!([t * 15, t.to_string()])).collect::<Vec<_>>()})
        );
    }

    #[test]
    fn small_results_are_one_chunk() {
        let encoded = |value| QueryBody::new(value, None, None).collect::<Vec<_>>();
        assert_eq!(
            encoded(Value::Vector(Vec::new())),
            ["{\"resultType\":\"vector\",\"result\":[]}"]
        );
        assert_eq!(
            encoded(Value::Scalar { t: 1_500, v: 2.0 }),
            ["{\"resultType\":\"scalar\",\"result\":[1.5,\"2\"]}"]
        );
    }
}
