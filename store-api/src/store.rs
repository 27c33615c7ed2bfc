//! The `Store` trait: what every StoreAPI server implements (memory, sidecar, object storage,
//! the gateway itself) and what the client offers, in native types.

pub use crate::chunk::RawChunk;
use crate::error::StoreError;
use crate::labels::{Labels, Matcher};
use futures_util::stream::BoxStream;
use std::future::Future;

/// The stream of a `Series` call: series sorted by labels, interleaved with warnings.
pub type SeriesStream = BoxStream<'static, Result<SeriesFrame, StoreError>>;

pub trait Store: Send + Sync + 'static {
    fn info(&self) -> impl Future<Output = Result<StoreInfo, StoreError>> + Send;

    fn series(
        &self,
        request: SeriesRequest,
    ) -> impl Future<Output = Result<SeriesStream, StoreError>> + Send;

    fn label_names(
        &self,
        request: LabelNamesRequest,
    ) -> impl Future<Output = Result<LabelsResponse, StoreError>> + Send;

    fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> impl Future<Output = Result<LabelsResponse, StoreError>> + Send;

    /// Metric metadata (type, help, unit per metric name); stores without it have none.
    fn metric_metadata(
        &self,
        request: MetadataRequest,
    ) -> impl Future<Output = Result<MetadataResponse, StoreError>> + Send {
        let _ = request;
        async { Ok(MetadataResponse::default()) }
    }
}

/// `metric`: only this metric ("" for all); `limit`: at most this many metrics (0 = all).
#[derive(Clone, Debug, Default)]
pub struct MetadataRequest {
    pub metric: String,
    pub limit: usize,
    pub partial_response: PartialResponse,
}

/// One metadata entry of a metric.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Meta {
    pub kind: String,
    pub help: String,
    pub unit: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataResponse {
    /// By metric name, each metric's distinct entries.
    pub metrics: std::collections::BTreeMap<String, Vec<Meta>>,
    pub warnings: Vec<String>,
}

impl MetadataResponse {
    /// Adds `other`'s entries, keeping each metric's entries distinct.
    pub fn merge(&mut self, other: MetadataResponse) {
        for (metric, metas) in other.metrics {
            let entry = self.metrics.entry(metric).or_default();
            for meta in metas {
                if !entry.contains(&meta) {
                    entry.push(meta);
                }
            }
        }
        self.warnings.extend(other.warnings);
    }
}

/// What kind of component serves the API (`ComponentType` in Info).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Sidecar,
    Store,
    Query,
    Rule,
    Receive,
    Debug,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Sidecar => "sidecar",
            Component::Store => "store",
            Component::Query => "query",
            Component::Rule => "rule",
            Component::Receive => "receive",
            Component::Debug => "debug",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "sidecar" => Component::Sidecar,
            "store" => Component::Store,
            "query" => Component::Query,
            "rule" => Component::Rule,
            "receive" => Component::Receive,
            "debug" => Component::Debug,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StoreInfo {
    pub component: Component,
    /// External label sets; every series of the store carries one of them.
    pub label_sets: Vec<Labels>,
    /// Inclusive time range of the data, in milliseconds.
    pub min_time: i64,
    pub max_time: i64,
    pub supports_without_replica_labels: bool,
    /// Serves the metric metadata API (`metric_metadata` in Info).
    pub serves_metadata: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PartialResponse {
    /// A failing part becomes a warning and the rest is answered.
    #[default]
    Warn,
    /// A failing part fails the call.
    Abort,
}

#[derive(Clone, Debug, Default)]
pub struct SeriesRequest {
    /// Inclusive time range in milliseconds.
    pub min_time: i64,
    pub max_time: i64,
    pub matchers: Vec<Matcher>,
    /// Only labels are wanted (series API, label APIs).
    pub skip_chunks: bool,
    /// Label names to remove from every series (replica labels), keeping the stream sorted.
    pub without_replica_labels: Vec<String>,
    /// At most this many series; 0 is no limit.
    pub limit: usize,
    pub partial_response: PartialResponse,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SeriesFrame {
    Series(SeriesData),
    Warning(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    pub labels: Labels,
    pub chunks: Vec<RawChunk>,
}

#[derive(Clone, Debug, Default)]
pub struct LabelNamesRequest {
    pub start: i64,
    pub end: i64,
    pub matchers: Vec<Matcher>,
    pub without_replica_labels: Vec<String>,
    /// At most this many names; 0 is no limit.
    pub limit: usize,
    pub partial_response: PartialResponse,
}

#[derive(Clone, Debug, Default)]
pub struct LabelValuesRequest {
    pub label: String,
    pub start: i64,
    pub end: i64,
    pub matchers: Vec<Matcher>,
    pub without_replica_labels: Vec<String>,
    /// At most this many values; 0 is no limit.
    pub limit: usize,
    pub partial_response: PartialResponse,
}

/// Label names or label values: sorted, unique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelsResponse {
    pub values: Vec<String>,
    pub warnings: Vec<String>,
}

impl LabelsResponse {
    /// Sorts, removes duplicates and applies a limit (0 = none).
    pub fn from_unsorted(mut values: Vec<String>, limit: usize) -> Self {
        values.sort_unstable();
        values.dedup();
        if limit > 0 {
            values.truncate(limit);
        }
        Self {
            values,
            warnings: Vec::new(),
        }
    }
}
