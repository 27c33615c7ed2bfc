//! From the logical plan to physical operators, reading each selector's series from storage
//! as it is reached. The functions the engine implements itself ([`SpecialFunction`]) are
//! built one family per file beside this one (`time`, `scalar`, `absent`, `sort`, `labels`,
//! `histogram`, `info`); `special` only dispatches to them.

mod absent;
mod histogram;
mod info;
mod labels;
mod scalar;
mod sort;
mod time;

use super::error::EngineError;
use super::exec::aggregate::AggregateOp;
use super::exec::binary::{BinaryOp, Operand};
use super::exec::function::{Collision, MapOp, RelabelOp, SortOrder};
use super::exec::range::{RangeFunctionOp, RangeSource};
use super::exec::scan::{EvalTime, VectorScan};
use super::exec::{BoxOperator, NumberOp, QueryContext, SeriesMeta, StepTimeOp, Steps};
use super::functions::{self, Function, FunctionKind, Position, SpecialFunction, ValueType};
use super::logical::{At, Expr, Extension, Selector, TimeModifier};
use super::operators::{Aggregation, BinaryKind, VectorMatching};
use super::storage::{SelectRequest, SeriesSamples, Storage};
use super::value::is_stale_nan;
use futures_util::future::BoxFuture;
use store_api::Labels;

