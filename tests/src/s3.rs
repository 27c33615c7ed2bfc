//! A real S3-compatible server on loopback: `s3s-fs` (crates.io, 0.14.1) over a temporary
//! directory, with fixed test credentials, spoken to through the S3 API by the `object_store`
//! crate — the same client `panoptes store` uses.
//!
//! `s3s-fs` keeps one directory per bucket under its root and one file per object (keys are
//! paths); its own bookkeeping (`.bucket-*.json`, upload parts) lives beside the buckets in the
//! root, never inside them. Quirks worth knowing when reading a test failure:
//! - path-style requests only: virtual-hosted-style needs `--domain`, which we do not pass;
//! - listings are computed from files, so a deleted "directory" that stays behind empty never
//!   shows up as a common prefix; listed objects carry no ETag (GET and HEAD do: the MD5);
//! - the server walks the whole bucket for every listing: fine for test-sized buckets.

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net::free_addr;

/// The access key `s3s-fs` is started with.
pub const ACCESS_KEY: &str = "panoptes-test-access-key";
/// The secret key `s3s-fs` is started with.
pub const SECRET_KEY: &str = "panoptes-test-secret-key";
/// Any region works with `s3s-fs`; clients must sign with the one they name.
pub const REGION: &str = "us-east-1";

const BINARY: &str = "s3s-fs";
const INSTALL_HINT: &str = "run scripts/test.sh, which installs it \
     (cargo install s3s-fs --version 0.14.1 --features binary --locked)";

/// A running `s3s-fs` over a temporary root directory, killed on drop.
pub struct S3Server {
    addr: SocketAddr,
    /// Holds `root/` (the buckets) and `s3s-fs.log`.
    dir: tempfile::TempDir,
    child: Child,
}

