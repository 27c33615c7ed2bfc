//! TLS and mutual TLS for every server and client of the project (rustls over aws-lc): the
//! gRPC face and its clients, the HTTP servers. Certificates, keys and CAs are PEM files,
//! re-read when they change (checked at most once a second, at a handshake), so a rotated
//! certificate is served and presented without a restart; a file that fails to load keeps the
//! last good one in use and is logged.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, client, server};
use tokio_stream::wrappers::ReceiverStream;

/// How often at most the files behind a TLS config are checked for changes.
const RECHECK: Duration = Duration::from_secs(1);
/// A client must finish its handshake within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const ACCEPTED_BACKLOG: usize = 64;

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TlsError {
    pub path: String,
    pub reason: String,
}

fn error(path: &Path, reason: impl fmt::Display) -> TlsError {
    TlsError {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// A server's certificate and key, and the CA its clients' certificates must chain to.
#[derive(Clone, Debug)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Require a client certificate signed by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// How a client connects over TLS: the CA that signs the servers' certificates (the system's
/// roots if none), its own certificate and key for mutual TLS, and the name to verify the
/// server's certificate against (the address's host if none).
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub server_name: Option<String>,
}

impl ServerTls {
    /// The rustls config, announcing `alpn` (`h2` for gRPC, `http/1.1` for HTTP). Fails when
    /// a file cannot be read now: a server never starts with a broken TLS setup.
    pub fn config(&self, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = provider();
        let cert = Reloading::new(vec![self.cert.clone(), self.key.clone()], {
            let (cert, key, provider) = (self.cert.clone(), self.key.clone(), provider.clone());
            move || certified_key(&cert, &key, &provider)
        })?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| error(&self.cert, e))?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let verifier = Reloading::new(vec![ca.clone()], {
                    let (ca, provider) = (ca.clone(), provider.clone());
                    move || {
                        WebPkiClientVerifier::builder_with_provider(
                            Arc::new(roots(&ca)?),
                            provider.clone(),
                        )
                        .build()
                        .map_err(|e| error(&ca, e))
                    }
                })?;
                builder.with_client_cert_verifier(Arc::new(ReloadingClientVerifier(verifier)))
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(ReloadingServerCert(cert)));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl ClientTls {
    /// The rustls config, announcing `alpn`. Servers' certificates are verified against the
    /// configured server name where one is given, whatever name the connection was opened
    /// with (an HTTP client opens it with the URL's host).
    pub fn config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| error(Path::new("TLS"), e))?;
        let verifier = {
            let (ca, provider) = (self.ca.clone(), provider.clone());
            // The system's roots are read once; a CA file is re-read when it changes.
            let files = ca.iter().cloned().collect();
            Reloading::new(files, move || {
                let (roots, source) = match &ca {
                    Some(ca) => (roots(ca)?, ca.as_path()),
                    None => (system_roots(), Path::new("system CA certificates")),
                };
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| error(source, e))
            })?
        };
        let name = match &self.server_name {
            Some(name) => Some(server_name(name)?),
            None => None,
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ServerVerifier { verifier, name }));
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let identity = Reloading::new(vec![cert.clone(), key.clone()], {
                    let (cert, key, provider) = (cert.clone(), key.clone(), provider.clone());
                    move || certified_key(&cert, &key, &provider)
                })?;
                builder.with_client_cert_resolver(Arc::new(ReloadingClientCert(identity)))
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(path), None) | (None, Some(path)) => {
                return Err(error(
                    path,
                    "a client certificate needs its key, and a key its certificate",
                ));
            }
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// A connector for gRPC (`h2`) clients.
    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(self.config(&[b"h2"])?),
            server_name: self.server_name.clone(),
        })
    }
}

/// Opens TLS connections to servers, verifying each against its host name or the configured
/// server name.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<String>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsConnector {
    /// Connects to `host:port` (no Nagle) and completes the handshake.
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<client::TlsStream<TcpStream>> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = server_name(self.server_name.as_deref().unwrap_or(host))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let tcp = TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(true)?;
        self.inner.connect(name, tcp).await
    }
}

/// Completes a server-side handshake within [`HANDSHAKE_TIMEOUT`]. A refused one is closed
/// gently: in TLS 1.3 the client believes it is connected before the server has checked its
/// certificate, and has already sent data; closing at once would reset the connection and
/// discard the alert that tells the client why.
pub async fn accept(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
) -> io::Result<server::TlsStream<TcpStream>> {
    let handshake = acceptor.accept(tcp).into_fallible();
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err((err, tcp))) => {
            close_gently(tcp).await;
            Err(err)
        }
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

