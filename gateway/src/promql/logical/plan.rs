//! From the syntax tree to the logical plan.

use crate::promql::error::EngineError;
use crate::promql::functions::{Function, FunctionKind, Position, SpecialFunction, ValueType};
use crate::promql::operators::{Aggregation, BinaryKind, Cardinality, Grouping, VectorMatching};
use crate::promql::syntax::{self, DurationExpr, ExprKind as Ast, TimeModifiers};
use store_api::{MatchOp, Matcher};

pub use crate::promql::syntax::{At, Extension};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeModifier {
    pub offset_ms: i64,
    pub at: Option<At>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
    pub time: TimeModifier,
    /// `anchored`/`smoothed` (experimental).
    pub extension: Option<Extension>,
    /// Selectors of one query with the same id have the same matchers: the planner reads
    /// them once where their time ranges overlap (set by the `share_reads` optimizer).
    pub shared_read: Option<u32>,
}

impl Selector {
    /// The `name="value"` pairs of equality matchers, for `absent()`'s labels.
    pub fn equality_labels(&self) -> Vec<(&str, &str)> {
        self.matchers
            .iter()
            .filter(|m| m.op() == MatchOp::Equal)
            .map(|m| (m.name(), m.value()))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number(f64),
    String(String),
    Selector(Selector),
    Matrix {
        selector: Selector,
        range_ms: i64,
    },
    Subquery {
        expr: Box<Expr>,
        range_ms: i64,
        step_ms: i64,
        time: TimeModifier,
    },
    Call {
        function: &'static Function,
        args: Vec<Expr>,
        /// Where the call and each argument start in the query (for annotations).
        pos: Option<Position>,
        arg_pos: Vec<Option<Position>>,
    },
    Aggregate {
        op: Aggregation,
        expr: Box<Expr>,
        param: Option<Box<Expr>>,
        grouping: Grouping,
        param_pos: Option<Position>,
    },
    Binary {
        kind: BinaryKind,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        return_bool: bool,
        matching: VectorMatching,
    },
    Neg(Box<Expr>),
    /// The same value at every step (`@` pins everything below): evaluated once, at the
    /// first step, and repeated (set by the `step_invariant` optimizer).
    StepInvariant(Box<Expr>),
}

impl Expr {
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::Selector(_) | Expr::Aggregate { .. } => ValueType::Vector,
            Expr::Matrix { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Call { function, .. } => function.returns,
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Neg(e) | Expr::StepInvariant(e) => e.value_type(),
        }
    }

    /// `self` with `f` applied to each of its direct subexpressions.
    pub fn map_children(self, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
        let mut boxed = |e: Box<Expr>| Box::new(f(*e));
        match self {
            Expr::Subquery {
                expr,
                range_ms,
                step_ms,
                time,
            } => Expr::Subquery {
                expr: boxed(expr),
                range_ms,
                step_ms,
                time,
            },
            Expr::Call {
                function,
                args,
                pos,
                arg_pos,
            } => Expr::Call {
                function,
                args: args.into_iter().map(&mut *f).collect(),
                pos,
                arg_pos,
            },
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                param_pos,
            } => Expr::Aggregate {
                op,
                expr: boxed(expr),
                param: param.map(&mut boxed),
                grouping,
                param_pos,
            },
            Expr::Binary {
                kind,
                lhs,
                rhs,
                return_bool,
                matching,
            } => Expr::Binary {
                kind,
                lhs: boxed(lhs),
                rhs: boxed(rhs),
                return_bool,
                matching,
            },
            Expr::Neg(e) => Expr::Neg(boxed(e)),
            Expr::StepInvariant(e) => Expr::StepInvariant(boxed(e)),
            leaf
            @ (Expr::Number(_) | Expr::String(_) | Expr::Selector(_) | Expr::Matrix { .. }) => leaf,
        }
    }

    /// Rewrites the tree bottom-up: `f` sees each node after its children.
    pub fn transform_up(self, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
        let expr = self.map_children(&mut |child| child.transform_up(f));
        f(expr)
    }

    /// The direct subexpressions, in evaluation order.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Subquery { expr, .. } | Expr::Neg(expr) | Expr::StepInvariant(expr) => {
                vec![expr]
            }
            Expr::Call { args, .. } => args.iter().collect(),
            Expr::Aggregate { expr, param, .. } => param
                .iter()
                .map(AsRef::as_ref)
                .chain([expr.as_ref()])
                .collect(),
            Expr::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            Expr::Number(_) | Expr::String(_) | Expr::Selector(_) | Expr::Matrix { .. } => {
                Vec::new()
            }
        }
    }
}

