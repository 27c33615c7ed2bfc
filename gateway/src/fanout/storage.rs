//! One request's view of the fan-out ([`FanoutStorage`]: the gateway's flags overridden by
//! the request's options), and the engine's `Storage` over it: the fan-out's series
//! (`series`) as samples, within the query's sample and series budgets.

use super::Fanout;
use super::series::{DecodedSeries, Samples, SeriesEvent};
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

    /// The selected series, decoded and de-duplicated; failing as soon as they hold more
    /// samples than the query's budget left, so that an over-limit query never holds them all.
    #[tracing::instrument(name = "select", skip_all, fields(selector = %store_api::labels::selector(&request.matchers)))]
    async fn select_series(&self, request: SelectRequest) -> Result<SelectResult, EngineError> {
        let mut result = SelectResult::default();
        let mut held = 0usize;
        let mut series = self.series::<Samples>(SeriesRequest {
            min_time: request.min_time,
            max_time: request.max_time,
            matchers: request.matchers,
            ..Default::default()
        });
        while let Some(event) = series.next().await {
            match event.map_err(EngineError::Storage)? {
                SeriesEvent::Warning(w) => result.warnings.push(w),
                SeriesEvent::Series(DecodedSeries {
                    labels,
                    data: samples,
                }) => {
                    held = held.saturating_add(samples.timestamps.len());
                    if held > request.max_samples {
                        return Err(too_many_samples());
                    }
                    if !samples.timestamps.is_empty() {
                        if result.series.len() == request.max_series {
                            return Err(too_many_series());
                        }
                        result.series.push(SeriesSamples {
                            labels,
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
