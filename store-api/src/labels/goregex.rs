//! Go (RE2) regular expressions on Rust's `regex` engine, fully anchored as Prometheus anchors
//! them (`^(?s:…)$`). The syntaxes mostly agree; this rewrites where Go differs: `\d \w \s \b`
//! are ASCII-only, `\Q…\E` quotes, a `{` that starts no repetition is literal, `[` inside a class
//! is literal; and it refuses what Go refuses, in Go's words (`regexp/syntax`'s error codes and
//! the offending text): stacked repetitions (`a**`), counts above 1000, unknown escapes, flags
//! Go lacks, unbalanced parentheses and brackets.

use regex::Regex;
use std::fmt;

/// A compiled, fully anchored Go regex.
#[derive(Clone, Debug)]
pub struct GoRegex {
    regex: Regex,
}

/// Why Go's `regexp.Compile` refuses a pattern, worded as Go words it:
/// `error parsing regexp: <code>: `<text>``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexError {
    code: &'static str,
    text: String,
}

impl RegexError {
    fn new(code: &'static str, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error parsing regexp: {}: `{}`", self.code, self.text)
    }
}

impl std::error::Error for RegexError {}

type Result<T> = std::result::Result<T, RegexError>;

/// Byte ranges of a match's groups (None: group did not participate), group 0 first.
pub type Groups = Vec<Option<(usize, usize)>>;

impl GoRegex {
    /// Compiles `pattern` with Go's syntax and limits, or Go's error.
    pub fn new(pattern: &str) -> Result<GoRegex> {
        let translated = translate(pattern)?;
        let regex = Regex::new(&format!("^(?s:{translated})$"))
            // What Go accepts and Rust does not (none known): Rust's first line says why.
            .map_err(|e| {
                let reason = e.to_string();
                let line = reason.lines().last().unwrap_or_default().trim().to_owned();
                RegexError::new(
                    "invalid or unsupported syntax",
                    format!("{pattern}: {line}"),
                )
            })?;
        Ok(GoRegex { regex })
    }

    /// Whether the whole `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// The groups of the match of the whole `text`; None when it does not match.
    pub fn captures(&self, text: &str) -> Option<Groups> {
        let caps = self.regex.captures(text)?;
        Some(
            (0..caps.len())
                .map(|i| caps.get(i).map(|m| (m.start(), m.end())))
                .collect(),
        )
    }

    /// Group names by index (None for unnamed groups and group 0).
    pub fn group_names(&self) -> Vec<Option<String>> {
        self.regex
            .capture_names()
            .map(|n| n.map(str::to_string))
            .collect()
    }
}

fn text(chars: &[char]) -> String {
    chars.iter().collect()
}

