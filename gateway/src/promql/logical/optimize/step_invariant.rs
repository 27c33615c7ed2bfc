//! Subtrees whose value is the same at every step — everything below them pinned by `@`
//! — are marked to be evaluated once, at the first step, and repeated: a range query over
//! `rate(x[5m] @ 1700000000)` reads and computes one window instead of one per step. The
//! rules are Prometheus' (`preprocessExpr`), so that what is computed once is exactly what
//! Prometheus computes once.

use crate::promql::functions::{FunctionKind, SpecialFunction};
use crate::promql::logical::Expr;

/// Functions whose value can change with the evaluation time although their arguments do
/// not, or that read their argument's timestamps (Prometheus' `AtModifierUnsafeFunctions`).
const TIME_DEPENDENT: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

pub fn apply(expr: Expr) -> Expr {
    let visited = visit(expr);
    // A top-level matrix is read once anyway.
    let instant = !matches!(visited.expr, Expr::Matrix { .. } | Expr::Subquery { .. });
    if visited.invariant && instant && reads(&visited.expr) {
        wrap(visited.expr)
    } else {
        visited.expr
    }
}

/// Whether `expr` reads series: only then is computing it once worth a node (`1 + 2` is
/// not; Prometheus marks it, and evaluates it the same).
fn reads(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Selector(_) | Expr::Matrix { .. } | Expr::Subquery { .. }
    ) || expr.children().into_iter().any(reads)
}

struct Visited {
    expr: Expr,
    /// The same value at every step.
    invariant: bool,
    /// Worth wrapping where its parent is not invariant (it reads something).
    wrap: bool,
}

fn wrap(expr: Expr) -> Expr {
    Expr::StepInvariant(Box::new(expr))
}

fn visited(expr: Expr, invariant: bool, wrap: bool) -> Visited {
    Visited {
        expr,
        invariant,
        wrap,
    }
}

/// Wraps `v`, whose parent is not invariant, if it is worth it.
fn wrapped_if_worth_it(v: Visited) -> Expr {
    if v.wrap && reads(&v.expr) {
        wrap(v.expr)
    } else {
        v.expr
    }
}

