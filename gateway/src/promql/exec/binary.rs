//! Binary operators: arithmetic, comparisons (filtering or `bool`) and set operators, between
//! scalars and vectors, with `on`/`ignoring` and `group_left`/`group_right` matching.

use super::{Batch, BoxOperator, Operator, QueryContext, SeriesMeta, StepVector};
use crate::promql::error::EngineError;
use crate::promql::operators::{BinaryKind, Cardinality, VectorMatching};
use std::collections::HashMap;
use std::sync::Arc;
use store_api::Labels;
use store_api::labels::METRIC_NAME;

impl BinaryKind {
    /// The value of `l op r`, and whether a comparison holds (always true for arithmetic).
    pub fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Self::Add => (l + r, true),
            Self::Sub => (l - r, true),
            Self::Mul => (l * r, true),
            Self::Div => (l / r, true),
            Self::Mod => (l % r, true),
            Self::Pow => (l.powf(r), true),
            Self::Atan2 => (l.atan2(r), true),
            Self::Eq => (l, l == r),
            Self::Ne => (l, l != r),
            Self::Gt => (l, l > r),
            Self::Lt => (l, l < r),
            Self::Ge => (l, l >= r),
            Self::Le => (l, l <= r),
            Self::And | Self::Or | Self::Unless => (l, true),
        }
    }
}

impl VectorMatching {
    /// The labels two series must share to match. Without `on`, the metric name never counts.
    fn signature(&self, labels: &Labels) -> Labels {
        let mut sig = labels.clone();
        if self.on {
            sig.retain(|l| self.labels.contains(&l.name));
        } else {
            sig.retain(|l| l.name != METRIC_NAME && !self.labels.contains(&l.name));
        }
        sig
    }
}

/// What one side of a binary operation is.
pub enum Operand {
    Scalar(BoxOperator),
    Vector(BoxOperator),
}

pub struct BinaryOp {
    ctx: QueryContext,
    kind: BinaryKind,
    return_bool: bool,
    matching: VectorMatching,
    lhs: Operand,
    rhs: Operand,
    plan: Option<Plan>,
}

/// The static part of a vector–vector operation, worked out once from the series.
struct Plan {
    output: Arc<[SeriesMeta]>,
    lhs_series: Arc<[SeriesMeta]>,
    rhs_series: Arc<[SeriesMeta]>,
    /// Signature id of every lhs and rhs series.
    lhs_sig: Vec<usize>,
    rhs_sig: Vec<usize>,
    /// Output id per (many-side id, one-side id) pair, or per lhs id (one-to-one, set ops),
    /// and per rhs id for `or`.
    pair_output: HashMap<(usize, usize), usize>,
    lhs_output: Vec<usize>,
    rhs_output: Vec<usize>,
    signatures: Vec<Labels>,
    /// Output of a many-side series without a match (`fill_right`), and of a one-side
    /// series without a match (`fill_left`: the match group's labels).
    many_fill_output: Vec<usize>,
    one_fill_output: Vec<usize>,
}

impl BinaryOp {
    pub fn new(
        ctx: QueryContext,
        kind: BinaryKind,
        return_bool: bool,
        matching: VectorMatching,
        lhs: Operand,
        rhs: Operand,
    ) -> Self {
        Self {
            ctx,
            kind,
            return_bool,
            matching,
            lhs,
            rhs,
            plan: None,
        }
    }

    fn drops_name(&self) -> bool {
        !self.kind.is_comparison() && !self.kind.is_set() || self.return_bool
    }

    fn operator(side: &mut Operand) -> &mut BoxOperator {
        match side {
            Operand::Scalar(op) | Operand::Vector(op) => op,
        }
    }

    fn build_plan(&mut self) -> Result<(), EngineError> {
        let lhs_series = Self::operator(&mut self.lhs).series()?;
        let rhs_series = Self::operator(&mut self.rhs).series()?;
        let drop = self.drops_name();
        let plan = match (&self.lhs, &self.rhs) {
            (Operand::Scalar(_), Operand::Scalar(_)) => {
                Plan::passthrough(lhs_series.clone(), rhs_series, drop)
            }
            (Operand::Vector(_), Operand::Scalar(_)) => {
                Plan::passthrough(lhs_series, rhs_series, drop)
            }
            (Operand::Scalar(_), Operand::Vector(_)) => {
                let mut plan = Plan::passthrough(rhs_series.clone(), rhs_series, drop);
                plan.rhs_output = plan.lhs_output.clone();
                plan
            }
            (Operand::Vector(_), Operand::Vector(_)) => {
                Plan::vectors(&self.matching, self.kind, drop, lhs_series, rhs_series)
            }
        };
        self.plan = Some(plan);
        Ok(())
    }
}

