//! Runs parsed scripts against an engine, with the two checks the Go harness adds to every
//! instant eval: the query re-run with `@ <t>` on its selectors at other times, and re-run as
//! a range query whose middle step must give the same answer.

use super::compare::{
    check_annotations, check_expected_failure, check_matrix_sorted, compare_result,
};
use super::parse::{Command, Eval, Load, Mode, Script, SeqValue, Window};
use super::start_timestamps::StartTimestamps;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use gateway::promql::syntax::{self as parser, At, Expr, ExprKind};
use gateway::promql::{
    Engine, EngineError, EngineOptions, InstantSample, QueryResult, Storage, StoreStorage, Value,
};
use regex::Regex;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use store_api::labels::METRIC_NAME;
use store_api::{Labels, MemoryStore};

/// One query may take this long before it counts as failed; a hung engine must not hang CI.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Functions whose result changes with the evaluation time even for step-invariant arguments:
/// the harness does not run the `@` re-runs of queries calling them.
/// `start()`, `end()`, `range()` and `step()` read the query's own range, which the re-run
/// changes.
const AT_UNSAFE_FUNCTIONS: [&str; 15] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
    "start",
    "end",
    "range",
    "step",
];

/// Queries that depend on the query's own range are not re-run as range queries.
static QUERY_CONTEXT_FUNCS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(start|end|range|step)\(\)").expect("valid pattern"));

/// The gateway's engine as Prometheus' own script runner configures its engine: with
/// delayed name removal, which the scripts assume.
pub fn script_engine() -> Engine {
    Engine::new(EngineOptions {
        delayed_name_removal: true,
        ..EngineOptions::default()
    })
}

/// The engine under test. Implemented for the gateway's engine and, in tests, for fakes.
pub trait QueryEngine {
    fn instant(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> impl Future<Output = Result<QueryResult, EngineError>>;

    fn range(
        &self,
        storage: &dyn Storage,
        query: &str,
        window: Window,
    ) -> impl Future<Output = Result<QueryResult, EngineError>>;
}

impl QueryEngine for Engine {
    fn instant(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> impl Future<Output = Result<QueryResult, EngineError>> {
        self.instant_query(storage, query, time_ms)
    }

    fn range(
        &self,
        storage: &dyn Storage,
        query: &str,
        window: Window,
    ) -> impl Future<Output = Result<QueryResult, EngineError>> {
        self.range_query(
            storage,
            query,
            window.start_ms,
            window.end_ms,
            window.step_ms,
        )
    }
}

impl<E: QueryEngine> QueryEngine for &E {
    fn instant(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> impl Future<Output = Result<QueryResult, EngineError>> {
        (**self).instant(storage, query, time_ms)
    }

    fn range(
        &self,
        storage: &dyn Storage,
        query: &str,
        window: Window,
    ) -> impl Future<Output = Result<QueryResult, EngineError>> {
        (**self).range(storage, query, window)
    }
}

/// Why an eval was not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// Native histograms in the loaded data or in the expected result: the store holds floats.
    NativeHistograms,
    /// The parser rejects a query the script expects to succeed.
    Unparseable,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::NativeHistograms => "native histograms",
            SkipReason::Unparseable => "experimental syntax the parser lacks",
        })
    }
}

/// Which check of an eval failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The eval as written.
    Query,
    /// The instant query with `@ <t>` added to its selectors, at another evaluation time.
    AtRerun,
    /// The instant query re-run as a range query around its time.
    RangeRerun,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Query => "query",
            Stage::AtRerun => "@ re-run",
            Stage::RangeRerun => "range re-run",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailKind {
    /// The engine returned an error (its message) where a result was expected.
    EngineError(String),
    Timeout,
    Panic(String),
    /// The eval expects an error, the engine answered.
    UnexpectedSuccess,
    /// The eval expects an error, the engine's error does not match.
    WrongError,
    WrongResult,
    Annotations,
}

impl fmt::Display for FailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailKind::EngineError(message) => write!(f, "engine error: {}", shorten(message)),
            FailKind::Timeout => f.write_str("timeout"),
            FailKind::Panic(message) => write!(f, "panic: {}", shorten(message)),
            FailKind::UnexpectedSuccess => f.write_str("expected an error, got a result"),
            FailKind::WrongError => f.write_str("wrong error"),
            FailKind::WrongResult => f.write_str("wrong result"),
            FailKind::Annotations => f.write_str("wrong annotations"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    pub kind: FailKind,
    /// The whole story: the query as run, the time, what differed.
    pub detail: String,
}

impl Failure {
    fn new(stage: Stage, kind: FailKind, detail: String) -> Self {
        Self {
            stage,
            kind,
            detail,
        }
    }

