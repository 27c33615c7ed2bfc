//! What the engine reads series through. The fan-out implements it over StoreAPI endpoints;
//! `MemoryStorage` serves unit tests and the conformance runner from an in-memory store.

use super::error::EngineError;
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use store_api::chunk::{ChunkEncoding, decode_into, trim_to_range};
use store_api::{Labels, Matcher, SeriesFrame, SeriesRequest, Store, StoreError};

/// One selector's worth of series, with the time range the engine needs.
#[derive(Clone, Debug)]
pub struct SelectRequest {
    pub matchers: Vec<Matcher>,
    /// Inclusive, milliseconds.
    pub min_time: i64,
    pub max_time: i64,
    /// The query's sample budget left (`usize::MAX`: none): a storage that decodes more may
    /// fail with [`too_many_samples`] as soon as it does, rather than hold them all first.
    pub max_samples: usize,
    /// The query's series budget left (`usize::MAX`: none), failing likewise with
    /// [`too_many_series`].
    pub max_series: usize,
}

/// Prometheus' words for a query over its sample limit (`--query.max-samples`).
pub fn too_many_samples() -> EngineError {
    EngineError::Limit(
        "query processing would load too many samples into memory in query execution".into(),
    )
}

/// A query over `--query.max-series`, in the words of the samples limit.
pub fn too_many_series() -> EngineError {
    EngineError::Limit(
        "query processing would load too many series into memory in query preparation \
         (--query.max-series)"
            .into(),
    )
}

/// A series' raw samples in [min_time, max_time], columnar.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// Each sample's start (created) timestamp, ms, 0 where unknown; empty when the storage
    /// has none, which is always the case over StoreAPI.
    pub start_timestamps: Vec<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct SelectResult {
    /// Sorted by labels, labels unique.
    pub series: Vec<SeriesSamples>,
    pub warnings: Vec<String>,
}

pub trait Storage: Send + Sync {
    fn select(&self, request: SelectRequest) -> BoxFuture<'_, Result<SelectResult, EngineError>>;
}

/// Storage over any `Store` (the in-memory store in tests): reads the series stream and
/// decodes the chunks, trimmed to the requested range.
pub struct StoreStorage<S> {
    store: Arc<S>,
}

impl<S: Store> StoreStorage<S> {
    pub fn new(store: Arc<S>) -> Self {
        Self { store }
    }
}

impl<S: Store> Storage for StoreStorage<S> {
    fn select(&self, request: SelectRequest) -> BoxFuture<'_, Result<SelectResult, EngineError>> {
        Box::pin(async move {
            let stream = self
                .store
                .series(SeriesRequest {
                    min_time: request.min_time,
                    max_time: request.max_time,
                    matchers: request.matchers,
                    ..Default::default()
                })
                .await
                .map_err(EngineError::Storage)?;
            let frames: Vec<SeriesFrame> =
                stream.try_collect().await.map_err(EngineError::Storage)?;
            let mut result = SelectResult::default();
            for frame in frames {
                match frame {
                    SeriesFrame::Warning(w) => result.warnings.push(w),
                    SeriesFrame::Series(s) => {
                        let mut samples = SeriesSamples {
                            labels: s.labels,
                            ..Default::default()
                        };
                        for chunk in &s.chunks {
                            if chunk.encoding != ChunkEncoding::Xor {
                                continue;
                            }
                            decode_into(&chunk.data, &mut samples.timestamps, &mut samples.values)
                                .map_err(|e| {
                                    EngineError::Storage(StoreError::BadData(e.to_string()))
                                })?;
                        }
                        trim_to_range(
                            &mut samples.timestamps,
                            &mut samples.values,
                            request.min_time,
                            request.max_time,
                        );
                        if !samples.timestamps.is_empty() {
                            result.series.push(samples);
                        }
                    }
                }
            }
            Ok(result)
        })
    }
}
