//! Label names, label values and series (labels only) over the fan-out: the same endpoint
//! selection and partial-response rules as queries, answers merged and replica labels
//! removed.

use super::endpoint_client::EndpointClient;
use super::endpoints::{Selection, endpoint_error, left_out_error};
use super::hedge::{self, Waited};
use super::metrics::{Api, Outcome};
use super::selection::selected;
use super::series::{Data, SeriesEvent};
use super::storage::FanoutStorage;
use store_api::{
    LabelNamesRequest, LabelValuesRequest, Labels, LabelsResponse, Matcher, MetadataRequest,
    MetadataResponse, PartialResponse, SeriesRequest, Store, StoreError,
};
use tracing::Instrument;

/// What one endpoint's call came to.
enum Called<T> {
    Answer(T),
    Failed(StoreError),
    /// Cut by hedging: a replica answered.
    Cut(String),
}

/// Answers of a metadata call: values plus partial-response warnings.
#[derive(Debug, Default, PartialEq)]
pub struct Answer<T> {
    pub data: T,
    pub warnings: Vec<String>,
}

impl FanoutStorage {
    fn endpoints_for(&self, start: i64, end: i64, matchers: &[Matcher]) -> Selection {
        self.fanout().select(|e, info| {
            selected(
                info,
                &e.address,
                start,
                end,
                matchers,
                &self.options().store_matchers,
            )
        })
    }

    /// Calls `call` on every usable endpoint of `selection` concurrently, each bounded by the
    /// response timeout, replicas of one shard hedged (`hedge`). A failing or left-out
    /// endpoint is a warning naming it (partial response) or the error (abort); a replica cut
    /// by hedging is a warning.
    async fn call_each<T, F, Fut>(
        &self,
        selection: Selection,
        api: Api,
        call: F,
    ) -> Result<(Vec<T>, Vec<String>), StoreError>
    where
        F: Fn(EndpointClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        if self.partial_response() == PartialResponse::Abort
            && let Some(error) = left_out_error(&selection.left_out)
        {
            return Err(error);
        }
        let config = &self.fanout().config;
        let timeout = config.response_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let members = hedge::shards(&selection.usable, &self.replica_labels());
        let calls = selection
            .usable
            .iter()
            .zip(&members)
            .map(|((endpoint, _), member)| {
                let call = call(endpoint.client.clone());
                let grace = hedge::grace(endpoint, config.replica_grace);
                let span = tracing::info_span!(
                    "endpoint.call",
                    otel.name = api.label(),
                    endpoint = %endpoint.address
                );
                let call = call.instrument(span);
                async move {
                    let started = tokio::time::Instant::now();
                    let called = match hedge::wait(call, deadline, member.as_ref(), grace).await {
                        Waited::Done(Ok(answer)) => {
                            if let Some(member) = member {
                                member.progressed();
                            }
                            Called::Answer(answer)
                        }
                        Waited::Done(Err(e)) => Called::Failed(e),
                        Waited::Deadline => Called::Failed(StoreError::Timeout(format!(
                            "no answer within {timeout:?}"
                        ))),
                        Waited::Cut(replica) => Called::Cut(hedge::cut(endpoint, grace, &replica)),
                    };
                    let outcome = match called {
                        Called::Answer(_) => Outcome::Complete,
                        Called::Failed(_) => Outcome::Failed,
                        Called::Cut(_) => Outcome::Cut,
                    };
                    let metrics = &self.fanout().metrics;
                    metrics.call(&endpoint.address, api, outcome, started.elapsed());
                    called
                }
            });
        let results = futures_util::future::join_all(calls).await;
        let mut answers = Vec::with_capacity(results.len());
        let mut warnings = selection.left_out;
        for ((endpoint, _), result) in selection.usable.iter().zip(results) {
            match result {
                Called::Answer(answer) => answers.push(answer),
                Called::Cut(reason) => {
                    warnings.push(format!("endpoint {}: {reason}", endpoint.address))
                }
                Called::Failed(err) => {
                    let err = endpoint_error(&endpoint.address, &err);
                    if self.partial_response() == PartialResponse::Abort {
                        return Err(err);
                    }
                    warnings.push(err.message().into());
                }
            }
        }
        Ok((answers, warnings))
    }

