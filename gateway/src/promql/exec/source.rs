//! What a range function reads, resolved when the function is first pulled: a matrix
//! selector's raw samples, read then, or a subquery's points, evaluated then on the same
//! thread.

use super::range::RangeSource;
use super::scan::EvalTime;
use super::shared_read::SelectorRead;
use super::{BoxOperator, QueryContext, SeriesMeta, evaluate_matrix};
use crate::promql::error::EngineError;
use crate::promql::logical::Extension;
use crate::promql::storage::SeriesSamples;
use crate::promql::value::is_stale_nan;

pub enum RangeInput {
    Selector {
        read: SelectorRead,
        time: EvalTime,
        range_ms: i64,
        extension: Option<Extension>,
    },
    Subquery {
        /// The inner expression over the grid the outer steps need.
        inner: BoxOperator,
        /// The inner evaluation's context (uncounted under a function).
        ctx: QueryContext,
        time: EvalTime,
        range_ms: i64,
    },
}

impl RangeInput {
    pub fn resolve(self, ctx: &QueryContext) -> Result<RangeSource, EngineError> {
        match self {
            Self::Selector {
                read,
                time,
                range_ms,
                extension,
            } => {
                let mut source = RangeSource {
                    time,
                    range_ms,
                    extension,
                    ..Default::default()
                };
                for mut s in read.series(ctx)? {
                    drop_stale_markers(&mut s);
                    source.series.push(SeriesMeta::new(s.labels));
                    source.timestamps.push(s.timestamps);
                    source.values.push(s.values);
                    source.start_timestamps.push(s.start_timestamps);
                }
                Ok(source)
            }
            Self::Subquery {
                inner,
                ctx,
                time,
                range_ms,
            } => {
                let matrix = evaluate_matrix(&ctx, inner)?;
                Ok(RangeSource {
                    series: matrix.series.to_vec(),
                    timestamps: matrix.timestamps,
                    values: matrix.values,
                    // A subquery's points are evaluated, not sampled: they have no start.
                    start_timestamps: Vec::new(),
                    time,
                    range_ms,
                    extension: None,
                })
            }
        }
    }
}

/// Removes the staleness markers, which range functions never see, with their start
/// timestamps. Most series have none and keep their vectors as they are.
fn drop_stale_markers(s: &mut SeriesSamples) {
    if !s.values.iter().any(|v| is_stale_nan(*v)) {
        return;
    }
    let mut kept = 0;
    for i in 0..s.values.len() {
        if !is_stale_nan(s.values[i]) {
            s.timestamps[kept] = s.timestamps[i];
            s.values[kept] = s.values[i];
            if let Some(&start) = s.start_timestamps.get(i) {
                s.start_timestamps[kept] = start;
            }
            kept += 1;
        }
    }
    s.timestamps.truncate(kept);
    s.values.truncate(kept);
    s.start_timestamps.truncate(kept);
}
