//! The bucket configuration file, in Thanos' objstore shape:
//!
//! ```yaml
//! type: S3            # FILESYSTEM | S3 | GCS | AZURE
//! prefix: optional/sub/path
//! config:
//!   bucket: metrics
//!   endpoint: s3.eu-west-1.amazonaws.com
//!   region: eu-west-1
//!   access_key: ...    # empty: the AWS_* environment / instance credentials
//!   secret_key: ...
//!   insecure: false    # true: plain http
//! ```
//!
//! FILESYSTEM takes `directory`; GCS takes `bucket` and `service_account` (the JSON key, empty:
//! application default credentials); AZURE takes `storage_account`, `storage_account_key`,
//! `container` and optionally `endpoint` (e.g. `blob.core.windows.net`).

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    #[serde(rename = "type")]
    pub kind: BucketKind,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub config: serde_yaml_ng::Value,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum BucketKind {
    Filesystem,
    S3,
    Gcs,
    Azure,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesystemConfig {
    directory: String,
}

#[derive(Debug, Deserialize)]
struct S3Config {
    bucket: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    access_key: String,
    #[serde(default)]
    secret_key: String,
    #[serde(default)]
    session_token: String,
    #[serde(default)]
    insecure: bool,
}

#[derive(Debug, Deserialize)]
struct GcsConfig {
    bucket: String,
    #[serde(default)]
    service_account: String,
}

#[derive(Debug, Deserialize)]
struct AzureConfig {
    storage_account: String,
    #[serde(default)]
    storage_account_key: String,
    container: String,
    #[serde(default)]
    endpoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bucket config: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("bucket config: {0}")]
    Store(#[from] object_store::Error),
    #[error("bucket config: {0}")]
    Invalid(String),
}

impl BucketConfig {
    pub fn parse(yaml: &str) -> Result<Self, ConfigError> {
        Ok(serde_yaml_ng::from_str(yaml)?)
    }

    /// Opens the bucket the configuration names.
    pub fn open(&self) -> Result<Arc<dyn ObjectStore>, ConfigError> {
        let settings = self.config.clone();
        Ok(match self.kind {
            BucketKind::Filesystem => {
                let c: FilesystemConfig = serde_yaml_ng::from_value(settings)?;
                if c.directory.is_empty() {
                    return Err(ConfigError::Invalid("FILESYSTEM needs a directory".into()));
                }
                Arc::new(LocalFileSystem::new_with_prefix(&c.directory)?)
            }
            BucketKind::S3 => {
                let c: S3Config = serde_yaml_ng::from_value(settings)?;
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(&c.bucket)
                    .with_allow_http(c.insecure)
                    .with_virtual_hosted_style_request(false);
                if !c.endpoint.is_empty() {
                    let scheme = if c.insecure { "http" } else { "https" };
                    builder = builder.with_endpoint(format!("{scheme}://{}", c.endpoint));
                }
                if !c.region.is_empty() {
                    builder = builder.with_region(&c.region);
                }
                if !c.access_key.is_empty() {
                    builder = builder
                        .with_access_key_id(&c.access_key)
                        .with_secret_access_key(&c.secret_key);
                }
                if !c.session_token.is_empty() {
                    builder = builder.with_token(&c.session_token);
                }
                Arc::new(builder.build()?)
            }
            BucketKind::Gcs => {
                let c: GcsConfig = serde_yaml_ng::from_value(settings)?;
                let mut builder = GoogleCloudStorageBuilder::from_env().with_bucket_name(&c.bucket);
                if !c.service_account.is_empty() {
                    builder = builder.with_service_account_key(&c.service_account);
                }
                Arc::new(builder.build()?)
            }
            BucketKind::Azure => {
                let c: AzureConfig = serde_yaml_ng::from_value(settings)?;
                let mut builder = MicrosoftAzureBuilder::from_env()
                    .with_account(&c.storage_account)
                    .with_container_name(&c.container);
                if !c.storage_account_key.is_empty() {
                    builder = builder.with_access_key(&c.storage_account_key);
                }
                if !c.endpoint.is_empty() {
                    builder = builder
                        .with_endpoint(format!("https://{}.{}", c.storage_account, c.endpoint));
                }
                Arc::new(builder.build()?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_and_opens() {
        let dir = tempfile::tempdir().unwrap();
        let fs = format!(
            "type: FILESYSTEM\nconfig:\n  directory: {}\n",
            dir.path().display()
        );
        BucketConfig::parse(&fs).unwrap().open().unwrap();
        let s3 = "type: S3\nprefix: tenant-a\nconfig:\n  bucket: b\n  endpoint: 127.0.0.1:9000\n  region: us-east-1\n  access_key: k\n  secret_key: s\n  insecure: true\n";
        let config = BucketConfig::parse(s3).unwrap();
        assert_eq!(config.prefix, "tenant-a");
        config.open().unwrap();
        let azure = "type: AZURE\nconfig:\n  storage_account: acct\n  storage_account_key: a2V5\n  container: c\n";
        BucketConfig::parse(azure).unwrap().open().unwrap();
    }

    #[test]
    fn bad_configs_are_errors() {
        for bad in [
            "type: FTP\nconfig: {}\n",
            "config:\n  directory: /tmp\n",
            "type: FILESYSTEM\nconfig:\n  directory: ''\n",
            "type: S3\nconfig:\n  endpoint: x\n",
            "type: FILESYSTEM\nconfig:\n  directory: /tmp\nextra: 1\n",
        ] {
            let result = BucketConfig::parse(bad).and_then(|c| c.open());
            assert!(result.is_err(), "{bad}");
        }
    }
}
