//! `--endpoint.sd-file`: Prometheus file_sd files (JSON or YAML, chosen by extension) whose
//! targets are endpoint specs, as in Thanos (so `dns+...` targets work there too).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::watched_file::{Format, WatchedFile};
use super::{DiscoveryError, EndpointSpec, parse_spec};

/// One Prometheus target group.
#[derive(Deserialize)]
struct TargetGroup {
    targets: Vec<String>,
    /// Parsed so that a malformed file is reported, but endpoints carry no target labels.
    #[serde(default)]
    #[allow(dead_code)]
    labels: BTreeMap<String, String>,
}

/// One SD file and its last good targets.
pub(super) type FileSd = WatchedFile<EndpointSpec>;

/// Watches the SD file at `path`.
pub(super) fn sd_file(path: PathBuf) -> Result<FileSd, DiscoveryError> {
    WatchedFile::new("endpoint SD file", "write [] for no targets", path, parse)
}

fn parse(_path: &Path, format: Format, bytes: &[u8]) -> Result<Vec<EndpointSpec>, String> {
    let groups: Vec<TargetGroup> = format.parse(bytes)?;
    groups
        .iter()
        .flat_map(|group| &group.targets)
        .map(|target| parse_spec(target).map_err(|e| e.to_string()))
        .collect()
}
