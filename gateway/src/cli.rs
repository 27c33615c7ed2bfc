//! The command line: one subcommand per component, flags named as Thanos names them.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "panoptes",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (revision: ",
        env!("PANOPTES_REVISION"),
        ", branch: ",
        env!("PANOPTES_BRANCH"),
        ")"
    ),
    about = "A global query layer for Prometheus"
)]
pub struct Cli {
    /// Log filter: error, warn, info, debug, or a tracing filter such as `gateway=debug`.
    #[arg(long = "log.level", global = true, default_value = "info")]
    pub log_level: String,

    /// Log lines as `text`, `logfmt` or `json`.
    #[arg(long = "log.format", global = true, value_enum, default_value_t)]
    pub log_format: crate::telemetry::LogFormat,

    /// A file with the tracing configuration (Thanos' shape: `type: OTLP` and its `config`);
    /// traces are off without it.
    #[arg(long = "tracing.config-file", global = true, value_name = "FILE")]
    pub tracing_config_file: Option<PathBuf>,

    /// The tracing configuration itself, instead of a file.
    #[arg(
        long = "tracing.config",
        global = true,
        value_name = "YAML",
        conflicts_with = "tracing_config_file"
    )]
    pub tracing_config: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The gateway: PromQL and Prometheus' HTTP API over StoreAPI endpoints.
    Query(Box<QueryArgs>),
    /// Serve the StoreAPI over a Prometheus server (remote read).
    Sidecar(SidecarArgs),
    /// Serve the StoreAPI over Prometheus TSDB blocks in object storage.
    Store(StoreArgs),
    /// The whole topology in one process on generated data, for a first look.
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where the demo's gateway serves the HTTP API.
    #[arg(long = "http-address", default_value = "127.0.0.1:10902")]
    pub http_address: SocketAddr,
}

#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// Where to serve the HTTP API.
    #[arg(long = "http-address", default_value = "0.0.0.0:10902")]
    pub http_address: SocketAddr,

    /// Serve the gateway itself as a StoreAPI endpoint here (for upper-tier gateways).
    #[arg(long = "grpc-address")]
    pub grpc_address: Option<SocketAddr>,

    #[command(flatten)]
    pub grpc_server: GrpcServerArgs,

    #[command(flatten)]
    pub grpc_client: GrpcClientArgs,

    #[command(flatten)]
    pub http_server: HttpServerArgs,

    /// An external label of this gateway, `name=value` (repeatable): attached to series it
    /// serves over StoreAPI and /federate where they lack it.
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// A StoreAPI endpoint: `host:port`, `dns+host:port` or `dnssrv+_grpc._tcp.name`
    /// (repeatable).
    #[arg(long = "endpoint")]
    pub endpoints: Vec<String>,

    /// A Prometheus file_sd file (JSON or YAML) listing endpoints, re-read on change
    /// (repeatable).
    #[arg(long = "endpoint.sd-file")]
    pub sd_files: Vec<std::path::PathBuf>,

    /// A YAML (or JSON) file of endpoints of any kind — `grpc`, `prometheus` (read directly,
    /// no sidecar), `victoriametrics` — with their external labels and timeouts; re-read on
    /// change (docs/operations.md).
    #[arg(long = "endpoint.config-file")]
    pub endpoint_config_file: Option<std::path::PathBuf>,

    /// Advanced: resolve `dns+`/`dnssrv+` endpoints by asking only this DNS server
    /// (`ip:port`, UDP then TCP; no search domains, no /etc/hosts) instead of the system
    /// resolver (/etc/resolv.conf).
    #[arg(long = "endpoint.dns-server", value_name = "IP:PORT")]
    pub dns_server: Option<SocketAddr>,

    /// A label that tells replicas apart; series equal but for it are de-duplicated
    /// (repeatable).
    #[arg(long = "query.replica-label")]
    pub replica_labels: Vec<String>,

    /// How replicas are merged: `counter-aware` (default), `penalty` (Thanos) or `chain`.
    #[arg(long = "deduplication.func", default_value = "counter-aware")]
    pub dedup_func: String,

    /// Answer with warnings when an endpoint fails (per request: `partial_response`).
    #[arg(long = "query.partial-response", default_value_t = true, action = clap::ArgAction::Set)]
    pub partial_response: bool,

    /// An endpoint whose whole answer has not arrived within this is given up.
    #[arg(long = "store.response-timeout", default_value = "30s", value_parser = parse_duration)]
    pub response_timeout: Duration,

    /// The longest a replica may keep a query waiting once another replica of its shard has
    /// made progress (less for a replica that usually answers faster): then it is cut, with a
    /// warning, and the answer is built from what arrived.
    #[arg(long = "store.replica-grace", default_value = "2s", value_parser = parse_duration)]
    pub replica_grace: Duration,

    /// An endpoint no longer discovered and not answering this long leaves the set.
    #[arg(long = "store.unhealthy-timeout", default_value = "5m", value_parser = parse_duration)]
    pub unhealthy_timeout: Duration,

    /// Maximum time a query may run.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = parse_duration)]
    pub query_timeout: Duration,

    /// Queries (and label and series calls) that may run at once; more wait.
    #[arg(long = "query.max-concurrent", default_value_t = 20)]
    pub max_concurrent: usize,

    /// Requests that may wait for a place (each at most its timeout); more are refused at
    /// once with a 503.
    #[arg(long = "query.max-queued", default_value_t = 100)]
    pub max_queued: usize,

    /// Write every query to this file, one JSON line each, as Prometheus' query log.
    #[arg(long = "query.log-file")]
    pub query_log_file: Option<std::path::PathBuf>,

    /// Log queries that take at least this long as warnings, e.g. `10s`.
    #[arg(long = "query.slow-query-log-threshold", value_parser = parse_duration)]
    pub slow_query_threshold: Option<Duration>,

    /// Maximum samples one query may hold in memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub max_samples: usize,

    /// Maximum series one query may select, over all its selectors.
    #[arg(long = "query.max-series", default_value_t = 1_000_000)]
    pub max_series: usize,

    /// How far back an instant selector looks for a sample.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = parse_duration)]
    pub lookback_delta: Duration,

    /// Optional behaviours, named as Prometheus names them (comma-separated or repeated).
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub features: Vec<Feature>,
}

