//! `BucketStore`: the StoreAPI over every block in a bucket. A periodic sync picks up blocks
//! that appear and drops blocks that disappear; a block that cannot be read is skipped with an
//! error log and a warning in every answer, and the others are served.

use super::block::{Block, SelectedSeries};
use super::bucket::Bucket;
use super::cache::IndexCache;
use crate::chunk::{ChunkEncoding, decode_into, xor_chunks};
use crate::error::StoreError;
use crate::labels::{Labels, Matcher, without_external};
use crate::store::{
    Component, LabelNamesRequest, LabelValuesRequest, LabelsResponse, PartialResponse, RawChunk,
    SeriesData, SeriesFrame, SeriesRequest, SeriesStream, Store, StoreInfo,
};
use futures_util::{StreamExt, stream};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Series whose chunks are read together: one batch of ranged reads per block and segment.
const SERIES_PER_BATCH: usize = 256;
/// Frames buffered between the reading task and the gRPC stream.
const FRAMES_IN_FLIGHT: usize = 64;
/// Blocks loaded (or queried) at once.
const CONCURRENT_BLOCKS: usize = 4;

#[derive(Debug, Default)]
struct BlockSet {
    blocks: BTreeMap<String, Arc<Block>>,
    /// Blocks that could not be loaded, with why; retried at every sync.
    failed: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct BucketStore {
    bucket: Arc<Bucket>,
    cache: Arc<IndexCache>,
    state: RwLock<Arc<BlockSet>>,
}

/// What a sync changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub loaded: Vec<String>,
    pub dropped: Vec<String>,
    pub failed: Vec<String>,
}

impl BucketStore {
    pub fn new(bucket: Arc<Bucket>, cache: Arc<IndexCache>) -> Self {
        Self {
            bucket,
            cache,
            state: RwLock::new(Arc::default()),
        }
    }

    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    pub fn cache(&self) -> &IndexCache {
        &self.cache
    }

    /// Blocks served, and blocks that could not be loaded (retried at every sync).
    pub fn block_counts(&self) -> (usize, usize) {
        let set = self.snapshot();
        (set.blocks.len(), set.failed.len())
    }

    fn snapshot(&self) -> Arc<BlockSet> {
        match self.state.read() {
            Ok(state) => state.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The loaded blocks' IDs.
    pub fn block_ids(&self) -> Vec<String> {
        self.snapshot().blocks.keys().cloned().collect()
    }

    /// Lists the bucket, loads new blocks (and retries failed ones), drops vanished ones.
    pub async fn sync(&self) -> Result<SyncReport, StoreError> {
        let listed: BTreeSet<String> = self
            .bucket
            .list_dirs()
            .await?
            .into_iter()
            .filter(|d| is_ulid(d))
            .collect();
        let current = self.snapshot();
        let to_load: Vec<String> = listed
            .iter()
            .filter(|id| !current.blocks.contains_key(*id))
            .cloned()
            .collect();
        let loaded: Vec<(String, Result<Block, StoreError>)> = stream::iter(to_load)
            .map(|id| {
                let (bucket, cache) = (self.bucket.clone(), self.cache.clone());
                async move {
                    let block = Block::load(bucket, cache, &id).await;
                    (id, block)
                }
            })
            .buffer_unordered(CONCURRENT_BLOCKS)
            .collect()
            .await;
        let mut next = BlockSet::default();
        let mut report = SyncReport::default();
        for (id, block) in &current.blocks {
            if listed.contains(id) {
                next.blocks.insert(id.clone(), block.clone());
            } else {
                report.dropped.push(id.clone());
            }
        }
        for (id, block) in loaded {
            match block {
                Ok(block) => {
                    tracing::info!(block = %id, series = block.meta.stats.num_series, "block loaded");
                    next.blocks.insert(id.clone(), Arc::new(block));
                    report.loaded.push(id);
                }
                Err(err) => {
                    if current.failed.get(&id) != Some(&err.to_string()) {
                        tracing::error!(block = %id, error = %err, "block skipped");
                    }
                    next.failed.insert(id.clone(), err.to_string());
                    report.failed.push(id);
                }
            }
        }
        let mut state = match self.state.write() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        *state = Arc::new(next);
        Ok(report)
    }

    /// Syncs every `interval` until the returned task is aborted.
    pub fn spawn_sync(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(err) = store.sync().await {
                    tracing::warn!(error = %err, "bucket sync failed; serving the blocks known");
                }
            }
        })
    }
}

