//! Two renderings of a parsed query for the API: `prettify` (format_query: Prometheus'
//! prettier, splitting what does not fit in 100 columns) and `tree_json` (parse_query: the
//! syntax tree in the shape Prometheus' UI reads).

use super::ast::*;
use store_api::labels::METRIC_NAME;
use store_api::text::push_json_string;

const MAX_LINE: usize = 100;

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

/// The query laid out as Prometheus' `Prettify` lays it out.
pub fn prettify(expr: &Expr) -> String {
    pretty(expr, 0)
}

fn pretty(expr: &Expr, level: usize) -> String {
    let flat = expr.to_string();
    if flat.len() <= MAX_LINE {
        return format!("{}{flat}", indent(level));
    }
    let pad = indent(level);
    match &expr.kind {
        ExprKind::Aggregate(agg) => {
            let mut out = format!("{pad}{}(\n", agg.op_text());
            if let Some(param) = &agg.param {
                out.push_str(&format!("{},\n", pretty(param, level + 1)));
            }
            format!("{out}{}\n{pad})", pretty(&agg.expr, level + 1))
        }
        ExprKind::Binary(b) => format!(
            "{}\n{pad}{}{}\n{}",
            pretty(&b.lhs, level + 1),
            b.op.symbol(),
            b.modifier_text(),
            pretty(&b.rhs, level + 1)
        ),
        ExprKind::Call(call) => {
            let args: Vec<String> = call.args.iter().map(|a| pretty(a, level + 1)).collect();
            format!("{pad}{}(\n{}\n{pad})", call.function.name, args.join(",\n"))
        }
        ExprKind::Paren(inner) => format!("{pad}(\n{}\n{pad})", pretty(inner, level + 1)),
        ExprKind::Unary { negate, expr } => {
            let sign = if *negate { "-" } else { "+" };
            format!("{pad}{sign}{}", pretty(expr, level).trim_start())
        }
        ExprKind::Subquery(sq) => {
            let inner = pretty(&sq.expr, level);
            let step = sq
                .step
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("{inner}[{}:{step}]{}", sq.range, sq.modifiers)
        }
        _ => format!("{pad}{flat}"),
    }
}

/// The syntax tree as JSON (Prometheus' `translateAST`).
pub fn tree_json(expr: &Expr) -> String {
    let mut out = String::new();
    write_tree(&mut out, expr);
    out
}

