//! Query results as Prometheus' API returns them: scalar, string, instant vector, range matrix.

use store_api::Labels;

/// One series of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    /// Milliseconds.
    pub t: i64,
    pub v: f64,
}

/// One series of a matrix: points sorted by time.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    /// (milliseconds, value), strictly increasing in time.
    pub points: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar {
        t: i64,
        v: f64,
    },
    String {
        t: i64,
        s: String,
    },
    Vector(Vec<InstantSample>),
    /// The result of a range query, or of an instant query of a range-vector expression.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A result with the annotations Prometheus returns beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    /// Possible problems with the answer (`warnings` in the API envelope).
    pub warnings: Vec<String>,
    /// Informational notes (`infos` in the API envelope).
    pub infos: Vec<String>,
    /// Where the query's time went.
    pub phases: Phases,
    /// The samples it read (`stats` in the API).
    pub samples: SampleSummary,
}

/// Where a query's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Phases {
    /// Parsing and the logical plan.
    pub parse: std::time::Duration,
    /// Building the operators, which fetches every selector's series (and evaluates
    /// subqueries).
    pub fetch: std::time::Duration,
    /// Running the operators.
    pub eval: std::time::Duration,
}

/// Prometheus' staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The samples a query read, as its answer's `stats` report them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleSummary {
    pub total: u64,
    pub peak: usize,
    /// `(step time, samples)` for every step, when asked for (`stats=all`).
    pub per_step: Option<Vec<(i64, u64)>>,
}
