//! Range-vector functions (`rate(x[5m])`, `avg_over_time(subquery[1h:1m])`, ...): for every
//! step, each series' samples in the left-open window `(t - range, t]` go through one kernel.

use super::scan::EvalTime;
use super::{Batch, BoxOperator, Operator, QueryContext, SeriesMeta, StepVector, Steps};
use crate::promql::error::EngineError;
use crate::promql::functions::{Position, RangeFunction, Window};
use crate::promql::logical::Extension;
use std::sync::Arc;

/// The samples a range function reads: raw samples of a matrix selector (staleness markers
/// removed) or the points of an evaluated subquery.
#[derive(Debug, Default)]
pub struct RangeSource {
    pub series: Vec<SeriesMeta>,
    pub timestamps: Vec<Vec<i64>>,
    pub values: Vec<Vec<f64>>,
    /// Per series, the samples' start timestamps (empty when the series has none); empty
    /// altogether for a subquery.
    pub start_timestamps: Vec<Vec<i64>>,
    pub time: EvalTime,
    pub range_ms: i64,
    /// `anchored` or `smoothed`: the samples reach beyond the window (see `extended_bounds`).
    pub extension: Option<Extension>,
}

impl RangeSource {
    pub fn sample_count(&self) -> usize {
        self.timestamps.iter().map(Vec::len).sum()
    }
}

pub struct RangeFunctionOp {
    ctx: QueryContext,
    steps: Steps,
    function: RangeFunction,
    source: RangeSource,
    /// Scalar arguments besides the range vector, one operator each, in call order.
    args: Vec<BoxOperator>,
    series: Arc<[SeriesMeta]>,
    /// Per series: the window's first and one-past-last sample index at the previous step.
    windows: Vec<(usize, usize)>,
    next_step: usize,
    held: usize,
    /// Sort buffer of the quantile kernels.
    scratch: Vec<f64>,
    /// Per series: whether any step produced a value (for the "not a counter" note).
    produced: Vec<bool>,
    /// Where the range-vector argument starts, for annotations.
    pos: Option<Position>,
}

impl RangeFunctionOp {
    pub fn new(
        ctx: QueryContext,
        steps: Steps,
        function: RangeFunction,
        source: RangeSource,
        args: Vec<BoxOperator>,
    ) -> Result<Self, EngineError> {
        let held = source.sample_count();
        let source_len = source.series.len();
        ctx.hold_samples(held)?;
        let keep_name = function.keeps_metric_name();
        let series: Arc<[SeriesMeta]> = source
            .series
            .iter()
            .map(|s| SeriesMeta {
                labels: s.labels.clone(),
                drop_name: s.drop_name || !keep_name,
            })
            .collect();
        Ok(Self {
            ctx,
            steps,
            function,
            windows: vec![(0, 0); source.series.len()],
            source,
            args,
            series,
            next_step: 0,
            held,
            scratch: Vec::new(),
            produced: vec![false; source_len],
            pos: None,
        })
    }

    pub fn with_position(mut self, pos: Option<Position>) -> Self {
        self.pos = pos;
        self
    }
}

/// Reads the scalar arguments' values for each step of a batch.
pub fn scalar_args(args: &mut [BoxOperator], steps: usize) -> Result<Vec<Vec<f64>>, EngineError> {
    let mut out = vec![Vec::with_capacity(args.len()); steps];
    for arg in args.iter_mut() {
        let batch = arg.next()?.unwrap_or_default();
        for (i, step_args) in out.iter_mut().enumerate() {
            let value = batch
                .get(i)
                .and_then(|s| s.values.first().copied())
                .unwrap_or(f64::NAN);
            step_args.push(value);
        }
    }
    Ok(out)
}

impl Operator for RangeFunctionOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        Ok(self.series.clone())
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        let Some(mut batch) = self.steps.next_batch(&mut self.next_step) else {
            return Ok(None);
        };
        self.ctx.check("query execution")?;
        let args = scalar_args(&mut self.args, batch.len())?;
        // Chosen per batch, so that windows without a modifier pay nothing for them.
        match self.source.extension {
            None => self.fill::<false>(&mut batch, &args)?,
            Some(_) => self.fill::<true>(&mut batch, &args)?,
        }
        if self.next_step >= self.steps.count() {
            self.note_non_counters();
        }
        Ok(Some(batch))
    }
}

