//! Type checks on a parsed query, as Prometheus' `checkAST` makes them and in its order:
//! argument counts and types, what binary operators accept, what selectors must contain.
//! The first error found is the one reported.

use super::ast::*;
use super::error::ParseError;
use super::quote;
use crate::promql::functions::{FunctionKind, SpecialFunction, ValueType};
use crate::promql::operators::Aggregation;
use store_api::labels::METRIC_NAME;

pub struct Checker<'a> {
    query: &'a str,
}

type Result<T> = std::result::Result<T, ParseError>;

impl<'a> Checker<'a> {
    pub fn new(query: &'a str) -> Self {
        Self { query }
    }

    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.query, at, message)
    }

    fn expect_type(&self, expr: &mut Expr, want: ValueType, context: &str) -> Result<()> {
        let got = self.check(expr)?;
        if got != want {
            return Err(self.error(
                expr.span.start,
                format!(
                    "expected type {} in {context}, got {}",
                    want.documented(),
                    got.documented()
                ),
            ));
        }
        Ok(())
    }

    /// Checks `expr` and what it contains; returns its type. Set operations become
    /// many-to-many and matching between scalars is dropped, as Prometheus normalises them.
    pub fn check(&self, expr: &mut Expr) -> Result<ValueType> {
        let span = expr.span;
        match &mut expr.kind {
            ExprKind::Number(_) | ExprKind::String(_) => {}
            ExprKind::Paren(inner) => {
                self.check(inner)?;
            }
            ExprKind::Selector(vs) => self.selector(vs, span)?,
            ExprKind::Matrix(ms) => self.selector(&ms.selector, span)?,
            ExprKind::Subquery(sq) => {
                let t = self.check(&mut sq.expr)?;
                if t != ValueType::Vector {
                    return Err(self.error(
                        span.start,
                        format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            t.documented()
                        ),
                    ));
                }
            }
            ExprKind::Unary { expr: inner, .. } => {
                let t = self.check(inner)?;
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return Err(self.error(
                        span.start,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            quote(t.documented())
                        ),
                    ));
                }
            }
            ExprKind::Call(call) => self.call(call, span)?,
            ExprKind::Aggregate(agg) => {
                self.expect_type(&mut agg.expr, ValueType::Vector, "aggregation expression")?;
                let want = match agg.op {
                    Aggregation::CountValues => Some(ValueType::String),
                    op if op.has_param() => Some(ValueType::Scalar),
                    _ => None,
                };
                if let (Some(want), Some(param)) = (want, agg.param.as_mut()) {
                    self.expect_type(param, want, "aggregation parameter")?;
                }
            }
            ExprKind::Binary(b) => self.binary(b, span)?,
        }
        Ok(expr.value_type())
    }

    pub fn selector(&self, vs: &VectorSelector, span: Span) -> Result<()> {
        let names: Vec<&str> = vs
            .matchers
            .iter()
            .filter(|m| m.name() == METRIC_NAME)
            .map(|m| m.value())
            .collect();
        if let (Some(name), true) = (&vs.name, names.len() > 1) {
            return Err(self.error(
                span.start,
                format!(
                    "metric name must not be set twice: {} or {}",
                    quote(name),
                    quote(names[0])
                ),
            ));
        }
        if vs.matchers.iter().all(|m| m.matches_empty()) {
            return Err(self.error(
                span.start,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        Ok(())
    }

    fn call(&self, call: &mut Call, span: Span) -> Result<()> {
        let f = call.function;
        let (declared, given) = (f.args.len(), call.args.len());
        let count_error = match f.variadic {
            0 if declared != given => Some(format!("expected {declared} argument(s)")),
            v if v != 0 && given < declared - 1 => {
                Some(format!("expected at least {} argument(s)", declared - 1))
            }
            v if v > 0 && given > declared - 1 + v as usize => Some(format!(
                "expected at most {} argument(s)",
                declared - 1 + v as usize
            )),
            _ => None,
        };
        if let Some(expected) = count_error {
            return Err(self.error(
                span.start,
                format!("{expected} in call to {}, got {given}", quote(f.name)),
            ));
        }
        let context = format!("call to function {}", quote(f.name));
        for (i, arg) in call.args.iter_mut().enumerate() {
            // info()'s label selector may match everything: `info(m, {data=~".*"})`.
            if f.kind == FunctionKind::Special(SpecialFunction::Info)
                && i == 1
                && matches!(arg.kind, ExprKind::Selector(_))
            {
                continue;
            }
            let want = f.args[i.min(declared - 1)];
            self.expect_type(arg, want, &context)?;
        }
        Ok(())
    }

    fn binary(&self, b: &mut Binary, span: Span) -> Result<()> {
        let lt = self.check(&mut b.lhs)?;
        let rt = self.check(&mut b.rhs)?;
        if b.return_bool && !b.op.is_comparison() {
            return Err(self.error(
                b.op_at,
                "bool modifier can only be used on comparison operators",
            ));
        }
        if b.op.is_comparison()
            && !b.return_bool
            && lt == ValueType::Scalar
            && rt == ValueType::Scalar
        {
            return Err(self.error(
                b.op_at,
                "comparisons between scalars must use BOOL modifier",
            ));
        }
        if b.op.is_set() {
            let matching = b.matching.get_or_insert_with(Matching::default);
            if matching.card == Cardinality::OneToOne {
                matching.card = Cardinality::ManyToMany;
            }
        }
        if let Some(m) = &b.matching
            && m.on
            && let Some(l) = m.labels.iter().find(|l| m.include.contains(l))
        {
            return Err(self.error(
                b.op_at,
                format!(
                    "label {} must not occur in ON and GROUP clause at once",
                    quote(l)
                ),
            ));
        }
        for (t, side) in [(lt, &b.lhs), (rt, &b.rhs)] {
            if t != ValueType::Scalar && t != ValueType::Vector {
                return Err(self.error(
                    side.span.start,
                    "binary expression must contain only scalar and instant vector types",
                ));
            }
        }
        let vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        if !vectors {
            if b.matching
                .as_ref()
                .is_some_and(|m| !m.labels.is_empty() || m.on)
            {
                return Err(self.error(
                    span.start,
                    "vector matching only allowed between instant vectors",
                ));
            }
        } else if b.op.is_set() {
            let card = b.matching.as_ref().map(|m| m.card);
            if matches!(card, Some(Cardinality::OneToMany | Cardinality::ManyToOne)) {
                return Err(self.error(
                    span.start,
                    format!("no grouping allowed for {} operation", quote(b.op.symbol())),
                ));
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set() {
            return Err(self.error(
                span.start,
                format!(
                    "set operator {} not allowed in binary scalar expression",
                    quote(b.op.symbol())
                ),
            ));
        }
        Ok(())
    }
}
