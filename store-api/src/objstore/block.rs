//! One TSDB block in the bucket: its meta, its index header in memory, and the ranged reads
//! that turn matchers into series and chunk references into chunk bytes.

use super::bucket::Bucket;
use super::cache::IndexCache;
use super::index::series::{self, ChunkMeta, SeriesEntry};
use super::index::{IndexError, IndexHeader, SERIES_ALIGNMENT, Toc, postings};
use super::meta::BlockMeta;
use super::tombstones::{self, Tombstones};
use crate::chunk::segment::{self, SegmentError};
use crate::chunk::{ChunkEncoding, decode_into, xor_chunks};
use crate::error::StoreError;
use crate::labels::{Labels, Matcher};
use crate::store::RawChunk;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// Bytes read for a series entry whose end is not known from its neighbour: most entries are
/// far smaller; a longer one is read again whole.
const SERIES_READ_GUESS: u64 = 4 * 1024;
/// The same for a chunk: a 120-sample XOR chunk takes a few hundred bytes.
const CHUNK_READ_GUESS: u64 = 1024;

#[derive(Debug)]
pub struct Block {
    pub id: Arc<str>,
    pub meta: BlockMeta,
    pub external_labels: Labels,
    header: IndexHeader,
    /// Sizes of the chunk segment files, by sequence number.
    segments: Vec<u64>,
    tombstones: Tombstones,
    bucket: Arc<Bucket>,
    cache: Arc<IndexCache>,
}

/// A series a query selected from a block: its entry and the chunks it needs.
#[derive(Debug, Clone)]
pub struct SelectedSeries {
    pub reference: u64,
    pub entry: Arc<SeriesEntry>,
    pub chunks: Vec<ChunkMeta>,
}

impl Block {
    /// Reads the block's meta, index header and tombstones, and lists its chunk segments.
    pub async fn load(
        bucket: Arc<Bucket>,
        cache: Arc<IndexCache>,
        id: &str,
    ) -> Result<Self, StoreError> {
        let bad = |what: String| StoreError::BadData(format!("block {id}: {what}"));
        let files = bucket.list_files(id).await?;
        let size_of = |name: &str| {
            let path = format!("{id}/{name}");
            files.iter().find(|f| f.path == path).map(|f| f.size)
        };
        let meta_json = bucket
            .read_all(&format!("{id}/meta.json"))
            .await?
            .ok_or_else(|| bad("meta.json missing".into()))?;
        let meta = BlockMeta::parse(&meta_json).map_err(bad)?;
        if meta.resolution() != 0 {
            return Err(bad(format!(
                "downsampled ({} ms resolution) blocks are not served",
                meta.resolution()
            )));
        }
        let index_size = size_of("index").ok_or_else(|| bad("index missing".into()))?;
        let index_path = format!("{id}/index");
        let toc_bytes = bucket
            .read_range(
                &index_path,
                IndexHeader::toc_range(index_size).map_err(|e| bad(e.to_string()))?,
            )
            .await?;
        let toc = Toc::parse(&toc_bytes, index_size).map_err(|e| bad(e.to_string()))?;
        let sections = bucket
            .read_ranges(&index_path, &IndexHeader::section_ranges(&toc, index_size))
            .await?;
        let header = IndexHeader::parse(index_size, toc, &sections[0], &sections[1])
            .map_err(|e| bad(e.to_string()))?;
        let segments = segment_sizes(id, &files).map_err(bad)?;
        let tombstones = match size_of("tombstones") {
            Some(_) => match bucket.read_all(&format!("{id}/tombstones")).await? {
                Some(bytes) => Tombstones::parse(&bytes).map_err(bad)?,
                None => Tombstones::default(),
            },
            None => Tombstones::default(),
        };
        Ok(Block {
            id: Arc::from(id),
            external_labels: meta.external_labels(),
            meta,
            header,
            segments,
            tombstones,
            bucket,
            cache,
        })
    }