/// Go's `time.Duration` holds ±2^63 ns.
const MAX_DURATION_SECONDS: f64 = 9_223_372_036.854_775;

/// What duration expressions (`[step() * 2]`) resolve against: the query's step and range.
#[derive(Clone, Copy, Debug)]
pub struct QueryShape {
    pub step_ms: i64,
    pub range_ms: i64,
    /// The step of subqueries written without one.
    pub default_subquery_step_ms: i64,
}

/// Converts a parsed query; `query` is its text (positions for annotations).
pub struct Converter<'a> {
    query: &'a str,
    shape: QueryShape,
}

impl<'a> Converter<'a> {
    pub fn new(query: &'a str, shape: QueryShape) -> Self {
        Self { query, shape }
    }

    fn position(&self, offset: usize) -> Option<Position> {
        Position::from_offset(self.query, offset)
    }

    /// A duration in milliseconds (rounded); refused past what Prometheus' durations hold
    /// (±2^63 nanoseconds).
    fn millis(&self, d: &DurationExpr) -> Result<i64, EngineError> {
        let seconds = d.seconds(
            self.shape.step_ms as f64 / 1000.0,
            self.shape.range_ms as f64 / 1000.0,
        );
        if !seconds.is_finite() || seconds.abs() >= MAX_DURATION_SECONDS {
            return Err(EngineError::BadData(format!("duration out of range: {d}")));
        }
        Ok((seconds * 1000.0).round() as i64)
    }

    /// A range or step that must be positive.
    fn positive_millis(&self, d: &DurationExpr) -> Result<i64, EngineError> {
        let ms = self.millis(d)?;
        if ms <= 0 {
            return Err(EngineError::BadData(format!(
                "duration must be greater than 0, got {d}"
            )));
        }
        Ok(ms)
    }

    fn time_modifier(&self, m: &TimeModifiers) -> Result<TimeModifier, EngineError> {
        Ok(TimeModifier {
            offset_ms: m.offset.as_ref().map_or(Ok(0), |d| self.millis(d))?,
            at: m.at,
        })
    }

    fn selector(&self, vs: &syntax::VectorSelector) -> Result<Selector, EngineError> {
        Ok(Selector {
            matchers: vs.matchers.clone(),
            time: self.time_modifier(&vs.modifiers)?,
            extension: vs.extension,
            shared_read: None,
        })
    }

