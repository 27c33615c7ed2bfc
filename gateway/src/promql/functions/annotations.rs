//! Prometheus' annotations (the `warnings` and `infos` of a query result) with its exact texts,
//! as `util/annotations` renders them for the API: message, then ` (line:col)` of the
//! expression the annotation is about.
//!
//! Annotations are deduplicated on the message without its position, first one kept, as
//! Prometheus does. The histogram_quantile monotonicity info is the exception: repeated
//! occurrences widen one entry (time and bucket range, max diff, sample count).

use super::RangeFunction;
use super::format::{go_g, rfc3339};
use std::collections::HashMap;
use store_api::text::go_quote;

/// Where an expression starts in the query text: 1-based line and byte column, as Prometheus'
/// `PositionRange.StartPosInput` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `query`; None when the offset is past its end.
    pub fn from_offset(query: &str, offset: usize) -> Option<Position> {
        let before = query.get(..offset)?;
        let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
        let column = match before.rfind('\n') {
            Some(nl) => offset - nl,
            None => offset + 1,
        };
        Some(Position { line, column })
    }
}

/// Warnings and infos of one evaluation, rendered as the API returns them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    /// Message without position → where its text is (dedup and merging).
    seen: HashMap<String, Slot>,
    /// The keys of `seen` in insertion order, so merging keeps the order.
    order: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Slot {
    /// Index into `warnings` or `infos`.
    Plain(Kind, usize),
    /// Index into `infos` and the widened details.
    Monotonicity(usize, Box<Monotonicity>),
}

#[derive(Clone, Debug, PartialEq)]
struct Monotonicity {
    pos: Option<Position>,
    min_ts: i64,
    max_ts: i64,
    min_bucket: f64,
    max_bucket: f64,
    max_diff: f64,
    samples: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Warning,
    Info,
}

const WARNING: &str = "PromQL warning";
const INFO: &str = "PromQL info";

