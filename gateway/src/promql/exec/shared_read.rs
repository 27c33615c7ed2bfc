//! Reads that selectors with the same matchers share (the `share_reads` optimizer groups
//! them): one storage read per group of overlapping time ranges, made by the first selector
//! pulled, each selector served the samples of its own range.

use super::QueryContext;
use crate::promql::error::EngineError;
use crate::promql::read::Read;
use crate::promql::storage::SeriesSamples;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A selector's series: its own read, or its range of a shared one.
pub enum SelectorRead {
    Own(Read),
    Shared {
        read: Arc<SharedRead>,
        min_time: i64,
        max_time: i64,
    },
}

impl SelectorRead {
    pub fn series(self, ctx: &QueryContext) -> Result<Vec<SeriesSamples>, EngineError> {
        match self {
            Self::Own(read) => ctx.read_series(read),
            Self::Shared {
                read,
                min_time,
                max_time,
            } => {
                let series = read.take(ctx, min_time, max_time)?;
                ctx.hold_series(series.len())?;
                Ok(series)
            }
        }
    }
}

/// The shared reads of one query, by the optimizer's read id; filled while planning.
#[derive(Default)]
pub struct SharedReads {
    groups: Mutex<HashMap<u32, Vec<Arc<SharedRead>>>>,
}

impl SharedReads {
    /// Joins `read` to the group `id`'s read whose range overlaps or touches it (widened to
    /// cover both), or to a new one.
    pub fn join(&self, id: u32, read: Read) -> SelectorRead {
        let (min_time, max_time) = (read.min_time, read.max_time);
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        let group = groups.entry(id).or_default();
        let joined = group.iter().find(|shared| shared.widen(min_time, max_time));
        let read = match joined {
            Some(shared) => shared.clone(),
            None => {
                let shared = Arc::new(SharedRead::new(read));
                group.push(shared.clone());
                shared
            }
        };
        SelectorRead::Shared {
            read,
            min_time,
            max_time,
        }
    }
}

pub struct SharedRead {
    state: Mutex<State>,
}

struct State {
    /// The union of the selectors' ranges.
    read: Read,
    /// Selectors not yet served.
    waiting: usize,
    /// Read by the first selector pulled; the last one served takes it.
    series: Option<Vec<SeriesSamples>>,
}

impl SharedRead {
    fn new(read: Read) -> Self {
        Self {
            state: Mutex::new(State {
                read,
                waiting: 1,
                series: None,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Widens the range to cover `[min, max]` and counts one more selector, if the ranges
    /// overlap or touch (a gap between them would be read for nobody).
    fn widen(&self, min: i64, max: i64) -> bool {
        let mut state = self.state();
        let read = &mut state.read;
        if min > read.max_time.saturating_add(1) || max < read.min_time.saturating_sub(1) {
            return false;
        }
        read.min_time = read.min_time.min(min);
        read.max_time = read.max_time.max(max);
        state.waiting += 1;
        true
    }

    /// The series with samples in `[min, max]`, read from storage by the first to ask.
    fn take(
        &self,
        ctx: &QueryContext,
        min: i64,
        max: i64,
    ) -> Result<Vec<SeriesSamples>, EngineError> {
        let mut state = self.state();
        if state.series.is_none() {
            state.series = Some(ctx.read_unheld(state.read.clone())?);
        }
        state.waiting = state.waiting.saturating_sub(1);
        let all = if state.waiting == 0 {
            state.series.take().unwrap_or_default()
        } else {
            state.series.clone().unwrap_or_default()
        };
        Ok(all
            .into_iter()
            .filter_map(|s| within(s, min, max))
            .collect())
    }
}

/// `series` cut to its samples in `[min, max]`; None if none are.
fn within(mut series: SeriesSamples, min: i64, max: i64) -> Option<SeriesSamples> {
    let start = series.timestamps.partition_point(|&t| t < min);
    let end = series.timestamps.partition_point(|&t| t <= max).max(start);
    if start == end {
        return None;
    }
    for column in [&mut series.timestamps, &mut series.start_timestamps] {
        if !column.is_empty() {
            column.truncate(end);
            column.drain(..start);
        }
    }
    series.values.truncate(end);
    series.values.drain(..start);
    Some(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(min_time: i64, max_time: i64) -> Read {
        Read {
            matchers: Vec::new(),
            min_time,
            max_time,
        }
    }

    fn range(read: &SelectorRead) -> Option<(i64, i64)> {
        match read {
            SelectorRead::Shared { read, .. } => {
                let state = read.state();
                Some((state.read.min_time, state.read.max_time))
            }
            SelectorRead::Own(_) => None,
        }
    }

    #[test]
    fn overlapping_ranges_share_one_read_and_distant_ones_do_not() {
        let reads = SharedReads::default();
        let first = reads.join(0, read(100, 200));
        let overlapping = reads.join(0, read(150, 400));
        let distant = reads.join(0, read(10_000, 10_100));
        assert_eq!(range(&first), Some((100, 400)));
        assert_eq!(range(&overlapping), Some((100, 400)));
        assert_eq!(range(&distant), Some((10_000, 10_100)));
    }

    #[test]
    fn each_selector_gets_its_own_range() {
        let series = SeriesSamples {
            timestamps: vec![100, 200, 300],
            values: vec![1.0, 2.0, 3.0],
            ..Default::default()
        };
        let cut = within(series.clone(), 150, 300);
        assert_eq!(cut.map(|s| s.values), Some(vec![2.0, 3.0]));
        assert_eq!(within(series, 301, 400), None);
    }
}