    /// The key failures are grouped by in reports: the stage and the kind, not the detail.
    pub fn group(&self) -> String {
        match self.stage {
            Stage::Query => self.kind.to_string(),
            stage => format!("{stage}: {}", self.kind),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            Stage::Query => f.write_str(&self.detail),
            stage => write!(f, "{stage}: {}", self.detail),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(Failure),
    Skipped(SkipReason),
}

/// Scripts whose native histograms matter only by their labels: `limitk` and `limit_ratio`
/// choose series by their labels and their place in the input, never by their values. Their
/// evals that expect no histogram run with each histogram series loaded as a float stand-in
/// (a NaN at each of its sample times), so the series sets the functions choose from are the
/// script's own.
const HISTOGRAMS_BY_LABELS: &[&str] = &["limit.test"];

fn histograms_by_labels(file: &str) -> bool {
    HISTOGRAMS_BY_LABELS.contains(&file)
}

/// What the survey of the corpus needs to know of one eval, without running it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalClass {
    /// The eval expects native histograms, or its query may read some by value.
    pub native_histograms: bool,
    /// The query may read native histograms, which its script reads only by their labels
    /// (`HISTOGRAMS_BY_LABELS`): they are loaded as float stand-ins.
    pub stand_ins: bool,
    /// The parser accepts the query.
    pub parses: bool,
}

impl EvalClass {
    fn of(eval: &Eval, histograms: &HistogramNames, by_labels: bool) -> Self {
        let expects = eval.result.uses_native_histograms();
        let reads = histograms.touched_by(&eval.query);
        Self {
            native_histograms: expects || (reads && !by_labels),
            stand_ins: reads && by_labels && !expects,
            parses: parser::parse(&eval.query).is_ok(),
        }
    }

    /// Float-only and parseable: the evals the engine is measured on.
    pub fn float_only_parseable(&self) -> bool {
        !self.native_histograms && self.parses
    }

    fn skip_reason(&self, eval: &Eval) -> Option<SkipReason> {
        if self.native_histograms {
            Some(SkipReason::NativeHistograms)
        } else if !self.parses && !eval.is_fail() {
            Some(SkipReason::Unparseable)
        } else {
            None
        }
    }
}

/// Metric names holding native histograms since the last `clear`: those loaded as
/// `{{...}}`, and with `load_with_nhcb` the histograms built from classic `_bucket`, `_count`
/// and `_sum` series (which stay loaded as floats too).
///
/// Whether a query reads them is judged from its text, by metric name, so that queries the
/// parser rejects are classified as well.
#[derive(Clone, Debug, Default)]
pub struct HistogramNames(HashSet<String>);

impl HistogramNames {
    fn load(&mut self, load: &Load) {
        for def in &load.series {
            let name = def.labels.get(METRIC_NAME).unwrap_or_default();
            if def.native_histogram {
                self.0.insert(name.to_owned());
            }
            if load.with_nhcb {
                let base = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix));
                self.0.extend(base.map(str::to_owned));
            }
        }
    }

    /// The query names one of them, or has a selector without a metric name (`{job="a"}`,
    /// `{__name__=~"..."}`) while there are some.
    pub fn touched_by(&self, query: &str) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
        let names_one = query
            .split(|c: char| !is_name_char(c))
            .any(|word| self.0.contains(word));
        let nameless_selector = query
            .char_indices()
            .any(|(i, c)| c == '{' && !query[..i].ends_with(is_name_char));
        names_one || nameless_selector
    }
}

/// Classifies every eval of a script, in order.
pub fn classify(script: &Script) -> Vec<EvalClass> {
    let by_labels = histograms_by_labels(&script.file);
    let mut histograms = HistogramNames::default();
    let mut classes = Vec::new();
    for command in &script.commands {
        match command {
            Command::Clear => histograms = HistogramNames::default(),
            Command::Load(load) => histograms.load(load),
            Command::Eval(eval) => classes.push(EvalClass::of(eval, &histograms, by_labels)),
        }
    }
    classes
}

#[derive(Clone, Debug)]
pub struct EvalReport {
    /// 1-based line of the `eval` command.
    pub line: usize,
    pub query: String,
    pub class: EvalClass,
    pub outcome: Outcome,
}

#[derive(Clone, Debug)]
pub struct FileReport {
    pub file: String,
    pub evals: Vec<EvalReport>,
}

impl FileReport {
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    pub fn float_only_parseable(&self) -> usize {
        self.evals
            .iter()
            .filter(|e| e.class.float_only_parseable())
            .count()
    }

    fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.evals.iter().filter(|e| pred(&e.outcome)).count()
    }

    /// Skip reasons with their counts.
    pub fn skip_reasons(&self) -> BTreeMap<SkipReason, usize> {
        let mut reasons = BTreeMap::new();
        for eval in &self.evals {
            if let Outcome::Skipped(reason) = eval.outcome {
                *reasons.entry(reason).or_default() += 1;
            }
        }
        reasons
    }

    /// Failure groups with their counts, most frequent first.
    pub fn failure_groups(&self) -> Vec<(String, usize)> {
        let mut groups: BTreeMap<String, usize> = BTreeMap::new();
        for failure in self.failures() {
            *groups.entry(failure.1.group()).or_default() += 1;
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        groups
    }

    pub fn failures(&self) -> impl Iterator<Item = (&EvalReport, &Failure)> {
        self.evals.iter().filter_map(|e| match &e.outcome {
            Outcome::Failed(failure) => Some((e, failure)),
            _ => None,
        })
    }
}

/// The series a script loaded: labels and (ms, value) samples.
pub type LoadedSeries = Vec<(Labels, Vec<(i64, f64)>)>;

/// Builds the storage the engine reads a script's data through: one in-memory store, or a
/// whole topology of gRPC endpoints (the global-view test).
pub trait StorageFactory: Sync {
    fn storage<'a>(&'a self, series: &'a LoadedSeries) -> BoxFuture<'a, Arc<dyn Storage>>;
}

/// The engine's own view: every series in one in-memory store.
pub struct SingleStore;

impl StorageFactory for SingleStore {
    fn storage<'a>(&'a self, series: &'a LoadedSeries) -> BoxFuture<'a, Arc<dyn Storage>> {
        let store = MemoryStore::new(Labels::new(), series.iter().cloned());
        let storage: Arc<dyn Storage> = Arc::new(StoreStorage::new(Arc::new(store)));
        Box::pin(std::future::ready(storage))
    }
}

/// The data loaded since the last `clear`, and a store over it built when an eval needs it.
#[derive(Default)]
struct Dataset {
    series: LoadedSeries,
    histograms: HistogramNames,
    start_timestamps: StartTimestamps,
    storage: Option<Arc<dyn Storage>>,
}

impl Dataset {
    /// Loads the float series, and with `stand_ins` the native histograms as floats.
    fn load(&mut self, load: &Load, stand_ins: bool) {
        self.histograms.load(load);
        self.start_timestamps.load(load);
        for def in load.series.iter() {
            let values = match def.native_histogram {
                false => &def.values,
                true if stand_ins => &def.histogram_stand_ins,
                true => continue,
            };
            let samples = values
                .iter()
                .enumerate()
                .filter_map(|(i, value)| match value {
                    SeqValue::Float(v) => Some((i as i64 * load.step_ms, *v)),
                    SeqValue::Omitted => None,
                })
                .collect();
            self.series.push((def.labels.clone(), samples));
        }
        self.storage = None;
    }

    async fn storage(&mut self, factory: &dyn StorageFactory) -> Arc<dyn Storage> {
        if let Some(storage) = &self.storage {
            return storage.clone();
        }
        let storage = self
            .start_timestamps
            .attach(factory.storage(&self.series).await);
        self.storage = Some(storage.clone());
        storage
    }
}

/// Why an engine call gave no result.
enum CallError {
    Engine(EngineError),
    Timeout,
    Panic(String),
}

impl CallError {
    fn into_failure(self, stage: Stage, context: &str) -> Failure {
        match self {
            CallError::Engine(err) => {
                let detail = format!("{context}: {err}");
                Failure::new(stage, FailKind::EngineError(err.to_string()), detail)
            }
            CallError::Timeout => Failure::new(stage, FailKind::Timeout, context.to_owned()),
            CallError::Panic(message) => {
                let detail = format!("{context}: {message}");
                Failure::new(stage, FailKind::Panic(message), detail)
            }
        }
    }
}

pub struct Runner<E> {
    engine: E,
    query_timeout: Duration,
    factory: Box<dyn StorageFactory>,
}

impl<E: QueryEngine> Runner<E> {
    pub fn new(engine: E) -> Self {
        Self {
            engine,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            factory: Box::new(SingleStore),
        }
    }

