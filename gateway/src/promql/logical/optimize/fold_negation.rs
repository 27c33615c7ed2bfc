//! `-1` parses as a negation of the literal 1: it becomes the literal -1, as Prometheus'
//! parser makes it, so that scalar parameters (`topk(-1, x)`) need no operator at all.

use crate::promql::logical::Expr;

pub fn apply(expr: Expr) -> Expr {
    expr.transform_up(&mut |e| match e {
        Expr::Neg(inner) => match *inner {
            Expr::Number(n) => Expr::Number(-n),
            other => Expr::Neg(Box::new(other)),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::logical::optimize::testing::plan;

    #[test]
    fn negated_literals_fold_wherever_they_are() {
        let e = Expr::Neg(Box::new(Expr::Neg(Box::new(Expr::Number(2.0)))));
        assert_eq!(apply(e), Expr::Number(2.0));
        let Expr::Aggregate { param, .. } = apply(plan("topk(-(1), x)")) else {
            panic!("an aggregation")
        };
        assert_eq!(param.map(|p| *p), Some(Expr::Number(-1.0)));
    }

    #[test]
    fn a_negated_selector_stays_a_negation() {
        assert!(matches!(apply(plan("-x")), Expr::Neg(_)));
    }
}
