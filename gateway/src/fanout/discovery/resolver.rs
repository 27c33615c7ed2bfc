//! The DNS lookups discovery needs, and their production implementation on `hickory-resolver`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::future::BoxFuture;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{ResolverBuilder, TokioResolver};

use super::DiscoveryError;

/// DNS lookups, behind a trait so that discovery can be driven by another resolver.
pub trait Resolver: Send + Sync {
    /// All A and AAAA addresses of `host` (an IP literal resolves to itself). An empty answer
    /// is an error (`NotFound`), never `Ok(vec![])`.
    fn lookup_ip<'a>(&'a self, host: &'a str)
    -> BoxFuture<'a, Result<Vec<IpAddr>, DiscoveryError>>;

    /// The SRV records of `name` as `(target, port)`, targets as the server wrote them
    /// (usually fully qualified, with a trailing dot). An empty answer is `NotFound`.
    fn lookup_srv<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, u16)>, DiscoveryError>>;
}

/// The production resolver: hickory's stub resolver on the tokio runtime.
///
/// Its response cache is disabled (TTLs clamped to zero): discovery is polled at the caller's
/// interval and each poll should see what DNS says now, as Thanos' Go resolver does.
#[derive(Debug, Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl HickoryResolver {
    /// Nameservers, search domains and options from `/etc/resolv.conf`; `/etc/hosts` is honored.
    pub fn from_system_conf() -> Result<Self, DiscoveryError> {
        let builder = TokioResolver::builder_tokio().map_err(config_error)?;
        Self::build(builder)
    }

    /// Asks only the nameserver at `addr` (UDP, TCP for truncated answers), with no search
    /// domains and no `/etc/hosts`: for tests and for deployments that name their DNS server.
    pub fn with_nameserver(addr: SocketAddr) -> Result<Self, DiscoveryError> {
        let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
            .into_iter()
            .map(|mut conn| {
                conn.port = addr.port();
                conn
            })
            .collect();
        let server = NameServerConfig::new(addr.ip(), true, connections);
        let config = ResolverConfig::from_name_servers(vec![server]);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = builder.options_mut();
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = Duration::from_secs(2);
        Self::build(builder)
    }

    fn build(mut builder: ResolverBuilder<TokioRuntimeProvider>) -> Result<Self, DiscoveryError> {
        let opts = builder.options_mut();
        // Both families, in parallel: an endpoint may only listen on one of them.
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        let inner = builder.build().map_err(config_error)?;
        Ok(Self { inner })
    }
}

impl Resolver for HickoryResolver {
    fn lookup_ip<'a>(
        &'a self,
        host: &'a str,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, DiscoveryError>> {
        Box::pin(async move {
            const RECORD: &str = "A/AAAA";
            let lookup = self
                .inner
                .lookup_ip(host)
                .await
                .map_err(|e| lookup_error(host, RECORD, &e))?;
            let ips: Vec<IpAddr> = lookup.iter().collect();
            if ips.is_empty() {
                return Err(DiscoveryError::NotFound {
                    name: host.to_owned(),
                    record: RECORD,
                });
            }
            Ok(ips)
        })
    }

    fn lookup_srv<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, u16)>, DiscoveryError>> {
        Box::pin(async move {
            const RECORD: &str = "SRV";
            let lookup = self
                .inner
                .srv_lookup(name)
                .await
                .map_err(|e| lookup_error(name, RECORD, &e))?;
            // The answer section may also hold the CNAMEs that led to the SRV records.
            let records: Vec<(String, u16)> = lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::SRV(srv) => Some((srv.target.to_ascii(), srv.port)),
                    _ => None,
                })
                .collect();
            if records.is_empty() {
                return Err(DiscoveryError::NotFound {
                    name: name.to_owned(),
                    record: RECORD,
                });
            }
            Ok(records)
        })
    }
}

fn lookup_error(name: &str, record: &'static str, err: &NetError) -> DiscoveryError {
    // NXDOMAIN and NOERROR-without-answers both mean "nothing there", not a DNS outage.
    if err.is_no_records_found() {
        DiscoveryError::NotFound {
            name: name.to_owned(),
            record,
        }
    } else {
        DiscoveryError::Lookup {
            name: name.to_owned(),
            record,
            reason: err.to_string(),
        }
    }
}

fn config_error(err: NetError) -> DiscoveryError {
    DiscoveryError::ResolverConfig {
        reason: err.to_string(),
    }
}
