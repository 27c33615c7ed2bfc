//! Conversions between the wire messages (`panoptes_proto`) and the native types of `store`.
//! Everything that touches field-level wire details lives here.

use crate::chunk::ChunkEncoding;
use crate::error::StoreError;
use crate::labels::{Label, Labels, MatchOp, Matcher};
use crate::store::{
    Component, LabelNamesRequest, LabelValuesRequest, LabelsResponse, Meta, MetadataRequest,
    MetadataResponse, PartialResponse, RawChunk, SeriesData, SeriesFrame, SeriesRequest, StoreInfo,
};
use panoptes_proto::thanos as pb;
use panoptes_proto::thanos::info as infopb;

pub fn labels_from_pb(labels: Vec<pb::Label>) -> Labels {
    let labels: Vec<Label> = labels
        .into_iter()
        .map(|l| Label {
            name: l.name,
            value: l.value,
        })
        .collect();
    if Labels::is_sorted_unique(&labels) && labels.iter().all(|l| !l.value.is_empty()) {
        Labels::from_sorted(labels)
    } else {
        Labels::from_unsorted(labels)
    }
}

pub fn labels_to_pb(labels: Labels) -> Vec<pb::Label> {
    labels
        .into_vec()
        .into_iter()
        .map(|l| pb::Label {
            name: l.name,
            value: l.value,
        })
        .collect()
}

pub fn matcher_from_pb(m: pb::LabelMatcher) -> Result<Matcher, StoreError> {
    use pb::label_matcher::Type;
    let op = match Type::try_from(m.r#type) {
        Ok(Type::Eq) => MatchOp::Equal,
        Ok(Type::Neq) => MatchOp::NotEqual,
        Ok(Type::Re) => MatchOp::Regex,
        Ok(Type::Nre) => MatchOp::NotRegex,
        Err(_) => {
            return Err(StoreError::InvalidArgument(format!(
                "unknown matcher type {}",
                m.r#type
            )));
        }
    };
    Matcher::new(op, m.name, m.value)
}

pub fn matchers_from_pb(matchers: Vec<pb::LabelMatcher>) -> Result<Vec<Matcher>, StoreError> {
    matchers.into_iter().map(matcher_from_pb).collect()
}

pub fn matcher_to_pb(m: &Matcher) -> pb::LabelMatcher {
    use pb::label_matcher::Type;
    let kind = match m.op() {
        MatchOp::Equal => Type::Eq,
        MatchOp::NotEqual => Type::Neq,
        MatchOp::Regex => Type::Re,
        MatchOp::NotRegex => Type::Nre,
    };
    pb::LabelMatcher {
        r#type: kind as i32,
        name: m.name().to_string(),
        value: m.value().to_string(),
    }
}

fn partial_response_from_pb(disabled: bool, strategy: i32) -> PartialResponse {
    if disabled || strategy == pb::PartialResponseStrategy::Abort as i32 {
        PartialResponse::Abort
    } else {
        PartialResponse::Warn
    }
}

fn partial_response_to_pb(p: PartialResponse) -> (bool, i32) {
    match p {
        PartialResponse::Warn => (false, pb::PartialResponseStrategy::Warn as i32),
        PartialResponse::Abort => (true, pb::PartialResponseStrategy::Abort as i32),
    }
}

/// A negative limit means "none", as 0 does.
fn limit_from_pb(limit: i64) -> usize {
    usize::try_from(limit).unwrap_or(0)
}

