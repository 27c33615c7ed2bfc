//! Tokens → syntax tree: recursive descent with operator precedence, following Prometheus'
//! grammar (promql/parser/generated_parser.y) and its error texts. Postfix modifiers (`[…]`,
//! `offset`, `@`) bind to the primary expression before them, unary minus binds like `*`
//! (so `-2 ^ 2` is -4), `^` is right-associative.

use super::ast::*;
use super::error::ParseError;
use super::lexer::{Keyword, Token, TokenKind, tokenize};
use super::{quote, unquote};
use crate::promql::functions;
use crate::promql::operators::{Aggregation, BinaryKind};
use store_api::labels::METRIC_NAME;
use store_api::{MatchOp, Matcher};

/// How deep expressions may nest: deeper is refused rather than risking the stack (queries
/// are parsed on runtime threads with 2 MiB stacks).
const MAX_DEPTH: usize = 128;

pub struct Parser<'a> {
    query: &'a str,
    tokens: Vec<Token>,
    next: usize,
    lex_error: Option<ParseError>,
    depth: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

fn precedence(op: BinaryKind) -> u8 {
    use BinaryKind::*;
    match op {
        Or => 1,
        And | Unless => 2,
        Eq | Ne | Gt | Lt | Ge | Le => 3,
        Add | Sub => 4,
        Mul | Div | Mod | Atan2 => 5,
        Pow => 6,
    }
}

/// Unary minus binds its operand like `*` does: `^` still binds tighter.
const UNARY_OPERAND_PRECEDENCE: u8 = 6;

impl<'a> Parser<'a> {
    pub fn new(query: &'a str) -> Self {
        let (tokens, lex_error) = tokenize(query);
        Self {
            query,
            tokens,
            next: 0,
            lex_error,
            depth: 0,
        }
    }

