//! Physical operators. The contract is small: `series()` once, then `next()` returns the
//! next batch of step vectors (columnar: one timestamp, the ids of the series present at
//! that step, their values) until `None`. Series ids index the slice `series()` returned.

pub mod aggregate;
pub mod binary;
mod context;
mod deferred;
pub mod function;
pub mod info;
mod literal;
pub mod range;
pub mod scan;
mod shared_read;
mod source;
pub mod stats;
mod step_invariant;
pub mod subquery;

pub use context::{QueryContext, Steps};
pub use deferred::Deferred;
pub use literal::{NumberOp, StepTimeOp};
pub use range::RangeSource;
pub use shared_read::{SelectorRead, SharedReads};
pub use source::RangeInput;
pub use stats::SampleStats;
pub use step_invariant::StepInvariantOp;
pub use subquery::evaluate_matrix;

use super::error::EngineError;
use std::sync::Arc;
use store_api::Labels;

/// Steps per batch: large enough to amortise dispatch, small enough to keep batches in cache.
pub const BATCH_STEPS: usize = 32;

/// An output series of an operator.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesMeta {
    pub labels: Labels,
    /// The metric name is to be dropped at the end of evaluation (Prometheus 3's delayed
    /// `__name__` removal): functions and arithmetic mark it instead of removing it, so that
    /// `label_replace(rate(x[1m]), "__name__", ...)`-style queries keep working.
    pub drop_name: bool,
}

impl SeriesMeta {
    pub fn new(labels: Labels) -> Self {
        Self {
            labels,
            drop_name: false,
        }
    }

    /// The labels as they will finally be returned. The type and unit labels describe the
    /// metric name, so they go with it.
    pub fn final_labels(&self) -> Labels {
        let mut labels = self.labels.clone();
        if self.drop_name {
            labels.retain(|l| !matches!(l.name.as_str(), "__name__" | "__type__" | "__unit__"));
        }
        labels
    }
}

/// The values of one step: series `ids[i]` has value `values[i]` at time `t`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepVector {
    pub t: i64,
    pub ids: Vec<usize>,
    pub values: Vec<f64>,
}

impl StepVector {
    pub fn new(t: i64) -> Self {
        Self {
            t,
            ids: Vec::new(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, id: usize, value: f64) {
        self.ids.push(id);
        self.values.push(value);
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

pub type Batch = Vec<StepVector>;

pub trait Operator: Send {
    /// The output series; stable for the life of the operator.
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError>;

    /// The next batch of consecutive steps, `None` after the last step.
    fn next(&mut self) -> Result<Option<Batch>, EngineError>;
}

pub type BoxOperator = Box<dyn Operator>;
