//! From the logical plan to physical operators, without I/O: a selector's series are read
//! when its operator is first pulled, a subquery is evaluated inside the operator tree (both
//! on the evaluation thread; see `exec::Deferred`). The functions the engine implements itself ([`SpecialFunction`]) are
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
use super::exec::range::RangeFunctionOp;
use super::exec::scan::{EvalTime, VectorScan};
use super::exec::{
    BoxOperator, Deferred, NumberOp, QueryContext, RangeInput, SelectorRead, SeriesMeta,
    SharedReads, StepInvariantOp, StepTimeOp, Steps,
};
use super::functions::{
    self, Function, FunctionKind, Position, RangeFunction, SpecialFunction, ValueType,
};
use super::logical::{At, Expr, Extension, Selector, TimeModifier};
use super::operators::{Aggregation, BinaryKind, VectorMatching};
use super::read::Read;
use std::sync::Arc;
use store_api::Labels;

pub struct Planner {
    pub ctx: QueryContext,
    /// The reads selectors with the same matchers share, over the whole query.
    shared: Arc<SharedReads>,
}

impl Planner {
    pub fn new(ctx: QueryContext) -> Self {
        Self {
            ctx,
            shared: Arc::default(),
        }
    }

    /// A planner for a part of the query evaluated in `ctx` (a subquery's inside, a step
    /// invariant subtree), sharing the query's reads.
    fn nested(&self, ctx: QueryContext) -> Self {
        Self {
            ctx,
            shared: self.shared.clone(),
        }
    }