    /// Reads scripts' data through storages `factory` builds.
    pub fn with_storage(mut self, factory: impl StorageFactory + 'static) -> Self {
        self.factory = Box::new(factory);
        self
    }

    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Runs a script's commands in order. Needs a Tokio runtime with time enabled.
    pub async fn run(&self, script: &Script) -> FileReport {
        let by_labels = histograms_by_labels(&script.file);
        let mut data = Dataset::default();
        let mut evals = Vec::new();
        for command in &script.commands {
            match command {
                Command::Clear => data = Dataset::default(),
                Command::Load(load) => data.load(load, by_labels),
                Command::Eval(eval) => {
                    let class = EvalClass::of(eval, &data.histograms, by_labels);
                    let outcome = match class.skip_reason(eval) {
                        Some(reason) => Outcome::Skipped(reason),
                        None => self.outcome(eval, &mut data).await,
                    };
                    evals.push(EvalReport {
                        line: eval.line,
                        query: eval.query.clone(),
                        class,
                        outcome,
                    });
                }
            }
        }
        FileReport {
            file: script.file.clone(),
            evals,
        }
    }

    async fn outcome(&self, eval: &Eval, data: &mut Dataset) -> Outcome {
        let storage = data.storage(self.factory.as_ref()).await;
        match self.run_eval(eval, storage.as_ref()).await {
            Ok(()) => Outcome::Passed,
            Err(failure) => Outcome::Failed(failure),
        }
    }

    async fn run_eval(&self, eval: &Eval, storage: &dyn Storage) -> Result<(), Failure> {
        let Ok(expr) = parser::parse(&eval.query) else {
            return self.unparseable_eval(eval, storage).await;
        };
        match eval.effective_mode() {
            Mode::Range(window) => self.range_eval(eval, window, storage).await,
            Mode::Instant { at_ms } => {
                self.instant_check(eval, &eval.query, at_ms, Stage::Query, storage)
                    .await?;
                for (query, time_ms) in at_reruns(&expr, at_ms) {
                    self.instant_check(eval, &query, time_ms, Stage::AtRerun, storage)
                        .await?;
                }
                Ok(())
            }
        }
    }

    /// A query the parser rejects, in an eval that expects an error: any error passes (the
    /// message cannot be the harness' runtime one).
    async fn unparseable_eval(&self, eval: &Eval, storage: &dyn Storage) -> Result<(), Failure> {
        let (result, context) = match eval.effective_mode() {
            Mode::Range(window) => (
                self.range(storage, &eval.query, window).await,
                range_context(&eval.query, window),
            ),
            Mode::Instant { at_ms } => (
                self.instant(storage, &eval.query, at_ms).await,
                instant_context(&eval.query, at_ms),
            ),
        };
        match result {
            Ok(_) => Err(unexpected_success(Stage::Query, &context)),
            Err(CallError::Engine(_)) => Ok(()),
            Err(err) => Err(err.into_failure(Stage::Query, &context)),
        }
    }

    async fn range_eval(
        &self,
        eval: &Eval,
        window: Window,
        storage: &dyn Storage,
    ) -> Result<(), Failure> {
        let context = range_context(&eval.query, window);
        let result = self.range(storage, &eval.query, window).await;
        let Some(result) = expect_outcome(eval, result, Stage::Query, &context)? else {
            return Ok(());
        };
        check_result(eval, &eval.query, &result, Stage::Query, &context)
    }

    /// One instant query and, unless excluded, its range re-run.
    async fn instant_check(
        &self,
        eval: &Eval,
        query: &str,
        time_ms: i64,
        stage: Stage,
        storage: &dyn Storage,
    ) -> Result<(), Failure> {
        let context = instant_context(query, time_ms);
        let result = self.instant(storage, query, time_ms).await;
        let Some(result) = expect_outcome(eval, result, stage, &context)? else {
            return Ok(());
        };
        check_result(eval, query, &result, stage, &context)?;
        if eval.exclude_from_range_query || QUERY_CONTEXT_FUNCS.is_match(query) {
            return Ok(());
        }
        self.range_check(eval, query, time_ms, &result.value, storage)
            .await
    }

    /// The instant query as a range query from t-1m to t+1m: its middle step must match.
    async fn range_check(
        &self,
        eval: &Eval,
        query: &str,
        time_ms: i64,
        instant: &Value,
        storage: &dyn Storage,
    ) -> Result<(), Failure> {
        let window = Window {
            start_ms: time_ms - 60_000,
            end_ms: time_ms + 60_000,
            step_ms: 60_000,
        };
        let context = range_context(query, window);
        let result = self
            .range(storage, query, window)
            .await
            .map_err(|e| e.into_failure(Stage::RangeRerun, &context))?;
        // Range results are sorted by labels, so an expected order cannot be checked.
        if eval.is_ordered() {
            return Ok(());
        }
        let wrong = |detail: String| {
            Failure::new(
                Stage::RangeRerun,
                FailKind::WrongResult,
                format!("{context}: {detail}"),
            )
        };
        let Value::Matrix(matrix) = &result.value else {
            let kind = result.value.type_name();
            return Err(wrong(format!("returned a {kind}, not a matrix")));
        };
        check_matrix_sorted(matrix).map_err(wrong)?;
        let middle: Vec<InstantSample> = matrix
            .iter()
            .filter_map(|series| {
                let &(t, v) = series.points.iter().find(|(t, _)| *t == time_ms)?;
                Some(InstantSample {
                    labels: series.labels.clone(),
                    t,
                    v,
                })
            })
            .collect();
        let value = match instant {
            Value::Scalar { .. } => match middle.first() {
                Some(sample) => Value::Scalar {
                    t: time_ms,
                    v: sample.v,
                },
                None => return Err(wrong("no point at the middle step for a scalar".into())),
            },
            _ => Value::Vector(middle),
        };
        compare_result(eval, &value).map_err(wrong)
    }

