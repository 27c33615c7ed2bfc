//! The fan-out API: what every reader of series (the engine's storage, the gateway's gRPC
//! StoreAPI, `/federate`, the series API) gets from the endpoints selected for one request.
//! Each merged series comes in label order, its replica labels removed, as the caller's
//! [`Decode`] type: [`Samples`] (decoded, replicas de-duplicated, trimmed to the request's
//! range) or [`Data`] (a series one endpoint alone sent keeps its chunks untouched). With
//! `skip_chunks` nothing is decoded. Partial-response warnings come as they arrive, a
//! series' decoding warnings just before it; with the abort strategy a failing endpoint or
//! an undecodable part is the error that ends the answer.
//!
//! Limits on what a caller holds (the engine's max samples and series) stay with the caller:
//! series come one at a time, so it fails at the first one over its budget, and only it
//! knows what it keeps (`/federate` one sample per series, the gRPC face everything).

pub use super::decode::Samples;

use super::decode;
use super::dedup::DedupAlgorithm;
use super::merge::{MergeEvent, MergeOptions, MergedSeries, Merger};
use super::metrics::FanoutMetrics;
use super::selection::selected;
use super::storage::FanoutStorage;
use std::collections::VecDeque;
use std::sync::Arc;
use store_api::{Labels, PartialResponse, RawChunk, SeriesRequest, StoreError};

/// One series of the fan-out's answer.
#[derive(Debug)]
pub struct DecodedSeries<T> {
    pub labels: Labels,
    pub data: T,
}

#[derive(Debug)]
pub enum SeriesEvent<T> {
    Series(DecodedSeries<T>),
    /// A partial-response warning, naming the endpoint (and the series, for a dropped part).
    Warning(String),
}

/// A series for callers that send chunks on (the gRPC face).
#[derive(Debug)]
pub enum Data {
    /// The chunks one endpoint alone sent, as sent: nothing to merge, so nothing decoded.
    Chunks(Vec<RawChunk>),
    /// Replicas merged, as [`Samples`] are.
    Samples(Samples),
}

/// What a merged series becomes for the caller.
pub trait Decode: Sized {
    fn decode(series: &mut MergedSeries, decoder: &mut Decoder) -> Result<Self, StoreError>;
}

impl Decode for Samples {
    fn decode(series: &mut MergedSeries, decoder: &mut Decoder) -> Result<Self, StoreError> {
        decoder.samples(series)
    }
}

impl Decode for Data {
    fn decode(series: &mut MergedSeries, decoder: &mut Decoder) -> Result<Self, StoreError> {
        if decoder.skip_chunks {
            return Ok(Self::Chunks(Vec::new()));
        }
        match series.parts.as_mut_slice() {
            [only] => Ok(Self::Chunks(std::mem::take(&mut only.series.chunks))),
            _ => decoder.samples(series).map(Self::Samples),
        }
    }
}

/// How one request's series are decoded (with `skip_chunks`: not at all), and the warnings
/// decoding left.
pub struct Decoder {
    /// The request's time range (inclusive, ms).
    range: (i64, i64),
    skip_chunks: bool,
    dedup: DedupAlgorithm,
    strategy: PartialResponse,
    metrics: Arc<FanoutMetrics>,
    warnings: VecDeque<String>,
}

impl Decoder {
    fn samples(&mut self, series: &MergedSeries) -> Result<Samples, StoreError> {
        if self.skip_chunks {
            return Ok(Samples::default());
        }
        let mut warnings = Vec::new();
        let samples = decode::samples(
            series,
            self.range.0,
            self.range.1,
            self.dedup,
            self.strategy,
            &self.metrics,
            &mut warnings,
        )?;
        self.warnings.extend(warnings);
        Ok(samples)
    }
}

/// The series of one request, pulled with [`FanoutSeries::next`].
pub struct FanoutSeries<T> {
    merger: Merger,
    decoder: Decoder,
    /// The series last decoded, given out after its warnings.
    held: Option<DecodedSeries<T>>,
}

