//! Mutual TLS on every hop, with certificates made at run time: a real Prometheus 3.5 that
//! requires client certificates (its web config) and scrapes itself over mTLS, a sidecar that
//! reads it with its client certificate and serves StoreAPI requiring one, a gateway that
//! reads the sidecar and serves StoreAPI requiring one, and a second-tier gateway above it,
//! serving HTTPS with basic auth. The upper gateway answers `up` as Prometheus does. A client
//! with no certificate, or one from another CA, is refused on each gRPC hop with the TLS
//! alert that says so (`CertificateRequired`, `UnknownCA`), and the refusing server logs why; a gateway that does not
//! trust the sidecar's CA shows the endpoint down, naming the certificate; HTTP without the
//! right password is 401.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::certs::Pki;
use panoptes_tests::net::free_addr;
use panoptes_tests::process::Panoptes;
use panoptes_tests::prometheus::{PrometheusServer, Version};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use store_api::tls::ClientTls;
use store_api::{Store, StoreClient};

const PASSWORD: &str = "correct horse";

/// A reqwest client that trusts `pki`'s CA and, if `identity`, presents its certificate.
fn https_client(pki: &Pki, identity: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .add_root_certificate(ca);
    if identity {
        let mut pem = std::fs::read(&pki.cert).unwrap();
        pem.extend(std::fs::read(&pki.key).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// `up`'s series and values from a Prometheus API at `base`, once it has one.
async fn up(client: &reqwest::Client, base: &str, auth: Option<&str>) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut request = client
            .get(format!("{base}/api/v1/query"))
            .query(&[("query", "up")]);
        if let Some(user) = auth {
            request = request.basic_auth(user, Some(PASSWORD));
        }
        let answer: Option<serde_json::Value> = match request.send().await {
            Ok(response) => response
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
            Err(_) => None,
        };
        let series: Vec<(String, String)> = answer
            .as_ref()
            .and_then(|a| a["data"]["result"].as_array())
            .map(|result| {
                result
                    .iter()
                    .map(|s| {
                        let mut labels = s["metric"].clone();
                        if let Some(m) = labels.as_object_mut() {
                            m.remove("__name__");
                        }
                        (labels.to_string(), s["value"][1].to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !series.is_empty() {
            return series;
        }
        assert!(
            Instant::now() < deadline,
            "no `up` from {base}: last answer {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The error a StoreAPI client configured with `tls` gets from the server at `addr`.
async fn refused(addr: SocketAddr, tls: Option<ClientTls>) -> String {
    let connector = tls.map(|t| t.connector().unwrap());
    let client = StoreClient::with_tls(&addr.to_string(), connector.as_ref()).unwrap();
    match tokio::time::timeout(Duration::from_secs(15), client.info()).await {
        Ok(Ok(info)) => panic!("{addr} answered Info to a refused client: {info:?}"),
        Ok(Err(err)) => err.to_string(),
        Err(_) => panic!("{addr} neither answered nor refused within 15 s"),
    }
}

/// Waits until `log` (a component's standard error) holds `needle`.
fn wait_for_log(log: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never logged {needle:?}:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_on_every_hop_and_refusals_that_name_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "fleet");
    let rogue = Pki::new(dir.path(), "rogue");

    // Prometheus requires client certificates of the fleet's CA, and scrapes itself so.
    let web = dir.path().join("prometheus-web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            pki.cert.display(),
            pki.key.display(),
            pki.ca.display()
        ),
    )
    .unwrap();
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let scrape = |addr: SocketAddr| {
        format!(
            "scrape_configs:\n  - job_name: prometheus\n    scrape_interval: 1s\n    \
             scheme: https\n{}    static_configs:\n      - targets: ['{addr}']\n",
            pki.tls_config_yaml(4)
        )
    };
    let prom_addr = free_addr();
    let prometheus = PrometheusServer::launch_on(
        prom_addr,
        Version::V3_5,
        None,
        &prom_dir,
        &[("cluster", "eu")],
        &scrape(prom_addr),
        &[&format!("--web.config.file={}", web.display())],
    );
    let prom_url = format!("https://{prom_addr}");
    let direct = up(&https_client(&pki, true), &prom_url, None).await;

    // The sidecar: mTLS to Prometheus, StoreAPI requiring client certificates.
    let client_file = dir.path().join("sidecar-client.yml");
    std::fs::write(&client_file, pki.tls_config_yaml(0)).unwrap();
    let (sidecar_grpc, sidecar_http) = (free_addr(), free_addr());
    let sidecar_log = dir.path().join("sidecar.log");
    let mut sidecar_args = vec![
        "sidecar".to_string(),
        format!("--prometheus.url={prom_url}"),
        format!("--prometheus.http-client-file={}", client_file.display()),
        format!("--grpc-address={sidecar_grpc}"),
        format!("--http-address={sidecar_http}"),
    ];
    sidecar_args.extend(pki.grpc_server_flags());
    let _sidecar = Panoptes::start_logging_to(&sidecar_args, sidecar_grpc, &sidecar_log);

    // The lower gateway: mTLS to the sidecar, StoreAPI requiring client certificates.
    let (lower_grpc, lower_http) = (free_addr(), free_addr());
    let mut lower_args = vec![
        "query".to_string(),
        format!("--endpoint={sidecar_grpc}"),
        format!("--grpc-address={lower_grpc}"),
        format!("--http-address={lower_http}"),
        "--label=region=eu".to_string(),
    ];
    lower_args.extend(pki.grpc_client_flags());
    lower_args.extend(pki.grpc_server_flags());
    let lower_log = dir.path().join("lower.log");
    let _lower = Panoptes::start_logging_to(&lower_args, lower_grpc, &lower_log);

    // The upper gateway: mTLS to the lower one, HTTPS with basic auth.
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let upper_web = dir.path().join("upper-web.yml");
    std::fs::write(
        &upper_web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  alice: '{hash}'\n",
            pki.cert.display(),
            pki.key.display()
        ),
    )
    .unwrap();
    let upper_http = free_addr();
    let mut upper_args = vec![
        "query".to_string(),
        format!("--endpoint={lower_grpc}"),
        format!("--http-address={upper_http}"),
        format!("--http.config={}", upper_web.display()),
    ];
    upper_args.extend(pki.grpc_client_flags());
    let _upper = Panoptes::start_listening(&upper_args, upper_http);
    let upper_url = format!("https://localhost:{}", upper_http.port());
    let https = https_client(&pki, false);
    let through_tiers = up(&https, &upper_url, Some("alice")).await;
    assert_eq!(
        through_tiers,
        direct
            .iter()
            .map(|(labels, value)| {
                let mut labels: serde_json::Value = serde_json::from_str(labels).unwrap();
                // The external labels of the sidecar's Prometheus and of the lower gateway.
                labels["cluster"] = "eu".into();
                labels["region"] = "eu".into();
                (labels.to_string(), value.clone())
            })
            .collect::<Vec<_>>(),
        "the upper gateway's `up` is Prometheus' (with the external labels)"
    );

    // HTTP: no password, a wrong one.
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().status().as_u16()
    };
    let query = format!("{upper_url}/api/v1/query?query=up");
    assert_eq!(status(https.get(&query)).await, 401);
    assert_eq!(
        status(https.get(&query).basic_auth("alice", Some("wrong"))).await,
        401
    );

    // gRPC: plain text, no certificate, another CA's certificate — refused by the sidecar
    // and by the lower gateway, each naming why on both sides.
    for (addr, log) in [(sidecar_grpc, &sidecar_log), (lower_grpc, &lower_log)] {
        let plain = refused(addr, None).await;
        assert!(!plain.is_empty());
        let anonymous = ClientTls {
            ca: Some(pki.ca.clone()),
            ..ClientTls::default()
        };
        let error = refused(addr, Some(anonymous)).await;
        assert!(error.contains("CertificateRequired"), "{addr}: {error}");
        wait_for_log(log, "TLS handshake refused");
        let foreign = ClientTls {
            ca: Some(pki.ca.clone()),
            cert: Some(rogue.cert.clone()),
            key: Some(rogue.key.clone()),
            server_name: None,
        };
        let error = refused(addr, Some(foreign)).await;
        assert!(error.contains("UnknownCA"), "{addr}: {error}");
        let text = wait_for_log(log, "UnknownIssuer");
        assert!(text.contains("TLS handshake refused"), "{text}");
        // A log written to a file is plain text: no terminal colour codes.
        assert!(
            !text.contains('\u{1b}'),
            "colour codes in {}",
            log.display()
        );
    }

    // A gateway that trusts another CA: the sidecar is down, and says why.
    let distrustful_http = free_addr();
    let mut distrustful = vec![
        "query".to_string(),
        format!("--endpoint={sidecar_grpc}"),
        format!("--http-address={distrustful_http}"),
    ];
    distrustful.extend(rogue.grpc_client_flags());
    let _distrustful = Panoptes::start(&distrustful, distrustful_http);
    let stores: serde_json::Value =
        reqwest::get(format!("http://{distrustful_http}/api/v1/stores"))
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap();
    let text = stores.to_string();
    assert!(
        text.contains(&sidecar_grpc.to_string()) && text.to_lowercase().contains("certificate"),
        "{text}"
    );
    drop(prometheus);
}
