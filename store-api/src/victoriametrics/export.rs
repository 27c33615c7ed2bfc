//! VictoriaMetrics' `/api/v1/export` answer: JSON lines
//! `{"metric":{...},"values":[...],"timestamps":[...]}`, cut into lines as the body streams in
//! and gathered into series sorted by their final labels (VictoriaMetrics answers in no order,
//! and may split one series over several lines).

use crate::chunk::xor_chunks;
use crate::error::StoreError;
use crate::histogram::STALE_NAN_BITS;
use crate::labels::Labels;
use crate::store::SeriesData;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Line {
    metric: BTreeMap<String, String>,
    values: Vec<Value>,
    timestamps: Vec<i64>,
}

/// A value as VictoriaMetrics writes it: a number in its shortest round-trip form (parsed
/// exactly: serde_json's `float_roundtrip`), `"Infinity"`/`"-Infinity"`, or `null` for
/// the staleness marker (it keeps no other NaN).
#[derive(Deserialize)]
#[serde(untagged)]
enum Value {
    Number(f64),
    Text(Option<String>),
}

impl Value {
    fn to_f64(&self) -> Result<f64, StoreError> {
        match self {
            Value::Number(v) => Ok(*v),
            Value::Text(None) => Ok(f64::from_bits(STALE_NAN_BITS)),
            Value::Text(Some(text)) => match text.as_str() {
                "Infinity" | "+Inf" => Ok(f64::INFINITY),
                "-Infinity" | "-Inf" => Ok(f64::NEG_INFINITY),
                "NaN" => Ok(f64::NAN),
                other => Err(StoreError::BadData(format!(
                    "export value {other:?} is not a number"
                ))),
            },
        }
    }
}

/// Samples of one series, in the order they came.
#[derive(Default)]
struct Samples {
    timestamps: Vec<i64>,
    values: Vec<f64>,
}

/// Series read so far, by VictoriaMetrics' own labels, bounded by `max_bytes`.
pub(super) struct Assembler {
    min_time: i64,
    max_time: i64,
    series: BTreeMap<Labels, Samples>,
    /// An incomplete last line of the body read so far.
    partial: Vec<u8>,
    bytes: usize,
    max_bytes: usize,
}

