//! Selectors with the same matchers (`sum(x) / count(x)`, `rate(x[5m]) / rate(x[1h])`)
//! get one read id: the planner reads each group once where their time ranges overlap, and
//! serves each selector its own range of it.

use crate::promql::logical::{Expr, Selector};
use std::collections::HashMap;

pub fn apply(expr: Expr) -> Expr {
    let mut seen: HashMap<String, usize> = HashMap::new();
    count(&expr, &mut seen);
    if seen.values().all(|&n| n < 2) {
        return expr;
    }
    // Ids in the order the selectors are evaluated, so that a plan always reads the same.
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut share = |mut selector: Selector| {
        let key = key(&selector);
        if seen.get(&key).is_some_and(|&n| n > 1) {
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            selector.shared_read = Some(*ids.entry(key).or_insert(next));
        }
        selector
    };
    expr.transform_up(&mut |e| match e {
        Expr::Selector(selector) => Expr::Selector(share(selector)),
        Expr::Matrix { selector, range_ms } => Expr::Matrix {
            selector: share(selector),
            range_ms,
        },
        other => other,
    })
}

fn key(selector: &Selector) -> String {
    store_api::labels::selector(&selector.matchers)
}

fn count(expr: &Expr, seen: &mut HashMap<String, usize>) {
    match expr {
        Expr::Selector(s) | Expr::Matrix { selector: s, .. } => {
            *seen.entry(key(s)).or_default() += 1;
        }
        other => other.children().into_iter().for_each(|c| count(c, seen)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::logical::optimize::testing::plan;

    fn ids(expr: &Expr) -> Vec<Option<u32>> {
        match expr {
            Expr::Selector(s) | Expr::Matrix { selector: s, .. } => vec![s.shared_read],
            other => other.children().into_iter().flat_map(ids).collect(),
        }
    }

    #[test]
    fn selectors_with_the_same_matchers_share_one_id() {
        let shared = ids(&apply(plan(
            "rate(x[5m]) / rate(x[1h] offset 1h) + on () y",
        )));
        assert_eq!(shared.len(), 3);
        assert!(shared[0].is_some());
        assert_eq!(shared[0], shared[1]);
        assert_eq!(shared[2], None);
    }

    #[test]
    fn distinct_selectors_are_left_alone() {
        for query in ["x / y", r#"x{a="1"} / x{a="2"}"#, "sum(x)"] {
            assert_eq!(apply(plan(query)), plan(query), "{query}");
        }
    }
}
