//! The instant-vector selector: for every step, each series' newest sample within the
//! lookback window `(t - lookback, t]`, unless that sample is a staleness marker.

use super::{Batch, Operator, QueryContext, SeriesMeta, StepVector, Steps};
use crate::promql::error::EngineError;
use crate::promql::functions::range::interpolate;
use crate::promql::storage::SeriesSamples;
use crate::promql::value::is_stale_nan;
use std::sync::Arc;

/// Where a selector is evaluated: the step time shifted by `offset`, or a fixed `@` time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalTime {
    pub offset_ms: i64,
    pub at_ms: Option<i64>,
}

impl EvalTime {
    pub fn at(&self, step_time: i64) -> i64 {
        self.at_ms
            .unwrap_or(step_time)
            .saturating_sub(self.offset_ms)
    }
}

pub struct VectorScan {
    ctx: QueryContext,
    steps: Steps,
    time: EvalTime,
    series: Arc<[SeriesMeta]>,
    data: Vec<SeriesSamples>,
    /// Per series: index of the first sample after the previous step's evaluation time.
    cursors: Vec<usize>,
    next_step: usize,
    /// Output the sample's timestamp (seconds) instead of its value: `timestamp(selector)`.
    emit_timestamps: bool,
    /// `x smoothed`: the value interpolated at the evaluation time.
    smoothed: bool,
}

impl VectorScan {
    pub fn new(
        ctx: QueryContext,
        steps: Steps,
        time: EvalTime,
        data: Vec<SeriesSamples>,
        emit_timestamps: bool,
    ) -> Result<Self, EngineError> {
        ctx.hold_samples(data.iter().map(|s| s.timestamps.len()).sum())?;
        let series: Arc<[SeriesMeta]> = data
            .iter()
            .map(|s| SeriesMeta::new(s.labels.clone()))
            .collect();
        Ok(Self {
            ctx,
            steps,
            time,
            series,
            cursors: vec![0; data.len()],
            data,
            next_step: 0,
            emit_timestamps,
            smoothed: false,
        })
    }

    /// Evaluates `x smoothed`: the data must reach a lookback delta past the last step.
    pub fn smoothed(mut self) -> Self {
        self.smoothed = true;
        self
    }

    /// Fills the batch's steps, series by series so a series' samples stay in cache;
    /// evaluation times never decrease, so each cursor only moves forward. `SMOOTHED` is a
    /// parameter so that plain selectors pay nothing for interpolation.
    fn fill<const SMOOTHED: bool>(&mut self, batch: &mut [StepVector]) {
        let lookback = self.ctx.options.lookback_delta_ms;
        for (id, series) in self.data.iter().enumerate() {
            let ts = &series.timestamps;
            let mut cursor = self.cursors[id];
            for out in batch.iter_mut() {
                let te = self.time.at(out.t);
                while cursor < ts.len() && ts[cursor] <= te {
                    cursor += 1;
                }
                if cursor == 0 {
                    continue;
                }
                let last = cursor - 1;
                if ts[last] <= te.saturating_sub(lookback) {
                    continue;
                }
                let value = series.values[last];
                if is_stale_nan(value) {
                    continue;
                }
                let value = if SMOOTHED {
                    smoothed_value(series, last, te, lookback).unwrap_or(value)
                } else {
                    value
                };
                out.push(
                    id,
                    if self.emit_timestamps {
                        ts[last] as f64 / 1000.0
                    } else {
                        value
                    },
                );
            }
            self.cursors[id] = cursor;
        }
    }
}

/// The value at `t` between sample `last` (at or before `t`) and the next one, if that one is
/// a value within the lookback delta; without it, or with a sample at `t`, the last value
/// holds (interpolating there would turn an infinite next value into NaN).
fn smoothed_value(series: &SeriesSamples, last: usize, t: i64, lookback: i64) -> Option<f64> {
    if series.timestamps.get(last) == Some(&t) {
        return None;
    }
    let next = last + 1;
    let next_t = *series.timestamps.get(next)?;
    let next_v = *series.values.get(next)?;
    if next_t > t.saturating_add(lookback) || is_stale_nan(next_v) {
        return None;
    }
    interpolate(&series.timestamps, &series.values, last, t, false)
}

impl Operator for VectorScan {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        Ok(self.series.clone())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let Some(mut batch) = self.steps.next_batch(&mut self.next_step) else {
            return Ok(None);
        };
        self.ctx.check("query execution")?;
        if self.smoothed {
            self.fill::<true>(&mut batch);
        } else {
            self.fill::<false>(&mut batch);
        }
        for step in &batch {
            self.ctx.count_read(step.t, step.len() as u64);
        }
        Ok(Some(batch))
    }
}

impl Drop for VectorScan {
    fn drop(&mut self) {
        self.ctx
            .release_samples(self.data.iter().map(|s| s.timestamps.len()).sum());
    }
}

#[cfg(test)]
mod tests {
    use super::smoothed_value;
    use crate::promql::storage::SeriesSamples;

    fn series(values: &[f64]) -> SeriesSamples {
        SeriesSamples {
            timestamps: (0..values.len() as i64).map(|i| i * 10_000).collect(),
            values: values.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn interpolates_between_neighbours_within_the_lookback() {
        let s = series(&[1.0, 5.0]);
        assert_eq!(smoothed_value(&s, 0, 2_500, 300_000), Some(2.0));
        // The next sample beyond the lookback: the last value holds.
        assert_eq!(smoothed_value(&s, 0, 2_500, 5_000), None);
    }

    #[test]
    fn a_sample_at_the_time_is_its_own_value() {
        let s = series(&[1.0, f64::INFINITY]);
        assert_eq!(smoothed_value(&s, 0, 0, 300_000), None);
        assert_eq!(smoothed_value(&s, 1, 10_000, 300_000), None);
    }
}
