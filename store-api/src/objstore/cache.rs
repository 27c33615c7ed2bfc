//! The index cache: decoded postings lists and series entries, shared by all blocks, each
//! kind bounded by its own byte budget (moka, weighed by memory held).

use super::index::series::SeriesEntry;
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Postings of one label pair in one block: (block ULID, name, value).
type PostingsKey = (Arc<str>, String, String);
/// One series of one block: (block ULID, series reference).
type SeriesKey = (Arc<str>, u64);

pub struct IndexCache {
    postings: Cache<PostingsKey, Arc<Vec<u32>>>,
    series: Cache<SeriesKey, Arc<SeriesEntry>>,
    /// Lookups that found their entry, and that did not: postings, series.
    hits: [AtomicU64; 2],
    misses: [AtomicU64; 2],
}

/// One kind of entry's figures so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    /// `postings` or `series`.
    pub kind: &'static str,
    pub hits: u64,
    pub misses: u64,
    pub items: u64,
    /// Memory held, as weighed against the budget.
    pub bytes: u64,
}

const POSTINGS: usize = 0;
const SERIES: usize = 1;

impl std::fmt::Debug for IndexCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexCache")
            .field("postings", &self.postings.entry_count())
            .field("series", &self.series.entry_count())
            .finish()
    }
}

impl IndexCache {
    /// A cache holding at most `bytes` in all: half for postings, half for series.
    pub fn new(bytes: u64) -> Self {
        let half = bytes / 2;
        Self {
            postings: Cache::builder()
                .max_capacity(half)
                .weigher(|k: &PostingsKey, v: &Arc<Vec<u32>>| {
                    weight(k.1.len() + k.2.len() + 64 + v.len() * 4)
                })
                .build(),
            series: Cache::builder()
                .max_capacity(half)
                .weigher(|_: &SeriesKey, v: &Arc<SeriesEntry>| weight(v.memory_bytes() + 32))
                .build(),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// Postings and series figures, for the store's metrics.
    pub fn stats(&self) -> [CacheStats; 2] {
        let stats = |kind, i: usize, items, bytes| CacheStats {
            kind,
            hits: self.hits[i].load(Ordering::Relaxed),
            misses: self.misses[i].load(Ordering::Relaxed),
            items,
            bytes,
        };
        [
            stats(
                "postings",
                POSTINGS,
                self.postings.entry_count(),
                self.postings.weighted_size(),
            ),
            stats(
                "series",
                SERIES,
                self.series.entry_count(),
                self.series.weighted_size(),
            ),
        ]
    }

    fn counted<T>(&self, kind: usize, found: Option<T>) -> Option<T> {
        let counter = if found.is_some() {
            &self.hits[kind]
        } else {
            &self.misses[kind]
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn postings(&self, block: &Arc<str>, name: &str, value: &str) -> Option<Arc<Vec<u32>>> {
        let found = self
            .postings
            .get(&(block.clone(), name.to_string(), value.to_string()));
        self.counted(POSTINGS, found)
    }

    pub fn put_postings(&self, block: &Arc<str>, name: &str, value: &str, refs: Arc<Vec<u32>>) {
        self.postings
            .insert((block.clone(), name.to_string(), value.to_string()), refs);
    }

    pub fn series(&self, block: &Arc<str>, reference: u64) -> Option<Arc<SeriesEntry>> {
        self.counted(SERIES, self.series.get(&(block.clone(), reference)))
    }

    pub fn put_series(&self, block: &Arc<str>, reference: u64, entry: Arc<SeriesEntry>) {
        self.series.insert((block.clone(), reference), entry);
    }
}

fn weight(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}
