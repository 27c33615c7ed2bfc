//! The engine's storage over the fan-out: selected endpoints are merged, replicas
//! de-duplicated, chunks decoded and trimmed to the requested range.

use super::Fanout;
use super::decode;
use super::merge::{MergeEvent, MergeOptions, Merger};
use super::selection::selected;
use crate::promql::storage::{too_many_samples, too_many_series};
use crate::promql::{EngineError, SelectRequest, SelectResult, SeriesSamples, Storage};
use futures_util::future::BoxFuture;
use std::sync::Arc;
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

    /// Starts merging the endpoints selected for `request` (time range, matchers,
    /// storeMatch[]), with this request's replica labels and partial-response strategy; the
    /// endpoints it would have read and cannot are its warnings (or its error).
    pub fn merge(&self, request: SeriesRequest) -> Merger {
        let selection = self.fanout.select(|endpoint, info| {
            selected(
                info,
                &endpoint.address,
                request.min_time,
                request.max_time,
                &request.matchers,
                &self.options.store_matchers,
            )
        });
        let options = MergeOptions {
            request: SeriesRequest {
                partial_response: self.partial_response(),
                ..request
            },
            replica_labels: self.replica_labels(),
            response_timeout: self.fanout.config.response_timeout,
            replica_grace: self.fanout.config.replica_grace,
            metrics: self.fanout.metrics.clone(),
        };
        Merger::start(selection.usable, &options).left_out(selection.left_out)
    }

    /// The selected series, decoded and de-duplicated; failing as soon as they hold more
    /// samples than the query's budget left, so that an over-limit query never holds them all.
    #[tracing::instrument(name = "select", skip_all, fields(selector = %store_api::labels::selector(&request.matchers)))]
    async fn select_series(&self, request: SelectRequest) -> Result<SelectResult, EngineError> {
        let mut result = SelectResult::default();
        let mut held = 0usize;
        let mut merger = self.merge(SeriesRequest {
            min_time: request.min_time,
            max_time: request.max_time,
            matchers: request.matchers,
            ..Default::default()
        });
        while let Some(event) = merger.next().await {
            match event.map_err(EngineError::Storage)? {
                MergeEvent::Warning(w) => result.warnings.push(w),
                MergeEvent::Series(series) => {
                    let samples = decode::samples(
                        &series,
                        request.min_time,
                        request.max_time,
                        self.fanout.config.dedup,
                        self.partial_response(),
                        &self.fanout.metrics,
                        &mut result.warnings,
                    )
                    .map_err(EngineError::Storage)?;
                    held = held.saturating_add(samples.timestamps.len());
                    if held > request.max_samples {
                        return Err(too_many_samples());
                    }
                    if !samples.timestamps.is_empty() {
                        if result.series.len() == request.max_series {
                            return Err(too_many_series());
                        }
                        result.series.push(SeriesSamples {
                            labels: series.labels,
                            timestamps: samples.timestamps,
                            values: samples.values,
                            start_timestamps: Vec::new(),
                        });
                    }
                }
            }
        }
        Ok(result)
    }
}

impl Storage for FanoutStorage {
    fn select(&self, request: SelectRequest) -> BoxFuture<'_, Result<SelectResult, EngineError>> {
        Box::pin(self.select_series(request))
    }
}
