//! The syntax tree of a PromQL query, with where each node sits in the text. `Display` writes
//! it back the way Prometheus prints expressions (`Expr.String()`), so a printed tree parses to
//! the same tree.

use super::{quote, quote_label_name};
use crate::promql::functions::format::go_g;
use crate::promql::functions::{Function, ValueType};
use crate::promql::operators::{Aggregation, BinaryKind};
use std::fmt;
use store_api::Matcher;
use store_api::labels::METRIC_NAME;

/// Byte offsets `[start, end)` of a node in the query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    pub fn to(self, other: Span) -> Span {
        Span::new(self.start, other.end)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(NumberLiteral),
    String(StringLiteral),
    Selector(VectorSelector),
    Matrix(MatrixSelector),
    Subquery(Subquery),
    Call(Call),
    Aggregate(Aggregate),
    Binary(Binary),
    /// `-x` or `+x` (true when negated).
    Unary {
        negate: bool,
        expr: Box<Expr>,
    },
    Paren(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct StringLiteral {
    /// The value; bytes that are not UTF-8 (written as `\x` escapes) read as U+FFFD.
    pub value: String,
    /// The bytes as written when they are not UTF-8: Prometheus keeps them, and refuses them
    /// where a label name is needed.
    pub not_utf8: Option<Box<[u8]>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NumberLiteral {
    pub value: f64,
    /// Written as a duration (`5m`): printed as one.
    pub duration: bool,
}

/// `@` as written: a time in milliseconds, or the query's start or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    Time(i64),
    Start,
    End,
}

/// How a selector reads samples around its window's edges (experimental): `anchored` takes
/// the last sample before the window as its start; `smoothed` interpolates at both edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extension {
    Anchored,
    Smoothed,
}

impl Extension {
    pub fn keyword(self) -> &'static str {
        match self {
            Extension::Anchored => "anchored",
            Extension::Smoothed => "smoothed",
        }
    }

    /// The functions that may read a range written with the modifier.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            Extension::Anchored => &["changes", "delta", "increase", "rate", "resets"],
            Extension::Smoothed => &["delta", "increase", "rate"],
        }
    }
}

/// `offset` and `@` of a selector or subquery.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeModifiers {
    pub offset: Option<DurationExpr>,
    pub at: Option<At>,
}

impl TimeModifiers {
    pub fn is_empty(&self) -> bool {
        self.offset.is_none() && self.at.is_none()
    }
}

/// A duration: a literal, or (experimental syntax) arithmetic on durations, numbers of
/// seconds, `step()`, `range()`, `min_of`, `max_of`; resolved when the query's step and range
/// are known.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationExpr {
    /// Seconds; `duration` when written with units.
    Literal(NumberLiteral),
    Step,
    Range,
    Neg(Box<DurationExpr>),
    Paren(Box<DurationExpr>),
    Binary(BinaryKind, Box<DurationExpr>, Box<DurationExpr>),
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
}

impl DurationExpr {
    pub fn millis(ms: i64) -> Self {
        DurationExpr::Literal(NumberLiteral {
            value: ms as f64 / 1000.0,
            duration: true,
        })
    }

