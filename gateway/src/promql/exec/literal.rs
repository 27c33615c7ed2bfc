//! Scalars without inputs: number literals and `time()`. A scalar is one series with no
//! labels, present at every step.

use super::{BATCH_STEPS, Batch, Operator, SeriesMeta, StepVector, Steps};
use crate::promql::error::EngineError;
use std::sync::Arc;
use store_api::Labels;

fn scalar_series() -> Arc<[SeriesMeta]> {
    Arc::from(vec![SeriesMeta::new(Labels::new())])
}

/// Emits batches of one value per step, computed from the step time.
fn scalar_batch(steps: &Steps, next: &mut usize, value: impl Fn(i64) -> f64) -> Option<Batch> {
    let total = steps.count();
    if *next >= total {
        return None;
    }
    let end = (*next + BATCH_STEPS).min(total);
    let batch = (*next..end)
        .map(|i| {
            let t = steps.time(i);
            let mut out = StepVector::new(t);
            out.push(0, value(t));
            out
        })
        .collect();
    *next = end;
    Some(batch)
}

/// A number literal.
pub struct NumberOp {
    value: f64,
    steps: Steps,
    next_step: usize,
}

impl NumberOp {
    pub fn new(value: f64, steps: Steps) -> Self {
        Self {
            value,
            steps,
            next_step: 0,
        }
    }
}

impl Operator for NumberOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        Ok(scalar_series())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let value = self.value;
        Ok(scalar_batch(&self.steps, &mut self.next_step, |_| value))
    }
}

/// `time()`: the evaluation time in seconds (or a fixed time under `@`).
pub struct StepTimeOp {
    steps: Steps,
    fixed_ms: Option<i64>,
    next_step: usize,
}

impl StepTimeOp {
    pub fn new(steps: Steps, fixed_ms: Option<i64>) -> Self {
        Self {
            steps,
            fixed_ms,
            next_step: 0,
        }
    }
}

impl Operator for StepTimeOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        Ok(scalar_series())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let fixed = self.fixed_ms;
        Ok(scalar_batch(&self.steps, &mut self.next_step, |t| {
            fixed.unwrap_or(t) as f64 / 1000.0
        }))
    }
}
