//! PromQL text → tokens, as Prometheus' lexer (promql/parser/lex.go) cuts it: the same token
//! boundaries, keywords matched without regard to case, and the same error texts and
//! positions, so that parse errors read as Prometheus' do.

use super::error::ParseError;
use crate::promql::operators::{Aggregation, BinaryKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Identifier,
    /// An identifier with a colon (recording-rule style): a metric name, never a function.
    MetricIdentifier,
    Number,
    /// A number with unit letters: `5m`, `1h30m`, `1.5m` (the last one invalid when parsed).
    Duration,
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Colon,
    /// `=` (label matchers only).
    Eql,
    /// `=~`, `!~` (label matchers only).
    EqlRegex,
    NeqRegex,
    Op(BinaryKind),
    At,
    Keyword(Keyword),
    Aggregator(Aggregation),
    Eof,
    /// Where the lexer failed; the parser reports the lexer's error when it gets here.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Bool,
    By,
    Without,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Offset,
    Start,
    End,
    Fill,
    FillLeft,
    FillRight,
    Anchored,
    Smoothed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// Byte offsets into the query.
    pub start: usize,
    pub end: usize,
}

/// The words the lexer turns into keyword tokens, lower case.
fn word_kind(word: &str) -> Option<TokenKind> {
    use Aggregation as A;
    use Keyword as K;
    use TokenKind::{Aggregator as Ag, Keyword as Kw, Op};
    Some(match word.to_ascii_lowercase().as_str() {
        "and" => Op(BinaryKind::And),
        "or" => Op(BinaryKind::Or),
        "unless" => Op(BinaryKind::Unless),
        "atan2" => Op(BinaryKind::Atan2),
        "sum" => Ag(A::Sum),
        "avg" => Ag(A::Avg),
        "count" => Ag(A::Count),
        "min" => Ag(A::Min),
        "max" => Ag(A::Max),
        "group" => Ag(A::Group),
        "stddev" => Ag(A::Stddev),
        "stdvar" => Ag(A::Stdvar),
        "topk" => Ag(A::Topk),
        "bottomk" => Ag(A::Bottomk),
        "count_values" => Ag(A::CountValues),
        "quantile" => Ag(A::Quantile),
        "limitk" => Ag(A::Limitk),
        "limit_ratio" => Ag(A::LimitRatio),
        "bool" => Kw(K::Bool),
        "by" => Kw(K::By),
        "without" => Kw(K::Without),
        "on" => Kw(K::On),
        "ignoring" => Kw(K::Ignoring),
        "group_left" => Kw(K::GroupLeft),
        "group_right" => Kw(K::GroupRight),
        "offset" => Kw(K::Offset),
        "start" => Kw(K::Start),
        "end" => Kw(K::End),
        "fill" => Kw(K::Fill),
        "fill_left" => Kw(K::FillLeft),
        "fill_right" => Kw(K::FillRight),
        "anchored" => Kw(K::Anchored),
        "smoothed" => Kw(K::Smoothed),
        "inf" | "nan" => TokenKind::Number,
        _ => return None,
    })
}

/// All tokens of `query`, ending with `Eof`, or with `Error` and the lexer's error.
pub fn tokenize(query: &str) -> (Vec<Token>, Option<ParseError>) {
    let mut lexer = Lexer {
        src: query.as_bytes(),
        query,
        pos: 0,
        tokens: Vec::new(),
        paren_depth: 0,
        bracket_open: false,
        colon_seen: false,
    };
    let error = lexer.run().err();
    (lexer.tokens, error)
}