    /// The value in seconds, given the query's step and range in seconds.
    pub fn seconds(&self, step: f64, range: f64) -> f64 {
        match self {
            DurationExpr::Literal(n) => n.value,
            DurationExpr::Step => step,
            DurationExpr::Range => range,
            DurationExpr::Neg(e) => -e.seconds(step, range),
            DurationExpr::Paren(e) => e.seconds(step, range),
            DurationExpr::Binary(op, l, r) => {
                op.apply(l.seconds(step, range), r.seconds(step, range)).0
            }
            DurationExpr::MinOf(a, b) => a.seconds(step, range).min(b.seconds(step, range)),
            DurationExpr::MaxOf(a, b) => a.seconds(step, range).max(b.seconds(step, range)),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name written before the braces.
    pub name: Option<String>,
    /// All matchers, the metric name's (`__name__="…"`) last when it is written outside.
    pub matchers: Vec<Matcher>,
    pub modifiers: TimeModifiers,
    pub extension: Option<Extension>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSelector {
    /// Holds the `offset` and `@` written after the range.
    pub selector: VectorSelector,
    pub range: DurationExpr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Subquery {
    pub expr: Box<Expr>,
    pub range: DurationExpr,
    pub step: Option<DurationExpr>,
    pub modifiers: TimeModifiers,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The table's entry, resolved once by the parser.
    pub function: &'static Function,
    pub args: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub op: Aggregation,
    pub expr: Box<Expr>,
    pub param: Option<Box<Expr>>,
    /// `without (…)` when true, else `by (…)` (empty: no grouping written).
    pub without: bool,
    pub grouping: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Binary {
    pub op: BinaryKind,
    /// Where the operator is in the query (type errors about it point there).
    pub op_at: usize,
    pub lhs: Box<Expr>,
    pub rhs: Box<Expr>,
    pub return_bool: bool,
    /// None between scalars (and where nothing was written).
    pub matching: Option<Matching>,
}

/// `on`/`ignoring`, `group_left`/`group_right` and `fill` of a binary operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matching {
    pub card: Cardinality,
    /// `on (…)` when true; `ignoring (…)` when false and labels are given.
    pub on: bool,
    pub labels: Vec<String>,
    /// `group_left (…)`/`group_right (…)` labels.
    pub include: Vec<String>,
    pub fill_left: Option<f64>,
    pub fill_right: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cardinality {
    #[default]
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Expr {
    pub fn value_type(&self) -> ValueType {
        match &self.kind {
            ExprKind::Number(_) => ValueType::Scalar,
            ExprKind::String(_) => ValueType::String,
            ExprKind::Selector(_) | ExprKind::Aggregate(_) => ValueType::Vector,
            ExprKind::Matrix(_) | ExprKind::Subquery(_) => ValueType::Matrix,
            ExprKind::Call(call) => call.function.returns,
            ExprKind::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => expr.value_type(),
        }
    }

    /// The expression inside any parentheses.
    pub fn unparenthesized(&self) -> &Expr {
        match &self.kind {
            ExprKind::Paren(inner) => inner.unparenthesized(),
            _ => self,
        }
    }
}

impl VectorSelector {
    /// The matchers as written inside the braces (without the name written outside).
    fn written_matchers(&self) -> impl Iterator<Item = &Matcher> {
        let skip_name = self.name.is_some();
        let last = self.matchers.len().saturating_sub(1);
        self.matchers
            .iter()
            .enumerate()
            .filter(move |(i, m)| !(skip_name && *i == last && m.name() == METRIC_NAME))
            .map(|(_, m)| m)
    }

    fn fmt_extension(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.extension {
            Some(e) => write!(f, " {}", e.keyword()),
            None => Ok(()),
        }
    }

    /// `name{…}`, or `{"name", …}` for a name that is not a classic identifier.
    fn fmt_selector(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = self
            .written_matchers()
            .map(|m| {
                format!(
                    "{}{}{}",
                    quote_label_name(m.name()),
                    m.op().as_str(),
                    quote(m.value())
                )
            })
            .collect();
        match &self.name {
            Some(name) if quote_label_name(name) == *name => {
                f.write_str(name)?;
                if items.is_empty() {
                    return Ok(());
                }
            }
            Some(name) => items.insert(0, quote(name)),
            None => {}
        }
        write!(f, "{{{}}}", items.join(", "))
    }
}

impl fmt::Display for TimeModifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(At::Time(ms)) => {
                let sign = if ms < 0 { "-" } else { "" };
                let ms = ms.unsigned_abs();
                write!(f, " @ {sign}{}.{:03}", ms / 1000, ms % 1000)?
            }
            Some(At::Start) => f.write_str(" @ start()")?,
            Some(At::End) => f.write_str(" @ end()")?,
            None => {}
        }
        if let Some(offset) = &self.offset {
            f.write_str(" offset ")?;
            offset.fmt_offset(f)?;
        }
        Ok(())
    }
}

impl DurationExpr {
    /// After `offset` only a signed operand may follow: arithmetic goes in parentheses.
    fn fmt_offset(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Binary(..) => write!(f, "({self})"),
            _ => write!(f, "{self}"),
        }
    }
}

impl fmt::Display for DurationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Literal(n) => write!(f, "{n}"),
            DurationExpr::Step => f.write_str("step()"),
            DurationExpr::Range => f.write_str("range()"),
            DurationExpr::Neg(e) => write!(f, "-{e}"),
            DurationExpr::Paren(e) => write!(f, "({e})"),
            DurationExpr::Binary(op, l, r) => write!(f, "{l} {} {r}", op.symbol()),
            DurationExpr::MinOf(a, b) => write!(f, "min_of({a}, {b})"),
            DurationExpr::MaxOf(a, b) => write!(f, "max_of({a}, {b})"),
        }
    }
}

impl fmt::Display for NumberLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Durations were made as `ms / 1000.0`: that division gives the value back exactly.
        let ms = (self.value * 1000.0).round();
        if self.duration && ms / 1000.0 == self.value && ms.abs() < 9.2e18 {
            if ms < 0.0 {
                f.write_str("-")?;
            }
            return f.write_str(&format_duration(ms.abs() as u64));
        }
        match self.value {
            v if v == f64::INFINITY => f.write_str("Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => f.write_str(&go_g(v, None)),
        }
    }
}

