//! A `Store` over VictoriaMetrics' Prometheus-compatible HTTP API: a single node
//! (`http://host:8428`) or a vmselect with its tenant path
//! (`http://host:8481/select/0/prometheus`). Series come from `/api/v1/export` (raw samples,
//! encoded here as XOR chunks), label names and values from the label APIs. VictoriaMetrics
//! keeps no external labels: the endpoint's configured labels are added to every series.

mod export;

use crate::error::StoreError;
use crate::labels::{Labels, METRIC_NAME, MatchOp, Matcher, selector, without_external};
use crate::sidecar::{DEFAULT_MAX_ANSWER_BYTES, PrometheusClient, label_api};
use crate::store::{
    Component, LabelNamesRequest, LabelValuesRequest, LabelsResponse, SeriesFrame, SeriesRequest,
    SeriesStream, Store, StoreInfo,
};
use export::Assembler;
use futures_util::{StreamExt, stream};
use std::time::{SystemTime, UNIX_EPOCH};

/// VictoriaMetrics refuses times before 1970 and treats ranges far in the future oddly (its
/// label APIs answer nothing): requests are clamped to `[0, now + this]`, as it accepts no
/// samples later than two days ahead either.
const FUTURE_MS: i64 = 2 * 24 * 3600 * 1000;

pub struct VictoriaMetricsStore {
    api: PrometheusClient,
    /// The endpoint's external labels: every series carries them.
    labels: Labels,
}

impl VictoriaMetricsStore {
    /// `api` is a client of its Prometheus-compatible API; `labels` the external labels.
    pub fn new(api: PrometheusClient, labels: Labels) -> Self {
        Self {
            api: api.named("VictoriaMetrics"),
            labels,
        }
    }

    /// `[start, end]` as VictoriaMetrics takes it, if any of it can hold data.
    fn clamp(start: i64, end: i64) -> Option<(i64, i64)> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let (start, end) = (start.max(0), end.min(now + FUTURE_MS));
        (start <= end).then_some((start, end))
    }

    /// The matchers VictoriaMetrics sees: none on the external labels, and at least one that
    /// selects something (it refuses an empty selector). `None`: no series can match.
    fn matchers(&self, matchers: &[Matcher]) -> Result<Option<Vec<Matcher>>, StoreError> {
        let Some(mut matchers) = without_external(&self.labels, matchers) else {
            return Ok(None);
        };
        if matchers.iter().all(Matcher::matches_empty) {
            matchers.push(Matcher::new(MatchOp::Regex, METRIC_NAME, ".+")?);
        }
        Ok(Some(matchers))
    }

    /// Streams one export answer into an [`Assembler`].
    async fn export(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Assembler, StoreError> {
        let params = [
            ("match[]", selector(matchers)),
            ("start", seconds(start)),
            ("end", seconds(end)),
        ];
        let mut response = self.api.get("/api/v1/export", &params).await?;
        let mut assembler = Assembler::new(start, end, DEFAULT_MAX_ANSWER_BYTES);
        loop {
            match response.chunk().await {
                Ok(Some(bytes)) => assembler.push(&bytes)?,
                Ok(None) => return Ok(assembler),
                Err(e) => return Err(self.api.request_error("reading export answer", e)),
            }
        }
    }
}

/// Milliseconds as the API's float seconds.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

impl Store for VictoriaMetricsStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        self.api.probe().await?;
        Ok(StoreInfo {
            component: Component::Store,
            label_sets: if self.labels.is_empty() {
                Vec::new()
            } else {
                vec![self.labels.clone()]
            },
            // VictoriaMetrics does not say what range it holds cheaply: open at both ends.
            min_time: i64::MIN,
            max_time: i64::MAX,
            supports_without_replica_labels: true,
            serves_metadata: false,
        })
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let (Some(matchers), Some((start, end))) = (
            self.matchers(&request.matchers)?,
            Self::clamp(request.min_time, request.max_time),
        ) else {
            return Ok(stream::empty().boxed());
        };
        let assembler = self.export(start, end, &matchers).await?;
        let without = &request.without_replica_labels;
        let mut series = assembler.finish(request.skip_chunks, |mut labels| {
            labels.merge_missing(&self.labels);
            labels.retain(|l| !without.contains(&l.name));
            labels
        })?;
        if request.limit > 0 {
            series.truncate(request.limit);
        }
        Ok(stream::iter(series.into_iter().map(|s| Ok(SeriesFrame::Series(s)))).boxed())
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        let Some((start, end)) = Self::clamp(request.start, request.end) else {
            return Ok(LabelsResponse::default());
        };
        let request = LabelNamesRequest {
            start,
            end,
            ..request
        };
        label_api::label_names(&self.api, &self.labels, request).await
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        let Some((start, end)) = Self::clamp(request.start, request.end) else {
            return Ok(LabelsResponse::default());
        };
        let request = LabelValuesRequest {
            start,
            end,
            ..request
        };
        label_api::label_values(&self.api, &self.labels, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_clamped_to_what_victoriametrics_takes() {
        assert_eq!(seconds(1_500), "1.500");
        assert_eq!(seconds(0), "0.000");
        let (start, end) = VictoriaMetricsStore::clamp(i64::MIN, i64::MAX).unwrap();
        assert_eq!(start, 0);
        assert!(end < 10_000_000_000_000);
        assert_eq!(VictoriaMetricsStore::clamp(-5, -1), None);
    }
}