    async fn instant(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, CallError> {
        self.guard(self.engine.instant(storage, query, time_ms))
            .await
    }

    async fn range(
        &self,
        storage: &dyn Storage,
        query: &str,
        window: Window,
    ) -> Result<QueryResult, CallError> {
        self.guard(self.engine.range(storage, query, window)).await
    }

    /// Turns a hang or a panic of one query into a failure of that eval alone.
    async fn guard(
        &self,
        call: impl Future<Output = Result<QueryResult, EngineError>>,
    ) -> Result<QueryResult, CallError> {
        match tokio::time::timeout(self.query_timeout, AssertUnwindSafe(call).catch_unwind()).await
        {
            Err(_) => Err(CallError::Timeout),
            Ok(Err(panic)) => Err(CallError::Panic(panic_message(panic.as_ref()))),
            Ok(Ok(result)) => result.map_err(CallError::Engine),
        }
    }
}

/// Settles evals that expect an error. Returns the result to check further, or `None` when
/// the eval is done (the expected error came).
fn expect_outcome(
    eval: &Eval,
    result: Result<QueryResult, CallError>,
    stage: Stage,
    context: &str,
) -> Result<Option<QueryResult>, Failure> {
    match result {
        Err(CallError::Engine(err)) if eval.is_fail() => {
            check_expected_failure(eval, &err.to_string())
                .map(|()| None)
                .map_err(|d| Failure::new(stage, FailKind::WrongError, format!("{context}: {d}")))
        }
        Err(err) => Err(err.into_failure(stage, context)),
        Ok(_) if eval.is_fail() => Err(unexpected_success(stage, context)),
        Ok(result) => Ok(Some(result)),
    }
}

fn check_result(
    eval: &Eval,
    query: &str,
    result: &QueryResult,
    stage: Stage,
    context: &str,
) -> Result<(), Failure> {
    check_annotations(eval, query, &result.warnings, &result.infos)
        .map_err(|d| Failure::new(stage, FailKind::Annotations, format!("{context}: {d}")))?;
    compare_result(eval, &result.value)
        .map_err(|d| Failure::new(stage, FailKind::WrongResult, format!("{context}: {d}")))
}

fn unexpected_success(stage: Stage, context: &str) -> Failure {
    Failure::new(
        stage,
        FailKind::UnexpectedSuccess,
        format!("{context}: expected an error but got none"),
    )
}

fn instant_context(query: &str, time_ms: i64) -> String {
    format!("`{query}` at {}", format_time(time_ms))
}

fn range_context(query: &str, window: Window) -> String {
    format!(
        "`{query}` from {} to {} step {}",
        format_time(window.start_ms),
        format_time(window.end_ms),
        format_time(window.step_ms)
    )
}

fn format_time(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn shorten(message: &str) -> String {
    const MAX: usize = 100;
    match message.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &message[..i]),
        None => message.to_owned(),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".into()
    }
}

/// The `@` re-runs of an instant query at `time_ms`: the query with `@ time_ms` on each
/// selector and subquery, at the times the harness picks. None for time-dependent queries.
pub fn at_reruns(expr: &Expr, time_ms: i64) -> Vec<(String, i64)> {
    let Some(query) = pin_at(expr, time_ms) else {
        return Vec::new();
    };
    let times = if time_ms == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * time_ms, 0, time_ms / 5, time_ms, 10 * time_ms]
    };
    times.into_iter().map(|t| (query.clone(), t)).collect()
}

/// Prints `expr` with `@ time_ms` on every selector and subquery outside subqueries that has
/// no fixed timestamp (`@ start()`/`@ end()` get one too, as in the harness). None when the
/// query calls a function whose result depends on the evaluation time.
pub fn pin_at(expr: &Expr, time_ms: i64) -> Option<String> {
    pinned_expr(expr, time_ms).map(|pinned| pinned.to_string())
}

