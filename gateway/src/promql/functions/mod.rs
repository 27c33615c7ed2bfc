//! PromQL's functions: the function table (`table`: every function's name, signature and
//! implementation) and the numeric kernels the engine's operators call, with Prometheus 3.x
//! float semantics. One family per file: `range` (range-vector functions), `math`
//! (element-wise), `calendar`, `quantile`, `histogram` (classic buckets), `labels`,
//! `annotations` (warning/info texts).

pub mod annotations;
pub mod calendar;
pub mod format;
pub mod histogram;
pub mod labels;
pub mod math;
pub mod quantile;
pub mod range;
pub mod table;

pub use annotations::{Annotations, Position};
pub use calendar::CalendarFunction;
pub use histogram::{Bucket, BucketQuantile, ForcedMonotonicity, QuantileSite};
pub use labels::{LabelJoin, LabelReplace};
pub use math::ElementwiseFunction;
pub use quantile::quantile;
pub use range::{RangeFunction, Window};
pub use table::{Function, FunctionKind, SpecialFunction, ValueType, lookup};

#[cfg(test)]
mod tests;
