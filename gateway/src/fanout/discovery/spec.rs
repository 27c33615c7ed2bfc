//! Endpoint address specs, in the syntax Thanos uses for `--store`/`--endpoint` and file SD
//! targets: `host:port`, `dns+host:port`, `dnssrv+name[:port]`, `dnssrvnoa+name[:port]`.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use super::DiscoveryError;

/// One parsed endpoint spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EndpointSpec {
    /// `host:port`: used as is, never resolved here (gRPC resolves it when connecting).
    Static { host: String, port: u16 },
    /// `dns+host:port`: every A and AAAA address of `host`, each with `port`.
    Dns { host: String, port: u16 },
    /// `dnssrv+name`: the SRV records of `name`, each target looked up as A/AAAA and paired
    /// with the record's port, or with `port` when one is given (as Thanos does).
    DnsSrv { name: String, port: Option<u16> },
    /// `dnssrvnoa+name`: like `dnssrv+`, but the SRV targets are used as host names.
    DnsSrvNoA { name: String, port: Option<u16> },
}

impl EndpointSpec {
    /// Whether resolving this spec needs DNS.
    pub fn is_dns(&self) -> bool {
        !matches!(self, Self::Static { .. })
    }
}

/// Parses one endpoint spec; surrounding whitespace is ignored.
pub fn parse_spec(s: &str) -> Result<EndpointSpec, DiscoveryError> {
    let spec = s.trim();
    let invalid = |reason: String| DiscoveryError::InvalidSpec {
        spec: spec.to_owned(),
        reason,
    };
    if spec.is_empty() {
        return Err(invalid("empty address".into()));
    }
    if spec.contains("://") {
        return Err(invalid("URLs are not supported, expected host:port".into()));
    }
    // '+' cannot occur in a host name, so anything before one is a discovery prefix.
    let (prefix, rest) = match spec.split_once('+') {
        Some((prefix, rest)) => (Some(prefix), rest),
        None => (None, spec),
    };
    let (host, port) = split_host_port(rest).map_err(invalid)?;
    let need_port =
        |port: Option<u16>| port.ok_or_else(|| invalid("missing port, expected host:port".into()));
    match prefix {
        None => Ok(EndpointSpec::Static {
            port: need_port(port)?,
            host,
        }),
        Some("dns") => Ok(EndpointSpec::Dns {
            port: need_port(port)?,
            host,
        }),
        Some(kind @ ("dnssrv" | "dnssrvnoa")) => {
            if host.parse::<std::net::IpAddr>().is_ok() {
                return Err(invalid(
                    "an SRV lookup needs a DNS name, not an IP address".into(),
                ));
            }
            Ok(if kind == "dnssrv" {
                EndpointSpec::DnsSrv { name: host, port }
            } else {
                EndpointSpec::DnsSrvNoA { name: host, port }
            })
        }
        Some(other) => Err(invalid(format!(
            "unknown prefix \"{other}+\", expected dns+, dnssrv+ or dnssrvnoa+"
        ))),
    }
}

impl FromStr for EndpointSpec {
    type Err = DiscoveryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_spec(s)
    }
}

/// Splits `host[:port]` / `[v6][:port]`; the error is the reason only (the caller adds the spec).
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = s.strip_prefix('[') {
        let (inner, after) = bracketed
            .split_once(']')
            .ok_or("missing ']' after IPv6 address")?;
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("invalid IPv6 address \"{inner}\""))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected ':port' after ']'")?,
            ),
        };
        (inner.to_owned(), port)
    } else {
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        };
        if host.contains(':') {
            return Err("IPv6 addresses must be in brackets, e.g. [::1]:10901".into());
        }
        validate_host(host)?;
        (host.to_owned(), port)
    };
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid port \"{port}\", expected 1-65535")),
        Ok(port) => Ok(port),
    }
}

/// Host names and IPv4 literals: letters, digits, '-', '_' (SRV labels) and dots between
/// non-empty labels, with an optional trailing dot (fully qualified).
fn validate_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("missing host".into());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Err(format!("invalid character {c:?} in host \"{host}\""));
    }
    let labels = host.strip_suffix('.').unwrap_or(host);
    if labels.split('.').any(str::is_empty) {
        return Err(format!("empty label in host \"{host}\""));
    }
    Ok(())
}

