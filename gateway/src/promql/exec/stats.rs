//! The samples a query read, as Prometheus' `stats` report them: `totalQueryableSamples` adds,
//! at every step of the query's own grid, one for each series an instant selector gives a
//! point and the number of samples in each non-empty range window (so a window sliding over
//! the same samples counts them again, as in Prometheus); a subquery's inner evaluation counts
//! only through the windows over its points. `peakSamples` is the most raw samples the query
//! held at once, which `--query.max-samples` bounds.

use crate::promql::value::SampleSummary;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug)]
pub struct SampleStats {
    total: AtomicU64,
    peak: AtomicUsize,
    per_step: Option<PerStep>,
}

#[derive(Debug)]
struct PerStep {
    start: i64,
    step: i64,
    counts: Mutex<Vec<u64>>,
}

impl SampleStats {
    /// Stats of a query over `start..=end` every `step` ms, per step if `per_step`.
    pub fn new(start: i64, end: i64, step: i64, per_step: bool) -> Self {
        let step = step.max(1);
        let steps =
            usize::try_from((end.saturating_sub(start)) / step).map_or(0, |n| n.saturating_add(1));
        Self {
            total: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
            per_step: per_step.then(|| PerStep {
                start,
                step,
                counts: Mutex::new(vec![0; steps]),
            }),
        }
    }

    /// `n` samples read at step time `t`.
    pub fn add_at(&self, t: i64, n: u64) {
        if n == 0 {
            return;
        }
        self.total.fetch_add(n, Ordering::Relaxed);
        if let Some(per_step) = &self.per_step {
            let index = usize::try_from((t - per_step.start) / per_step.step).ok();
            if let (Some(index), Ok(mut counts)) = (index, per_step.counts.lock())
                && let Some(count) = counts.get_mut(index)
            {
                *count += n;
            }
        }
    }

    /// The query now holds `held` samples.
    pub fn note_held(&self, held: usize) {
        self.peak.fetch_max(held, Ordering::Relaxed);
    }

    pub fn summary(&self) -> SampleSummary {
        SampleSummary {
            total: self.total.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            per_step: self.per_step.as_ref().map(|per_step| {
                let counts = per_step
                    .counts
                    .lock()
                    .map(|c| c.clone())
                    .unwrap_or_default();
                counts
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (per_step.start + i as i64 * per_step.step, n))
                    .collect()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_kept_apart() {
        let stats = SampleStats::new(1_000, 3_000, 1_000, true);
        stats.add_at(1_000, 2);
        stats.add_at(3_000, 3);
        stats.note_held(7);
        stats.note_held(4);
        let summary = stats.summary();
        assert_eq!(summary.total, 5);
        assert_eq!(summary.peak, 7);
        assert_eq!(
            summary.per_step,
            Some(vec![(1_000, 2), (2_000, 0), (3_000, 3)])
        );
    }
}
