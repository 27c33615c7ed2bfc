//! The fan-out: many StoreAPI endpoints seen as one store. Endpoints are discovered and
//! health-checked (`endpoints`, `discovery`), chosen per request (`selection`), read
//! concurrently and merged in label order (`merge`), and replicas de-duplicated (`dedup`).
//! `storage` is what the PromQL engine reads through.

pub mod decode;
pub mod dedup;
pub mod discovery;
pub mod endpoints;
pub mod merge;
mod metadata;
pub mod selection;
mod storage;

pub use metadata::Answer;
pub use storage::{FanoutStorage, QueryOptions};

use endpoints::EndpointSet;
use std::sync::Arc;
use std::time::Duration;

/// Settings of the fan-out (flags of `panoptes query`).
#[derive(Clone, Debug)]
pub struct FanoutConfig {
    /// `--query.replica-label`: labels that tell replicas of one series apart.
    pub replica_labels: Vec<String>,
    /// `--deduplication.func`.
    pub dedup: dedup::DedupAlgorithm,
    /// `--query.partial-response`: answer with warnings when an endpoint fails.
    pub partial_response: bool,
    /// `--store.response-timeout`: an endpoint silent this long is given up.
    pub response_timeout: Duration,
    /// How often endpoints are discovered and their Info polled, and Info's timeout.
    pub info_interval: Duration,
    pub info_timeout: Duration,
    /// `--store.unhealthy-timeout`: an endpoint no longer discovered and not answering this
    /// long leaves the set.
    pub unhealthy_timeout: Duration,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            replica_labels: Vec::new(),
            dedup: dedup::DedupAlgorithm::default(),
            partial_response: true,
            response_timeout: Duration::from_secs(30),
            info_interval: Duration::from_secs(5),
            info_timeout: Duration::from_secs(5),
            unhealthy_timeout: Duration::from_secs(300),
        }
    }
}

/// The endpoints and how to query them.
pub struct Fanout {
    pub config: FanoutConfig,
    pub endpoints: Arc<EndpointSet>,
    discovery: discovery::Discovery,
}

impl Fanout {
    pub fn new(config: FanoutConfig, discovery: discovery::Discovery) -> Arc<Self> {
        Arc::new(Self {
            config,
            endpoints: Arc::new(EndpointSet::default()),
            discovery,
        })
    }

    /// Discovers endpoints and polls their Info once.
    pub async fn refresh(&self) {
        let resolved = self.discovery.resolve().await;
        for error in &resolved.errors {
            tracing::warn!(%error, "endpoint discovery");
        }
        self.endpoints.add(&resolved.addresses);
        self.endpoints.check_all(self.config.info_timeout).await;
        self.endpoints
            .prune(&resolved.addresses, self.config.unhealthy_timeout);
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
