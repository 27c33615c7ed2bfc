//! The answer of `/api/v1/query_explain`: the plan a query runs with, as a tree of
//! `{name, children}` nodes (the shape of Thanos' explain), and which optimizer rules
//! changed it.

use crate::promql::{Explanation, PlanNode};
use store_api::text::push_json_string;

/// The answer's `data`: the plan tree and each optimizer rule with whether it changed it.
pub fn encode(explanation: &Explanation) -> String {
    let mut out = String::from("{\"plan\":");
    push_node(&mut out, &explanation.plan);
    out.push_str(",\"optimizers\":[");
    for (i, (name, changed)) in explanation.optimizers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_string(&mut out, name);
        out.push_str(if *changed {
            ",\"changed\":true}"
        } else {
            ",\"changed\":false}"
        });
    }
    out.push_str("]}");
    out
}

fn push_node(out: &mut String, node: &PlanNode) {
    out.push_str("{\"name\":");
    push_json_string(out, &node.name);
    out.push_str(",\"children\":[");
    for (i, child) in node.children.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_node(out, child);
    }
    out.push_str("]}");
}