impl Plan {
    /// Scalar on one side: the vector side's series, name dropped for arithmetic.
    fn passthrough(series: Arc<[SeriesMeta]>, other: Arc<[SeriesMeta]>, drop: bool) -> Self {
        let output: Arc<[SeriesMeta]> = series
            .iter()
            .map(|s| SeriesMeta {
                labels: s.labels.clone(),
                drop_name: s.drop_name || drop,
            })
            .collect();
        Self {
            lhs_output: (0..series.len()).collect(),
            output,
            lhs_series: series,
            rhs_series: other,
            lhs_sig: Vec::new(),
            rhs_sig: Vec::new(),
            pair_output: HashMap::new(),
            rhs_output: Vec::new(),
            signatures: Vec::new(),
            many_fill_output: Vec::new(),
            one_fill_output: Vec::new(),
        }
    }

    fn vectors(
        matching: &VectorMatching,
        kind: BinaryKind,
        drop: bool,
        lhs_series: Arc<[SeriesMeta]>,
        rhs_series: Arc<[SeriesMeta]>,
    ) -> Self {
        let mut sig_index: HashMap<Labels, usize> = HashMap::new();
        let mut signatures = Vec::new();
        let mut sig_of = |labels: &Labels| {
            let sig = matching.signature(labels);
            let next = signatures.len();
            let id = *sig_index.entry(sig.clone()).or_insert(next);
            if id == next {
                signatures.push(sig);
            }
            id
        };
        let lhs_sig: Vec<usize> = lhs_series.iter().map(|s| sig_of(&s.labels)).collect();
        let rhs_sig: Vec<usize> = rhs_series.iter().map(|s| sig_of(&s.labels)).collect();
        let mut outputs = OutputSet::default();
        let mut lhs_output = Vec::new();
        let mut rhs_output = Vec::new();
        let mut pair_output = HashMap::new();
        let mut many_fill_output = Vec::new();
        let mut one_fill_output = Vec::new();
        if kind.is_set() {
            lhs_output = lhs_series.iter().map(|s| outputs.add(s.clone())).collect();
            if kind == BinaryKind::Or {
                rhs_output = rhs_series.iter().map(|s| outputs.add(s.clone())).collect();
            }
        } else if matching.card == Cardinality::OneToOne {
            lhs_output = lhs_series
                .iter()
                .map(|s| outputs.add(result_meta(matching, s, None, drop)))
                .collect();
        } else {
            let (many, one, many_sig, one_sig) = match matching.card {
                Cardinality::OneToMany => (&rhs_series, &lhs_series, &rhs_sig, &lhs_sig),
                _ => (&lhs_series, &rhs_series, &lhs_sig, &rhs_sig),
            };
            let mut one_by_sig: HashMap<usize, Vec<usize>> = HashMap::new();
            for (id, sig) in one_sig.iter().enumerate() {
                one_by_sig.entry(*sig).or_default().push(id);
            }
            for (m, sig) in many_sig.iter().enumerate() {
                for &o in one_by_sig.get(sig).map(Vec::as_slice).unwrap_or(&[]) {
                    let meta = result_meta(matching, &many[m], Some(&one[o]), drop);
                    pair_output.insert((m, o), outputs.add(meta));
                }
            }
            if matching.fill_one.is_some() {
                many_fill_output = many
                    .iter()
                    .map(|s| outputs.add(result_meta(matching, s, None, drop)))
                    .collect();
            }
        }
        if !kind.is_set() && matching.fill_many.is_some() {
            let one_sig = match matching.card {
                Cardinality::OneToMany => &lhs_sig,
                _ => &rhs_sig,
            };
            one_fill_output = one_sig
                .iter()
                .map(|&sig| outputs.add(SeriesMeta::new(signatures[sig].clone())))
                .collect();
        }
        if matching.card == Cardinality::OneToOne && matching.fill_one.is_some() {
            many_fill_output = lhs_output.clone();
        }
        Self {
            output: Arc::from(outputs.metas),
            lhs_series,
            rhs_series,
            lhs_sig,
            rhs_sig,
            pair_output,
            lhs_output,
            rhs_output,
            signatures,
            many_fill_output,
            one_fill_output,
        }
    }
}

