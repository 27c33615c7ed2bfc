//! The logical plan: the parsed query with every name resolved (functions, operators, `@`
//! times, durations in milliseconds, compiled matchers), and the optimizers that rewrite it.

mod optimize;
mod plan;

pub use optimize::optimize;
pub use plan::{At, Converter, Expr, Extension, QueryShape, Selector, TimeModifier};
