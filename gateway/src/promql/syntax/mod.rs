//! PromQL syntax: the lexer, the parser and the type checks, with Prometheus' grammar and its
//! error messages and positions (`1:5: parse error: unclosed left parenthesis`).
//!
//! Our own rather than a crate's: errors carry positions and Prometheus' wording, backtick
//! strings are raw, and the experimental syntax Prometheus 3.x has (duration arithmetic,
//! `fill` modifiers, quoted UTF-8 names) parses.

pub mod ast;
mod check;
mod error;
mod lexer;
mod parser;
pub mod pretty;

pub use ast::*;
pub use error::ParseError;
pub use parser::{parse_duration, parse_number};

use store_api::text::go_quote;

/// Parses and type-checks a query.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    let mut expr = parser::Parser::new(query).parse_query()?;
    check::Checker::new(query).check(&mut expr)?;
    Ok(expr)
}

/// Parses a series selector (`match[]`): `name{…}`, `name` or `{…}`, nothing else.
pub fn parse_selector(query: &str) -> Result<VectorSelector, ParseError> {
    let (selector, span) = parser::Parser::new(query).parse_selector()?;
    check::Checker::new(query).selector(&selector, span)?;
    Ok(selector)
}

/// A series selector as `/federate` takes its `match[]` (Prometheus' `ParseMetricSelector`):
/// [`parse_selector`] without its checks, so `{__name__=~".*"}` selects every series (and
/// `a{__name__="b"}` none).
pub fn parse_metric_selector(query: &str) -> Result<VectorSelector, ParseError> {
    parser::Parser::new(query)
        .parse_selector()
        .map(|(selector, _)| selector)
}

/// A string as PromQL writes it (Go's `strconv.Quote`).
pub fn quote(s: &str) -> String {
    go_quote(s)
}

/// Bytes as Go's `strconv.Quote` writes a string that is not UTF-8: `"a\xc5z"`.
pub fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        let valid = quote(chunk.valid());
        out.push_str(&valid[1..valid.len() - 1]);
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// A name of the classic form, `[a-zA-Z_][a-zA-Z0-9_]*`, that needs no quotes.
pub(crate) fn is_classic_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A label name as written: bare when it is a classic name, quoted otherwise.
pub fn quote_label_name(name: &str) -> String {
    if is_classic_name(name) {
        name.to_string()
    } else {
        quote(name)
    }
}

/// The value of a string token: `"…"` and `'…'` with Go's escapes, `` `…` `` raw.
fn unquote(token: &str) -> Result<StringLiteral, String> {
    let Some(quote_char) = token.chars().next() else {
        return Err("empty string token".into());
    };
    let body = &token[1..token.len().saturating_sub(1).max(1)];
    if quote_char == '`' {
        return Ok(StringLiteral {
            value: body.to_string(),
            not_utf8: None,
        });
    }
    let mut bytes = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some(e) = chars.next() else {
            return Err("escape sequence not terminated".into());
        };
        let simple = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            c if c == quote_char => Some(c as u8),
            _ => None,
        };
        if let Some(b) = simple {
            bytes.push(b);
            continue;
        }
        let (digits, radix, max) = match e {
            '0'..='7' => (3, 8, 255),
            'x' => (2, 16, 255),
            'u' => (4, 16, 0x10ffff),
            'U' => (8, 16, 0x10ffff),
            other => {
                return Err(format!(
                    "unknown escape sequence U+{:04X} {}",
                    other as u32,
                    go_char(other)
                ));
            }
        };
        let mut text = String::new();
        if e.is_ascii_digit() {
            text.push(e);
        }
        while text.len() < digits {
            match chars.next() {
                Some(d) if d.is_digit(radix) => text.push(d),
                Some(d) => {
                    return Err(format!(
                        "illegal character U+{:04X} {} in escape sequence",
                        d as u32,
                        go_char(d)
                    ));
                }
                None => return Err("escape sequence not terminated".into()),
            }
        }
        let value = u32::from_str_radix(&text, radix).unwrap_or(u32::MAX);
        if value > max || (0xd800..0xe000).contains(&value) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        if matches!(e, 'u' | 'U') {
            let c = char::from_u32(value).unwrap_or('\u{fffd}');
            let mut buf = [0; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            bytes.push(value as u8);
        }
    }
    // Byte escapes may leave invalid UTF-8 (`"\xff"`).
    Ok(match String::from_utf8(bytes) {
        Ok(value) => StringLiteral {
            value,
            not_utf8: None,
        },
        Err(e) => StringLiteral {
            value: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            not_utf8: Some(e.into_bytes().into_boxed_slice()),
        },
    })
}

/// Go's `%q` of a rune, for escape errors.
pub(crate) fn go_char(c: char) -> String {
    let quoted = quote(&c.to_string());
    format!("'{}'", &quoted[1..quoted.len() - 1])
}

#[cfg(test)]
mod tests;
