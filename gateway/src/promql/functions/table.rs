//! The function table: one entry per PromQL function, holding its name, its signature
//! (argument types, optional or repeated last argument, result type) and what implements it.
//! Adding a function is one entry here, plus its kernel (a variant of the family's enum in
//! `range`, `math` or `calendar`) or, for a [`SpecialFunction`], its planning in
//! `planner/` next to the family's other functions.
//!
//! The parser resolves a call to its entry once (`syntax::Call::function`); the type checks,
//! the printers, the logical plan and the planner read that entry and never look a name up
//! again. The table sits in the engine's bottom layer, with the kernels and [`ValueType`]: it
//! imports nothing of the parser, the plan or the executor, so all of them can import it.

use super::{CalendarFunction, ElementwiseFunction, RangeFunction};

/// The type of an expression's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Scalar,
    String,
    Vector,
    Matrix,
}

impl ValueType {
    /// As Prometheus names the type in messages.
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }

    /// As the API and the tree view name it.
    pub fn api_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
        }
    }
}

/// One PromQL function: what the parser checks a call against and what implements it.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
    pub name: &'static str,
    pub args: &'static [ValueType],
    /// 0: exactly `args`; n > 0: the last argument may be left out or repeated up to n times
    /// in all; -1: the last argument may be repeated any number of times.
    pub variadic: i8,
    pub returns: ValueType,
    pub kind: FunctionKind,
}

/// What implements a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    /// A kernel over one range-vector window: [`RangeFunction::eval`].
    Range(RangeFunction),
    /// A kernel over each float sample: [`ElementwiseFunction::apply`].
    Elementwise(ElementwiseFunction),
    /// A calendar field of each sample (or of the evaluation time): [`CalendarFunction`].
    Calendar(CalendarFunction),
    /// Implemented by the engine itself (helpers noted per variant).
    Special(SpecialFunction),
}

/// Functions the engine implements itself: they need labels, the whole vector, the query's
/// time range, or the AST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecialFunction {
    /// `time()`: the evaluation time in seconds.
    Time,
    /// `vector(s)`.
    Vector,
    /// `scalar(v)`: the single float sample's value, else NaN.
    Scalar,
    /// `timestamp(v)`: each sample's timestamp in seconds.
    Timestamp,
    /// `absent(v)`.
    Absent,
    /// `absent_over_time(m)`.
    AbsentOverTime,
    /// `sort(v)`: ascending, NaN last.
    Sort,
    /// `sort_desc(v)`: descending, NaN last.
    SortDesc,
    /// `sort_by_label(v, l...)`: natural sort order of the label values.
    SortByLabel,
    SortByLabelDesc,
    /// [`LabelReplace`](super::LabelReplace).
    LabelReplace,
    /// [`LabelJoin`](super::LabelJoin).
    LabelJoin,
    /// Classic buckets: `histogram::bucket_quantile`.
    HistogramQuantile,
    /// `histogram_quantiles(v, label, φ...)`: `bucket_quantile` per φ, the label value from
    /// `histogram::format_openmetrics_float`.
    HistogramQuantiles,
    /// Classic buckets: `histogram::bucket_fraction`.
    HistogramFraction,
    /// `histogram_avg`, `_count`, `_sum`, `_stddev`, `_stdvar`: native histograms only, so
    /// float samples give no output.
    HistogramAvg,
    HistogramCount,
    HistogramSum,
    HistogramStddev,
    HistogramStdvar,
    /// `info(v, selector?)`.
    Info,
    /// `pi()`: `std::f64::consts::PI` (= Go's math.Pi).
    Pi,
    /// `start()`, `end()`, `range()`, `step()`: the query's start, end, end - start and step in
    /// seconds (constants of the query).
    Start,
    End,
    QueryRange,
    Step,
    /// `min_of(a, b)`, `max_of(a, b)` on scalars: `math::go_min` / `math::go_max`.
    MinOf,
    MaxOf,
    /// `start_timestamp(v)`: needs sample start timestamps, which StoreAPI does not carry.
    StartTimestamp,
}

use CalendarFunction::*;
use ElementwiseFunction::*;
use FunctionKind::{Calendar as C, Elementwise as E, Range as R, Special as Sp};
use RangeFunction::*;
use SpecialFunction::*;
use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

const fn f(
    name: &'static str,
    args: &'static [ValueType],
    variadic: i8,
    returns: ValueType,
    kind: FunctionKind,
) -> Function {
    Function {
        name,
        args,
        variadic,
        returns,
        kind,
    }
}