pub struct Planner<'a> {
    pub ctx: QueryContext,
    pub storage: &'a dyn Storage,
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl<'a> Planner<'a> {
    pub fn new(ctx: QueryContext, storage: &'a dyn Storage) -> Self {
        Self {
            ctx,
            storage,
            warnings: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn eval_time(&self, time: &TimeModifier) -> EvalTime {
        EvalTime {
            offset_ms: time.offset_ms,
            at_ms: time.at.map(|at| match at {
                At::Time(t) => t,
                At::Start => self.ctx.query_start,
                At::End => self.ctx.query_end,
            }),
        }
    }

    /// The first and last evaluation times of a selector over `steps`.
    fn eval_span(&self, time: EvalTime, steps: Steps) -> (i64, i64) {
        (time.at(steps.start), time.at(steps.end))
    }

    async fn select(
        &self,
        selector: &Selector,
        min_time: i64,
        max_time: i64,
    ) -> Result<Vec<SeriesSamples>, EngineError> {
        self.ctx.check("query preparation")?;
        let result = self
            .storage
            .select(SelectRequest {
                matchers: selector.matchers.clone(),
                min_time,
                max_time,
                max_samples: self.ctx.samples_left(),
                max_series: self.ctx.series_left(),
            })
            .await?;
        self.ctx.hold_series(result.series.len())?;
        if let Ok(mut warnings) = self.warnings.lock() {
            warnings.extend(result.warnings);
        }
        Ok(result.series)
    }

    /// Raw samples for a range function or a top-level matrix: staleness markers removed.
    pub async fn range_source(
        &self,
        selector: &Selector,
        range_ms: i64,
        steps: Steps,
    ) -> Result<RangeSource, EngineError> {
        let time = self.eval_time(&selector.time);
        let (first, last) = self.eval_span(time, steps);
        let (before, after) = self.extension_reach(selector.extension);
        let series = self
            .select(
                selector,
                first
                    .saturating_sub(range_ms)
                    .saturating_sub(before)
                    .saturating_add(1),
                last.saturating_add(after),
            )
            .await?;
        let mut source = RangeSource {
            time,
            range_ms,
            extension: selector.extension,
            ..Default::default()
        };
        for mut s in series {
            drop_stale_markers(&mut s);
            source.series.push(SeriesMeta::new(s.labels));
            source.timestamps.push(s.timestamps);
            source.values.push(s.values);
            source.start_timestamps.push(s.start_timestamps);
        }
        Ok(source)
    }

    /// How far before a window's start and after its end a modifier reads samples: `anchored`
    /// the one at or before the start, `smoothed` also the one after the end, each within the
    /// lookback delta.
    fn extension_reach(&self, extension: Option<Extension>) -> (i64, i64) {
        let lookback = self.ctx.options.lookback_delta_ms;
        match extension {
            None => (0, 0),
            Some(Extension::Anchored) => (lookback, 0),
            Some(Extension::Smoothed) => (lookback, lookback),
        }
    }

    /// A subquery's points over the grid its outer steps need, as a range source.
    pub fn subquery_source<'b>(
        &'b self,
        expr: &'b Expr,
        range_ms: i64,
        step_ms: i64,
        time: &'b TimeModifier,
        steps: Steps,
    ) -> BoxFuture<'b, Result<RangeSource, EngineError>> {
        Box::pin(async move {
            let eval_time = self.eval_time(time);
            let (first, last) = self.eval_span(eval_time, steps);
            let start = first.saturating_sub(range_ms);
            // The first multiple of the step at or after `start`.
            if step_ms <= 0 {
                return Err(EngineError::BadData(
                    "zero or negative subquery step widths are not accepted".into(),
                ));
            }
            let aligned = start.div_euclid(step_ms).saturating_mul(step_ms);
            let aligned = if aligned < start {
                aligned.saturating_add(step_ms)
            } else {
                aligned
            };
            let inner_steps = Steps {
                start: aligned,
                end: last,
                step: step_ms,
            };
            let inner = self.build(expr, inner_steps).await?;
            // On a blocking thread, as the whole query is: a subquery can be as costly.
            let matrix = super::evaluate(&self.ctx, inner).await?;
            Ok(RangeSource {
                series: matrix.series.to_vec(),
                timestamps: matrix.timestamps,
                values: matrix.values,
                // A subquery's points are evaluated, not sampled: they have no start.
                start_timestamps: Vec::new(),
                time: eval_time,
                range_ms,
                extension: None,
            })
        })
    }

    /// The operator evaluating `expr` at every step of `steps`.
    pub fn build<'b>(
        &'b self,
        expr: &'b Expr,
        steps: Steps,
    ) -> BoxFuture<'b, Result<BoxOperator, EngineError>> {
        Box::pin(async move {
            let op = match expr {
                Expr::Number(n) => Box::new(NumberOp::new(*n, steps)) as BoxOperator,
                Expr::String(_) => {
                    return Err(EngineError::BadData("unexpected string expression".into()));
                }
                Expr::Selector(selector) => self.vector_scan(selector, steps, false).await?,
                Expr::Matrix { .. } | Expr::Subquery { .. } => {
                    return Err(EngineError::BadData(
                        "a range vector can only be an argument of a function".into(),
                    ));
                }
                Expr::Neg(inner) => {
                    let input = self.build(inner, steps).await?;
                    let drop = inner.value_type() == ValueType::Vector;
                    Box::new(MapOp::new(
                        input,
                        Vec::new(),
                        drop,
                        Box::new(|v, _| Some(-v)),
                    ))
                }
                Expr::Binary {
                    kind,
                    lhs,
                    rhs,
                    return_bool,
                    matching,
                } => {
                    self.binary(*kind, lhs, rhs, *return_bool, matching, steps)
                        .await?
                }
                Expr::Aggregate {
                    op,
                    expr,
                    param,
                    grouping,
                    param_pos,
                } => {
                    let input = self.build(expr, steps).await?;
                    let (param_op, label) = match (op, param) {
                        (Aggregation::CountValues, Some(p)) => match p.as_ref() {
                            Expr::String(s) => (None, Some(s.clone())),
                            _ => {
                                return Err(EngineError::BadData(
                                    "count_values needs a label name".into(),
                                ));
                            }
                        },
                        (_, Some(p)) => (Some(self.build(p, steps).await?), None),
                        (_, None) => (None, None),
                    };
                    if let Some(label) = &label
                        && !functions::labels::valid_label_name(label)
                    {
                        return Err(EngineError::Execution(format!(
                            "invalid label name {label:?}"
                        )));
                    }
                    Box::new(
                        AggregateOp::new(
                            self.ctx.clone(),
                            *op,
                            grouping.clone(),
                            input,
                            param_op,
                            label,
                        )
                        .with_param_position(*param_pos),
                    )
                }
                Expr::Call {
                    function,
                    args,
                    pos,
                    arg_pos,
                } => {
                    self.call(
                        function,
                        args,
                        &Positions {
                            call: *pos,
                            args: arg_pos,
                        },
                        steps,
                    )
                    .await?
                }
            };
            Ok(self.drop_names_now(expr, op))
        })
    }

    /// Without delayed name removal, the nodes that may drop `__name__` drop it at once and
    /// check for collisions where Prometheus 3.5 does: a range function or a unary minus
    /// over its whole range, an instant function or an operator at each step.
    fn drop_names_now(&self, expr: &Expr, op: BoxOperator) -> BoxOperator {
        if self.ctx.options.delayed_name_removal {
            return op;
        }
        let collision = match expr {
            Expr::Neg(_) => Collision::AnywhereInRange,
            Expr::Call { args, .. } if args.iter().any(|a| a.value_type() == ValueType::Matrix) => {
                Collision::AnywhereInRange
            }
            Expr::Call { .. } | Expr::Binary { .. } => Collision::AtOneStep,
            _ => return op,
        };
        Box::new(RelabelOp::drop_names_now(op, collision))
    }

    async fn vector_scan(
        &self,
        selector: &Selector,
        steps: Steps,
        timestamps: bool,
    ) -> Result<BoxOperator, EngineError> {
        let time = self.eval_time(&selector.time);
        let (first, last) = self.eval_span(time, steps);
        let lookback = self.ctx.options.lookback_delta_ms;
        let (_, after) = self.extension_reach(selector.extension);
        let data = self
            .select(
                selector,
                first.saturating_sub(lookback).saturating_add(1),
                last.saturating_add(after),
            )
            .await?;
        let scan = VectorScan::new(self.ctx.clone(), steps, time, data, timestamps)?;
        Ok(Box::new(
            if selector.extension == Some(Extension::Smoothed) {
                scan.smoothed()
            } else {
                scan
            },
        ))
    }

    async fn binary(
        &self,
        kind: BinaryKind,
        lhs: &Expr,
        rhs: &Expr,
        return_bool: bool,
        matching: &VectorMatching,
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        let operand = |expr: &Expr, op: BoxOperator| {
            if expr.value_type() == ValueType::Scalar {
                Operand::Scalar(op)
            } else {
                Operand::Vector(op)
            }
        };
        let l = operand(lhs, self.build(lhs, steps).await?);
        let r = operand(rhs, self.build(rhs, steps).await?);
        Ok(Box::new(BinaryOp::new(
            self.ctx.clone(),
            kind,
            return_bool,
            matching.clone(),
            l,
            r,
        )))
    }

    async fn scalar_args(
        &self,
        args: &[Expr],
        steps: Steps,
    ) -> Result<Vec<BoxOperator>, EngineError> {
        let mut ops = Vec::with_capacity(args.len());
        for arg in args {
            ops.push(self.build(arg, steps).await?);
        }
        Ok(ops)
    }

    /// The source of a range-vector argument: a matrix selector or a subquery.
    async fn matrix_arg(&self, arg: &Expr, steps: Steps) -> Result<RangeSource, EngineError> {
        match arg {
            Expr::Matrix { selector, range_ms } => {
                self.range_source(selector, *range_ms, steps).await
            }
            Expr::Subquery {
                expr,
                range_ms,
                step_ms,
                time,
            } => {
                self.subquery_source(expr, *range_ms, *step_ms, time, steps)
                    .await
            }
            _ => Err(EngineError::BadData(
                "expected a range vector argument".into(),
            )),
        }
    }

    async fn call(
        &self,
        function: &Function,
        args: &[Expr],
        pos: &Positions<'_>,
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        Ok(match function.kind {
            FunctionKind::Range(range) => {
                // The range vector is the argument of matrix type; the others are scalars.
                let position = args
                    .iter()
                    .position(|a| a.value_type() == ValueType::Matrix)
                    .ok_or_else(|| {
                        EngineError::BadData(format!("{} needs a range vector", function.name))
                    })?;
                let source = self.matrix_arg(&args[position], steps).await?;
                let mut scalars = Vec::new();
                for (i, arg) in args.iter().enumerate() {
                    if i != position {
                        scalars.push(self.build(arg, steps).await?);
                    }
                }
                Box::new(
                    RangeFunctionOp::new(self.ctx.clone(), steps, range, source, scalars)?
                        .with_position(pos.arg(position)),
                )
            }
            FunctionKind::Elementwise(map) => {
                let input = self.build(&args[0], steps).await?;
                let scalars = self.scalar_args(&args[1..], steps).await?;
                Box::new(MapOp::new(
                    input,
                    scalars,
                    true,
                    Box::new(move |v, a| map.apply(v, a)),
                ))
            }
            FunctionKind::Calendar(field) => {
                let input = match args.first() {
                    Some(arg) => self.build(arg, steps).await?,
                    // No argument: the evaluation time, as `vector(time())`.
                    None => Box::new(RelabelOp::new(
                        Box::new(StepTimeOp::new(steps, None)),
                        Box::new(|_| Ok(SeriesMeta::new(Labels::new()))),
                    )),
                };
                Box::new(MapOp::new(
                    input,
                    Vec::new(),
                    true,
                    Box::new(move |v, _| Some(field.apply(v))),
                ))
            }
            FunctionKind::Special(special) => self.special(special, args, pos, steps).await?,
        })
    }

    /// A function the engine implements itself, built beside the others of its family.
    async fn special(
        &self,
        special: SpecialFunction,
        args: &[Expr],
        pos: &Positions<'_>,
        steps: Steps,
    ) -> Result<BoxOperator, EngineError> {
        use SpecialFunction as F;
        let ctx = &self.ctx;
        match special {
            F::Time => Ok(self.time(steps)),
            F::Start => Ok(self.query_seconds(ctx.query_start, steps)),
            F::End => Ok(self.query_seconds(ctx.query_end, steps)),
            F::QueryRange => {
                Ok(self.query_seconds(ctx.query_end.saturating_sub(ctx.query_start), steps))
            }
            F::Step => Ok(self.query_seconds(ctx.query_step, steps)),
            F::Timestamp => self.timestamp(&args[0], steps).await,
            F::Pi => Ok(self.pi(steps)),
            F::MinOf => self.pick_of(args, steps, functions::math::go_min).await,
            F::MaxOf => self.pick_of(args, steps, functions::math::go_max).await,
            F::Vector => self.vector(&args[0], steps).await,
            F::Scalar => self.scalar(&args[0], steps).await,
            F::Absent => self.absent(&args[0], steps).await,
            F::AbsentOverTime => self.absent_over_time(&args[0], steps).await,
            F::Sort => {
                self.sort_by_value(args, pos, steps, SortOrder::ValueAsc)
                    .await
            }
            F::SortDesc => {
                self.sort_by_value(args, pos, steps, SortOrder::ValueDesc)
                    .await
            }
            F::SortByLabel => self.sort_by_label(args, pos, steps, false).await,
            F::SortByLabelDesc => self.sort_by_label(args, pos, steps, true).await,
            F::LabelReplace => self.label_replace(args, steps).await,
            F::LabelJoin => self.label_join(args, steps).await,
            F::HistogramQuantile => self.histogram_quantile(args, pos, steps).await,
            F::HistogramQuantiles => self.histogram_quantiles(args, pos, steps).await,
            F::HistogramFraction => self.histogram_fraction(args, pos, steps).await,
            F::Info => self.info(args, steps).await,
            F::HistogramAvg
            | F::HistogramCount
            | F::HistogramSum
            | F::HistogramStddev
            | F::HistogramStdvar
            | F::StartTimestamp => Err(EngineError::BadData(format!(
                "function {special:?} is not supported yet"
            ))),
        }
    }
}