impl RangeFunctionOp {
    /// Evaluates every series at the batch's steps. Series by series, each through the
    /// batch's steps: a series' samples stay in cache while its window slides (steps ascend,
    /// so windows only move forward). `EXTENDED`: the source has a modifier.
    fn fill<const EXTENDED: bool>(
        &mut self,
        batch: &mut [StepVector],
        args: &[Vec<f64>],
    ) -> Result<(), EngineError> {
        let ctx = self.ctx.clone();
        let mut annotations = ctx.annotations();
        let lookback = self.ctx.options.lookback_delta_ms;
        let smoothed = self.source.extension == Some(Extension::Smoothed);
        // Samples in the batch's non-empty windows, per step (`stats`).
        let mut read = vec![0u64; batch.len()];
        for id in 0..self.source.series.len() {
            let ts = &self.source.timestamps[id];
            let vs = &self.source.values[id];
            let starts = self
                .source
                .start_timestamps
                .get(id)
                .map_or(&[][..], Vec::as_slice);
            let labels = &self.source.series[id].labels;
            let (mut lo, mut hi) = self.windows[id];
            for ((out, step_args), read) in batch.iter_mut().zip(args).zip(&mut read) {
                let t = out.t;
                let te = self.source.time.at(t);
                let range_start = te.saturating_sub(self.source.range_ms);
                while hi < ts.len() && ts[hi] <= te {
                    hi += 1;
                }
                while lo < hi && ts[lo] <= range_start {
                    lo += 1;
                }
                let (from, to) = if EXTENDED {
                    match extended_bounds(ts, lo, hi, range_start, te, lookback, smoothed) {
                        Some(bounds) => bounds,
                        None => continue,
                    }
                } else {
                    (lo, hi)
                };
                *read += (to - from) as u64;
                let window = Window::new(&ts[from..to], &vs[from..to], range_start, te)
                    .at(t)
                    .with_position(self.pos)
                    .with_labels(labels)
                    .with_start_timestamps(starts.get(from..to).unwrap_or_default());
                let value = if EXTENDED {
                    self.function.eval_extended(
                        &window,
                        smoothed,
                        &mut self.scratch,
                        &mut annotations,
                    )?
                } else {
                    self.function
                        .eval(&window, step_args, &mut self.scratch, &mut annotations)?
                };
                if let Some(v) = value {
                    out.push(id, v);
                    self.produced[id] = true;
                }
            }
            self.windows[id] = (lo, hi);
        }
        for (out, read) in batch.iter().zip(read) {
            ctx.count_read(out.t, read);
        }
        Ok(())
    }

    /// rate/increase over a series whose name does not look like a counter's: an info note,
    /// once per series that produced values, as Prometheus does.
    fn note_non_counters(&self) {
        if !self.function.wants_counter() {
            return;
        }
        let mut annotations = self.ctx.annotations();
        for (series, produced) in self.source.series.iter().zip(&self.produced) {
            let name = series
                .labels
                .get(store_api::labels::METRIC_NAME)
                .unwrap_or("");
            annotations.possible_non_counter(
                self.function,
                name,
                *produced,
                series.labels.get("__type__"),
                self.pos,
            );
        }
    }
}

/// The samples an `anchored` or `smoothed` window reads, as indices into the series, given
/// the left-open window's samples `lo..hi`: also the last sample at or before the window's
/// start and, when smoothed, the first after its end, each within the lookback delta. None
/// when there is nothing to evaluate: anchored needs a sample inside the window.
fn extended_bounds(
    ts: &[i64],
    lo: usize,
    hi: usize,
    range_start: i64,
    range_end: i64,
    lookback: i64,
    smoothed: bool,
) -> Option<(usize, usize)> {
    if lo == hi && !smoothed {
        return None;
    }
    let anchor = lo.checked_sub(1).filter(|&i| {
        ts.get(i)
            .is_some_and(|&t| t > range_start.saturating_sub(lookback))
    });
    let from = anchor.unwrap_or(lo);
    let after = ts
        .get(hi)
        .is_some_and(|&t| smoothed && t <= range_end.saturating_add(lookback));
    let to = if after { hi + 1 } else { hi };
    (from < to).then_some((from, to))
}

impl Drop for RangeFunctionOp {
    fn drop(&mut self) {
        self.ctx.release_samples(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::extended_bounds;

    const M: i64 = 60_000;
    /// Samples at 0, 2m and 8m; lookback 5m.
    const TS: [i64; 3] = [0, 2 * M, 8 * M];

    fn bounds(range_start: i64, range_end: i64, smoothed: bool) -> Option<(usize, usize)> {
        let lo = TS.partition_point(|&t| t <= range_start);
        let hi = TS.partition_point(|&t| t <= range_end);
        extended_bounds(&TS, lo, hi, range_start, range_end, 5 * M, smoothed)
    }

    #[test]
    fn anchors_only_within_the_lookback() {
        // (7m, 8m]: the 2m sample is exactly a lookback before the start, so left out.
        assert_eq!(bounds(7 * M, 8 * M, false), Some((2, 3)));
        assert_eq!(bounds(7 * M - 1, 8 * M, false), Some((1, 3)));
    }

    #[test]
    fn anchored_needs_a_sample_inside_the_window() {
        assert_eq!(bounds(2 * M, 3 * M, false), None);
    }

    #[test]
    fn smoothed_reads_the_sample_after_the_end() {
        assert_eq!(bounds(2 * M, 3 * M, true), Some((1, 3)));
        assert_eq!(bounds(-M, 0, true), Some((0, 2)));
        assert_eq!(bounds(9 * M, 14 * M, true), Some((2, 3)));
    }
}
