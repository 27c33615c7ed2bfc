//! An in-memory store: series of samples in, 120-sample XOR chunks out. Serves tests and the
//! demo, and is the reference for how every other store answers.

use crate::chunk::xor_chunks;
use crate::error::StoreError;
use crate::labels::{Labels, matches_all};
use crate::store::{
    Component, LabelNamesRequest, LabelValuesRequest, LabelsResponse, SeriesData, SeriesFrame,
    SeriesRequest, SeriesStream, Store, StoreInfo,
};
use futures_util::StreamExt;
use futures_util::stream;
use std::collections::BTreeMap;

/// One sample: millisecond timestamp and value.
pub type Sample = (i64, f64);

#[derive(Debug)]
pub struct MemoryStore {
    external_labels: Labels,
    /// Sorted by labels; labels include the external labels.
    series: Vec<SeriesData>,
    min_time: i64,
    max_time: i64,
}

impl MemoryStore {
    /// Builds a store from series and their samples. Series with equal labels are merged;
    /// samples are sorted by time, and for a repeated timestamp the last one wins.
    pub fn new(
        external_labels: Labels,
        series: impl IntoIterator<Item = (Labels, Vec<Sample>)>,
    ) -> Self {
        let mut merged: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for (mut labels, samples) in series {
            labels.merge_missing(&external_labels);
            merged.entry(labels).or_default().extend(samples);
        }
        let mut min_time = i64::MAX;
        let mut max_time = i64::MIN;
        let series = merged
            .into_iter()
            .filter_map(|(labels, mut samples)| {
                samples.sort_by_key(|s| s.0);
                dedup_keep_last(&mut samples);
                let first = samples.first()?.0;
                let last = samples.last()?.0;
                min_time = min_time.min(first);
                max_time = max_time.max(last);
                Some(SeriesData {
                    labels,
                    chunks: {
                        let (ts, vs): (Vec<i64>, Vec<f64>) = samples.into_iter().unzip();
                        xor_chunks(&ts, &vs)
                    },
                })
            })
            .collect();
        Self {
            external_labels,
            series,
            min_time,
            max_time,
        }
    }

    /// The series with data in `[min_time, max_time]` that all matchers accept.
    fn select<'a>(
        &'a self,
        min_time: i64,
        max_time: i64,
        matchers: &'a [crate::labels::Matcher],
    ) -> impl Iterator<Item = &'a SeriesData> + 'a {
        self.series.iter().filter(move |s| {
            matches_all(matchers, &s.labels)
                && s.chunks
                    .iter()
                    .any(|c| c.max_time >= min_time && c.min_time <= max_time)
        })
    }
}

fn dedup_keep_last(samples: &mut Vec<Sample>) {
    samples.reverse();
    samples.dedup_by_key(|s| s.0);
    samples.reverse();
}

fn without_labels(mut labels: Labels, names: &[String]) -> Labels {
    if !names.is_empty() {
        labels.retain(|l| !names.contains(&l.name));
    }
    labels
}