    fn peek(&self) -> Token {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Token {
        let last = self.tokens.len() - 1;
        self.tokens[(self.next + ahead).min(last)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        token
    }

    fn text(&self, token: Token) -> &'a str {
        &self.query[token.start..token.end]
    }

    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.query, at, message)
    }

    /// Prometheus' "unexpected <token> in <context>, expected <what>"; at a lexer error, that
    /// error instead.
    fn unexpected(&self, token: Token, context: &str, expected: &str) -> ParseError {
        if token.kind == TokenKind::Error
            && let Some(e) = &self.lex_error
        {
            return e.clone();
        }
        let mut message = format!("unexpected {}", self.describe(token));
        if !context.is_empty() {
            message.push_str(" in ");
            message.push_str(context);
        }
        if !expected.is_empty() {
            message.push_str(", expected ");
            message.push_str(expected);
        }
        self.error(token.start, message)
    }

    /// A token as Prometheus describes it in errors.
    fn describe(&self, token: Token) -> String {
        let text = self.text(token);
        let quoted = || {
            if text.chars().count() > 10 {
                let head: String = text.chars().take(10).collect();
                format!("{}...", quote(&head))
            } else {
                quote(text)
            }
        };
        match token.kind {
            TokenKind::Eof => "end of input".into(),
            TokenKind::Identifier => format!("identifier {}", quoted()),
            TokenKind::MetricIdentifier => format!("metric identifier {}", quoted()),
            TokenKind::Number => format!("number {}", quoted()),
            TokenKind::Duration => format!("duration {}", quoted()),
            TokenKind::String => format!("string {}", quoted()),
            TokenKind::Keyword(_) => format!("<{text}>"),
            TokenKind::Op(_) | TokenKind::At => format!("<op:{text}>"),
            TokenKind::Aggregator(_) => format!("<aggr:{text}>"),
            _ => quote(text),
        }
    }

    fn expect(&mut self, kind: TokenKind, context: &str, expected: &str) -> Result<Token> {
        let token = self.peek();
        if token.kind == kind {
            Ok(self.advance())
        } else {
            Err(self.unexpected(token, context, expected))
        }
    }

    /// The whole query as one expression.
    pub fn parse_query(mut self) -> Result<Expr> {
        if self.peek().kind == TokenKind::Eof {
            return Err(self.error(0, "no expression found in input"));
        }
        let expr = self.expr(0)?;
        let token = self.peek();
        if token.kind != TokenKind::Eof {
            return Err(self.unexpected(token, "", ""));
        }
        Ok(expr)
    }

    /// A series selector only (`match[]` of the series and label APIs).
    pub fn parse_selector(mut self) -> Result<(VectorSelector, Span)> {
        let token = self.peek();
        let name = match token.kind {
            TokenKind::LeftBrace => None,
            kind if is_metric_name(kind) => Some(self.advance()),
            _ => return Err(self.unexpected(token, "", "")),
        };
        let selector = self.vector_selector(name)?;
        let token = self.peek();
        if token.kind != TokenKind::Eof {
            return Err(self.unexpected(token, "", ""));
        }
        Ok(selector)
    }

    /// One level deeper in the tree being built; refused past `MAX_DEPTH`. Counted where the
    /// tree grows, not only where the parser recurses: `a + a + …` and `x[1m:][1m:]…` nest as
    /// deeply as parentheses do.
    fn deeper(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(self.peek().start, "expression nests too deeply"));
        }
        Ok(())
    }

    fn expr(&mut self, min_precedence: u8) -> Result<Expr> {
        let outer_depth = self.depth;
        self.deeper()?;
        let mut lhs = self.unary()?;
        loop {
            let token = self.peek();
            let TokenKind::Op(op) = token.kind else { break };
            let p = precedence(op);
            if p < min_precedence {
                break;
            }
            self.advance();
            self.deeper()?;
            let (return_bool, matching) = self.binary_modifiers()?;
            let rhs = self.expr(if op == BinaryKind::Pow { p } else { p + 1 })?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary(Binary {
                    op,
                    op_at: token.start,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    return_bool,
                    matching,
                }),
                span,
            };
        }
        self.depth = outer_depth;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr> {
        let token = self.peek();
        let negate = match token.kind {
            TokenKind::Op(BinaryKind::Sub) => true,
            TokenKind::Op(BinaryKind::Add) => false,
            _ => return self.postfix(),
        };
        self.advance();
        let operand = self.expr(UNARY_OPERAND_PRECEDENCE)?;
        let span = Span::new(token.start, operand.span.end);
        Ok(match operand.kind {
            // A signed number is a number.
            ExprKind::Number(n) => Expr {
                kind: ExprKind::Number(NumberLiteral {
                    value: if negate { -n.value } else { n.value },
                    ..n
                }),
                span,
            },
            kind => Expr {
                kind: ExprKind::Unary {
                    negate,
                    expr: Box::new(Expr {
                        kind,
                        span: operand.span,
                    }),
                },
                span,
            },
        })
    }

    fn postfix(&mut self) -> Result<Expr> {
        let outer_depth = self.depth;
        let mut expr = self.primary()?;
        loop {
            let token = self.peek();
            match token.kind {
                TokenKind::LeftBracket => {
                    self.deeper()?;
                    expr = self.range_or_subquery(expr)?;
                }
                TokenKind::Keyword(Keyword::Offset) => {
                    self.advance();
                    let offset = self.offset_duration()?;
                    self.set_offset(&mut expr, offset)?;
                }
                TokenKind::At => {
                    self.advance();
                    let at = self.at_value()?;
                    self.set_at(&mut expr, at)?;
                }
                TokenKind::Keyword(k @ (Keyword::Anchored | Keyword::Smoothed)) => {
                    self.advance();
                    let extension = if k == Keyword::Anchored {
                        Extension::Anchored
                    } else {
                        Extension::Smoothed
                    };
                    self.set_extension(&mut expr, extension)?;
                }
                _ => {
                    self.depth = outer_depth;
                    return Ok(expr);
                }
            }
            expr.span.end = self.tokens[self.next.saturating_sub(1)].end;
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        let token = self.peek();
        match token.kind {
            TokenKind::Number => {
                self.advance();
                Ok(Expr {
                    kind: ExprKind::Number(NumberLiteral {
                        value: self.number(token)?,
                        duration: false,
                    }),
                    span: Span::new(token.start, token.end),
                })
            }
            TokenKind::Duration => {
                self.advance();
                let ms = self.duration(token)?;
                Ok(Expr {
                    kind: ExprKind::Number(NumberLiteral {
                        value: ms as f64 / 1000.0,
                        duration: true,
                    }),
                    span: Span::new(token.start, token.end),
                })
            }
            TokenKind::String => {
                self.advance();
                Ok(Expr {
                    kind: ExprKind::String(self.string_literal(token)?),
                    span: Span::new(token.start, token.end),
                })
            }
            TokenKind::LeftParen => {
                self.advance();
                let inner = self.expr(0)?;
                let close = self.peek();
                if close.kind != TokenKind::RightParen {
                    return Err(self.unexpected(close, "", ""));
                }
                self.advance();
                Ok(Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span: Span::new(token.start, close.end),
                })
            }
            TokenKind::LeftBrace => self.selector(None),
            TokenKind::Aggregator(op)
                if matches!(
                    self.peek_at(1).kind,
                    TokenKind::LeftParen | TokenKind::Keyword(Keyword::By | Keyword::Without)
                ) =>
            {
                self.aggregate(op)
            }
            // `start()` and `end()` are functions too, outside `@`.
            TokenKind::Identifier | TokenKind::Keyword(Keyword::Start | Keyword::End)
                if self.peek_at(1).kind == TokenKind::LeftParen =>
            {
                self.call()
            }
            kind if is_metric_name(kind) => {
                self.advance();
                self.selector(Some(token))
            }
            _ => Err(self.unexpected(token, "", "")),
        }
    }

    fn number(&self, token: Token) -> Result<f64> {
        parse_number(self.text(token)).map_err(|e| self.error(token.start, e))
    }

    /// A duration token in milliseconds.
    fn duration(&self, token: Token) -> Result<i64> {
        parse_duration(self.text(token)).map_err(|e| self.error(token.start, e))
    }

    fn string(&self, token: Token) -> Result<String> {
        Ok(self.string_literal(token)?.value)
    }

    fn string_literal(&self, token: Token) -> Result<StringLiteral> {
        unquote(self.text(token)).map_err(|e| self.error(token.start, e))
    }

    /// `name{matchers}`, `name` or `{matchers}`; `name` is the token already consumed.
    fn selector(&mut self, name: Option<Token>) -> Result<Expr> {
        let (selector, span) = self.vector_selector(name)?;
        Ok(Expr {
            kind: ExprKind::Selector(selector),
            span,
        })
    }

    fn vector_selector(&mut self, name: Option<Token>) -> Result<(VectorSelector, Span)> {
        let start = name.map_or(self.peek().start, |t| t.start);
        let mut end = name.map_or(start, |t| t.end);
        let mut matchers = Vec::new();
        let mut quoted_name = None;
        if self.peek().kind == TokenKind::LeftBrace {
            self.advance();
            end = self.matchers(&mut matchers, &mut quoted_name)?;
        }
        // The name's matcher goes last, wherever the name was written.
        let name = name.map(|t| self.text(t).to_string()).or(quoted_name);
        if let Some(n) = &name {
            matchers.push(Matcher::equal(METRIC_NAME, n.clone()));
        }
        let selector = VectorSelector {
            name,
            matchers,
            modifiers: TimeModifiers::default(),
            extension: None,
        };
        Ok((selector, Span::new(start, end)))
    }

    /// Matchers up to the closing brace (consumed); returns where it ends. A lone string is
    /// the metric name (`{"my.metric", a="b"}`), returned in `quoted_name`.
    fn matchers(
        &mut self,
        matchers: &mut Vec<Matcher>,
        quoted_name: &mut Option<String>,
    ) -> Result<usize> {
        const CONTEXT: &str = "label matching";
        loop {
            let token = self.advance();
            let name = match token.kind {
                TokenKind::RightBrace => return Ok(token.end),
                TokenKind::Identifier => self.text(token).to_string(),
                TokenKind::String => self.string(token)?,
                _ => return Err(self.unexpected(token, CONTEXT, "identifier or \"}\"")),
            };
            let op_token = self.peek();
            let op = match op_token.kind {
                TokenKind::Eql => MatchOp::Equal,
                TokenKind::Op(BinaryKind::Ne) => MatchOp::NotEqual,
                TokenKind::EqlRegex => MatchOp::Regex,
                TokenKind::NeqRegex => MatchOp::NotRegex,
                TokenKind::Comma | TokenKind::RightBrace if token.kind == TokenKind::String => {
                    *quoted_name = Some(name);
                    self.after_matcher()?;
                    continue;
                }
                _ => {
                    return Err(self.unexpected(op_token, CONTEXT, "label matching operator"));
                }
            };
            self.advance();
            let value_token = self.expect(TokenKind::String, CONTEXT, "string")?;
            let value = self.string(value_token)?;
            let matcher = Matcher::new(op, name, value)
                .map_err(|e| self.error(token.start, e.message().to_owned()))?;
            matchers.push(matcher);
            self.after_matcher()?;
        }
    }

    /// After a matcher: a comma (a trailing one is fine) or the closing brace, left for the
    /// matcher loop to consume.
    fn after_matcher(&mut self) -> Result<()> {
        let token = self.peek();
        match token.kind {
            TokenKind::Comma => {
                self.advance();
                Ok(())
            }
            TokenKind::RightBrace => Ok(()),
            _ => Err(self.unexpected(token, "label matching", "\",\" or \"}\"")),
        }
    }

    fn call(&mut self) -> Result<Expr> {
        let name = self.advance();
        let (args, end) = self.call_args()?;
        let Some(function) = functions::lookup(self.text(name)) else {
            let message = format!("unknown function with name {}", quote(self.text(name)));
            return Err(self.error(name.start, message));
        };
        Ok(Expr {
            kind: ExprKind::Call(Call { function, args }),
            span: Span::new(name.start, end),
        })
    }

    /// `( expr, … )`: the arguments and where the closing parenthesis ends.
    fn call_args(&mut self) -> Result<(Vec<Expr>, usize)> {
        self.expect(TokenKind::LeftParen, "", "")?;
        let mut args = Vec::new();
        if self.peek().kind == TokenKind::RightParen {
            return Ok((args, self.advance().end));
        }
        loop {
            args.push(self.expr(0)?);
            let token = self.advance();
            match token.kind {
                TokenKind::RightParen => return Ok((args, token.end)),
                TokenKind::Comma if self.peek().kind == TokenKind::RightParen => {
                    return Err(self.error(
                        token.start,
                        "trailing commas not allowed in function call args",
                    ));
                }
                TokenKind::Comma => {}
                _ => return Err(self.unexpected(token, "", "")),
            }
        }
    }

    fn aggregate(&mut self, op: Aggregation) -> Result<Expr> {
        let op_token = self.advance();
        let mut grouping = None;
        if self.peek().kind != TokenKind::LeftParen {
            grouping = Some(self.aggregate_modifier()?);
        }
        if self.peek().kind != TokenKind::LeftParen {
            return Err(self.unexpected(self.peek(), "aggregation", ""));
        }
        let (mut args, mut end) = self.call_args()?;
        if grouping.is_none()
            && matches!(
                self.peek().kind,
                TokenKind::Keyword(Keyword::By | Keyword::Without)
            )
        {
            grouping = Some(self.aggregate_modifier()?);
            end = self.tokens[self.next - 1].end;
        }
        let (without, grouping) = grouping.unwrap_or_default();
        let span = Span::new(op_token.start, end);
        if args.is_empty() {
            return Err(self.error(0, "no arguments for aggregate expression provided"));
        }
        let wanted = if op.has_param() { 2 } else { 1 };
        if args.len() != wanted {
            return Err(self.error(
                span.start,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {wanted}, got {}",
                    args.len()
                ),
            ));
        }
        let param = (args.len() == 2).then(|| Box::new(args.remove(0)));
        let Some(expr) = args.pop().map(Box::new) else {
            return Err(self.error(span.start, "no arguments for aggregate expression provided"));
        };
        Ok(Expr {
            kind: ExprKind::Aggregate(Aggregate {
                op,
                expr,
                param,
                without,
                grouping,
            }),
            span,
        })
    }

    /// `by (…)` or `without (…)`: (without?, labels).
    fn aggregate_modifier(&mut self) -> Result<(bool, Vec<String>)> {
        let token = self.advance();
        let without = match token.kind {
            TokenKind::Keyword(Keyword::By) => false,
            TokenKind::Keyword(Keyword::Without) => true,
            _ => return Err(self.unexpected(token, "aggregation", "")),
        };
        Ok((without, self.grouping_labels()?))
    }

    /// `(a, b, "c.d")`.
    fn grouping_labels(&mut self) -> Result<Vec<String>> {
        const CONTEXT: &str = "grouping opts";
        self.expect(TokenKind::LeftParen, CONTEXT, "\"(\"")?;
        let mut labels = Vec::new();
        loop {
            let token = self.advance();
            match token.kind {
                TokenKind::RightParen => return Ok(labels),
                TokenKind::String => labels.push(self.string(token)?),
                kind if is_label_word(kind) && super::is_classic_name(self.text(token)) => {
                    labels.push(self.text(token).to_string());
                }
                _ => return Err(self.unexpected(token, CONTEXT, "label")),
            }
            let token = self.peek();
            match token.kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RightParen => {}
                _ => return Err(self.unexpected(token, CONTEXT, "\",\" or \")\"")),
            }
        }
    }

    /// `bool`, `on`/`ignoring (…)`, `group_left`/`group_right [(…)]`, `fill…(v)` after a
    /// binary operator.
    fn binary_modifiers(&mut self) -> Result<(bool, Option<Matching>)> {
        let return_bool = self.peek().kind == TokenKind::Keyword(Keyword::Bool);
        if return_bool {
            self.advance();
        }
        let mut matching = Matching::default();
        let mut written = false;
        let on = match self.peek().kind {
            TokenKind::Keyword(Keyword::On) => Some(true),
            TokenKind::Keyword(Keyword::Ignoring) => Some(false),
            _ => None,
        };
        if let Some(on) = on {
            self.advance();
            matching.on = on;
            matching.labels = self.grouping_labels()?;
            let card = match self.peek().kind {
                TokenKind::Keyword(Keyword::GroupLeft) => Some(Cardinality::ManyToOne),
                TokenKind::Keyword(Keyword::GroupRight) => Some(Cardinality::OneToMany),
                _ => None,
            };
            if let Some(card) = card {
                self.advance();
                matching.card = card;
                if self.peek().kind == TokenKind::LeftParen {
                    matching.include = self.grouping_labels()?;
                }
            }
            // `ignoring ()` alone means nothing.
            written = on || !matching.labels.is_empty() || matching.card != Cardinality::OneToOne;
        }
        loop {
            let token = self.peek();
            // `fill` without a parenthesis is a metric name (`a + fill`).
            if self.peek_at(1).kind != TokenKind::LeftParen {
                break;
            }
            let (left, right) = match token.kind {
                TokenKind::Keyword(Keyword::Fill) => (true, true),
                TokenKind::Keyword(Keyword::FillLeft) => (true, false),
                TokenKind::Keyword(Keyword::FillRight) => (false, true),
                _ => break,
            };
            self.advance();
            let value = self.fill_value()?;
            if left {
                matching.fill_left = Some(value);
            }
            if right {
                matching.fill_right = Some(value);
            }
            written = true;
        }
        Ok((return_bool, written.then_some(matching)))
    }

    /// `(number)`, sign allowed.
    fn fill_value(&mut self) -> Result<f64> {
        self.expect(TokenKind::LeftParen, "fill modifier", "\"(\"")?;
        let sign = match self.peek().kind {
            TokenKind::Op(BinaryKind::Sub) => {
                self.advance();
                -1.0
            }
            TokenKind::Op(BinaryKind::Add) => {
                self.advance();
                1.0
            }
            _ => 1.0,
        };
        let number = self.expect(TokenKind::Number, "fill modifier", "number")?;
        let value = sign * self.number(number)?;
        self.expect(TokenKind::RightParen, "fill modifier", "\")\"")?;
        Ok(value)
    }

    /// `expr[range]` or `expr[range:step]`.
    fn range_or_subquery(&mut self, expr: Expr) -> Result<Expr> {
        let open = self.advance();
        if !starts_duration(self.peek().kind) {
            return Err(self.unexpected(self.peek(), "subquery selector", "duration"));
        }
        let range = self.whole_duration()?;
        let token = self.advance();
        match token.kind {
            TokenKind::RightBracket => match expr.kind {
                ExprKind::Selector(selector) => {
                    let problem = if selector.modifiers.offset.is_some() {
                        "no offset modifiers allowed before range"
                    } else if selector.modifiers.at.is_some() {
                        "no @ modifiers allowed before range"
                    } else {
                        return Ok(Expr {
                            kind: ExprKind::Matrix(MatrixSelector { selector, range }),
                            span: Span::new(expr.span.start, token.end),
                        });
                    };
                    Err(self.error(open.start, problem))
                }
                _ => Err(self.error(open.start, "ranges only allowed for vector selectors")),
            },
            TokenKind::Colon => {
                let step = if self.peek().kind == TokenKind::RightBracket {
                    None
                } else if starts_duration(self.peek().kind) {
                    Some(self.whole_duration()?)
                } else {
                    return Err(self.unexpected(
                        self.peek(),
                        "subquery selector",
                        "duration or \"]\"",
                    ));
                };
                let close = self.expect(TokenKind::RightBracket, "subquery selector", "\"]\"")?;
                Ok(Expr {
                    span: Span::new(expr.span.start, close.end),
                    kind: ExprKind::Subquery(Subquery {
                        expr: Box::new(expr),
                        range,
                        step,
                        modifiers: TimeModifiers::default(),
                    }),
                })
            }
            _ => Err(self.unexpected(token, "subquery or range", "\":\" or \"]\"")),
        }
    }

    /// A range, step or offset: a literal zero is refused (parts of expressions may be 0).
    fn whole_duration(&mut self) -> Result<DurationExpr> {
        let at = self.peek().start;
        let duration = self.duration_expr(0)?;
        if let DurationExpr::Literal(n) = &duration
            && n.value == 0.0
        {
            return Err(self.error(at, "duration must be greater than 0"));
        }
        Ok(duration)
    }

    /// A duration inside brackets: literals, numbers of seconds and (experimental) arithmetic
    /// with `step()`, `range()`, `min_of`, `max_of`.
    fn duration_expr(&mut self, min_precedence: u8) -> Result<DurationExpr> {
        let outer_depth = self.depth;
        self.deeper()?;
        let mut lhs = match self.peek().kind {
            TokenKind::Op(op @ (BinaryKind::Sub | BinaryKind::Add)) => {
                self.advance();
                let operand = self.duration_expr(UNARY_OPERAND_PRECEDENCE)?;
                if op == BinaryKind::Sub {
                    negate_duration(operand)
                } else {
                    operand
                }
            }
            _ => self.duration_primary()?,
        };
        while let TokenKind::Op(op) = self.peek().kind {
            let p = precedence(op);
            if p < min_precedence || !op.is_arithmetic() {
                break;
            }
            self.advance();
            self.deeper()?;
            let rhs = self.duration_expr(if op == BinaryKind::Pow { p } else { p + 1 })?;
            lhs = DurationExpr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth = outer_depth;
        Ok(lhs)
    }

    fn duration_primary(&mut self) -> Result<DurationExpr> {
        let token = self.advance();
        match token.kind {
            TokenKind::Duration => Ok(DurationExpr::millis(self.duration(token)?)),
            TokenKind::Number => Ok(DurationExpr::Literal(NumberLiteral {
                value: self.number(token)?,
                duration: false,
            })),
            TokenKind::LeftParen => {
                let inner = self.duration_expr(0)?;
                self.expect(TokenKind::RightParen, "duration expression", "\")\"")?;
                Ok(DurationExpr::Paren(Box::new(inner)))
            }
            TokenKind::Identifier => self.duration_function(token),
            _ => Err(self.unexpected(token, "duration expression", "")),
        }
    }

    /// `step()`, `range()`, `min_of(a, b)`, `max_of(a, b)` in a duration.
    fn duration_function(&mut self, name: Token) -> Result<DurationExpr> {
        let name_text = self.text(name).to_ascii_lowercase();
        self.expect(TokenKind::LeftParen, "duration expression", "\"(\"")?;
        let two = |p: &mut Self| -> Result<(Box<DurationExpr>, Box<DurationExpr>)> {
            let a = p.duration_expr(0)?;
            p.expect(TokenKind::Comma, "duration expression", "\",\"")?;
            let b = p.duration_expr(0)?;
            Ok((Box::new(a), Box::new(b)))
        };
        let expr = match name_text.as_str() {
            "step" => DurationExpr::Step,
            "range" => DurationExpr::Range,
            "min_of" => {
                let (a, b) = two(self)?;
                DurationExpr::MinOf(a, b)
            }
            "max_of" => {
                let (a, b) = two(self)?;
                DurationExpr::MaxOf(a, b)
            }
            _ => return Err(self.unexpected(name, "duration expression", "")),
        };
        self.expect(TokenKind::RightParen, "duration expression", "\")\"")?;
        Ok(expr)
    }

    /// After `offset`: a signed literal, or a signed function or parenthesized duration
    /// expression. What follows (`offset 5m + 1`) belongs to the outer expression.
    fn offset_duration(&mut self) -> Result<DurationExpr> {
        let token = self.peek();
        let negate = match token.kind {
            TokenKind::Op(BinaryKind::Sub) => true,
            TokenKind::Op(BinaryKind::Add) => false,
            kind if starts_offset_operand(kind) => return self.offset_operand(),
            _ => return Err(self.unexpected(token, "offset", "duration")),
        };
        self.advance();
        if !starts_offset_operand(self.peek().kind) {
            return Err(self.unexpected(self.peek(), "offset", "duration"));
        }
        let operand = self.offset_operand()?;
        Ok(if negate {
            negate_duration(operand)
        } else {
            operand
        })
    }

    fn offset_operand(&mut self) -> Result<DurationExpr> {
        let token = self.peek();
        let operand = self.duration_primary()?;
        if let DurationExpr::Literal(n) = &operand
            && n.value == 0.0
            && token.kind == TokenKind::Duration
        {
            return Err(self.error(token.start, "duration must be greater than 0"));
        }
        Ok(operand)
    }

    /// After `@`: a signed number of seconds, `start()` or `end()`.
    fn at_value(&mut self) -> Result<AtValue> {
        let token = self.advance();
        const CONTEXT: &str = "@";
        match token.kind {
            TokenKind::Keyword(k @ (Keyword::Start | Keyword::End)) => {
                self.expect(TokenKind::LeftParen, CONTEXT, "timestamp")?;
                self.expect(TokenKind::RightParen, CONTEXT, "timestamp")?;
                Ok(AtValue::Fixed(if k == Keyword::Start {
                    At::Start
                } else {
                    At::End
                }))
            }
            TokenKind::Number => Ok(AtValue::Seconds(self.number(token)?)),
            TokenKind::Duration => Ok(AtValue::Seconds(self.duration(token)? as f64 / 1000.0)),
            TokenKind::Op(op @ (BinaryKind::Sub | BinaryKind::Add)) => {
                let number = self.advance();
                let value = match number.kind {
                    TokenKind::Number => self.number(number)?,
                    TokenKind::Duration => self.duration(number)? as f64 / 1000.0,
                    _ => return Err(self.unexpected(number, CONTEXT, "timestamp")),
                };
                Ok(AtValue::Seconds(if op == BinaryKind::Sub {
                    -value
                } else {
                    value
                }))
            }
            _ => Err(self.unexpected(token, CONTEXT, "timestamp")),
        }
    }

    fn set_at(&self, expr: &mut Expr, at: AtValue) -> Result<()> {
        let at = match at {
            AtValue::Fixed(at) => at,
            AtValue::Seconds(s) => {
                if !s.is_finite() || s >= i64::MAX as f64 || s <= i64::MIN as f64 {
                    let shown = crate::promql::functions::format::go_printf_f(s);
                    return Err(self.error(
                        expr.span.start,
                        format!("timestamp out of bounds for @ modifier: {shown}"),
                    ));
                }
                At::Time((s * 1000.0).round() as i64)
            }
        };
        let span = expr.span;
        let modifiers = self.modifiers_of(expr, "@ modifier")?;
        if modifiers.at.is_some() {
            return Err(self.error(span.start, "@ <timestamp> may not be set multiple times"));
        }
        modifiers.at = Some(at);
        Ok(())
    }

    fn set_extension(&self, expr: &mut Expr, extension: Extension) -> Result<()> {
        let selector = match &mut expr.kind {
            ExprKind::Selector(vs) => vs,
            ExprKind::Matrix(ms) => &mut ms.selector,
            _ => {
                return Err(self.error(
                    expr.span.start,
                    format!(
                        "{} modifier must be preceded by an instant vector selector or range vector selector",
                        extension.keyword()
                    ),
                ));
            }
        };
        if selector.extension.is_some() {
            return Err(self.error(expr.span.start, "anchored or smoothed may be set only once"));
        }
        selector.extension = Some(extension);
        Ok(())
    }

    fn set_offset(&self, expr: &mut Expr, offset: DurationExpr) -> Result<()> {
        let span = expr.span;
        let modifiers = self.modifiers_of(expr, "offset modifier")?;
        if modifiers.offset.is_some() {
            return Err(self.error(span.start, "offset may not be set multiple times"));
        }
        modifiers.offset = Some(offset);
        Ok(())
    }

    /// The modifiers `offset`/`@` set: a selector's or a subquery's.
    fn modifiers_of<'e>(&self, expr: &'e mut Expr, what: &str) -> Result<&'e mut TimeModifiers> {
        let start = expr.span.start;
        match &mut expr.kind {
            ExprKind::Selector(vs) => Ok(&mut vs.modifiers),
            ExprKind::Matrix(ms) => Ok(&mut ms.selector.modifiers),
            ExprKind::Subquery(sq) => Ok(&mut sq.modifiers),
            _ => Err(self.error(
                start,
                format!(
                    "{what} must be preceded by an instant vector selector or range vector selector or a subquery"
                ),
            )),
        }
    }
}

