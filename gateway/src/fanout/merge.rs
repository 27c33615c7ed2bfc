//! Streams series from every selected endpoint concurrently and merges them in label order.
//! Each endpoint has a bounded channel, so a slow consumer back-pressures the endpoints and
//! memory does not grow with the answer. Series with equal labels from several endpoints
//! (replicas once their replica labels are removed, or stores overlapping in time) come out
//! together, for the caller to de-duplicate.

use super::endpoints::{Endpoint, endpoint_error, left_out_error};
use super::hedge::{self, Waited};
use super::metrics::{Api, FanoutMetrics, Outcome};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use store_api::{
    Labels, PartialResponse, SeriesData, SeriesFrame, SeriesRequest, Store, StoreError, StoreInfo,
};
use tokio::sync::mpsc;
use tracing::Instrument;

/// Frames buffered per endpoint before its reader waits for the merge.
const CHANNEL_FRAMES: usize = 16;

/// One series of the merged stream: its parts, one or more per contributing endpoint.
#[derive(Debug)]
pub struct MergedSeries {
    pub labels: Labels,
    pub parts: Vec<Part>,
}

/// What one endpoint sent of a merged series.
#[derive(Debug)]
pub struct Part {
    pub endpoint: Arc<str>,
    pub series: SeriesData,
}

#[derive(Debug)]
pub enum MergeEvent {
    Series(MergedSeries),
    /// A partial-response warning, naming the endpoint and the reason.
    Warning(String),
}

/// What the reader of one endpoint sends to the merge.
enum Frame {
    Series(SeriesData),
    Warning(String),
    Failed(StoreError),
    /// Cut by hedging: a replica had the data; a warning whatever the strategy.
    Cut(String),
}

/// How the fan-out reads endpoints for one request.
#[derive(Clone, Debug)]
pub struct MergeOptions {
    pub request: SeriesRequest,
    /// Replica labels to remove (empty when not de-duplicating).
    pub replica_labels: Vec<String>,
    /// An endpoint's whole answer must arrive within this, or it is given up (partial
    /// response).
    pub response_timeout: Duration,
    /// At most this long a replica may keep the request waiting once another replica of its
    /// shard progressed (`hedge`).
    pub replica_grace: Duration,
    pub metrics: Arc<FanoutMetrics>,
}

pub struct Merger {
    streams: Vec<EndpointStream>,
    strategy: PartialResponse,
    pending_warnings: Vec<String>,
    /// With the abort strategy: why the merge fails before it starts (an endpoint left out).
    failure: Option<StoreError>,
}

struct EndpointStream {
    address: Arc<str>,
    receiver: mpsc::Receiver<Frame>,
    head: Option<SeriesData>,
    done: bool,
}

impl Merger {
    /// Starts one reader task per endpoint (with its Info), replicas of one shard hedged.
    pub fn start(endpoints: Vec<(Arc<Endpoint>, StoreInfo)>, options: &MergeOptions) -> Self {
        let members = hedge::shards(&endpoints, &options.replica_labels);
        let streams = endpoints
            .into_iter()
            .zip(members)
            .map(|((endpoint, info), member)| {
                let (sender, receiver) = mpsc::channel(CHANNEL_FRAMES);
                let address: Arc<str> = Arc::from(endpoint.address.as_str());
                // The reader runs in its own task: its span names the query's as parent.
                let span = tracing::info_span!(
                    "endpoint.series",
                    otel.name = "Series",
                    endpoint = %endpoint.address
                );
                tokio::spawn(
                    read_endpoint(
                        endpoint,
                        info.supports_without_replica_labels,
                        member,
                        options.clone(),
                        sender,
                    )
                    .instrument(span),
                );
                EndpointStream {
                    address,
                    receiver,
                    head: None,
                    done: false,
                }
            })
            .collect();
        Self {
            streams,
            strategy: options.request.partial_response,
            pending_warnings: Vec::new(),
            failure: None,
        }
    }

    /// Endpoints the request would have read and cannot (`Selection::left_out`): warnings of
    /// the answer, or with the abort strategy its error.
    pub fn left_out(mut self, reasons: Vec<String>) -> Self {
        match self.strategy {
            PartialResponse::Warn => self.pending_warnings.extend(reasons),
            PartialResponse::Abort => self.failure = left_out_error(&reasons),
        }
        self
    }

