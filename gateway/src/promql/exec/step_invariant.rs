//! A subtree with the same value at every step (the `step_invariant` optimizer marks it),
//! evaluated once at the first step and repeated. Its reads count at every step, as
//! Prometheus counts them.

use super::{Batch, BoxOperator, Operator, QueryContext, SeriesMeta, StepVector, Steps};
use crate::promql::error::EngineError;
use std::sync::Arc;

pub struct StepInvariantOp {
    ctx: QueryContext,
    /// The context the inner operator evaluates in: the query's, with its own stats.
    inner_ctx: QueryContext,
    inner: BoxOperator,
    steps: Steps,
    next_step: usize,
    /// The first step's vector, and the samples it read.
    value: Option<(StepVector, u64)>,
}

impl StepInvariantOp {
    /// `inner` is built over the first step of `steps` in `inner_ctx`.
    pub fn new(
        ctx: QueryContext,
        inner_ctx: QueryContext,
        inner: BoxOperator,
        steps: Steps,
    ) -> Self {
        Self {
            ctx,
            inner_ctx,
            inner,
            steps,
            next_step: 0,
            value: None,
        }
    }

    fn value(&mut self) -> Result<&(StepVector, u64), EngineError> {
        if self.value.is_none() {
            let first = self
                .inner
                .next()?
                .and_then(|batch| batch.into_iter().next())
                .unwrap_or_default();
            let read = self.inner_ctx.stats.summary();
            self.ctx.stats.note_held(read.peak);
            self.value = Some((first, read.total));
        }
        self.value
            .as_ref()
            .ok_or_else(|| EngineError::Execution("step invariant value missing".into()))
    }
}

impl Operator for StepInvariantOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        self.inner.series()
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let Some(mut batch) = self.steps.next_batch(&mut self.next_step) else {
            return Ok(None);
        };
        self.ctx.check("query execution")?;
        let ctx = self.ctx.clone();
        let (first, read) = self.value()?;
        for step in &mut batch {
            step.ids.clone_from(&first.ids);
            step.values.clone_from(&first.values);
            ctx.count_read(step.t, *read);
        }
        Ok(Some(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::EngineOptions;
    use crate::promql::exec::NumberOp;

    #[test]
    fn the_first_step_repeats_over_the_grid() {
        let ctx = QueryContext::new(
            Arc::new(EngineOptions::default()),
            0,
            100_000,
            Some(10_000),
            crate::promql::read::channel().0,
        );
        let steps = Steps {
            start: 0,
            end: 100_000,
            step: 10_000,
        };
        let inner = Box::new(NumberOp::new(7.0, Steps::instant(0)));
        let mut op = StepInvariantOp::new(ctx.clone(), ctx.with_own_stats(), inner, steps);
        let mut points = Vec::new();
        while let Some(batch) = op.next().ok().flatten() {
            points.extend(batch.into_iter().map(|s| (s.t, s.values)));
        }
        assert_eq!(points.len(), 11);
        assert!(points.iter().all(|(_, v)| v == &[7.0]));
        assert_eq!(points[10].0, 100_000);
    }
}
