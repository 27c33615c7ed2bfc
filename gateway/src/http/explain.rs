//! `/api/v1/query_explain`: the plan a query runs with, as a tree of `{name, children}`
//! nodes (the shape of Thanos' explain), and which optimizer rules changed it. With `start`,
//! `end` and `step` it is the plan of that range query, else of an instant query.

use super::AppState;
use super::envelope::{ApiData, ApiError, query_error, respond};
use super::params::{ApiParams, Params, parse_duration};
use crate::promql::{Explanation, PlanNode, RangeRefusal};
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;
use store_api::text::push_json_string;

pub async fn query_explain(
    State(state): State<Arc<AppState>>,
    ApiParams(p): ApiParams,
) -> Response {
    let explained = shape(&p).and_then(|(step, range)| {
        let query = p.get("query").unwrap_or("");
        let explanation = state
            .engine
            .explain(query, step, range)
            .map_err(|e| query_error(e, true))?;
        Ok(ApiData::new(encode(&explanation)))
    });
    respond(explained)
}

/// The step and range the plan resolves `step()` and `range()` against: 0 and 0 for an
/// instant query.
fn shape(p: &Params) -> Result<(i64, i64), ApiError> {
    if p.get("step").is_none() {
        return Ok((0, 0));
    }
    let (start, end) = (p.time("start")?, p.time("end")?);
    let step =
        parse_duration(p.get("step").unwrap_or("")).map_err(|e| ApiError::bad_param("step", e))?;
    if let Some(refusal) = RangeRefusal::of(start, end, step) {
        return Err(match refusal.param {
            Some(param) => ApiError::bad_param(param, refusal.message),
            None => ApiError::bad_data(refusal.message),
        });
    }
    Ok((step, end - start))
}

fn encode(explanation: &Explanation) -> String {
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
