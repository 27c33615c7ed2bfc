//! The bucket as the block store sees it: ranged reads, whole small files and listings through
//! `object_store`, under an optional prefix. Every byte read is counted here, so tests and
//! `/metrics` can tell how much of a block a query touched.

use crate::error::StoreError;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Ranges closer than this are fetched as one request: a round trip to a bucket costs more
/// than reading a few KiB more.
const COALESCE_GAP: u64 = 16 * 1024;
/// Requests in flight per `read_ranges` call.
const CONCURRENT_READS: usize = 8;

#[derive(Debug)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    bytes_read: AtomicU64,
    requests: AtomicU64,
}

/// An object in a listing: its path relative to the bucket prefix, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub path: String,
    pub size: u64,
}

impl Bucket {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            bytes_read: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Bytes read from the bucket so far (ranged reads and whole files).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Read and list requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn location(&self, path: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(path)
        } else {
            Path::from(format!("{}/{path}", self.prefix))
        }
    }

    fn relative<'a>(&self, location: &'a Path) -> &'a str {
        let full = location.as_ref();
        if self.prefix.is_empty() {
            full
        } else {
            full.strip_prefix(self.prefix.as_str())
                .map_or(full, |rest| rest.trim_start_matches('/'))
        }
    }

    fn count(&self, bytes: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_read.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Reads `range` of the object at `path`.
    pub async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let bytes = self
            .store
            .get_range(&self.location(path), range.clone())
            .await
            .map_err(|e| bucket_error(path, e))?;
        self.count(bytes.len());
        if bytes.len() as u64 != range.end - range.start {
            return Err(StoreError::BadData(format!(
                "{path}: asked for bytes {range:?}, got {}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Reads several ranges of one object, sending ranges that lie close together as one
    /// request. The answers come back in the order of `ranges`.
    pub async fn read_ranges(
        &self,
        path: &str,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, StoreError> {
        let fetches = coalesce(ranges);
        let fetched: Vec<Bytes> = stream::iter(fetches.iter().cloned())
            .map(|range| self.read_range(path, range))
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;
        Ok(ranges
            .iter()
            .map(|r| {
                // `coalesce` sorted the fetches; the one holding `r` starts at or before it.
                let i = fetches.partition_point(|f| f.start <= r.start) - 1;
                let base = fetches[i].start;
                fetched[i].slice((r.start - base) as usize..(r.end - base) as usize)
            })
            .collect())
    }

    /// The whole object, or `None` when there is none at `path`.
    pub async fn read_all(&self, path: &str) -> Result<Option<Bytes>, StoreError> {
        let result = match self.store.get(&self.location(path)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(bucket_error(path, e)),
        };
        let bytes = result.bytes().await.map_err(|e| bucket_error(path, e))?;
        self.count(bytes.len());
        Ok(Some(bytes))
    }

    /// The names of the top-level directories (block ULIDs, among others).
    pub async fn list_dirs(&self) -> Result<Vec<String>, StoreError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let root = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let listing = self
            .store
            .list_with_delimiter(root.as_ref())
            .await
            .map_err(|e| bucket_error("/", e))?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// Every object under the directory `dir`, recursively.
    pub async fn list_files(&self, dir: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let location = self.location(dir);
        self.store
            .list(Some(&location))
            .map(|item| {
                item.map(|meta| ObjectInfo {
                    path: self.relative(&meta.location).to_string(),
                    size: meta.size,
                })
                .map_err(|e| bucket_error(dir, e))
            })
            .try_collect()
            .await
    }
}

fn bucket_error(path: &str, err: object_store::Error) -> StoreError {
    match err {
        object_store::Error::NotFound { .. } => {
            StoreError::BadData(format!("{path}: not found in the bucket"))
        }
        other => StoreError::Unavailable(format!("bucket read of {path}: {other}")),
    }
}

/// Sorted, merged fetch ranges covering `ranges`, joining neighbours at most
/// `COALESCE_GAP` apart.
fn coalesce(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.to_vec();
    sorted.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(COALESCE_GAP) => {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;

    #[test]
    fn coalesces_near_ranges_only() {
        let far = 10 * COALESCE_GAP;
        assert_eq!(
            coalesce(&[far..far + 10, 0..10, 20..30, 5..8]),
            vec![0..30, far..far + 10]
        );
    }

    #[tokio::test]
    async fn ranged_reads_count_bytes_and_keep_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("p/b")).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        std::fs::write(dir.path().join("p/b/file"), &data).unwrap();
        let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let bucket = Bucket::new(store, "p");
        let ranges = [150_000..150_010, 0..4, 2..6, 100..200];
        let parts = bucket.read_ranges("b/file", &ranges).await.unwrap();
        for (range, part) in ranges.iter().zip(&parts) {
            assert_eq!(&part[..], &data[range.start as usize..range.end as usize]);
        }
        // Two fetches: 0..200 and the far range.
        assert_eq!(bucket.bytes_read(), 200 + 10);
        assert_eq!(bucket.list_dirs().await.unwrap(), vec!["b".to_string()]);
        let files = bucket.list_files("b").await.unwrap();
        assert_eq!(
            files,
            vec![ObjectInfo {
                path: "b/file".into(),
                size: 200_000
            }]
        );
        assert_eq!(bucket.read_all("b/missing").await.unwrap(), None);
        assert!(bucket.read_range("b/file", 199_990..200_010).await.is_err());
    }
}
