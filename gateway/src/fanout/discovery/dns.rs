//! Turning one spec into `host:port` addresses, with DNS where the spec asks for it.

use std::net::SocketAddr;

use futures_util::future::join_all;

use super::spec::join_host_port;
use super::{DiscoveryError, EndpointSpec, Resolver};

/// The addresses of `spec` and the errors met on the way. Both can be non-empty: a `dnssrv+`
/// spec whose SRV lookup works keeps the targets that resolve and reports those that don't.
pub(super) async fn resolve_spec(
    spec: &EndpointSpec,
    resolver: Option<&dyn Resolver>,
) -> (Vec<String>, Vec<DiscoveryError>) {
    match (spec, resolver) {
        (EndpointSpec::Static { host, port }, _) => (vec![join_host_port(host, *port)], vec![]),
        (_, None) => (vec![], vec![DiscoveryError::NoResolver]),
        (EndpointSpec::Dns { host, port }, Some(resolver)) => {
            match resolver.lookup_ip(host).await {
                Ok(ips) => (
                    ips.into_iter()
                        .map(|ip| SocketAddr::new(ip, *port).to_string())
                        .collect(),
                    vec![],
                ),
                Err(err) => (vec![], vec![err]),
            }
        }
        (EndpointSpec::DnsSrv { name, port }, Some(resolver)) => {
            srv(resolver, name, *port, true).await
        }
        (EndpointSpec::DnsSrvNoA { name, port }, Some(resolver)) => {
            srv(resolver, name, *port, false).await
        }
    }
}

async fn srv(
    resolver: &dyn Resolver,
    name: &str,
    port_override: Option<u16>,
    lookup_targets: bool,
) -> (Vec<String>, Vec<DiscoveryError>) {
    let records = match resolver.lookup_srv(name).await {
        Ok(records) => records,
        Err(err) => return (vec![], vec![err]),
    };
    // A target of "." means "service decidedly not available here" (RFC 2782).
    let records = records
        .into_iter()
        .filter(|(target, _)| !target.is_empty() && target != ".")
        .map(|(target, port)| (target, port_override.unwrap_or(port)));
    if !lookup_targets {
        // Endpoint addresses read better without the root dot; gRPC resolves them either way.
        let addresses = records
            .map(|(target, port)| join_host_port(target.trim_end_matches('.'), port))
            .collect();
        return (addresses, vec![]);
    }
    // Look the targets up concurrently; the fully qualified name skips the search domains.
    let lookups =
        records.map(|(target, port)| async move { (resolver.lookup_ip(&target).await, port) });
    let mut addresses = Vec::new();
    let mut errors = Vec::new();
    for (result, port) in join_all(lookups).await {
        match result {
            Ok(ips) => addresses.extend(
                ips.into_iter()
                    .map(|ip| SocketAddr::new(ip, port).to_string()),
            ),
            Err(err) => errors.push(err),
        }
    }
    (addresses, errors)
}