fn write_tree(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Aggregate(agg) => {
            out.push_str("{\"type\":\"aggregation\",\"op\":");
            push_json_string(out, agg.op.name());
            out.push_str(",\"expr\":");
            write_tree(out, &agg.expr);
            out.push_str(",\"param\":");
            match &agg.param {
                Some(p) => write_tree(out, p),
                None => out.push_str("null"),
            }
            out.push_str(",\"grouping\":");
            push_strings(out, &agg.grouping);
            out.push_str(&format!(",\"without\":{}}}", agg.without));
        }
        ExprKind::Binary(b) => {
            out.push_str("{\"type\":\"binaryExpr\",\"op\":");
            push_json_string(out, b.op.symbol());
            out.push_str(",\"lhs\":");
            write_tree(out, &b.lhs);
            out.push_str(",\"rhs\":");
            write_tree(out, &b.rhs);
            out.push_str(",\"matching\":");
            match &b.matching {
                Some(m) => {
                    let card = match m.card {
                        Cardinality::OneToOne => "one-to-one",
                        Cardinality::ManyToOne => "many-to-one",
                        Cardinality::OneToMany => "one-to-many",
                        Cardinality::ManyToMany => "many-to-many",
                    };
                    out.push_str(&format!("{{\"card\":\"{card}\",\"labels\":"));
                    push_strings(out, &m.labels);
                    out.push_str(&format!(",\"on\":{},\"include\":", m.on));
                    push_strings(out, &m.include);
                    out.push('}');
                }
                None => out.push_str("null"),
            }
            out.push_str(&format!(",\"bool\":{}}}", b.return_bool));
        }
        ExprKind::Call(call) => {
            let f = call.function;
            out.push_str("{\"type\":\"call\",\"func\":{\"name\":");
            push_json_string(out, f.name);
            out.push_str(",\"argTypes\":[");
            for (i, t) in f.args.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, t.api_name());
            }
            out.push_str(&format!(
                "],\"variadic\":{},\"returnType\":\"{}\"}},\"args\":[",
                f.variadic,
                f.returns.api_name()
            ));
            for (i, arg) in call.args.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_tree(out, arg);
            }
            out.push_str("]}");
        }
        ExprKind::Matrix(ms) => {
            out.push_str("{\"type\":\"matrixSelector\",");
            write_selector_fields(out, &ms.selector);
            out.push_str(&format!(",\"range\":{}}}", literal_millis(&ms.range)));
        }
        ExprKind::Subquery(sq) => {
            out.push_str("{\"type\":\"subquery\",\"expr\":");
            write_tree(out, &sq.expr);
            out.push_str(&format!(",\"range\":{}", literal_millis(&sq.range)));
            out.push_str(&format!(
                ",\"step\":{}",
                sq.step.as_ref().map_or(0, literal_millis)
            ));
            write_time_fields(out, &sq.modifiers);
            out.push('}');
        }
        ExprKind::Number(n) => {
            out.push_str("{\"type\":\"numberLiteral\",\"val\":");
            push_json_string(out, &n.to_string());
            out.push('}');
        }
        ExprKind::String(s) => {
            out.push_str("{\"type\":\"stringLiteral\",\"val\":");
            push_json_string(out, &s.value);
            out.push('}');
        }
        ExprKind::Paren(inner) => {
            out.push_str("{\"type\":\"parenExpr\",\"expr\":");
            write_tree(out, inner);
            out.push('}');
        }
        ExprKind::Unary { negate, expr } => {
            out.push_str(&format!(
                "{{\"type\":\"unaryExpr\",\"op\":\"{}\",\"expr\":",
                if *negate { "-" } else { "+" }
            ));
            write_tree(out, expr);
            out.push('}');
        }
        ExprKind::Selector(vs) => {
            out.push_str("{\"type\":\"vectorSelector\",");
            write_selector_fields(out, vs);
            out.push('}');
        }
    }
}

/// A duration written as a literal, in milliseconds (expressions show as 0).
fn literal_millis(d: &DurationExpr) -> i64 {
    match d {
        DurationExpr::Literal(n) => (n.value * 1000.0).round() as i64,
        DurationExpr::Neg(inner) => -literal_millis(inner),
        _ => 0,
    }
}

fn write_selector_fields(out: &mut String, vs: &VectorSelector) {
    out.push_str("\"name\":");
    push_json_string(out, vs.name.as_deref().unwrap_or(""));
    out.push_str(",\"matchers\":[");
    let written = vs
        .matchers
        .iter()
        .filter(|m| !(vs.name.as_deref() == Some(m.value()) && m.name() == METRIC_NAME));
    for (i, m) in written.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"type\":");
        push_json_string(out, m.op().as_str());
        out.push_str(",\"name\":");
        push_json_string(out, m.name());
        out.push_str(",\"value\":");
        push_json_string(out, m.value());
        out.push('}');
    }
    out.push(']');
    write_time_fields(out, &vs.modifiers);
}

fn write_time_fields(out: &mut String, modifiers: &TimeModifiers) {
    let offset = modifiers.offset.as_ref().map_or(0, literal_millis);
    out.push_str(&format!(",\"offset\":{offset},\"timestamp\":"));
    match modifiers.at {
        Some(At::Time(ms)) => out.push_str(&ms.to_string()),
        _ => out.push_str("null"),
    }
    out.push_str(",\"startOrEnd\":");
    out.push_str(match modifiers.at {
        Some(At::Start) => "\"start\"",
        Some(At::End) => "\"end\"",
        _ => "null",
    });
}

fn push_strings(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, s);
    }
    out.push(']');
}
