//! Quoting strings: Go's (`strconv.Quote`, `%q`), which PromQL, Prometheus' messages and the
//! selectors sent to Prometheus all write, and JSON's, which every API answer writes.

/// Go's `%q` of a string (`strconv.Quote`): double quotes, C-style and `\x`/`\u` escapes for
/// what is not printable.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !go_printable(c) => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint` for non-ASCII, approximately: not control, format (Cf), separator
/// or private-use characters.
fn go_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(u, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e)
        || matches!(u, 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f | 0xfeff)
        || matches!(u, 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xe0001..=0xe007f)
        || u >= 0xf0000)
}

/// `s` as a JSON string literal, appended to `out`.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\n\u{1}");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn quote_matches_go() {
        assert_eq!(go_quote("series"), "\"series\"");
        assert_eq!(go_quote("Hello World"), "\"Hello World\"");
        assert_eq!(go_quote(""), "\"\"");
        assert_eq!(
            go_quote("a\"b\\c\nd\u{1}é\u{7f}"),
            r#""a\"b\\c\nd\x01é\x7f""#
        );
    }
}
