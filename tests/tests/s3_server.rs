//! The S3 fixture itself: a real `s3s-fs` on loopback, written and read through the S3 API by
//! `object_store` (uploads, listings with and without delimiter, ranged reads, deletes).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use panoptes_tests::s3::{ACCESS_KEY, S3Server, SECRET_KEY};
use std::path::Path;

const BUCKET: &str = "blocks";
const BIG: usize = 3 * 1024 * 1024 + 12_345;

/// Deterministic, incompressible-looking bytes.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

fn write(root: &Path, relative: &str, bytes: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

async fn list(store: &dyn ObjectStore, prefix: Option<&str>) -> Vec<(String, u64)> {
    let prefix = prefix.map(ObjectPath::from);
    let mut objects: Vec<(String, u64)> = store
        .list(prefix.as_ref())
        .map_ok(|meta| (meta.location.to_string(), meta.size))
        .try_collect()
        .await
        .unwrap();
    objects.sort();
    objects
}

async fn common_prefixes(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    let listing = store
        .list_with_delimiter(Some(&ObjectPath::from(prefix)))
        .await
        .unwrap();
    listing
        .common_prefixes
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn s3s_fs_serves_uploads_ranges_listings_and_deletes() {
    let server = S3Server::start();
    server.create_bucket(BUCKET).await;
    assert!(
        server.root().join(BUCKET).is_dir(),
        "CreateBucket made the bucket directory"
    );

    let local = tempfile::tempdir().unwrap();
    let big = pseudo_random(BIG);
    write(
        local.path(),
        "01A/meta.json",
        br#"{"ulid":"01A","version":1}"#,
    );
    write(local.path(), "01A/index", b"index bytes");
    write(local.path(), "01A/chunks/000001", &big);
    write(
        local.path(),
        "01B/meta.json",
        br#"{"ulid":"01B","version":1}"#,
    );

    let keys = server.upload_dir(BUCKET, local.path(), "tenant").await;
    assert_eq!(
        keys,
        [
            "tenant/01A/chunks/000001",
            "tenant/01A/index",
            "tenant/01A/meta.json",
            "tenant/01B/meta.json",
        ]
    );

    let store = server.object_store(BUCKET);
    assert_eq!(
        list(store.as_ref(), None).await,
        [
            ("tenant/01A/chunks/000001".to_string(), BIG as u64),
            ("tenant/01A/index".to_string(), 11),
            ("tenant/01A/meta.json".to_string(), 26),
            ("tenant/01B/meta.json".to_string(), 26),
        ]
    );
    assert_eq!(
        common_prefixes(store.as_ref(), "tenant").await,
        ["tenant/01A", "tenant/01B"]
    );

    // Ranged reads of the big file, as a block reader does them.
    let chunks = ObjectPath::from("tenant/01A/chunks/000001");
    for range in [0..16, 1_000_000..1_500_001, (BIG as u64 - 100)..BIG as u64] {
        let bytes = store.get_range(&chunks, range.clone()).await.unwrap();
        assert_eq!(
            bytes.as_ref(),
            &big[range.start as usize..range.end as usize],
            "bytes {range:?}"
        );
    }
    let ranges = store
        .get_ranges(&chunks, &[10..20, 3_000_000..3_000_010])
        .await
        .unwrap();
    assert_eq!(ranges[0].as_ref(), &big[10..20]);
    assert_eq!(ranges[1].as_ref(), &big[3_000_000..3_000_010]);
    let head = store.head(&chunks).await.unwrap();
    assert_eq!(head.size, BIG as u64);
    assert!(head.e_tag.is_some(), "HEAD carries an ETag");
    let meta = store
        .get(&ObjectPath::from("tenant/01B/meta.json"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(meta.as_ref(), br#"{"ulid":"01B","version":1}"#);

    // Blocks disappear.
    assert_eq!(server.delete_prefix(BUCKET, "tenant/01A").await, 3);
    assert_eq!(
        list(store.as_ref(), None).await,
        [("tenant/01B/meta.json".to_string(), 26)]
    );
    assert_eq!(
        common_prefixes(store.as_ref(), "tenant").await,
        ["tenant/01B"]
    );
    let gone = store.get(&chunks).await.unwrap_err();
    assert!(
        matches!(gone, object_store::Error::NotFound { .. }),
        "{gone}"
    );

    // The credentials matter: a wrong secret is refused.
    let intruder = server.object_store_with_credentials(BUCKET, ACCESS_KEY, "not-the-secret");
    assert!(intruder.list(None).try_next().await.is_err());

    let yaml = server.bucket_config_yaml(BUCKET);
    assert_eq!(
        yaml,
        format!(
            "type: S3\nconfig:\n  bucket: {BUCKET}\n  endpoint: {}\n  region: us-east-1\n  \
             access_key: {ACCESS_KEY}\n  secret_key: {SECRET_KEY}\n  insecure: true\n",
            server.endpoint()
        )
    );
}