#[derive(Default)]
struct OutputSet {
    metas: Vec<SeriesMeta>,
    index: HashMap<SeriesMeta, usize>,
}

impl OutputSet {
    fn add(&mut self, meta: SeriesMeta) -> usize {
        let next = self.metas.len();
        let id = *self.index.entry(meta.clone()).or_insert(next);
        if id == next {
            self.metas.push(meta);
        }
        id
    }
}

/// The labels of a result series, as Prometheus' `resultMetric`.
fn result_meta(
    matching: &VectorMatching,
    many: &SeriesMeta,
    one: Option<&SeriesMeta>,
    drop: bool,
) -> SeriesMeta {
    let mut labels = many.labels.clone();
    let drop_name = many.drop_name || drop;
    if matching.card == Cardinality::OneToOne {
        if matching.on {
            labels.retain(|l| matching.labels.contains(&l.name));
        } else {
            labels.retain(|l| !matching.labels.contains(&l.name));
        }
    }
    if let Some(one) = one {
        for name in &matching.include {
            match one.labels.get(name) {
                Some(v) => labels.set(name.clone(), v.to_string()),
                None => {
                    labels.remove(name);
                }
            }
        }
    }
    SeriesMeta { labels, drop_name }
}

impl Operator for BinaryOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        if self.plan.is_none() {
            self.build_plan()?;
        }
        Ok(self
            .plan
            .as_ref()
            .map(|p| p.output.clone())
            .unwrap_or_else(|| Arc::from(Vec::new())))
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        if self.plan.is_none() {
            self.build_plan()?;
        }
        let lhs = Self::operator(&mut self.lhs).next()?;
        let rhs = Self::operator(&mut self.rhs).next()?;
        let (Some(lhs), Some(rhs)) = (lhs, rhs) else {
            return Ok(None);
        };
        self.ctx.check("query execution")?;
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| EngineError::Execution("binary plan".into()))?;
        let mut out = Vec::with_capacity(lhs.len());
        for (l, r) in lhs.iter().zip(&rhs) {
            out.push(match (&self.lhs, &self.rhs) {
                (Operand::Scalar(_), Operand::Scalar(_)) => self.scalar_scalar(l, r),
                (Operand::Vector(_), Operand::Scalar(_)) => self.vector_scalar(plan, l, r, false),
                (Operand::Scalar(_), Operand::Vector(_)) => self.vector_scalar(plan, r, l, true),
                (Operand::Vector(_), Operand::Vector(_)) if self.kind.is_set() => {
                    self.set_step(plan, l, r)
                }
                (Operand::Vector(_), Operand::Vector(_)) => self.vector_vector(plan, l, r)?,
            });
        }
        Ok(Some(out))
    }
}

impl BinaryOp {
    fn scalar_scalar(&self, l: &StepVector, r: &StepVector) -> StepVector {
        let mut out = StepVector::new(l.t);
        if let (Some(&a), Some(&b)) = (l.values.first(), r.values.first()) {
            let (v, keep) = self.kind.apply(a, b);
            out.push(
                0,
                if self.return_bool {
                    bool_value(keep)
                } else {
                    v
                },
            );
        }
        out
    }

    /// `vector op scalar`, or `scalar op vector` when `swapped`.
    fn vector_scalar(
        &self,
        plan: &Plan,
        vector: &StepVector,
        scalar: &StepVector,
        swapped: bool,
    ) -> StepVector {
        let mut out = StepVector::new(vector.t);
        let Some(&s) = scalar.values.first() else {
            return out;
        };
        for (&id, &v) in vector.ids.iter().zip(&vector.values) {
            let (l, r) = if swapped { (s, v) } else { (v, s) };
            let (mut value, keep) = self.kind.apply(l, r);
            if self.kind.is_comparison() {
                if self.return_bool {
                    value = bool_value(keep);
                } else if !keep {
                    continue;
                } else {
                    // A comparison keeps the vector's value, whichever side it is on.
                    value = v;
                }
            }
            out.push(plan.lhs_output[id], value);
        }
        out
    }

