//! Turning operator output into a query result: final labels (delayed `__name__` removal),
//! the duplicate-labelset check, result ordering.

use super::error::EngineError;
use super::exec::subquery::Matrix;
use super::value::{InstantSample, RangeSeries};
use std::collections::HashMap;
use store_api::Labels;

fn duplicate_labelset() -> EngineError {
    EngineError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// An instant vector from one evaluated step, in the operator's output order.
pub fn instant_vector(matrix: &Matrix, t: i64) -> Result<Vec<InstantSample>, EngineError> {
    let mut seen: HashMap<Labels, ()> = HashMap::new();
    let mut out = Vec::with_capacity(matrix.first_step_order.len());
    for &id in &matrix.first_step_order {
        let labels = matrix.series[id].final_labels();
        if seen.insert(labels.clone(), ()).is_some() {
            return Err(duplicate_labelset());
        }
        let Some(&v) = matrix.values[id].first() else {
            continue;
        };
        out.push(InstantSample { labels, t, v });
    }
    Ok(out)
}

/// A range result: series with the same final labels are joined (they must not share a
/// step), empty ones dropped, the rest sorted by labels.
pub fn range_matrix(matrix: Matrix) -> Result<Vec<RangeSeries>, EngineError> {
    let mut by_labels: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
    for (id, meta) in matrix.series.iter().enumerate() {
        if matrix.timestamps[id].is_empty() {
            continue;
        }
        let points = matrix.timestamps[id]
            .iter()
            .copied()
            .zip(matrix.values[id].iter().copied());
        match by_labels.entry(meta.final_labels()) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(points.collect());
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let existing = e.get_mut();
                existing.extend(points);
                existing.sort_by_key(|p| p.0);
                if existing.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err(duplicate_labelset());
                }
            }
        }
    }
    let mut out: Vec<RangeSeries> = by_labels
        .into_iter()
        .map(|(labels, points)| RangeSeries { labels, points })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}
