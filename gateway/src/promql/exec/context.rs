//! What every operator of one query shares: its step grid, its limits, its deadline, and the
//! reader its selectors read their series through.

use super::super::error::EngineError;
use super::{BATCH_STEPS, Batch, SampleStats, StepVector};
use crate::promql::functions::Annotations;
use crate::promql::options::EngineOptions;
use crate::promql::read::{Read, SeriesReader};
use crate::promql::storage::SeriesSamples;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// An evaluation grid: `start`, `start + step`, ... up to `end` inclusive (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steps {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Steps {
    pub fn instant(t: i64) -> Self {
        Self {
            start: t,
            end: t,
            step: 1,
        }
    }

    pub fn count(&self) -> usize {
        if self.end < self.start {
            return 0;
        }
        let span = i128::from(self.end) - i128::from(self.start);
        usize::try_from(span / i128::from(self.step)).map_or(usize::MAX, |n| n.saturating_add(1))
    }

    pub fn time(&self, index: usize) -> i64 {
        // Saturating: grids near the i64 bounds must not overflow (the last step is `end`).
        self.start
            .saturating_add((index as i64).saturating_mul(self.step))
    }

    /// Empty step vectors for the next batch of up to `BATCH_STEPS` steps from step `*next`,
    /// which moves past them; None past the last step.
    pub fn next_batch(&self, next: &mut usize) -> Option<Batch> {
        let start = *next;
        let end = start.saturating_add(BATCH_STEPS).min(self.count());
        *next = end.max(start);
        (start < end).then(|| {
            (start..end)
                .map(|i| StepVector::new(self.time(i)))
                .collect()
        })
    }
}

/// Shared by all operators of one query.
#[derive(Clone, Debug)]
pub struct QueryContext {
    pub options: Arc<EngineOptions>,
    /// The query's own start and end, which `@ start()` and `@ end()` refer to.
    pub query_start: i64,
    pub query_end: i64,
    /// The query's step (0 for an instant query), which `step()` returns.
    pub query_step: i64,
    /// A range query (sorting is then ineffective).
    pub range_query: bool,
    deadline: Instant,
    canceled: Arc<AtomicBool>,
    samples: Arc<AtomicUsize>,
    /// Series selected so far, over every selector.
    series: Arc<AtomicUsize>,
    annotations: Arc<Mutex<Annotations>>,
    /// The samples read, for the answer's `stats`.
    pub stats: Arc<SampleStats>,
    /// Whether this context's reads count in `stats`: not inside a subquery under a
    /// function, whose samples Prometheus counts only through the windows over its points.
    counted: bool,
    reader: SeriesReader,
}

impl QueryContext {
    pub fn new(
        options: Arc<EngineOptions>,
        query_start: i64,
        query_end: i64,
        query_step: Option<i64>,
        reader: SeriesReader,
    ) -> Self {
        let deadline = Instant::now() + options.timeout;
        let stats = SampleStats::new(
            query_start,
            query_end,
            query_step.unwrap_or(1),
            options.per_step_stats,
        );
        Self {
            options,
            query_start,
            query_end,
            query_step: query_step.unwrap_or(0),
            range_query: query_step.is_some(),
            deadline,
            canceled: Arc::new(AtomicBool::new(false)),
            samples: Arc::new(AtomicUsize::new(0)),
            series: Arc::new(AtomicUsize::new(0)),
            annotations: Arc::new(Mutex::new(Annotations::default())),
            stats: Arc::new(stats),
            counted: true,
            reader,
        }
    }

    /// The context of a subquery's inner evaluation under a function: the same query, limits
    /// and reader, its reads not counted in `stats`.
    pub fn uncounted(&self) -> Self {
        Self {
            counted: false,
            ..self.clone()
        }
    }

    /// The context of a subtree evaluated apart (once, for all steps): the same query,
    /// limits and reader, counting its reads in stats of its own.
    pub fn with_own_stats(&self) -> Self {
        Self {
            stats: Arc::new(SampleStats::new(
                self.query_start,
                self.query_start,
                1,
                false,
            )),
            counted: true,
            ..self.clone()
        }
    }

