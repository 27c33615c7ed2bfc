//! Instant-vector functions: element-wise maps, relabelling, `scalar()`, `timestamp()`,
//! `absent()`, the sorting functions and classic `histogram_quantile`.

use super::range::scalar_args;
use super::{Batch, BoxOperator, Operator, QueryContext, SeriesMeta, StepVector};
use crate::promql::error::EngineError;
use crate::promql::functions::Position;
use crate::promql::functions::histogram::{
    Bucket, QuantileSite, bucket_fraction, bucket_quantile, format_openmetrics_float, parse_le,
};
use std::collections::HashMap;
use std::sync::Arc;
use store_api::Labels;

type MapFn = Box<dyn Fn(f64, &[f64]) -> Option<f64> + Send>;

/// Applies `f(value, args)` to every sample; `args` are scalars evaluated per step.
pub struct MapOp {
    input: BoxOperator,
    args: Vec<BoxOperator>,
    f: MapFn,
    drop_name: bool,
}

impl MapOp {
    pub fn new(input: BoxOperator, args: Vec<BoxOperator>, drop_name: bool, f: MapFn) -> Self {
        Self {
            input,
            args,
            f,
            drop_name,
        }
    }
}

impl Operator for MapOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        let series = self.input.series()?;
        Ok(series
            .iter()
            .map(|s| SeriesMeta {
                labels: s.labels.clone(),
                drop_name: s.drop_name || self.drop_name,
            })
            .collect())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let Some(batch) = self.input.next()? else {
            return Ok(None);
        };
        let args = scalar_args(&mut self.args, batch.len())?;
        let mut out = Vec::with_capacity(batch.len());
        for (step, step_args) in batch.into_iter().zip(&args) {
            let mut mapped = StepVector::new(step.t);
            for (&id, &v) in step.ids.iter().zip(&step.values) {
                if let Some(r) = (self.f)(v, step_args) {
                    mapped.push(id, r);
                }
            }
            out.push(mapped);
        }
        Ok(Some(out))
    }
}

/// A series' new labels from its old ones.
pub type Relabel = Box<dyn Fn(&SeriesMeta) -> Result<SeriesMeta, EngineError> + Send>;

/// Where two series that a relabelling gave the same labels may not both have samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collision {
    /// At one step (label_replace, label_join, instant-vector functions and operators).
    AtOneStep,
    /// Anywhere in the range: Prometheus 3.5 checks the whole matrix of a range function
    /// or a unary minus whose name it dropped at once.
    AnywhereInRange,
}

/// Changes the series' labels once (label_replace, label_join, vector(), immediate name
/// removal); values pass. Series that end up with the same labels become one, as Prometheus
/// merges them; two of them colliding (see [`Collision`]) are an error.
pub struct RelabelOp {
    input: BoxOperator,
    relabel: Relabel,
    collision: Collision,
    /// Output id of each input series, once `series()` ran.
    output_of: Vec<usize>,
    /// No two inputs share an output: ids and batches pass unchanged.
    identity: bool,
    outputs: Option<Arc<[SeriesMeta]>>,
    /// Per output: the input that gave it a sample (this step, or in the range).
    producer: Vec<Option<usize>>,
    /// Inputs none of which this holds for pass unchanged, unhashed.
    only_if: Option<fn(&SeriesMeta) -> bool>,
}

impl RelabelOp {
    pub fn new(input: BoxOperator, relabel: Relabel) -> Self {
        Self::with_collision(input, relabel, Collision::AtOneStep)
    }

    pub fn with_collision(input: BoxOperator, relabel: Relabel, collision: Collision) -> Self {
        Self {
            input,
            relabel,
            collision,
            output_of: Vec::new(),
            identity: false,
            outputs: None,
            producer: Vec::new(),
            only_if: None,
        }
    }

    /// Prometheus 3's default, without `promql-delayed-name-removal`: the name goes where a
    /// function or operator drops it, not at the end, and series left alike must not collide.
    pub fn drop_names_now(input: BoxOperator, collision: Collision) -> Self {
        Self {
            only_if: Some(|meta| meta.drop_name),
            ..Self::with_collision(
                input,
                Box::new(|meta| Ok(SeriesMeta::new(meta.final_labels()))),
                collision,
            )
        }
    }
}

