//! `info(v, [selector])`: the input's series joined with the info series' data labels.

use super::Planner;
use crate::promql::error::EngineError;
use crate::promql::exec::info::{self, InfoOp, InfoSpec};
use crate::promql::exec::scan::VectorScan;
use crate::promql::exec::{BoxOperator, Deferred, Steps};
use crate::promql::logical::Expr;
use crate::promql::read::Read;

impl Planner {
    /// `info(v, [selector])`: the input, then the info series that may join it, read over
    /// the window the input's reference time needs.
    pub(super) fn info(&self, args: &[Expr], steps: Steps) -> Result<BoxOperator, EngineError> {
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
        let mut input = self.build(&args[0], steps)?;
        let time = info::reference_time(&args[0], &|t| self.eval_time(t));
        let lookback = self.ctx.options.lookback_delta_ms;
        let ctx = self.ctx.clone();
        // Which info series may join depends on the input's series: read them when pulled.
        Ok(Box::new(Deferred::new(move || {
            let input_series = input.series()?;
            let data = match spec.fetch_matchers(&input_series)? {
                Some(matchers) => ctx.read_series(Read {
                    matchers,
                    min_time: time
                        .at(steps.start)
                        .saturating_sub(lookback)
                        .saturating_add(1),
                    max_time: time.at(steps.end),
                })?,
                None => Vec::new(),
            };
            let scan = VectorScan::new(ctx.clone(), steps, time, data, true)?;
            Ok(
                Box::new(InfoOp::new(ctx, spec, input, input_series, Box::new(scan)))
                    as BoxOperator,
            )
        })))
    }
}
