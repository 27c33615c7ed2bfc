//! `--endpoint.sd-file`: Prometheus file_sd files (JSON or YAML, chosen by extension) whose
//! targets are endpoint specs, as in Thanos (so `dns+...` targets work there too).
//!
//! Each resolve stats the file and re-reads it only when its mtime or size changed, when the
//! last read failed, or when `reread_after` has passed (coarse mtimes can hide a same-size
//! rewrite). An unreadable or invalid file keeps its last good specs: a writer that truncates
//! and rewrites must not make every endpoint vanish for one poll.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

/// What identifies a version of the file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

#[derive(Default)]
struct State {
    stamp: Option<Stamp>,
    read_at: Option<Instant>,
    /// The specs of the last good read.
    specs: Vec<EndpointSpec>,
    /// Why the file is not usable right now; `None` when `specs` is its current content.
    error: Option<DiscoveryError>,
}

/// One SD file and its last good content.
pub(super) struct FileSd {
    path: PathBuf,
    format: Format,
    state: Mutex<State>,
}

impl FileSd {
    /// Fails only for a name that is neither `.json`, `.yml` nor `.yaml`; the file itself is
    /// read later, so it may appear after startup.
    pub(super) fn new(path: PathBuf) -> Result<Self, DiscoveryError> {
        let format = match path.extension().and_then(|ext| ext.to_str()) {
            Some("json") => Format::Json,
            Some("yml" | "yaml") => Format::Yaml,
            _ => {
                return Err(DiscoveryError::FileParse {
                    path,
                    reason: "unknown format, expected a .json, .yml or .yaml file".into(),
                });
            }
        };
        Ok(Self {
            path,
            format,
            state: Mutex::default(),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's specs (the last good ones if it cannot be used now) and why it cannot.
    pub(super) async fn current(
        &self,
        reread_after: Duration,
    ) -> (Vec<EndpointSpec>, Option<DiscoveryError>) {
        let stamp = match tokio::fs::metadata(&self.path).await {
            Ok(meta) => Stamp {
                modified: meta.modified().ok(),
                len: meta.len(),
            },
            Err(err) => return self.record(None, Err(self.read_error(&err))),
        };
        {
            let state = self.lock();
            let unchanged = state.error.is_none()
                && state.stamp == Some(stamp)
                && state.read_at.is_some_and(|at| at.elapsed() < reread_after);
            if unchanged {
                return (state.specs.clone(), None);
            }
        }
        let parsed = match tokio::fs::read(&self.path).await {
            Ok(bytes) => self.parse(&bytes),
            Err(err) => Err(self.read_error(&err)),
        };
        self.record(Some(stamp), parsed)
    }

    /// Stores the outcome of a read, logging when the file turns bad or good again.
    fn record(
        &self,
        stamp: Option<Stamp>,
        parsed: Result<Vec<EndpointSpec>, DiscoveryError>,
    ) -> (Vec<EndpointSpec>, Option<DiscoveryError>) {
        let mut state = self.lock();
        if stamp.is_some() {
            state.stamp = stamp;
            state.read_at = Some(Instant::now());
        }
        match parsed {
            Ok(specs) => {
                if state.error.take().is_some() {
                    tracing::info!(path = %self.path.display(), "endpoint SD file is valid again");
                }
                state.specs = specs;
            }
            Err(err) => {
                // Once per distinct problem, not on every poll.
                if state.error.as_ref() != Some(&err) {
                    tracing::error!(
                        error = %err,
                        kept_targets = state.specs.len(),
                        "endpoint SD file unusable, keeping its last good targets"
                    );
                }
                state.error = Some(err);
            }
        }
        (state.specs.clone(), state.error.clone())
    }

    fn parse(&self, bytes: &[u8]) -> Result<Vec<EndpointSpec>, DiscoveryError> {
        let parse_error = |reason: String| DiscoveryError::FileParse {
            path: self.path.clone(),
            reason,
        };
        // An empty file is most likely being rewritten in place (truncated, not yet written):
        // treat it as invalid so the last good targets stay. `[]` empties the list on purpose.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(parse_error(
                "the file is empty; write [] for no targets".into(),
            ));
        }
        let groups: Vec<TargetGroup> = match self.format {
            Format::Json => {
                serde_json::from_slice(bytes).map_err(|e| parse_error(e.to_string()))?
            }
            Format::Yaml => {
                serde_yaml_ng::from_slice(bytes).map_err(|e| parse_error(e.to_string()))?
            }
        };
        let targets = groups.iter().flat_map(|group| &group.targets);
        // One bad target makes the whole file bad: half a file is not the last good state.
        targets
            .map(|target| parse_spec(target).map_err(|e| parse_error(e.to_string())))
            .collect()
    }

    fn read_error(&self, err: &std::io::Error) -> DiscoveryError {
        DiscoveryError::FileRead {
            path: self.path.clone(),
            reason: err.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is replaced whole under the lock, so a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
