//! The scripts' `@st` start timestamps. StoreAPI carries none, so they are attached to the
//! series whatever storage serves a script's data returns, the way a store that kept them
//! would return them.

use super::parse::Load;
use futures_util::future::BoxFuture;
use gateway::promql::{EngineError, SelectRequest, SelectResult, Storage};
use std::collections::HashMap;
use std::sync::Arc;
use store_api::Labels;

/// Per series, each sample's start timestamp by the sample's time (ms).
#[derive(Clone, Debug, Default)]
pub struct StartTimestamps(HashMap<Labels, HashMap<i64, i64>>);

impl StartTimestamps {
    /// Adds the `@st` lines of a `load`: the i-th offset is that of the sample at i × step.
    pub fn load(&mut self, load: &Load) {
        for def in &load.start_timestamps {
            let series = self.0.entry(def.labels.clone()).or_default();
            for (i, offset) in def.offsets.iter().enumerate() {
                let t = i as i64 * load.step_ms;
                if let Some(offset) = offset {
                    series.insert(t, t + offset);
                }
            }
        }
    }

    /// `storage` with these start timestamps on its series (as it is when there are none).
    pub fn attach(&self, storage: Arc<dyn Storage>) -> Arc<dyn Storage> {
        if self.0.is_empty() {
            return storage;
        }
        Arc::new(WithStartTimestamps {
            inner: storage,
            starts: self.clone(),
        })
    }
}

struct WithStartTimestamps {
    inner: Arc<dyn Storage>,
    starts: StartTimestamps,
}

impl Storage for WithStartTimestamps {
    fn select(&self, request: SelectRequest) -> BoxFuture<'_, Result<SelectResult, EngineError>> {
        Box::pin(async move {
            let mut result = self.inner.select(request).await?;
            for series in &mut result.series {
                if let Some(starts) = self.starts.0.get(&series.labels) {
                    series.start_timestamps = series
                        .timestamps
                        .iter()
                        .map(|t| starts.get(t).copied().unwrap_or(0))
                        .collect();
                }
            }
            Ok(result)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promqltest::parse::{Command, parse_script};
    use gateway::promql::StoreStorage;
    use store_api::{Matcher, MemoryStore};

    #[test]
    fn selected_series_carry_their_start_timestamps() {
        let script =
            parse_script("t.test", "load 1m\n  a@st _ -30s 0\n  a 1 2 3\n  b 1 2 3\n").unwrap();
        let Command::Load(load) = &script.commands[0] else {
            panic!("a load");
        };
        let mut starts = StartTimestamps::default();
        starts.load(load);
        let samples = vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0)];
        let labels = |name| Labels::from_pairs([("__name__", name)]);
        let store = MemoryStore::new(
            Labels::new(),
            [(labels("a"), samples.clone()), (labels("b"), samples)],
        );
        let storage = starts.attach(Arc::new(StoreStorage::new(Arc::new(store))));
        let request = |name| SelectRequest {
            matchers: vec![Matcher::equal("__name__", name)],
            min_time: 1,
            max_time: 120_000,
            max_samples: usize::MAX,
            max_series: usize::MAX,
        };
        let select = |name| {
            futures_util::FutureExt::now_or_never(storage.select(request(name)))
                .expect("the memory store answers at once")
                .unwrap()
                .series
        };
        let a = select("a");
        assert_eq!(a[0].timestamps, [60_000, 120_000]);
        assert_eq!(a[0].start_timestamps, [30_000, 120_000]);
        let b = select("b");
        assert!(b[0].start_timestamps.is_empty(), "b has no @st line");
    }
}
