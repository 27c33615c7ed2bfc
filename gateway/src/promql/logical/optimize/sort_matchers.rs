//! Each selector's matchers in one canonical order, duplicates merged and matchers that
//! match every series (`l=~".*"`) dropped where others remain: selectors that mean the same
//! read the same (and `share_reads` can find them). The argument of `absent()` keeps its
//! matchers as written, whose repetitions decide the labels it reports.

use crate::promql::functions::{FunctionKind, SpecialFunction};
use crate::promql::logical::{Expr, Selector};
use store_api::{MatchOp, Matcher};

pub fn apply(expr: Expr) -> Expr {
    rewrite(expr, false)
}

fn rewrite(expr: Expr, as_written: bool) -> Expr {
    match expr {
        Expr::Selector(selector) => Expr::Selector(canonical(selector, as_written)),
        Expr::Matrix { selector, range_ms } => Expr::Matrix {
            selector: canonical(selector, as_written),
            range_ms,
        },
        Expr::Call { function, .. }
            if matches!(
                function.kind,
                FunctionKind::Special(SpecialFunction::Absent | SpecialFunction::AbsentOverTime)
            ) =>
        {
            expr.map_children(&mut |arg| rewrite(arg, true))
        }
        other => other.map_children(&mut |child| rewrite(child, false)),
    }
}

fn canonical(mut selector: Selector, as_written: bool) -> Selector {
    let key = |m: &Matcher| (m.name().to_owned(), m.op().as_str(), m.value().to_owned());
    selector.matchers.sort_by_key(key);
    if as_written {
        return selector;
    }
    selector.matchers.dedup();
    if selector.matchers.len() > 1 {
        selector
            .matchers
            .retain(|m| !(m.op() == MatchOp::Regex && m.value() == ".*"));
    }
    selector
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::logical::optimize::testing::plan;

    fn selectors(expr: &Expr) -> Vec<String> {
        let mut out = Vec::new();
        collect(expr, &mut out);
        out
    }

    fn collect(expr: &Expr, out: &mut Vec<String>) {
        match expr {
            Expr::Selector(s) | Expr::Matrix { selector: s, .. } => {
                out.push(store_api::labels::selector(&s.matchers));
            }
            other => other.children().into_iter().for_each(|c| collect(c, out)),
        }
    }

    #[test]
    fn equal_selectors_written_differently_become_one() {
        let a = apply(plan(r#"x{b="2", a="1"}"#));
        let b = apply(plan(r#"{a="1", __name__="x", b="2", a="1", c=~".*"}"#));
        assert_eq!(a, b);
        assert_eq!(selectors(&a), [r#"{__name__="x",a="1",b="2"}"#]);
    }

    #[test]
    fn a_lone_match_everything_matcher_stays() {
        assert_eq!(
            selectors(&apply(plan(r#"{a=~".*", __name__=~".+"}"#))),
            [r#"{__name__=~".+"}"#]
        );
        assert_eq!(
            selectors(&apply(plan(r#"rate({__name__=~".+"}[5m])"#))).len(),
            1
        );
    }

    #[test]
    fn absent_keeps_its_repeated_matchers() {
        assert_eq!(
            selectors(&apply(plan(r#"absent(x{a="1", a="1"})"#))),
            [r#"{__name__="x",a="1",a="1"}"#]
        );
        assert_eq!(
            selectors(&apply(plan(
                r#"absent(x{a="1", a="1"}) + sum(y{a="1", a="1"})"#
            ))),
            [r#"{__name__="x",a="1",a="1"}"#, r#"{__name__="y",a="1"}"#]
        );
    }
}
