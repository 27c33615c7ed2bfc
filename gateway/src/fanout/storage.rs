//! The engine's storage over the fan-out: selected endpoints are merged, replicas
//! de-duplicated, chunks decoded and trimmed to the requested range.

use super::Fanout;
use super::dedup::{Replica, SeriesHint};
use super::merge::{MergeEvent, MergeOptions, MergedSeries, Merger};
use super::selection::selected;
use crate::promql::{EngineError, SelectRequest, SelectResult, SeriesSamples, Storage};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use store_api::chunk::{ChunkEncoding, decode_into};
use store_api::labels::METRIC_NAME;
use store_api::{Matcher, PartialResponse, SeriesRequest};

/// Per-request choices (the API's `dedup`, `replicaLabels[]`, `partial_response`,
/// `storeMatch[]`), defaulting to the gateway's flags.
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    pub dedup: Option<bool>,
    pub replica_labels: Option<Vec<String>>,
    pub partial_response: Option<bool>,
    pub store_matchers: Vec<Vec<Matcher>>,
}

pub struct FanoutStorage {
    fanout: Arc<Fanout>,
    options: QueryOptions,
}

impl FanoutStorage {
    pub fn new(fanout: Arc<Fanout>, options: QueryOptions) -> Self {
        Self { fanout, options }
    }

    pub fn fanout(&self) -> &Fanout {
        &self.fanout
    }

    pub fn options(&self) -> &QueryOptions {
        &self.options
    }

    pub fn replica_labels(&self) -> Vec<String> {
        if self.options.dedup == Some(false) {
            return Vec::new();
        }
        self.options
            .replica_labels
            .clone()
            .unwrap_or_else(|| self.fanout.config.replica_labels.clone())
    }

    pub fn partial_response(&self) -> PartialResponse {
        if self
            .options
            .partial_response
            .unwrap_or(self.fanout.config.partial_response)
        {
            PartialResponse::Warn
        } else {
            PartialResponse::Abort
        }
    }

    async fn select_series(&self, request: SelectRequest) -> Result<SelectResult, EngineError> {
        let endpoints: Vec<_> = self
            .fanout
            .endpoints
            .healthy()
            .into_iter()
            .filter(|(endpoint, info)| {
                selected(
                    info,
                    &endpoint.address,
                    request.min_time,
                    request.max_time,
                    &request.matchers,
                    &self.options.store_matchers,
                )
            })
            .map(|(endpoint, info)| (endpoint, info.supports_without_replica_labels))
            .collect();
        let mut result = SelectResult::default();
        if endpoints.is_empty() {
            return Ok(result);
        }
        let options = MergeOptions {
            request: SeriesRequest {
                min_time: request.min_time,
                max_time: request.max_time,
                matchers: request.matchers,
                partial_response: self.partial_response(),
                ..Default::default()
            },
            replica_labels: self.replica_labels(),
            response_timeout: self.fanout.config.response_timeout,
        };
        let mut merger = Merger::start(endpoints, &options);
        while let Some(event) = merger.next().await {
            match event.map_err(EngineError::Storage)? {
                MergeEvent::Warning(w) => result.warnings.push(w),
                MergeEvent::Series(series) => {
                    let samples = self.samples(series, request.min_time, request.max_time)?;
                    if !samples.timestamps.is_empty() {
                        result.series.push(samples);
                    }
                }
            }
        }
        Ok(result)
    }

    /// Decodes a merged series; several parts are de-duplicated into one.
    fn samples(
        &self,
        series: MergedSeries,
        min: i64,
        max: i64,
    ) -> Result<SeriesSamples, EngineError> {
        let mut decoded: Vec<(Vec<i64>, Vec<f64>)> = Vec::with_capacity(series.parts.len());
        for part in &series.parts {
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            for chunk in &part.chunks {
                if chunk.encoding != ChunkEncoding::Xor {
                    continue;
                }
                decode_into(&chunk.data, &mut ts, &mut vs)
                    .map_err(|e| EngineError::Storage(format!("series {}: {e}", series.labels)))?;
            }
            trim(&mut ts, &mut vs, min, max);
            decoded.push((ts, vs));
        }
        let mut out = SeriesSamples {
            labels: series.labels,
            ..Default::default()
        };
        if decoded.len() == 1 {
            let (ts, vs) = decoded.pop().unwrap_or_default();
            out.timestamps = ts;
            out.values = vs;
            return Ok(out);
        }
        let replicas: Vec<Replica<'_>> = decoded
            .iter()
            .map(|(ts, vs)| Replica {
                timestamps: ts,
                values: vs,
            })
            .collect();
        let hint = SeriesHint::from_metric_name(out.labels.get(METRIC_NAME).unwrap_or(""));
        self.fanout
            .config
            .dedup
            .merge(&replicas, hint, &mut out.timestamps, &mut out.values);
        Ok(out)
    }
}

/// Chunks may reach outside the requested range; keep [min, max].
fn trim(ts: &mut Vec<i64>, vs: &mut Vec<f64>, min: i64, max: i64) {
    let start = ts.partition_point(|&t| t < min);
    let end = ts.partition_point(|&t| t <= max);
    ts.truncate(end);
    vs.truncate(end);
    ts.drain(..start);
    vs.drain(..start);
}

impl Storage for FanoutStorage {
    fn select(&self, request: SelectRequest) -> BoxFuture<'_, Result<SelectResult, EngineError>> {
        Box::pin(self.select_series(request))
    }
}
