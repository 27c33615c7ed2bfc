//! Prometheus' web configuration file (`--http.config`, the exporter toolkit's format), so
//! one file serves Prometheus and Panoptes alike: `tls_server_config` (certificate, key and,
//! for mutual TLS, the client CA) and `basic_auth_users` (bcrypt hashes). Paths are relative
//! to the file. Keys this server does not apply are an error, never silently ignored.

use super::basic_auth::BasicAuth;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a web config file configures.
#[derive(Debug, Default)]
pub struct WebConfig {
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    pub auth: Option<Arc<BasicAuth>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfig {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: ClientAuth,
}

/// The exporter toolkit's `client_auth_type`s that this server applies.
#[derive(Deserialize, Default, PartialEq, Eq)]
enum ClientAuth {
    #[default]
    NoClientCert,
    RequireAndVerifyClientCert,
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path) -> Result<WebConfig, String> {
    let context = |e: &dyn std::fmt::Display| format!("--http.config {}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| context(&e))?;
    let file: File = serde_yaml_ng::from_str(&text).map_err(|e| context(&e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tls = match file.tls_server_config {
        Some(tls) => {
            let client_ca = match (tls.client_auth_type, tls.client_ca_file) {
                (ClientAuth::RequireAndVerifyClientCert, Some(ca)) => Some(dir.join(ca)),
                (ClientAuth::RequireAndVerifyClientCert, None) => {
                    return Err(context(&"RequireAndVerifyClientCert needs client_ca_file"));
                }
                (ClientAuth::NoClientCert, Some(_)) => {
                    return Err(context(
                        &"client_ca_file is set but client_auth_type is NoClientCert",
                    ));
                }
                (ClientAuth::NoClientCert, None) => None,
            };
            let server = store_api::tls::ServerTls {
                cert: dir.join(tls.cert_file),
                key: dir.join(tls.key_file),
                client_ca,
            };
            Some(server.config(&[b"http/1.1"]).map_err(|e| context(&e))?)
        }
        None => None,
    };
    let auth = if file.basic_auth_users.is_empty() {
        None
    } else {
        Some(Arc::new(
            BasicAuth::new(file.basic_auth_users).map_err(|e| context(&e))?,
        ))
    };
    Ok(WebConfig { tls, auth })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<WebConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn what_cannot_be_applied_is_an_error() {
        let unknown = load_text("http_server_config:\n  http2: true\n").unwrap_err();
        assert!(unknown.contains("http_server_config"), "{unknown}");
        let auth_type = "tls_server_config:\n  cert_file: c\n  key_file: k\n  \
                         client_auth_type: RequestClientCert\n";
        let err = load_text(auth_type).unwrap_err();
        assert!(err.contains("RequestClientCert"), "{err}");
        let no_ca = "tls_server_config:\n  cert_file: c\n  key_file: k\n  \
                     client_auth_type: RequireAndVerifyClientCert\n";
        assert!(load_text(no_ca).unwrap_err().contains("client_ca_file"));
        let missing = load_text("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n");
        assert!(missing.unwrap_err().contains("c.pem"));
        let bad_hash = load_text("basic_auth_users:\n  alice: plain\n").unwrap_err();
        assert!(bad_hash.contains("alice"), "{bad_hash}");
    }

    #[test]
    fn an_empty_file_configures_nothing() {
        let web = load_text("{}\n").unwrap();
        assert!(web.tls.is_none() && web.auth.is_none());
    }
}
