//! `--endpoint.config-file`: endpoints with a kind — a gRPC StoreAPI, a Prometheus read
//! directly, a VictoriaMetrics — each with its external labels and timeout. YAML or JSON,
//! watched like an SD file (re-read on change, last good content kept while it is bad).
//!
//! ```yaml
//! endpoints:
//!   - kind: victoriametrics
//!     address: http://127.0.0.1:8428
//!     labels: {source: vm}
//!     timeout: 30s
//!     http_client_file: vm-client.yml   # basic auth, bearer token, TLS (as the sidecar's)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use store_api::sidecar::HttpClientConfig;

use super::watched_file::{Format, WatchedFile};
use super::{DiscoveryError, EndpointSpec, parse_spec};

/// How an endpoint is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    /// A StoreAPI server (`host:port`), as `--endpoint` gives.
    Grpc,
    /// A Prometheus' remote read and HTTP API, in-process (no sidecar).
    Prometheus,
    /// VictoriaMetrics' export and label APIs (single node, or vmselect with a tenant path).
    VictoriaMetrics,
}

impl EndpointKind {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "grpc" => Self::Grpc,
            "prometheus" => Self::Prometheus,
            "victoriametrics" => Self::VictoriaMetrics,
            _ => return None,
        })
    }
}

/// One configured endpoint, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    pub kind: EndpointKind,
    /// `host:port` for gRPC, the API's base URL for the HTTP kinds.
    pub address: String,
    /// External labels every series of the endpoint carries (VictoriaMetrics only: the other
    /// kinds advertise their own).
    pub labels: BTreeMap<String, String>,
    /// How long one HTTP request may take (HTTP kinds; gRPC calls are bounded by
    /// `--store.response-timeout`).
    pub timeout: Option<Duration>,
    /// Credentials and TLS of the HTTP kinds: a file in the format of
    /// `--prometheus.http-client-file`, relative to the endpoint config file.
    pub http_client_file: Option<PathBuf>,
}

impl EndpointConfig {
    /// A `--endpoint host:port`.
    pub fn grpc(address: String) -> Self {
        Self {
            kind: EndpointKind::Grpc,
            address,
            labels: BTreeMap::new(),
            timeout: None,
            http_client_file: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    endpoints: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    kind: String,
    address: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    timeout: Option<String>,
    http_client_file: Option<PathBuf>,
}

/// The endpoint config file and its last good endpoints.
pub(super) type EndpointFile = WatchedFile<EndpointConfig>;

/// Watches the endpoint config file at `path`.
pub(super) fn endpoint_file(path: PathBuf) -> Result<EndpointFile, DiscoveryError> {
    WatchedFile::new(
        "endpoint config file",
        "write `endpoints: []` for no endpoints",
        path,
        parse,
    )
}

fn parse(path: &Path, format: Format, bytes: &[u8]) -> Result<Vec<EndpointConfig>, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file: File = format.parse(bytes)?;
    let mut seen = BTreeSet::new();
    file.endpoints
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let named = |reason: String| format!("endpoints[{i}] ({}): {reason}", entry.address);
            let config = check(dir, &entry).map_err(named)?;
            if !seen.insert(config.address.clone()) {
                return Err(named("address: listed twice".into()));
            }
            Ok(config)
        })
        .collect()
}