impl Annotations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }

    /// Adds another evaluation's annotations with the same dedup and merge rules.
    pub fn merge(&mut self, other: Annotations) {
        let Annotations {
            warnings,
            infos,
            mut seen,
            order,
        } = other;
        for key in order {
            match seen.remove(&key) {
                Some(Slot::Plain(Kind::Warning, i)) => {
                    if let Some(text) = warnings.get(i) {
                        self.push(Kind::Warning, key, text.clone());
                    }
                }
                Some(Slot::Plain(Kind::Info, i)) => {
                    if let Some(text) = infos.get(i) {
                        self.push(Kind::Info, key, text.clone());
                    }
                }
                Some(Slot::Monotonicity(_, m)) => self.add_monotonicity(key, *m),
                None => {}
            }
        }
    }

    /// A warning of the engine's own wording ("PromQL warning: " is not added).
    pub fn add_warning(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.push(Kind::Warning, text.clone(), text);
    }

    /// An info of the engine's own wording ("PromQL info: " is not added).
    pub fn add_info(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.push(Kind::Info, text.clone(), text);
    }

    /// "quantile value should be between 0 and 1, got %g": φ of quantile, quantile_over_time,
    /// histogram_quantile(s) is NaN or outside [0, 1].
    pub fn invalid_quantile(&mut self, phi: f64, pos: Option<Position>) {
        let msg = format!(
            "{WARNING}: quantile value should be between 0 and 1, got {}",
            go_g(phi, None)
        );
        self.add(Kind::Warning, msg, pos);
    }

    /// Adds the invalid-quantile warning when φ is NaN or outside [0, 1]; the check Prometheus'
    /// quantile functions do once per evaluation step.
    pub fn check_quantile(&mut self, phi: f64, pos: Option<Position>) {
        if phi.is_nan() || !(0.0..=1.0).contains(&phi) {
            self.invalid_quantile(phi, pos);
        }
    }

    /// "ratio value should be between -1 and 1, got %g, capping to %g" (limit_ratio).
    pub fn invalid_ratio(&mut self, ratio: f64, capped: f64, pos: Option<Position>) {
        let msg = format!(
            "{WARNING}: ratio value should be between -1 and 1, got {}, capping to {}",
            go_g(ratio, None),
            go_g(capped, None)
        );
        self.add(Kind::Warning, msg, pos);
    }

    /// `le` missing or not a float (see `histogram::parse_le`); `label` is its raw value.
    pub fn bad_bucket_label(&mut self, metric_name: &str, label: &str, pos: Option<Position>) {
        let msg = with_metric_name(
            format!(
                "{WARNING}: bucket label \"le\" is missing or has a malformed value of {}",
                go_quote(label)
            ),
            metric_name,
        );
        self.add(Kind::Warning, msg, pos);
    }

    /// The engine's check after rate/increase over one series: an info when the series has a
    /// metric name, produced at least one float, and the name lacks a counter suffix (or, with
    /// type-and-unit labels on, `type_label` = the `__type__` value is neither "counter" nor
    /// "histogram"). Other functions, even counter ones like irate, are not checked, as in
    /// Prometheus. `pos` is the position of the range argument.
    pub fn possible_non_counter(
        &mut self,
        func: RangeFunction,
        metric_name: &str,
        produced_floats: bool,
        type_label: Option<&str>,
        pos: Option<Position>,
    ) {
        if !matches!(func, RangeFunction::Rate | RangeFunction::Increase)
            || metric_name.is_empty()
            || !produced_floats
        {
            return;
        }
        let msg = match type_label {
            Some(t) if t == "counter" || t == "histogram" => return,
            Some(t) => format!(
                "{INFO}: metric might not be a counter, __type__ label is not set to \"counter\" or \"histogram\", got {}: {}",
                go_quote(t),
                go_quote(metric_name)
            ),
            None if ["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|s| metric_name.ends_with(s)) =>
            {
                return;
            }
            None => format!(
                "{INFO}: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                go_quote(metric_name)
            ),
        };
        self.add(Kind::Info, msg, pos);
    }

    /// histogram_quantile(s) had to force a classic histogram's buckets monotonic at
    /// evaluation time `ts_ms`; the bounds and diff come from `histogram::ForcedMonotonicity`.
    /// `metric_name` is empty when Prometheus drops it (no delayed name removal).
    pub fn histogram_quantile_forced_monotonicity(
        &mut self,
        metric_name: &str,
        pos: Option<Position>,
        ts_ms: i64,
        min_bucket: f64,
        max_bucket: f64,
        max_diff: f64,
    ) {
        let key = with_metric_name(
            format!(
                "{INFO}: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
            ),
            metric_name,
        );
        let m = Monotonicity {
            pos,
            min_ts: ts_ms,
            max_ts: ts_ms,
            min_bucket,
            max_bucket,
            max_diff,
            samples: 1,
        };
        self.add_monotonicity(key, m);
    }

    /// "vector contains a mix of classic and native histograms".
    pub fn mixed_classic_native_histograms(&mut self, metric_name: &str, pos: Option<Position>) {
        let msg = with_metric_name(
            format!("{WARNING}: vector contains a mix of classic and native histograms"),
            metric_name,
        );
        self.add(Kind::Warning, msg, pos);
    }

    /// "encountered a mix of histograms and floats for metric name %q".
    pub fn mixed_floats_histograms(&mut self, metric_name: &str, pos: Option<Position>) {
        let msg = format!(
            "{WARNING}: encountered a mix of histograms and floats for metric name {}",
            go_quote(metric_name)
        );
        self.add(Kind::Warning, msg, pos);
    }

    /// "encountered a mix of histograms and floats for aggregation".
    pub fn mixed_floats_histograms_aggregation(&mut self, pos: Option<Position>) {
        let msg = format!("{WARNING}: encountered a mix of histograms and floats for aggregation");
        self.add(Kind::Warning, msg, pos);
    }

    /// "ignored histogram in %s aggregation" (e.g. `aggregation` = "stddev").
    pub fn histogram_ignored_in_aggregation(&mut self, aggregation: &str, pos: Option<Position>) {
        let msg = format!("{INFO}: ignored histogram in {aggregation} aggregation");
        self.add(Kind::Info, msg, pos);
    }

    /// "ignored histograms in a range containing both floats and histograms for metric name %q".
    pub fn histogram_ignored_in_mixed_range(&mut self, metric_name: &str, pos: Option<Position>) {
        let msg = format!(
            "{INFO}: ignored histograms in a range containing both floats and histograms for metric name {}",
            go_quote(metric_name)
        );
        self.add(Kind::Info, msg, pos);
    }

    /// "incompatible sample types encountered for binary operator %q: %s %s %s".
    pub fn incompatible_types_in_binop(
        &mut self,
        lhs_type: &str,
        operator: &str,
        rhs_type: &str,
        pos: Option<Position>,
    ) {
        let msg = format!(
            "{INFO}: incompatible sample types encountered for binary operator {}: {lhs_type} {operator} {rhs_type}",
            go_quote(operator)
        );
        self.add(Kind::Info, msg, pos);
    }

    /// "sample has start time that overlaps with previous sample timestamp for metric %q".
    pub fn start_time_overlap(&mut self, metric_name: &str, pos: Option<Position>) {
        let msg = format!(
            "{WARNING}: sample has start time that overlaps with previous sample timestamp for metric {}",
            go_quote(metric_name)
        );
        self.add(Kind::Warning, msg, pos);
    }

    /// "sort is ineffective for range queries since results are always ordered by labels".
    pub fn sort_in_range_query(&mut self, pos: Option<Position>) {
        let msg = format!(
            "{WARNING}: sort is ineffective for range queries since results are always ordered by labels"
        );
        self.add(Kind::Warning, msg, pos);
    }

    fn add(&mut self, kind: Kind, msg: String, pos: Option<Position>) {
        if self.seen.contains_key(&msg) {
            return;
        }
        let text = with_position(msg.clone(), pos);
        self.push(kind, msg, text);
    }

    fn push(&mut self, kind: Kind, key: String, text: String) {
        if self.seen.contains_key(&key) {
            return;
        }
        let list = match kind {
            Kind::Warning => &mut self.warnings,
            Kind::Info => &mut self.infos,
        };
        list.push(text);
        self.seen
            .insert(key.clone(), Slot::Plain(kind, list.len() - 1));
        self.order.push(key);
    }

    fn add_monotonicity(&mut self, key: String, new: Monotonicity) {
        match self.seen.get_mut(&key) {
            Some(Slot::Monotonicity(index, old)) => {
                old.min_ts = old.min_ts.min(new.min_ts);
                old.max_ts = old.max_ts.max(new.max_ts);
                if new.min_bucket < old.min_bucket {
                    old.min_bucket = new.min_bucket;
                }
                if new.max_bucket > old.max_bucket {
                    old.max_bucket = new.max_bucket;
                }
                if new.max_diff > old.max_diff {
                    old.max_diff = new.max_diff;
                }
                old.samples += new.samples;
                let text = render_monotonicity(&key, old);
                if let Some(slot) = self.infos.get_mut(*index) {
                    *slot = text;
                }
            }
            Some(Slot::Plain(..)) => {}
            None => {
                let text = render_monotonicity(&key, &new);
                self.infos.push(text);
                let index = self.infos.len() - 1;
                self.seen
                    .insert(key.clone(), Slot::Monotonicity(index, Box::new(new)));
                self.order.push(key);
            }
        }
    }
}

