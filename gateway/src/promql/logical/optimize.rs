//! Rewrites of the logical plan, applied in order. Each is small and tested on its own.

use super::plan::Expr;

type Optimizer = fn(Expr) -> Expr;

/// The optimizers, in the order they run.
const OPTIMIZERS: &[(&str, Optimizer)] = &[("fold_number_negation", fold_number_negation)];

pub fn optimize(mut expr: Expr) -> Expr {
    for (_, optimizer) in OPTIMIZERS {
        expr = optimizer(expr);
    }
    expr
}

/// `-1` parses as a negation of the literal 1: make it the literal -1, so that scalar
/// parameters (e.g. `topk(-1, x)`) need no operator at all.
fn fold_number_negation(expr: Expr) -> Expr {
    match expr {
        Expr::Neg(inner) => match fold_number_negation(*inner) {
            Expr::Number(n) => Expr::Number(-n),
            other => Expr::Neg(Box::new(other)),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negated_literals_fold() {
        let e = Expr::Neg(Box::new(Expr::Neg(Box::new(Expr::Number(2.0)))));
        assert_eq!(optimize(e), Expr::Number(2.0));
    }
}
