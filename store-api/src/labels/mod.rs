//! Label sets and label matchers with Prometheus' semantics.

mod goregex;
mod matcher;

pub use goregex::{GoRegex, Groups, RegexError};
pub use matcher::{MatchOp, Matcher, matches_all, selector, without_external};

use std::fmt;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set sorted by name, without duplicate names or empty values.
///
/// The derived ordering compares pair by pair (name, then value) and a prefix sorts first,
/// which is Prometheus' `labels.Compare`: the order series are streamed in.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set from pairs in any order; empty values are dropped (Prometheus treats
    /// a label with an empty value as absent) and for a repeated name the last pair wins.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut labels = Self::new();
        for (name, value) in pairs {
            labels.set(name.into(), value.into());
        }
        labels
    }

    /// Wraps labels that are already sorted by name and unique; checked in debug builds.
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Self(labels)
    }

    /// Builds from labels in any order, sorting them; for a repeated name the last one wins.
    pub fn from_unsorted(mut labels: Vec<Label>) -> Self {
        labels.retain(|l| !l.value.is_empty());
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        // A stable sort keeps equal names in input order: keep the last of each run.
        labels.reverse();
        labels.dedup_by(|later, earlier| later.name == earlier.name);
        labels.reverse();
        Self(labels)
    }

    pub fn is_sorted_unique(labels: &[Label]) -> bool {
        labels.windows(2).all(|w| w[0].name < w[1].name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| self.0[i].value.as_str())
    }

    /// Sets a label; an empty value removes it.
    pub fn set(&mut self, name: String, value: String) {
        match self.position(&name) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, Label { name, value }),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.position(name).ok().map(|i| self.0.remove(i).value)
    }

    /// Adds each label of `other` whose name this set lacks (series labels win over external
    /// labels, as in Prometheus' remote read).
    pub fn merge_missing(&mut self, other: &Labels) {
        for label in &other.0 {
            if let Err(i) = self.position(&label.name) {
                self.0.insert(i, label.clone());
            }
        }
    }

    pub fn retain(&mut self, keep: impl FnMut(&Label) -> bool) {
        self.0.retain(keep);
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Labels {
    /// Prometheus' notation: `{a="1", b="2"}` with Go-style escapes in values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, label) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_drops_empty_and_keeps_last() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.as_slice(), &[Label::new("a", "3"), Label::new("b", "2")]);
        let u = Labels::from_unsorted(vec![
            Label::new("b", "2"),
            Label::new("a", "1"),
            Label::new("a", "3"),
        ]);
        assert_eq!(u, l);
    }

    #[test]
    fn ordering_is_prometheus_compare() {
        let short = Labels::from_pairs([("a", "1")]);
        let long = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let other = Labels::from_pairs([("a", "1"), ("c", "0")]);
        assert!(short < long);
        assert!(long < other);
        assert!(Labels::from_pairs([("a", "2")]) > long);
    }

    #[test]
    fn merge_missing_keeps_series_labels() {
        let mut series = Labels::from_pairs([("job", "x"), ("replica", "own")]);
        series.merge_missing(&Labels::from_pairs([("replica", "a"), ("cluster", "eu")]));
        assert_eq!(series.get("replica"), Some("own"));
        assert_eq!(series.get("cluster"), Some("eu"));
        assert!(Labels::is_sorted_unique(series.as_slice()));
    }

    #[test]
    fn display_escapes() {
        let l = Labels::from_pairs([("a", "x\"y\n")]);
        assert_eq!(l.to_string(), r#"{a="x\"y\n"}"#);
    }
}