impl Operator for RelabelOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        if let Some(outputs) = &self.outputs {
            return Ok(outputs.clone());
        }
        let series = self.input.series()?;
        if let Some(applies) = self.only_if
            && !series.iter().any(applies)
        {
            self.identity = true;
            self.outputs = Some(series.clone());
            return Ok(series);
        }
        let mut index: HashMap<SeriesMeta, usize> = HashMap::new();
        let mut outputs = Vec::new();
        self.output_of = Vec::with_capacity(series.len());
        for meta in series.iter() {
            let relabelled = (self.relabel)(meta)?;
            let next = outputs.len();
            let id = *index.entry(relabelled.clone()).or_insert(next);
            if id == next {
                outputs.push(relabelled);
            }
            self.output_of.push(id);
        }
        // Outputs are numbered in order of first appearance, so without merges input i is
        // output i.
        self.identity = outputs.len() == series.len();
        self.producer = vec![None; outputs.len()];
        let outputs: Arc<[SeriesMeta]> = Arc::from(outputs);
        self.outputs = Some(outputs.clone());
        Ok(outputs)
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        self.series()?;
        let Some(mut batch) = self.input.next()? else {
            return Ok(None);
        };
        if self.identity {
            return Ok(Some(batch));
        }
        for step in &mut batch {
            for id in &mut step.ids {
                let output = self.output_of[*id];
                match self.producer[output] {
                    Some(producer) if producer != *id => {
                        return Err(EngineError::Execution(
                            "vector cannot contain metrics with the same labelset".into(),
                        ));
                    }
                    _ => self.producer[output] = Some(*id),
                }
                *id = output;
            }
            if self.collision == Collision::AtOneStep {
                for &id in &step.ids {
                    self.producer[id] = None;
                }
            }
        }
        Ok(Some(batch))
    }
}

/// `scalar(v)`: the only sample's value, NaN when there is not exactly one.
pub struct ScalarOp {
    input: BoxOperator,
}

impl ScalarOp {
    pub fn new(input: BoxOperator) -> Self {
        Self { input }
    }
}

impl Operator for ScalarOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        self.input.series()?;
        Ok(Arc::from(vec![SeriesMeta::new(Labels::new())]))
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let Some(batch) = self.input.next()? else {
            return Ok(None);
        };
        Ok(Some(
            batch
                .into_iter()
                .map(|step| {
                    let mut out = StepVector::new(step.t);
                    out.push(
                        0,
                        if step.len() == 1 {
                            step.values[0]
                        } else {
                            f64::NAN
                        },
                    );
                    out
                })
                .collect(),
        ))
    }
}

/// `timestamp(expr)` of a computed vector: the evaluation time of each sample.
pub struct TimestampOp {
    input: BoxOperator,
}

impl TimestampOp {
    pub fn new(input: BoxOperator) -> Self {
        Self { input }
    }
}

impl Operator for TimestampOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        let series = self.input.series()?;
        Ok(series
            .iter()
            .map(|s| SeriesMeta {
                labels: s.labels.clone(),
                drop_name: true,
            })
            .collect())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let Some(mut batch) = self.input.next()? else {
            return Ok(None);
        };
        for step in &mut batch {
            let t = step.t as f64 / 1000.0;
            step.values.fill(t);
        }
        Ok(Some(batch))
    }
}

/// `absent(v)` and `absent_over_time(m)`: 1 at steps where the input has no sample.
pub struct AbsentOp {
    input: BoxOperator,
    labels: Labels,
}

impl AbsentOp {
    pub fn new(input: BoxOperator, labels: Labels) -> Self {
        Self { input, labels }
    }
}

impl Operator for AbsentOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        self.input.series()?;
        Ok(Arc::from(vec![SeriesMeta::new(self.labels.clone())]))
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let Some(batch) = self.input.next()? else {
            return Ok(None);
        };
        Ok(Some(
            batch
                .into_iter()
                .map(|step| {
                    let mut out = StepVector::new(step.t);
                    if step.is_empty() {
                        out.push(0, 1.0);
                    }
                    out
                })
                .collect(),
        ))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortOrder {
    ValueAsc,
    ValueDesc,
    Labels {
        names: Vec<String>,
        descending: bool,
    },
}