/// Where a call and its arguments start in the query.
pub struct Positions<'a> {
    call: Option<Position>,
    args: &'a [Option<Position>],
}

impl Positions<'_> {
    fn arg(&self, i: usize) -> Option<Position> {
        self.args.get(i).copied().flatten()
    }
}

/// Removes the staleness markers, which range functions never see, with their start
/// timestamps. Most series have none and keep their vectors as they are.
fn drop_stale_markers(s: &mut SeriesSamples) {
    if !s.values.iter().any(|v| is_stale_nan(*v)) {
        return;
    }
    let mut kept = 0;
    for i in 0..s.values.len() {
        if !is_stale_nan(s.values[i]) {
            s.timestamps[kept] = s.timestamps[i];
            s.values[kept] = s.values[i];
            if let Some(&start) = s.start_timestamps.get(i) {
                s.start_timestamps[kept] = start;
            }
            kept += 1;
        }
    }
    s.timestamps.truncate(kept);
    s.values.truncate(kept);
    s.start_timestamps.truncate(kept);
}

fn string_args(args: &[Expr]) -> Result<Vec<String>, EngineError> {
    args.iter()
        .map(|a| match a {
            Expr::String(s) => Ok(s.clone()),
            _ => Err(EngineError::BadData("expected a string argument".into())),
        })
        .collect()
}