/// Ends the sending side (after the alert) and reads what the peer still sends, briefly.
async fn close_gently(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The connections of `listener` once their TLS handshakes succeeded (no Nagle). Handshakes
/// run concurrently, so a slow or silent client never holds up the others; a failed one
/// (a missing or untrusted client certificate, say) is logged with the peer's address and
/// the reason, and the connection closed. The accept loop ends when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> ReceiverStream<io::Result<server::TlsStream<TcpStream>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(ACCEPTED_BACKLOG);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = crate::net::accept(&listener) => accepted,
                () = tx.closed() => return,
            };
            let (tx, acceptor) = (tx.clone(), acceptor.clone());
            tokio::spawn(async move {
                match accept(&acceptor, tcp).await {
                    Ok(tls) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Err(err) => tracing::warn!(%peer, %err, "TLS handshake refused"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = certs(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| error(key, e))?;
    let certified = CertifiedKey::from_der(chain, key_der, provider).map_err(|e| error(key, e))?;
    Ok(Arc::new(certified))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(path, e))?;
    if chain.is_empty() {
        return Err(error(path, "no certificate in the file"));
    }
    Ok(chain)
}

fn roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca)? {
        roots.add(cert).map_err(|e| error(ca, e))?;
    }
    Ok(roots)
}

fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for err in &found.errors {
        tracing::warn!(%err, "a system CA certificate could not be read");
    }
    roots.add_parsable_certificates(found.certs);
    roots
}

fn server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_owned())
        .map_err(|e| error(Path::new(name), format!("not a TLS server name: {e}")))
}

/// A value built from files, rebuilt when one of them changes (size or modification time).
struct Reloading<T> {
    files: Vec<PathBuf>,
    build: Box<dyn Fn() -> Result<T, TlsError> + Send + Sync>,
    state: Mutex<State<T>>,
}

struct State<T> {
    value: T,
    stamp: Vec<Option<(SystemTime, u64)>>,
    checked: Instant,
}

impl<T: Clone> Reloading<T> {
    fn new(
        files: Vec<PathBuf>,
        build: impl Fn() -> Result<T, TlsError> + Send + Sync + 'static,
    ) -> Result<Self, TlsError> {
        let stamp = stamps(&files);
        let value = build()?;
        Ok(Self {
            files,
            build: Box::new(build),
            state: Mutex::new(State {
                value,
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// The current value, rebuilt first if a file changed since the last check.
    fn get(&self) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() >= RECHECK {
            state.checked = Instant::now();
            let stamp = stamps(&self.files);
            if stamp != state.stamp {
                match (self.build)() {
                    Ok(value) => {
                        tracing::info!(files = ?self.files, "TLS files reloaded");
                        state.value = value;
                        state.stamp = stamp;
                    }
                    // Half-written files are common while a secret is rotated: keep the last
                    // good value and try again at the next check.
                    Err(err) => tracing::warn!(%err, "TLS files changed but cannot be used"),
                }
            }
        }
        state.value.clone()
    }
}

fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

impl<T> fmt::Debug for Reloading<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloading")
            .field("files", &self.files)
            .finish()
    }
}

#[derive(Debug)]
struct ReloadingServerCert(Reloading<Arc<CertifiedKey>>);

impl ResolvesServerCert for ReloadingServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get())
    }
}

#[derive(Debug)]
struct ReloadingClientCert(Reloading<Arc<CertifiedKey>>);

impl ResolvesClientCert for ReloadingClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[derive(Debug)]
struct ReloadingClientVerifier(Reloading<Arc<dyn ClientCertVerifier>>);

impl ClientCertVerifier for ReloadingClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The hints would borrow from a CA that may be replaced; clients then offer the
        // certificate they have, which is what they do with one certificate anyway.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .get()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.get().supported_verify_schemes()
    }
}

/// Verifies servers against the current roots and, where configured, one server name.
#[derive(Debug)]
struct ServerVerifier {
    verifier: Reloading<Arc<WebPkiServerVerifier>>,
    name: Option<ServerName<'static>>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = self.name.as_ref().unwrap_or(server_name);
        self.verifier
            .get()
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier
            .get()
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier
            .get()
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.get().supported_verify_schemes()
    }
}