    fn set_step(&self, plan: &Plan, l: &StepVector, r: &StepVector) -> StepVector {
        let mut out = StepVector::new(l.t);
        let mut rhs_sigs = vec![false; plan.signatures.len()];
        for &id in &r.ids {
            rhs_sigs[plan.rhs_sig[id]] = true;
        }
        match self.kind {
            BinaryKind::And | BinaryKind::Unless => {
                let want = self.kind == BinaryKind::And;
                for (&id, &v) in l.ids.iter().zip(&l.values) {
                    if rhs_sigs[plan.lhs_sig[id]] == want {
                        out.push(plan.lhs_output[id], v);
                    }
                }
            }
            _ => {
                let mut lhs_sigs = vec![false; plan.signatures.len()];
                for (&id, &v) in l.ids.iter().zip(&l.values) {
                    lhs_sigs[plan.lhs_sig[id]] = true;
                    out.push(plan.lhs_output[id], v);
                }
                for (&id, &v) in r.ids.iter().zip(&r.values) {
                    if !lhs_sigs[plan.rhs_sig[id]] {
                        out.push(plan.rhs_output[id], v);
                    }
                }
            }
        }
        out
    }

    fn vector_vector(
        &self,
        plan: &Plan,
        l: &StepVector,
        r: &StepVector,
    ) -> Result<StepVector, EngineError> {
        let card = self.matching.card;
        // The "one" side must have at most one series per signature at a step.
        let (many, one, many_sig, one_sig, one_series, one_is_rhs) = match card {
            Cardinality::OneToMany => (r, l, &plan.rhs_sig, &plan.lhs_sig, &plan.lhs_series, false),
            _ => (l, r, &plan.lhs_sig, &plan.rhs_sig, &plan.rhs_series, true),
        };
        let mut one_at: Vec<Option<usize>> = vec![None; plan.signatures.len()];
        for (pos, &id) in one.ids.iter().enumerate() {
            let sig = one_sig[id];
            if let Some(prev) = one_at[sig] {
                let side = if one_is_rhs { "right" } else { "left" };
                return Err(EngineError::Execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    plan.signatures[sig], one_series[one.ids[prev]].labels, one_series[id].labels
                )));
            }
            one_at[sig] = Some(pos);
        }
        let mut out = StepVector::new(l.t);
        let mut matched = vec![false; plan.signatures.len()];
        let mut used = vec![false; plan.signatures.len()];
        let mut taken: HashMap<usize, ()> = HashMap::new();
        for (&m, &mv) in many.ids.iter().zip(&many.values) {
            let sig = many_sig[m];
            let Some(pos) = one_at[sig] else {
                if let Some(fill) = self.matching.fill_one {
                    let (lv, rv) = if one_is_rhs { (mv, fill) } else { (fill, mv) };
                    self.emit(&mut out, plan.many_fill_output[m], lv, rv);
                }
                continue;
            };
            used[sig] = true;
            let o = one.ids[pos];
            let ov = one.values[pos];
            if card == Cardinality::OneToOne {
                if matched[sig] {
                    return Err(EngineError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                matched[sig] = true;
            }
            let (lv, rv) = if one_is_rhs { (mv, ov) } else { (ov, mv) };
            let (mut value, keep) = self.kind.apply(lv, rv);
            if self.return_bool {
                value = bool_value(keep);
            } else if !keep {
                continue;
            }
            let output = if card == Cardinality::OneToOne {
                plan.lhs_output[m]
            } else {
                plan.pair_output.get(&(m, o)).copied().ok_or_else(|| {
                    EngineError::Execution("binary operation: unplanned series pair".into())
                })?
            };
            if taken.insert(output, ()).is_some() {
                return Err(EngineError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
            out.push(output, value);
        }
        if let Some(fill) = self.matching.fill_many {
            for (&o, &ov) in one.ids.iter().zip(&one.values) {
                if !used[one_sig[o]] {
                    let (lv, rv) = if one_is_rhs { (fill, ov) } else { (ov, fill) };
                    self.emit(&mut out, plan.one_fill_output[o], lv, rv);
                }
            }
        }
        Ok(out)
    }

    /// Emits `lv op rv` for a filled pair: comparisons filter unless `bool`.
    fn emit(&self, out: &mut StepVector, output: usize, lv: f64, rv: f64) {
        let (value, keep) = self.kind.apply(lv, rv);
        if self.return_bool {
            out.push(output, bool_value(keep));
        } else if keep {
            out.push(output, value);
        }
    }
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}