/// One entry (of a file in `dir`), checked field by field; the error names the field.
fn check(dir: &Path, entry: &Entry) -> Result<EndpointConfig, String> {
    let kind = EndpointKind::parse(&entry.kind).ok_or_else(|| {
        format!(
            "kind: unknown kind {:?}, expected grpc, prometheus or victoriametrics",
            entry.kind
        )
    })?;
    let address = entry.address.trim().trim_end_matches('/').to_owned();
    match kind {
        EndpointKind::Grpc => match parse_spec(&address) {
            Ok(EndpointSpec::Static { .. }) => {}
            Ok(_) => return Err("address: DNS discovery is for --endpoint, not this file".into()),
            Err(e) => return Err(format!("address: {e}")),
        },
        EndpointKind::Prometheus | EndpointKind::VictoriaMetrics => {
            if !(address.starts_with("http://") || address.starts_with("https://")) {
                return Err(format!(
                    "address: {address:?} is not an http:// or https:// URL"
                ));
            }
        }
    }
    if kind != EndpointKind::VictoriaMetrics && !entry.labels.is_empty() {
        return Err(
            "labels: only victoriametrics endpoints take labels; this kind \
                    advertises its own external labels"
                .into(),
        );
    }
    // Names may be any UTF-8 (Prometheus 3); an empty value is no label at all.
    if let Some((name, value)) = entry
        .labels
        .iter()
        .find(|(n, v)| n.is_empty() || v.is_empty())
    {
        return Err(format!("labels: {name:?}={value:?} is not a label"));
    }
    let timeout = match &entry.timeout {
        None => None,
        Some(_) if kind == EndpointKind::Grpc => {
            return Err("timeout: gRPC calls are bounded by --store.response-timeout".into());
        }
        Some(text) => match crate::promql::syntax::parse_duration(text) {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(ms.unsigned_abs())),
            _ => {
                return Err(format!(
                    "timeout: {text:?} is not a positive duration (e.g. 30s)"
                ));
            }
        },
    };
    let http_client_file = match &entry.http_client_file {
        None => None,
        Some(_) if kind == EndpointKind::Grpc => {
            return Err(
                "http_client_file: gRPC endpoints use the --grpc-client-tls-* flags".into(),
            );
        }
        // Read now so that a bad file is reported with its entry; read again when the
        // endpoint is made (secrets in files named by it are read at each request).
        Some(file) => {
            let file = dir.join(file);
            HttpClientConfig::load(&file)
                .map_err(|e| format!("http_client_file: {}", e.message()))?;
            Some(file)
        }
    };
    Ok(EndpointConfig {
        kind,
        address,
        labels: entry.labels.clone(),
        timeout,
        http_client_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_yaml(text: &str) -> Result<Vec<EndpointConfig>, String> {
        parse(
            Path::new("/nonexistent/endpoints.yml"),
            Format::Yaml,
            text.as_bytes(),
        )
    }

    #[test]
    fn kinds_labels_and_timeouts_are_read() {
        let endpoints = parse_yaml(
            "endpoints:\n\
             - {kind: victoriametrics, address: 'http://vm:8428/', labels: {source: vm}, timeout: 30s}\n\
             - {kind: prometheus, address: 'http://prom:9090'}\n\
             - {kind: grpc, address: 'store:10901'}\n",
        )
        .unwrap();
        assert_eq!(endpoints.len(), 3);
        assert_eq!(endpoints[0].kind, EndpointKind::VictoriaMetrics);
        assert_eq!(endpoints[0].address, "http://vm:8428");
        assert_eq!(endpoints[0].labels["source"], "vm");
        assert_eq!(endpoints[0].timeout, Some(Duration::from_secs(30)));
        assert_eq!(endpoints[2], EndpointConfig::grpc("store:10901".into()));
    }

    #[test]
    fn errors_name_the_endpoint_and_the_field() {
        let cases = [
            (
                "- {kind: mimir, address: 'http://m'}",
                "endpoints[0] (http://m): kind: unknown kind \"mimir\"",
            ),
            (
                "- {kind: victoriametrics, address: 'vm:8428'}",
                "endpoints[0] (vm:8428): address: \"vm:8428\" is not an http",
            ),
            (
                "- {kind: grpc, address: 'http://s:1'}",
                "endpoints[0] (http://s:1): address: invalid endpoint spec",
            ),
            (
                "- {kind: grpc, address: 'dns+s:1'}",
                "address: DNS discovery",
            ),
            (
                "- {kind: prometheus, address: 'http://p', labels: {a: b}}",
                "labels: only victoriametrics",
            ),
            (
                "- {kind: victoriametrics, address: 'http://v', labels: {a: ''}}",
                "labels: \"a\"=\"\" is not a label",
            ),
            (
                "- {kind: victoriametrics, address: 'http://v', timeout: soon}",
                "timeout: \"soon\" is not a positive duration",
            ),
            (
                "- {kind: victoriametrics, address: 'http://v', user: x}",
                "unknown field `user`",
            ),
            (
                "- {kind: victoriametrics, address: 'http://v'}\n- {kind: victoriametrics, address: 'http://v/'}",
                "endpoints[1] (http://v/): address: listed twice",
            ),
        ];
        for (entries, expected) in cases {
            let err = parse_yaml(&format!("endpoints:\n{entries}\n")).unwrap_err();
            assert!(err.contains(expected), "{entries}: {err}");
        }
    }
}