/// Blocks are named by ULIDs: 26 characters of Crockford base32.
fn is_ulid(name: &str) -> bool {
    name.len() == 26
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
}

impl BlockSet {
    fn warnings(&self) -> Vec<String> {
        self.failed
            .iter()
            .map(|(id, err)| format!("store: block {id} skipped: {err}"))
            .collect()
    }

    /// The blocks with data in the range whose external labels the matchers accept, each with
    /// the matchers left for its index.
    fn choose(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Vec<(Arc<Block>, Vec<Matcher>)> {
        self.blocks
            .values()
            .filter(|b| b.meta.overlaps(min_time, max_time))
            .filter_map(|b| Some((b.clone(), without_external(&b.external_labels, matchers)?)))
            .collect()
    }
}

/// A block's part of a series: its final labels (external labels added, replica labels
/// removed), which block, and what to read.
struct Part {
    labels: Labels,
    block: Arc<Block>,
    series: SelectedSeries,
}

/// A block failed during a query: a warning, or the error in abort mode.
fn block_failure(
    strategy: PartialResponse,
    block: &Block,
    err: StoreError,
    warnings: &mut Vec<String>,
) -> Result<(), StoreError> {
    match strategy {
        PartialResponse::Abort => Err(err),
        PartialResponse::Warn => {
            tracing::warn!(block = %block.id, error = %err, "block read failed");
            warnings.push(format!("store: block {}: {err}", block.id));
            Ok(())
        }
    }
}

impl BucketStore {
    /// Every selected series part of every chosen block, sorted by final labels and then by
    /// block time.
    async fn select_parts(
        &self,
        set: &BlockSet,
        request: &SeriesRequest,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Part>, StoreError> {
        let chosen = set.choose(request.min_time, request.max_time, &request.matchers);
        let selected: Vec<_> = stream::iter(chosen)
            .map(|(block, matchers)| async move {
                let series = block
                    .select(&matchers, request.min_time, request.max_time)
                    .await;
                (block, series)
            })
            .buffer_unordered(CONCURRENT_BLOCKS)
            .collect()
            .await;
        let mut parts = Vec::new();
        for (block, series) in selected {
            let series = match series {
                Ok(series) => series,
                Err(err) => {
                    block_failure(request.partial_response, &block, err, warnings)?;
                    continue;
                }
            };
            for s in series {
                let mut labels = s.entry.labels.clone();
                labels.merge_missing(&block.external_labels);
                labels.retain(|l| !request.without_replica_labels.contains(&l.name));
                parts.push(Part {
                    labels,
                    block: block.clone(),
                    series: s,
                });
            }
        }
        parts.sort_by(|a, b| {
            a.labels
                .cmp(&b.labels)
                .then_with(|| a.block.external_labels.cmp(&b.block.external_labels))
                .then(a.block.meta.min_time.cmp(&b.block.meta.min_time))
        });
        if request.limit > 0 {
            let mut distinct = 0;
            let keep = parts
                .iter()
                .enumerate()
                .position(|(i, p)| {
                    if i == 0 || parts[i - 1].labels != p.labels {
                        distinct += 1;
                    }
                    distinct > request.limit
                })
                .unwrap_or(parts.len());
            parts.truncate(keep);
        }
        Ok(parts)
    }
}

/// Sends the parts as series, reading chunks batch by batch so that only one batch of chunk
/// bytes is held at a time.
async fn stream_parts(
    parts: Vec<Part>,
    skip_chunks: bool,
    strategy: PartialResponse,
    tx: mpsc::Sender<Result<SeriesFrame, StoreError>>,
) {
    let mut start = 0;
    while start < parts.len() {
        // A batch ends on a series boundary so that each series is sent whole.
        let mut end = (start + SERIES_PER_BATCH).min(parts.len());
        while end < parts.len() && parts[end].labels == parts[end - 1].labels {
            end += 1;
        }
        let batch = &parts[start..end];
        start = end;
        let mut warnings = Vec::new();
        let mut chunks = if skip_chunks {
            vec![Vec::new(); batch.len()]
        } else {
            match read_batch(batch, strategy, &mut warnings).await {
                Ok(chunks) => chunks,
                Err(err) => {
                    let _ = tx.send(Err(err)).await;
                    return;
                }
            }
        };
        for warning in warnings {
            if tx.send(Ok(SeriesFrame::Warning(warning))).await.is_err() {
                return;
            }
        }
        let mut i = 0;
        while i < batch.len() {
            // One series from one source: equal labels and equal external labels. Equal
            // labels from different sources (replicas once their replica labels are removed)
            // are sent as consecutive series, for the gateway to de-duplicate.
            let first = &batch[i];
            let same_series = |p: &Part| {
                p.labels == first.labels && p.block.external_labels == first.block.external_labels
            };
            let mut series_chunks = Vec::new();
            let labels = first.labels.clone();
            while i < batch.len() && same_series(&batch[i]) {
                series_chunks.append(&mut chunks[i]);
                i += 1;
            }
            let chunks = match merge_chunks(series_chunks) {
                Ok(chunks) => chunks,
                Err(err) => {
                    let _ = tx
                        .send(Err(StoreError::BadData(format!("series {labels}: {err}"))))
                        .await;
                    return;
                }
            };
            if !skip_chunks && chunks.is_empty() {
                continue;
            }
            let frame = SeriesFrame::Series(SeriesData { labels, chunks });
            if tx.send(Ok(frame)).await.is_err() {
                return; // the caller went away
            }
        }
    }
}

/// The chunks of every part of the batch, read with one batch of ranged reads per block.
async fn read_batch(
    batch: &[Part],
    strategy: PartialResponse,
    warnings: &mut Vec<String>,
) -> Result<Vec<Vec<RawChunk>>, StoreError> {
    let mut by_block: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, part) in batch.iter().enumerate() {
        by_block.entry(&part.block.id).or_default().push(i);
    }
    let mut out = vec![Vec::new(); batch.len()];
    let reads: Vec<_> = stream::iter(by_block.into_values())
        .map(|members| async move {
            let block = &batch[members[0]].block;
            let series: Vec<&SelectedSeries> = members.iter().map(|&i| &batch[i].series).collect();
            (members, block.chunks(&series).await)
        })
        .buffer_unordered(CONCURRENT_BLOCKS)
        .collect()
        .await;
    for (members, chunks) in reads {
        match chunks {
            Ok(chunks) => {
                for (i, c) in members.into_iter().zip(chunks) {
                    out[i] = c;
                }
            }
            Err(err) => block_failure(strategy, &batch[members[0]].block, err, warnings)?,
        }
    }
    Ok(out)
}

/// A series' chunks from several blocks in time order. Where blocks overlap in time (not yet
/// compacted together), the samples are merged, the first block's winning a tie, and encoded
/// again, so that the series never goes back in time.
fn merge_chunks(mut chunks: Vec<RawChunk>) -> Result<Vec<RawChunk>, String> {
    chunks.sort_by_key(|c| c.min_time);
    let overlapping = chunks.windows(2).any(|w| w[1].min_time <= w[0].max_time);
    if !overlapping || chunks.iter().any(|c| c.encoding != ChunkEncoding::Xor) {
        return Ok(chunks);
    }
    let mut samples: Vec<(i64, f64)> = Vec::new();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for chunk in &chunks {
        ts.clear();
        vs.clear();
        decode_into(&chunk.data, &mut ts, &mut vs).map_err(|e| e.to_string())?;
        samples.extend(ts.iter().copied().zip(vs.iter().copied()));
    }
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
    let (ts, vs): (Vec<i64>, Vec<f64>) = samples.into_iter().unzip();
    Ok(xor_chunks(&ts, &vs))
}

impl Store for BucketStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let set = self.snapshot();
        let mut label_sets: Vec<Labels> = set
            .blocks
            .values()
            .map(|b| b.external_labels.clone())
            .collect();
        label_sets.sort();
        label_sets.dedup();
        let (min_time, max_time) = set
            .blocks
            .values()
            .fold((i64::MAX, i64::MIN), |(lo, hi), b| {
                (lo.min(b.meta.min_time), hi.max(b.meta.max_time - 1))
            });
        Ok(StoreInfo {
            component: Component::Store,
            label_sets,
            min_time,
            max_time,
            supports_without_replica_labels: true,
            serves_metadata: false,
        })
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let set = self.snapshot();
        let mut warnings = set.warnings();
        let parts = self.select_parts(&set, &request, &mut warnings).await?;
        let (tx, rx) = mpsc::channel(FRAMES_IN_FLIGHT);
        tokio::spawn(async move {
            for warning in warnings {
                if tx.send(Ok(SeriesFrame::Warning(warning))).await.is_err() {
                    return;
                }
            }
            stream_parts(parts, request.skip_chunks, request.partial_response, tx).await;
        });
        Ok(ReceiverStream::new(rx).boxed())
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        let series_request = labels_request(
            request.start,
            request.end,
            &request.matchers,
            &request.without_replica_labels,
            request.partial_response,
        );
        self.label_answer(
            series_request,
            request.limit,
            |labels, out| {
                out.extend(labels.iter().map(|l| l.name.clone()));
            },
            |block, out| {
                let names = block
                    .label_names()
                    .chain(block.external_labels.iter().map(|l| l.name.as_str()));
                out.extend(
                    names
                        .filter(|n| !request.without_replica_labels.iter().any(|r| r == n))
                        .map(str::to_string),
                );
            },
        )
        .await
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        if request.without_replica_labels.contains(&request.label) {
            return Ok(LabelsResponse::default());
        }
        let series_request = labels_request(
            request.start,
            request.end,
            &request.matchers,
            &request.without_replica_labels,
            request.partial_response,
        );
        let name = request.label.clone();
        self.label_answer(
            series_request,
            request.limit,
            |labels, out| {
                out.extend(labels.get(&name).map(str::to_string));
            },
            |block, out| match block.external_labels.get(&request.label) {
                Some(value) => out.push(value.to_string()),
                None => out.extend(block.label_values(&request.label).map(str::to_string)),
            },
        )
        .await
    }
}

