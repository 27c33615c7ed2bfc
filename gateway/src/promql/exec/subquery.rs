//! Draining an operator into a matrix: the points of a subquery, which range functions then
//! read like raw samples, and the rows of a range query's result.

use super::{BoxOperator, QueryContext, SeriesMeta};
use crate::promql::error::EngineError;
use std::sync::Arc;

/// Every series' points, in step order, with the operator's series.
pub struct Matrix {
    pub series: Arc<[SeriesMeta]>,
    pub timestamps: Vec<Vec<i64>>,
    pub values: Vec<Vec<f64>>,
    /// In output order of the first step (for instant queries of ordering functions).
    pub first_step_order: Vec<usize>,
}

/// Evaluates `op` over all its steps. Points count towards the query's sample limit until
/// the caller releases them.
pub fn evaluate_matrix(ctx: &QueryContext, mut op: BoxOperator) -> Result<Matrix, EngineError> {
    let series = op.series()?;
    let mut timestamps = vec![Vec::new(); series.len()];
    let mut values = vec![Vec::new(); series.len()];
    let mut first_step_order = None;
    while let Some(batch) = op.next()? {
        for step in batch {
            ctx.hold_samples(step.len())?;
            if first_step_order.is_none() {
                first_step_order = Some(step.ids.clone());
            }
            for (&id, &v) in step.ids.iter().zip(&step.values) {
                timestamps[id].push(step.t);
                values[id].push(v);
            }
        }
    }
    Ok(Matrix {
        series,
        timestamps,
        values,
        first_step_order: first_step_order.unwrap_or_default(),
    })
}