fn visit(expr: Expr) -> Visited {
    match expr {
        Expr::Number(_) | Expr::String(_) | Expr::StepInvariant(_) => visited(expr, true, false),
        Expr::Selector(ref s) => {
            let pinned = s.time.at.is_some();
            visited(expr, pinned, pinned)
        }
        // A range function reads its matrix itself: a matrix is never wrapped.
        Expr::Matrix { ref selector, .. } => {
            let pinned = selector.time.at.is_some();
            visited(expr, pinned, false)
        }
        Expr::Subquery {
            expr: inner,
            range_ms,
            step_ms,
            time,
        } => {
            // The inside is wrapped whatever the subquery's own `@`, so that it is evaluated
            // once over the subquery's steps; the subquery itself never is.
            let inner = visit(*inner);
            let inner = if inner.invariant && reads(&inner.expr) {
                wrap(inner.expr)
            } else {
                inner.expr
            };
            let subquery = Expr::Subquery {
                expr: Box::new(inner),
                range_ms,
                step_ms,
                time,
            };
            visited(subquery, time.at.is_some(), false)
        }
        // As in Prometheus, the parameter neither decides nor is wrapped.
        Expr::Aggregate {
            op,
            expr: inner,
            param,
            grouping,
            param_pos,
        } => {
            let inner = visit(*inner);
            let aggregate = Expr::Aggregate {
                op,
                expr: Box::new(inner.expr),
                param,
                grouping,
                param_pos,
            };
            visited(aggregate, inner.invariant, inner.wrap)
        }
        Expr::Neg(inner) => {
            let inner = visit(*inner);
            visited(Expr::Neg(Box::new(inner.expr)), inner.invariant, inner.wrap)
        }
        Expr::Binary {
            kind,
            lhs,
            rhs,
            return_bool,
            matching,
        } => {
            let (lhs, rhs) = (visit(*lhs), visit(*rhs));
            let invariant = lhs.invariant && rhs.invariant;
            let (lhs, rhs) = if invariant {
                (lhs.expr, rhs.expr)
            } else {
                (wrapped_if_worth_it(lhs), wrapped_if_worth_it(rhs))
            };
            let binary = Expr::Binary {
                kind,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                return_bool,
                matching,
            };
            visited(binary, invariant, invariant)
        }
        Expr::Call {
            function,
            args,
            pos,
            arg_pos,
        } => {
            let args: Vec<Visited> = args.into_iter().map(visit).collect();
            let all_invariant = args.iter().all(|a| a.invariant);
            // `timestamp(x @ t)` reads the pinned samples' own times: the same at every step.
            let timestamp_of_pinned = function.name == "timestamp"
                && args
                    .iter()
                    .all(|a| a.invariant && matches!(a.expr, Expr::Selector(_)));
            let invariant =
                (all_invariant && !TIME_DEPENDENT.contains(&function.name)) || timestamp_of_pinned;
            // `info()`'s second argument is a label selector the planner reads as written.
            let is_info = function.kind == FunctionKind::Special(SpecialFunction::Info);
            let args = args
                .into_iter()
                .enumerate()
                .map(|(i, a)| {
                    if invariant || (is_info && i == 1) {
                        a.expr
                    } else {
                        wrapped_if_worth_it(a)
                    }
                })
                .collect();
            let call = Expr::Call {
                function,
                args,
                pos,
                arg_pos,
            };
            visited(call, invariant, invariant)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::logical::optimize::testing::plan;

    /// The plan with `[...]` around what is computed once, as a compact string.
    fn marked(expr: &Expr) -> String {
        match expr {
            Expr::StepInvariant(inner) => format!("[{}]", marked(inner)),
            Expr::Selector(s) => format!("sel{}", if s.time.at.is_some() { "@" } else { "" }),
            Expr::Matrix { selector, .. } => {
                format!("mat{}", if selector.time.at.is_some() { "@" } else { "" })
            }
            Expr::Number(n) => n.to_string(),
            Expr::String(s) => format!("{s:?}"),
            Expr::Subquery { expr, .. } => format!("sq({})", marked(expr)),
            Expr::Call { function, args, .. } => {
                let args: Vec<String> = args.iter().map(marked).collect();
                format!("{}({})", function.name, args.join(","))
            }
            Expr::Aggregate { op, expr, .. } => format!("{}({})", op.name(), marked(expr)),
            Expr::Binary { lhs, rhs, .. } => format!("({} op {})", marked(lhs), marked(rhs)),
            Expr::Neg(inner) => format!("-{}", marked(inner)),
        }
    }

    fn case(query: &str) -> String {
        marked(&apply(plan(query)))
    }

    #[test]
    fn pinned_subtrees_are_computed_once() {
        assert_eq!(case("rate(x[5m] @ 100)"), "[rate(mat@)]");
        assert_eq!(case("sum(x @ 100) + y"), "([sum(sel@)] op sel)");
        assert_eq!(case("x @ 100 / x"), "([sel@] op sel)");
        assert_eq!(case("-(x @ 100)"), "[-sel@]");
        assert_eq!(
            case("label_replace(x @ start(), \"a\", \"b\", \"c\", \"d\")"),
            "[label_replace(sel@,\"a\",\"b\",\"c\",\"d\")]"
        );
    }

    #[test]
    fn nothing_unpinned_is_touched() {
        for query in ["x", "rate(x[5m])", "sum(x) / 2", "time()", "1 + 2", "x[5m]"] {
            assert_eq!(apply(plan(query)), plan(query), "{query}");
        }
    }

    #[test]
    fn time_dependent_functions_stay_per_step() {
        assert_eq!(case("hour(x @ 100)"), "hour([sel@])");
        assert_eq!(
            case("predict_linear(x[5m] @ 100, 60)"),
            "predict_linear(mat@,60)"
        );
        assert_eq!(case("timestamp(x @ 100)"), "[timestamp(sel@)]");
        assert_eq!(case("timestamp(abs(x @ 100))"), "timestamp([abs(sel@)])");
        assert_eq!(case("time() + x @ 100"), "(time() op [sel@])");
    }

    #[test]
    fn a_subquery_s_inside_is_computed_once_the_subquery_is_not_wrapped() {
        assert_eq!(
            case("max_over_time((x @ 100)[10m:1m])"),
            "max_over_time(sq([sel@]))"
        );
        assert_eq!(
            case("max_over_time(rate(x[5m])[10m:1m] @ 100)"),
            "[max_over_time(sq(rate(mat)))]"
        );
    }

    #[test]
    fn aggregation_parameters_do_not_decide() {
        assert_eq!(case("topk(scalar(y), x @ 100)"), "[topk(sel@)]");
    }
}
