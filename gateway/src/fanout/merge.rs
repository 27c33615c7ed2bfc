//! Streams series from every selected endpoint concurrently and merges them in label order.
//! Each endpoint has a bounded channel, so a slow consumer back-pressures the endpoints and
//! memory does not grow with the answer. Series with equal labels from several endpoints
//! (replicas once their replica labels are removed, or stores overlapping in time) come out
//! together, for the caller to de-duplicate.

use super::endpoints::{Endpoint, left_out_error};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use store_api::{Labels, PartialResponse, SeriesData, SeriesFrame, SeriesRequest, Store};
use tokio::sync::mpsc;

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
    Failed(String),
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
}

pub struct Merger {
    streams: Vec<EndpointStream>,
    strategy: PartialResponse,
    pending_warnings: Vec<String>,
    /// With the abort strategy: why the merge fails before it starts (an endpoint left out).
    failure: Option<String>,
}

struct EndpointStream {
    address: Arc<str>,
    receiver: mpsc::Receiver<Frame>,
    head: Option<SeriesData>,
    done: bool,
}

impl Merger {
    /// Starts one reader task per endpoint.
    pub fn start(endpoints: Vec<(Arc<Endpoint>, bool)>, options: &MergeOptions) -> Self {
        let streams = endpoints
            .into_iter()
            .map(|(endpoint, supports_without)| {
                let (sender, receiver) = mpsc::channel(CHANNEL_FRAMES);
                let address: Arc<str> = Arc::from(endpoint.address.as_str());
                tokio::spawn(read_endpoint(
                    endpoint,
                    supports_without,
                    options.clone(),
                    sender,
                ));
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
    pub async fn next(&mut self) -> Option<Result<MergeEvent, String>> {
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
    async fn fill(&mut self, i: usize) -> Result<(), String> {
        let stream = &mut self.streams[i];
        while stream.head.is_none() && !stream.done {
            match stream.receiver.recv().await {
                Some(Frame::Series(series)) => stream.head = Some(series),
                Some(Frame::Warning(w)) => self.pending_warnings.push(w),
                Some(Frame::Failed(reason)) => {
                    stream.done = true;
                    let message = format!("endpoint {}: {reason}", stream.address);
                    match self.strategy {
                        PartialResponse::Abort => return Err(message),
                        PartialResponse::Warn => self.pending_warnings.push(message),
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
async fn read_endpoint(
    endpoint: Arc<Endpoint>,
    supports_without: bool,
    options: MergeOptions,
    sender: mpsc::Sender<Frame>,
) {
    let mut request = options.request.clone();
    request.without_replica_labels = options.replica_labels.clone();
    let strip_here = !supports_without && !options.replica_labels.is_empty();
    // The response timeout bounds the whole answer: a store that drips frames is cut too.
    let timeout = options.response_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let outcome = async {
        let mut stream = tokio::time::timeout_at(deadline, endpoint.client.series(request))
            .await
            .map_err(|_| format!("no answer within {timeout:?}"))?
            .map_err(|e| e.to_string())?;
        let mut previous: Option<Labels> = None;
        let mut buffered: Vec<SeriesData> = Vec::new();
        loop {
            let frame = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Err(format!("answer not complete within {timeout:?}")),
                Ok(None) => break,
                Ok(Some(frame)) => frame.map_err(|e| e.to_string())?,
            };
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
                        return Err(format!(
                            "sent series out of order ({} after {}): refusing to mis-merge",
                            series.labels,
                            previous.unwrap_or_default()
                        ));
                    }
                    previous = Some(series.labels.clone());
                    if sender.send(Frame::Series(series)).await.is_err() {
                        return Ok(()); // The merge is gone (query finished or canceled).
                    }
                }
            }
        }
        buffered.sort_by(|a, b| a.labels.cmp(&b.labels));
        for series in buffered {
            if sender.send(Frame::Series(series)).await.is_err() {
                break;
            }
        }
        Ok(())
    }
    .await;
    if let Err(reason) = outcome {
        let _ = sender.send(Frame::Failed(reason)).await;
    }
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
            let server = store_api::server::spawn(Arc::new(store), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            endpoints.push((
                Arc::new(Endpoint::new(&server.addr.to_string()).unwrap()),
                true,
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
                    error = Some(e);
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
