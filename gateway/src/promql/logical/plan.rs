//! From promql-parser's AST to the logical plan.

use crate::promql::error::EngineError;
use crate::promql::exec::aggregate::{Aggregation, Grouping};
use crate::promql::exec::binary::{BinaryKind, Cardinality, VectorMatching};
use crate::promql::functions::Position;
use promql_parser::label::MatchOp as AstMatchOp;
use promql_parser::parser::token;
use promql_parser::parser::{
    AtModifier, Expr as Ast, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store_api::labels::METRIC_NAME;
use store_api::{MatchOp, Matcher};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Scalar,
    String,
    Vector,
    Matrix,
}

/// `@` as written: a fixed time, or the query's start or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    Time(i64),
    Start,
    End,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeModifier {
    pub offset_ms: i64,
    pub at: Option<At>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
    pub time: TimeModifier,
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
        name: String,
        args: Vec<Expr>,
        /// The function's result type, as promql-parser declares it.
        returns: ValueType,
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
}

impl Expr {
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::Selector(_) | Expr::Aggregate { .. } => ValueType::Vector,
            Expr::Matrix { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Call { returns, .. } => *returns,
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Neg(e) => e.value_type(),
        }
    }
}

fn value_type(t: &promql_parser::parser::value::ValueType) -> ValueType {
    use promql_parser::parser::value::ValueType as T;
    match t {
        T::Scalar => ValueType::Scalar,
        T::String => ValueType::String,
        T::Matrix => ValueType::Matrix,
        T::Vector => ValueType::Vector,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => millis(d),
        Err(e) => -millis(e.duration()),
    }
}

fn time_modifier(offset: &Option<Offset>, at: &Option<AtModifier>) -> TimeModifier {
    TimeModifier {
        offset_ms: match offset {
            Some(Offset::Pos(d)) => millis(*d),
            Some(Offset::Neg(d)) => -millis(*d),
            None => 0,
        },
        at: at.as_ref().map(|a| match a {
            AtModifier::Start => At::Start,
            AtModifier::End => At::End,
            AtModifier::At(t) => At::Time(time_ms(*t)),
        }),
    }
}

fn matcher(m: &promql_parser::label::Matcher) -> Result<Matcher, EngineError> {
    let op = match &m.op {
        AstMatchOp::Equal => MatchOp::Equal,
        AstMatchOp::NotEqual => MatchOp::NotEqual,
        AstMatchOp::Re(_) => MatchOp::Regex,
        AstMatchOp::NotRe(_) => MatchOp::NotRegex,
    };
    Matcher::new(op, m.name.clone(), m.value.clone())
        .map_err(|e| EngineError::BadData(e.to_string()))
}

fn selector(vs: &VectorSelector) -> Result<Selector, EngineError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(EngineError::BadData(
            "the \"or\" operator inside label matchers is not supported".into(),
        ));
    }
    let mut matchers = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        matchers.push(Matcher::equal(METRIC_NAME, name.clone()));
    }
    for m in &vs.matchers.matchers {
        matchers.push(matcher(m)?);
    }
    Ok(Selector {
        matchers,
        time: time_modifier(&vs.offset, &vs.at),
    })
}

fn label_names(labels: &promql_parser::label::Labels) -> Vec<String> {
    labels.labels.clone()
}

fn aggregation(op: token::TokenId) -> Result<Aggregation, EngineError> {
    Ok(match op {
        token::T_SUM => Aggregation::Sum,
        token::T_AVG => Aggregation::Avg,
        token::T_COUNT => Aggregation::Count,
        token::T_MIN => Aggregation::Min,
        token::T_MAX => Aggregation::Max,
        token::T_GROUP => Aggregation::Group,
        token::T_STDDEV => Aggregation::Stddev,
        token::T_STDVAR => Aggregation::Stdvar,
        token::T_TOPK => Aggregation::Topk,
        token::T_BOTTOMK => Aggregation::Bottomk,
        token::T_COUNT_VALUES => Aggregation::CountValues,
        token::T_QUANTILE => Aggregation::Quantile,
        token::T_LIMITK => Aggregation::Limitk,
        token::T_LIMIT_RATIO => Aggregation::LimitRatio,
        other => {
            return Err(EngineError::BadData(format!(
                "unknown aggregation {}",
                token::TokenType::new(other)
            )));
        }
    })
}

fn binary_kind(op: token::TokenId) -> Result<BinaryKind, EngineError> {
    Ok(match op {
        token::T_ADD => BinaryKind::Add,
        token::T_SUB => BinaryKind::Sub,
        token::T_MUL => BinaryKind::Mul,
        token::T_DIV => BinaryKind::Div,
        token::T_MOD => BinaryKind::Mod,
        token::T_POW => BinaryKind::Pow,
        token::T_ATAN2 => BinaryKind::Atan2,
        token::T_EQLC => BinaryKind::Eq,
        token::T_NEQ => BinaryKind::Ne,
        token::T_GTR => BinaryKind::Gt,
        token::T_LSS => BinaryKind::Lt,
        token::T_GTE => BinaryKind::Ge,
        token::T_LTE => BinaryKind::Le,
        token::T_LAND => BinaryKind::And,
        token::T_LOR => BinaryKind::Or,
        token::T_LUNLESS => BinaryKind::Unless,
        other => {
            return Err(EngineError::BadData(format!(
                "unknown binary operator {}",
                token::TokenType::new(other)
            )));
        }
    })
}

