//! `absent()` and `absent_over_time()`: one series when the argument has none.

use super::Planner;
use crate::promql::error::EngineError;
use crate::promql::exec::function::AbsentOp;
use crate::promql::exec::{BoxOperator, Steps};
use crate::promql::functions::RangeFunction;
use crate::promql::logical::Expr;
use store_api::Labels;

impl Planner {
    /// `absent(v)`.
    pub(super) fn absent(&self, arg: &Expr, steps: Steps) -> Result<BoxOperator, EngineError> {
        let input = self.build(arg, steps)?;
        Ok(Box::new(AbsentOp::new(input, absent_labels(arg))))
    }

    /// `absent_over_time(m)`: `absent` of `present_over_time(m)`.
    pub(super) fn absent_over_time(
        &self,
        arg: &Expr,
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let input = self.matrix_input(arg, steps)?;
        let present = self.range_function(
            RangeFunction::PresentOverTime,
            input,
            Vec::new(),
            steps,
            None,
        );
        Ok(Box::new(AbsentOp::new(present, absent_labels(arg))))
    }
}

/// The labels `absent()` reports: the equality matchers of a plain selector, except a name
/// matched twice and the metric name.
fn absent_labels(arg: &Expr) -> Labels {
    let selector = match arg {
        Expr::Selector(s) => s,
        Expr::Matrix { selector, .. } => selector,
        _ => return Labels::new(),
    };
    let mut labels = Labels::new();
    for (name, value) in selector.equality_labels() {
        let matched_once = selector
            .matchers
            .iter()
            .filter(|m| m.name() == name)
            .count()
            == 1;
        if name != store_api::labels::METRIC_NAME && matched_once {
            labels.set(name.to_string(), value.to_string());
        }
    }
    labels
}