fn with_metric_name(msg: String, metric_name: &str) -> String {
    if metric_name.is_empty() {
        msg
    } else {
        format!("{msg} for metric name {}", go_quote(metric_name))
    }
}

fn with_position(msg: String, pos: Option<Position>) -> String {
    match pos {
        Some(p) => format!("{msg} ({}:{})", p.line, p.column),
        None => msg,
    }
}

fn render_monotonicity(key: &str, m: &Monotonicity) -> String {
    // Go divides the millisecond timestamps by 1000 with truncation.
    let msg = format!(
        "{key}, from buckets {} to {}, with a max diff of {}, over {} samples from {} to {}",
        go_g(m.min_bucket, None),
        go_g(m.max_bucket, None),
        go_g(m.max_diff, Some(2)),
        m.samples,
        rfc3339(m.min_ts / 1000),
        rfc3339(m.max_ts / 1000),
    );
    with_position(msg, m.pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn positions_are_line_and_byte_column() {
        assert_eq!(Position::from_offset("rate(x[5m])", 5), pos(1, 6));
        assert_eq!(Position::from_offset("a +\n  rate(x[5m])", 6), pos(2, 3));
        assert_eq!(Position::from_offset("abc", 3), pos(1, 4));
        assert_eq!(Position::from_offset("abc", 4), None);
    }

    #[test]
    fn exact_texts() {
        let mut a = Annotations::new();
        // aggregators.test:545 and histograms.test:702.
        a.invalid_quantile(f64::NAN, pos(1, 23));
        a.invalid_quantile(-0.1, pos(1, 20));
        a.bad_bucket_label("series", "Hello World", pos(1, 25));
        a.bad_bucket_label("", "", None);
        a.sort_in_range_query(pos(1, 1));
        a.invalid_ratio(1.1, 1.0, pos(1, 19));
        a.start_time_overlap("counter_total", pos(1, 6));
        assert_eq!(
            a.warnings,
            [
                "PromQL warning: quantile value should be between 0 and 1, got NaN (1:23)",
                "PromQL warning: quantile value should be between 0 and 1, got -0.1 (1:20)",
                // histograms.test:1202.
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"Hello World\" for metric name \"series\" (1:25)",
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"\"",
                // range_queries.test:110.
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels (1:1)",
                // limit.test:119.
                "PromQL warning: ratio value should be between -1 and 1, got 1.1, capping to 1 (1:19)",
                // start_timestamps.test:286.
                "PromQL warning: sample has start time that overlaps with previous sample timestamp for metric \"counter_total\" (1:6)",
            ]
        );
    }

    #[test]
    fn dedup_on_message_without_position() {
        let mut a = Annotations::new();
        a.invalid_quantile(2.0, pos(1, 5));
        a.invalid_quantile(2.0, pos(1, 9));
        a.invalid_quantile(3.0, pos(1, 9));
        assert_eq!(a.warnings.len(), 2);
        assert!(a.warnings[0].ends_with("got 2 (1:5)"));
    }

    #[test]
    fn non_counter_info_follows_prometheus_checks() {
        let mut a = Annotations::new();
        for name in ["x_total", "x_sum", "x_count", "x_bucket", ""] {
            a.possible_non_counter(RangeFunction::Rate, name, true, None, pos(1, 6));
        }
        a.possible_non_counter(RangeFunction::Irate, "gauge", true, None, pos(1, 7));
        a.possible_non_counter(RangeFunction::Rate, "gauge", false, None, pos(1, 6));
        assert!(a.is_empty());
        a.possible_non_counter(
            RangeFunction::Increase,
            "http_requests",
            true,
            None,
            pos(1, 10),
        );
        a.possible_non_counter(RangeFunction::Rate, "foo", true, Some("gauge"), pos(1, 6));
        a.possible_non_counter(RangeFunction::Rate, "bar", true, Some("counter"), pos(1, 6));
        assert_eq!(
            a.infos,
            [
                "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"http_requests\" (1:10)",
                "PromQL info: metric might not be a counter, __type__ label is not set to \"counter\" or \"histogram\", got \"gauge\": \"foo\" (1:6)",
            ]
        );
    }

    #[test]
    fn monotonicity_info_widens() {
        let mut a = Annotations::new();
        a.histogram_quantile_forced_monotonicity(
            "nm_bucket",
            pos(1, 21),
            3_000_000,
            10.0,
            100.0,
            1.0,
        );
        a.histogram_quantile_forced_monotonicity(
            "nm_bucket",
            pos(1, 21),
            2_700_000,
            1.0,
            1000.0,
            12.5,
        );
        let head = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"nm_bucket\"";
        assert_eq!(
            a.infos,
            [format!(
                "{head}, from buckets 1 to 1000, with a max diff of 12, over 2 samples from 1970-01-01T00:45:00Z to 1970-01-01T00:50:00Z (1:21)"
            )]
        );
        let mut b = Annotations::new();
        b.histogram_quantile_forced_monotonicity(
            "nm_bucket",
            pos(1, 21),
            3_300_000,
            5.0,
            50.0,
            0.5,
        );
        b.invalid_quantile(7.0, None);
        a.merge(b);
        assert_eq!(a.infos.len(), 1);
        assert!(a.infos[0].contains("over 3 samples"), "{}", a.infos[0]);
        assert!(
            a.infos[0].contains("to 1970-01-01T00:55:00Z"),
            "{}",
            a.infos[0]
        );
        assert_eq!(a.warnings.len(), 1);
    }

    #[test]
    fn merge_dedups() {
        let mut a = Annotations::new();
        a.add_warning("PromQL warning: w1");
        let mut b = Annotations::new();
        b.add_warning("PromQL warning: w1");
        b.add_info("PromQL info: i1");
        b.add_warning("PromQL warning: w2");
        a.merge(b);
        assert_eq!(a.warnings, ["PromQL warning: w1", "PromQL warning: w2"]);
        assert_eq!(a.infos, ["PromQL info: i1"]);
    }
}
