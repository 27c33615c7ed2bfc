//! What a query costs the block store: the bytes it reads from the bucket and the memory the
//! store process holds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use panoptes_tests::block_store::{DecodedSeries, block_dirs, decoded_series, disk_usage};
use panoptes_tests::data::Series;
use panoptes_tests::promtool;
use std::sync::Arc;
use store_api::chunk::decode_into;
use store_api::objstore::{Bucket, BucketStore, IndexCache};
use store_api::{Labels, Matcher, SeriesFrame, SeriesRequest, Store};

const START: i64 = 1_700_000_000_000;

/// `count` series of `samples` samples each, 15 s apart, all in one 2h block.
fn series(count: usize, samples: usize) -> Vec<Series> {
    (0..count)
        .map(|i| Series {
            labels: Labels::from_pairs([
                ("__name__", "node_cpu_seconds_total".to_string()),
                ("instance", format!("host-{i:06}")),
                ("zone", format!("zone-{}", i % 10)),
            ]),
            samples: (0..samples)
                .map(|k| (START + 7 + 15_000 * k as i64, (i * 1000 + k) as f64))
                .collect(),
        })
        .collect()
}

/// The decoded samples of each series matching `matchers`.
async fn select(store: &BucketStore, matchers: Vec<Matcher>) -> Vec<DecodedSeries> {
    let request = SeriesRequest {
        min_time: i64::MIN,
        max_time: i64::MAX,
        matchers,
        ..Default::default()
    };
    decoded_series(store, request).await.unwrap().0
}

/// A query for one series of a block of 100,000 reads a sliver of the block: the postings of
/// one label value, one series entry and its chunks, not the index or the chunk files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_series_of_a_hundred_thousand_reads_a_sliver_of_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let generated = series(100_000, 8);
    promtool::create_blocks(&generated, dir.path());
    let blocks = block_dirs(&dir.path().join("blocks"));
    assert_eq!(blocks.len(), 1);
    let block_bytes = disk_usage(&blocks[0]);

    let local = LocalFileSystem::new_with_prefix(dir.path().join("blocks")).unwrap();
    let bucket = Arc::new(Bucket::new(Arc::new(local), ""));
    let store = BucketStore::new(bucket.clone(), Arc::new(IndexCache::new(64 << 20)));
    store.sync().await.unwrap();
    let header_bytes = bucket.bytes_read();

    let wanted = &generated[42_424];
    let found = select(
        &store,
        vec![Matcher::equal(
            "instance",
            wanted.labels.get("instance").unwrap(),
        )],
    )
    .await;
    let query_bytes = bucket.bytes_read() - header_bytes;
    assert_eq!(found, vec![(wanted.labels.clone(), wanted.samples.clone())]);

    // A second label in the query intersects two postings lists, one of them 10,000 long.
    let before = bucket.bytes_read();
    let found = select(
        &store,
        vec![
            Matcher::equal("zone", "zone-7"),
            Matcher::equal("instance", "host-000017"),
        ],
    )
    .await;
    let intersect_bytes = bucket.bytes_read() - before;
    assert_eq!(found.len(), 1);

    println!(
        "block {block_bytes} bytes; sync read {header_bytes} ({:.1}%); one series read \
         {query_bytes} ({:.3}%); with a 10,000-series label {intersect_bytes} ({:.3}%)",
        100.0 * header_bytes as f64 / block_bytes as f64,
        100.0 * query_bytes as f64 / block_bytes as f64,
        100.0 * intersect_bytes as f64 / block_bytes as f64,
    );
    assert!(
        query_bytes * 1000 < block_bytes,
        "one series reads under 0.1%"
    );
    assert!(
        intersect_bytes * 100 < block_bytes,
        "the intersection reads under 1%"
    );
    assert!(
        header_bytes * 2 < block_bytes,
        "the index header is under half the block"
    );
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// The store process serving a million samples (1,000 series over 3 blocks) in one Series
/// call stays within a fixed memory bound: chunks are read and sent a batch at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_samples_are_served_within_a_memory_bound() {
    const BOUND: u64 = 48 << 20;
    let dir = tempfile::tempdir().unwrap();
    promtool::create_blocks(&series(1_000, 1_000), dir.path());
    let bucket = dir.path().join("blocks");
    assert!(block_dirs(&bucket).len() >= 3);
    let (store, grpc) = panoptes_tests::block_store::start_store(
        &panoptes_tests::block_store::filesystem_config(&bucket),
        &dir.path().join("store"),
        &[],
    );
    let client = store_api::StoreClient::new(&grpc.to_string()).unwrap();
    client.info().await.unwrap();
    let idle = peak_rss(store.pid());

    let request = SeriesRequest {
        min_time: i64::MIN,
        max_time: i64::MAX,
        matchers: vec![Matcher::equal("__name__", "node_cpu_seconds_total")],
        ..Default::default()
    };
    let mut stream = client.series(request).await.unwrap();
    let (mut series_count, mut samples) = (0, 0);
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    while let Some(frame) = stream.next().await {
        if let SeriesFrame::Series(s) = frame.unwrap() {
            series_count += 1;
            for chunk in &s.chunks {
                ts.clear();
                vs.clear();
                decode_into(&chunk.data, &mut ts, &mut vs).unwrap();
                samples += ts.len();
            }
        }
    }
    assert_eq!((series_count, samples), (1_000, 1_000_000));
    let peak = peak_rss(store.pid());
    println!(
        "store peak RSS: {:.1} MiB idle, {:.1} MiB after serving 1,000,000 samples (bound {} MiB)",
        idle as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        BOUND >> 20
    );
    assert!(peak < BOUND, "peak RSS {peak} over {BOUND}");
}