/// The sorting functions: they order each step's samples (visible in instant queries).
pub struct SortOp {
    input: BoxOperator,
    order: SortOrder,
    series: Option<Arc<[SeriesMeta]>>,
}

impl SortOp {
    pub fn new(input: BoxOperator, order: SortOrder) -> Self {
        Self {
            input,
            order,
            series: None,
        }
    }
}

impl Operator for SortOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        let series = self.input.series()?;
        self.series = Some(series.clone());
        Ok(series)
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let series = match &self.series {
            Some(s) => s.clone(),
            None => self.series()?,
        };
        let Some(batch) = self.input.next()? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(batch.len());
        for step in batch {
            let mut pairs: Vec<(usize, f64)> = step
                .ids
                .iter()
                .copied()
                .zip(step.values.iter().copied())
                .collect();
            match &self.order {
                SortOrder::ValueAsc | SortOrder::ValueDesc => {
                    let desc = self.order == SortOrder::ValueDesc;
                    // NaN sorts last either way.
                    pairs.sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if desc => b.1.total_cmp(&a.1),
                        _ => a.1.total_cmp(&b.1),
                    });
                }
                SortOrder::Labels { names, descending } => {
                    pairs.sort_by(|a, b| {
                        let la = &series[a.0].labels;
                        let lb = &series[b.0].labels;
                        let mut order = std::cmp::Ordering::Equal;
                        for name in names {
                            order =
                                natural_cmp(la.get(name).unwrap_or(""), lb.get(name).unwrap_or(""));
                            if order.is_ne() {
                                break;
                            }
                        }
                        // Ties are broken by the whole label set, as Prometheus does.
                        let order = order.then_with(|| la.cmp(lb));
                        if *descending { order.reverse() } else { order }
                    });
                }
            }
            let mut sorted = StepVector::new(step.t);
            for (id, v) in pairs {
                sorted.push(id, v);
            }
            out.push(sorted);
        }
        Ok(Some(out))
    }
}

