//! Aggregations: `sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk`, `limitk`, `limit_ratio` and `count_values`, with `by` and
//! `without`.

use super::range::scalar_args;
use super::{Batch, BoxOperator, Operator, QueryContext, SeriesMeta, StepVector};
use crate::promql::error::EngineError;
use crate::promql::functions::Position;
use crate::promql::functions::quantile;
use crate::promql::kahan::KahanSum;
use crate::promql::operators::{Aggregation, Grouping};
use std::collections::HashMap;
use std::sync::Arc;
use store_api::Labels;
use store_api::labels::METRIC_NAME;

impl Grouping {
    /// The labels identifying a series' group. `without` always drops the metric name.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        let mut out = labels.clone();
        match self {
            Grouping::By(names) => out.retain(|l| names.contains(&l.name)),
            Grouping::Without(names) => {
                out.retain(|l| l.name != METRIC_NAME && !names.contains(&l.name))
            }
        }
        out
    }

    fn keeps_name(&self) -> bool {
        matches!(self, Grouping::By(names) if names.iter().any(|n| n == METRIC_NAME))
    }
}

pub struct AggregateOp {
    ctx: QueryContext,
    op: Aggregation,
    grouping: Grouping,
    input: BoxOperator,
    /// The scalar parameter (k, φ, ratio), evaluated per step.
    param: Option<BoxOperator>,
    /// count_values' label name.
    label: Option<String>,
    state: Option<State>,
    /// count_values' output is only known after reading everything.
    buffered: Option<std::vec::IntoIter<StepVector>>,
    /// Where the parameter starts, for annotations.
    param_pos: Option<Position>,
}

struct State {
    input_series: Arc<[SeriesMeta]>,
    /// For grouped aggregations: the output series are the groups; for topk & co the
    /// output series are the input series.
    output: Arc<[SeriesMeta]>,
    group_of: Vec<usize>,
    groups: usize,
    /// limit_ratio: each input series' place in [0, 1], by which it is kept or not.
    ratio_offsets: Vec<f64>,
}

impl AggregateOp {
    pub fn new(
        ctx: QueryContext,
        op: Aggregation,
        grouping: Grouping,
        input: BoxOperator,
        param: Option<BoxOperator>,
        label: Option<String>,
    ) -> Self {
        Self {
            ctx,
            op,
            grouping,
            input,
            param,
            label,
            state: None,
            buffered: None,
            param_pos: None,
        }
    }

    pub fn with_param_position(mut self, pos: Option<Position>) -> Self {
        self.param_pos = pos;
        self
    }

    fn selects_series(&self) -> bool {
        matches!(
            self.op,
            Aggregation::Topk
                | Aggregation::Bottomk
                | Aggregation::Limitk
                | Aggregation::LimitRatio
        )
    }

    fn state(&mut self) -> Result<&State, EngineError> {
        if self.state.is_none() {
            let input_series = self.input.series()?;
            let mut index: HashMap<Labels, usize> = HashMap::new();
            let mut group_metas: Vec<SeriesMeta> = Vec::new();
            let mut group_of = Vec::with_capacity(input_series.len());
            for series in input_series.iter() {
                let labels = self.grouping.group_labels(&series.labels);
                let next = group_metas.len();
                let group = *index.entry(labels.clone()).or_insert(next);
                if group == next {
                    group_metas.push(SeriesMeta::new(labels));
                }
                // With delayed name removal a kept name is dropped if any member drops it.
                if self.grouping.keeps_name() && series.drop_name {
                    group_metas[group].drop_name = true;
                }
                group_of.push(group);
            }
            let output = if self.selects_series() {
                input_series.clone()
            } else {
                Arc::from(group_metas.clone())
            };
            let ratio_offsets = match self.op {
                Aggregation::LimitRatio => input_series.iter().map(ratio_offset).collect(),
                _ => Vec::new(),
            };
            self.state = Some(State {
                groups: group_metas.len(),
                input_series,
                output,
                group_of,
                ratio_offsets,
            });
        }
        self.state
            .as_ref()
            .ok_or_else(|| EngineError::Execution("aggregation state".into()))
    }

