//! The fan-out: many StoreAPI endpoints seen as one store. Endpoints are discovered and
//! health-checked (`endpoints`, `discovery`), chosen per request (`selection`), read
//! concurrently and merged in label order (`merge`), decoded (`decode`) and replicas
//! de-duplicated (`dedup`). `series` is the one API every reader of series uses (the
//! engine's `storage`, the gRPC face, `/federate`, the series API in `metadata`).

mod decode;
pub mod dedup;
pub mod discovery;
pub mod endpoint_client;
pub mod endpoints;
mod hedge;
pub mod merge;
mod metadata;
pub mod metrics;
pub mod selection;
pub mod series;
mod storage;

pub use metadata::Answer;
pub use storage::{FanoutStorage, QueryOptions};

use endpoints::{Endpoint, EndpointSet, Selection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store_api::StoreInfo;

/// Settings of the fan-out (flags of `panoptes query`).
#[derive(Clone, Debug)]
pub struct FanoutConfig {
    /// `--query.replica-label`: labels that tell replicas of one series apart.
    pub replica_labels: Vec<String>,
    /// `--deduplication.func`.
    pub dedup: dedup::DedupAlgorithm,
    /// `--query.partial-response`: answer with warnings when an endpoint fails.
    pub partial_response: bool,
    /// `--store.response-timeout`: an endpoint whose whole answer has not arrived within this
    /// is given up.
    pub response_timeout: Duration,
    /// `--store.replica-grace`: the longest a replica may keep a request waiting once another
    /// replica of its shard progressed.
    pub replica_grace: Duration,
    /// How often endpoints are discovered and their Info polled, and Info's timeout.
    pub info_interval: Duration,
    pub info_timeout: Duration,
    /// `--store.unhealthy-timeout`: an endpoint no longer discovered and not answering this
    /// long leaves the set.
    pub unhealthy_timeout: Duration,
    /// `--grpc-client-tls-*`: how endpoints are reached over TLS, if they are.
    pub client_tls: Option<store_api::tls::TlsConnector>,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            replica_labels: Vec::new(),
            dedup: dedup::DedupAlgorithm::default(),
            partial_response: true,
            response_timeout: Duration::from_secs(30),
            replica_grace: Duration::from_secs(2),
            info_interval: Duration::from_secs(5),
            info_timeout: Duration::from_secs(5),
            unhealthy_timeout: Duration::from_secs(300),
            client_tls: None,
        }
    }
}

/// The endpoints and how to query them.
pub struct Fanout {
    pub config: FanoutConfig,
    pub endpoints: Arc<EndpointSet>,
    discovery: discovery::Discovery,
    /// The last discovery round's errors (a name that does not resolve, an unreadable SD
    /// file): endpoints that may exist and are not queried.
    discovery_errors: RwLock<Vec<String>>,
    /// The first discovery and Info round has finished (`/-/ready`).
    ready: AtomicBool,
    pub metrics: Arc<metrics::FanoutMetrics>,
}

impl Fanout {
    pub fn new(config: FanoutConfig, discovery: discovery::Discovery) -> Arc<Self> {
        Arc::new(Self {
            endpoints: Arc::new(EndpointSet::new(config.client_tls.clone())),
            config,
            discovery,
            discovery_errors: RwLock::new(Vec::new()),
            ready: AtomicBool::new(false),
            metrics: Arc::default(),
        })
    }

    /// A fan-out over fixed `endpoints` with `config`, de-duplicating by `replica`, its first
    /// Info round done: the demo's lower tier, and tests and benchmarks over loopback stores.
    pub async fn over_replicas(
        endpoints: &[String],
        config: FanoutConfig,
    ) -> Result<Arc<Self>, discovery::DiscoveryError> {
        let config = FanoutConfig {
            replica_labels: vec!["replica".into()],
            ..config
        };
        let fanout = Self::new(config, discovery::Discovery::new(endpoints, &[])?);
        fanout.refresh().await;
        Ok(fanout)
    }

    /// Exports the fan-out's metrics (endpoint calls and health) in `registry`.
    pub fn register_metrics(&self, registry: &crate::telemetry::metrics::Registry) {
        self.metrics.register(registry, self.endpoints.clone());
    }

    /// Discovers endpoints and polls their Info once.
    pub async fn refresh(&self) {
        let resolved = self.discovery.resolve().await;
        for error in &resolved.errors {
            tracing::warn!(%error, "endpoint discovery");
        }
        let mut endpoints: Vec<discovery::EndpointConfig> = resolved
            .addresses
            .iter()
            .map(|address| discovery::EndpointConfig::grpc(address.clone()))
            .collect();
        endpoints.extend(resolved.configured.iter().cloned());
        self.endpoints.add(&endpoints);
        if let Ok(mut errors) = self.discovery_errors.write() {
            *errors = resolved.errors.iter().map(ToString::to_string).collect();
        }
        self.endpoints.check_all(self.config.info_timeout).await;
        let removed = self
            .endpoints
            .prune(&endpoints, self.config.unhealthy_timeout);
        for address in removed {
            self.metrics.forget(&address);
        }
        self.ready.store(true, Ordering::Release);
    }

    /// Whether the first discovery and Info round has finished: before it, requests only
    /// reach the endpoints already probed, and say so.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The endpoints a request goes to (see [`EndpointSet::select`]), with the last
    /// discovery round's errors among those left out.
    pub fn select(&self, wants: impl Fn(&Endpoint, &StoreInfo) -> bool) -> Selection {
        let mut selection = self.endpoints.select(wants);
        if let Ok(errors) = self.discovery_errors.read() {
            selection.left_out.extend(
                errors
                    .iter()
                    .map(|error| format!("endpoint discovery failed, not queried: {error}")),
            );
        }
        selection
    }

    /// Refreshes every `info_interval` in the background, for as long as the fan-out lives.
    pub fn spawn_refresh(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(fanout) = weak.upgrade() else { return };
                fanout.refresh().await;
                let interval = fanout.config.info_interval;
                drop(fanout);
                tokio::time::sleep(interval).await;
            }
        });
    }
}
