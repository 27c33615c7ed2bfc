//! A rotated certificate is served without a restart: the server's files are replaced while
//! it runs, and the next connection is handshaken with the new certificate; a half-written
//! file in between keeps the old one in use. And a client's configured server name is what
//! the server's certificate is checked against, whatever name the connection was opened
//! with (an HTTP client, the sidecar's, opens it with the URL's host).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::Path;
use std::time::Duration;
use store_api::tls::{ClientTls, ServerTls};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;

/// Writes a certificate for `localhost` named `name`, signed by `ca`, to `cert` and `key`.
fn leaf(ca: &CertifiedIssuer<'_, KeyPair>, name: &str, cert: &Path, key: &Path) -> Vec<u8> {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let pair = KeyPair::generate().unwrap();
    let signed = params.signed_by(&pair, ca).unwrap();
    std::fs::write(cert, signed.pem()).unwrap();
    std::fs::write(key, pair.serialize_pem()).unwrap();
    signed.der().to_vec()
}

#[tokio::test]
async fn a_replaced_certificate_is_served_at_the_next_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let (ca_file, cert, key) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let first = leaf(&ca, "first", &cert, &key);

    let server = ServerTls {
        cert: cert.clone(),
        key: key.clone(),
        client_ca: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut incoming = store_api::tls::incoming(listener, server.config(&[b"h2"]).unwrap());
    tokio::spawn(async move {
        // Hold each accepted connection open until the client is done with it.
        while let Some(Ok(stream)) = incoming.next().await {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(stream);
            });
        }
    });
    let client = ClientTls {
        ca: Some(ca_file),
        ..ClientTls::default()
    }
    .connector()
    .unwrap();
    let served = || async {
        let stream = client.connect("localhost", port).await.unwrap();
        let (_, connection) = stream.get_ref();
        connection.peer_certificates().unwrap()[0].to_vec()
    };
    assert_eq!(served().await, first);

    // Half-written: the key is gone. The old certificate stays in use.
    std::fs::write(&key, "").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(served().await, first);

    let second = leaf(&ca, "second", &cert, &key);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(served().await, second);
}

#[tokio::test]
async fn the_configured_server_name_is_what_the_certificate_is_checked_against() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let (ca_file, cert, key) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    leaf(&ca, "only localhost", &cert, &key);
    let server = ServerTls {
        cert,
        key,
        client_ca: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = store_api::tls::incoming(listener, server.config(&[b"h2"]).unwrap());
    tokio::spawn(async move { while incoming.next().await.is_some() {} });
    // Opened by address, as an HTTP client opens `https://127.0.0.1:port`.
    let handshake = |server_name: Option<&str>| {
        let config = ClientTls {
            ca: Some(ca_file.clone()),
            server_name: server_name.map(str::to_owned),
            ..ClientTls::default()
        }
        .config(&[b"h2"])
        .unwrap();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let by_address = rustls::pki_types::ServerName::from(addr.ip());
            tokio_rustls::TlsConnector::from(config)
                .connect(by_address, tcp)
                .await
        }
    };
    let refused = handshake(None).await.unwrap_err();
    assert!(
        refused.to_string().contains("not valid for name"),
        "{refused}"
    );
    handshake(Some("localhost")).await.unwrap();
}