    /// Calls every endpoint of `selection` with `call`, unions the answers without
    /// `exclude`.
    async fn union<F, Fut>(
        &self,
        selection: Selection,
        api: Api,
        limit: usize,
        exclude: &[String],
        call: F,
    ) -> Result<Answer<Vec<String>>, StoreError>
    where
        F: Fn(EndpointClient) -> Fut,
        Fut: std::future::Future<Output = Result<LabelsResponse, StoreError>>,
    {
        let (answers, mut warnings) = self.call_each(selection, api, call).await?;
        let mut values = Vec::new();
        for answer in answers {
            values.extend(answer.values.into_iter().filter(|v| !exclude.contains(v)));
            warnings.extend(answer.warnings);
        }
        values.sort_unstable();
        values.dedup();
        if limit > 0 {
            values.truncate(limit);
        }
        Ok(Answer {
            data: values,
            warnings,
        })
    }

    pub async fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: Vec<Matcher>,
        limit: usize,
    ) -> Result<Answer<Vec<String>>, StoreError> {
        let request = LabelNamesRequest {
            start,
            end,
            matchers: matchers.clone(),
            without_replica_labels: self.replica_labels(),
            limit,
            partial_response: self.partial_response(),
        };
        let replica_labels = self.replica_labels();
        let selection = self.endpoints_for(start, end, &matchers);
        self.union(
            selection,
            Api::LabelNames,
            limit,
            &replica_labels,
            |client| {
                let request = request.clone();
                async move { client.label_names(request).await }
            },
        )
        .await
    }

    pub async fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: Vec<Matcher>,
        limit: usize,
    ) -> Result<Answer<Vec<String>>, StoreError> {
        if self.replica_labels().iter().any(|r| r == name) {
            return Ok(Answer::default());
        }
        let request = LabelValuesRequest {
            label: name.to_string(),
            start,
            end,
            matchers: matchers.clone(),
            without_replica_labels: self.replica_labels(),
            limit,
            partial_response: self.partial_response(),
        };
        let selection = self.endpoints_for(start, end, &matchers);
        self.union(selection, Api::LabelValues, limit, &[], |client| {
            let request = request.clone();
            async move { client.label_values(request).await }
        })
        .await
    }

    /// Metric metadata of every endpoint that serves it, merged (`limit` metrics at most).
    pub async fn metric_metadata(
        &self,
        metric: &str,
        limit: usize,
    ) -> Result<Answer<MetadataResponse>, StoreError> {
        let selection = self.fanout().select(|_, info| info.serves_metadata);
        let request = MetadataRequest {
            metric: metric.to_string(),
            limit,
            partial_response: self.partial_response(),
        };
        let (answers, mut warnings) = self
            .call_each(selection, Api::Metadata, |client| {
                let request = request.clone();
                async move { client.metric_metadata(request).await }
            })
            .await?;
        let mut merged = MetadataResponse::default();
        for answer in answers {
            merged.merge(answer);
        }
        if limit > 0 {
            while merged.metrics.len() > limit {
                merged.metrics.pop_last();
            }
        }
        warnings.append(&mut merged.warnings);
        Ok(Answer {
            data: merged,
            warnings,
        })
    }

    /// The label sets of the series matching `matchers` (skip_chunks), merged and
    /// de-duplicated, at most `limit` (0: all).
    pub async fn series_labels(
        &self,
        start: i64,
        end: i64,
        matchers: Vec<Matcher>,
        limit: usize,
    ) -> Result<Answer<Vec<Labels>>, StoreError> {
        let mut series = self.series::<Data>(SeriesRequest {
            min_time: start,
            max_time: end,
            matchers,
            skip_chunks: true,
            limit,
            ..Default::default()
        });
        let mut answer: Answer<Vec<Labels>> = Answer::default();
        while let Some(event) = series.next().await {
            match event? {
                SeriesEvent::Warning(w) => answer.warnings.push(w),
                SeriesEvent::Series(series) => {
                    answer.data.push(series.labels);
                    if limit > 0 && answer.data.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(answer)
    }
}