/// Rewrites Go syntax into the equivalent Rust syntax, or Go's error.
fn translate(p: &str) -> Result<String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    // Where the last repetition operator started (another right after it is an error; one
    // `?` makes it non-greedy), and whether there is something to repeat.
    let (mut last_repeat, mut lazy, mut operand): (Option<usize>, bool, bool) =
        (None, false, false);
    let mut open_groups = 0usize;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let mut repeat = false;
        match c {
            '\\' => {
                i = escape(&chars, i, &mut out, false)?;
                operand = true;
            }
            '[' => {
                i = class(&chars, i, &mut out)?;
                operand = true;
            }
            '(' => {
                operand = false;
                let opens = if chars.get(i + 1) == Some(&'?') {
                    let (next, opens) = group_flags(&chars, i, &mut out)?;
                    i = next;
                    opens
                } else {
                    out.push('(');
                    i += 1;
                    true
                };
                open_groups += usize::from(opens);
            }
            ')' => {
                if open_groups == 0 {
                    return Err(RegexError::new("unexpected )", p));
                }
                open_groups -= 1;
                out.push(')');
                operand = true;
                i += 1;
            }
            '|' => {
                out.push('|');
                operand = false;
                i += 1;
            }
            '*' | '+' | '?' => {
                if let Some(previous) = last_repeat {
                    if c != '?' || lazy {
                        return Err(RegexError::new(
                            "invalid nested repetition operator",
                            text(&chars[previous..=i]),
                        ));
                    }
                    lazy = true;
                    out.push(c);
                    i += 1;
                    continue;
                }
                if !operand {
                    return Err(RegexError::new(
                        "missing argument to repetition operator",
                        c.to_string(),
                    ));
                }
                out.push(c);
                repeat = true;
                i += 1;
            }
            '{' => match counted_repeat(&chars[i..]) {
                Some((len, n, m)) => {
                    let op = text(&chars[i..i + len]);
                    if let Some(previous) = last_repeat {
                        return Err(RegexError::new(
                            "invalid nested repetition operator",
                            text(&chars[previous..i + len]),
                        ));
                    }
                    if n > 1000 || m.is_some_and(|m| m > 1000 || m < n) {
                        return Err(RegexError::new("invalid repeat count", op));
                    }
                    if !operand {
                        return Err(RegexError::new(
                            "missing argument to repetition operator",
                            op,
                        ));
                    }
                    out.push_str(&op);
                    repeat = true;
                    i += len;
                }
                None => {
                    out.push_str("\\{");
                    operand = true;
                    i += 1;
                }
            },
            _ => {
                // Anything else repeats, `^` and `$` too (Go allows `^*`).
                out.push(c);
                operand = true;
                i += 1;
            }
        }
        last_repeat = repeat.then_some(start);
        if repeat {
            lazy = false;
        }
    }
    if open_groups > 0 {
        return Err(RegexError::new("missing closing )", p));
    }
    Ok(out)
}

/// Copies a `(?flags)`, `(?flags:`, `(?P<name>` or `(?<name>` at `chars[i]`; returns the
/// index after it and whether it opens a group (`(?flags)` does not). Go knows only the
/// flags i, m, s, U.
fn group_flags(chars: &[char], i: usize, out: &mut String) -> Result<(usize, bool)> {
    let named = matches!(chars.get(i + 2), Some('P' | '<'));
    let mut j = i + 2;
    out.push_str("(?");
    while j < chars.len() {
        let c = chars[j];
        if !named && !matches!(c, 'i' | 'm' | 's' | 'U' | '-' | ':' | ')') {
            return Err(RegexError::new(
                "invalid or unsupported Perl syntax",
                text(&chars[i..=j]),
            ));
        }
        out.push(c);
        j += 1;
        if (named && c == '>') || (!named && c == ':') {
            return Ok((j, true));
        }
        if !named && c == ')' {
            return Ok((j, false));
        }
    }
    Err(RegexError::new(
        "invalid or unsupported Perl syntax",
        text(&chars[i..]),
    ))
}

/// `{n}`, `{n,}` or `{n,m}` at the start of `s`: (length, n, m). Go takes anything else as a
/// literal `{`.
fn counted_repeat(s: &[char]) -> Option<(usize, u64, Option<u64>)> {
    let close = s.iter().position(|&c| c == '}')?;
    let body: String = s[1..close].iter().collect();
    let (n, m) = match body.split_once(',') {
        None => (body.as_str(), Some(body.as_str())),
        Some((n, "")) => (n, None),
        Some((n, m)) => (n, Some(m)),
    };
    // Go's parseInt: digits only, no leading zero.
    let num = |t: &str| {
        let digits = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        (digits && !(t.len() > 1 && t.starts_with('0')))
            .then(|| t.parse::<u64>().unwrap_or(u64::MAX))
    };
    let n = num(n)?;
    let m = match m {
        Some(m) => Some(num(m)?),
        None => None,
    };
    Some((close + 1, n, m))
}

