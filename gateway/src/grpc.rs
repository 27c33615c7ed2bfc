//! The gateway as a StoreAPI endpoint, so gateways stack into tiers (cluster → region →
//! global): Series merged and de-duplicated over the fan-out, with this gateway's external
//! labels attached; Info with the union of its endpoints' time ranges and label sets.
//!
//! Replicas are de-duplicated here and their labels removed, so an upper tier configured
//! with the same replica labels sees each series once and has nothing left to merge wrongly
//! (Thanos #1927).

use crate::fanout::series::{Data, DecodedSeries, SeriesEvent};
use crate::fanout::{Fanout, FanoutStorage, QueryOptions};
use futures_util::StreamExt;
use futures_util::stream;
use std::sync::Arc;
use store_api::chunk::xor_chunks;
use store_api::labels::without_external;
use store_api::{
    Component, LabelNamesRequest, LabelValuesRequest, Labels, LabelsResponse, MetadataRequest,
    MetadataResponse, PartialResponse, SeriesData, SeriesFrame, SeriesRequest, SeriesStream, Store,
    StoreError, StoreInfo,
};

/// Past this many chunk bytes a Series answer that must be re-sorted (see `series`) fails.
const MAX_SORTED_ANSWER_BYTES: usize = 1 << 30;

pub struct GatewayStore {
    fanout: Arc<Fanout>,
    external_labels: Labels,
}

impl GatewayStore {
    pub fn new(fanout: Arc<Fanout>, external_labels: Labels) -> Self {
        Self {
            fanout,
            external_labels,
        }
    }

    /// The fan-out for one request: the upper tier's replica labels apply in addition to
    /// ours (they are removed either way).
    fn storage(&self, extra_replica_labels: &[String], strategy: PartialResponse) -> FanoutStorage {
        let mut replica_labels = self.fanout.config.replica_labels.clone();
        replica_labels.extend(extra_replica_labels.iter().cloned());
        replica_labels.sort();
        replica_labels.dedup();
        FanoutStorage::new(
            self.fanout.clone(),
            QueryOptions {
                replica_labels: Some(replica_labels),
                partial_response: Some(strategy == PartialResponse::Warn),
                ..QueryOptions::default()
            },
        )
    }
}