/// Duration units, largest first, in milliseconds.
pub const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Prometheus' duration format (`model.Duration.String()`): `1h30m`, `1d`, `500ms`, `0s`.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in DURATION_UNITS {
        if rest >= size {
            out.push_str(&(rest / size).to_string());
            out.push_str(unit);
            rest %= size;
        }
    }
    out
}

fn join(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| quote_label_name(l))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Aggregate {
    /// `sum by (a) ` / `sum without (a) ` / `sum`: what precedes the parentheses.
    pub fn op_text(&self) -> String {
        let name = self.op.name();
        if self.without {
            format!("{name} without ({}) ", join(&self.grouping))
        } else if !self.grouping.is_empty() {
            format!("{name} by ({}) ", join(&self.grouping))
        } else {
            name.to_string()
        }
    }
}

impl Binary {
    /// ` bool on (a) group_left (b) fill(0)`: what follows the operator.
    pub fn modifier_text(&self) -> String {
        let mut out = String::new();
        if self.return_bool {
            out.push_str(" bool");
        }
        let Some(m) = &self.matching else {
            return out;
        };
        let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
        if !m.labels.is_empty() || m.on || grouped {
            let tag = if m.on { "on" } else { "ignoring" };
            out.push_str(&format!(" {tag} ({})", join(&m.labels)));
            match m.card {
                Cardinality::ManyToOne => {
                    out.push_str(&format!(" group_left ({})", join(&m.include)))
                }
                Cardinality::OneToMany => {
                    out.push_str(&format!(" group_right ({})", join(&m.include)))
                }
                _ => {}
            }
        }
        let fill = |v: f64| {
            NumberLiteral {
                value: v,
                duration: false,
            }
            .to_string()
        };
        match (m.fill_left, m.fill_right) {
            (Some(l), Some(r)) if l.to_bits() == r.to_bits() => {
                out.push_str(&format!(" fill({})", fill(l)))
            }
            (l, r) => {
                if let Some(l) = l {
                    out.push_str(&format!(" fill_left({})", fill(l)));
                }
                if let Some(r) = r {
                    out.push_str(&format!(" fill_right({})", fill(r)));
                }
            }
        }
        out
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(n) => write!(f, "{n}"),
            ExprKind::String(s) => match &s.not_utf8 {
                Some(bytes) => f.write_str(&super::quote_bytes(bytes)),
                None => f.write_str(&quote(&s.value)),
            },
            ExprKind::Selector(vs) => {
                vs.fmt_selector(f)?;
                vs.fmt_extension(f)?;
                write!(f, "{}", vs.modifiers)
            }
            ExprKind::Matrix(ms) => {
                ms.selector.fmt_selector(f)?;
                write!(f, "[{}]", ms.range)?;
                ms.selector.fmt_extension(f)?;
                write!(f, "{}", ms.selector.modifiers)
            }
            ExprKind::Subquery(sq) => {
                write!(f, "{}[{}:", sq.expr, sq.range)?;
                if let Some(step) = &sq.step {
                    write!(f, "{step}")?;
                }
                write!(f, "]{}", sq.modifiers)
            }
            ExprKind::Call(call) => {
                write!(f, "{}(", call.function.name)?;
                for (i, arg) in call.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            ExprKind::Aggregate(agg) => {
                write!(f, "{}(", agg.op_text())?;
                if let Some(param) = &agg.param {
                    write!(f, "{param}, ")?;
                }
                write!(f, "{})", agg.expr)
            }
            ExprKind::Binary(b) => {
                write!(
                    f,
                    "{} {}{} {}",
                    b.lhs,
                    b.op.symbol(),
                    b.modifier_text(),
                    b.rhs
                )
            }
            ExprKind::Unary { negate, expr } => {
                write!(f, "{}{expr}", if *negate { "-" } else { "+" })
            }
            ExprKind::Paren(e) => write!(f, "({e})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store_api::MatchOp;

    #[test]
    fn durations_print_as_prometheus_prints_them() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(5 * 60_000), "5m");
        assert_eq!(format_duration(90 * 60_000), "1h30m");
        assert_eq!(format_duration(86_400_000 + 1), "1d1ms");
        assert_eq!(format_duration(1500), "1s500ms");
    }

    #[test]
    fn an_offset_matcher_and_name_print_back() {
        let vs = VectorSelector {
            name: Some("foo".into()),
            matchers: vec![
                Matcher::new(MatchOp::Regex, "a", "b.*").unwrap(),
                Matcher::equal(METRIC_NAME, "foo"),
            ],
            modifiers: TimeModifiers {
                offset: Some(DurationExpr::millis(-300_000)),
                at: Some(At::Time(1500)),
            },
            extension: None,
        };
        let expr = Expr {
            kind: ExprKind::Selector(vs),
            span: Span::default(),
        };
        assert_eq!(expr.to_string(), r#"foo{a=~"b.*"} @ 1.500 offset -5m"#);
    }
}
