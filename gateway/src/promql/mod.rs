//! The PromQL engine: parse (`syntax`) → logical plan (+ optimizers) → physical
//! operators exchanging batches of steps → a `QueryResult`.

pub mod benchmark_queries;
pub mod error;
mod exec;
pub mod functions;
mod kahan;
mod logical;
pub mod operators;
mod options;
mod planner;
mod read;
mod result;
pub mod storage;
pub mod syntax;
pub mod value;

pub use error::EngineError;
pub use logical::PlanNode;
pub use options::EngineOptions;
pub use storage::{SelectRequest, SelectResult, SeriesSamples, Storage, StoreStorage};
pub use value::{InstantSample, Phases, QueryResult, RangeSeries, SampleSummary, Value};

use exec::{QueryContext, RangeSource, Steps, evaluate_matrix};
use functions::ValueType;
use logical::Expr;
use planner::Planner;
use read::ReadServer;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// A range query may have this many steps after its first (11,001 points), as in Prometheus.
const MAX_STEPS: i64 = 11_000;

#[derive(Clone, Debug, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Self { options }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at one instant (milliseconds), within the query timeout.
    pub async fn instant_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, EngineError> {
        self.within_timeout(self.instant(storage, query, time_ms))
            .await
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` inclusive, within the query
    /// timeout.
    pub async fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, EngineError> {
        self.within_timeout(self.range(storage, query, start_ms, end_ms, step_ms))
            .await
    }

    /// The timeout bounds the whole query, waiting on storage included (the evaluation checks
    /// it between batches too); a query cut here is dropped, which cancels its evaluation.
    async fn within_timeout(
        &self,
        query: impl Future<Output = Result<QueryResult, EngineError>>,
    ) -> Result<QueryResult, EngineError> {
        tokio::time::timeout(self.options.timeout, query)
            .await
            .unwrap_or_else(|_| Err(EngineError::Timeout("query execution".into())))
    }

    async fn instant(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, EngineError> {
        let mut clock = PhaseClock::start();
        let expr = tracing::info_span!("parse").in_scope(|| self.plan(query, 0, 0))?;
        clock.parsed();
        let (reader, mut reads) = read::channel();
        let ctx = QueryContext::new(
            Arc::new(self.options.clone()),
            time_ms,
            time_ms,
            None,
            reader,
        );
        let job_ctx = ctx.clone();
        let value = on_evaluation_thread(&ctx, storage, &mut reads, move || {
            instant_value(&job_ctx, &expr, time_ms)
        })
        .await?;
        Ok(self.finish(value, reads, &ctx, clock))
    }

    async fn range(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, EngineError> {
        if let Some(refused) = RangeRefusal::of(start_ms, end_ms, step_ms) {
            return Err(EngineError::BadData(refused.message.into()));
        }
        let steps = Steps {
            start: start_ms,
            end: end_ms,
            step: step_ms,
        };
        let mut clock = PhaseClock::start();
        let expr = tracing::info_span!("parse")
            .in_scope(|| self.plan(query, step_ms, end_ms.saturating_sub(start_ms)))?;
        clock.parsed();
        match expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                return Err(EngineError::BadData(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    match other {
                        ValueType::Matrix => "range vector",
                        _ => "string",
                    }
                )));
            }
        }
        let (reader, mut reads) = read::channel();
        let ctx = QueryContext::new(
            Arc::new(self.options.clone()),
            start_ms,
            end_ms,
            Some(step_ms),
            reader,
        );
        let job_ctx = ctx.clone();
        let value = on_evaluation_thread(&ctx, storage, &mut reads, move || {
            let op = Planner::new(job_ctx.clone()).build(&expr, steps)?;
            let matrix = evaluate_matrix(&job_ctx, op)?;
            Ok(Value::Matrix(result::range_matrix(matrix)?))
        })
        .await?;
        Ok(self.finish(value, reads, &ctx, clock))
    }

    /// Parses and plans `query` for a query of `range_ms` evaluated every `step_ms` (both 0
    /// for an instant query: what `step()` and `range()` are in durations).
    fn plan(&self, query: &str, step_ms: i64, range_ms: i64) -> Result<Expr, EngineError> {
        Ok(logical::optimize(self.convert(query, step_ms, range_ms)?))
    }

    fn convert(&self, query: &str, step_ms: i64, range_ms: i64) -> Result<Expr, EngineError> {
        let ast = syntax::parse(query).map_err(|e| EngineError::Parse(e.to_string()))?;
        let shape = logical::QueryShape {
            step_ms,
            range_ms,
            default_subquery_step_ms: self.options.default_subquery_step_ms,
        };
        logical::Converter::new(query, shape).convert(&ast)
    }

    /// The plan `query` would run with (as [`Engine::plan`] makes it), and which optimizer
    /// rules changed it.
    pub fn explain(
        &self,
        query: &str,
        step_ms: i64,
        range_ms: i64,
    ) -> Result<Explanation, EngineError> {
        let (expr, optimizers) = logical::explain(self.convert(query, step_ms, range_ms)?);
        Ok(Explanation {
            plan: logical::describe(&expr),
            optimizers,
        })
    }

    fn finish(
        &self,
        value: Value,
        reads: ReadServer,
        ctx: &QueryContext,
        clock: PhaseClock,
    ) -> QueryResult {
        let mut warnings = reads.warnings;
        let annotations = ctx.take_annotations();
        warnings.extend(annotations.warnings);
        QueryResult {
            value,
            warnings,
            infos: annotations.infos,
            phases: clock.evaluated(reads.busy),
            samples: ctx.stats.summary(),
        }
    }
}

/// An instant query's value: planned and evaluated on the evaluation thread.
fn instant_value(ctx: &QueryContext, expr: &Expr, time_ms: i64) -> Result<Value, EngineError> {
    let planner = Planner::new(ctx.clone());
    let steps = Steps::instant(time_ms);
    Ok(match expr {
        Expr::String(s) => Value::String {
            t: time_ms,
            s: s.clone(),
        },
        Expr::Matrix { selector, range_ms } => {
            let source = planner
                .range_input(selector, *range_ms, steps)
                .resolve(ctx)?;
            let points = window_points(source, time_ms);
            let read = points.iter().map(|s| s.points.len() as u64).sum();
            ctx.count_read(time_ms, read);
            Value::Matrix(points)
        }
        Expr::Subquery { .. } => {
            // Its inner evaluation is the query's: its samples count (in the total).
            let source = planner
                .subquery_input(expr, steps, ctx.clone())?
                .resolve(ctx)?;
            Value::Matrix(window_points(source, time_ms))
        }
        _ => {
            let matrix = evaluate_matrix(ctx, planner.build(expr, steps)?)?;
            if expr.value_type() == ValueType::Scalar {
                Value::Scalar {
                    t: time_ms,
                    v: matrix
                        .values
                        .first()
                        .and_then(|v| v.first())
                        .copied()
                        .unwrap_or(f64::NAN),
                }
            } else {
                Value::Vector(result::instant_vector(&matrix, time_ms)?)
            }
        }
    })
}

/// A query's plan as `/api/v1/query_explain` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub plan: PlanNode,
    /// Each optimizer rule, in the order they ran, and whether it changed the plan.
    pub optimizers: Vec<(&'static str, bool)>,
}

/// Why a range query's start, end and step are refused, in Prometheus' words: one check for
/// the engine and the HTTP API (which names the parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeRefusal {
    /// The parameter at fault, where one is.
    pub param: Option<&'static str>,
    pub message: &'static str,
}

impl RangeRefusal {
    pub fn of(start_ms: i64, end_ms: i64, step_ms: i64) -> Option<Self> {
        Self::times(start_ms, end_ms).or_else(|| Self::steps(start_ms, end_ms, step_ms))
    }

    /// The start and end alone (checked before the step is read, as Prometheus does).
    pub fn times(start_ms: i64, end_ms: i64) -> Option<Self> {
        (end_ms < start_ms).then_some(Self {
            param: Some("end"),
            message: "end timestamp must not be before start time",
        })
    }

    /// The step, for times that passed [`RangeRefusal::times`].
    pub fn steps(start_ms: i64, end_ms: i64, step_ms: i64) -> Option<Self> {
        let refusal = |param, message| Some(Self { param, message });
        if step_ms <= 0 {
            return refusal(
                Some("step"),
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            );
        }
        if (i128::from(end_ms) - i128::from(start_ms)) / i128::from(step_ms) > i128::from(MAX_STEPS)
        {
            return refusal(
                None,
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            );
        }
        None
    }
}

/// Times the phases of one query as it passes from one to the next.
struct PhaseClock {
    mark: std::time::Instant,
    phases: Phases,
}

impl PhaseClock {
    fn start() -> Self {
        Self {
            mark: std::time::Instant::now(),
            phases: Phases::default(),
        }
    }

    fn lap(&mut self) -> std::time::Duration {
        let now = std::time::Instant::now();
        let took = now.saturating_duration_since(self.mark);
        self.mark = now;
        took
    }

    fn parsed(&mut self) {
        self.phases.parse = self.lap();
    }

    /// Evaluation ended, `reading` of it spent waiting on storage.
    fn evaluated(mut self, reading: Duration) -> Phases {
        let evaluation = self.lap();
        self.phases.fetch = reading;
        self.phases.eval = evaluation.saturating_sub(reading);
        self.phases
    }
}

/// Plans and evaluates on a blocking thread (CPU work that must not stall the async runtime),
/// serving the operators' reads from `storage` meanwhile. If the caller goes away (the request
/// future is dropped), the query is canceled at its next check or read.
async fn on_evaluation_thread<T: Send + 'static>(
    ctx: &QueryContext,
    storage: &dyn Storage,
    reads: &mut ReadServer,
    job: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, EngineError> {
    struct CancelOnDrop<'a> {
        ctx: &'a QueryContext,
        finished: bool,
    }
    impl Drop for CancelOnDrop<'_> {
        fn drop(&mut self) {
            if !self.finished {
                self.ctx.cancel();
            }
        }
    }
    let mut guard = CancelOnDrop {
        ctx,
        finished: false,
    };
    let evaluation = tokio::task::spawn_blocking(job);
    let result = reads
        .serve_until(storage, evaluation)
        .instrument(tracing::info_span!("eval"))
        .await
        .map_err(|e| EngineError::Execution(format!("query evaluation failed: {e}")));
    guard.finished = true;
    result?
}

/// The raw points of an instant query of a range vector: each series' samples in the window.
fn window_points(source: RangeSource, time_ms: i64) -> Vec<RangeSeries> {
    let end = source.time.at(time_ms);
    let start = end.saturating_sub(source.range_ms);
    let mut out: Vec<RangeSeries> = source
        .series
        .into_iter()
        .zip(source.timestamps.into_iter().zip(source.values))
        .filter_map(|(meta, (ts, vs))| {
            let points: Vec<(i64, f64)> = ts
                .into_iter()
                .zip(vs)
                .filter(|(t, _)| *t > start && *t <= end)
                .collect();
            (!points.is_empty()).then(|| RangeSeries {
                labels: meta.final_labels(),
                points,
            })
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}