impl Store for GatewayStore {
    async fn metric_metadata(
        &self,
        request: MetadataRequest,
    ) -> Result<MetadataResponse, StoreError> {
        let answer = self
            .storage(&[], request.partial_response)
            .metric_metadata(&request.metric, request.limit)
            .await?;
        let mut response = answer.data;
        response.warnings.extend(answer.warnings);
        Ok(response)
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let healthy = self.fanout.endpoints.healthy();
        let mut label_sets: Vec<Labels> = Vec::new();
        let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
        for (_, info) in &healthy {
            min_time = min_time.min(info.min_time);
            max_time = max_time.max(info.max_time);
            for set in &info.label_sets {
                let mut set = set.clone();
                set.retain(|l| !self.fanout.config.replica_labels.contains(&l.name));
                set.merge_missing(&self.external_labels);
                label_sets.push(set);
            }
        }
        if label_sets.is_empty() && !self.external_labels.is_empty() {
            label_sets.push(self.external_labels.clone());
        }
        label_sets.sort();
        label_sets.dedup();
        Ok(StoreInfo {
            component: Component::Query,
            label_sets,
            min_time,
            max_time,
            supports_without_replica_labels: true,
            serves_metadata: healthy.iter().any(|(_, info)| info.serves_metadata),
        })
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        // Our endpoints' series lack our external labels: matchers on them end here.
        let Some(matchers) = without_external(&self.external_labels, &request.matchers) else {
            return Ok(stream::empty().boxed());
        };
        let request = SeriesRequest {
            matchers,
            ..request
        };
        let storage = self.storage(&request.without_replica_labels, request.partial_response);
        let mut series = storage.series::<Data>(SeriesRequest {
            limit: 0,
            ..request.clone()
        });
        let mut frames = Vec::new();
        let mut bytes = 0usize;
        while let Some(event) = series.next().await {
            match event? {
                SeriesEvent::Warning(w) => frames.push(SeriesFrame::Warning(w)),
                SeriesEvent::Series(DecodedSeries { mut labels, data }) => {
                    let chunks = match data {
                        Data::Chunks(chunks) => chunks,
                        Data::Samples(samples) => xor_chunks(&samples.timestamps, &samples.values),
                    };
                    bytes += chunks.iter().map(|c| c.data.len()).sum::<usize>();
                    if bytes > MAX_SORTED_ANSWER_BYTES {
                        return Err(StoreError::LimitExceeded(format!(
                            "answer exceeds {MAX_SORTED_ANSWER_BYTES} bytes of chunks"
                        )));
                    }
                    labels.merge_missing(&self.external_labels);
                    frames.push(SeriesFrame::Series(SeriesData { labels, chunks }));
                }
            }
        }
        // Adding our external labels can reorder series: sort by the labels we send.
        frames.sort_by(|a, b| match (a, b) {
            (SeriesFrame::Series(a), SeriesFrame::Series(b)) => a.labels.cmp(&b.labels),
            (SeriesFrame::Warning(_), SeriesFrame::Series(_)) => std::cmp::Ordering::Less,
            (SeriesFrame::Series(_), SeriesFrame::Warning(_)) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Equal,
        });
        if request.limit > 0 {
            let mut series = 0;
            frames.retain(|f| match f {
                SeriesFrame::Series(_) => {
                    series += 1;
                    series <= request.limit
                }
                SeriesFrame::Warning(_) => true,
            });
        }
        Ok(stream::iter(frames.into_iter().map(Ok)).boxed())
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        let Some(matchers) = without_external(&self.external_labels, &request.matchers) else {
            return Ok(LabelsResponse::default());
        };
        let storage = self.storage(&request.without_replica_labels, request.partial_response);
        let answer = storage
            .label_names(request.start, request.end, matchers, 0)
            .await?;
        let mut names = answer.data;
        // Our external labels exist only where some series matched.
        let any_series = !names.is_empty();
        names.extend(
            self.external_labels
                .iter()
                .filter(|l| any_series && !request.without_replica_labels.contains(&l.name))
                .map(|l| l.name.clone()),
        );
        let mut response = LabelsResponse::from_unsorted(names, request.limit);
        response.warnings = answer.warnings;
        Ok(response)
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        let Some(matchers) = without_external(&self.external_labels, &request.matchers) else {
            return Ok(LabelsResponse::default());
        };
        let storage = self.storage(&request.without_replica_labels, request.partial_response);
        let (start, end) = (request.start, request.end);
        let answer = storage
            .label_values(&request.label, start, end, matchers.clone(), 0)
            .await?;
        let mut values = answer.data;
        if let Some(value) = self.external_labels.get(&request.label) {
            // Every matching series carries it (unless it has its own value).
            let names = storage.label_names(start, end, matchers, 0).await?;
            if !names.data.is_empty() {
                values.push(value.to_string());
            }
        }
        let mut response = LabelsResponse::from_unsorted(values, request.limit);
        response.warnings = answer.warnings;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store_api::server::RunningServer;
    use store_api::{Matcher, MemoryStore};

    /// A region gateway (`region="us"`) over one replica holding `up{pod="p0"|"p1"}`.
    async fn region() -> (GatewayStore, RunningServer) {
        let series = ["p0", "p1"].map(|pod| {
            (
                Labels::from_pairs([("__name__", "up"), ("pod", pod)]),
                vec![(1_000, 1.0)],
            )
        });
        let store = MemoryStore::new(Labels::from_pairs([("replica", "a")]), series);
        let server = store_api::server::spawn(Arc::new(store), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let fanout = Fanout::over_replicas(&[server.addr.to_string()], Default::default())
            .await
            .unwrap();
        (
            GatewayStore::new(fanout, Labels::from_pairs([("region", "us")])),
            server,
        )
    }

    fn values(label: &str, matchers: Vec<Matcher>) -> LabelValuesRequest {
        LabelValuesRequest {
            label: label.into(),
            start: i64::MIN,
            end: i64::MAX,
            matchers,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn matchers_on_our_external_labels_are_settled_here() {
        let (gateway, _server) = region().await;
        let us = || vec![Matcher::equal("region", "us")];
        let all = gateway.label_values(values("pod", vec![])).await.unwrap();
        assert_eq!(all.values, ["p0", "p1"], "{all:?}");
        let pods = gateway.label_values(values("pod", us())).await.unwrap();
        assert_eq!(pods.values, ["p0", "p1"]);
        let eu = vec![Matcher::equal("region", "eu")];
        assert!(
            gateway
                .label_values(values("pod", eu))
                .await
                .unwrap()
                .values
                .is_empty()
        );
        let series: Vec<_> = futures_util::TryStreamExt::try_collect::<Vec<_>>(
            gateway
                .series(SeriesRequest {
                    min_time: i64::MIN,
                    max_time: i64::MAX,
                    matchers: us(),
                    ..Default::default()
                })
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(series.len(), 2);
        let none = vec![Matcher::equal("pod", "nope")];
        assert!(
            gateway
                .label_values(values("region", none))
                .await
                .unwrap()
                .values
                .is_empty()
        );
    }
}
