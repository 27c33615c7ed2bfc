//! `label_replace()` and `label_join()`: relabelling each series.

use super::{Planner, string_args};
use crate::promql::error::EngineError;
use crate::promql::exec::function::RelabelOp;
use crate::promql::exec::{BoxOperator, SeriesMeta, Steps};
use crate::promql::functions::{LabelJoin, LabelReplace};
use crate::promql::logical::Expr;
use store_api::labels::METRIC_NAME;

impl Planner {
    /// `label_replace(v, dst, replacement, src, regex)`.
    pub(super) fn label_replace(
        &self,
        args: &[Expr],
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let input = self.build(&args[0], steps)?;
        let strings = string_args(&args[1..])?;
        let [dst, replacement, src, regex] = <[String; 4]>::try_from(strings)
            .map_err(|_| EngineError::BadData("label_replace takes 5 arguments".into()))?;
        let replace = LabelReplace::new(&dst, &replacement, &src, &regex)?;
        Ok(Box::new(RelabelOp::new(
            input,
            Box::new(move |meta| {
                Ok(SeriesMeta {
                    labels: replace.apply(&meta.labels),
                    drop_name: meta.drop_name && replace.destination() != METRIC_NAME,
                })
            }),
        )))
    }

    /// `label_join(v, dst, separator, src...)`.
    pub(super) fn label_join(
        &self,
        args: &[Expr],
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let input = self.build(&args[0], steps)?;
        let strings = string_args(&args[1..])?;
        let (dst, rest) = strings
            .split_first()
            .ok_or_else(|| EngineError::BadData("label_join needs a destination".into()))?;
        let (separator, sources) = rest
            .split_first()
            .ok_or_else(|| EngineError::BadData("label_join needs a separator".into()))?;
        let join = LabelJoin::new(dst, separator, sources)?;
        Ok(Box::new(RelabelOp::new(
            input,
            Box::new(move |meta| {
                Ok(SeriesMeta {
                    labels: join.apply(&meta.labels),
                    drop_name: meta.drop_name && join.destination() != METRIC_NAME,
                })
            }),
        )))
    }
}
