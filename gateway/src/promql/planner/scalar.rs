//! `pi()`, `min_of()`, `max_of()`, `vector()` and `scalar()`: scalars, and the conversions
//! between scalars and vectors.

use super::Planner;
use crate::promql::error::EngineError;
use crate::promql::exec::function::{MapOp, RelabelOp, ScalarOp};
use crate::promql::exec::{BoxOperator, NumberOp, SeriesMeta, Steps};
use crate::promql::logical::Expr;
use store_api::Labels;

impl Planner {
    /// `pi()`: Go's math.Pi, which is `std::f64::consts::PI`.
    pub(super) fn pi(&self, steps: Steps) -> BoxOperator {
        Box::new(NumberOp::new(std::f64::consts::PI, steps))
    }

    /// `min_of(a, b)` and `max_of(a, b)`: `pick` is `math::go_min` or `math::go_max`.
    pub(super) fn pick_of(
        &self,
        args: &[Expr],
        steps: Steps,
        pick: fn(f64, f64) -> f64,
    ) -> Result<BoxOperator, EngineError> {
        let first = self.build(&args[0], steps)?;
        let second = self.build(&args[1], steps)?;
        Ok(Box::new(MapOp::new(
            first,
            vec![second],
            false,
            Box::new(move |v, a| Some(pick(v, a[0]))),
        )))
    }

    /// `vector(s)`: the scalar as one series without labels.
    pub(super) fn vector(&self, arg: &Expr, steps: Steps) -> Result<BoxOperator, EngineError> {
        let input = self.build(arg, steps)?;
        Ok(Box::new(RelabelOp::new(
            input,
            Box::new(|_| Ok(SeriesMeta::new(Labels::new()))),
        )))
    }

    /// `scalar(v)`: the single float sample's value, else NaN.
    pub(super) fn scalar(&self, arg: &Expr, steps: Steps) -> Result<BoxOperator, EngineError> {
        Ok(Box::new(ScalarOp::new(self.build(arg, steps)?)))
    }
}