struct Lexer<'a> {
    src: &'a [u8],
    query: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    paren_depth: usize,
    bracket_open: bool,
    /// The open bracket already holds a subquery's colon.
    colon_seen: bool,
}

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_alphanumeric(b: u8) -> bool {
    is_alpha(b) || b.is_ascii_digit()
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    fn emit(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            start,
            end: self.pos,
        });
    }

    /// Ends the token list with `Error` at `at` and returns the error.
    fn fail(&mut self, at: usize, message: impl Into<String>) -> Result<(), ParseError> {
        self.tokens.push(Token {
            kind: TokenKind::Error,
            start: at,
            end: at,
        });
        Err(ParseError::new(self.query, at, message))
    }

    fn unexpected_char(&mut self, at: usize, place: &str) -> Result<(), ParseError> {
        let c = super::go_char(self.char_at(at));
        self.fail(at, format!("unexpected character{place}: {c}"))
    }

    /// The character starting at byte `at`, for messages; U+FFFD at the end, as Go shows its
    /// end-of-input rune.
    fn char_at(&self, at: usize) -> char {
        self.query[at..].chars().next().unwrap_or('\u{fffd}')
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_whitespace();
            let start = self.pos;
            let Some(c) = self.peek() else {
                if self.paren_depth > 0 {
                    return self.fail(start, "unclosed left parenthesis");
                }
                if self.bracket_open {
                    return self.fail(start, "unclosed left bracket");
                }
                self.emit(TokenKind::Eof, start);
                return Ok(());
            };
            if c == b'#' {
                while !matches!(self.peek(), None | Some(b'\n')) {
                    self.pos += 1;
                }
                continue;
            }
            if c.is_ascii_digit()
                || (c == b'.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
            {
                self.number_or_duration(start)?;
                continue;
            }
            if is_alpha(c) || c == b':' {
                // A colon inside brackets separates a subquery's range from its step.
                if c == b':' && self.bracket_open {
                    if self.colon_seen {
                        return self.fail(start, "unexpected colon ':'");
                    }
                    self.colon_seen = true;
                    self.pos += 1;
                    self.emit(TokenKind::Colon, start);
                } else {
                    self.word(start);
                }
                continue;
            }
            self.pos += 1;
            let kind = match c {
                b',' => TokenKind::Comma,
                b'*' => TokenKind::Op(BinaryKind::Mul),
                b'/' => TokenKind::Op(BinaryKind::Div),
                b'%' => TokenKind::Op(BinaryKind::Mod),
                b'+' => TokenKind::Op(BinaryKind::Add),
                b'-' => TokenKind::Op(BinaryKind::Sub),
                b'^' => TokenKind::Op(BinaryKind::Pow),
                b'@' => TokenKind::At,
                b'=' => match self.peek() {
                    Some(b'=') => {
                        self.pos += 1;
                        TokenKind::Op(BinaryKind::Eq)
                    }
                    Some(b'~') => {
                        return self.fail(start, "unexpected character after '=': '~'");
                    }
                    _ => TokenKind::Eql,
                },
                b'!' => match self.peek() {
                    Some(b'=') => {
                        self.pos += 1;
                        TokenKind::Op(BinaryKind::Ne)
                    }
                    _ => {
                        let after = self.pos;
                        let what = super::go_char(self.char_at(after));
                        return self.fail(start, format!("unexpected character after '!': {what}"));
                    }
                },
                b'<' | b'>' => {
                    let or_equal = self.peek() == Some(b'=');
                    if or_equal {
                        self.pos += 1;
                    }
                    TokenKind::Op(match (c, or_equal) {
                        (b'<', true) => BinaryKind::Le,
                        (b'<', false) => BinaryKind::Lt,
                        (_, true) => BinaryKind::Ge,
                        _ => BinaryKind::Gt,
                    })
                }
                b'"' | b'\'' | b'`' => {
                    self.string(start, c)?;
                    continue;
                }
                b'(' => {
                    self.paren_depth += 1;
                    TokenKind::LeftParen
                }
                b')' => {
                    if self.paren_depth == 0 {
                        let at = self.pos;
                        return self.fail(at, "unexpected right parenthesis ')'");
                    }
                    self.paren_depth -= 1;
                    TokenKind::RightParen
                }
                b'{' => {
                    self.emit(TokenKind::LeftBrace, start);
                    self.inside_braces()?;
                    continue;
                }
                b'[' => {
                    if self.bracket_open {
                        return self.fail(start, "unexpected left bracket '['");
                    }
                    self.bracket_open = true;
                    self.colon_seen = false;
                    TokenKind::LeftBracket
                }
                b']' => {
                    if !self.bracket_open {
                        return self.fail(start, "unexpected right bracket ']'");
                    }
                    self.bracket_open = false;
                    TokenKind::RightBracket
                }
                _ => return self.unexpected_char(start, ""),
            };
            self.emit(kind, start);
        }
    }

    /// Label matchers: names, operators, strings, commas, up to the closing brace.
    fn inside_braces(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_whitespace();
            let start = self.pos;
            let Some(c) = self.peek() else {
                return self.fail(start, "unexpected end of input inside braces");
            };
            if is_alpha(c) {
                while self.peek().is_some_and(is_alphanumeric) {
                    self.pos += 1;
                }
                self.emit(TokenKind::Identifier, start);
                continue;
            }
            self.pos += 1;
            let kind = match c {
                b',' => TokenKind::Comma,
                b'"' | b'\'' | b'`' => {
                    self.string(start, c)?;
                    continue;
                }
                b'=' if self.peek() == Some(b'~') => {
                    self.pos += 1;
                    TokenKind::EqlRegex
                }
                b'=' => TokenKind::Eql,
                b'!' => match self.peek() {
                    Some(b'~') => {
                        self.pos += 1;
                        TokenKind::NeqRegex
                    }
                    Some(b'=') => {
                        self.pos += 1;
                        TokenKind::Op(BinaryKind::Ne)
                    }
                    _ => {
                        let what = super::go_char(self.char_at(self.pos));
                        return self.fail(
                            start,
                            format!("unexpected character after '!' inside braces: {what}"),
                        );
                    }
                },
                b'{' => return self.fail(start, "unexpected left brace '{' inside braces"),
                b'}' => {
                    self.emit(TokenKind::RightBrace, start);
                    return Ok(());
                }
                _ => return self.unexpected_char(start, " inside braces"),
            };
            self.emit(kind, start);
        }
    }

    /// A word: keyword, identifier or metric identifier (one with a colon).
    fn word(&mut self, start: usize) {
        while self.peek().is_some_and(|b| is_alphanumeric(b) || b == b':') {
            self.pos += 1;
        }
        let word = &self.query[start..self.pos];
        let kind = word_kind(word).unwrap_or(if word.contains(':') {
            TokenKind::MetricIdentifier
        } else {
            TokenKind::Identifier
        });
        self.emit(kind, start);
    }

    /// A string token, quotes included (the parser unquotes it).
    fn string(&mut self, start: usize, quote: u8) -> Result<(), ParseError> {
        if quote == b'`' {
            return self.raw_string(start);
        }
        self.quoted_string(start, quote)
    }

    /// `"…"` or `'…'` with escapes.
    fn quoted_string(&mut self, start: usize, quote: u8) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.fail(start, "unterminated quoted string"),
                Some(b'\\') => {
                    self.pos += 1;
                    if self.peek().is_none() {
                        return self.fail(start, "escape sequence not terminated");
                    }
                    // Escapes are checked when the string is unquoted.
                    self.pos += self.char_at(self.pos).len_utf8();
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    self.emit(TokenKind::String, start);
                    return Ok(());
                }
                Some(_) => self.pos += self.char_at(self.pos).len_utf8(),
            }
        }
    }

    fn raw_string(&mut self, start: usize) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                None => return self.fail(start, "unterminated raw string"),
                Some(b'`') => {
                    self.pos += 1;
                    self.emit(TokenKind::String, start);
                    return Ok(());
                }
                Some(_) => self.pos += self.char_at(self.pos).len_utf8(),
            }
        }
    }

    /// A number (decimal, hex, exponent) or a duration (number followed by units).
    fn number_or_duration(&mut self, start: usize) -> Result<(), ParseError> {
        if self.scan_number() {
            self.emit(TokenKind::Number, start);
            return Ok(());
        }
        if self.accept_duration_units() {
            self.emit(TokenKind::Duration, start);
            return Ok(());
        }
        let text = self.query[start..self.pos].to_string();
        self.fail(
            start,
            format!("bad number or duration syntax: {}", super::quote(&text)),
        )
    }

    /// Consumes a number; true when what follows cannot continue it (no letter or digit).
    fn scan_number(&mut self) -> bool {
        let hex = self.peek() == Some(b'0') && matches!(self.peek_at(1), Some(b'x' | b'X'));
        if hex {
            self.pos += 2;
            while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                self.pos += 1;
            }
        } else {
            self.digits();
            if self.peek() == Some(b'.') {
                self.pos += 1;
                self.digits();
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.pos += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                self.digits();
            }
        }
        !self.peek().is_some_and(is_alphanumeric)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// After a number: unit letters, then optionally more number+unit pairs (`1h30m`). True
    /// when that forms a duration token.
    fn accept_duration_units(&mut self) -> bool {
        if !self.unit() {
            return false;
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.digits();
            if !self.unit() {
                return false;
            }
        }
        !self.peek().is_some_and(is_alphanumeric)
    }

    fn unit(&mut self) -> bool {
        if !matches!(self.peek(), Some(b's' | b'm' | b'h' | b'd' | b'w' | b'y')) {
            return false;
        }
        self.pos += 1;
        // `ms`; bad pairs such as `hs` are refused when the duration is parsed.
        if self.peek() == Some(b's') {
            self.pos += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(query: &str) -> Vec<TokenKind> {
        let (tokens, error) = tokenize(query);
        assert!(error.is_none(), "{query}: {error:?}");
        tokens.into_iter().map(|t| t.kind).collect()
    }

    fn error(query: &str) -> String {
        tokenize(query).1.map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn numbers_durations_and_words() {
        use TokenKind::*;
        assert_eq!(
            kinds("rate(foo[5m]) * 0x1F + .5e-3 - Inf"),
            vec![
                Identifier,
                LeftParen,
                Identifier,
                LeftBracket,
                Duration,
                RightBracket,
                RightParen,
                Op(BinaryKind::Mul),
                Number,
                Op(BinaryKind::Add),
                Number,
                Op(BinaryKind::Sub),
                Number,
                Eof
            ]
        );
        assert_eq!(kinds("1h30m5ms"), vec![Duration, Eof]);
        assert_eq!(kinds("1.5m"), vec![Duration, Eof]);
        assert_eq!(kinds("1e"), vec![Number, Eof]);
        assert_eq!(
            kinds("SUM BY (a) (x:y)"),
            vec![
                Aggregator(Aggregation::Sum),
                Keyword(super::Keyword::By),
                LeftParen,
                Identifier,
                RightParen,
                LeftParen,
                MetricIdentifier,
                RightParen,
                Eof
            ]
        );
    }

    #[test]
    fn matchers_inside_braces_are_not_keywords() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"{by="a", on!~'b',"x.y"=~`c`}"#),
            vec![
                LeftBrace, Identifier, Eql, String, Comma, Identifier, NeqRegex, String, Comma,
                String, EqlRegex, String, RightBrace, Eof
            ]
        );
    }

    #[test]
    fn comments_end_at_the_line() {
        use TokenKind::*;
        assert_eq!(
            kinds("foo # a comment ) (\n+ 1"),
            vec![Identifier, Op(BinaryKind::Add), Number, Eof]
        );
    }

    #[test]
    fn errors_as_prometheus_words_and_places_them() {
        assert_eq!(error("sum("), "1:5: parse error: unclosed left parenthesis");
        assert_eq!(
            error("1)"),
            "1:3: parse error: unexpected right parenthesis ')'"
        );
        assert_eq!(
            error("foo{"),
            "1:5: parse error: unexpected end of input inside braces"
        );
        assert_eq!(error("foo[5m"), "1:7: parse error: unclosed left bracket");
        assert_eq!(
            error("a $ b"),
            "1:3: parse error: unexpected character: '$'"
        );
        assert_eq!(
            error("\"abc"),
            "1:1: parse error: unterminated quoted string"
        );
        assert_eq!(
            error("foo\n  } "),
            "2:3: parse error: unexpected character: '}'"
        );
        assert_eq!(
            error("'a\\"),
            "1:1: parse error: escape sequence not terminated"
        );
        assert_eq!(error("`a"), "1:1: parse error: unterminated raw string");
        assert_eq!(
            error("foo[5m:1m:]"),
            "1:10: parse error: unexpected colon ':'"
        );
        assert_eq!(
            error("a !"),
            "1:3: parse error: unexpected character after '!': '\u{fffd}'"
        );
        assert_eq!(
            error("{a!}"),
            "1:3: parse error: unexpected character after '!' inside braces: '}'"
        );
    }
}