impl Store for MemoryStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        Ok(StoreInfo {
            component: Component::Store,
            label_sets: if self.external_labels.is_empty() {
                Vec::new()
            } else {
                vec![self.external_labels.clone()]
            },
            min_time: self.min_time,
            max_time: self.max_time,
            supports_without_replica_labels: true,
            serves_metadata: false,
        })
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let mut selected: Vec<SeriesData> = self
            .select(request.min_time, request.max_time, &request.matchers)
            .map(|s| SeriesData {
                labels: without_labels(s.labels.clone(), &request.without_replica_labels),
                chunks: if request.skip_chunks {
                    Vec::new()
                } else {
                    s.chunks
                        .iter()
                        .filter(|c| {
                            c.max_time >= request.min_time && c.min_time <= request.max_time
                        })
                        .cloned()
                        .collect()
                },
            })
            .collect();
        if !request.without_replica_labels.is_empty() {
            // Removing labels can change the order.
            selected.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        if request.limit > 0 {
            selected.truncate(request.limit);
        }
        Ok(stream::iter(selected.into_iter().map(|s| Ok(SeriesFrame::Series(s)))).boxed())
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        let names = self
            .select(request.start, request.end, &request.matchers)
            .flat_map(|s| s.labels.iter())
            .filter(|l| !request.without_replica_labels.contains(&l.name))
            .map(|l| l.name.clone())
            .collect();
        Ok(LabelsResponse::from_unsorted(names, request.limit))
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        if request.without_replica_labels.contains(&request.label) {
            return Ok(LabelsResponse::default());
        }
        let values = self
            .select(request.start, request.end, &request.matchers)
            .filter_map(|s| s.labels.get(&request.label))
            .map(str::to_string)
            .collect();
        Ok(LabelsResponse::from_unsorted(values, request.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::decode_into;
    use crate::labels::{MatchOp, Matcher};
    use futures_util::TryStreamExt;

    fn store() -> MemoryStore {
        let series = (0..3).map(|i| {
            let labels = Labels::from_pairs([("__name__", "up"), ("pod", &format!("p{i}"))]);
            let samples = (0..300).map(|t| (t * 1000 + i, t as f64)).collect();
            (labels, samples)
        });
        MemoryStore::new(Labels::from_pairs([("replica", "a")]), series)
    }

    async fn series(store: &MemoryStore, request: SeriesRequest) -> Vec<SeriesData> {
        store
            .series(request)
            .await
            .unwrap()
            .map_ok(|f| match f {
                SeriesFrame::Series(s) => s,
                SeriesFrame::Warning(w) => panic!("unexpected warning {w}"),
            })
            .try_collect()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn chunks_of_120_with_external_labels() {
        let store = store();
        let all = series(
            &store,
            SeriesRequest {
                min_time: i64::MIN,
                max_time: i64::MAX,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(all.len(), 3);
        assert!(all.windows(2).all(|w| w[0].labels < w[1].labels));
        let first = &all[0];
        assert_eq!(first.labels.get("replica"), Some("a"));
        assert_eq!(first.chunks.len(), 3);
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        for chunk in &first.chunks {
            decode_into(&chunk.data, &mut ts, &mut vs).unwrap();
        }
        assert_eq!(ts.len(), 300);
        assert_eq!(vs[299], 299.0);
    }

    #[tokio::test]
    async fn trims_by_time_matches_external_labels_and_limits() {
        let store = store();
        let matcher = |op, name: &str, value: &str| Matcher::new(op, name, value).unwrap();
        let trimmed = series(
            &store,
            SeriesRequest {
                min_time: 130_000,
                max_time: 140_000,
                matchers: vec![matcher(MatchOp::Equal, "pod", "p1")],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(trimmed.len(), 1);
        assert_eq!(trimmed[0].chunks.len(), 1);
        assert_eq!(trimmed[0].chunks[0].min_time, 120_001);

        let none = series(
            &store,
            SeriesRequest {
                min_time: i64::MIN,
                max_time: i64::MAX,
                matchers: vec![matcher(MatchOp::Equal, "replica", "b")],
                ..Default::default()
            },
        )
        .await;
        assert!(none.is_empty());

        let limited = series(
            &store,
            SeriesRequest {
                min_time: i64::MIN,
                max_time: i64::MAX,
                matchers: vec![matcher(MatchOp::Regex, "replica", "a|b")],
                without_replica_labels: vec!["replica".into()],
                limit: 2,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(limited.len(), 2);
        assert_eq!(limited[0].labels.get("replica"), None);
    }

    #[tokio::test]
    async fn label_apis() {
        let store = store();
        let names = store
            .label_names(LabelNamesRequest {
                start: i64::MIN,
                end: i64::MAX,
                without_replica_labels: vec!["replica".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(names.values, vec!["__name__", "pod"]);
        let values = store
            .label_values(LabelValuesRequest {
                label: "pod".into(),
                start: i64::MIN,
                end: i64::MAX,
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(values.values, vec!["p0", "p1"]);
        let info = store.info().await.unwrap();
        assert_eq!((info.min_time, info.max_time), (0, 299_002));
    }
}