    /// `n` samples read at step time `t`, for the answer's `stats`.
    pub fn count_read(&self, t: i64, n: u64) {
        if self.counted {
            self.stats.add_at(t, n);
        }
    }

    /// A selector's series, read from storage on the evaluation thread; they count against
    /// `--query.max-series`.
    pub fn read_series(&self, read: Read) -> Result<Vec<SeriesSamples>, EngineError> {
        let series = self.read_unheld(read)?;
        self.hold_series(series.len())?;
        Ok(series)
    }

    /// Series read from storage, not yet counted against `--query.max-series` (a shared
    /// read counts each selector's part).
    pub fn read_unheld(&self, read: Read) -> Result<Vec<SeriesSamples>, EngineError> {
        self.check("query preparation")?;
        self.reader
            .read(read, self.samples_left(), self.series_left())
    }

    /// Warnings and infos collected while evaluating; a poisoned lock (a panicked operator)
    /// still yields the notes collected so far.
    pub fn annotations(&self) -> MutexGuard<'_, Annotations> {
        self.annotations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn take_annotations(&self) -> Annotations {
        std::mem::take(&mut *self.annotations())
    }

    /// Cancels the query (the client went away); the next check fails it.
    pub fn cancel(&self) {
        self.canceled.store(true, Ordering::Relaxed);
    }

    /// Called between batches: fails the query once it is canceled or past its deadline.
    pub fn check(&self, stage: &str) -> Result<(), EngineError> {
        if self.canceled.load(Ordering::Relaxed) {
            return Err(EngineError::Canceled(stage.to_string()));
        }
        if Instant::now() > self.deadline {
            return Err(EngineError::Timeout(stage.to_string()));
        }
        Ok(())
    }

    /// Accounts for `n` more samples held in memory; fails past the limit with Prometheus'
    /// wording.
    pub fn hold_samples(&self, n: usize) -> Result<(), EngineError> {
        let total = self.samples.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.options.max_samples {
            return Err(crate::promql::storage::too_many_samples());
        }
        self.stats.note_held(total);
        Ok(())
    }

    /// How many more samples the query may hold.
    pub fn samples_left(&self) -> usize {
        self.options
            .max_samples
            .saturating_sub(self.samples.load(Ordering::Relaxed))
    }

    /// Accounts for `n` more series selected; fails past `--query.max-series`.
    pub fn hold_series(&self, n: usize) -> Result<(), EngineError> {
        let total = self.series.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.options.max_series {
            return Err(crate::promql::storage::too_many_series());
        }
        Ok(())
    }

    /// How many more series the query may select.
    pub fn series_left(&self) -> usize {
        self.options
            .max_series
            .saturating_sub(self.series.load(Ordering::Relaxed))
    }

    pub fn release_samples(&self, n: usize) {
        self.samples.fetch_sub(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_and_deadline_fail_the_next_check() {
        let ctx = QueryContext::new(
            Arc::new(EngineOptions::default()),
            0,
            0,
            None,
            crate::promql::read::channel().0,
        );
        assert!(ctx.check("query execution").is_ok());
        ctx.cancel();
        assert_eq!(
            ctx.check("query execution"),
            Err(EngineError::Canceled("query execution".into()))
        );
        let expired = QueryContext::new(
            Arc::new(EngineOptions {
                timeout: std::time::Duration::ZERO,
                ..EngineOptions::default()
            }),
            0,
            0,
            None,
            crate::promql::read::channel().0,
        );
        assert!(matches!(expired.check("x"), Err(EngineError::Timeout(_))));
    }

    #[test]
    fn samples_are_accounted_and_released() {
        let ctx = QueryContext::new(
            Arc::new(EngineOptions {
                max_samples: 10,
                ..EngineOptions::default()
            }),
            0,
            0,
            None,
            crate::promql::read::channel().0,
        );
        assert!(ctx.hold_samples(10).is_ok());
        assert!(matches!(ctx.hold_samples(1), Err(EngineError::Limit(_))));
        ctx.release_samples(11);
        assert!(ctx.hold_samples(5).is_ok());
    }
}