impl QueryArgs {
    /// Every flag at its default, as a bare `panoptes query` has them (the demo's start).
    pub fn defaults() -> Self {
        #[derive(Parser)]
        struct Bare {
            #[command(flatten)]
            args: QueryArgs,
        }
        Bare::parse_from(["query"]).args
    }
}

/// Where and how the sidecar and the store serve: the StoreAPI, and their own HTTP port.
#[derive(Args, Debug, Clone)]
pub struct StoreServerArgs {
    /// Where to serve the StoreAPI (gRPC).
    #[arg(long = "grpc-address", default_value = "0.0.0.0:10901")]
    pub grpc_address: SocketAddr,

    /// Where to serve `/metrics`, `/-/healthy` and `/-/ready`.
    #[arg(long = "http-address", default_value = "0.0.0.0:10902")]
    pub http_address: SocketAddr,

    #[command(flatten)]
    pub grpc_server: GrpcServerArgs,

    #[command(flatten)]
    pub http_server: HttpServerArgs,
}

/// How an HTTP server serves: client timeouts, TLS and basic auth.
#[derive(Args, Debug, Clone)]
pub struct HttpServerArgs {
    /// To send a request's headers, or the next request on a kept-alive connection.
    #[arg(long = "http.header-read-timeout", default_value = "10s", value_parser = parse_duration)]
    pub header_read: Duration,

    /// To take any part of an answer: a client that reads nothing this long is dropped.
    #[arg(long = "http.write-timeout", default_value = "2m", value_parser = parse_duration)]
    pub write: Duration,

    /// Prometheus' web configuration file: TLS (`tls_server_config`) and basic auth
    /// (`basic_auth_users`, bcrypt hashes) for the HTTP server.
    #[arg(long = "http.config")]
    pub config: Option<PathBuf>,
}

impl HttpServerArgs {
    /// Loads the web config file, if any: a server never starts with one it cannot apply.
    pub fn serving(&self) -> Result<crate::http::server::Serving, String> {
        let web = match &self.config {
            Some(path) => crate::http::web_config::load(path)?,
            None => crate::http::web_config::WebConfig::default(),
        };
        Ok(crate::http::server::Serving {
            timeouts: crate::http::server::Timeouts {
                header_read: self.header_read,
                write: self.write,
            },
            tls: web.tls,
            auth: web.auth,
        })
    }
}

/// How a gRPC StoreAPI server serves: its request limit and TLS.
#[derive(Args, Debug, Clone)]
pub struct GrpcServerArgs {
    /// The largest request accepted (`ResourceExhausted` beyond), e.g. `4MiB`.
    #[arg(long = "grpc-server-max-recv-msg-size", default_value = "4MiB", value_parser = parse_size)]
    pub max_recv_msg_size: u64,

    /// Serve gRPC over TLS with this certificate (PEM, re-read on change).
    #[arg(long = "grpc-server-tls-cert", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The key of `--grpc-server-tls-cert` (PEM).
    #[arg(long = "grpc-server-tls-key", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by this CA (mutual TLS).
    #[arg(long = "grpc-server-tls-client-ca", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl GrpcServerArgs {
    /// `store` behind the StoreAPI with these limits and TLS.
    pub fn service<S: store_api::Store>(
        &self,
        store: Arc<S>,
    ) -> Result<store_api::server::StoreService<S>, String> {
        let max = usize::try_from(self.max_recv_msg_size).unwrap_or(usize::MAX);
        let service = store_api::server::StoreService::new(store).with_max_request_bytes(max);
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(service);
        };
        let tls = store_api::tls::ServerTls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: self.tls_client_ca.clone(),
        };
        let config = tls
            .config(&[b"h2"])
            .map_err(|e| format!("gRPC server TLS: {e}"))?;
        Ok(service.with_tls(config))
    }
}

