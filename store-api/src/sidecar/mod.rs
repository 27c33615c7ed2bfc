//! The sidecar: a `Store` over a real Prometheus, through remote read (streamed XOR chunks,
//! passed through without re-encoding) and its HTTP API.

mod frames;
mod http_client;
pub(crate) mod label_api;
mod prometheus;

pub use http_client::HttpClientConfig;
pub use prometheus::{PrometheusClient, TsdbStatus};

use crate::chunk::ChunkEncoding;
use crate::convert;
use crate::error::StoreError;
use crate::labels::{Labels, METRIC_NAME, MatchOp, Matcher, without_external};
use crate::store::{
    Component, LabelNamesRequest, LabelValuesRequest, LabelsResponse, MetadataRequest,
    MetadataResponse, RawChunk, SeriesData, SeriesFrame, SeriesRequest, SeriesStream, Store,
    StoreInfo,
};
use futures_util::StreamExt;
use futures_util::stream;
use panoptes_proto::prometheus as prompb;
use std::sync::RwLock;

/// A sidecar answer is sorted in memory (see `series`); past this many chunk bytes the query
/// fails instead of exhausting memory.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 2 << 30;

pub struct SidecarStore {
    prometheus: PrometheusClient,
    /// The external labels last read from Prometheus' configuration; refreshed by every Info.
    external_labels: RwLock<Option<Labels>>,
    max_answer_bytes: usize,
}

impl SidecarStore {
    pub fn new(prometheus: PrometheusClient) -> Self {
        Self {
            prometheus,
            external_labels: RwLock::new(None),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }

    pub fn with_max_answer_bytes(mut self, bytes: usize) -> Self {
        self.max_answer_bytes = bytes;
        self
    }

    async fn refresh_external_labels(&self) -> Result<Labels, StoreError> {
        let labels = self.prometheus.external_labels().await?;
        if let Ok(mut cached) = self.external_labels.write() {
            *cached = Some(labels.clone());
        }
        Ok(labels)
    }

    async fn external_labels(&self) -> Result<Labels, StoreError> {
        let cached = self.external_labels.read().ok().and_then(|c| c.clone());
        match cached {
            Some(labels) => Ok(labels),
            None => self.refresh_external_labels().await,
        }
    }

    /// Reads one remote-read answer into series, joining the parts of a series that
    /// Prometheus split across frames.
    async fn read_series(
        &self,
        request: &SeriesRequest,
        external: &Labels,
        matchers: &[Matcher],
    ) -> Result<Vec<SeriesData>, StoreError> {
        let match_all;
        let matchers = if matchers.is_empty() {
            // Remote read needs a matcher; this one selects every series.
            match_all = [Matcher::new(MatchOp::Regex, METRIC_NAME, ".*")?];
            &match_all[..]
        } else {
            matchers
        };
        let mut answer = self
            .prometheus
            .remote_read(request.min_time, request.max_time, matchers)
            .await?;
        let mut series: Vec<SeriesData> = Vec::new();
        let mut bytes = 0usize;
        while let Some(part) = answer.next_series().await? {
            let mut labels = labels_from_prompb(part.labels);
            labels.merge_missing(external);
            labels.retain(|l| !request.without_replica_labels.contains(&l.name));
            let chunks = if request.skip_chunks {
                Vec::new()
            } else {
                chunks_from_prompb(part.chunks)?
            };
            bytes += chunks.iter().map(|c| c.data.len()).sum::<usize>();
            if bytes > self.max_answer_bytes {
                return Err(StoreError::LimitExceeded(format!(
                    "sidecar answer exceeds {} bytes of chunks; narrow the query",
                    self.max_answer_bytes
                )));
            }
            match series.last_mut() {
                Some(last) if last.labels == labels => last.chunks.extend(chunks),
                _ => series.push(SeriesData { labels, chunks }),
            }
        }
        Ok(series)
    }
}

fn labels_from_prompb(labels: Vec<prompb::Label>) -> Labels {
    convert::labels_from_pb(
        labels
            .into_iter()
            .map(|l| panoptes_proto::thanos::Label {
                name: l.name,
                value: l.value,
            })
            .collect(),
    )
}

fn chunks_from_prompb(chunks: Vec<prompb::Chunk>) -> Result<Vec<RawChunk>, StoreError> {
    chunks
        .into_iter()
        .map(|c| {
            let encoding = ChunkEncoding::from_prometheus(c.r#type).ok_or_else(|| {
                StoreError::BadData(format!("unknown remote-read chunk encoding {}", c.r#type))
            })?;
            Ok(RawChunk {
                min_time: c.min_time_ms,
                max_time: c.max_time_ms,
                encoding,
                data: c.data,
            })
        })
        .collect()
}

impl Store for SidecarStore {
    async fn metric_metadata(
        &self,
        request: MetadataRequest,
    ) -> Result<MetadataResponse, StoreError> {
        self.prometheus
            .metadata(&request.metric, request.limit)
            .await
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let external = self.refresh_external_labels().await?;
        let tsdb = self.prometheus.tsdb_status().await?;
        // A Prometheus that stores nothing yet (just started) reports an empty range; it
        // ingests in the present, so its data starts now: advertised so, the gateway does not
        // leave it out until the next Info.
        let nothing_stored = tsdb.min_time == i64::MAX;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Ok(StoreInfo {
            component: Component::Sidecar,
            label_sets: if external.is_empty() {
                Vec::new()
            } else {
                vec![external]
            },
            min_time: if nothing_stored {
                now_ms
            } else {
                tsdb.min_time
            },
            // A Prometheus that ingests has new samples before the next Info: its range stays
            // open-ended (as Thanos' sidecar advertises it). One that does not has a real end.
            max_time: if tsdb.head_series > 0 || nothing_stored {
                i64::MAX
            } else {
                // An empty head starts where the newest block ends: its exclusive end.
                tsdb.head_max_time.saturating_sub(1)
            },
            supports_without_replica_labels: true,
            serves_metadata: true,
        })
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let external = self.external_labels().await?;
        // Prometheus' TSDB does not hold the external labels: matchers on them end here.
        let Some(matchers) = without_external(&external, &request.matchers) else {
            return Ok(stream::empty().boxed());
        };
        let mut series = self.read_series(&request, &external, &matchers).await?;
        // Prometheus sorts by its TSDB labels before adding external labels, and dropping
        // replica labels reorders too: sort by the labels we send.
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        if request.limit > 0 {
            series.truncate(request.limit);
        }
        Ok(stream::iter(series.into_iter().map(|s| Ok(SeriesFrame::Series(s)))).boxed())
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        let external = self.external_labels().await?;
        label_api::label_names(&self.prometheus, &external, request).await
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        let external = self.external_labels().await?;
        label_api::label_values(&self.prometheus, &external, request).await
    }
}