    /// The next merged series or warning; `None` at the end. With the abort strategy, a
    /// failing endpoint fails the whole merge with its error.
    pub async fn next(&mut self) -> Option<Result<MergeEvent, StoreError>> {
        if let Some(failure) = self.failure.take() {
            return Some(Err(failure));
        }
        for i in 0..self.streams.len() {
            if let Err(err) = self.fill(i).await {
                return Some(Err(err));
            }
        }
        if let Some(warning) = self.pending_warnings.pop() {
            return Some(Ok(MergeEvent::Warning(warning)));
        }
        let min = self
            .streams
            .iter()
            .filter_map(|s| s.head.as_ref().map(|h| &h.labels))
            .min()?
            .clone();
        let mut parts = Vec::new();
        for i in 0..self.streams.len() {
            // An endpoint may split one series over consecutive frames: take them all.
            while self.streams[i]
                .head
                .as_ref()
                .is_some_and(|h| h.labels == min)
            {
                if let Some(head) = self.streams[i].head.take() {
                    parts.push(Part {
                        endpoint: self.streams[i].address.clone(),
                        series: head,
                    });
                }
                if let Err(err) = self.fill(i).await {
                    return Some(Err(err));
                }
            }
        }
        Some(Ok(MergeEvent::Series(MergedSeries { labels: min, parts })))
    }

    /// Makes sure stream `i` has a head series unless it is finished.
    async fn fill(&mut self, i: usize) -> Result<(), StoreError> {
        let stream = &mut self.streams[i];
        while stream.head.is_none() && !stream.done {
            match stream.receiver.recv().await {
                Some(Frame::Series(series)) => stream.head = Some(series),
                Some(Frame::Warning(w)) => self.pending_warnings.push(w),
                Some(Frame::Cut(reason)) => {
                    stream.done = true;
                    stream.receiver.close();
                    let message = format!("endpoint {}: {reason}", stream.address);
                    self.pending_warnings.push(message);
                }
                Some(Frame::Failed(err)) => {
                    stream.done = true;
                    let err = endpoint_error(&stream.address, &err);
                    match self.strategy {
                        PartialResponse::Abort => return Err(err),
                        PartialResponse::Warn => self.pending_warnings.push(err.message().into()),
                    }
                }
                None => stream.done = true,
            }
        }
        Ok(())
    }
}

/// Reads one endpoint's Series stream into the channel, checking it is sorted. An endpoint
/// that cannot remove replica labels itself gets them removed here, and its answer re-sorted.
/// A replica (`member`) that keeps the request waiting while another replica progresses is
/// cut (`hedge`).
async fn read_endpoint(
    endpoint: Arc<Endpoint>,
    supports_without: bool,
    member: Option<hedge::Member>,
    options: MergeOptions,
    sender: mpsc::Sender<Frame>,
) {
    let mut request = options.request.clone();
    request.without_replica_labels = options.replica_labels.clone();
    let strip_here = !supports_without && !options.replica_labels.is_empty();
    // The response timeout bounds the whole answer: a store that drips frames is cut too.
    let timeout = options.response_timeout;
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let grace = hedge::grace(&endpoint, options.replica_grace);
    let member = member.as_ref();
    let cut = |replica: Arc<str>| Frame::Cut(hedge::cut(&endpoint, grace, &replica));
    let mut received = 0u64;
    let outcome = async {
        let mut stream =
            match hedge::wait(endpoint.client.series(request), deadline, member, grace).await {
                Waited::Done(answer) => answer.map_err(Ended::Failed)?,
                Waited::Deadline => {
                    return Err(Ended::Failed(StoreError::Timeout(format!(
                        "no answer within {timeout:?}"
                    ))));
                }
                Waited::Cut(replica) => return Err(Ended::Cut(cut(replica))),
            };
        let mut previous: Option<Labels> = None;
        let mut buffered: Vec<SeriesData> = Vec::new();
        let mut first = true;
        loop {
            let frame = match hedge::wait(stream.next(), deadline, member, grace).await {
                Waited::Deadline => {
                    return Err(Ended::Failed(StoreError::Timeout(format!(
                        "answer not complete within {timeout:?}"
                    ))));
                }
                Waited::Cut(replica) => return Err(Ended::Cut(cut(replica))),
                Waited::Done(None) => break,
                Waited::Done(Some(frame)) => frame.map_err(Ended::Failed)?,
            };
            if first {
                endpoint.record_first_frame(started.elapsed());
                first = false;
            }
            if matches!(frame, SeriesFrame::Series(_)) {
                received += 1;
            }
            if let Some(member) = member {
                member.progressed();
            }
            match frame {
                SeriesFrame::Warning(w) => {
                    let _ = sender
                        .send(Frame::Warning(format!(
                            "endpoint {}: {w}",
                            endpoint.address
                        )))
                        .await;
                }
                SeriesFrame::Series(mut series) if strip_here => {
                    series
                        .labels
                        .retain(|l| !options.replica_labels.contains(&l.name));
                    buffered.push(series);
                }
                SeriesFrame::Series(series) => {
                    if previous.as_ref().is_some_and(|p| *p > series.labels) {
                        return Err(Ended::Failed(StoreError::BadData(format!(
                            "sent series out of order ({} after {}): refusing to mis-merge",
                            series.labels,
                            previous.unwrap_or_default()
                        ))));
                    }
                    previous = Some(series.labels.clone());
                    if sender.send(Frame::Series(series)).await.is_err() {
                        return Err(Ended::Abandoned);
                    }
                }
            }
        }
        if let Some(member) = member {
            member.progressed(); // The whole answer is in.
        }
        buffered.sort_by(|a, b| a.labels.cmp(&b.labels));
        for series in buffered {
            if sender.send(Frame::Series(series)).await.is_err() {
                return Err(Ended::Abandoned);
            }
        }
        Ok(())
    }
    .await;
    let ended = match outcome {
        Ok(()) => Outcome::Complete,
        Err(Ended::Failed(reason)) => {
            let _ = sender.send(Frame::Failed(reason)).await;
            Outcome::Failed
        }
        Err(Ended::Cut(frame)) => {
            let _ = sender.send(frame).await;
            Outcome::Cut
        }
        Err(Ended::Abandoned) => Outcome::Abandoned,
    };
    let metrics = &options.metrics;
    metrics.call(&endpoint.address, Api::Series, ended, started.elapsed());
    metrics.series_received(&endpoint.address, received);
}