    /// Memory the block holds for its index header.
    pub fn memory_bytes(&self) -> usize {
        self.header.memory_bytes()
    }

    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.header.postings.names()
    }

    pub fn label_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.header.postings.values(name).map(|(v, _)| v)
    }

    fn index_path(&self) -> String {
        format!("{}/index", self.id)
    }

    fn index_error(&self, err: IndexError) -> StoreError {
        StoreError::BadData(format!("block {}: {err}", self.id))
    }

    /// The postings lists of `name` for the given values, from the cache or one batch of
    /// ranged reads.
    async fn postings_of(
        &self,
        name: &str,
        values: Vec<(&str, Range<u64>)>,
    ) -> Result<Vec<Arc<Vec<u32>>>, StoreError> {
        let mut lists: Vec<Option<Arc<Vec<u32>>>> = values
            .iter()
            .map(|(value, _)| self.cache.postings(&self.id, name, value))
            .collect();
        let missing: Vec<usize> = (0..values.len()).filter(|&i| lists[i].is_none()).collect();
        if !missing.is_empty() {
            let ranges: Vec<Range<u64>> = missing.iter().map(|&i| values[i].1.clone()).collect();
            let bytes = self.bucket.read_ranges(&self.index_path(), &ranges).await?;
            for (&i, bytes) in missing.iter().zip(bytes) {
                let refs = Arc::new(postings::decode(&bytes).map_err(|e| self.index_error(e))?);
                self.cache
                    .put_postings(&self.id, name, values[i].0, refs.clone());
                lists[i] = Some(refs);
            }
        }
        Ok(lists.into_iter().flatten().collect())
    }

    /// The union of the postings of the values of `name` that `keep` accepts.
    async fn postings_where(
        &self,
        name: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<u32>, StoreError> {
        let values: Vec<(&str, Range<u64>)> = self
            .header
            .postings
            .values(name)
            .filter(|(v, _)| keep(v))
            .collect();
        Ok(postings::union(&self.postings_of(name, values).await?))
    }

    /// The series references the matchers select, sorted (as Prometheus does it: matchers
    /// that reject "" intersect, matchers that accept "" subtract what they reject).
    pub async fn postings_for(&self, matchers: &[Matcher]) -> Result<Vec<u32>, StoreError> {
        let mut selected: Option<Vec<u32>> = None;
        let mut excluded: Vec<Vec<u32>> = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                excluded.push(self.postings_where(m.name(), |v| !m.matches(v)).await?);
                continue;
            }
            let refs = if m.op() == crate::labels::MatchOp::Equal {
                let range = self.header.postings.lookup(m.name(), m.value());
                let values = range.map(|r| (m.value(), r)).into_iter().collect();
                postings::union(&self.postings_of(m.name(), values).await?)
            } else {
                self.postings_where(m.name(), |v| m.matches(v)).await?
            };
            selected = Some(match selected {
                Some(prev) => postings::intersect(&prev, &refs),
                None => refs,
            });
            if selected.as_ref().is_some_and(Vec::is_empty) {
                return Ok(Vec::new());
            }
        }
        let selected = match selected {
            Some(refs) => refs,
            None => self.postings_where("", |v| v.is_empty()).await?,
        };
        Ok(postings::subtract(&selected, &postings::union(&excluded)))
    }

    /// The series entries of sorted references, from the cache or ranged reads.
    async fn series_entries(&self, refs: &[u32]) -> Result<Vec<Arc<SeriesEntry>>, StoreError> {
        let mut entries: Vec<Option<Arc<SeriesEntry>>> = refs
            .iter()
            .map(|&r| self.cache.series(&self.id, u64::from(r)))
            .collect();
        let missing: Vec<usize> = (0..refs.len()).filter(|&i| entries[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(entries.into_iter().flatten().collect());
        }
        let section = self.header.toc.series_range();
        let ranges: Vec<Range<u64>> = missing
            .iter()
            .map(|&i| {
                let start = u64::from(refs[i]) * SERIES_ALIGNMENT;
                // The next series starts where this one ends (plus alignment padding).
                let next = refs.get(i + 1).map(|&r| u64::from(r) * SERIES_ALIGNMENT);
                let end = (start + SERIES_READ_GUESS)
                    .min(section.end)
                    .min(next.unwrap_or(u64::MAX));
                start..end.max(start)
            })
            .collect();
        if let Some(r) = ranges
            .iter()
            .find(|r| r.start < section.start || r.start >= section.end)
        {
            return Err(StoreError::BadData(format!(
                "block {}: series reference at {} outside the series section",
                self.id, r.start
            )));
        }
        let fetched = self.bucket.read_ranges(&self.index_path(), &ranges).await?;
        for ((&i, range), mut bytes) in missing.iter().zip(&ranges).zip(fetched) {
            let needed = series::entry_len(&bytes).unwrap_or(SERIES_READ_GUESS * 4);
            if needed > bytes.len() as u64 {
                let end = (range.start + needed).min(section.end);
                bytes = self
                    .bucket
                    .read_range(&self.index_path(), range.start..end)
                    .await?;
            }
            let entry = Arc::new(
                series::decode(&bytes, &self.header.symbols).map_err(|e| self.index_error(e))?,
            );
            self.cache
                .put_series(&self.id, u64::from(refs[i]), entry.clone());
            entries[i] = Some(entry);
        }
        Ok(entries.into_iter().flatten().collect())
    }

    /// The series matching `matchers` (without the block's external labels) with chunks in
    /// `[min_time, max_time]` that are not deleted, in the index's order (sorted by labels).
    pub async fn select(
        &self,
        matchers: &[Matcher],
        min_time: i64,
        max_time: i64,
    ) -> Result<Vec<SelectedSeries>, StoreError> {
        let refs = self.postings_for(matchers).await?;
        let entries = self.series_entries(&refs).await?;
        Ok(refs
            .into_iter()
            .zip(entries)
            .filter_map(|(reference, entry)| {
                let reference = u64::from(reference);
                let deleted = self.tombstones.get(reference);
                let chunks: Vec<ChunkMeta> = entry
                    .chunks
                    .iter()
                    .filter(|c| {
                        c.overlaps(min_time, max_time)
                            && !tombstones::covers(deleted, c.min_time, c.max_time)
                    })
                    .copied()
                    .collect();
                (!chunks.is_empty()).then_some(SelectedSeries {
                    reference,
                    entry,
                    chunks,
                })
            })
            .collect())
    }

    /// The chunks of the selected series, in the same order: bytes as stored, except chunks
    /// with deleted samples, which are re-encoded without them.
    pub async fn chunks(
        &self,
        series: &[&SelectedSeries],
    ) -> Result<Vec<Vec<RawChunk>>, StoreError> {
        let metas: Vec<ChunkMeta> = series
            .iter()
            .flat_map(|s| s.chunks.iter().copied())
            .collect();
        let mut raw = self.read_chunks(&metas).await?.into_iter();
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            let deleted = self.tombstones.get(s.reference);
            let mut chunks = Vec::with_capacity(s.chunks.len());
            for chunk in raw.by_ref().take(s.chunks.len()) {
                if deleted.is_empty() {
                    chunks.push(chunk);
                } else {
                    chunks.extend(
                        without_deleted(chunk, deleted)
                            .map_err(|e| StoreError::BadData(format!("block {}: {e}", self.id)))?,
                    );
                }
            }
            out.push(chunks);
        }
        Ok(out)
    }

    /// Reads chunks by reference with one batch of ranged reads per segment file.
    async fn read_chunks(&self, metas: &[ChunkMeta]) -> Result<Vec<RawChunk>, StoreError> {
        let mut by_segment: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, meta) in metas.iter().enumerate() {
            by_segment
                .entry(segment::ChunkRef::from_u64(meta.reference).segment)
                .or_default()
                .push(i);
        }
        let mut out: Vec<Option<RawChunk>> = vec![None; metas.len()];
        for (seq, mut members) in by_segment {
            let file = format!("{}/chunks/{:06}", self.id, u64::from(seq) + 1);
            let size = *self.segments.get(seq as usize).ok_or_else(|| {
                StoreError::BadData(format!("block {}: chunk segment {file} missing", self.id))
            })?;
            let offset =
                |i: usize| u64::from(segment::ChunkRef::from_u64(metas[i].reference).offset);
            members.sort_by_key(|&i| offset(i));
            let ranges: Vec<Range<u64>> = members
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let start = offset(i);
                    let next = members
                        .get(k + 1)
                        .map(|&j| offset(j))
                        .filter(|&n| n > start);
                    let end = (start + CHUNK_READ_GUESS)
                        .min(size)
                        .min(next.unwrap_or(u64::MAX));
                    start..end.max(start)
                })
                .collect();
            if let Some(r) = ranges
                .iter()
                .find(|r| r.start < segment::SEGMENT_HEADER_LEN as u64 || r.start >= size)
            {
                return Err(StoreError::BadData(format!(
                    "block {}: chunk at {} outside segment {file} of {size} bytes",
                    self.id, r.start
                )));
            }
            let fetched = self.bucket.read_ranges(&file, &ranges).await?;
            for ((&i, range), bytes) in members.iter().zip(&ranges).zip(fetched) {
                let (encoding, data) = self.parse_chunk(&file, bytes, range.start, size).await?;
                out[i] = Some(RawChunk {
                    min_time: metas[i].min_time,
                    max_time: metas[i].max_time,
                    encoding,
                    data,
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// The encoding and data of the chunk at the start of `bytes`, reading it again whole
    /// when `bytes` holds only its start.
    async fn parse_chunk(
        &self,
        file: &str,
        mut bytes: Bytes,
        start: u64,
        size: u64,
    ) -> Result<(ChunkEncoding, Bytes), StoreError> {
        let corrupt = |e: SegmentError| StoreError::BadData(format!("{file}: {e}"));
        if let Err(SegmentError::Truncated { needed, .. }) =
            segment::chunk_at(&bytes, start as usize)
        {
            if start + needed > size {
                return Err(StoreError::BadData(format!(
                    "{file}: chunk at {start} needs {needed} bytes, the file ends at {size}"
                )));
            }
            bytes = self.bucket.read_range(file, start..start + needed).await?;
        }
        let (chunk, _) = segment::chunk_at(&bytes, start as usize).map_err(corrupt)?;
        let encoding =
            ChunkEncoding::from_prometheus(i32::from(chunk.encoding)).ok_or_else(|| {
                StoreError::BadData(format!("{file}: unknown chunk encoding {}", chunk.encoding))
            })?;
        // Slice the shared buffer rather than copying the chunk.
        let data_start = chunk.data.as_ptr() as usize - bytes.as_ptr() as usize;
        let data = bytes.slice(data_start..data_start + chunk.data.len());
        Ok((encoding, data))
    }
}

/// The sizes of `<id>/chunks/000001`, `000002`, ...; a gap in the numbering is corruption.
fn segment_sizes(id: &str, files: &[super::bucket::ObjectInfo]) -> Result<Vec<u64>, String> {
    let dir = format!("{id}/chunks/");
    let mut segments: Vec<(u64, u64)> = files
        .iter()
        .filter_map(|f| {
            let name = f.path.strip_prefix(&dir)?;
            Some((name.parse::<u64>().ok()?, f.size))
        })
        .collect();
    segments.sort_unstable();
    for (k, &(number, _)) in segments.iter().enumerate() {
        if number != k as u64 + 1 {
            return Err(format!("chunk segment {:06} missing", k + 1));
        }
    }
    Ok(segments.into_iter().map(|(_, size)| size).collect())
}

/// A chunk without the samples in the deleted ranges (re-encoded), or as it is when none of
/// its samples are deleted. Only XOR chunks can be cut; others are kept whole.
fn without_deleted(chunk: RawChunk, deleted: &[(i64, i64)]) -> Result<Vec<RawChunk>, String> {
    if chunk.encoding != ChunkEncoding::Xor
        || !deleted
            .iter()
            .any(|&(min, max)| min <= chunk.max_time && chunk.min_time <= max)
    {
        return Ok(vec![chunk]);
    }
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    decode_into(&chunk.data, &mut ts, &mut vs).map_err(|e| e.to_string())?;
    let (kept_ts, kept_vs): (Vec<i64>, Vec<f64>) = ts
        .into_iter()
        .zip(vs)
        .filter(|(t, _)| !tombstones::is_deleted(deleted, *t))
        .unzip();
    Ok(xor_chunks(&kept_ts, &kept_vs))
}