/// The Series request whose series' labels answer a label names or values call.
fn labels_request(
    start: i64,
    end: i64,
    matchers: &[Matcher],
    without_replica_labels: &[String],
    partial_response: PartialResponse,
) -> SeriesRequest {
    SeriesRequest {
        min_time: start,
        max_time: end,
        matchers: matchers.to_vec(),
        skip_chunks: true,
        without_replica_labels: without_replica_labels.to_vec(),
        partial_response,
        ..Default::default()
    }
}

impl BucketStore {
    /// Label names or values: from the index headers alone when no matcher needs the index,
    /// else from the labels of the matching series.
    async fn label_answer(
        &self,
        request: SeriesRequest,
        limit: usize,
        from_series: impl Fn(&Labels, &mut Vec<String>),
        from_header: impl Fn(&Block, &mut Vec<String>),
    ) -> Result<LabelsResponse, StoreError> {
        let set = self.snapshot();
        let mut warnings = set.warnings();
        let chosen = set.choose(request.min_time, request.max_time, &request.matchers);
        let mut values = Vec::new();
        if chosen.iter().all(|(_, matchers)| matchers.is_empty()) {
            for (block, _) in &chosen {
                from_header(block, &mut values);
            }
            values.retain(|v| !v.is_empty());
        } else {
            for part in self.select_parts(&set, &request, &mut warnings).await? {
                from_series(&part.labels, &mut values);
            }
        }
        let mut response = LabelsResponse::from_unsorted(values, limit);
        response.warnings = warnings;
        Ok(response)
    }
}
