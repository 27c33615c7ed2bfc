//! label_replace and label_join: Prometheus' validation, error wording and Go `Regexp.Expand`
//! semantics. Both validate once ([`LabelReplace::new`], [`LabelJoin::new`]) and then apply to
//! each series; an empty result removes the destination label.

use crate::promql::error::EngineError;
use store_api::Labels;
use store_api::labels::GoRegex;

/// `label_replace(v, dst, replacement, src, regex)`, validated and compiled.
#[derive(Clone, Debug)]
pub struct LabelReplace {
    dst: String,
    replacement: String,
    src: String,
    regex: GoRegex,
    names: Vec<Option<String>>,
}

impl LabelReplace {
    /// Compiles `regex` (fully anchored) and checks `dst`, with Prometheus' errors.
    pub fn new(dst: &str, replacement: &str, src: &str, regex: &str) -> Result<Self, EngineError> {
        let compiled = GoRegex::new(regex).map_err(|_| {
            EngineError::Execution(format!(
                "invalid regular expression in label_replace(): {regex}"
            ))
        })?;
        if !valid_label_name(dst) {
            return Err(EngineError::Execution(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        Ok(Self {
            dst: dst.to_string(),
            replacement: replacement.to_string(),
            src: src.to_string(),
            names: compiled.group_names(),
            regex: compiled,
        })
    }

    /// The destination label's name.
    pub fn destination(&self) -> &str {
        &self.dst
    }

    /// The labels with `dst` replaced when the regex matches the source value (a missing label
    /// is ""); unchanged otherwise.
    pub fn apply(&self, labels: &Labels) -> Labels {
        let value = labels.get(&self.src).unwrap_or("");
        let mut out = labels.clone();
        if let Some(groups) = self.regex.captures(value) {
            let expanded = expand(&self.replacement, value, &groups, &self.names);
            out.set(self.dst.clone(), expanded);
        }
        out
    }
}

/// `label_join(v, dst, separator, src...)`, validated.
#[derive(Clone, Debug)]
pub struct LabelJoin {
    dst: String,
    separator: String,
    srcs: Vec<String>,
}

impl LabelJoin {
    /// Checks the source names, then `dst`, with Prometheus' errors.
    pub fn new(dst: &str, separator: &str, srcs: &[impl AsRef<str>]) -> Result<Self, EngineError> {
        if let Some(bad) = srcs.iter().find(|s| !valid_label_name(s.as_ref())) {
            return Err(EngineError::Execution(format!(
                "invalid source label name in label_join(): {}",
                bad.as_ref()
            )));
        }
        if !valid_label_name(dst) {
            return Err(EngineError::Execution(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        Ok(Self {
            dst: dst.to_string(),
            separator: separator.to_string(),
            srcs: srcs.iter().map(|s| s.as_ref().to_string()).collect(),
        })
    }

    /// The destination label's name.
    pub fn destination(&self) -> &str {
        &self.dst
    }

    /// The labels with `dst` set to the sources' values (missing ones are "") joined.
    pub fn apply(&self, labels: &Labels) -> Labels {
        let mut joined = String::new();
        for (i, src) in self.srcs.iter().enumerate() {
            if i > 0 {
                joined.push_str(&self.separator);
            }
            joined.push_str(labels.get(src).unwrap_or(""));
        }
        let mut out = labels.clone();
        out.set(self.dst.clone(), joined);
        out
    }
}

/// One-shot label_replace (compiles the regex on every call: prefer [`LabelReplace`]).
pub fn label_replace(
    labels: &Labels,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &str,
) -> Result<Labels, EngineError> {
    Ok(LabelReplace::new(dst, replacement, src, regex)?.apply(labels))
}

/// One-shot label_join.
pub fn label_join(
    labels: &Labels,
    dst: &str,
    separator: &str,
    srcs: &[&str],
) -> Result<Labels, EngineError> {
    Ok(LabelJoin::new(dst, separator, srcs)?.apply(labels))
}

/// Prometheus 3.x (UTF-8 names): any non-empty valid UTF-8 string, which every &str is.
pub fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Go's `Regexp.ExpandString`: `$name` / `${name}` take the longest run of letters, digits and
/// `_` (so `$1x` is group "1x"); all digits without a leading zero is a group number; `$$` is a
/// `$`; unknown or unmatched groups expand to ""; a malformed reference keeps the `$`.
fn expand(
    template: &str,
    src: &str,
    groups: &[Option<(usize, usize)>],
    names: &[Option<String>],
) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = reference(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let index =
            group_number(name).or_else(|| names.iter().position(|n| n.as_deref() == Some(name)));
        if let Some(Some((start, end))) = index.and_then(|i| groups.get(i)) {
            out.push_str(src.get(*start..*end).unwrap_or(""));
        }
    }
    out.push_str(rest);
    out
}

/// The name after a `$` (`name` or `{name}`) and the text after it; None if malformed.
fn reference(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    if braced {
        let after = body[len..].strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, &body[len..]))
}

/// A group number: ASCII digits, no leading zero, below 10^8 as in Go.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok().filter(|&n| n < 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(src: &str) -> Labels {
        Labels::from_pairs([
            ("__name__", "testmetric"),
            ("src", src),
            ("dst", "original-destination-value"),
        ])
    }

    #[test]
    fn replace_conformance() {
        // functions.test:476-520.
        let m = metric("source-value-10");
        let r = |dst, repl, src, re| label_replace(&m, dst, repl, src, re).unwrap();
        assert_eq!(
            r("dst", "destination-value-$1", "src", "source-value-(.*)").get("dst"),
            Some("destination-value-10")
        );
        assert_eq!(r("dst", "destination-value-$1", "src", "value-(.*)"), m);
        assert_eq!(
            r("dst", "$1-value-$2", "src", "(.*)-value-(.*)").get("dst"),
            Some("source-value-10")
        );
        assert_eq!(
            r("dst", "value-$1", "nonexistent-src", "source-value-(.*)"),
            m
        );
        assert_eq!(
            r("dst", "value-$1", "nonexistent-src", "(.*)").get("dst"),
            Some("value-")
        );
        assert_eq!(r("dst", "value-$1", "src", "non-matching-regex"), m);
        assert_eq!(r("dst", "", "dst", ".*").get("dst"), None);
        assert_eq!(
            r("new", "${1}x", "src", "source-(.*)").get("new"),
            Some("value-10x")
        );
    }

    #[test]
    fn replace_errors_in_prometheus_words() {
        let m = metric("x");
        assert_eq!(
            label_replace(&m, "dst", "value-$1", "src", "(.*").unwrap_err(),
            EngineError::Execution("invalid regular expression in label_replace(): (.*".into())
        );
        assert_eq!(
            label_replace(&m, "", "", "src", "(.*)").unwrap_err(),
            EngineError::Execution("invalid destination label name in label_replace(): ".into())
        );
        // The regex is checked first.
        assert!(
            label_replace(&m, "", "", "src", "(")
                .unwrap_err()
                .to_string()
                .contains("regular expression")
        );
    }

    #[test]
    fn expand_follows_go() {
        let re = GoRegex::new("(?P<first>a)(b)(c)?").unwrap();
        let names = re.group_names();
        let src = "ab";
        let groups = re.captures(src).unwrap();
        let e = |t: &str| expand(t, src, &groups, &names);
        assert_eq!(e("$1-$2"), "a-b");
        assert_eq!(e("${1}x"), "ax");
        assert_eq!(e("$1x"), ""); // Group "1x" does not exist.
        assert_eq!(e("$first/${first}"), "a/a");
        assert_eq!(e("$3|$9|$nope"), "||");
        assert_eq!(e("$$1 costs $"), "$1 costs $");
        assert_eq!(e("${1"), "${1");
        assert_eq!(e("$-"), "$-");
        assert_eq!(e("$01"), ""); // Leading zero: a name, not group 1.
        assert_eq!(e("$0"), "ab");
        assert_eq!(e("é$2é"), "é"); // Letters extend the name: group "2é".
        assert_eq!(e("é${2}é"), "ébé");
    }

    #[test]
    fn join_conformance() {
        // functions.test:555-590.
        let m = Labels::from_pairs([("src", "a"), ("src1", "b"), ("src2", "c"), ("dst", "orig")]);
        let j = |dst, sep, srcs: &[&str]| label_join(&m, dst, sep, srcs).unwrap();
        assert_eq!(
            j("dst", "-", &["src", "src1", "src2"]).get("dst"),
            Some("a-b-c")
        );
        assert_eq!(
            j("dst", "-", &["src", "src3", "src1"]).get("dst"),
            Some("a--b")
        );
        assert_eq!(j("dst", "", &["emptysrc", "emptysrc1"]).get("dst"), None);
        assert_eq!(j("dst", ", ", &[]).get("dst"), None);
        assert_eq!(j("new", ", ", &["src", "src1"]).get("new"), Some("a, b"));
        assert_eq!(
            label_join(&m, "dst", "-", &["src", ""]).unwrap_err(),
            EngineError::Execution("invalid source label name in label_join(): ".into())
        );
        assert_eq!(
            label_join(&m, "", "-", &["src"]).unwrap_err(),
            EngineError::Execution("invalid destination label name in label_join(): ".into())
        );
    }
}
