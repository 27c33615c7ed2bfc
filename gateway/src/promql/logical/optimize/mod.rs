//! Rewrites of the logical plan, applied in order; one rule per file, each tested on its
//! own. `explain` reports which of them changed a query's plan.

mod fold_negation;
mod share_reads;
mod sort_matchers;
mod step_invariant;

use super::plan::Expr;

/// One rewrite of the logical plan.
pub struct Rule {
    pub name: &'static str,
    pub apply: fn(Expr) -> Expr,
}

/// The rules, in the order they run: matchers are sorted before reads are shared, so that
/// selectors written in different orders share.
pub const RULES: &[Rule] = &[
    Rule {
        name: "fold_negation",
        apply: fold_negation::apply,
    },
    Rule {
        name: "sort_matchers",
        apply: sort_matchers::apply,
    },
    Rule {
        name: "step_invariant",
        apply: step_invariant::apply,
    },
    Rule {
        name: "share_reads",
        apply: share_reads::apply,
    },
];

pub fn optimize(expr: Expr) -> Expr {
    RULES.iter().fold(expr, |expr, rule| (rule.apply)(expr))
}

/// The optimized plan, and for each rule whether it changed the plan (each step compared
/// with a copy: for explaining only, never on a query's path).
pub fn explain(mut expr: Expr) -> (Expr, Vec<(&'static str, bool)>) {
    let mut outcomes = Vec::with_capacity(RULES.len());
    for rule in RULES {
        let before = expr.clone();
        expr = (rule.apply)(expr);
        outcomes.push((rule.name, expr != before));
    }
    (expr, outcomes)
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::promql::logical::{Converter, Expr, QueryShape};

    /// The logical plan of `query` (a range query of 1 h at 1 m), before any rule.
    pub fn plan(query: &str) -> Expr {
        let ast = crate::promql::syntax::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let shape = QueryShape {
            step_ms: 60_000,
            range_ms: 3_600_000,
            default_subquery_step_ms: 60_000,
        };
        Converter::new(query, shape)
            .convert(&ast)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }
}
