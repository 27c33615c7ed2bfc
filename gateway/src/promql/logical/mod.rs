//! The logical plan: the parsed query with every name resolved (functions, operators, `@`
//! times, durations in milliseconds, compiled matchers), and the optimizers that rewrite it.

mod explain;
mod optimize;
mod plan;

pub use explain::{PlanNode, describe};
pub use optimize::{explain, optimize};
pub use plan::{At, Converter, Expr, Extension, QueryShape, Selector, TimeModifier};