/// The syntax tree [`pin_at`] prints.
pub fn pinned_expr(expr: &Expr, time_ms: i64) -> Option<Expr> {
    let mut pinned = expr.clone();
    let mut time_dependent = false;
    pin(&mut pinned, At::Time(time_ms), &mut time_dependent);
    (!time_dependent).then_some(pinned)
}

fn pin(expr: &mut Expr, at: At, time_dependent: &mut bool) {
    let set = |slot: &mut Option<At>| {
        if !matches!(slot, Some(At::Time(_))) {
            *slot = Some(at);
        }
    };
    match &mut expr.kind {
        ExprKind::Selector(vs) => set(&mut vs.modifiers.at),
        ExprKind::Matrix(ms) => set(&mut ms.selector.modifiers.at),
        // Inside a subquery everything is relative to the subquery's own (now fixed) time,
        // and the harness looks no further: neither at selectors nor at functions.
        ExprKind::Subquery(sq) => set(&mut sq.modifiers.at),
        ExprKind::Call(call) => {
            *time_dependent |= AT_UNSAFE_FUNCTIONS.contains(&call.function.name);
            for arg in &mut call.args {
                pin(arg, at, time_dependent);
            }
        }
        ExprKind::Aggregate(agg) => {
            pin(&mut agg.expr, at, time_dependent);
            if let Some(param) = &mut agg.param {
                pin(param, at, time_dependent);
            }
        }
        ExprKind::Binary(binary) => {
            pin(&mut binary.lhs, at, time_dependent);
            pin(&mut binary.rhs, at, time_dependent);
        }
        ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => pin(expr, at, time_dependent),
        ExprKind::Number(_) | ExprKind::String(_) => {}
    }
}

