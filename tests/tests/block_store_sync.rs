//! The block store follows its bucket: blocks that appear are served after the next sync,
//! blocks that disappear are dropped, and broken blocks (a bad index, a missing meta.json, a
//! truncated chunk file) are skipped with warnings while every other block is still served.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::block_store::{block_dirs, decoded_series, filesystem_config, start_store};
use panoptes_tests::data::{self, Spec};
use panoptes_tests::promtool;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use store_api::{Labels, Matcher, PartialResponse, SeriesRequest, Store, StoreClient};

/// Every series' samples and the warnings of a Series call over all time.
async fn everything(
    client: &StoreClient,
    strategy: PartialResponse,
) -> Result<(BTreeMap<Labels, Vec<(i64, f64)>>, Vec<String>), store_api::StoreError> {
    let request = SeriesRequest {
        min_time: i64::MIN,
        max_time: i64::MAX,
        matchers: vec![Matcher::new(store_api::MatchOp::Regex, "__name__", ".+").unwrap()],
        partial_response: strategy,
        ..Default::default()
    };
    let (series, warnings) = decoded_series(client, request).await?;
    Ok((series.into_iter().collect(), warnings))
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn copy_block(from: &Path, bucket: &Path, id: &str) -> std::path::PathBuf {
    let to = bucket.join(id);
    promtool::copy_dir(from, &to);
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_come_and_go_and_broken_ones_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec = Spec {
        pods: 2,
        ..Spec::default()
    };
    promtool::create_blocks(&data::generate(&spec), &root.join("src"));
    let blocks = block_dirs(&root.join("src/blocks"));
    assert!(blocks.len() >= 2);
    let bucket = root.join("bucket");
    promtool::copy_dir(&root.join("src/blocks"), &bucket);
    let (_store, grpc) = start_store(
        &filesystem_config(&bucket),
        &root.join("store"),
        &["--sync-block-duration=300ms"],
    );
    let client = StoreClient::new(&grpc.to_string()).unwrap();
    let info = client.info().await.unwrap();
    let (all, warnings) = everything(&client, PartialResponse::Abort).await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let samples: usize = all.values().map(Vec::len).sum();
    assert!(samples > 10_000, "{samples} samples");

    // The last block goes away: its time range and samples go with it.
    let last = blocks.last().unwrap();
    let last_id = last.file_name().unwrap().to_str().unwrap().to_string();
    let parked = root.join("parked");
    std::fs::rename(bucket.join(&last_id), &parked).unwrap();
    wait_for("the store drops the block", async || {
        client.info().await.unwrap().max_time < info.max_time
    })
    .await;
    let (fewer, _) = everything(&client, PartialResponse::Abort).await.unwrap();
    assert!(fewer.values().map(Vec::len).sum::<usize>() < samples);
    // ... and comes back.
    std::fs::rename(&parked, bucket.join(&last_id)).unwrap();
    wait_for("the store loads the block again", async || {
        client.info().await.unwrap() == info
    })
    .await;
    assert_eq!(
        everything(&client, PartialResponse::Abort).await.unwrap().0,
        all
    );

    // Broken copies of the first block under new IDs.
    let first = &blocks[0];
    let bad_index = copy_block(first, &bucket, "01JBAD0NDEX000000000000000");
    let index = bad_index.join("index");
    let mut bytes = std::fs::read(&index).unwrap();
    let len = bytes.len();
    bytes[len - 20] ^= 0xff; // inside the TOC
    std::fs::write(&index, bytes).unwrap();
    let no_meta = copy_block(first, &bucket, "01JN0META00000000000000000");
    std::fs::remove_file(no_meta.join("meta.json")).unwrap();
    let truncated = copy_block(first, &bucket, "01JTRVNCATED00000000000000");
    let segment = truncated.join("chunks/000001");
    let size = std::fs::metadata(&segment).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(size / 2).unwrap();
    drop(file);

    wait_for("the store sees the truncated block", async || {
        let (_, warnings) = everything(&client, PartialResponse::Warn).await.unwrap();
        warnings.iter().any(|w| w.contains("01JTRVNCATED"))
    })
    .await;
    let (served, warnings) = everything(&client, PartialResponse::Warn).await.unwrap();
    for id in ["01JBAD0NDEX", "01JN0META", "01JTRVNCATED"] {
        assert!(
            warnings.iter().any(|w| w.contains(id)),
            "a warning names {id}: {warnings:?}"
        );
    }
    assert!(
        warnings.iter().any(|w| w.contains("meta.json missing")),
        "{warnings:?}"
    );
    // The good blocks are all served; the readable part of the truncated copy duplicates
    // the first block's samples and is merged into them.
    assert_eq!(served, all, "every sample of the good blocks, once");
    // In abort mode a block that fails mid-query fails the call.
    let err = everything(&client, PartialResponse::Abort)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("01JTRVNCATED"), "{err}");
    println!("warnings: {warnings:#?}");
}
