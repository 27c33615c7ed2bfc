//! From a merged series to samples: each endpoint's chunks decoded, replicas de-duplicated
//! over the range read (the dedup also sees what the chunks hold around it). A part whose
//! chunks cannot be decoded (corrupt, or of an encoding not read yet: native histograms) is
//! dropped with a warning naming its endpoint and series (partial response) or fails the
//! request (abort).

use super::dedup::{DedupAlgorithm, Replica, SeriesHint};
use super::merge::MergedSeries;
use super::metrics::FanoutMetrics;
use store_api::chunk::{ChunkEncoding, decode_into, num_samples, trim_to_range};
use store_api::labels::METRIC_NAME;
use store_api::{PartialResponse, StoreError};

/// Samples of one series, columnar.
#[derive(Debug, Default)]
pub struct Samples {
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// Decodes `series` and de-duplicates it within [min, max], counted in `metrics`. Warnings
/// for dropped parts are appended to `warnings`; with the abort strategy the first bad part
/// is the error.
pub fn samples(
    series: &MergedSeries,
    min: i64,
    max: i64,
    dedup: DedupAlgorithm,
    strategy: PartialResponse,
    metrics: &FanoutMetrics,
    warnings: &mut Vec<String>,
) -> Result<Samples, StoreError> {
    let mut decoded: Vec<Samples> = Vec::with_capacity(series.parts.len());
    for part in &series.parts {
        // Every chunk's header says how many samples it holds: allocate once, exactly, rather
        // than letting the vectors double (up to twice the memory) while decoding.
        let expected: usize = part
            .series
            .chunks
            .iter()
            .filter(|c| c.encoding == ChunkEncoding::Xor)
            .map(|c| usize::from(num_samples(&c.data).unwrap_or(0)))
            .sum();
        let mut samples = Samples {
            timestamps: Vec::with_capacity(expected),
            values: Vec::with_capacity(expected),
        };
        let mut failed = None;
        for chunk in &part.series.chunks {
            if chunk.encoding != ChunkEncoding::Xor {
                // Native histograms: not decoded yet, and never dropped without a word.
                let encoding = match chunk.encoding {
                    ChunkEncoding::FloatHistogram => "FLOAT_HISTOGRAM",
                    _ => "HISTOGRAM",
                };
                failed = Some(format!(
                    "{encoding} chunks (native histograms) are not read yet"
                ));
                break;
            }
            if let Err(err) = decode_into(&chunk.data, &mut samples.timestamps, &mut samples.values)
            {
                failed = Some(format!("bad chunk: {err}"));
                break;
            }
        }
        if let Some(err) = failed {
            let message = format!(
                "endpoint {}: series {}: {err}",
                part.endpoint, series.labels
            );
            match strategy {
                PartialResponse::Abort => return Err(StoreError::BadData(message)),
                PartialResponse::Warn => {
                    warnings.push(message);
                    continue;
                }
            }
        }
        decoded.push(samples);
    }
    if decoded.len() <= 1 {
        let mut only = decoded.pop().unwrap_or_default();
        trim_to_range(&mut only.timestamps, &mut only.values, min, max);
        metrics.decoded(only.timestamps.len(), None);
        return Ok(only);
    }
    let replicas: Vec<Replica<'_>> = decoded
        .iter()
        .map(|s| Replica {
            timestamps: &s.timestamps,
            values: &s.values,
        })
        .collect();
    let hint = SeriesHint::from_metric_name(series.labels.get(METRIC_NAME).unwrap_or(""));
    let mut out = Samples::default();
    let switches = dedup.merge_within(
        &replicas,
        hint,
        (min, max),
        &mut out.timestamps,
        &mut out.values,
    );
    metrics.decoded(out.timestamps.len(), Some(switches));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::merge::Part;
    use store_api::chunk::xor_chunks;
    use store_api::{Labels, SeriesData};

    /// One series from two replicas: `a` with XOR chunks, `b` with chunks of `encoding`.
    fn series(encoding: ChunkEncoding) -> MergedSeries {
        let labels = Labels::from_pairs([("__name__", "m")]);
        let good = xor_chunks(&[1, 2, 3], &[1.0, 2.0, 3.0]);
        let mut other = good.clone();
        for chunk in &mut other {
            chunk.encoding = encoding;
        }
        let part = |endpoint: &str, chunks| Part {
            endpoint: endpoint.into(),
            series: SeriesData {
                labels: labels.clone(),
                chunks,
            },
        };
        MergedSeries {
            labels: labels.clone(),
            parts: vec![part("a:1", good), part("b:1", other)],
        }
    }

    #[test]
    fn chunks_it_cannot_read_are_named_never_dropped_silently() {
        for (encoding, name) in [
            (ChunkEncoding::Histogram, "HISTOGRAM"),
            (ChunkEncoding::FloatHistogram, "FLOAT_HISTOGRAM"),
        ] {
            let merged = series(encoding);
            let mut warnings = Vec::new();
            let read = samples(
                &merged,
                0,
                10,
                DedupAlgorithm::default(),
                PartialResponse::Warn,
                &FanoutMetrics::default(),
                &mut warnings,
            )
            .unwrap();
            assert_eq!(read.values, [1.0, 2.0, 3.0], "the readable replica's data");
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(
                warnings[0].starts_with("endpoint b:1: series {__name__=\"m\"}: ")
                    && warnings[0].contains(name),
                "{warnings:?}"
            );
            let aborted = samples(
                &merged,
                0,
                10,
                DedupAlgorithm::default(),
                PartialResponse::Abort,
                &FanoutMetrics::default(),
                &mut Vec::new(),
            );
            assert!(
                aborted.is_err_and(|e| e.message().contains(name) && e.message().contains("b:1"))
            );
        }
    }
}