/// Natural order: digit runs compare as numbers ("a2" < "a10").
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = std::str::from_utf8(&a[..da])
                    .unwrap_or("0")
                    .trim_start_matches('0');
                let nb = std::str::from_utf8(&b[..db])
                    .unwrap_or("0")
                    .trim_start_matches('0');
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order.is_ne() {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// What is computed from each group of classic buckets.
pub enum HistogramCalc {
    /// `histogram_quantile(φ, v)`.
    Quantile {
        phi: BoxOperator,
        phi_pos: Option<Position>,
    },
    /// `histogram_quantiles(v, "label", φ1, φ2, ...)`: one output series per φ, told apart by
    /// `label`.
    Quantiles { label: String, phis: Vec<f64> },
    /// `histogram_fraction(lower, upper, v)`.
    Fraction {
        lower: BoxOperator,
        upper: BoxOperator,
    },
}

/// The output series, and each input series' group and bucket bound (None: not a bucket).
#[derive(Clone)]
struct BucketGroups {
    outputs: Arc<[SeriesMeta]>,
    member: Vec<Option<(usize, f64)>>,
}

/// Classic histograms: series grouped by their labels without `le`, each group's buckets
/// reduced to one value (or one per φ).
pub struct ClassicHistogramOp {
    ctx: QueryContext,
    calc: HistogramCalc,
    input: BoxOperator,
    groups: Option<BucketGroups>,
    /// Number of bucket groups (outputs are `group * fan_out + i`).
    group_count: usize,
    /// Where the histogram argument starts, for annotations.
    pos: Option<Position>,
}

impl ClassicHistogramOp {
    pub fn new(
        ctx: QueryContext,
        calc: HistogramCalc,
        input: BoxOperator,
        pos: Option<Position>,
    ) -> Self {
        Self {
            ctx,
            calc,
            input,
            groups: None,
            group_count: 0,
            pos,
        }
    }

    fn fan_out(&self) -> usize {
        match &self.calc {
            HistogramCalc::Quantiles { phis, .. } => phis.len(),
            _ => 1,
        }
    }

    fn groups(&mut self) -> Result<BucketGroups, EngineError> {
        if let Some(groups) = &self.groups {
            return Ok(groups.clone());
        }
        let series = self.input.series()?;
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut group_labels: Vec<Labels> = Vec::new();
        let mut member = Vec::with_capacity(series.len());
        for s in series.iter() {
            // A missing `le` is reported like a malformed one, with the empty value.
            let le = s.labels.get("le").unwrap_or("");
            let Some(bound) = parse_le(le) else {
                self.ctx.annotations().bad_bucket_label(
                    s.labels.get(store_api::labels::METRIC_NAME).unwrap_or(""),
                    le,
                    self.pos,
                );
                member.push(None);
                continue;
            };
            let mut labels = s.labels.clone();
            labels.remove("le");
            let next = group_labels.len();
            let id = *index.entry(labels.clone()).or_insert(next);
            if id == next {
                group_labels.push(labels);
            }
            member.push(Some((id, bound)));
        }
        self.group_count = group_labels.len();
        let mut metas = Vec::with_capacity(group_labels.len() * self.fan_out());
        for labels in group_labels {
            match &self.calc {
                HistogramCalc::Quantiles { label, phis } => {
                    if labels.get(label).is_some() {
                        return Err(EngineError::Execution(format!(
                            "label {label:?} already exists on the histogram series {labels}"
                        )));
                    }
                    for phi in phis {
                        let mut labels = labels.clone();
                        labels.set(label.clone(), format_openmetrics_float(*phi));
                        metas.push(SeriesMeta {
                            labels,
                            drop_name: true,
                        });
                    }
                }
                _ => metas.push(SeriesMeta {
                    labels,
                    drop_name: true,
                }),
            }
        }
        let groups = BucketGroups {
            outputs: Arc::from(metas),
            member,
        };
        self.groups = Some(groups.clone());
        Ok(groups)
    }
}

impl Operator for ClassicHistogramOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        Ok(self.groups()?.outputs)
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let BucketGroups {
            outputs: metas,
            member,
        } = self.groups()?;
        let Some(batch) = self.input.next()? else {
            return Ok(None);
        };
        let args = match &mut self.calc {
            HistogramCalc::Quantile { phi, .. } => {
                scalar_args(std::slice::from_mut(phi), batch.len())?
            }
            HistogramCalc::Fraction { lower, upper } => {
                let lower = scalar_args(std::slice::from_mut(lower), batch.len())?;
                let upper = scalar_args(std::slice::from_mut(upper), batch.len())?;
                lower
                    .into_iter()
                    .zip(upper)
                    .map(|(l, u)| vec![l[0], u[0]])
                    .collect()
            }
            HistogramCalc::Quantiles { .. } => vec![Vec::new(); batch.len()],
        };
        let fan_out = self.fan_out();
        let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); self.group_count];
        let mut out = Vec::with_capacity(batch.len());
        for (step, args) in batch.into_iter().zip(args) {
            for b in &mut buckets {
                b.clear();
            }
            for (&id, &v) in step.ids.iter().zip(&step.values) {
                if let Some((group, bound)) = member[id] {
                    buckets[group].push(Bucket {
                        upper_bound: bound,
                        count: v,
                    });
                }
            }
            let mut result = StepVector::new(step.t);
            if let HistogramCalc::Quantile { phi_pos, .. } = &self.calc {
                // Prometheus checks φ at every step, with or without buckets.
                self.ctx.annotations().check_quantile(args[0], *phi_pos);
            }
            for (group, b) in buckets.iter_mut().enumerate() {
                if b.is_empty() {
                    continue;
                }
                let first = group * fan_out;
                let site = QuantileSite {
                    metric_name: metas[first]
                        .labels
                        .get(store_api::labels::METRIC_NAME)
                        .unwrap_or(""),
                    pos: self.pos,
                    ts: step.t,
                };
                let mut annotations = self.ctx.annotations();
                match &self.calc {
                    HistogramCalc::Quantile { .. } => {
                        result.push(first, bucket_quantile(args[0], b, &site, &mut annotations));
                    }
                    HistogramCalc::Quantiles { phis, .. } => {
                        for (i, phi) in phis.iter().enumerate() {
                            result
                                .push(first + i, bucket_quantile(*phi, b, &site, &mut annotations));
                        }
                    }
                    HistogramCalc::Fraction { .. } => {
                        result.push(first, bucket_fraction(args[0], args[1], b));
                    }
                }
            }
            out.push(result);
        }
        Ok(Some(out))
    }
}
