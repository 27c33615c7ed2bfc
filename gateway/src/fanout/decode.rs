//! From a merged series to samples: each endpoint's chunks decoded and trimmed, replicas
//! de-duplicated. A part whose chunks cannot be decoded is dropped with a warning naming
//! its endpoint (partial response) or fails the request (abort).

use super::dedup::{DedupAlgorithm, Replica, SeriesHint};
use super::merge::MergedSeries;
use crate::promql::storage::trim_to_range;
use store_api::PartialResponse;
use store_api::chunk::{ChunkEncoding, decode_into, num_samples};
use store_api::labels::METRIC_NAME;

/// Samples of one series, columnar.
#[derive(Debug, Default)]
pub struct Samples {
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// Decodes, trims to [min, max] and de-duplicates `series`. Warnings for dropped parts are
/// appended to `warnings`; with the abort strategy the first bad part is the error.
pub fn samples(
    series: &MergedSeries,
    min: i64,
    max: i64,
    dedup: DedupAlgorithm,
    strategy: PartialResponse,
    warnings: &mut Vec<String>,
) -> Result<Samples, String> {
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
                continue;
            }
            if let Err(err) = decode_into(&chunk.data, &mut samples.timestamps, &mut samples.values)
            {
                failed = Some(err);
                break;
            }
        }
        if let Some(err) = failed {
            let message = format!(
                "endpoint {}: series {}: bad chunk: {err}",
                part.endpoint, series.labels
            );
            match strategy {
                PartialResponse::Abort => return Err(message),
                PartialResponse::Warn => {
                    warnings.push(message);
                    continue;
                }
            }
        }
        trim_to_range(&mut samples.timestamps, &mut samples.values, min, max);
        decoded.push(samples);
    }
    if decoded.len() <= 1 {
        return Ok(decoded.pop().unwrap_or_default());
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
    dedup.merge(&replicas, hint, &mut out.timestamps, &mut out.values);
    Ok(out)
}