/// Translates the escape at `chars[i]` (a backslash); returns the index after it, or Go's
/// error for an escape it does not know.
fn escape(chars: &[char], i: usize, out: &mut String, in_class: bool) -> Result<usize> {
    let Some(&c) = chars.get(i + 1) else {
        return Err(RegexError::new(
            "trailing backslash at end of expression",
            "",
        ));
    };
    let invalid = || RegexError::new("invalid escape sequence", format!("\\{c}"));
    let class = match c {
        'd' => Some(("0-9", false)),
        'D' => Some(("0-9", true)),
        'w' => Some(("0-9A-Za-z_", false)),
        'W' => Some(("0-9A-Za-z_", true)),
        's' => Some(("\\t\\n\\x0C\\r ", false)),
        'S' => Some(("\\t\\n\\x0C\\r ", true)),
        _ => None,
    };
    if let Some((set, negated)) = class {
        match (in_class, negated) {
            (true, false) => out.push_str(set),
            _ => {
                out.push_str(if negated { "[^" } else { "[" });
                out.push_str(set);
                out.push(']');
            }
        }
        return Ok(i + 2);
    }
    let octal = |k: usize| chars.get(k).is_some_and(|c| ('0'..='7').contains(c));
    Ok(match c {
        // Octal: \0, \0NN, \NN, \NNN; a lone \1-\7 (or \8, \9) is a backreference Go rejects.
        '0'..='7' => {
            if c != '0' && !octal(i + 2) {
                return Err(invalid());
            }
            let mut value = 0;
            let mut j = i + 1;
            while j < i + 4 && octal(j) {
                value = value * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            out.push_str(&format!("\\x{{{value:x}}}"));
            j
        }
        // Rust's word-start/end assertions; Go's escaped punctuation.
        '<' | '>' => {
            out.push(c);
            i + 2
        }
        'b' | 'B' if !in_class => {
            out.push_str(if c == 'b' { "(?-u:\\b)" } else { "(?-u:\\B)" });
            i + 2
        }
        'Q' if !in_class => {
            let mut j = i + 2;
            while j < chars.len() && !(chars[j] == '\\' && chars.get(j + 1) == Some(&'E')) {
                push_literal(out, chars[j]);
                j += 1;
            }
            // Go quotes to the end without `\E`.
            (j + 2).min(chars.len())
        }
        'p' | 'P' | 'x' if chars.get(i + 2) == Some(&'{') => {
            // \p{Greek}, \x{263a}: copy the braces as they are.
            let end = chars[i..]
                .iter()
                .position(|&c| c == '}')
                .map_or(chars.len(), |k| i + k + 1);
            out.extend(&chars[i..end]);
            end
        }
        // Go's other escapes: Perl classes by one letter, hex, the C escapes, the text
        // anchors; any ASCII punctuation stands for itself.
        'p' | 'P' | 'x' | 'a' | 'f' | 'n' | 'r' | 't' | 'v' => {
            out.push('\\');
            out.push(c);
            i + 2
        }
        'A' | 'z' if !in_class => {
            out.push('\\');
            out.push(c);
            i + 2
        }
        c if c.is_ascii_punctuation() => {
            out.push('\\');
            out.push(c);
            i + 2
        }
        _ => return Err(invalid()),
    })
}

/// Copies the character class at `chars[i]` (a `[`); returns the index after it.
fn class(chars: &[char], i: usize, out: &mut String) -> Result<usize> {
    out.push('[');
    let mut j = i + 1;
    if chars.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        out.push(']'); // A leading ']' is a literal in both syntaxes.
        j += 1;
    }
    while j < chars.len() {
        let c = chars[j];
        match c {
            ']' => {
                out.push(']');
                return Ok(j + 1);
            }
            '\\' => j = escape(chars, j, out, true)?,
            '[' if chars.get(j + 1) == Some(&':') => {
                // [:alpha:] is a POSIX class in both.
                let end = (j + 2..chars.len().saturating_sub(1))
                    .find(|&k| chars[k] == ':' && chars[k + 1] == ']')
                    .map_or(chars.len(), |k| k + 2);
                out.extend(&chars[j..end]);
                j = end;
            }
            // Literal in Go; nesting or set operators in Rust.
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
                j += 1;
            }
            _ => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err(RegexError::new("missing closing ]", text(&chars[i..])))
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(p: &str, s: &str) -> bool {
        GoRegex::new(p).expect(p).is_match(s)
    }

    #[test]
    fn anchored_and_dot_matches_newline() {
        assert!(matches("source-value-(.*)", "source-value-10"));
        assert!(!matches("value-(.*)", "source-value-10"));
        assert!(matches(".*", "a\nb"));
        assert!(matches("a|b", "b"));
        assert!(!matches("a|b", "ab"));
        assert!(matches("", ""));
    }

    #[test]
    fn go_specific_syntax() {
        assert!(matches(r"\d+", "123"));
        assert!(!matches(r"\d", "٣")); // Go's \d is ASCII.
        assert!(matches(r"\w+\s\W", "ab_1 !"));
        assert!(!matches(r"\w", "é"));
        assert!(matches(r"[\d\s]+", "1 2"));
        assert!(matches(r"[^\D]", "7"));
        assert!(matches(r"\Qa.b\E", "a.b"));
        assert!(!matches(r"\Qa.b\E", "axb"));
        assert!(matches(r"a{,3}", "a{,3}"));
        assert!(matches(r"x{bbb}y", "x{bbb}y"));
        assert!(matches(r"a{2}", "aa"));
        assert!(matches(r"a{02}", "a{02}"));
        assert!(matches(r"a{1,}b?", "aaa"));
        assert!(matches(r"[a[]+", "a[a"));
        assert!(matches(r"[a&&b]+", "a&&b"));
        assert!(matches(r"[[:alpha:]]+", "abc"));
        assert!(matches(r"\p{Greek}+", "αβ"));
        assert!(matches(r"(?i)ABC", "abc"));
        assert!(matches(r"(?P<x>a)(?<y>b)?", "a"));
        assert!(matches(r"\bfoo\b", "foo"));
        assert!(matches(r"a*?b??", "ab"));
        assert!(matches(r"\123\0", "S\0"));
        assert!(matches(r"\<a\>", "<a>"));
    }

    #[test]
    fn go_rejects_in_go_words() {
        // The texts Prometheus 3.5 answered (`error parsing regexp: ...` after the position).
        for (p, error) in [
            ("(.*", "missing closing ): `(.*`"),
            ("(", "missing closing ): `(`"),
            ("a)", "unexpected ): `a)`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("a++", "invalid nested repetition operator: `++`"),
            ("a*+", "invalid nested repetition operator: `*+`"),
            ("a???", "invalid nested repetition operator: `???`"),
            ("x{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
            ("a{1001}", "invalid repeat count: `{1001}`"),
            ("a{3,2}", "invalid repeat count: `{3,2}`"),
            ("[a", "missing closing ]: `[a`"),
            ("\\", "trailing backslash at end of expression: ``"),
            (r"\C", r"invalid escape sequence: `\C`"),
            (r"\Z", r"invalid escape sequence: `\Z`"),
            (r"\1", r"invalid escape sequence: `\1`"),
            ("*a", "missing argument to repetition operator: `*`"),
            ("(?x)a", "invalid or unsupported Perl syntax: `(?x`"),
            ("(?i", "invalid or unsupported Perl syntax: `(?i`"),
            ("(?P<n>x", "missing closing ): `(?P<n>x`"),
            ("a|*", "missing argument to repetition operator: `*`"),
            (r"[\b]", r"invalid escape sequence: `\b`"),
            (r"\u0041", r"invalid escape sequence: `\u`"),
            ("a{1001,}", "invalid repeat count: `{1001,}`"),
        ] {
            let err = GoRegex::new(p).expect_err(p);
            assert_eq!(
                err.to_string(),
                format!("error parsing regexp: {error}"),
                "{p}"
            );
        }
        for ok in [
            "x{1000}", "(x*)*", "x*?", r"\.", r"\pN", r"\x41", r"\Qa(b", "a{,1001}", "(?i)a", "^*",
            r"\A",
        ] {
            assert!(GoRegex::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn groups_and_names() {
        let re = GoRegex::new("(?P<a>x)(y)?(z)").unwrap();
        assert_eq!(
            re.captures("xz"),
            Some(vec![Some((0, 2)), Some((0, 1)), None, Some((1, 2))])
        );
        assert_eq!(
            re.group_names(),
            vec![None, Some("a".to_string()), None, None]
        );
    }
}