/// How an endpoint's answer ended short.
enum Ended {
    Failed(StoreError),
    Cut(Frame),
    /// The merge is gone (the query finished or was canceled).
    Abandoned,
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use store_api::{
        Component, LabelNamesRequest, LabelValuesRequest, LabelsResponse, SeriesStream, StoreError,
        StoreInfo,
    };

    /// A store that streams its series in the order given, sorted or not.
    struct FixedOrder(Vec<&'static str>);

    impl Store for FixedOrder {
        async fn info(&self) -> Result<StoreInfo, StoreError> {
            Ok(StoreInfo {
                component: Component::Store,
                label_sets: Vec::new(),
                min_time: 0,
                max_time: 1,
                supports_without_replica_labels: true,
                serves_metadata: false,
            })
        }

        async fn series(&self, _: SeriesRequest) -> Result<SeriesStream, StoreError> {
            let frames: Vec<_> = self
                .0
                .iter()
                .map(|name| {
                    Ok(SeriesFrame::Series(SeriesData {
                        labels: Labels::from_pairs([("__name__", *name)]),
                        chunks: Vec::new(),
                    }))
                })
                .collect();
            Ok(stream::iter(frames).boxed())
        }

        async fn label_names(&self, _: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
            Ok(LabelsResponse::default())
        }

        async fn label_values(&self, _: LabelValuesRequest) -> Result<LabelsResponse, StoreError> {
            Ok(LabelsResponse::default())
        }
    }

    async fn merge_of(
        stores: Vec<FixedOrder>,
        strategy: PartialResponse,
    ) -> (Vec<String>, Vec<String>, Option<String>) {
        let mut servers = Vec::new();
        let mut endpoints = Vec::new();
        for store in stores {
            let info = store.info().await.unwrap();
            let server = store_api::server::spawn(Arc::new(store), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            endpoints.push((
                Arc::new(Endpoint::new(&server.addr.to_string(), None).unwrap()),
                info,
            ));
            servers.push(server);
        }
        let options = MergeOptions {
            request: SeriesRequest {
                max_time: 1,
                partial_response: strategy,
                ..Default::default()
            },
            replica_labels: Vec::new(),
            response_timeout: Duration::from_secs(5),
            replica_grace: Duration::from_secs(2),
            metrics: Arc::default(),
        };
        let mut merger = Merger::start(endpoints, &options);
        let (mut names, mut warnings, mut error) = (Vec::new(), Vec::new(), None);
        while let Some(event) = merger.next().await {
            match event {
                Ok(MergeEvent::Series(s)) => {
                    names.push(s.labels.get("__name__").unwrap_or("").to_string())
                }
                Ok(MergeEvent::Warning(w)) => warnings.push(w),
                Err(e) => {
                    error = Some(e.message().to_owned());
                    break;
                }
            }
        }
        (names, warnings, error)
    }

    #[tokio::test]
    async fn streams_merge_in_label_order_with_equal_series_together() {
        let (names, warnings, error) = merge_of(
            vec![FixedOrder(vec!["a", "c"]), FixedOrder(vec!["b", "c", "d"])],
            PartialResponse::Warn,
        )
        .await;
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert!(warnings.is_empty() && error.is_none());
    }

    #[tokio::test]
    async fn an_unsorted_stream_is_refused_not_mis_merged() {
        let (names, warnings, _) = merge_of(
            vec![FixedOrder(vec!["a", "e"]), FixedOrder(vec!["d", "b"])],
            PartialResponse::Warn,
        )
        .await;
        // The unsorted endpoint is dropped at its first out-of-order series, with a warning.
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert!(!names.contains(&"b".to_string()), "{names:?}");
        assert!(
            warnings.iter().any(|w| w.contains("out of order")),
            "{warnings:?}"
        );
        let (_, _, error) = merge_of(
            vec![FixedOrder(vec!["a"]), FixedOrder(vec!["d", "b"])],
            PartialResponse::Abort,
        )
        .await;
        assert!(error.is_some_and(|e| e.contains("out of order")));
    }
}