/// Prometheus' `parser.Functions`, experimental ones included, in its (alphabetical) order.
static FUNCTIONS: &[Function] = &[
    f("abs", &[V], 0, V, E(Abs)),
    f("absent", &[V], 0, V, Sp(Absent)),
    f("absent_over_time", &[M], 0, V, Sp(AbsentOverTime)),
    f("acos", &[V], 0, V, E(Acos)),
    f("acosh", &[V], 0, V, E(Acosh)),
    f("asin", &[V], 0, V, E(Asin)),
    f("asinh", &[V], 0, V, E(Asinh)),
    f("atan", &[V], 0, V, E(Atan)),
    f("atanh", &[V], 0, V, E(Atanh)),
    f("avg_over_time", &[M], 0, V, R(AvgOverTime)),
    f("ceil", &[V], 0, V, E(Ceil)),
    f("changes", &[M], 0, V, R(Changes)),
    f("clamp", &[V, S, S], 0, V, E(Clamp)),
    f("clamp_max", &[V, S], 0, V, E(ClampMax)),
    f("clamp_min", &[V, S], 0, V, E(ClampMin)),
    f("cos", &[V], 0, V, E(Cos)),
    f("cosh", &[V], 0, V, E(Cosh)),
    f("count_over_time", &[M], 0, V, R(CountOverTime)),
    f("days_in_month", &[V], 1, V, C(DaysInMonth)),
    f("day_of_month", &[V], 1, V, C(DayOfMonth)),
    f("day_of_week", &[V], 1, V, C(DayOfWeek)),
    f("day_of_year", &[V], 1, V, C(DayOfYear)),
    f("deg", &[V], 0, V, E(Deg)),
    f("delta", &[M], 0, V, R(Delta)),
    f("deriv", &[M], 0, V, R(Deriv)),
    f("end", &[], 0, S, Sp(End)),
    f(
        "double_exponential_smoothing",
        &[M, S, S],
        0,
        V,
        R(DoubleExponentialSmoothing),
    ),
    f("exp", &[V], 0, V, E(Exp)),
    f("first_over_time", &[M], 0, V, R(FirstOverTime)),
    f("floor", &[V], 0, V, E(Floor)),
    f("histogram_avg", &[V], 0, V, Sp(HistogramAvg)),
    f("histogram_count", &[V], 0, V, Sp(HistogramCount)),
    f(
        "histogram_fraction",
        &[S, S, V],
        0,
        V,
        Sp(HistogramFraction),
    ),
    f("histogram_quantile", &[S, V], 0, V, Sp(HistogramQuantile)),
    f(
        "histogram_quantiles",
        &[V, Str, S, S],
        9,
        V,
        Sp(HistogramQuantiles),
    ),
    f("histogram_stddev", &[V], 0, V, Sp(HistogramStddev)),
    f("histogram_stdvar", &[V], 0, V, Sp(HistogramStdvar)),
    f("histogram_sum", &[V], 0, V, Sp(HistogramSum)),
    f("hour", &[V], 1, V, C(Hour)),
    f("idelta", &[M], 0, V, R(Idelta)),
    f("increase", &[M], 0, V, R(Increase)),
    f("info", &[V, V], 1, V, Sp(Info)),
    f("irate", &[M], 0, V, R(Irate)),
    f("label_join", &[V, Str, Str, Str], -1, V, Sp(LabelJoin)),
    f(
        "label_replace",
        &[V, Str, Str, Str, Str],
        0,
        V,
        Sp(LabelReplace),
    ),
    f("last_over_time", &[M], 0, V, R(LastOverTime)),
    f("ln", &[V], 0, V, E(Ln)),
    f("log10", &[V], 0, V, E(Log10)),
    f("log2", &[V], 0, V, E(Log2)),
    f("mad_over_time", &[M], 0, V, R(MadOverTime)),
    f("max_of", &[S, S], 0, S, Sp(MaxOf)),
    f("max_over_time", &[M], 0, V, R(MaxOverTime)),
    f("min_of", &[S, S], 0, S, Sp(MinOf)),
    f("min_over_time", &[M], 0, V, R(MinOverTime)),
    f("minute", &[V], 1, V, C(Minute)),
    f("month", &[V], 1, V, C(Month)),
    f("pi", &[], 0, S, Sp(Pi)),
    f("predict_linear", &[M, S], 0, V, R(PredictLinear)),
    f("present_over_time", &[M], 0, V, R(PresentOverTime)),
    f("quantile_over_time", &[S, M], 0, V, R(QuantileOverTime)),
    f("rad", &[V], 0, V, E(Rad)),
    f("range", &[], 0, S, Sp(QueryRange)),
    f("rate", &[M], 0, V, R(Rate)),
    f("resets", &[M], 0, V, R(Resets)),
    f("round", &[V, S], 1, V, E(Round)),
    f("scalar", &[V], 0, S, Sp(Scalar)),
    f("sgn", &[V], 0, V, E(Sgn)),
    f("sin", &[V], 0, V, E(Sin)),
    f("sinh", &[V], 0, V, E(Sinh)),
    f("sort", &[V], 0, V, Sp(Sort)),
    f("sort_by_label", &[V, Str], -1, V, Sp(SortByLabel)),
    f("sort_by_label_desc", &[V, Str], -1, V, Sp(SortByLabelDesc)),
    f("sort_desc", &[V], 0, V, Sp(SortDesc)),
    f("sqrt", &[V], 0, V, E(Sqrt)),
    f("start", &[], 0, S, Sp(Start)),
    f("start_timestamp", &[V], 0, V, Sp(StartTimestamp)),
    f("stddev_over_time", &[M], 0, V, R(StddevOverTime)),
    f("stdvar_over_time", &[M], 0, V, R(StdvarOverTime)),
    f("step", &[], 0, S, Sp(Step)),
    f("sum_over_time", &[M], 0, V, R(SumOverTime)),
    f("tan", &[V], 0, V, E(Tan)),
    f("tanh", &[V], 0, V, E(Tanh)),
    f("time", &[], 0, S, Sp(Time)),
    f("timestamp", &[V], 0, V, Sp(Timestamp)),
    f("ts_of_first_over_time", &[M], 0, V, R(TsOfFirstOverTime)),
    f("ts_of_last_over_time", &[M], 0, V, R(TsOfLastOverTime)),
    f("ts_of_max_over_time", &[M], 0, V, R(TsOfMaxOverTime)),
    f("ts_of_min_over_time", &[M], 0, V, R(TsOfMinOverTime)),
    f("vector", &[S], 0, V, Sp(Vector)),
    f("year", &[V], 1, V, C(Year)),
];

/// The function called `name` (case-sensitive, as in Prometheus).
pub fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Every known function.
pub fn all() -> &'static [Function] {
    FUNCTIONS
}
