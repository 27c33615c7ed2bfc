//! PromQL's functions: the name table and the numeric kernels the engine's operators call, with
//! Prometheus 3.x float semantics. One family per file: `range` (range-vector functions),
//! `math` (element-wise), `calendar`, `quantile`, `histogram` (classic buckets), `labels`,
//! `annotations` (warning/info texts).

pub mod annotations;
pub mod calendar;
pub mod format;
pub mod histogram;
pub mod labels;
pub mod math;
pub mod quantile;
pub mod range;

pub use annotations::{Annotations, Position};
pub use calendar::CalendarFunction;
pub use histogram::{Bucket, BucketQuantile, ForcedMonotonicity, QuantileSite};
pub use labels::{LabelJoin, LabelReplace};
pub use math::ElementwiseFunction;
pub use quantile::quantile;
pub use range::{RangeFunction, Window};

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
    /// [`LabelReplace`].
    LabelReplace,
    /// [`LabelJoin`].
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

/// The implementation of the function called `name`.
pub fn lookup(name: &str) -> Option<FunctionKind> {
    use CalendarFunction as C;
    use ElementwiseFunction as E;
    use FunctionKind::{Calendar, Elementwise, Range, Special};
    use RangeFunction as R;
    use SpecialFunction as S;
    Some(match name {
        "rate" => Range(R::Rate),
        "increase" => Range(R::Increase),
        "delta" => Range(R::Delta),
        "irate" => Range(R::Irate),
        "idelta" => Range(R::Idelta),
        "deriv" => Range(R::Deriv),
        "predict_linear" => Range(R::PredictLinear),
        "resets" => Range(R::Resets),
        "changes" => Range(R::Changes),
        "avg_over_time" => Range(R::AvgOverTime),
        "sum_over_time" => Range(R::SumOverTime),
        "count_over_time" => Range(R::CountOverTime),
        "min_over_time" => Range(R::MinOverTime),
        "max_over_time" => Range(R::MaxOverTime),
        "stddev_over_time" => Range(R::StddevOverTime),
        "stdvar_over_time" => Range(R::StdvarOverTime),
        "quantile_over_time" => Range(R::QuantileOverTime),
        "last_over_time" => Range(R::LastOverTime),
        "first_over_time" => Range(R::FirstOverTime),
        "present_over_time" => Range(R::PresentOverTime),
        "mad_over_time" => Range(R::MadOverTime),
        "ts_of_min_over_time" => Range(R::TsOfMinOverTime),
        "ts_of_max_over_time" => Range(R::TsOfMaxOverTime),
        "ts_of_last_over_time" => Range(R::TsOfLastOverTime),
        "ts_of_first_over_time" => Range(R::TsOfFirstOverTime),
        "double_exponential_smoothing" => Range(R::DoubleExponentialSmoothing),
        "abs" => Elementwise(E::Abs),
        "ceil" => Elementwise(E::Ceil),
        "floor" => Elementwise(E::Floor),
        "exp" => Elementwise(E::Exp),
        "sqrt" => Elementwise(E::Sqrt),
        "ln" => Elementwise(E::Ln),
        "log2" => Elementwise(E::Log2),
        "log10" => Elementwise(E::Log10),
        "sgn" => Elementwise(E::Sgn),
        "round" => Elementwise(E::Round),
        "clamp" => Elementwise(E::Clamp),
        "clamp_min" => Elementwise(E::ClampMin),
        "clamp_max" => Elementwise(E::ClampMax),
        "sin" => Elementwise(E::Sin),
        "cos" => Elementwise(E::Cos),
        "tan" => Elementwise(E::Tan),
        "asin" => Elementwise(E::Asin),
        "acos" => Elementwise(E::Acos),
        "atan" => Elementwise(E::Atan),
        "sinh" => Elementwise(E::Sinh),
        "cosh" => Elementwise(E::Cosh),
        "tanh" => Elementwise(E::Tanh),
        "asinh" => Elementwise(E::Asinh),
        "acosh" => Elementwise(E::Acosh),
        "atanh" => Elementwise(E::Atanh),
        "deg" => Elementwise(E::Deg),
        "rad" => Elementwise(E::Rad),
        "day_of_month" => Calendar(C::DayOfMonth),
        "day_of_week" => Calendar(C::DayOfWeek),
        "day_of_year" => Calendar(C::DayOfYear),
        "days_in_month" => Calendar(C::DaysInMonth),
        "hour" => Calendar(C::Hour),
        "minute" => Calendar(C::Minute),
        "month" => Calendar(C::Month),
        "year" => Calendar(C::Year),
        "time" => Special(S::Time),
        "vector" => Special(S::Vector),
        "scalar" => Special(S::Scalar),
        "timestamp" => Special(S::Timestamp),
        "absent" => Special(S::Absent),
        "absent_over_time" => Special(S::AbsentOverTime),
        "sort" => Special(S::Sort),
        "sort_desc" => Special(S::SortDesc),
        "sort_by_label" => Special(S::SortByLabel),
        "sort_by_label_desc" => Special(S::SortByLabelDesc),
        "label_replace" => Special(S::LabelReplace),
        "label_join" => Special(S::LabelJoin),
        "histogram_quantile" => Special(S::HistogramQuantile),
        "histogram_quantiles" => Special(S::HistogramQuantiles),
        "histogram_fraction" => Special(S::HistogramFraction),
        "histogram_avg" => Special(S::HistogramAvg),
        "histogram_count" => Special(S::HistogramCount),
        "histogram_sum" => Special(S::HistogramSum),
        "histogram_stddev" => Special(S::HistogramStddev),
        "histogram_stdvar" => Special(S::HistogramStdvar),
        "info" => Special(S::Info),
        "pi" => Special(S::Pi),
        "start" => Special(S::Start),
        "end" => Special(S::End),
        "range" => Special(S::QueryRange),
        "step" => Special(S::Step),
        "min_of" => Special(S::MinOf),
        "max_of" => Special(S::MaxOf),
        "start_timestamp" => Special(S::StartTimestamp),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