impl Assembler {
    /// Keeps samples within `[min_time, max_time]`, failing past `max_bytes` of samples and
    /// labels held.
    pub(super) fn new(min_time: i64, max_time: i64, max_bytes: usize) -> Self {
        Self {
            min_time,
            max_time,
            series: BTreeMap::new(),
            partial: Vec::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Takes the next piece of the body; complete lines are parsed at once.
    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let rest = self.partial.split_off(end + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        complete
            .split(|&b| b == b'\n')
            .try_for_each(|line| self.line(line))
    }

    fn line(&mut self, line: &[u8]) -> Result<(), StoreError> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let line: Line = serde_json::from_slice(line).map_err(|e| {
            let shown = String::from_utf8_lossy(&line[..line.len().min(200)]);
            StoreError::BadData(format!("export line is not JSON ({e}): {shown}"))
        })?;
        if line.values.len() != line.timestamps.len() {
            return Err(StoreError::BadData(format!(
                "export line has {} values for {} timestamps",
                line.values.len(),
                line.timestamps.len()
            )));
        }
        let labels = Labels::from_pairs(line.metric);
        let label_bytes: usize = labels.iter().map(|l| l.name.len() + l.value.len()).sum();
        let samples = self.series.entry(labels).or_insert_with(|| {
            self.bytes += label_bytes;
            Samples::default()
        });
        for (t, v) in line.timestamps.iter().zip(&line.values) {
            if (self.min_time..=self.max_time).contains(t) {
                samples.timestamps.push(*t);
                samples.values.push(v.to_f64()?);
                self.bytes += 16;
            }
        }
        if self.bytes > self.max_bytes {
            return Err(StoreError::LimitExceeded(format!(
                "VictoriaMetrics answer exceeds {} bytes of samples; narrow the query",
                self.max_bytes
            )));
        }
        Ok(())
    }

    /// The series, each with its samples in time order as XOR chunks (none with
    /// `skip_chunks`), labelled by `relabel` (which returns the labels sent) and sorted by
    /// those labels. A series without samples in range is left out.
    pub(super) fn finish(
        mut self,
        skip_chunks: bool,
        relabel: impl Fn(Labels) -> Labels,
    ) -> Result<Vec<SeriesData>, StoreError> {
        let rest = std::mem::take(&mut self.partial);
        self.line(&rest)?;
        let mut series: Vec<SeriesData> = self
            .series
            .into_iter()
            .filter(|(_, samples)| !samples.timestamps.is_empty())
            .map(|(labels, samples)| SeriesData {
                labels: relabel(labels),
                chunks: if skip_chunks {
                    Vec::new()
                } else {
                    let (timestamps, values) = in_time_order(samples);
                    xor_chunks(&timestamps, &values)
                },
            })
            .collect();
        // Relabelling (external labels, replica labels removed) can reorder; stable, so
        // series that became equal keep VictoriaMetrics' order.
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(series)
    }
}

/// Samples sorted by time, one per timestamp (lines of one series may repeat or overlap).
fn in_time_order(samples: Samples) -> (Vec<i64>, Vec<f64>) {
    let Samples { timestamps, values } = samples;
    if timestamps.is_sorted_by(|a, b| a < b) {
        return (timestamps, values);
    }
    let mut pairs: Vec<(i64, f64)> = timestamps.into_iter().zip(values).collect();
    pairs.sort_by_key(|(t, _)| *t);
    pairs.dedup_by_key(|(t, _)| *t);
    pairs.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::XorDecoder;

    fn samples(series: &SeriesData) -> Vec<(i64, u64)> {
        series
            .chunks
            .iter()
            .flat_map(|c| XorDecoder::new(&c.data).unwrap().collect::<Vec<_>>())
            .map(|s| {
                let (t, v) = s.unwrap();
                (t, v.to_bits())
            })
            .collect()
    }

    #[test]
    fn lines_across_pieces_become_sorted_series_with_exact_values() {
        let body = concat!(
            r#"{"metric":{"__name__":"m","job":"b"},"values":[0.1,0.30000000000000004,"Infinity",null],"timestamps":[1000,2000,3000,4000]}"#,
            "\n",
            r#"{"metric":{"__name__":"m","job":"a"},"values":[2],"timestamps":[5000]}"#,
            "\n",
            r#"{"metric":{"__name__":"m","job":"a"},"values":[1,9],"timestamps":[1000,9000]}"#,
        );
        let mut assembler = Assembler::new(0, 8000, usize::MAX);
        for piece in body.as_bytes().chunks(7) {
            assembler.push(piece).unwrap();
        }
        let series = assembler.finish(false, |l| l).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].labels.get("job"), Some("a"));
        assert_eq!(
            samples(&series[0]),
            [(1000, 1f64.to_bits()), (5000, 2f64.to_bits())]
        );
        assert_eq!(
            samples(&series[1]),
            [
                (1000, 0.1f64.to_bits()),
                (2000, 0.30000000000000004f64.to_bits()),
                (3000, f64::INFINITY.to_bits()),
                (4000, STALE_NAN_BITS),
            ]
        );
    }

    #[test]
    fn garbage_and_size_are_errors_not_panics() {
        let mut assembler = Assembler::new(0, i64::MAX, usize::MAX);
        let err = assembler.push(b"<html>oops</html>\n").unwrap_err();
        assert!(matches!(err, StoreError::BadData(_)), "{err}");
        let mut assembler = Assembler::new(0, i64::MAX, usize::MAX);
        let err = assembler
            .push(br#"{"metric":{},"values":[1,2],"timestamps":[1]}"#)
            .and_then(|()| assembler.finish(false, |l| l).map(|_| ()))
            .unwrap_err();
        assert!(
            err.to_string().contains("2 values for 1 timestamps"),
            "{err}"
        );
        let mut assembler = Assembler::new(0, i64::MAX, 40);
        let line = br#"{"metric":{"a":"b"},"values":[1,2,3],"timestamps":[1,2,3]}"#;
        let err = assembler.push(&[&line[..], b"\n"].concat()).unwrap_err();
        assert!(matches!(err, StoreError::LimitExceeded(_)), "{err}");
    }
}