impl S3Server {
    /// Starts `s3s-fs` on a free loopback port and waits until it accepts connections.
    pub fn start() -> Self {
        let binary = s3s_fs_binary();
        let dir = tempfile::tempdir().expect("temporary directory for s3s-fs");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("create the s3s-fs root directory");
        let log = std::fs::File::create(dir.path().join("s3s-fs.log")).expect("s3s-fs log file");
        let addr = free_addr();
        let child = Command::new(&binary)
            .arg("--host")
            .arg(addr.ip().to_string())
            .arg("--port")
            .arg(addr.port().to_string())
            .arg("--access-key")
            .arg(ACCESS_KEY)
            .arg("--secret-key")
            .arg(SECRET_KEY)
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {}: {err}; {INSTALL_HINT}", binary.display())
            });
        let mut server = Self { addr, dir, child };
        server.wait_until_listening(Duration::from_secs(20));
        server
    }

    /// `host:port` without a scheme, as Thanos' S3 `endpoint` wants it.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory holding one directory per bucket.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// What the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("s3s-fs.log")).unwrap_or_default()
    }

    /// Creates `bucket` with a real S3 `CreateBucket` request (`PUT /<bucket>`), signed by
    /// `object_store`'s SigV4 presigner and sent with reqwest (`object_store` itself has no
    /// bucket operations).
    pub async fn create_bucket(&self, bucket: &str) {
        let url = self
            .s3(bucket)
            .signed_url(
                Method::PUT,
                &ObjectPath::default(),
                Duration::from_secs(300),
            )
            .await
            .expect("presign CreateBucket");
        let response = reqwest::Client::new()
            .put(url)
            .send()
            .await
            .unwrap_or_else(|err| panic!("CreateBucket {bucket}: {err}\n{}", self.log()));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "CreateBucket {bucket}: {status}: {body}"
        );
    }

    /// Uploads every file under `local_dir` (recursively) to `bucket` through the S3 API, under
    /// `prefix` (`""` for the bucket's top level). Returns the keys written, sorted.
    pub async fn upload_dir(&self, bucket: &str, local_dir: &Path, prefix: &str) -> Vec<String> {
        let store = self.object_store(bucket);
        let mut files = Vec::new();
        list_files(local_dir, &mut files);
        let mut keys = Vec::with_capacity(files.len());
        for file in files {
            let relative = file
                .strip_prefix(local_dir)
                .expect("file under the directory");
            let relative: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let key = join_key(prefix, &relative.join("/"));
            let bytes =
                std::fs::read(&file).unwrap_or_else(|err| panic!("read {}: {err}", file.display()));
            store
                .put(&ObjectPath::from(key.as_str()), PutPayload::from(bytes))
                .await
                .unwrap_or_else(|err| panic!("upload {key} to {bucket}: {err}\n{}", self.log()));
            keys.push(key);
        }
        keys.sort();
        keys
    }

    /// Deletes every object of `bucket` under `prefix` through the S3 API. Returns how many.
    pub async fn delete_prefix(&self, bucket: &str, prefix: &str) -> usize {
        use futures_util::{StreamExt, TryStreamExt};
        let store = self.object_store(bucket);
        let prefix = ObjectPath::from(prefix);
        let locations: Vec<ObjectPath> = store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .unwrap_or_else(|err| panic!("list {bucket}/{prefix}: {err}\n{}", self.log()));
        let count = locations.len();
        let deleted: Vec<ObjectPath> = store
            .delete_stream(futures_util::stream::iter(locations.into_iter().map(Ok)).boxed())
            .try_collect()
            .await
            .unwrap_or_else(|err| panic!("delete {bucket}/{prefix}: {err}\n{}", self.log()));
        assert_eq!(
            deleted.len(),
            count,
            "objects deleted under {bucket}/{prefix}"
        );
        count
    }

    /// The Thanos-style objstore configuration for `bucket`, what `panoptes store
    /// --objstore.config-file` reads.
    pub fn bucket_config_yaml(&self, bucket: &str) -> String {
        format!(
            "type: S3\n\
             config:\n  \
               bucket: {bucket}\n  \
               endpoint: {endpoint}\n  \
               region: {REGION}\n  \
               access_key: {ACCESS_KEY}\n  \
               secret_key: {SECRET_KEY}\n  \
               insecure: true\n",
            endpoint = self.endpoint(),
        )
    }

    /// An `object_store` client for `bucket`, for tests that read or write directly.
    pub fn object_store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(self.s3(bucket))
    }

    /// Like [`S3Server::object_store`] with other credentials (e.g. to check they are refused).
    pub fn object_store_with_credentials(
        &self,
        bucket: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Arc<dyn ObjectStore> {
        Arc::new(self.s3_with_credentials(bucket, access_key, secret_key))
    }

    fn s3(&self, bucket: &str) -> AmazonS3 {
        self.s3_with_credentials(bucket, ACCESS_KEY, SECRET_KEY)
    }

    fn s3_with_credentials(&self, bucket: &str, access_key: &str, secret_key: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(self.url())
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(REGION)
            .with_bucket_name(bucket)
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key)
            // A test against a local server should fail in seconds, not after minutes of backoff.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                ..RetryConfig::default()
            })
            .build()
            .expect("object_store S3 client for s3s-fs")
    }

    fn wait_until_listening(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll s3s-fs") {
                panic!("s3s-fs exited ({status}) before listening:\n{}", self.log());
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs does not listen on {} after {timeout:?}:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `s3s-fs` on PATH, else in cargo's bin directory (where `cargo install` puts it, and which a
/// test runner's PATH may lack).
fn s3s_fs_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    on_path
        .into_iter()
        .chain(cargo_home.map(|home| home.join("bin")))
        .map(|dir| dir.join(BINARY))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{BINARY}` is not installed: {INSTALL_HINT}"))
}

fn list_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("read {}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            list_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn join_key(prefix: &str, relative: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        relative.to_string()
    } else {
        format!("{prefix}/{relative}")
    }
}