impl FanoutStorage {
    /// The series matching `request` from the endpoints selected for it, with this request's
    /// replica labels and partial-response strategy.
    pub fn series<T: Decode>(&self, request: SeriesRequest) -> FanoutSeries<T> {
        let decoder = Decoder {
            range: (request.min_time, request.max_time),
            skip_chunks: request.skip_chunks,
            dedup: self.fanout().config.dedup,
            strategy: self.partial_response(),
            metrics: self.fanout().metrics.clone(),
            warnings: VecDeque::new(),
        };
        FanoutSeries {
            merger: self.merge(request),
            decoder,
            held: None,
        }
    }

    /// Starts merging the endpoints selected for `request` (time range, matchers,
    /// storeMatch[]), with this request's replica labels and partial-response strategy; the
    /// endpoints it would have read and cannot are its warnings (or its error).
    fn merge(&self, request: SeriesRequest) -> Merger {
        let selection = self.fanout().select(|endpoint, info| {
            selected(
                info,
                &endpoint.address,
                request.min_time,
                request.max_time,
                &request.matchers,
                &self.options().store_matchers,
            )
        });
        let options = MergeOptions {
            request: SeriesRequest {
                partial_response: self.partial_response(),
                ..request
            },
            replica_labels: self.replica_labels(),
            response_timeout: self.fanout().config.response_timeout,
            replica_grace: self.fanout().config.replica_grace,
            metrics: self.fanout().metrics.clone(),
        };
        Merger::start(selection.usable, &options).left_out(selection.left_out)
    }
}

