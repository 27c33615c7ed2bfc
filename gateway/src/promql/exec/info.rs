//! `info(v, [selector])`: enriches each series of `v` with the data labels of the info series
//! (by default `target_info`) that share its identifying labels (`instance`, `job`) at each
//! step.
//!
//! The info series are matched at a reference time derived from the first argument's `@` and
//! `offset` modifiers (see [`reference_time`]), with the normal lookback and staleness; among
//! several info series of one metric with the same identifying labels, the one with the newest
//! sample wins. The labels an input series gets may change from step to step, so the output
//! series are only known once the input has been read: the operator buffers its output (the
//! samples count towards the query's limit).

use super::scan::EvalTime;
use super::{BATCH_STEPS, Batch, BoxOperator, Operator, QueryContext, SeriesMeta, StepVector};
use crate::promql::error::EngineError;
use crate::promql::functions::ValueType;
use crate::promql::logical::{Expr, TimeModifier};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use store_api::labels::METRIC_NAME;
use store_api::{Labels, MatchOp, Matcher};

/// The info metric used when the selector names none.
pub const TARGET_INFO: &str = "target_info";

/// The labels info series are joined on.
pub const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];

/// Above this many values of one identifying label the info series are fetched without a
/// matcher on it (a huge alternation regex costs more than the extra series).
const MAX_IDENTIFYING_VALUES: usize = 1000;

/// What the second argument asks for.
#[derive(Clone, Debug)]
pub struct InfoSpec {
    /// The matchers on `__name__` that select info metrics, as resolved: all of them when one
    /// is positive; `=~".+_info"` added when all are negated; `="target_info"` when there are
    /// none. A series of the first argument whose name they all match is an info series
    /// itself and passes through unchanged.
    name_matchers: Vec<Matcher>,
    /// The matchers on other labels: they select info series, restrict which labels are
    /// added (when there are any), and drop a series without a matching info series unless
    /// they all accept the empty string.
    data_matchers: Vec<Matcher>,
}

impl InfoSpec {
    /// From the matchers of the second argument, `None` when it is absent.
    pub fn new(matchers: Option<&[Matcher]>) -> Result<Self, EngineError> {
        let matchers = matchers.unwrap_or(&[]);
        let (mut name_matchers, data_matchers): (Vec<Matcher>, Vec<Matcher>) = matchers
            .iter()
            .cloned()
            .partition(|m| m.name() == METRIC_NAME);
        let positive = name_matchers
            .iter()
            .any(|m| matches!(m.op(), MatchOp::Equal | MatchOp::Regex));
        if name_matchers.is_empty() {
            name_matchers.push(Matcher::equal(METRIC_NAME, TARGET_INFO));
        } else if !positive {
            let any_info = Matcher::new(MatchOp::Regex, METRIC_NAME, ".+_info")
                .map_err(|e| EngineError::BadData(e.to_string()))?;
            name_matchers.insert(0, any_info);
        }
        Ok(Self {
            name_matchers,
            data_matchers,
        })
    }

    /// Whether a series of the first argument is an info series, not to be enriched.
    fn ignores(&self, labels: &Labels) -> bool {
        let name = labels.get(METRIC_NAME).unwrap_or("");
        self.name_matchers.iter().all(|m| m.matches(name))
    }

    /// Whether a series without any matching info series is dropped.
    fn drops_unmatched(&self) -> bool {
        self.data_matchers.iter().any(|m| !m.matches_empty())
    }

    /// Whether an info series' label is among those to add.
    fn wants_label(&self, name: &str) -> bool {
        self.data_matchers.is_empty() || self.data_matchers.iter().any(|m| m.name() == name)
    }