/// Finds where expressions start in the query text. promql-parser keeps no positions, so the
/// conversion, which walks the AST in text order, searches forward from a cursor.
pub struct SourceText<'a> {
    text: &'a str,
    cursor: usize,
}

impl<'a> SourceText<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text, cursor: 0 }
    }

    /// The position of the next occurrence of `needle`; moves the cursor there.
    fn find(&mut self, needle: &str) -> Option<Position> {
        let offset = self.cursor + self.text.get(self.cursor..)?.find(needle)?;
        self.cursor = offset;
        Position::from_offset(self.text, offset)
    }

    fn skip(&mut self, bytes: usize) {
        self.cursor = (self.cursor + bytes).min(self.text.len());
    }
}

/// Converts a parsed query. `default_step_ms` is the step of subqueries written without one.
pub fn from_ast(
    ast: &Ast,
    default_step_ms: i64,
    source: &mut SourceText<'_>,
) -> Result<Expr, EngineError> {
    let recurse = |e: &Ast, source: &mut SourceText<'_>| from_ast(e, default_step_ms, source);
    Ok(match ast {
        Ast::NumberLiteral(n) => Expr::Number(n.val),
        Ast::StringLiteral(s) => Expr::String(s.val.clone()),
        Ast::Paren(p) => recurse(&p.expr, source)?,
        Ast::Unary(u) => Expr::Neg(Box::new(recurse(&u.expr, source)?)),
        Ast::VectorSelector(vs) => Expr::Selector(selector(vs)?),
        Ast::MatrixSelector(ms) => Expr::Matrix {
            selector: selector(&ms.vs)?,
            range_ms: millis(ms.range),
        },
        Ast::Subquery(sq) => Expr::Subquery {
            expr: Box::new(recurse(&sq.expr, source)?),
            range_ms: millis(sq.range),
            step_ms: sq.step.map(millis).unwrap_or(default_step_ms),
            time: time_modifier(&sq.offset, &sq.at),
        },
        Ast::Call(call) => {
            let pos = source.find(&format!("{}(", call.func.name));
            source.skip(call.func.name.len());
            let mut args = Vec::with_capacity(call.args.args.len());
            let mut arg_pos = Vec::with_capacity(call.args.args.len());
            for arg in &call.args.args {
                arg_pos.push(source.find(&arg.to_string()));
                args.push(recurse(arg, source)?);
            }
            Expr::Call {
                name: call.func.name.to_string(),
                returns: value_type(&call.func.return_type),
                args,
                pos,
                arg_pos,
            }
        }
        Ast::Aggregate(agg) => Expr::Aggregate {
            op: aggregation(agg.op.id())?,
            param_pos: agg.param.as_ref().and_then(|p| source.find(&p.to_string())),
            param: agg
                .param
                .as_ref()
                .map(|p| recurse(p, source).map(Box::new))
                .transpose()?,
            expr: Box::new(recurse(&agg.expr, source)?),
            grouping: match &agg.modifier {
                Some(LabelModifier::Include(l)) => Grouping::By(label_names(l)),
                Some(LabelModifier::Exclude(l)) => Grouping::Without(label_names(l)),
                None => Grouping::By(Vec::new()),
            },
        },
        Ast::Binary(b) => {
            let modifier = b.modifier.as_ref();
            let mut matching = VectorMatching::default();
            if let Some(m) = modifier {
                if let Some(lm) = &m.matching {
                    matching.on = lm.is_include();
                    matching.labels = label_names(lm.labels());
                }
                matching.card = match &m.card {
                    VectorMatchCardinality::OneToOne => Cardinality::OneToOne,
                    VectorMatchCardinality::ManyToOne(l) => {
                        matching.include = label_names(l);
                        Cardinality::ManyToOne
                    }
                    VectorMatchCardinality::OneToMany(l) => {
                        matching.include = label_names(l);
                        Cardinality::OneToMany
                    }
                    VectorMatchCardinality::ManyToMany => Cardinality::ManyToMany,
                };
                // Prometheus swaps group_right's operands before filling: fill_left always
                // fills the many side.
                matching.fill_many = m.fill_values.lhs;
                matching.fill_one = m.fill_values.rhs;
            }
            Expr::Binary {
                kind: binary_kind(b.op.id())?,
                lhs: Box::new(recurse(&b.lhs, source)?),
                rhs: Box::new(recurse(&b.rhs, source)?),
                return_bool: modifier.is_some_and(|m| m.return_bool),
                matching,
            }
        }
        Ast::Extension(_) => {
            return Err(EngineError::BadData("unsupported expression".into()));
        }
    })
}
