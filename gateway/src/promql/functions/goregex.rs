//! Go (RE2) regular expressions on Rust's `regex` engine, fully anchored as Prometheus anchors
//! them (`^(?s:…)$`). The syntaxes mostly agree; this rewrites where Go differs: `\d \w \s \b`
//! are ASCII-only, `\Q…\E` quotes, a `{` that starts no repetition is literal, `[` inside a class
//! is literal, and stacked repetitions (`a**`) or counts above 1000 are errors.

use regex::Regex;

/// A compiled, fully anchored Go regex.
#[derive(Clone, Debug)]
pub struct GoRegex {
    regex: Regex,
}

/// Byte ranges of a match's groups (None: group did not participate), group 0 first.
pub type Groups = Vec<Option<(usize, usize)>>;

impl GoRegex {
    /// None when Go's `regexp.Compile` would reject the pattern (as far as we can tell).
    pub fn new(pattern: &str) -> Option<GoRegex> {
        let translated = translate(pattern)?;
        let regex = Regex::new(&format!("^(?s:{translated})$")).ok()?;
        Some(GoRegex { regex })
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

/// Rewrites Go syntax into the equivalent Rust syntax; None where Go reports an error that Rust
/// would not.
fn translate(p: &str) -> Option<String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    // After a repetition operator another one is an error; one `?` (non-greedy) is allowed.
    let (mut after_repeat, mut lazy) = (false, false);
    while i < chars.len() {
        let c = chars[i];
        let mut repeat = false;
        match c {
            '\\' => i = escape(&chars, i, &mut out, false)?,
            '[' => i = class(&chars, i, &mut out)?,
            '(' if chars.get(i + 1) == Some(&'?') => {
                // Group flags or name: copy through ':' / ')' / '>' so its '?' is no operator.
                // Go knows only the flags i, m, s, U.
                let named = matches!(chars.get(i + 2), Some('P' | '<'));
                let mut j = i + 2;
                out.push_str("(?");
                while j < chars.len() {
                    let c = chars[j];
                    if !named && !matches!(c, 'i' | 'm' | 's' | 'U' | '-' | ':' | ')') {
                        return None;
                    }
                    out.push(c);
                    j += 1;
                    if (named && c == '>') || (!named && (c == ':' || c == ')')) {
                        break;
                    }
                }
                i = j;
            }
            '*' | '+' | '?' => {
                if after_repeat {
                    if c != '?' || lazy {
                        return None;
                    }
                    lazy = true;
                    out.push(c);
                    i += 1;
                    continue;
                }
                out.push(c);
                repeat = true;
                i += 1;
            }
            '{' => match counted_repeat(&chars[i..]) {
                Some((len, n, m)) => {
                    if after_repeat || n > 1000 || m.is_some_and(|m| m > 1000 || m < n) {
                        return None;
                    }
                    out.extend(&chars[i..i + len]);
                    repeat = true;
                    i += len;
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            _ => {
                out.push(c);
                i += 1;
            }
        }
        after_repeat = repeat;
        if repeat {
            lazy = false;
        }
    }
    Some(out)
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

/// Translates the escape at `chars[i]` (a backslash); returns the index after it, None where
/// Go rejects the escape.
fn escape(chars: &[char], i: usize, out: &mut String, in_class: bool) -> Option<usize> {
    let Some(&c) = chars.get(i + 1) else {
        return None; // Trailing backslash.
    };
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
        return Some(i + 2);
    }
    let octal = |k: usize| chars.get(k).is_some_and(|c| ('0'..='7').contains(c));
    Some(match c {
        // Octal: \0, \0NN, \NN, \NNN; a lone \1-\7 (or \8, \9) is a backreference Go rejects.
        '0'..='7' => {
            if c != '0' && !octal(i + 2) {
                return None;
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
        '8' | '9' => return None,
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
            // Without \E, Go quotes Prometheus' closing `)$` too: an unclosed group.
            if j >= chars.len() {
                return None;
            }
            j + 2
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
        _ => {
            out.push('\\');
            out.push(c);
            i + 2
        }
    })
}

/// Copies the character class at `chars[i]` (a `[`); returns the index after it.
fn class(chars: &[char], i: usize, out: &mut String) -> Option<usize> {
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
                return Some(j + 1);
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
    None // Unclosed class.
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
        GoRegex::new(p).expect(p).captures(s).is_some()
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
    fn go_rejects() {
        for p in [
            "(.*", "a**", "a*+", "a+*", "a???", "x{2}{3}", "a{1001}", "a{3,2}", "[a", r"\",
        ] {
            assert!(GoRegex::new(p).is_none(), "{p}");
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
