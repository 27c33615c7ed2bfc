//! Test PKI made at run time: a CA, and a certificate it signs for `localhost` and
//! `127.0.0.1` (server and client use alike), written as PEM files.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// PEM files of one CA and one certificate it signed.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// A new CA named `name` and its certificate, in `dir` (`<name>-ca.pem`, `<name>.pem`,
    /// `<name>-key.pem`).
    pub fn new(dir: &Path, name: &str) -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

        let mut leaf =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, format!("{name} component"));
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // Go (Prometheus) checks the purpose of client certificates, rustls of servers'.
        leaf.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &ca).unwrap();

        let pki = Self {
            ca: dir.join(format!("{name}-ca.pem")),
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&pki.ca, ca.pem()).unwrap();
        std::fs::write(&pki.cert, cert.pem()).unwrap();
        std::fs::write(&pki.key, key.serialize_pem()).unwrap();
        pki
    }

    /// `--grpc-server-tls-*` flags: serve with this certificate, require clients of this CA.
    pub fn grpc_server_flags(&self) -> Vec<String> {
        vec![
            format!("--grpc-server-tls-cert={}", self.cert.display()),
            format!("--grpc-server-tls-key={}", self.key.display()),
            format!("--grpc-server-tls-client-ca={}", self.ca.display()),
        ]
    }

    /// `--grpc-client-tls-*` flags: trust this CA, present this certificate.
    pub fn grpc_client_flags(&self) -> Vec<String> {
        vec![
            "--grpc-client-tls-secure".to_string(),
            format!("--grpc-client-tls-ca={}", self.ca.display()),
            format!("--grpc-client-tls-cert={}", self.cert.display()),
            format!("--grpc-client-tls-key={}", self.key.display()),
        ]
    }

    /// A `tls_config` block (Prometheus' and the sidecar's client format), indented by
    /// `indent` spaces.
    pub fn tls_config_yaml(&self, indent: usize) -> String {
        let pad = " ".repeat(indent);
        format!(
            "{pad}tls_config:\n{pad}  ca_file: {}\n{pad}  cert_file: {}\n{pad}  key_file: {}\n",
            self.ca.display(),
            self.cert.display(),
            self.key.display()
        )
    }
}