fn limit_to_pb(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub fn series_request_from_pb(r: pb::SeriesRequest) -> Result<SeriesRequest, StoreError> {
    if r.min_time > r.max_time {
        return Err(StoreError::InvalidArgument(format!(
            "min_time {} is after max_time {}",
            r.min_time, r.max_time
        )));
    }
    Ok(SeriesRequest {
        min_time: r.min_time,
        max_time: r.max_time,
        matchers: matchers_from_pb(r.matchers)?,
        skip_chunks: r.skip_chunks,
        without_replica_labels: r.without_replica_labels,
        limit: limit_from_pb(r.limit),
        partial_response: partial_response_from_pb(
            r.partial_response_disabled,
            r.partial_response_strategy,
        ),
    })
}

pub fn series_request_to_pb(r: &SeriesRequest) -> pb::SeriesRequest {
    let (disabled, strategy) = partial_response_to_pb(r.partial_response);
    pb::SeriesRequest {
        min_time: r.min_time,
        max_time: r.max_time,
        matchers: r.matchers.iter().map(matcher_to_pb).collect(),
        skip_chunks: r.skip_chunks,
        without_replica_labels: r.without_replica_labels.clone(),
        limit: limit_to_pb(r.limit),
        partial_response_disabled: disabled,
        partial_response_strategy: strategy,
        ..Default::default()
    }
}

pub fn chunk_to_pb(c: RawChunk) -> pb::AggrChunk {
    pb::AggrChunk {
        min_time: c.min_time,
        max_time: c.max_time,
        raw: Some(pb::Chunk {
            r#type: c.encoding.to_storeapi(),
            data: c.data,
            hash: 0,
        }),
        ..Default::default()
    }
}

/// Only raw chunks are read; downsampled aggregates are not produced by any Panoptes store.
pub fn chunk_from_pb(c: pb::AggrChunk) -> Result<RawChunk, StoreError> {
    let raw = c.raw.ok_or_else(|| {
        StoreError::BadData("chunk without raw data (downsampled chunks are not supported)".into())
    })?;
    let encoding = ChunkEncoding::from_storeapi(raw.r#type)
        .ok_or_else(|| StoreError::BadData(format!("unknown chunk encoding {}", raw.r#type)))?;
    Ok(RawChunk {
        min_time: c.min_time,
        max_time: c.max_time,
        encoding,
        data: raw.data,
    })
}

pub fn series_to_pb(s: SeriesData) -> pb::Series {
    pb::Series {
        labels: labels_to_pb(s.labels),
        chunks: s.chunks.into_iter().map(chunk_to_pb).collect(),
    }
}

pub fn series_from_pb(s: pb::Series) -> Result<SeriesData, StoreError> {
    Ok(SeriesData {
        labels: labels_from_pb(s.labels),
        chunks: s
            .chunks
            .into_iter()
            .map(chunk_from_pb)
            .collect::<Result<_, _>>()?,
    })
}

pub fn frame_to_pb(frame: SeriesFrame) -> pb::SeriesResponse {
    use pb::series_response::Result as R;
    let result = match frame {
        SeriesFrame::Series(s) => R::Series(series_to_pb(s)),
        SeriesFrame::Warning(w) => R::Warning(w),
    };
    pb::SeriesResponse {
        result: Some(result),
    }
}

/// One response message may carry several series (a batch) or none (hints).
pub fn frames_from_pb(r: pb::SeriesResponse) -> Result<Vec<SeriesFrame>, StoreError> {
    use pb::series_response::Result as R;
    Ok(match r.result {
        Some(R::Series(s)) => vec![SeriesFrame::Series(series_from_pb(s)?)],
        Some(R::Warning(w)) => vec![SeriesFrame::Warning(w)],
        Some(R::Batch(b)) => b
            .series
            .into_iter()
            .map(|s| series_from_pb(s).map(SeriesFrame::Series))
            .collect::<Result<_, _>>()?,
        Some(R::Hints(_)) | None => Vec::new(),
    })
}

pub fn label_names_request_from_pb(
    r: pb::LabelNamesRequest,
) -> Result<LabelNamesRequest, StoreError> {
    Ok(LabelNamesRequest {
        start: r.start,
        end: r.end,
        matchers: matchers_from_pb(r.matchers)?,
        without_replica_labels: r.without_replica_labels,
        limit: limit_from_pb(r.limit),
        partial_response: partial_response_from_pb(
            r.partial_response_disabled,
            r.partial_response_strategy,
        ),
    })
}

pub fn label_names_request_to_pb(r: &LabelNamesRequest) -> pb::LabelNamesRequest {
    let (disabled, strategy) = partial_response_to_pb(r.partial_response);
    pb::LabelNamesRequest {
        partial_response_disabled: disabled,
        partial_response_strategy: strategy,
        start: r.start,
        end: r.end,
        hints: None,
        matchers: r.matchers.iter().map(matcher_to_pb).collect(),
        without_replica_labels: r.without_replica_labels.clone(),
        limit: limit_to_pb(r.limit),
    }
}

pub fn label_values_request_from_pb(
    r: pb::LabelValuesRequest,
) -> Result<LabelValuesRequest, StoreError> {
    if r.label.is_empty() {
        return Err(StoreError::InvalidArgument("label name is empty".into()));
    }
    Ok(LabelValuesRequest {
        label: r.label,
        start: r.start,
        end: r.end,
        matchers: matchers_from_pb(r.matchers)?,
        without_replica_labels: r.without_replica_labels,
        limit: limit_from_pb(r.limit),
        partial_response: partial_response_from_pb(
            r.partial_response_disabled,
            r.partial_response_strategy,
        ),
    })
}

pub fn label_values_request_to_pb(r: &LabelValuesRequest) -> pb::LabelValuesRequest {
    let (disabled, strategy) = partial_response_to_pb(r.partial_response);
    pb::LabelValuesRequest {
        label: r.label.clone(),
        partial_response_disabled: disabled,
        partial_response_strategy: strategy,
        start: r.start,
        end: r.end,
        hints: None,
        matchers: r.matchers.iter().map(matcher_to_pb).collect(),
        without_replica_labels: r.without_replica_labels.clone(),
        limit: limit_to_pb(r.limit),
    }
}

pub fn info_to_pb(info: StoreInfo) -> infopb::InfoResponse {
    infopb::InfoResponse {
        label_sets: info
            .label_sets
            .into_iter()
            .map(|l| pb::ZLabelSet {
                labels: labels_to_pb(l),
            })
            .collect(),
        component_type: info.component.as_str().to_string(),
        store: Some(infopb::StoreInfo {
            min_time: info.min_time,
            max_time: info.max_time,
            supports_sharding: false,
            supports_without_replica_labels: info.supports_without_replica_labels,
            tsdb_infos: Vec::new(),
        }),
        metric_metadata: info
            .serves_metadata
            .then_some(infopb::MetricMetadataInfo {}),
        ..Default::default()
    }
}

pub fn info_from_pb(r: infopb::InfoResponse) -> Result<StoreInfo, StoreError> {
    let store = r.store.ok_or_else(|| {
        StoreError::BadData(format!(
            "component {:?} does not serve the Store API (Info without store)",
            r.component_type
        ))
    })?;
    Ok(StoreInfo {
        component: Component::parse(&r.component_type).unwrap_or(Component::Store),
        label_sets: r
            .label_sets
            .into_iter()
            .map(|s| labels_from_pb(s.labels))
            .collect(),
        min_time: store.min_time,
        max_time: store.max_time,
        supports_without_replica_labels: store.supports_without_replica_labels,
        serves_metadata: r.metric_metadata.is_some(),
    })
}

pub fn metadata_request_from_pb(r: pb::MetricMetadataRequest) -> MetadataRequest {
    MetadataRequest {
        metric: r.metric,
        limit: usize::try_from(r.limit).unwrap_or(0),
        partial_response: partial_response_from_pb(false, r.partial_response_strategy),
    }
}

pub fn metadata_request_to_pb(r: &MetadataRequest) -> pb::MetricMetadataRequest {
    pb::MetricMetadataRequest {
        metric: r.metric.clone(),
        limit: i32::try_from(r.limit).unwrap_or(i32::MAX),
        partial_response_strategy: partial_response_to_pb(r.partial_response).1,
    }
}

pub fn metadata_to_pb(r: MetadataResponse) -> pb::MetricMetadata {
    pb::MetricMetadata {
        metadata: r
            .metrics
            .into_iter()
            .map(|(metric, metas)| {
                let metas = metas
                    .into_iter()
                    .map(|m| pb::Meta {
                        r#type: m.kind,
                        help: m.help,
                        unit: m.unit,
                    })
                    .collect();
                (metric, pb::MetricMetadataEntry { metas })
            })
            .collect(),
    }
}

pub fn metadata_from_pb(r: pb::MetricMetadata) -> MetadataResponse {
    MetadataResponse {
        metrics: r
            .metadata
            .into_iter()
            .map(|(metric, entry)| {
                let metas = entry
                    .metas
                    .into_iter()
                    .map(|m| Meta {
                        kind: m.r#type,
                        help: m.help,
                        unit: m.unit,
                    })
                    .collect();
                (metric, metas)
            })
            .collect(),
        warnings: Vec::new(),
    }
}

pub fn labels_response_from_names(r: pb::LabelNamesResponse) -> LabelsResponse {
    LabelsResponse {
        values: r.names,
        warnings: r.warnings,
    }
}

pub fn labels_response_from_values(r: pb::LabelValuesResponse) -> LabelsResponse {
    LabelsResponse {
        values: r.values,
        warnings: r.warnings,
    }
}
