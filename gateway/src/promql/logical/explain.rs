//! The logical plan as a tree of named nodes, for `/api/v1/query_explain`: what each node
//! computes, its time modifiers, and what the optimizers marked (shared reads, subtrees
//! computed once).

use super::plan::{At, Expr, Selector, TimeModifier};
use crate::promql::operators::Grouping;
use crate::promql::syntax::ast::format_duration;

#[derive(Clone, Debug, PartialEq)]
pub struct PlanNode {
    pub name: String,
    pub children: Vec<PlanNode>,
}

pub fn describe(expr: &Expr) -> PlanNode {
    let name = match expr {
        Expr::Number(n) => format!("number {n}"),
        Expr::String(s) => format!("string {s:?}"),
        Expr::Selector(s) => format!("selector {}", selector(s)),
        Expr::Matrix {
            selector: s,
            range_ms,
        } => {
            format!("matrix selector {} [{}]", selector(s), duration(*range_ms))
        }
        Expr::Subquery {
            range_ms,
            step_ms,
            time,
            ..
        } => format!(
            "subquery [{}:{}]{}",
            duration(*range_ms),
            duration(*step_ms),
            modifiers(time)
        ),
        Expr::Call { function, .. } => format!("function {}", function.name),
        Expr::Aggregate { op, grouping, .. } => match grouping {
            Grouping::By(labels) if labels.is_empty() => format!("aggregate {}", op.name()),
            Grouping::By(labels) => format!("aggregate {} by ({})", op.name(), labels.join(", ")),
            Grouping::Without(labels) => {
                format!("aggregate {} without ({})", op.name(), labels.join(", "))
            }
        },
        Expr::Binary {
            kind,
            return_bool,
            matching,
            ..
        } => {
            let mut name = format!("binary {}", kind.symbol());
            if *return_bool {
                name.push_str(" bool");
            }
            if matching.on || !matching.labels.is_empty() {
                let keyword = if matching.on { "on" } else { "ignoring" };
                name.push_str(&format!(" {keyword} ({})", matching.labels.join(", ")));
            }
            name
        }
        Expr::Neg(_) => "negation".into(),
        Expr::StepInvariant(_) => "step invariant (evaluated once, at the first step)".into(),
    };
    PlanNode {
        name,
        children: expr.children().into_iter().map(describe).collect(),
    }
}

fn selector(s: &Selector) -> String {
    let mut out = store_api::labels::selector(&s.matchers);
    out.push_str(&modifiers(&s.time));
    if let Some(id) = s.shared_read {
        out.push_str(&format!(" (shared read #{id})"));
    }
    out
}

fn modifiers(time: &TimeModifier) -> String {
    let mut out = String::new();
    match time.at {
        Some(At::Time(ms)) => out.push_str(&format!(" @ {:.3}", ms as f64 / 1000.0)),
        Some(At::Start) => out.push_str(" @ start()"),
        Some(At::End) => out.push_str(" @ end()"),
        None => {}
    }
    if time.offset_ms != 0 {
        let sign = if time.offset_ms < 0 { "-" } else { "" };
        out.push_str(&format!(" offset {sign}{}", duration(time.offset_ms)));
    }
    out
}

fn duration(ms: i64) -> String {
    format_duration(ms.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::logical::optimize::{explain, testing::plan};

    #[test]
    fn the_tree_names_each_node_and_the_optimizers_marks() {
        let (expr, _) = explain(plan(
            "sum by (job) (rate(x[5m] @ 100)) / on (job) sum by (job) (rate(x[5m]))",
        ));
        let tree = describe(&expr);
        assert_eq!(tree.name, "binary / on (job)");
        let lhs = &tree.children[0];
        assert_eq!(
            lhs.name,
            "step invariant (evaluated once, at the first step)"
        );
        assert_eq!(lhs.children[0].name, "aggregate sum by (job)");
        let matrix = &lhs.children[0].children[0].children[0];
        assert_eq!(
            matrix.name,
            r#"matrix selector {__name__="x"} @ 100.000 (shared read #0) [5m]"#
        );
    }
}
