//! A JSON or YAML file of endpoints (an SD file, the endpoint config file), re-read when it
//! changes and kept at its last good content when it turns bad.
//!
//! Each poll stats the file and re-reads it only when its mtime or size changed, when the
//! last read failed, or when `reread_after` has passed (coarse mtimes can hide a same-size
//! rewrite). An unreadable or invalid file keeps its last good entries: a writer that
//! truncates and rewrites must not make every endpoint vanish for one poll.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;

use super::DiscoveryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Yaml,
}

impl Format {
    /// `bytes` as a `T` in this format.
    pub(super) fn parse<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, String> {
        match self {
            Format::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Format::Yaml => serde_yaml_ng::from_slice(bytes).map_err(|e| e.to_string()),
        }
    }
}

/// Parses a whole file (at the path given, for paths relative to it); one bad entry makes the
/// whole file bad (half a file is not the last good state). `Err` is the reason, without the
/// path.
pub(super) type Parser<T> = fn(&Path, Format, &[u8]) -> Result<Vec<T>, String>;

/// What identifies a version of the file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

struct State<T> {
    stamp: Option<Stamp>,
    read_at: Option<Instant>,
    /// The entries of the last good read.
    entries: Vec<T>,
    /// Why the file is not usable right now; `None` when `entries` is its current content.
    error: Option<DiscoveryError>,
}

/// One watched file and its last good content.
pub(super) struct WatchedFile<T> {
    /// What the file is, for messages ("endpoint SD file").
    what: &'static str,
    /// How to write a file with no entries on purpose (an empty file is taken for a rewrite).
    empty_hint: &'static str,
    path: PathBuf,
    format: Format,
    parser: Parser<T>,
    state: Mutex<State<T>>,
}

impl<T: Clone> WatchedFile<T> {
    /// Fails only for a name that is neither `.json`, `.yml` nor `.yaml`; the file itself is
    /// read later, so it may appear after startup.
    pub(super) fn new(
        what: &'static str,
        empty_hint: &'static str,
        path: PathBuf,
        parser: Parser<T>,
    ) -> Result<Self, DiscoveryError> {
        let format = match path.extension().and_then(|ext| ext.to_str()) {
            Some("json") => Format::Json,
            Some("yml" | "yaml") => Format::Yaml,
            _ => {
                return Err(DiscoveryError::FileParse {
                    what,
                    path,
                    reason: "unknown format, expected a .json, .yml or .yaml file".into(),
                });
            }
        };
        Ok(Self {
            what,
            empty_hint,
            path,
            format,
            parser,
            state: Mutex::new(State {
                stamp: None,
                read_at: None,
                entries: Vec::new(),
                error: None,
            }),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file now, failing if it is missing or invalid: for a file that must be good
    /// when the process starts (the endpoint config), unlike an SD file that may come later.
    pub(super) fn read_now(&self) -> Result<(), DiscoveryError> {
        let meta = std::fs::metadata(&self.path).map_err(|err| self.read_error(&err))?;
        let stamp = Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
        };
        let parsed = std::fs::read(&self.path)
            .map_err(|err| self.read_error(&err))
            .and_then(|bytes| self.parse(&bytes));
        match self.record(Some(stamp), parsed) {
            (_, Some(err)) => Err(err),
            (_, None) => Ok(()),
        }
    }

    /// The file's entries (the last good ones if it cannot be used now) and why it cannot.
    pub(super) async fn current(&self, reread_after: Duration) -> (Vec<T>, Option<DiscoveryError>) {
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
                return (state.entries.clone(), None);
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
        parsed: Result<Vec<T>, DiscoveryError>,
    ) -> (Vec<T>, Option<DiscoveryError>) {
        let mut state = self.lock();
        if stamp.is_some() {
            state.stamp = stamp;
            state.read_at = Some(Instant::now());
        }
        match parsed {
            Ok(entries) => {
                if state.error.take().is_some() {
                    tracing::info!(path = %self.path.display(), "{} is valid again", self.what);
                }
                state.entries = entries;
            }
            Err(err) => {
                // Once per distinct problem, not on every poll.
                if state.error.as_ref() != Some(&err) {
                    tracing::error!(
                        error = %err,
                        kept_entries = state.entries.len(),
                        "{} unusable, keeping its last good entries", self.what
                    );
                }
                state.error = Some(err);
            }
        }
        (state.entries.clone(), state.error.clone())
    }

    fn parse(&self, bytes: &[u8]) -> Result<Vec<T>, DiscoveryError> {
        let parse_error = |reason: String| DiscoveryError::FileParse {
            what: self.what,
            path: self.path.clone(),
            reason,
        };
        // An empty file is most likely being rewritten in place (truncated, not yet written):
        // treat it as invalid so the last good entries stay.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(parse_error(format!(
                "the file is empty; {}",
                self.empty_hint
            )));
        }
        (self.parser)(&self.path, self.format, bytes).map_err(parse_error)
    }

    fn read_error(&self, err: &std::io::Error) -> DiscoveryError {
        DiscoveryError::FileRead {
            what: self.what,
            path: self.path.clone(),
            reason: err.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // The state is replaced whole under the lock, so a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