/// Runs many scripts on `threads` threads sharing one multi-thread runtime; reports come back
/// in the scripts' order. Every thread drives its own script with `block_on`, so the engine's
/// futures need not be `Send`.
pub fn run_all<E: QueryEngine + Sync>(
    runner: &Runner<E>,
    scripts: &[Script],
    threads: usize,
) -> std::io::Result<Vec<FileReport>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let next = AtomicUsize::new(0);
    let reports = Mutex::new(Vec::with_capacity(scripts.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, scripts.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(script) = scripts.get(index) else {
                        break;
                    };
                    let report = runtime.block_on(runner.run(script));
                    if let Ok(mut reports) = reports.lock() {
                        reports.push((index, report));
                    }
                }
            });
        }
    });
    let mut reports = reports
        .into_inner()
        .map_err(|_| std::io::Error::other("a runner thread panicked"))?;
    reports.sort_by_key(|(index, _)| *index);
    Ok(reports.into_iter().map(|(_, report)| report).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promqltest::parse::parse_script;
    use gateway::promql::{RangeSeries, SelectRequest};
    use std::sync::Mutex;
    use store_api::{MatchOp, Matcher};

    /// A fake engine: answers `foo` and `foo @ <t>` from storage (the last sample in the 5m
    /// before t), other queries from a canned table, and records every call.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<String>>,
        canned: Vec<(&'static str, Result<Value, EngineError>)>,
        /// Replaces every range query's answer.
        range_value: Option<Value>,
        warnings: Vec<String>,
    }

    impl Fake {
        async fn answer(
            &self,
            storage: &dyn Storage,
            query: &str,
            t: i64,
        ) -> Result<Value, EngineError> {
            let pinned = |q: &str| query.strip_prefix(q).is_some_and(|r| r.starts_with(" @ "));
            if let Some((_, canned)) = self.canned.iter().find(|(q, _)| *q == query || pinned(q)) {
                return canned.clone();
            }
            let t = match query.strip_prefix("foo @ ") {
                Some(seconds) => (seconds.parse::<f64>().unwrap() * 1000.0) as i64,
                None if query == "foo" => t,
                None => return Err(EngineError::Execution("the fake cannot answer".into())),
            };
            let request = SelectRequest {
                matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "foo").unwrap()],
                min_time: t - 300_000,
                max_time: t,
                max_samples: usize::MAX,
                max_series: usize::MAX,
            };
            let selected = storage.select(request).await?;
            Ok(Value::Vector(
                selected
                    .series
                    .into_iter()
                    .filter_map(|s| {
                        let v = *s.values.last()?;
                        Some(InstantSample {
                            labels: s.labels,
                            t,
                            v,
                        })
                    })
                    .collect(),
            ))
        }

        fn result(&self, value: Value) -> QueryResult {
            QueryResult {
                value,
                warnings: self.warnings.clone(),
                infos: vec![],
                phases: Default::default(),
                samples: Default::default(),
            }
        }
    }

    impl QueryEngine for Fake {
        async fn instant(
            &self,
            storage: &dyn Storage,
            query: &str,
            time_ms: i64,
        ) -> Result<QueryResult, EngineError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("instant {query} @{time_ms}"));
            Ok(self.result(self.answer(storage, query, time_ms).await?))
        }

        async fn range(
            &self,
            storage: &dyn Storage,
            query: &str,
            window: Window,
        ) -> Result<QueryResult, EngineError> {
            self.calls.lock().unwrap().push(format!(
                "range {query} {}..{}/{}",
                window.start_ms, window.end_ms, window.step_ms
            ));
            if let Some(value) = &self.range_value {
                return Ok(self.result(value.clone()));
            }
            let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
            let mut t = window.start_ms;
            while t <= window.end_ms {
                match self.answer(storage, query, t).await? {
                    Value::Vector(samples) => {
                        for s in samples {
                            series.entry(s.labels).or_default().push((t, s.v));
                        }
                    }
                    Value::Scalar { v, .. } => {
                        series.entry(Labels::new()).or_default().push((t, v))
                    }
                    other => return Ok(self.result(other)),
                }
                t += window.step_ms;
            }
            let matrix = series
                .into_iter()
                .map(|(labels, points)| RangeSeries { labels, points })
                .collect();
            Ok(self.result(Value::Matrix(matrix)))
        }
    }

    fn run(fake: &Fake, text: &str) -> FileReport {
        let script = parse_script("t.test", text).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(Runner::new(fake).run(&script))
    }

    fn parse(query: &str) -> Expr {
        parser::parse(query).unwrap()
    }

    #[test]
    fn pins_selectors_outside_subqueries() {
        let pinned = |q: &str| pin_at(&parse(q), 50_000).unwrap();
        assert_eq!(pinned("foo"), "foo @ 50.000");
        assert_eq!(
            pinned("rate(foo[5m] offset 1m)"),
            "rate(foo[5m] @ 50.000 offset 1m)"
        );
        assert_eq!(
            pinned("foo @ 10 + bar @ start()"),
            "foo @ 10.000 + bar @ 50.000"
        );
        assert_eq!(
            pinned("max_over_time(rate(foo[1m])[5m:1m])"),
            "max_over_time(rate(foo[1m])[5m:1m] @ 50.000)"
        );
        assert_eq!(
            pinned("topk(scalar(bar), foo)"),
            "topk(scalar(bar @ 50.000), foo @ 50.000)"
        );
        assert_eq!(pin_at(&parse("time() - foo"), 50_000), None);
        assert_eq!(pin_at(&parse("timestamp(foo)"), 50_000), None);
        // The harness does not look inside subqueries for time-dependent functions either.
        assert!(pin_at(&parse("max_over_time(vector(time())[5m:1m])"), 50_000).is_some());
    }

    #[test]
    fn rerun_times_follow_the_harness() {
        let times = |t| {
            at_reruns(&parse("foo"), t)
                .into_iter()
                .map(|(_, t)| t)
                .collect::<Vec<_>>()
        };
        assert_eq!(times(0), [-1000, 0, 1000]);
        assert_eq!(times(100_000), [-1_000_000, 0, 20_000, 100_000, 1_000_000]);
    }

    #[test]
    fn instant_evals_get_at_and_range_reruns() {
        let fake = Fake::default();
        let report = run(
            &fake,
            "load 1m\n  foo 1 2 3\n\neval instant at 2m foo\n  foo 3\n",
        );
        assert_eq!(report.evals[0].outcome, Outcome::Passed);
        let calls = fake.calls.lock().unwrap();
        assert_eq!(calls.len(), 12, "{calls:#?}");
        assert_eq!(calls[0], "instant foo @120000");
        assert_eq!(calls[1], "range foo 60000..180000/60000");
        assert_eq!(calls[2], "instant foo @ 120.000 @-1200000");
        assert_eq!(calls[3], "range foo @ 120.000 -1260000..-1140000/60000");
    }

    #[test]
    fn wrong_at_rerun_is_reported() {
        let wrong = InstantSample {
            labels: Labels::from_pairs([("__name__", "foo")]),
            t: 0,
            v: 99.0,
        };
        let fake = Fake {
            canned: vec![("foo @ 120.000", Ok(Value::Vector(vec![wrong])))],
            ..Default::default()
        };
        let report = run(
            &fake,
            "load 1m\n  foo 1+1x10\n\neval instant at 2m foo\n  foo 3\n",
        );
        let Outcome::Failed(failure) = &report.evals[0].outcome else {
            panic!("expected a failure, got {:?}", report.evals[0].outcome);
        };
        assert_eq!(failure.stage, Stage::AtRerun);
        assert_eq!(failure.group(), "@ re-run: wrong result");
    }

    #[test]
    fn range_rerun_mismatch_is_reported() {
        let fake = Fake {
            canned: vec![(
                "vector(1)",
                Ok(Value::Vector(vec![InstantSample {
                    labels: Labels::new(),
                    t: 0,
                    v: 1.0,
                }])),
            )],
            range_value: Some(Value::Matrix(vec![RangeSeries {
                labels: Labels::new(),
                points: vec![(-60_000, 1.0), (0, 2.0), (60_000, 1.0)],
            }])),
            ..Default::default()
        };
        let report = run(&fake, "eval instant at 0 vector(1)\n  {} 1\n");
        let Outcome::Failed(failure) = &report.evals[0].outcome else {
            panic!("expected a failure");
        };
        assert_eq!(failure.stage, Stage::RangeRerun);
    }

    #[test]
    fn expected_errors_and_skips() {
        let fake = Fake {
            canned: vec![
                ("bad", Err(EngineError::Execution("boom".into()))),
                ("sum(", Err(EngineError::Parse("unexpected end".into()))),
            ],
            ..Default::default()
        };
        let text = "eval instant at 0 bad\n  expect fail msg: boom\n\n\
                    eval instant at 0 bad\n  expect fail msg: other\n\n\
                    eval instant at 0 bad\n  {} 1\n\n\
                    eval_fail instant at 0 sum(\n\n\
                    eval instant at 0 sum(\n\n\
                    load 1m\n  h {{schema:0 sum:1 count:1}}\n\n\
                    eval instant at 0 sum(h)\n\n\
                    clear\n\
                    eval instant at 0 h\n";
        let report = run(&fake, text);
        let outcomes: Vec<_> = report.evals.iter().map(|e| &e.outcome).collect();
        assert_eq!(outcomes[0], &Outcome::Passed);
        assert!(matches!(outcomes[1], Outcome::Failed(f) if f.kind == FailKind::WrongError));
        assert!(matches!(outcomes[2], Outcome::Failed(f) if f.group() == "engine error: boom"));
        assert_eq!(
            outcomes[3],
            &Outcome::Passed,
            "unparseable, fails as expected"
        );
        assert_eq!(outcomes[4], &Outcome::Skipped(SkipReason::Unparseable));
        assert_eq!(outcomes[5], &Outcome::Skipped(SkipReason::NativeHistograms));
        assert!(
            matches!(outcomes[6], Outcome::Failed(_)),
            "clear forgets the histograms"
        );
        assert_eq!(
            (report.passed(), report.failed(), report.skipped()),
            (2, 3, 2)
        );
        assert_eq!(report.float_only_parseable(), 4);
    }

    #[test]
    fn annotations_are_checked_on_every_instant_run() {
        let fake = Fake {
            warnings: vec!["PromQL warning: careful".into()],
            ..Default::default()
        };
        let text = "load 1m\n  foo 1\n\n\
                    eval instant at 0 foo\n  expect warn regex: careful\n  foo 1\n\n\
                    eval instant at 0 foo\n  expect no_warn\n  foo 1\n";
        let report = run(&fake, text);
        assert_eq!(report.evals[0].outcome, Outcome::Passed);
        assert!(
            matches!(&report.evals[1].outcome, Outcome::Failed(f) if f.kind == FailKind::Annotations)
        );
    }

    #[test]
    fn classifies_by_histogram_names_until_clear() {
        let script = parse_script(
            "t.test",
            "load_with_nhcb 1m\n  req_bucket{le=\"1\"} 1\n  h {{schema:0 sum:1 count:1}}\n  f 1\n\n\
             eval instant at 0 histogram_quantile(0.5, req_bucket)\n\n\
             eval instant at 0 histogram_count(req)\n\n\
             eval instant at 0 sum(h) + f\n\n\
             eval instant at 0 f\n\n\
             eval instant at 0 sum({__name__=~\"f|g\"})\n\n\
             clear\n\
             eval instant at 0 h\n  h {{schema:0 sum:1 count:1}}\n\n\
             eval instant at 0 h[\n\n\
             eval instant at 0 {job=\"a\"}\n",
        )
        .unwrap();
        let native: Vec<bool> = classify(&script)
            .iter()
            .map(|c| c.native_histograms)
            .collect();
        assert_eq!(native, [false, true, true, false, true, true, false, false]);
        assert!(!classify(&script)[6].parses);
    }
}