impl<T: Decode> FanoutSeries<T> {
    /// The next series or warning; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<SeriesEvent<T>, StoreError>> {
        if let Some(event) = self.ready() {
            return Some(Ok(event));
        }
        let mut merged = match self.merger.next().await? {
            Ok(MergeEvent::Series(merged)) => merged,
            Ok(MergeEvent::Warning(warning)) => return Some(Ok(SeriesEvent::Warning(warning))),
            Err(error) => return Some(Err(error)),
        };
        match T::decode(&mut merged, &mut self.decoder) {
            Ok(data) => {
                self.held = Some(DecodedSeries {
                    labels: merged.labels,
                    data,
                })
            }
            Err(error) => return Some(Err(error)),
        }
        self.ready().map(Ok)
    }

    /// What the last series decoded left to give out: its warnings, then itself.
    fn ready(&mut self) -> Option<SeriesEvent<T>> {
        match self.decoder.warnings.pop_front() {
            Some(warning) => Some(SeriesEvent::Warning(warning)),
            None => self.held.take().map(SeriesEvent::Series),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::{Fanout, QueryOptions};
    use futures_util::StreamExt;
    use store_api::chunk::{ChunkEncoding, xor_chunks};
    use store_api::server::RunningServer;
    use store_api::{
        LabelNamesRequest, LabelValuesRequest, LabelsResponse, MemoryStore, SeriesFrame,
        SeriesStream, Store, StoreInfo,
    };

    const SAMPLES: [(i64, f64); 3] = [(1_000, 1.0), (2_000, 2.0), (3_000, 3.0)];

    fn m(x: &str) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("x", x)])
    }

    /// `m{x=...}` for each of `xs` in a replica `replica`.
    fn replica(replica: &str, xs: &[&str]) -> MemoryStore {
        let series = xs.iter().map(|x| (m(x), SAMPLES.to_vec()));
        MemoryStore::new(Labels::from_pairs([("replica", replica)]), series)
    }

    /// A store whose chunks all claim to be native histograms, which are not decoded yet.
    struct Histograms(MemoryStore);

    impl Store for Histograms {
        async fn info(&self) -> Result<StoreInfo, StoreError> {
            self.0.info().await
        }

        async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
            let frames = self.0.series(request).await?;
            Ok(frames
                .map(|frame| match frame {
                    Ok(SeriesFrame::Series(mut series)) => {
                        for chunk in &mut series.chunks {
                            chunk.encoding = ChunkEncoding::Histogram;
                        }
                        Ok(SeriesFrame::Series(series))
                    }
                    other => other,
                })
                .boxed())
        }

        async fn label_names(&self, _: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
            Ok(LabelsResponse::default())
        }

        async fn label_values(&self, _: LabelValuesRequest) -> Result<LabelsResponse, StoreError> {
            Ok(LabelsResponse::default())
        }
    }

    async fn serve<S: Store>(store: S) -> RunningServer {
        store_api::server::spawn(Arc::new(store), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }

    /// A fan-out over `servers`, de-duplicating by `replica`.
    async fn storage(servers: &[&RunningServer], options: QueryOptions) -> FanoutStorage {
        let addresses: Vec<String> = servers.iter().map(|s| s.addr.to_string()).collect();
        FanoutStorage::new(
            Fanout::over_replicas(&addresses, Default::default())
                .await
                .unwrap(),
            options,
        )
    }

    fn request(skip_chunks: bool) -> SeriesRequest {
        SeriesRequest {
            min_time: 0,
            max_time: 10_000,
            matchers: vec![store_api::Matcher::equal("__name__", "m")],
            skip_chunks,
            ..Default::default()
        }
    }

    async fn events<T: Decode>(
        mut series: FanoutSeries<T>,
    ) -> Vec<Result<SeriesEvent<T>, StoreError>> {
        let mut events = Vec::new();
        while let Some(event) = series.next().await {
            events.push(event);
        }
        events
    }

    fn series<T>(events: Vec<Result<SeriesEvent<T>, StoreError>>) -> Vec<DecodedSeries<T>> {
        events
            .into_iter()
            .map(|event| match event {
                Ok(SeriesEvent::Series(series)) => series,
                other => panic!("not a series: {:?}", other.map(|_| ())),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_series_one_endpoint_sent_keeps_its_chunks_the_others_are_merged() {
        let (a, b) = (
            serve(replica("a", &["1", "2"])).await,
            serve(replica("b", &["1"])).await,
        );
        let storage = storage(&[&a, &b], QueryOptions::default()).await;
        let (ts, vs): (Vec<i64>, Vec<f64>) = SAMPLES.into_iter().unzip();

        let data = series(events(storage.series::<Data>(request(false))).await);
        assert_eq!(data.len(), 2);
        assert_eq!((&data[0].labels, &data[1].labels), (&m("1"), &m("2")));
        assert!(
            matches!(&data[0].data, Data::Samples(s) if s.values == vs),
            "{data:?}"
        );
        assert!(
            matches!(&data[1].data, Data::Chunks(c) if *c == xor_chunks(&ts, &vs)),
            "{data:?}"
        );

        let samples = series(events(storage.series::<Samples>(request(false))).await);
        assert!(
            samples.iter().all(|s| s.data.timestamps == ts),
            "{samples:?}"
        );

        let labels = series(events(storage.series::<Data>(request(true))).await);
        assert!(
            labels
                .iter()
                .all(|s| matches!(&s.data, Data::Chunks(c) if c.is_empty())),
            "{labels:?}"
        );
    }

    #[tokio::test]
    async fn a_dropped_part_is_a_warning_just_before_its_series_or_the_error() {
        let (a, b) = (
            serve(replica("a", &["1"])).await,
            serve(Histograms(replica("b", &["1"]))).await,
        );
        let bad = b.addr.to_string();
        let warn = storage(&[&a, &b], QueryOptions::default()).await;
        let mut got = events(warn.series::<Samples>(request(false))).await;
        assert_eq!(got.len(), 2);
        let series = got.pop().unwrap();
        assert!(
            matches!(&series, Ok(SeriesEvent::Series(s)) if s.data.values == [1.0, 2.0, 3.0]),
            "{series:?}"
        );
        assert!(
            matches!(&got[0], Ok(SeriesEvent::Warning(w)) if w.contains(&bad) && w.contains("HISTOGRAM")),
            "{got:?}"
        );

        let abort = QueryOptions {
            partial_response: Some(false),
            ..QueryOptions::default()
        };
        let abort = storage(&[&a, &b], abort).await;
        let got = events(abort.series::<Samples>(request(false))).await;
        assert!(
            matches!(&got[..], [Err(e)] if e.message().contains(&bad)),
            "{got:?}"
        );
    }
}
