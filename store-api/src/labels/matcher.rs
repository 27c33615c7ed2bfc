//! Label matchers: `=`, `!=`, `=~`, `!~` with fully anchored regexes in Go's syntax, as
//! Prometheus has them.

use super::Labels;
use super::goregex::GoRegex;
use crate::error::StoreError;
use crate::text::go_quote;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher. A matcher on a label the series lacks sees the empty string.
#[derive(Clone, Debug)]
pub struct Matcher {
    name: String,
    value: String,
    test: Test,
}

/// How a value is tested; regexes are compiled once, when the matcher is built.
#[derive(Clone, Debug)]
enum Test {
    Equal,
    NotEqual,
    Regex(GoRegex),
    NotRegex(GoRegex),
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op() == other.op() && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, StoreError> {
        let name = name.into();
        let value = value.into();
        let test = match op {
            MatchOp::Equal => Test::Equal,
            MatchOp::NotEqual => Test::NotEqual,
            MatchOp::Regex => Test::Regex(anchored(&value)?),
            MatchOp::NotRegex => Test::NotRegex(anchored(&value)?),
        };
        Ok(Self { name, value, test })
    }

    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            test: Test::Equal,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value as written: the literal, or the regex without anchors.
    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn op(&self) -> MatchOp {
        match self.test {
            Test::Equal => MatchOp::Equal,
            Test::NotEqual => MatchOp::NotEqual,
            Test::Regex(_) => MatchOp::Regex,
            Test::NotRegex(_) => MatchOp::NotRegex,
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match &self.test {
            Test::Equal => self.value == value,
            Test::NotEqual => self.value != value,
            Test::Regex(re) => re.is_match(value),
            Test::NotRegex(re) => !re.is_match(value),
        }
    }

    /// Matches against a label set: a missing label is the empty string.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// Whether the matcher accepts the empty string, i.e. also series without the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

/// Whether every matcher accepts the label set.
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

/// Settles the matchers on a store's external labels, which its backend does not hold:
/// `None` when one rejects them (the store has no matching series), else the matchers left
/// for the backend.
pub fn without_external(external: &Labels, matchers: &[Matcher]) -> Option<Vec<Matcher>> {
    let mut rest = Vec::with_capacity(matchers.len());
    for matcher in matchers {
        match external.get(matcher.name()) {
            Some(value) if matcher.matches(value) => {}
            Some(_) => return None,
            None => rest.push(matcher.clone()),
        }
    }
    Some(rest)
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op().as_str(), self.value)
    }
}

/// A PromQL selector `{a="x",b=~"y"}` with values quoted as Go string literals, as
/// Prometheus reads them and its messages print them.
pub fn selector(matchers: &[Matcher]) -> String {
    let parts: Vec<String> = matchers
        .iter()
        .map(|m| format!("{}{}{}", m.name(), m.op().as_str(), go_quote(m.value())))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Prometheus anchors regexes at both ends and lets `.` match newlines; Go's syntax and
/// limits, and its error words (`error parsing regexp: ...`).
fn anchored(pattern: &str) -> Result<GoRegex, StoreError> {
    GoRegex::new(pattern).map_err(|e| StoreError::InvalidArgument(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_quote_like_go() {
        let matchers = vec![
            Matcher::equal("a", "x\"y\\"),
            Matcher::new(MatchOp::Regex, "b", "c|d\n").unwrap(),
        ];
        assert_eq!(selector(&matchers), r#"{a="x\"y\\",b=~"c|d\n"}"#);
    }

    fn m(op: MatchOp, value: &str) -> Matcher {
        Matcher::new(op, "l", value).unwrap()
    }

    #[test]
    fn regexes_are_fully_anchored() {
        assert!(m(MatchOp::Regex, "fo+").matches("foo"));
        assert!(!m(MatchOp::Regex, "fo+").matches("xfoo"));
        assert!(!m(MatchOp::Regex, "fo+").matches("foox"));
        assert!(m(MatchOp::Regex, "a|b").matches("b"));
        assert!(!m(MatchOp::Regex, "a|b").matches("ab"));
        assert!(m(MatchOp::Regex, ".*").matches("x\ny"));
        assert!(m(MatchOp::NotRegex, "fo+").matches("xfoo"));
    }

    #[test]
    fn missing_label_is_empty_string() {
        let labels = Labels::from_pairs([("other", "x")]);
        assert!(m(MatchOp::Equal, "").matches_labels(&labels));
        assert!(!m(MatchOp::NotEqual, "").matches_labels(&labels));
        assert!(m(MatchOp::Regex, "a?").matches_labels(&labels));
        assert!(!m(MatchOp::Regex, "a+").matches_labels(&labels));
        assert!(m(MatchOp::NotEqual, "v").matches_labels(&labels));
    }

    #[test]
    fn external_label_matchers_are_settled() {
        let external = Labels::from_pairs([("region", "eu")]);
        let job = m(MatchOp::Equal, "x");
        let eu = Matcher::new(MatchOp::Regex, "region", "e.*").unwrap();
        let us = Matcher::equal("region", "us");
        assert_eq!(
            without_external(&external, &[eu, job.clone()]),
            Some(vec![job])
        );
        assert_eq!(without_external(&external, &[us]), None);
    }

    #[test]
    fn bad_regex_is_an_error_not_a_panic() {
        let err = Matcher::new(MatchOp::Regex, "l", "(").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: error parsing regexp: missing closing ): `(`"
        );
    }
}
