//! `time()`, `start()`, `end()`, `range()`, `step()` and `timestamp()`: the query's and the
//! samples' times, in seconds.

use super::Planner;
use crate::promql::error::EngineError;
use crate::promql::exec::function::{MapOp, TimestampOp};
use crate::promql::exec::{BoxOperator, NumberOp, StepTimeOp, Steps};
use crate::promql::logical::Expr;

impl Planner {
    /// `time()`: the evaluation time of each step.
    pub(super) fn time(&self, steps: Steps) -> BoxOperator {
        Box::new(StepTimeOp::new(steps, None))
    }

    /// `start()`, `end()`, `range()` and `step()`: the query's own bounds and step, whatever
    /// step is evaluated.
    pub(super) fn query_seconds(&self, ms: i64, steps: Steps) -> BoxOperator {
        Box::new(NumberOp::new(ms as f64 / 1000.0, steps))
    }

    /// `timestamp(v)`: a selector's sample times, read by the scan itself; a computed
    /// vector's samples have the evaluation time.
    pub(super) fn timestamp(&self, arg: &Expr, steps: Steps) -> Result<BoxOperator, EngineError> {
        Ok(match arg {
            Expr::Selector(selector) => {
                let scan = self.vector_scan(selector, steps, true)?;
                Box::new(MapOp::new(scan, Vec::new(), true, Box::new(|v, _| Some(v))))
            }
            other => Box::new(TimestampOp::new(self.build(other, steps)?)),
        })
    }
}