enum AtValue {
    Fixed(At),
    Seconds(f64),
}

fn negate_duration(d: DurationExpr) -> DurationExpr {
    match d {
        DurationExpr::Literal(n) => DurationExpr::Literal(NumberLiteral {
            value: -n.value,
            ..n
        }),
        other => DurationExpr::Neg(Box::new(other)),
    }
}

fn starts_duration(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Duration
            | TokenKind::Number
            | TokenKind::LeftParen
            | TokenKind::Identifier
            | TokenKind::Op(BinaryKind::Sub | BinaryKind::Add)
    )
}

fn starts_offset_operand(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Duration | TokenKind::Number | TokenKind::LeftParen | TokenKind::Identifier
    )
}

/// Tokens that may name a metric: identifiers and the keywords Prometheus lets through.
fn is_metric_name(kind: TokenKind) -> bool {
    use Keyword::*;
    matches!(
        kind,
        TokenKind::Identifier
            | TokenKind::MetricIdentifier
            | TokenKind::Aggregator(_)
            | TokenKind::Op(BinaryKind::And | BinaryKind::Or | BinaryKind::Unless)
            | TokenKind::Keyword(
                By | Without
                    | Offset
                    | Start
                    | End
                    | Fill
                    | FillLeft
                    | FillRight
                    | Anchored
                    | Smoothed
            )
    )
}