/// `host:port`, with brackets around IPv6 literals.
pub(super) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl fmt::Display for EndpointSpec {
    /// The spec in the syntax `parse_spec` reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, host, port) = match self {
            Self::Static { host, port } => ("", host, Some(*port)),
            Self::Dns { host, port } => ("dns+", host, Some(*port)),
            Self::DnsSrv { name, port } => ("dnssrv+", name, *port),
            Self::DnsSrvNoA { name, port } => ("dnssrvnoa+", name, *port),
        };
        match port {
            Some(port) => write!(f, "{prefix}{}", join_host_port(host, port)),
            None => write!(f, "{prefix}{host}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> EndpointSpec {
        match parse_spec(s) {
            Ok(spec) => spec,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    /// The reason of an `InvalidSpec` error, checking it names the (trimmed) spec.
    fn reason(s: &str) -> String {
        match parse_spec(s) {
            Err(DiscoveryError::InvalidSpec { spec, reason }) => {
                assert_eq!(spec, s.trim());
                reason
            }
            other => panic!("{s:?} should be an invalid spec, got {other:?}"),
        }
    }

    #[test]
    fn parses_static_host_port() {
        let spec = ok("store-0.example.org:10901");
        assert_eq!(
            spec,
            EndpointSpec::Static {
                host: "store-0.example.org".into(),
                port: 10901
            }
        );
        assert!(!spec.is_dns());
        assert_eq!(
            ok("127.0.0.1:9090"),
            EndpointSpec::Static {
                host: "127.0.0.1".into(),
                port: 9090
            }
        );
        assert_eq!(
            ok("[::1]:9090"),
            EndpointSpec::Static {
                host: "::1".into(),
                port: 9090
            }
        );
        assert_eq!(
            ok("  localhost:1  "),
            EndpointSpec::Static {
                host: "localhost".into(),
                port: 1
            }
        );
        assert_eq!(
            ok("fqdn.example.:80"),
            EndpointSpec::Static {
                host: "fqdn.example.".into(),
                port: 80
            }
        );
    }

    #[test]
    fn parses_dns_a() {
        let spec = ok("dns+stores.thanos.mycompany.org:9090");
        assert_eq!(
            spec,
            EndpointSpec::Dns {
                host: "stores.thanos.mycompany.org".into(),
                port: 9090
            }
        );
        assert!(spec.is_dns());
        assert_eq!(
            ok("dns+[2001:db8::1]:10901"),
            EndpointSpec::Dns {
                host: "2001:db8::1".into(),
                port: 10901
            }
        );
    }

    #[test]
    fn parses_dnssrv_and_dnssrvnoa() {
        assert_eq!(
            ok("dnssrv+_grpc._tcp.thanos-store.monitoring.svc"),
            EndpointSpec::DnsSrv {
                name: "_grpc._tcp.thanos-store.monitoring.svc".into(),
                port: None
            }
        );
        assert_eq!(
            ok("dnssrv+_grpc._tcp.stores:10901"),
            EndpointSpec::DnsSrv {
                name: "_grpc._tcp.stores".into(),
                port: Some(10901)
            }
        );
        assert_eq!(
            ok("dnssrvnoa+_thanosstores._tcp.mycompany.org"),
            EndpointSpec::DnsSrvNoA {
                name: "_thanosstores._tcp.mycompany.org".into(),
                port: None
            }
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "store:10901",
            "[::1]:10901",
            "dns+stores:9090",
            "dns+[2001:db8::1]:9090",
            "dnssrv+_grpc._tcp.stores",
            "dnssrv+_grpc._tcp.stores:1234",
            "dnssrvnoa+_grpc._tcp.stores",
        ] {
            assert_eq!(ok(s).to_string(), s);
            assert_eq!(s.parse::<EndpointSpec>().ok(), Some(ok(s)));
        }
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert_eq!(reason(""), "empty address");
        assert_eq!(reason("   "), "empty address");
        assert!(reason("store").contains("missing port"));
        assert!(reason("dns+stores").contains("missing port"));
        assert!(reason("store:").contains("invalid port \"\""));
        assert!(reason("store:http").contains("invalid port \"http\""));
        assert!(reason("store:0").contains("invalid port \"0\""));
        assert!(reason("store:65536").contains("invalid port"));
        assert!(reason(":9090").contains("missing host"));
        assert!(reason("dns+:9090").contains("missing host"));
        assert!(reason("::1:9090").contains("must be in brackets"));
        assert!(reason("[::1:9090").contains("missing ']'"));
        assert!(reason("[nope]:9090").contains("invalid IPv6 address"));
        assert!(reason("[::1]9090").contains("expected ':port'"));
        assert!(reason("sto re:9090").contains("invalid character ' '"));
        assert!(reason("a..b:9090").contains("empty label"));
        assert!(reason("http://store:9090").contains("URLs are not supported"));
        assert!(reason("dnsa+stores:9090").contains("unknown prefix \"dnsa+\""));
        assert!(reason("+stores:9090").contains("unknown prefix \"+\""));
        assert!(reason("dnssrv+").contains("missing host"));
        assert!(reason("dnssrv+10.0.0.1").contains("not an IP address"));
        assert!(reason("dnssrvnoa+[::1]").contains("not an IP address"));
    }

    #[test]
    fn error_message_names_the_spec() {
        let err = parse_spec("dns+stores").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid endpoint spec \"dns+stores\": missing port, expected host:port")
        );
    }
}
