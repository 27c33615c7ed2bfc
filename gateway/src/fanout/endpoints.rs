//! The endpoint set: every discovered StoreAPI endpoint with its last Info, polled every few
//! seconds. An endpoint whose Info fails is not queried; one that stays unhealthy longer than
//! the unhealthy timeout (or is no longer discovered) leaves the set.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};
use store_api::tls::TlsConnector;
use store_api::{Store, StoreInfo};

use super::discovery::EndpointConfig;
use super::endpoint_client::EndpointClient;

/// One endpoint and what we last learned about it.
#[derive(Debug)]
pub struct Endpoint {
    pub address: String,
    /// What it was made from: a changed config replaces the endpoint.
    pub config: EndpointConfig,
    pub client: EndpointClient,
    state: RwLock<EndpointState>,
    /// A moving average of the time its Series answers take to a first frame, in
    /// microseconds (0: none yet): what replica hedging waits for (`hedge::grace`).
    first_frame_micros: AtomicU64,
    /// Cut by hedging since its last good Info (`hedge::grace`).
    cut_since_info: AtomicBool,
}

#[derive(Clone, Debug, Default)]
pub struct EndpointState {
    pub info: Option<StoreInfo>,
    pub last_check: Option<SystemTime>,
    pub last_error: Option<String>,
    /// When Info last succeeded (monotonic), to expire endpoints that stay unhealthy.
    pub last_success: Option<Instant>,
    /// The same, on the wall clock (for the metrics).
    pub last_success_at: Option<SystemTime>,
}

impl EndpointState {
    pub fn healthy(&self) -> bool {
        self.info.is_some() && self.last_error.is_none()
    }
}

impl Endpoint {
    /// A gRPC endpoint at `address`, reached over TLS where `tls` is given.
    pub fn new(address: &str, tls: Option<&TlsConnector>) -> Result<Self, store_api::StoreError> {
        Self::from_config(EndpointConfig::grpc(address.to_owned()), tls)
    }

    /// The endpoint `config` describes (`tls`: how gRPC endpoints are reached).
    pub fn from_config(
        config: EndpointConfig,
        tls: Option<&TlsConnector>,
    ) -> Result<Self, store_api::StoreError> {
        Ok(Self {
            address: config.address.clone(),
            client: EndpointClient::new(&config, tls)?,
            config,
            state: RwLock::new(EndpointState::default()),
            first_frame_micros: AtomicU64::new(0),
            cut_since_info: AtomicBool::new(false),
        })
    }

    /// A Series answer's first frame came `took` after the request.
    pub fn record_first_frame(&self, took: Duration) {
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let old = self.first_frame_micros.load(Ordering::Relaxed);
        let new = if old == 0 { took } else { (old * 3 + took) / 4 };
        self.first_frame_micros.store(new, Ordering::Relaxed);
    }

    /// The usual time to a first frame, once known.
    pub fn usual_first_frame(&self) -> Option<Duration> {
        match self.first_frame_micros.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }

    pub fn state(&self) -> EndpointState {
        self.state.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Hedging cut it: it answers too late for its replicas until its Info answers again.
    pub fn mark_cut(&self) {
        self.cut_since_info.store(true, Ordering::Relaxed);
    }

    pub fn cut_since_info(&self) -> bool {
        self.cut_since_info.load(Ordering::Relaxed)
    }

    /// Calls Info with a timeout and records the outcome.
    pub async fn check(&self, timeout: Duration) {
        let outcome = match tokio::time::timeout(timeout, self.client.info()).await {
            Ok(Ok(info)) => Ok(info),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("Info did not answer within {timeout:?}")),
        };
        if let Ok(mut state) = self.state.write() {
            let now = SystemTime::now();
            state.last_check = Some(now);
            match outcome {
                Ok(info) => {
                    // One line per change of health, not one per poll.
                    if let Some(error) = &state.last_error {
                        tracing::info!(endpoint = %self.address, was = %error, "endpoint healthy again");
                    }
                    self.cut_since_info.store(false, Ordering::Relaxed);
                    state.info = Some(info);
                    state.last_error = None;
                    state.last_success = Some(Instant::now());
                    state.last_success_at = Some(now);
                }
                Err(err) => {
                    if state.last_error.as_ref() != Some(&err) {
                        tracing::warn!(endpoint = %self.address, error = %err, "endpoint unhealthy");
                    }
                    state.last_error = Some(err);
                }
            }
        }
    }

    /// Answered Info within the last `window`.
    fn answered_within(&self, window: Duration) -> bool {
        self.state()
            .last_success
            .is_some_and(|t| t.elapsed() <= window)
    }
}

/// Where one request goes.
#[derive(Debug, Default)]
pub struct Selection {
    pub usable: Vec<(Arc<Endpoint>, StoreInfo)>,
    /// Why each endpoint the request would have used is not used: a warning of a partial
    /// answer, or the error of an aborted one. Never silently dropped.
    pub left_out: Vec<String>,
}

/// The error of an aborted request that left out `reasons` (all of them named), if any.
pub fn left_out_error(reasons: &[String]) -> Option<store_api::StoreError> {
    (!reasons.is_empty()).then(|| store_api::StoreError::Unavailable(reasons.join("; ")))
}