/// Tokens that may be a label name in `by (…)` and friends.
fn is_label_word(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Identifier
            | TokenKind::MetricIdentifier
            | TokenKind::Aggregator(_)
            | TokenKind::Keyword(_)
            | TokenKind::Op(
                BinaryKind::And | BinaryKind::Or | BinaryKind::Unless | BinaryKind::Atan2
            )
    )
}

/// A number as Prometheus reads one: integers in base 0 (`0x1f`, `010` octal) first, then
/// floats (`1.5e3`, `Inf`, `NaN`).
pub fn parse_number(text: &str) -> std::result::Result<f64, String> {
    let integer = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&text[1..], 8).ok()
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(n) = integer {
        return Ok(n as f64);
    }
    let lower = text.to_ascii_lowercase();
    let float_syntax = !text.is_empty()
        && (lower == "inf"
            || lower == "nan"
            || !lower.contains(|c: char| c.is_ascii_alphabetic() && c != 'e'));
    match text.parse::<f64>() {
        Ok(v) if float_syntax => Ok(v),
        _ => Err(format!(
            "error parsing number: strconv.ParseFloat: parsing {}: invalid syntax",
            quote(text)
        )),
    }
}

/// `1h30m` → milliseconds, as Prometheus' `model.ParseDuration` reads it: units largest
/// first, each at most once, integers only.
pub fn parse_duration(text: &str) -> std::result::Result<i64, String> {
    let invalid = || format!("not a valid duration string: {}", quote(text));
    match text {
        "" => return Err("empty duration string".into()),
        "0" => return Ok(0),
        _ => {}
    }
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| "duration out of range".to_string())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let Some(i) = DURATION_UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
        else {
            return Err(invalid());
        };
        let size = DURATION_UNITS[next_unit + i].1 as i64;
        next_unit += i + 1;
        total = n
            .checked_mul(size)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}