    /// The matchers selecting the info series that may join `input`, `None` when none can:
    /// no series to enrich carries an identifying label.
    pub fn fetch_matchers(
        &self,
        input: &[SeriesMeta],
    ) -> Result<Option<Vec<Matcher>>, EngineError> {
        let mut values: [Vec<&str>; IDENTIFYING_LABELS.len()] = Default::default();
        let mut lacking = [false; IDENTIFYING_LABELS.len()];
        let mut any = false;
        for meta in input.iter().filter(|s| !self.ignores(&s.labels)) {
            for (i, name) in IDENTIFYING_LABELS.iter().enumerate() {
                match meta.labels.get(name) {
                    Some(v) => {
                        values[i].push(v);
                        any = true;
                    }
                    None => lacking[i] = true,
                }
            }
        }
        if !any {
            return Ok(None);
        }
        let mut matchers = self.name_matchers.clone();
        matchers.extend(self.data_matchers.iter().cloned());
        for (i, name) in IDENTIFYING_LABELS.iter().enumerate() {
            let vals = &mut values[i];
            vals.sort_unstable();
            vals.dedup();
            if vals.is_empty() || vals.len() > MAX_IDENTIFYING_VALUES {
                continue;
            }
            let mut pattern: Vec<String> = vals.iter().map(|v| regex::escape(v)).collect();
            // Series lacking the label join info series lacking it too.
            if lacking[i] {
                pattern.push(String::new());
            }
            matchers.push(
                Matcher::new(MatchOp::Regex, *name, pattern.join("|"))
                    .map_err(|e| EngineError::BadData(e.to_string()))?,
            );
        }
        Ok(Some(matchers))
    }
}

/// When the info series are looked at, relative to each step: the common time of every
/// vector-producing path of `expr` (its selectors' `@` and `offset`, composed with those of
/// enclosing subqueries), or the step itself when the paths disagree or one has no selector.
/// `resolve` turns a written modifier into an evaluation time (`@ start()` and `@ end()`).
pub fn reference_time(expr: &Expr, resolve: &dyn Fn(&TimeModifier) -> EvalTime) -> EvalTime {
    let mut refs = Vec::new();
    collect_references(expr, EvalTime::default(), resolve, &mut refs);
    match refs.split_first() {
        Some((Some(first), rest)) if rest.iter().all(|r| r.as_ref() == Some(first)) => *first,
        _ => EvalTime::default(),
    }
}

/// The time of `inner`, a modifier relative to the time `outer` yields, normalised so equal
/// times compare equal (`@ 180 offset 1m` is `@ 120`).
fn compose(outer: EvalTime, inner: EvalTime) -> EvalTime {
    let (at_ms, offset_ms) = match inner.at_ms {
        Some(at) => (Some(at), inner.offset_ms),
        None => (outer.at_ms, outer.offset_ms + inner.offset_ms),
    };
    match at_ms {
        Some(at) => EvalTime {
            at_ms: Some(at.saturating_sub(offset_ms)),
            offset_ms: 0,
        },
        None => EvalTime { at_ms, offset_ms },
    }
}

/// Pushes the reference time of every vector-producing path of `expr` (`None` for a path
/// without a selector); scalar and string subexpressions are no paths.
fn collect_references(
    expr: &Expr,
    outer: EvalTime,
    resolve: &dyn Fn(&TimeModifier) -> EvalTime,
    refs: &mut Vec<Option<EvalTime>>,
) {
    if matches!(expr.value_type(), ValueType::Scalar | ValueType::String) {
        return;
    }
    match expr {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::Selector(selector) | Expr::Matrix { selector, .. } => {
            refs.push(Some(compose(outer, resolve(&selector.time))));
        }
        Expr::Subquery { expr, time, .. } => {
            collect_references(expr, compose(outer, resolve(time)), resolve, refs);
        }
        Expr::Call { args, .. } => {
            let before = refs.len();
            for arg in args {
                collect_references(arg, outer, resolve, refs);
            }
            if refs.len() == before {
                refs.push(None);
            }
        }
        Expr::Aggregate { expr, .. } | Expr::Neg(expr) | Expr::StepInvariant(expr) => {
            collect_references(expr, outer, resolve, refs);
        }
        Expr::Binary { lhs, rhs, .. } => {
            collect_references(lhs, outer, resolve, refs);
            collect_references(rhs, outer, resolve, refs);
        }
    }
}

/// The identifying label values of a series.
fn key_of(labels: &Labels) -> [Option<&str>; 2] {
    IDENTIFYING_LABELS.map(|l| labels.get(l))
}

/// The static facts about the info series.
struct InfoSeries {
    labels: Vec<Labels>,
    /// Per info series: its metric (index into the distinct names) and its identifying key.
    name: Vec<usize>,
    key: Vec<usize>,
    names: usize,
}

pub struct InfoOp {
    ctx: QueryContext,
    spec: InfoSpec,
    input: Option<BoxOperator>,
    input_series: Arc<[SeriesMeta]>,
    /// Evaluates the info series at the reference time; values are sample timestamps.
    info: Option<BoxOperator>,
    output: Option<Output>,
}

/// The evaluated result, handed out batch by batch.
struct Output {
    series: Arc<[SeriesMeta]>,
    steps: VecDeque<StepVector>,
    held: usize,
}

