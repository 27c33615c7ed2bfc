//! How the sidecar reaches Prometheus: `--prometheus.http-client-file`, in the format Thanos'
//! sidecar reads (Prometheus' HTTP client config): basic auth, a bearer token, TLS with a CA,
//! a client certificate and a server name. Password and token files are read at each request,
//! so a rotated secret is used at once; paths are relative to the file. Keys this client does
//! not apply are an error, never silently ignored.

use crate::error::StoreError;
use crate::tls::ClientTls;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    basic_auth: Option<BasicAuth>,
    bearer_token: Option<String>,
    bearer_token_file: Option<PathBuf>,
    tls_config: Option<TlsConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicAuth {
    username: String,
    #[serde(default)]
    password: String,
    password_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsConfig {
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    server_name: Option<String>,
}

impl HttpClientConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| {
            StoreError::InvalidArgument(format!("{}: {e}", path.display()))
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(&e))?;
        let mut config: Self = serde_yaml_ng::from_str(&text).map_err(|e| bad(&e))?;
        if config.bearer_token.is_some() && config.bearer_token_file.is_some() {
            return Err(bad(&"bearer_token and bearer_token_file are exclusive"));
        }
        if config.basic_auth.is_some()
            && (config.bearer_token.is_some() || config.bearer_token_file.is_some())
        {
            return Err(bad(&"basic_auth and a bearer token are exclusive"));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let relative = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                *p = dir.join(&*p);
            }
        };
        relative(&mut config.bearer_token_file);
        if let Some(auth) = &mut config.basic_auth {
            relative(&mut auth.password_file);
        }
        if let Some(tls) = &mut config.tls_config {
            relative(&mut tls.ca_file);
            relative(&mut tls.cert_file);
            relative(&mut tls.key_file);
        }
        Ok(config)
    }

    /// TLS options, where the file has any.
    pub fn tls(&self) -> Option<ClientTls> {
        self.tls_config.as_ref().map(|tls| ClientTls {
            ca: tls.ca_file.clone(),
            cert: tls.cert_file.clone(),
            key: tls.key_file.clone(),
            server_name: tls.server_name.clone(),
        })
    }

    /// `request` with the configured credentials.
    pub fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, StoreError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))
        };
        if let Some(auth) = &self.basic_auth {
            let password = match &auth.password_file {
                Some(file) => read(file)?,
                None => auth.password.clone(),
            };
            return Ok(request.basic_auth(&auth.username, Some(password)));
        }
        let token = match (&self.bearer_token, &self.bearer_token_file) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(file)) => Some(read(file)?),
            (None, None) => None,
        };
        Ok(match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<HttpClientConfig, StoreError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.yml");
        std::fs::write(&path, text).unwrap();
        HttpClientConfig::load(&path)
    }

    #[test]
    fn files_are_relative_to_the_config_and_unknown_keys_refused() {
        let config = load_text("tls_config:\n  ca_file: ca.pem\n  server_name: prom\n").unwrap();
        let tls = config.tls().unwrap();
        assert!(tls.ca.unwrap().ends_with("ca.pem"));
        assert_eq!(tls.server_name.as_deref(), Some("prom"));
        let skip = load_text("tls_config:\n  insecure_skip_verify: true\n").unwrap_err();
        assert!(skip.to_string().contains("insecure_skip_verify"), "{skip}");
        let both = load_text("bearer_token: a\nbearer_token_file: b\n").unwrap_err();
        assert!(both.to_string().contains("exclusive"));
    }
}