    /// How `selector` reads `[min_time, max_time]`: alone, or its part of a shared read.
    fn selector_read(&self, selector: &Selector, min_time: i64, max_time: i64) -> SelectorRead {
        let read = Read {
            matchers: selector.matchers.clone(),
            min_time,
            max_time,
        };
        match selector.shared_read {
            Some(id) => self.shared.join(id, read),
            None => SelectorRead::Own(read),
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

    /// A matrix selector's raw samples for a range function or a top-level matrix, read
    /// when first needed.
    pub fn range_input(&self, selector: &Selector, range_ms: i64, steps: Steps) -> RangeInput {
        let time = self.eval_time(&selector.time);
        let (first, last) = self.eval_span(time, steps);
        let (before, after) = self.extension_reach(selector.extension);
        RangeInput::Selector {
            read: self.selector_read(
                selector,
                first
                    .saturating_sub(range_ms)
                    .saturating_sub(before)
                    .saturating_add(1),
                last.saturating_add(after),
            ),
            time,
            range_ms,
            extension: selector.extension,
        }
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

    /// A subquery's points over the grid its outer steps need, evaluated in `inner_ctx` when
    /// first needed.
    pub fn subquery_input(
        &self,
        subquery: &Expr,
        steps: Steps,
        inner_ctx: QueryContext,
    ) -> Result<RangeInput, EngineError> {
        let Expr::Subquery {
            expr,
            range_ms,
            step_ms,
            time,
        } = subquery
        else {
            return Err(EngineError::BadData("expected a subquery".into()));
        };
        let (range_ms, step_ms) = (*range_ms, *step_ms);
        let time = self.eval_time(time);
        let (first, last) = self.eval_span(time, steps);
        let start = first.saturating_sub(range_ms);
        if step_ms <= 0 {
            return Err(EngineError::BadData(
                "zero or negative subquery step widths are not accepted".into(),
            ));
        }
        // The first multiple of the step at or after `start`.
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
        let inner = self.nested(inner_ctx.clone()).build(expr, inner_steps)?;
        Ok(RangeInput::Subquery {
            inner,
            ctx: inner_ctx,
            time,
            range_ms,
        })
    }

    /// The operator evaluating `expr` at every step of `steps`.
    pub fn build(&self, expr: &Expr, steps: Steps) -> Result<BoxOperator, EngineError> {
        let op = match expr {
            Expr::Number(n) => Box::new(NumberOp::new(*n, steps)) as BoxOperator,
            Expr::String(_) => {
                return Err(EngineError::BadData("unexpected string expression".into()));
            }
            Expr::Selector(selector) => self.vector_scan(selector, steps, false)?,
            Expr::Matrix { .. } | Expr::Subquery { .. } => {
                return Err(EngineError::BadData(
                    "a range vector can only be an argument of a function".into(),
                ));
            }
            Expr::StepInvariant(inner) => self.step_invariant(inner, steps)?,
            Expr::Neg(inner) => {
                let input = self.build(inner, steps)?;
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
            } => self.binary(*kind, lhs, rhs, *return_bool, matching, steps)?,
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                param_pos,
            } => {
                let input = self.build(expr, steps)?;
                let (param_op, label) = match (op, param) {
                    (Aggregation::CountValues, Some(p)) => match p.as_ref() {
                        Expr::String(s) => (None, Some(s.clone())),
                        _ => {
                            return Err(EngineError::BadData(
                                "count_values needs a label name".into(),
                            ));
                        }
                    },
                    (_, Some(p)) => (Some(self.build(p, steps)?), None),
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
            } => self.call(
                function,
                args,
                &Positions {
                    call: *pos,
                    args: arg_pos,
                },
                steps,
            )?,
        };
        Ok(self.drop_names_now(expr, op))
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

    /// A subtree with the same value at every step: evaluated at the first step only, in a
    /// context of its own whose reads then count at every step.
    fn step_invariant(&self, inner: &Expr, steps: Steps) -> Result<BoxOperator, EngineError> {
        if steps.count() <= 1 {
            return self.build(inner, steps);
        }
        let inner_ctx = self.ctx.with_own_stats();
        let first = Steps::instant(steps.start);
        let op = self.nested(inner_ctx.clone()).build(inner, first)?;
        Ok(Box::new(StepInvariantOp::new(
            self.ctx.clone(),
            inner_ctx,
            op,
            steps,
        )))
    }

    /// An instant selector, read when first pulled; `timestamps`: its samples' times
    /// instead of their values.
    fn vector_scan(
        &self,
        selector: &Selector,
        steps: Steps,
        timestamps: bool,
    ) -> Result<BoxOperator, EngineError> {
        let time = self.eval_time(&selector.time);
        let (first, last) = self.eval_span(time, steps);
        let lookback = self.ctx.options.lookback_delta_ms;
        let (_, after) = self.extension_reach(selector.extension);
        let read = self.selector_read(
            selector,
            first.saturating_sub(lookback).saturating_add(1),
            last.saturating_add(after),
        );
        let smoothed = selector.extension == Some(Extension::Smoothed);
        let ctx = self.ctx.clone();
        Ok(Box::new(Deferred::new(move || {
            let data = read.series(&ctx)?;
            let scan = VectorScan::new(ctx, steps, time, data, timestamps)?;
            Ok(Box::new(if smoothed { scan.smoothed() } else { scan }) as BoxOperator)
        })))
    }

    /// A range function over `input`, built when first pulled: only then is its input read
    /// (or, for a subquery, evaluated).
    fn range_function(
        &self,
        function: RangeFunction,
        input: RangeInput,
        scalars: Vec<BoxOperator>,
        steps: Steps,
        pos: Option<Position>,
    ) -> BoxOperator {
        let ctx = self.ctx.clone();
        Box::new(Deferred::new(move || {
            let source = input.resolve(&ctx)?;
            let op = RangeFunctionOp::new(ctx, steps, function, source, scalars)?;
            Ok(Box::new(op.with_position(pos)) as BoxOperator)
        }))
    }

    fn binary(
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
        let l = operand(lhs, self.build(lhs, steps)?);
        let r = operand(rhs, self.build(rhs, steps)?);
        Ok(Box::new(BinaryOp::new(
            self.ctx.clone(),
            kind,
            return_bool,
            matching.clone(),
            l,
            r,
        )))
    }

    fn scalar_args(&self, args: &[Expr], steps: Steps) -> Result<Vec<BoxOperator>, EngineError> {
        let mut ops = Vec::with_capacity(args.len());
        for arg in args {
            ops.push(self.build(arg, steps)?);
        }
        Ok(ops)
    }

    /// The input of a range-vector argument: a matrix selector or a subquery.
    fn matrix_input(&self, arg: &Expr, steps: Steps) -> Result<RangeInput, EngineError> {
        match arg {
            Expr::Matrix { selector, range_ms } => Ok(self.range_input(selector, *range_ms, steps)),
            Expr::Subquery { .. } => self.subquery_input(arg, steps, self.ctx.uncounted()),
            _ => Err(EngineError::BadData(
                "expected a range vector argument".into(),
            )),
        }
    }

    fn call(
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
                let input = self.matrix_input(&args[position], steps)?;
                let mut scalars = Vec::new();
                for (i, arg) in args.iter().enumerate() {
                    if i != position {
                        scalars.push(self.build(arg, steps)?);
                    }
                }
                self.range_function(range, input, scalars, steps, pos.arg(position))
            }
            FunctionKind::Elementwise(map) => {
                let input = self.build(&args[0], steps)?;
                let scalars = self.scalar_args(&args[1..], steps)?;
                Box::new(MapOp::new(
                    input,
                    scalars,
                    true,
                    Box::new(move |v, a| map.apply(v, a)),
                ))
            }
            FunctionKind::Calendar(field) => {
                let input = match args.first() {
                    Some(arg) => self.build(arg, steps)?,
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
            FunctionKind::Special(special) => self.special(special, args, pos, steps)?,
        })
    }

    /// A function the engine implements itself, built beside the others of its family.
    fn special(
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
            F::Timestamp => self.timestamp(&args[0], steps),
            F::Pi => Ok(self.pi(steps)),
            F::MinOf => self.pick_of(args, steps, functions::math::go_min),
            F::MaxOf => self.pick_of(args, steps, functions::math::go_max),
            F::Vector => self.vector(&args[0], steps),
            F::Scalar => self.scalar(&args[0], steps),
            F::Absent => self.absent(&args[0], steps),
            F::AbsentOverTime => self.absent_over_time(&args[0], steps),
            F::Sort => self.sort_by_value(args, pos, steps, SortOrder::ValueAsc),
            F::SortDesc => self.sort_by_value(args, pos, steps, SortOrder::ValueDesc),
            F::SortByLabel => self.sort_by_label(args, pos, steps, false),
            F::SortByLabelDesc => self.sort_by_label(args, pos, steps, true),
            F::LabelReplace => self.label_replace(args, steps),
            F::LabelJoin => self.label_join(args, steps),
            F::HistogramQuantile => self.histogram_quantile(args, pos, steps),
            F::HistogramQuantiles => self.histogram_quantiles(args, pos, steps),
            F::HistogramFraction => self.histogram_fraction(args, pos, steps),
            F::Info => self.info(args, steps),
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

fn string_args(args: &[Expr]) -> Result<Vec<String>, EngineError> {
    args.iter()
        .map(|a| match a {
            Expr::String(s) => Ok(s.clone()),
            _ => Err(EngineError::BadData("expected a string argument".into())),
        })
        .collect()
}