/// How the gateway reaches its endpoints over TLS (Thanos' flags).
#[derive(Args, Debug, Clone)]
pub struct GrpcClientArgs {
    /// Reach every endpoint over TLS.
    #[arg(long = "grpc-client-tls-secure")]
    pub secure: bool,

    /// The CA that signs the endpoints' certificates (PEM); the system's roots if not given.
    #[arg(long = "grpc-client-tls-ca", requires = "secure")]
    pub ca: Option<PathBuf>,

    /// The gateway's client certificate for endpoints that require one (PEM).
    #[arg(long = "grpc-client-tls-cert", requires = "secure", requires = "key")]
    pub cert: Option<PathBuf>,

    /// The key of `--grpc-client-tls-cert` (PEM).
    #[arg(long = "grpc-client-tls-key", requires = "secure", requires = "cert")]
    pub key: Option<PathBuf>,

    /// The name the endpoints' certificates must carry, instead of each address's host.
    #[arg(long = "grpc-client-server-name", requires = "secure")]
    pub server_name: Option<String>,
}

impl GrpcClientArgs {
    /// The connector every endpoint uses, when TLS is on.
    pub fn connector(&self) -> Result<Option<store_api::tls::TlsConnector>, String> {
        if !self.secure {
            return Ok(None);
        }
        let tls = store_api::tls::ClientTls {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            server_name: self.server_name.clone(),
        };
        tls.connector()
            .map(Some)
            .map_err(|e| format!("gRPC client TLS: {e}"))
    }
}

/// What `--enable-feature` turns on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// Drop `__name__` at the end of evaluation, so `sum by (__name__) (rate(..))` and
    /// `label_replace` over a rate can still read it.
    PromqlDelayedNameRemoval,
}

#[derive(Args, Debug)]
pub struct SidecarArgs {
    /// Base URL of the Prometheus server.
    #[arg(long = "prometheus.url", default_value = "http://localhost:9090")]
    pub prometheus_url: String,

    #[command(flatten)]
    pub serve: StoreServerArgs,

    /// How to reach Prometheus: basic auth, bearer token and TLS, in the YAML format of
    /// Thanos' `--prometheus.http-client-file`.
    #[arg(long = "prometheus.http-client-file")]
    pub prometheus_http_client_file: Option<PathBuf>,

    /// Timeout of one request to Prometheus, e.g. `2m` or `30s`.
    #[arg(long = "prometheus.timeout", default_value = "2m", value_parser = parse_duration)]
    pub prometheus_timeout: Duration,
}

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// The bucket: a YAML file in Thanos' objstore format (`type: FILESYSTEM|S3|GCS|AZURE`,
    /// `config: {...}`, optional `prefix`).
    #[arg(long = "objstore.config-file")]
    pub objstore_config_file: std::path::PathBuf,

    #[command(flatten)]
    pub serve: StoreServerArgs,

    /// How often the bucket is listed for new and deleted blocks, e.g. `3m` or `10s`.
    #[arg(long = "sync-block-duration", default_value = "3m", value_parser = parse_duration)]
    pub sync_interval: Duration,

    /// Memory for decoded postings and series, e.g. `250MB`, `1GiB` or bytes.
    #[arg(long = "index-cache-size", default_value = "250MB", value_parser = parse_size)]
    pub index_cache_size: u64,
}

impl Cli {
    /// The tracing configuration, if one was given, read and validated.
    pub fn tracing(&self) -> Result<Option<crate::telemetry::traces::TracingConfig>, String> {
        let yaml = match (&self.tracing_config, &self.tracing_config_file) {
            (Some(yaml), _) => yaml.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map_err(|e| format!("--tracing.config-file {}: {e}", file.display()))?,
            (None, None) => return Ok(None),
        };
        let service = format!("panoptes-{}", self.command.name());
        crate::telemetry::traces::TracingConfig::parse(&yaml, &service).map(Some)
    }
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Query(_) => "query",
            Command::Sidecar(_) => "sidecar",
            Command::Store(_) => "store",
            Command::Demo(_) => "demo",
        }
    }
}

/// A size in bytes with an optional unit: `B`, `KB`/`MB`/`GB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("not a size: {text:?} (e.g. 250MB)"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {text:?} too large"))
}

/// `name=value`, as Thanos' `--label` (the value may be quoted).
fn parse_label(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("not a label: {text:?} (expected name=value)"))?;
    let value = value.trim_matches('"');
    if name.is_empty() || value.is_empty() {
        return Err(format!(
            "not a label: {text:?} (name and value must not be empty)"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Durations as Prometheus writes them: `1h30m`, `5m`, `10s`, `250ms`, `1d`, `1w`, `1y`
/// (the parser's reading of duration literals).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let ms = crate::promql::syntax::parse_duration(text)
        .map_err(|_| format!("not a duration: {text:?} (e.g. 30s, 5m, 1h30m)"))?;
    u64::try_from(ms)
        .map(Duration::from_millis)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_size};
    use std::time::Duration;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("250MB"), Ok(250_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16 KiB"), Ok(16 << 10));
        assert!(parse_size("").is_err());
        assert!(parse_size("MB").is_err());
        assert!(parse_size("5TB").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999y").is_err());
    }
}