    /// count_values: evaluates every step, then serves the buffered batches.
    fn count_values_series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        let label = self.label.clone().unwrap_or_default();
        let state = self.state()?;
        let input_series = state.input_series.clone();
        let mut output: Vec<SeriesMeta> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut steps = Vec::new();
        while let Some(batch) = self.input.next()? {
            for step in batch {
                let mut counts: Vec<(usize, f64)> = Vec::new();
                for (&id, &v) in step.ids.iter().zip(&step.values) {
                    let mut labels = self.grouping.group_labels(&input_series[id].labels);
                    labels.set(label.clone(), format_value(v));
                    let next = output.len();
                    let out = *index.entry(labels.clone()).or_insert(next);
                    if out == next {
                        output.push(SeriesMeta::new(labels));
                    }
                    match counts.iter_mut().find(|(o, _)| *o == out) {
                        Some((_, c)) => *c += 1.0,
                        None => counts.push((out, 1.0)),
                    }
                }
                let mut vector = StepVector::new(step.t);
                for (out, count) in counts {
                    vector.push(out, count);
                }
                steps.push(vector);
            }
        }
        self.buffered = Some(steps.into_iter());
        let output: Arc<[SeriesMeta]> = Arc::from(output);
        if let Some(state) = self.state.as_mut() {
            state.output = output.clone();
        }
        Ok(output)
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`, as count_values writes values.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        // Rust's shortest round-trip formatting never uses exponents with `{}`.
        format!("{v}")
    }
}

impl Operator for AggregateOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        if self.op == Aggregation::CountValues {
            if self.buffered.is_none() {
                return self.count_values_series();
            }
            return Ok(self.state()?.output.clone());
        }
        Ok(self.state()?.output.clone())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        if self.op == Aggregation::CountValues {
            if self.buffered.is_none() {
                self.count_values_series()?;
            }
            let steps: Batch = self
                .buffered
                .as_mut()
                .map(|b| b.by_ref().take(super::BATCH_STEPS).collect())
                .unwrap_or_default();
            return Ok((!steps.is_empty()).then_some(steps));
        }
        self.state()?;
        let Some(batch) = self.input.next()? else {
            return Ok(None);
        };
        self.ctx.check("query execution")?;
        let params = match self.param.as_mut() {
            Some(p) => scalar_args(std::slice::from_mut(p), batch.len())?
                .into_iter()
                .map(|v| v[0])
                .collect(),
            None => vec![f64::NAN; batch.len()],
        };
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| EngineError::Execution("aggregation state".into()))?;
        let mut out = Vec::with_capacity(batch.len());
        let mut scratch = Scratch::new(state.groups);
        for (step, param) in batch.into_iter().zip(params) {
            out.push(match self.op {
                Aggregation::Topk | Aggregation::Bottomk => {
                    select_k(&step, state, param, self.op == Aggregation::Topk)?
                }
                Aggregation::Limitk => limit_k(&step, state, param)?,
                Aggregation::LimitRatio => {
                    if (-1.0..=1.0).contains(&param) || param.is_nan() {
                        limit_ratio(&step, state, param)?
                    } else {
                        let capped = param.clamp(-1.0, 1.0);
                        self.ctx
                            .annotations()
                            .invalid_ratio(param, capped, self.param_pos);
                        limit_ratio(&step, state, capped)?
                    }
                }
                Aggregation::Quantile => {
                    self.ctx.annotations().check_quantile(param, self.param_pos);
                    quantile_step(&step, state, param, &mut scratch)
                }
                _ => fold_step(self.op, &step, state, &mut scratch),
            });
        }
        Ok(Some(out))
    }
}

/// Per-group accumulators, reused across steps.
struct Scratch {
    count: Vec<f64>,
    sum: Vec<KahanSum>,
    mean: Vec<f64>,
    value: Vec<f64>,
    incremental: Vec<bool>,
    values: Vec<Vec<f64>>,
}

impl Scratch {
    fn new(groups: usize) -> Self {
        Self {
            count: vec![0.0; groups],
            sum: vec![KahanSum::default(); groups],
            mean: vec![0.0; groups],
            value: vec![0.0; groups],
            incremental: vec![false; groups],
            values: vec![Vec::new(); groups],
        }
    }

    fn reset(&mut self) {
        self.count.fill(0.0);
        self.sum.fill(KahanSum::default());
        self.mean.fill(0.0);
        self.value.fill(0.0);
        self.incremental.fill(false);
        for v in &mut self.values {
            v.clear();
        }
    }
}

fn fold_step(op: Aggregation, step: &StepVector, state: &State, s: &mut Scratch) -> StepVector {
    s.reset();
    for (&id, &f) in step.ids.iter().zip(&step.values) {
        let g = state.group_of[id];
        s.count[g] += 1.0;
        let first = s.count[g] == 1.0;
        match op {
            Aggregation::Sum => s.sum[g].add(f),
            Aggregation::Avg => add_to_mean(s, g, f),
            // A NaN so far is replaced by any value: NaN only when all are NaN.
            Aggregation::Min if first || s.value[g] > f || s.value[g].is_nan() => s.value[g] = f,
            Aggregation::Max if first || s.value[g] < f || s.value[g].is_nan() => s.value[g] = f,
            Aggregation::Stddev | Aggregation::Stdvar => {
                // Welford's online variance.
                let delta = f - s.mean[g];
                s.mean[g] += delta / s.count[g];
                s.value[g] += delta * (f - s.mean[g]);
            }
            _ => {}
        }
    }
    let mut out = StepVector::new(step.t);
    for g in 0..state.groups {
        let n = s.count[g];
        if n == 0.0 {
            continue;
        }
        let v = match op {
            Aggregation::Sum => s.sum[g].value(),
            Aggregation::Avg => {
                if s.incremental[g] {
                    s.mean[g] + s.sum[g].compensation()
                } else {
                    s.sum[g].value() / n
                }
            }
            Aggregation::Count => n,
            Aggregation::Group => 1.0,
            Aggregation::Min | Aggregation::Max => s.value[g],
            Aggregation::Stdvar => s.value[g] / n,
            Aggregation::Stddev => (s.value[g] / n).sqrt(),
            _ => f64::NAN,
        };
        out.push(g, v);
    }
    out
}

/// Prometheus' average: a compensated sum, switching to an incremental mean only when the
/// sum would overflow.
fn add_to_mean(s: &mut Scratch, g: usize, f: f64) {
    let n = s.count[g];
    if !s.incremental[g] {
        let mut next = s.sum[g];
        next.add(f);
        if !next.sum().is_infinite() || n == 1.0 {
            s.sum[g] = next;
            return;
        }
        s.incremental[g] = true;
        s.mean[g] = s.sum[g].sum() / (n - 1.0);
        s.sum[g] = KahanSum::with_compensation(s.sum[g].compensation() / (n - 1.0));
    }
    let mean = s.mean[g];
    if mean.is_infinite() {
        if f.is_infinite() && (mean > 0.0) == (f > 0.0) {
            return;
        }
        if !f.is_infinite() && !f.is_nan() {
            return;
        }
    }
    let current = mean + s.sum[g].compensation();
    let mut acc = KahanSum::from_parts(mean, s.sum[g].compensation());
    acc.add(f / n - current / n);
    s.mean[g] = acc.sum();
    s.sum[g] = KahanSum::with_compensation(acc.compensation());
}

fn quantile_step(step: &StepVector, state: &State, phi: f64, s: &mut Scratch) -> StepVector {
    s.reset();
    for (&id, &f) in step.ids.iter().zip(&step.values) {
        s.values[state.group_of[id]].push(f);
    }
    let mut out = StepVector::new(step.t);
    for g in 0..state.groups {
        if !s.values[g].is_empty() {
            out.push(g, quantile(phi, &mut s.values[g]));
        }
    }
    out
}

fn k_param(param: f64, name: &str) -> Result<Option<usize>, EngineError> {
    if param.is_nan() {
        let _ = name;
        return Err(EngineError::Execution("Parameter value is NaN".into()));
    }
    if param < 1.0 {
        return Ok(None);
    }
    // Larger than any vector: saturates.
    Ok(Some(param.min(usize::MAX as f64) as usize))
}

/// topk/bottomk: the k largest (smallest) per group, NaN last; ordered as Prometheus
/// returns them (per group, best first).
fn select_k(
    step: &StepVector,
    state: &State,
    k: f64,
    top: bool,
) -> Result<StepVector, EngineError> {
    let mut out = StepVector::new(step.t);
    let Some(k) = k_param(k, if top { "topk" } else { "bottomk" })? else {
        return Ok(out);
    };
    let mut by_group: Vec<Vec<(usize, f64)>> = vec![Vec::new(); state.groups];
    for (&id, &f) in step.ids.iter().zip(&step.values) {
        by_group[state.group_of[id]].push((id, f));
    }
    let rank = |a: &(usize, f64), b: &(usize, f64)| {
        let order = match (a.1.is_nan(), b.1.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) if top => b.1.total_cmp(&a.1),
            (false, false) => a.1.total_cmp(&b.1),
        };
        order.then(a.0.cmp(&b.0))
    };
    for members in &mut by_group {
        // Only the best k need ordering: partition them out first.
        if members.len() > k {
            members.select_nth_unstable_by(k, rank);
            members.truncate(k);
        }
        members.sort_by(rank);
        for &(id, f) in members.iter().take(k) {
            out.push(id, f);
        }
    }
    Ok(out)
}

/// limitk: the first k series of each group, in series order (stable across steps).
fn limit_k(step: &StepVector, state: &State, k: f64) -> Result<StepVector, EngineError> {
    let mut out = StepVector::new(step.t);
    let Some(k) = k_param(k, "limitk")? else {
        return Ok(out);
    };
    let mut taken = vec![0usize; state.groups];
    for (&id, &f) in step.ids.iter().zip(&step.values) {
        let g = state.group_of[id];
        if taken[g] < k {
            taken[g] += 1;
            out.push(id, f);
        }
    }
    Ok(out)
}

/// limit_ratio: a stable sample of series chosen by a hash of their labels; a negative
/// ratio takes the complement, so `limit_ratio(r, x)` and `limit_ratio(r - 1, x)` partition
/// `x` (0 ≤ r ≤ 1).
fn limit_ratio(step: &StepVector, state: &State, ratio: f64) -> Result<StepVector, EngineError> {
    if ratio.is_nan() {
        return Err(EngineError::Execution("Ratio value is NaN".into()));
    }
    let ratio = ratio.clamp(-1.0, 1.0);
    let mut out = StepVector::new(step.t);
    for (&id, &f) in step.ids.iter().zip(&step.values) {
        let offset = state.ratio_offsets[id];
        let keep = if ratio >= 0.0 {
            offset < ratio
        } else {
            offset >= 1.0 + ratio
        };
        if keep {
            out.push(id, f);
        }
    }
    Ok(out)
}

/// A series' place in [0, 1] for limit_ratio, as Prometheus 3 computes it so that both
/// choose the same series: `labels.Hash()` of its default (`stringlabels`) label layout — the
/// xxHash64 of each name and value preceded by its length as a uvarint — over the largest
/// u64. The labels are those the series has at that point, without a name already dropped.
fn ratio_offset(series: &SeriesMeta) -> f64 {
    let mut hasher = xxhash_rust::xxh64::Xxh64::new(0);
    let dropped =
        |name: &str| series.drop_name && matches!(name, "__name__" | "__type__" | "__unit__");
    for label in series.labels.iter().filter(|l| !dropped(&l.name)) {
        for text in [&label.name, &label.value] {
            let mut len = text.len();
            while len >= 0x80 {
                hasher.update(&[(len as u8 & 0x7f) | 0x80]);
                len >>= 7;
            }
            hasher.update(&[len as u8]);
            hasher.update(text.as_bytes());
        }
    }
    hasher.digest() as f64 / u64::MAX as f64
}
