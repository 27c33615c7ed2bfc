//! `info(v, [selector])`: the input's series joined with the info series' data labels.

use super::Planner;
use crate::promql::error::EngineError;
use crate::promql::exec::info::{self, InfoOp, InfoSpec};
use crate::promql::exec::scan::VectorScan;
use crate::promql::exec::{BoxOperator, Steps};
use crate::promql::logical::{Expr, Selector, TimeModifier};

impl Planner<'_> {
    /// `info(v, [selector])`: the input, then the info series that may join it, fetched over
    /// the window the input's reference time needs.
    pub(super) async fn info(
        &self,
        args: &[Expr],
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let matchers = match args.get(1) {
            None => None,
            Some(Expr::Selector(selector)) => Some(selector.matchers.as_slice()),
            Some(_) => {
                return Err(EngineError::BadData(
                    "info's second argument must be a label selector".into(),
                ));
            }
        };
        let spec = InfoSpec::new(matchers)?;
        let mut input = self.build(&args[0], steps).await?;
        let input_series = input.series()?;
        let time = info::reference_time(&args[0], &|t| self.eval_time(t));
        let data = match spec.fetch_matchers(&input_series)? {
            Some(matchers) => {
                let (first, last) = self.eval_span(time, steps);
                let lookback = self.ctx.options.lookback_delta_ms;
                let selector = Selector {
                    matchers,
                    time: TimeModifier::default(),
                    extension: None,
                };
                self.select(
                    &selector,
                    first.saturating_sub(lookback).saturating_add(1),
                    last,
                )
                .await?
            }
            None => Vec::new(),
        };
        let scan = VectorScan::new(self.ctx.clone(), steps, time, data, true)?;
        Ok(Box::new(InfoOp::new(
            self.ctx.clone(),
            spec,
            input,
            input_series,
            Box::new(scan),
        )))
    }
}