    pub fn convert(&self, ast: &syntax::Expr) -> Result<Expr, EngineError> {
        Ok(match &ast.kind {
            Ast::Number(n) => Expr::Number(n.value),
            Ast::String(s) => Expr::String(s.value.clone()),
            Ast::Paren(inner) => self.convert(inner)?,
            Ast::Unary { negate: true, expr } => Expr::Neg(Box::new(self.convert(expr)?)),
            Ast::Unary {
                negate: false,
                expr,
            } => self.convert(expr)?,
            Ast::Selector(vs) => Expr::Selector(self.selector(vs)?),
            Ast::Matrix(ms) => Expr::Matrix {
                selector: self.selector(&ms.selector)?,
                range_ms: self.positive_millis(&ms.range)?,
            },
            Ast::Subquery(sq) => Expr::Subquery {
                expr: Box::new(self.convert(&sq.expr)?),
                range_ms: self.positive_millis(&sq.range)?,
                step_ms: match &sq.step {
                    Some(step) => self.positive_millis(step)?,
                    None => self.shape.default_subquery_step_ms,
                },
                time: self.time_modifier(&sq.modifiers)?,
            },
            Ast::Call(call) => {
                refuse_non_utf8_destination(call)?;
                check_extensions(call)?;
                Expr::Call {
                    function: call.function,
                    args: call
                        .args
                        .iter()
                        .map(|a| self.convert(a))
                        .collect::<Result<_, _>>()?,
                    pos: self.position(ast.span.start),
                    arg_pos: call
                        .args
                        .iter()
                        .map(|a| self.position(a.span.start))
                        .collect(),
                }
            }
            Ast::Aggregate(agg) => {
                refuse_non_utf8_label(agg)?;
                Expr::Aggregate {
                    op: agg.op,
                    param_pos: agg.param.as_ref().and_then(|p| self.position(p.span.start)),
                    param: agg
                        .param
                        .as_ref()
                        .map(|p| self.convert(p).map(Box::new))
                        .transpose()?,
                    expr: Box::new(self.convert(&agg.expr)?),
                    grouping: if agg.without {
                        Grouping::Without(agg.grouping.clone())
                    } else {
                        Grouping::By(agg.grouping.clone())
                    },
                }
            }
            Ast::Binary(b) => {
                let mut matching = VectorMatching::default();
                if let Some(m) = &b.matching {
                    matching.on = m.on;
                    matching.labels = m.labels.clone();
                    matching.include = m.include.clone();
                    matching.card = match m.card {
                        syntax::Cardinality::OneToOne => Cardinality::OneToOne,
                        syntax::Cardinality::ManyToOne => Cardinality::ManyToOne,
                        syntax::Cardinality::OneToMany => Cardinality::OneToMany,
                        syntax::Cardinality::ManyToMany => Cardinality::ManyToMany,
                    };
                    // Prometheus swaps group_right's operands before filling: fill_left always
                    // fills the many side.
                    matching.fill_many = m.fill_left;
                    matching.fill_one = m.fill_right;
                }
                Expr::Binary {
                    kind: b.op,
                    lhs: Box::new(self.convert(&b.lhs)?),
                    rhs: Box::new(self.convert(&b.rhs)?),
                    return_bool: b.return_bool,
                    matching,
                }
            }
        })
    }
}

/// The literal's bytes when they are not UTF-8.
fn not_utf8(expr: &syntax::Expr) -> Option<&[u8]> {
    match &expr.kind {
        Ast::String(s) => s.not_utf8.as_deref(),
        _ => None,
    }
}

/// label_replace and label_join refuse a destination that is not UTF-8 (`"\xff"`), as
/// Prometheus does before looking at any series.
fn refuse_non_utf8_destination(call: &syntax::Call) -> Result<(), EngineError> {
    use SpecialFunction::{LabelJoin, LabelReplace};
    if !matches!(
        call.function.kind,
        FunctionKind::Special(LabelReplace | LabelJoin)
    ) {
        return Ok(());
    }
    let name = call.function.name;
    match call.args.get(1).and_then(not_utf8) {
        // Prometheus' API shows the bytes as U+FFFD (JSON cannot hold them).
        Some(bytes) => Err(EngineError::Execution(format!(
            "invalid destination label name in {name}(): {}",
            String::from_utf8_lossy(bytes)
        ))),
        None => Ok(()),
    }
}

/// `anchored` and `smoothed` ranges are read only by the functions each supports (an
/// evaluation error in Prometheus, without a position).
fn check_extensions(call: &syntax::Call) -> Result<(), EngineError> {
    let name = call.function.name;
    for arg in &call.args {
        if let Ast::Matrix(ms) = &arg.kind
            && let Some(e) = ms.selector.extension
            && !e.functions().contains(&name)
        {
            return Err(EngineError::BadData(format!(
                "{} modifier can only be used with: {} - not with {name}",
                e.keyword(),
                e.functions().join(", ")
            )));
        }
    }
    Ok(())
}

/// count_values refuses a label name that is not UTF-8.
fn refuse_non_utf8_label(agg: &syntax::Aggregate) -> Result<(), EngineError> {
    match agg.param.as_deref().and_then(not_utf8) {
        Some(bytes) => Err(EngineError::Execution(format!(
            "invalid label name {}",
            syntax::quote_bytes(bytes)
        ))),
        None => Ok(()),
    }
}
