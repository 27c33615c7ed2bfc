//! Endpoint discovery for the gateway: `--endpoint` specs (static, `dns+`, `dnssrv+`,
//! `dnssrvnoa+`, as in Thanos) and `--endpoint.sd-file` files, turned into the current set
//! of `host:port` addresses; and `--endpoint.config-file`, endpoints of every kind.
//!
//! [`Discovery::resolve`] is one poll; how often to poll, and how long to keep an endpoint
//! whose address disappeared, is the caller's business.

mod dns;
mod endpoint_file;
mod error;
mod file_sd;
mod resolver;
mod spec;
mod watched_file;

// Test support: a DNS server the end-to-end tests use too; a failure there is a failed test.
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::expect_used)]
pub mod test_dns;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

pub use endpoint_file::{EndpointConfig, EndpointKind};
pub use error::DiscoveryError;
pub use resolver::{HickoryResolver, Resolver};
pub use spec::{EndpointSpec, parse_spec};

use endpoint_file::{EndpointFile, endpoint_file};
use file_sd::{FileSd, sd_file};

/// How long an SD file whose mtime and size did not change is trusted without reading it
/// (Thanos' fallback re-read interval).
pub const DEFAULT_FILE_REREAD_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The outcome of one [`Discovery::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Every address found, as `host:port` (IPv6 in brackets), deduplicated and sorted.
    pub addresses: Vec<String>,
    /// The endpoints of the config file (its last good content), in its order.
    pub configured: Vec<EndpointConfig>,
    /// What failed this time, each naming its spec or file. A failed DNS spec contributes no
    /// addresses; a failed SD file still contributes its last good targets.
    pub errors: Vec<DiscoveryError>,
}

/// Static and DNS specs plus SD files.
pub struct Discovery {
    specs: Vec<EndpointSpec>,
    files: Vec<FileSd>,
    config_file: Option<EndpointFile>,
    resolver: Option<Arc<dyn Resolver>>,
    file_reread_interval: Duration,
}

impl Discovery {
    /// From the command line (`--endpoint`, `--endpoint.sd-file`): parses the specs and, if
    /// anything may need DNS (a DNS spec, or an SD file, whose targets may be DNS specs), uses
    /// the system resolver (`/etc/resolv.conf`).
    pub fn new(endpoints: &[String], sd_files: &[PathBuf]) -> Result<Self, DiscoveryError> {
        let specs = endpoints
            .iter()
            .map(|s| parse_spec(s))
            .collect::<Result<_, _>>()?;
        let discovery = Self::from_specs(specs, sd_files.to_vec())?;
        if !discovery.needs_dns() {
            return Ok(discovery);
        }
        let resolver = HickoryResolver::from_system_conf()?;
        Ok(discovery.with_resolver(Arc::new(resolver)))
    }

    /// Discovery over parsed specs and SD files, without a DNS resolver (see
    /// [`Self::with_resolver`]). Fails for an SD file name that is not `.json`, `.yml` or
    /// `.yaml`; the files themselves are read by `resolve`, so they may appear later.
    pub fn from_specs(
        specs: Vec<EndpointSpec>,
        sd_files: Vec<PathBuf>,
    ) -> Result<Self, DiscoveryError> {
        let files = sd_files
            .into_iter()
            .map(sd_file)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            specs,
            files,
            config_file: None,
            resolver: None,
            file_reread_interval: DEFAULT_FILE_REREAD_INTERVAL,
        })
    }

    /// Also reads the endpoint config file at `path` (`--endpoint.config-file`). Fails for a
    /// name that is not `.json`, `.yml` or `.yaml`, and for a file missing or invalid now.
    pub fn with_config_file(mut self, path: PathBuf) -> Result<Self, DiscoveryError> {
        let file = endpoint_file(path)?;
        // As Prometheus with its config: a bad file stops the start; later, while running,
        // a bad version keeps the last good endpoints.
        file.read_now()?;
        self.config_file = Some(file);
        Ok(self)
    }

    /// The resolver for DNS specs; without one they fail with [`DiscoveryError::NoResolver`].
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Overrides [`DEFAULT_FILE_REREAD_INTERVAL`].
    pub fn with_file_reread_interval(mut self, interval: Duration) -> Self {
        self.file_reread_interval = interval;
        self
    }

    /// Whether a resolve may need DNS: a DNS spec, or any SD file.
    pub fn needs_dns(&self) -> bool {
        !self.files.is_empty() || self.specs.iter().any(EndpointSpec::is_dns)
    }

    /// One poll: reads changed SD files, resolves every DNS spec (concurrently), and returns the
    /// addresses found with the errors met.
    pub async fn resolve(&self) -> Resolved {
        let mut errors = Vec::new();
        // (label for errors, spec): file targets say which file they came from.
        let mut work: Vec<(String, EndpointSpec)> = self
            .specs
            .iter()
            .map(|spec| (spec.to_string(), spec.clone()))
            .collect();
        for file in &self.files {
            let (specs, error) = file.current(self.file_reread_interval).await;
            errors.extend(error);
            let from = file.path().display();
            work.extend(
                specs
                    .into_iter()
                    .map(|spec| (format!("{spec} (from {from})"), spec)),
            );
        }

        let resolver = self.resolver.as_deref();
        let results = join_all(
            work.iter()
                .map(|(_, spec)| dns::resolve_spec(spec, resolver)),
        )
        .await;
        let mut addresses = BTreeSet::new();
        for ((label, _), (found, failures)) in work.iter().zip(results) {
            addresses.extend(found);
            errors.extend(failures.into_iter().map(|error| DiscoveryError::Resolve {
                spec: label.clone(),
                error: Box::new(error),
            }));
        }
        let mut configured = Vec::new();
        if let Some(file) = &self.config_file {
            let (endpoints, error) = file.current(self.file_reread_interval).await;
            configured = endpoints;
            errors.extend(error);
        }
        Resolved {
            addresses: addresses.into_iter().collect(),
            configured,
            errors,
        }
    }
}