impl InfoOp {
    /// `input` is the first argument, whose `series()` the caller already took
    /// (`input_series`); `info` scans the info series with `emit_timestamps`.
    pub fn new(
        ctx: QueryContext,
        spec: InfoSpec,
        input: BoxOperator,
        input_series: Arc<[SeriesMeta]>,
        info: BoxOperator,
    ) -> Self {
        Self {
            ctx,
            spec,
            input: Some(input),
            input_series,
            info: Some(info),
            output: None,
        }
    }

    fn evaluate(&mut self) -> Result<&mut Output, EngineError> {
        if self.output.is_none() {
            let output = self.run()?;
            self.output = Some(output);
        }
        self.output
            .as_mut()
            .ok_or_else(|| EngineError::Execution("info: no output".into()))
    }

    fn run(&mut self) -> Result<Output, EngineError> {
        let (Some(mut input), Some(mut info)) = (self.input.take(), self.info.take()) else {
            return Err(EngineError::Execution("info: evaluated twice".into()));
        };
        let info_series = info.series()?;

        // Identifying keys: distinct (instance, job) values, shared by base and info series.
        let mut keys: HashMap<[Option<&str>; 2], usize> = HashMap::new();
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut infos = InfoSeries {
            labels: Vec::with_capacity(info_series.len()),
            name: Vec::with_capacity(info_series.len()),
            key: Vec::with_capacity(info_series.len()),
            names: 0,
        };
        for meta in info_series.iter() {
            let next = keys.len();
            infos
                .key
                .push(*keys.entry(key_of(&meta.labels)).or_insert(next));
            let next = names.len();
            let name = meta.labels.get(METRIC_NAME).unwrap_or("");
            infos.name.push(*names.entry(name).or_insert(next));
            infos.labels.push(meta.labels.clone());
        }
        infos.names = names.len();
        // Per input series: None when it passes unchanged, else its key (None inside: no
        // info series shares it).
        let mut wanted = vec![false; keys.len()];
        let base: Vec<Option<Option<usize>>> = self
            .input_series
            .iter()
            .map(|meta| {
                if self.spec.ignores(&meta.labels) {
                    return None;
                }
                let key = keys.get(&key_of(&meta.labels)).copied();
                if let Some(k) = key {
                    wanted[k] = true;
                }
                Some(key)
            })
            .collect();

        let mut state = Combine {
            spec: &self.spec,
            input_series: &self.input_series,
            infos: &infos,
            drops_unmatched: self.spec.drops_unmatched(),
            outputs: Vec::new(),
            output_index: HashMap::new(),
            combinations: HashMap::new(),
            last: vec![None; self.input_series.len()],
            stamp: Vec::new(),
        };
        let mut pending: VecDeque<StepVector> = VecDeque::new();
        let mut steps = VecDeque::new();
        let mut held = 0;
        let result = (|| {
            while let Some(batch) = input.next()? {
                self.ctx.check("query execution")?;
                for step in batch {
                    while pending.is_empty() {
                        match info.next()? {
                            Some(b) => pending.extend(b),
                            None => {
                                return Err(EngineError::Execution(
                                    "info: the info series ended early".into(),
                                ));
                            }
                        }
                    }
                    let info_step = pending.pop_front().unwrap_or_default();
                    let out = state.step(&step, &info_step, &base, &wanted)?;
                    held += out.len();
                    self.ctx.hold_samples(out.len())?;
                    steps.push_back(out);
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.ctx.release_samples(held);
            return Err(e);
        }
        Ok(Output {
            series: Arc::from(state.outputs),
            steps,
            held,
        })
    }
}

/// The per-step join, with the output series found so far.
struct Combine<'a> {
    spec: &'a InfoSpec,
    input_series: &'a [SeriesMeta],
    infos: &'a InfoSeries,
    drops_unmatched: bool,
    outputs: Vec<SeriesMeta>,
    output_index: HashMap<SeriesMeta, usize>,
    /// Output (None: dropped) per input series and chosen info series (one per metric).
    combinations: HashMap<(usize, Vec<usize>), Option<usize>>,
    /// Per input series, its latest combination: mostly the same from step to step.
    last: Vec<Option<(Vec<usize>, Option<usize>)>>,
    /// The step time each output last had a sample at, to catch duplicates.
    stamp: Vec<i64>,
}

impl Combine<'_> {
    fn step(
        &mut self,
        step: &StepVector,
        info: &StepVector,
        base: &[Option<Option<usize>>],
        wanted: &[bool],
    ) -> Result<StepVector, EngineError> {
        let mut out = StepVector::new(step.t);
        if step.is_empty() {
            return Ok(out);
        }
        let stamp = step.t;
        // The newest info series per (metric, identifying key) at this step.
        let mut chosen: HashMap<(usize, usize), (usize, i64)> = HashMap::new();
        for (&id, &v) in info.ids.iter().zip(&info.values) {
            let key = self.infos.key[id];
            if !wanted[key] {
                continue;
            }
            let t = (v * 1000.0).round() as i64;
            let slot = (self.infos.name[id], key);
            match chosen.get(&slot) {
                Some(&(_, existing)) if existing > t => {}
                Some(&(other, existing)) if existing == t => {
                    return Err(EngineError::Execution(format!(
                        "found duplicate series for info metric: existing {} @ {existing}, new {} @ {t}",
                        self.infos.labels[other], self.infos.labels[id]
                    )));
                }
                _ => {
                    chosen.insert(slot, (id, t));
                }
            }
        }
        let mut picks = Vec::new();
        for (&id, &v) in step.ids.iter().zip(&step.values) {
            let output = match base[id] {
                None => Some(self.output(self.input_series[id].clone())),
                Some(key) => {
                    picks.clear();
                    if let Some(key) = key {
                        for name in 0..self.infos.names {
                            if let Some(&(info_id, _)) = chosen.get(&(name, key)) {
                                picks.push(info_id);
                            }
                        }
                    }
                    self.enriched(id, &picks)?
                }
            };
            let Some(output) = output else {
                continue;
            };
            if self.stamp.len() < self.outputs.len() {
                self.stamp.resize(self.outputs.len(), i64::MIN);
            }
            if self.stamp[output] == stamp {
                return Err(EngineError::Execution(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
            self.stamp[output] = stamp;
            out.push(output, v);
        }
        Ok(out)
    }

    /// The output of input series `id` joined with the info series `picks`.
    fn enriched(&mut self, id: usize, picks: &[usize]) -> Result<Option<usize>, EngineError> {
        if let Some((last_picks, output)) = &self.last[id]
            && last_picks == picks
        {
            return Ok(*output);
        }
        let combination = (id, picks.to_vec());
        if let Some(&output) = self.combinations.get(&combination) {
            self.last[id] = Some((combination.1, output));
            return Ok(output);
        }
        let output = if picks.is_empty() && self.drops_unmatched {
            None
        } else {
            let meta = &self.input_series[id];
            let mut added = Labels::new();
            for &info_id in picks {
                for label in self.infos.labels[info_id].iter() {
                    if label.name == METRIC_NAME || !self.spec.wants_label(&label.name) {
                        continue;
                    }
                    if added.get(&label.name).is_some_and(|v| v != label.value) {
                        return Err(EngineError::Execution(format!(
                            "conflicting label: {}",
                            label.name
                        )));
                    }
                    if meta.labels.get(&label.name).is_none() {
                        added.set(label.name.clone(), label.value.clone());
                    }
                }
            }
            let mut labels = meta.labels.clone();
            labels.merge_missing(&added);
            Some(self.output(SeriesMeta {
                labels,
                drop_name: meta.drop_name,
            }))
        };
        self.last[id] = Some((combination.1.clone(), output));
        self.combinations.insert(combination, output);
        Ok(output)
    }

    fn output(&mut self, meta: SeriesMeta) -> usize {
        let next = self.outputs.len();
        let id = *self.output_index.entry(meta.clone()).or_insert(next);
        if id == next {
            self.outputs.push(meta);
        }
        id
    }
}

impl Operator for InfoOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        Ok(self.evaluate()?.series.clone())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let output = self.evaluate()?;
        if output.steps.is_empty() {
            return Ok(None);
        }
        let n = output.steps.len().min(BATCH_STEPS);
        let batch: Batch = output.steps.drain(..n).collect();
        let released: usize = batch.iter().map(StepVector::len).sum();
        output.held -= released;
        self.ctx.release_samples(released);
        Ok(Some(batch))
    }
}

impl Drop for InfoOp {
    fn drop(&mut self) {
        if let Some(output) = &self.output {
            self.ctx.release_samples(output.held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::logical::{At, Converter, QueryShape};

    fn reference(query: &str) -> EvalTime {
        let ast = crate::promql::syntax::parse(query).unwrap();
        let shape = QueryShape {
            step_ms: 0,
            range_ms: 0,
            default_subquery_step_ms: 60_000,
        };
        let expr = Converter::new(query, shape).convert(&ast).unwrap();
        reference_time(&expr, &|t: &TimeModifier| EvalTime {
            offset_ms: t.offset_ms,
            at_ms: t.at.map(|at| match at {
                At::Time(t) => t,
                At::Start => 0,
                At::End => 1_000_000,
            }),
        })
    }

    fn at(ms: i64) -> EvalTime {
        EvalTime {
            offset_ms: 0,
            at_ms: Some(ms),
        }
    }

    fn offset(ms: i64) -> EvalTime {
        EvalTime {
            offset_ms: ms,
            at_ms: None,
        }
    }

    #[test]
    fn reference_follows_selectors_and_subqueries() {
        assert_eq!(reference("metric"), EvalTime::default());
        assert_eq!(reference("metric offset 2m"), offset(120_000));
        assert_eq!(reference("metric @ 60"), at(60_000));
        assert_eq!(reference("floor(metric @ 60)"), at(60_000));
        assert_eq!(
            reference("last_over_time((metric offset 1m)[10m:1m] @ 180)"),
            at(120_000)
        );
        assert_eq!(
            reference("last_over_time(metric[5m:1m] offset 6m)"),
            offset(360_000)
        );
        assert_eq!(
            reference("last_over_time((metric @ 30)[5m:1m] offset 6m)"),
            at(30_000)
        );
        assert_eq!(reference("rate(metric[5m] @ end())"), at(1_000_000));
    }

    #[test]
    fn reference_needs_agreeing_paths() {
        // Scalar-only selectors are no paths.
        assert_eq!(reference("scalar(foo @ 120) * metric"), EvalTime::default());
        assert_eq!(reference("metric @ 120 * scalar(foo)"), at(120_000));
        // Equivalent times agree.
        assert_eq!(reference("a @ 180 offset 1m + b @ 120"), at(120_000));
        // Disagreeing or selector-free paths fall back to the step.
        assert_eq!(reference("a @ 120 or b @ 480"), EvalTime::default());
        assert_eq!(reference("a @ 120 or vector(1)"), EvalTime::default());
    }

    fn matcher(op: MatchOp, name: &str, value: &str) -> Matcher {
        Matcher::new(op, name, value).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn name_matchers_resolve() {
        let spec = InfoSpec::new(None).unwrap();
        assert!(spec.ignores(&labels(&[("__name__", "target_info")])));
        assert!(!spec.ignores(&labels(&[("__name__", "build_info")])));

        // Negated only: restricted to info metrics.
        let spec = InfoSpec::new(Some(&[matcher(
            MatchOp::NotEqual,
            "__name__",
            "target_info",
        )]))
        .unwrap();
        assert!(spec.ignores(&labels(&[("__name__", "build_info")])));
        assert!(!spec.ignores(&labels(&[("__name__", "metric")])));
        assert!(!spec.ignores(&labels(&[("__name__", "target_info")])));

        // A data matcher alone keeps the default metric.
        let spec = InfoSpec::new(Some(&[matcher(MatchOp::Regex, "data", ".*")])).unwrap();
        assert!(spec.ignores(&labels(&[("__name__", "target_info")])));
        assert!(!spec.drops_unmatched());
        assert!(spec.wants_label("data"));
        assert!(!spec.wants_label("other"));
    }

    #[test]
    fn fetch_matchers_cover_identifying_values() {
        let spec = InfoSpec::new(None).unwrap();
        let input = [
            SeriesMeta::new(labels(&[
                ("__name__", "m"),
                ("instance", "a.b"),
                ("job", "1"),
            ])),
            SeriesMeta::new(labels(&[("__name__", "m"), ("instance", "c")])),
            SeriesMeta::new(labels(&[("__name__", "target_info"), ("instance", "z")])),
        ];
        let matchers = spec.fetch_matchers(&input).unwrap().unwrap();
        let instance = matchers.iter().find(|m| m.name() == "instance").unwrap();
        assert!(instance.matches("a.b") && instance.matches("c"));
        assert!(!instance.matches("axb") && !instance.matches("z") && !instance.matches(""));
        let job = matchers.iter().find(|m| m.name() == "job").unwrap();
        assert!(job.matches("1") && job.matches(""));

        let bare = [SeriesMeta::new(labels(&[("__name__", "m")]))];
        assert_eq!(spec.fetch_matchers(&bare).unwrap(), None);
    }

    mod engine {
        use crate::promql::{Engine, StoreStorage, Value};
        use std::sync::Arc;
        use store_api::{Labels, MemoryStore};

        /// A series' label pairs and samples.
        type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

        fn storage(series: &[TestSeries<'_>]) -> StoreStorage<MemoryStore> {
            let store = MemoryStore::new(
                Labels::new(),
                series
                    .iter()
                    .map(|(l, s)| (Labels::from_pairs(l.iter().copied()), s.to_vec())),
            );
            StoreStorage::new(Arc::new(store))
        }

        fn run(
            storage: &StoreStorage<MemoryStore>,
            query: &str,
        ) -> Result<Vec<(String, f64)>, String> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_time()
                .build()
                .unwrap();
            let result = rt
                .block_on(Engine::default().instant_query(storage, query, 60_000))
                .map_err(|e| e.to_string())?;
            let Value::Vector(v) = result.value else {
                panic!("not a vector");
            };
            let mut out: Vec<(String, f64)> =
                v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(out)
        }

        #[test]
        fn info_composes_with_other_operators() {
            let s = storage(&[
                (
                    &[
                        ("__name__", "m"),
                        ("instance", "a"),
                        ("job", "j"),
                        ("x", "1"),
                    ],
                    &[(60_000, 1.0)],
                ),
                (
                    &[
                        ("__name__", "m"),
                        ("instance", "b"),
                        ("job", "j"),
                        ("x", "2"),
                    ],
                    &[(60_000, 2.0)],
                ),
                (
                    &[
                        ("__name__", "target_info"),
                        ("instance", "a"),
                        ("job", "j"),
                        ("env", "prod"),
                    ],
                    &[(0, 1.0)],
                ),
                (
                    &[
                        ("__name__", "target_info"),
                        ("instance", "b"),
                        ("job", "j"),
                        ("env", "dev"),
                    ],
                    &[(0, 1.0)],
                ),
            ]);
            assert_eq!(
                run(&s, "sum by (env) (info(m))").unwrap(),
                vec![
                    (r#"{env="dev"}"#.into(), 2.0),
                    (r#"{env="prod"}"#.into(), 1.0)
                ]
            );
            assert_eq!(
                run(&s, r#"info(m, {env="prod"}) * 10"#).unwrap(),
                vec![(r#"{env="prod", instance="a", job="j", x="1"}"#.into(), 10.0)]
            );
            // Without `instance` no info series shares the identifying labels.
            assert_eq!(
                run(&s, "info(sum without (instance) (m))").unwrap(),
                vec![
                    (r#"{job="j", x="1"}"#.into(), 1.0),
                    (r#"{job="j", x="2"}"#.into(), 2.0)
                ]
            );
        }

        #[test]
        fn duplicate_info_series_fail() {
            let s = storage(&[
                (
                    &[("__name__", "m"), ("instance", "a"), ("job", "j")],
                    &[(60_000, 1.0)],
                ),
                (
                    &[
                        ("__name__", "target_info"),
                        ("instance", "a"),
                        ("job", "j"),
                        ("v", "1"),
                    ],
                    &[(30_000, 1.0)],
                ),
                (
                    &[
                        ("__name__", "target_info"),
                        ("instance", "a"),
                        ("job", "j"),
                        ("v", "2"),
                    ],
                    &[(30_000, 1.0)],
                ),
            ]);
            let err = run(&s, "info(m)").unwrap_err();
            assert!(
                err.contains("found duplicate series for info metric"),
                "{err}"
            );
        }

        #[test]
        fn enriched_series_may_collide() {
            let s = storage(&[
                (
                    &[("__name__", "m"), ("instance", "a"), ("job", "j")],
                    &[(60_000, 1.0)],
                ),
                (
                    &[
                        ("__name__", "m"),
                        ("instance", "a"),
                        ("job", "j"),
                        ("v", "1"),
                    ],
                    &[(60_000, 2.0)],
                ),
                (
                    &[
                        ("__name__", "target_info"),
                        ("instance", "a"),
                        ("job", "j"),
                        ("v", "1"),
                    ],
                    &[(30_000, 1.0)],
                ),
            ]);
            let err = run(&s, "info(m)").unwrap_err();
            assert!(err.contains("same labelset"), "{err}");
        }
    }
}
