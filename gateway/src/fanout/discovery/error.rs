//! The one error type of endpoint discovery.

use std::path::PathBuf;

/// Why a spec, a DNS name or an SD file produced no (or only stale) addresses.
///
/// Every message names what failed (spec, DNS name or file) and why, so the caller can log it
/// as is. Reasons from other crates are kept as text, which keeps the type `Clone` (file SD
/// hands the same error out on every resolve until the file is fixed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// An endpoint address spec (flag value or file SD target) that cannot be parsed.
    #[error("invalid endpoint spec {spec:?}: {reason}")]
    InvalidSpec { spec: String, reason: String },

    /// The DNS server says the name does not exist, or has no record of the asked type.
    #[error("no {record} records for {name:?}")]
    NotFound { name: String, record: &'static str },

    /// Any other DNS failure: timeout, SERVFAIL, refused, unparseable name...
    #[error("{record} lookup of {name:?} failed: {reason}")]
    Lookup {
        name: String,
        record: &'static str,
        reason: String,
    },

    /// The DNS client could not be set up (e.g. no nameserver in /etc/resolv.conf).
    #[error("DNS resolver configuration: {reason}")]
    ResolverConfig { reason: String },

    /// A DNS spec was given to a `Discovery` built without a resolver.
    #[error("no DNS resolver configured")]
    NoResolver,

    /// A DNS spec failed; `error` says how. `spec` also names the SD file it came from, if any.
    /// (Not a `#[source]`: the message already includes it.)
    #[error("resolving endpoint spec {spec}: {error}")]
    Resolve {
        spec: String,
        error: Box<DiscoveryError>,
    },

    /// A watched file (`what`: an SD file, the endpoint config file) that cannot be read
    /// (missing, permissions...).
    #[error("reading {what} {}: {reason}", path.display())]
    FileRead {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },

    /// A watched file whose content is not valid (`what` says which kind of file).
    #[error("parsing {what} {}: {reason}", path.display())]
    FileParse {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}
