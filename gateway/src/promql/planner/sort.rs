//! `sort()`, `sort_desc()`, `sort_by_label()` and `sort_by_label_desc()`.

use super::{Planner, Positions, string_args};
use crate::promql::error::EngineError;
use crate::promql::exec::function::{SortOp, SortOrder};
use crate::promql::exec::{BoxOperator, Steps};
use crate::promql::functions::Position;
use crate::promql::logical::Expr;

impl Planner {
    /// `sort(v)` (`ValueAsc`) and `sort_desc(v)` (`ValueDesc`): NaN last either way.
    pub(super) fn sort_by_value(
        &self,
        args: &[Expr],
        pos: &Positions<'_>,
        steps: Steps,
        order: SortOrder,
    ) -> Result<BoxOperator, EngineError> {
        let input = self.build(&args[0], steps)?;
        if !self.sorting_matters(pos.call) {
            return Ok(input);
        }
        Ok(Box::new(SortOp::new(input, order)))
    }

    /// `sort_by_label(v, l...)` and `sort_by_label_desc`: natural order of the label values.
    pub(super) fn sort_by_label(
        &self,
        args: &[Expr],
        pos: &Positions<'_>,
        steps: Steps,
        descending: bool,
    ) -> Result<BoxOperator, EngineError> {
        let input = self.build(&args[0], steps)?;
        let names = string_args(&args[1..])?;
        if !self.sorting_matters(pos.call) {
            return Ok(input);
        }
        Ok(Box::new(SortOp::new(
            input,
            SortOrder::Labels { names, descending },
        )))
    }

    /// Sorting means nothing in a range query (results are ordered by labels): say so, and
    /// skip the work.
    fn sorting_matters(&self, pos: Option<Position>) -> bool {
        if self.ctx.range_query {
            self.ctx.annotations().sort_in_range_query(pos);
        }
        !self.ctx.range_query
    }
}
