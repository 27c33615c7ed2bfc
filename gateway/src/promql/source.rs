//! From query text to the parser's AST: the one entry point every caller uses.
//!
//! promql-parser treats a backtick string like a double-quoted one and rejects escapes such as
//! `\.` in it, where PromQL takes backtick strings raw (the usual way to write a regex:
//! ``{le=~`0\.5`}``). Raw strings are therefore rewritten as the equivalent double-quoted
//! strings before parsing. The parser also panics on some inputs (a duration too large for
//! `Duration`): a panic there is a parse error, not a crash.

use promql_parser::parser::Expr;
use std::borrow::Cow;

pub fn parse(query: &str) -> Result<Expr, String> {
    let query = raw_strings_quoted(query);
    std::panic::catch_unwind(|| promql_parser::parser::parse(&query))
        .map_err(|_| format!("cannot parse {query:?}"))?
}

/// The query with every backtick string written as a double-quoted string of the same value.
fn raw_strings_quoted(query: &str) -> Cow<'_, str> {
    if !query.contains('`') {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len() + 8);
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match c {
            // A comment runs to the end of the line; quotes in it mean nothing.
            '#' => {
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
            }
            // A quoted string, escapes and all, is copied as it is.
            '"' | '\'' => {
                out.push(c);
                let mut escaped = false;
                for d in chars.by_ref() {
                    out.push(d);
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == c {
                        break;
                    }
                }
            }
            '`' => {
                out.push('"');
                let mut closed = false;
                for d in chars.by_ref() {
                    match d {
                        '`' => {
                            closed = true;
                            break;
                        }
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        _ => out.push(d),
                    }
                }
                // An unterminated raw string stays unterminated, for the parser to report.
                if closed {
                    out.push('"');
                }
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_strings_become_quoted_strings_of_the_same_value() {
        assert_eq!(raw_strings_quoted(r"a{le=~`0\.5`}"), r#"a{le=~"0\\.5"}"#);
        assert_eq!(
            raw_strings_quoted(r#"a{b=`say "hi"`}"#),
            r#"a{b="say \"hi\""}"#
        );
        assert_eq!(raw_strings_quoted("a{b=`x\ny`}"), r#"a{b="x\ny"}"#);
        // Backticks inside quoted strings and comments are left alone.
        assert_eq!(
            raw_strings_quoted(r#"a{b="`\""} # `x"#),
            r#"a{b="`\""} # `x"#
        );
        assert_eq!(raw_strings_quoted("a{b=`x"), "a{b=\"x");
    }

    #[test]
    fn backtick_regexes_parse_as_prometheus_parses_them() {
        let raw = parse(r"m{le=~`0\.(05|5)|\+Inf`}").unwrap();
        let quoted = parse(r#"m{le=~"0\\.(05|5)|\\+Inf"}"#).unwrap();
        assert_eq!(format!("{raw}"), format!("{quoted}"));
        assert!(parse("m{le=~`x").is_err());
        assert!(
            parse(r#"m{le=~"0\.5"}"#).is_err(),
            "\\. is no escape in a quoted string"
        );
    }
}
