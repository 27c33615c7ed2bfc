//! Which endpoints a request goes to, decided before any call: time range overlap, external
//! labels compatible with the matchers, and `storeMatch[]`.

use store_api::{Labels, Matcher, StoreInfo};

/// Whether an endpoint with `info` at `address` can hold series for the request.
pub fn selected(
    info: &StoreInfo,
    address: &str,
    min_time: i64,
    max_time: i64,
    matchers: &[Matcher],
    store_matchers: &[Vec<Matcher>],
) -> bool {
    overlaps(info, min_time, max_time)
        && labels_compatible(&info.label_sets, matchers)
        && store_matches(info, address, store_matchers)
}

fn overlaps(info: &StoreInfo, min_time: i64, max_time: i64) -> bool {
    info.min_time <= max_time && info.max_time >= min_time
}

/// A store with no label sets may hold anything; otherwise one of its label sets must agree
/// with every matcher on a label it defines (a matcher on a label the set lacks cannot
/// exclude the store: its series carry their own labels).
fn labels_compatible(label_sets: &[Labels], matchers: &[Matcher]) -> bool {
    label_sets.is_empty()
        || label_sets.iter().any(|set| {
            matchers
                .iter()
                .all(|m| set.get(m.name()).is_none_or(|v| m.matches(v)))
        })
}

/// `storeMatch[]`: selectors over the endpoint's external labels and its `__address__`; the
/// endpoint is used when any selector matches (none given: all).
fn store_matches(info: &StoreInfo, address: &str, store_matchers: &[Vec<Matcher>]) -> bool {
    if store_matchers.is_empty() {
        return true;
    }
    let mut candidates: Vec<Labels> = info.label_sets.clone();
    if candidates.is_empty() {
        candidates.push(Labels::new());
    }
    store_matchers.iter().any(|selector| {
        candidates.iter().any(|set| {
            let mut labels = set.clone();
            labels.set("__address__".into(), address.into());
            store_api::labels::matches_all(selector, &labels)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use store_api::{Component, MatchOp};

    fn info(sets: Vec<Labels>, min: i64, max: i64) -> StoreInfo {
        StoreInfo {
            component: Component::Sidecar,
            label_sets: sets,
            min_time: min,
            max_time: max,
            supports_without_replica_labels: true,
            serves_metadata: false,
        }
    }

    fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
        Matcher::new(op, name, value).unwrap()
    }

    #[test]
    fn time_range_must_overlap() {
        let i = info(vec![], 100, 200);
        assert!(selected(&i, "a:1", 150, 300, &[], &[]));
        assert!(selected(&i, "a:1", 200, 300, &[], &[]));
        assert!(!selected(&i, "a:1", 201, 300, &[], &[]));
        assert!(!selected(&i, "a:1", 0, 99, &[], &[]));
    }

    #[test]
    fn external_labels_must_be_compatible() {
        let i = info(
            vec![Labels::from_pairs([("cluster", "eu"), ("replica", "a")])],
            0,
            100,
        );
        let eu = [m(MatchOp::Equal, "cluster", "eu")];
        let us = [m(MatchOp::Equal, "cluster", "us")];
        let other_label = [m(MatchOp::Equal, "job", "x")];
        let regex = [m(MatchOp::Regex, "cluster", "e.*")];
        assert!(selected(&i, "a:1", 0, 1, &eu, &[]));
        assert!(!selected(&i, "a:1", 0, 1, &us, &[]));
        assert!(selected(&i, "a:1", 0, 1, &other_label, &[]));
        assert!(selected(&i, "a:1", 0, 1, &regex, &[]));
        assert!(selected(&info(vec![], 0, 100), "a:1", 0, 1, &us, &[]));
    }

    #[test]
    fn store_match_uses_labels_and_address() {
        let i = info(vec![Labels::from_pairs([("cluster", "eu")])], 0, 100);
        let by_address = vec![vec![m(MatchOp::Equal, "__address__", "a:1")]];
        let by_label = vec![vec![m(MatchOp::Regex, "cluster", "us|eu")]];
        let neither = vec![vec![m(MatchOp::Equal, "cluster", "us")]];
        assert!(selected(&i, "a:1", 0, 1, &[], &by_address));
        assert!(!selected(&i, "b:1", 0, 1, &[], &by_address));
        assert!(selected(&i, "b:1", 0, 1, &[], &by_label));
        assert!(!selected(&i, "a:1", 0, 1, &[], &neither));
    }
}
