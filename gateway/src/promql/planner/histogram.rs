//! `histogram_quantile()`, `histogram_quantiles()` and `histogram_fraction()` over classic
//! buckets.

use super::{Planner, Positions};
use crate::promql::error::EngineError;
use crate::promql::exec::function::{ClassicHistogramOp, HistogramCalc};
use crate::promql::exec::{BoxOperator, Steps};
use crate::promql::logical::Expr;

impl Planner {
    /// `histogram_quantile(φ, buckets)`.
    pub(super) fn histogram_quantile(
        &self,
        args: &[Expr],
        pos: &Positions<'_>,
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let phi = self.build(&args[0], steps)?;
        let input = self.build(&args[1], steps)?;
        Ok(Box::new(ClassicHistogramOp::new(
            self.ctx.clone(),
            HistogramCalc::Quantile {
                phi,
                phi_pos: pos.arg(0),
            },
            input,
            pos.arg(1),
        )))
    }

    /// `histogram_fraction(lower, upper, buckets)`.
    pub(super) fn histogram_fraction(
        &self,
        args: &[Expr],
        pos: &Positions<'_>,
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let lower = self.build(&args[0], steps)?;
        let upper = self.build(&args[1], steps)?;
        let input = self.build(&args[2], steps)?;
        Ok(Box::new(ClassicHistogramOp::new(
            self.ctx.clone(),
            HistogramCalc::Fraction { lower, upper },
            input,
            pos.arg(2),
        )))
    }

    /// `histogram_quantiles(buckets, label, φ...)`: the φs must be number literals, each
    /// checked where it is written.
    pub(super) fn histogram_quantiles(
        &self,
        args: &[Expr],
        pos: &Positions<'_>,
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let input = self.build(&args[0], steps)?;
        let label = match args.get(1) {
            Some(Expr::String(label)) => label.clone(),
            _ => {
                return Err(EngineError::BadData(
                    "histogram_quantiles needs a label name".into(),
                ));
            }
        };
        let phis = args[2..]
            .iter()
            .map(|a| match a {
                Expr::Number(n) => Ok(*n),
                _ => Err(EngineError::BadData(
                    "histogram_quantiles needs number literals".into(),
                )),
            })
            .collect::<Result<Vec<f64>, _>>()?;
        for (i, phi) in phis.iter().enumerate() {
            self.ctx.annotations().check_quantile(*phi, pos.arg(2 + i));
        }
        Ok(Box::new(ClassicHistogramOp::new(
            self.ctx.clone(),
            HistogramCalc::Quantiles { label, phis },
            input,
            pos.arg(0),
        )))
    }
}