/// `err` of the endpoint at `address`: its text names the endpoint, its kind stays the
/// endpoint's.
pub fn endpoint_error(address: &str, err: &store_api::StoreError) -> store_api::StoreError {
    err.with_message(format!("endpoint {address}: {err}"))
}

/// The endpoints currently known, by address.
#[derive(Debug, Default)]
pub struct EndpointSet {
    endpoints: RwLock<BTreeMap<String, Arc<Endpoint>>>,
    /// How every endpoint is reached over TLS (`--grpc-client-tls-*`), if it is.
    tls: Option<TlsConnector>,
}

impl EndpointSet {
    pub fn new(tls: Option<TlsConnector>) -> Self {
        Self {
            endpoints: RwLock::default(),
            tls,
        }
    }

    /// Adds the discovered endpoints the set lacks, and replaces those whose config
    /// changed (another kind, other labels).
    pub fn add(&self, configs: &[EndpointConfig]) {
        let Ok(mut endpoints) = self.endpoints.write() else {
            return;
        };
        for config in configs {
            let address = &config.address;
            let change = match endpoints.get(address) {
                None => "endpoint added",
                Some(known) if known.config != *config => "endpoint reconfigured",
                Some(_) => continue,
            };
            match Endpoint::from_config(config.clone(), self.tls.as_ref()) {
                Ok(endpoint) => {
                    tracing::info!(endpoint = %address, kind = ?config.kind, "{change}");
                    endpoints.insert(address.clone(), Arc::new(endpoint));
                }
                Err(err) => tracing::error!(endpoint = %address, error = %err, "bad endpoint"),
            }
        }
    }

    /// Drops endpoints no longer discovered that have not answered Info within
    /// `unhealthy_timeout` (call it right after an Info round). Discovered endpoints stay
    /// (an unhealthy one is not queried and shows in /api/v1/stores with its error); an
    /// undiscovered one that still answers stays until the timeout, so that a DNS blip does
    /// not drop a store. Returns the addresses removed.
    pub fn prune(&self, discovered: &[EndpointConfig], unhealthy_timeout: Duration) -> Vec<String> {
        let Ok(mut endpoints) = self.endpoints.write() else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        endpoints.retain(|address, endpoint| {
            let keep = discovered.iter().any(|c| c.address == *address)
                || endpoint.answered_within(unhealthy_timeout);
            if !keep {
                tracing::info!(endpoint = %address, "endpoint removed");
                removed.push(address.clone());
            }
            keep
        });
        removed
    }

    pub fn all(&self) -> Vec<Arc<Endpoint>> {
        self.endpoints
            .read()
            .map(|e| e.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Polls Info of every endpoint concurrently.
    pub async fn check_all(&self, timeout: Duration) {
        let endpoints = self.all();
        futures_util::future::join_all(endpoints.iter().map(|e| e.check(timeout))).await;
    }

    /// The endpoints a request goes to: the healthy ones it `wants` (by their Info), and a
    /// reason for each it would have wanted but cannot use — unhealthy (judged by its last
    /// good Info), or never heard from (which cannot be judged, so it always counts).
    pub fn select(&self, wants: impl Fn(&Endpoint, &StoreInfo) -> bool) -> Selection {
        let mut selection = Selection::default();
        for endpoint in self.all() {
            let state = endpoint.state();
            let reason = match (&state.info, &state.last_error) {
                (Some(info), None) => {
                    if wants(&endpoint, info) {
                        selection.usable.push((endpoint, info.clone()));
                    }
                    continue;
                }
                (Some(info), Some(_)) if !wants(&endpoint, info) => continue,
                (_, Some(error)) => format!("unhealthy, not queried: {error}"),
                (None, None) => "not yet probed, not queried".to_owned(),
            };
            selection
                .left_out
                .push(format!("endpoint {}: {reason}", endpoint.address));
        }
        selection
    }

    /// The healthy endpoints with their Info.
    pub fn healthy(&self) -> Vec<(Arc<Endpoint>, StoreInfo)> {
        self.all()
            .into_iter()
            .filter_map(|e| {
                let state = e.state();
                match (state.healthy(), state.info) {
                    (true, Some(info)) => Some((e, info)),
                    _ => None,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::discovery::EndpointKind;

    #[tokio::test]
    async fn a_changed_config_replaces_its_endpoint_and_an_unchanged_one_stays() {
        let set = EndpointSet::new(None);
        let vm = |source: &str| EndpointConfig {
            kind: EndpointKind::VictoriaMetrics,
            address: "http://vm:8428".into(),
            labels: [("source".to_owned(), source.to_owned())].into(),
            timeout: None,
            http_client_file: None,
        };
        set.add(&[vm("a"), EndpointConfig::grpc("store:10901".into())]);
        let first = set.all();
        set.add(&[vm("a")]);
        assert!(Arc::ptr_eq(&first[0], &set.all()[0]), "unchanged: kept");
        set.add(&[vm("b")]);
        let all = set.all();
        assert_eq!(all.len(), 2);
        assert!(!Arc::ptr_eq(&first[0], &all[0]), "changed: replaced");
        assert_eq!(all[0].config.labels["source"], "b");
        assert!(matches!(all[0].client, EndpointClient::VictoriaMetrics(_)));
        assert!(matches!(all[1].client, EndpointClient::Grpc(_)));
    }
}
