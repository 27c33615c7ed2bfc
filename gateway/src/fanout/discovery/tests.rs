//! Discovery end to end: the production resolver against a real DNS server on loopback, and
//! SD files rewritten on disk between polls.

use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::test_dns::{Record, TestDns};
use super::*;

fn spec(s: &str) -> EndpointSpec {
    parse_spec(s).unwrap()
}

fn v4(last: u8) -> Record {
    Record::Ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
}

fn v6_loopback() -> Record {
    Record::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST))
}

fn srv(target: &str, port: u16) -> Record {
    Record::Srv {
        target: target.into(),
        port,
    }
}

/// A DNS server with two stores behind an SRV name, one of them dual-stack, and an A name.
async fn test_dns() -> TestDns {
    let dns = TestDns::start().await;
    dns.set("stores.test", vec![v4(11), v4(12), v6_loopback()]);
    dns.set(
        "_grpc._tcp.stores.test",
        vec![srv("store-0.test.", 10901), srv("store-1.test.", 10902)],
    );
    dns.set("store-0.test", vec![v4(21)]);
    dns.set("store-1.test", vec![v4(22), v6_loopback()]);
    dns
}

fn resolver(dns: &TestDns) -> Arc<dyn Resolver> {
    Arc::new(HickoryResolver::with_nameserver(dns.addr()).unwrap())
}

fn discovery(specs: &[&str], files: &[&Path], dns: &TestDns) -> Discovery {
    let specs = specs.iter().map(|s| spec(s)).collect();
    let files = files.iter().map(|p| p.to_path_buf()).collect();
    Discovery::from_specs(specs, files)
        .unwrap()
        .with_resolver(resolver(dns))
}

fn write(path: &Path, content: &str) {
    fs::write(path, content).unwrap();
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn not_found(spec: &str, name: &str) -> DiscoveryError {
    DiscoveryError::Resolve {
        spec: spec.into(),
        error: Box::new(DiscoveryError::NotFound {
            name: name.into(),
            record: "A/AAAA",
        }),
    }
}

#[tokio::test]
async fn hickory_resolver_answers_from_the_dns_server() {
    let dns = test_dns().await;
    let resolver = resolver(&dns);

    let mut ips = resolver.lookup_ip("stores.test").await.unwrap();
    ips.sort();
    assert_eq!(
        ips,
        ["127.0.0.11", "127.0.0.12", "::1"].map(|s| s.parse::<IpAddr>().unwrap())
    );

    let mut records = resolver.lookup_srv("_grpc._tcp.stores.test").await.unwrap();
    records.sort();
    assert_eq!(
        records,
        [
            ("store-0.test.".to_owned(), 10901),
            ("store-1.test.".to_owned(), 10902)
        ]
    );

    // An IP literal needs no DNS.
    let literal = resolver.lookup_ip("127.0.0.5").await.unwrap();
    assert_eq!(literal, [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5))]);

    // NXDOMAIN, and a name with records of other types only (NODATA): both "not found".
    let err = resolver.lookup_ip("nope.test").await.err();
    assert_eq!(
        err,
        Some(DiscoveryError::NotFound {
            name: "nope.test".into(),
            record: "A/AAAA"
        })
    );
    let err = resolver.lookup_srv("stores.test").await.err();
    assert_eq!(
        err,
        Some(DiscoveryError::NotFound {
            name: "stores.test".into(),
            record: "SRV"
        })
    );

    // A server failure is a lookup error, not "not found".
    dns.set("broken.test", vec![Record::ServFail]);
    match resolver.lookup_ip("broken.test").await {
        Err(DiscoveryError::Lookup {
            name,
            record: "A/AAAA",
            ..
        }) => assert_eq!(name, "broken.test"),
        other => panic!("expected a lookup error, got {other:?}"),
    }
}

#[tokio::test]
async fn dns_a_spec_yields_every_address_with_the_port() {
    let dns = test_dns().await;
    let resolved = discovery(&["dns+stores.test:9090", "static.example:10901"], &[], &dns)
        .resolve()
        .await;
    assert_eq!(resolved.errors, []);
    assert_eq!(
        resolved.addresses,
        [
            "127.0.0.11:9090",
            "127.0.0.12:9090",
            "[::1]:9090",
            "static.example:10901"
        ]
    );
}

#[tokio::test]
async fn dnssrv_specs_yield_targets_with_srv_ports() {
    let dns = test_dns().await;
    let resolved = discovery(&["dnssrv+_grpc._tcp.stores.test"], &[], &dns)
        .resolve()
        .await;
    assert_eq!(resolved.errors, []);
    assert_eq!(
        resolved.addresses,
        ["127.0.0.21:10901", "127.0.0.22:10902", "[::1]:10902"]
    );

    // An explicit port wins over the SRV ports, as in Thanos.
    let resolved = discovery(&["dnssrv+_grpc._tcp.stores.test:7000"], &[], &dns)
        .resolve()
        .await;
    assert_eq!(
        resolved.addresses,
        ["127.0.0.21:7000", "127.0.0.22:7000", "[::1]:7000"]
    );

    let resolved = discovery(&["dnssrvnoa+_grpc._tcp.stores.test"], &[], &dns)
        .resolve()
        .await;
    assert_eq!(resolved.errors, []);
    assert_eq!(
        resolved.addresses,
        ["store-0.test:10901", "store-1.test:10902"]
    );
}

#[tokio::test]
async fn a_name_that_stops_resolving_drops_its_addresses_and_reports_the_spec() {
    let dns = test_dns().await;
    let discovery = discovery(
        &["dns+stores.test:9090", "dnssrv+_grpc._tcp.stores.test"],
        &[],
        &dns,
    );
    let before = discovery.resolve().await;
    assert_eq!(before.errors, []);
    assert_eq!(before.addresses.len(), 6);

    dns.remove("stores.test");
    let after = discovery.resolve().await;
    assert_eq!(
        after.addresses,
        ["127.0.0.21:10901", "127.0.0.22:10902", "[::1]:10902"]
    );
    assert_eq!(
        after.errors,
        [not_found("dns+stores.test:9090", "stores.test")]
    );
    assert_eq!(
        after.errors[0].to_string(),
        "resolving endpoint spec dns+stores.test:9090: no A/AAAA records for \"stores.test\""
    );

    // One SRV target gone: the other stays, the error names the target.
    dns.remove("store-1.test");
    let after = discovery.resolve().await;
    assert_eq!(after.addresses, ["127.0.0.21:10901"]);
    assert_eq!(
        after.errors,
        [
            not_found("dns+stores.test:9090", "stores.test"),
            not_found("dnssrv+_grpc._tcp.stores.test", "store-1.test."),
        ]
    );

    // And back.
    dns.set("stores.test", vec![v4(13)]);
    dns.set("store-1.test", vec![v4(22)]);
    let healed = discovery.resolve().await;
    assert_eq!(healed.errors, []);
    assert_eq!(
        healed.addresses,
        ["127.0.0.13:9090", "127.0.0.21:10901", "127.0.0.22:10902"]
    );
}

#[tokio::test]
async fn dns_spec_without_resolver_is_an_error_static_is_not() {
    let discovery = Discovery::from_specs(
        vec![spec("dns+stores.test:9090"), spec("[::1]:10901")],
        vec![],
    )
    .unwrap();
    assert!(discovery.needs_dns());
    let resolved = discovery.resolve().await;
    assert_eq!(resolved.addresses, ["[::1]:10901"]);
    assert_eq!(
        resolved.errors,
        [DiscoveryError::Resolve {
            spec: "dns+stores.test:9090".into(),
            error: Box::new(DiscoveryError::NoResolver)
        }]
    );
}

#[tokio::test]
async fn addresses_are_deduplicated_and_sorted_across_specs_and_files() {
    let dns = test_dns().await;
    let dir = temp_dir();
    let file = dir.path().join("sd.json");
    write(
        &file,
        r#"[{"targets": ["b:2", "127.0.0.11:9090"]}, {"targets": ["a:1", "b:2"]}]"#,
    );
    let resolved = discovery(&["b:2", "dns+stores.test:9090"], &[&file], &dns)
        .resolve()
        .await;
    assert_eq!(resolved.errors, []);
    assert_eq!(
        resolved.addresses,
        [
            "127.0.0.11:9090",
            "127.0.0.12:9090",
            "[::1]:9090",
            "a:1",
            "b:2"
        ]
    );
}

#[tokio::test]
async fn json_sd_file_follows_changes_and_keeps_last_good_targets_when_invalid() {
    let dns = test_dns().await;
    let dir = temp_dir();
    let file = dir.path().join("endpoints.json");
    write(
        &file,
        r#"[{"targets": ["store-a:10901", "store-b:10901"], "labels": {"zone": "eu"}}]"#,
    );
    let discovery = discovery(&[], &[&file], &dns);

    let first = discovery.resolve().await;
    assert_eq!(first.errors, []);
    assert_eq!(first.addresses, ["store-a:10901", "store-b:10901"]);

    // Every rewrite changes the size, so the change is seen even with a coarse mtime.
    write(
        &file,
        r#"[{"targets": ["store-b:10901"]}, {"targets": ["store-c:10901", "store-d:10901"]}]"#,
    );
    let changed = discovery.resolve().await;
    assert_eq!(changed.errors, []);
    assert_eq!(
        changed.addresses,
        ["store-b:10901", "store-c:10901", "store-d:10901"]
    );

    write(&file, r#"[{"targets": ["store-e:10901"#);
    let invalid = discovery.resolve().await;
    assert_eq!(invalid.addresses, changed.addresses);
    match invalid.errors.as_slice() {
        [DiscoveryError::FileParse { path, reason, .. }] => {
            assert_eq!(path, &file);
            assert!(reason.contains("EOF"), "{reason}");
        }
        other => panic!("expected one parse error, got {other:?}"),
    }
    assert!(
        invalid.errors[0]
            .to_string()
            .starts_with(&format!("parsing endpoint SD file {}: ", file.display()))
    );
    // Still invalid on the next poll: still reported, targets still kept.
    assert_eq!(discovery.resolve().await, invalid);

    write(&file, r#"[{"targets": ["store-e:10901"]}]"#);
    let fixed = discovery.resolve().await;
    assert_eq!(fixed.errors, []);
    assert_eq!(fixed.addresses, ["store-e:10901"]);
}

#[tokio::test]
async fn yaml_sd_file_follows_changes_and_resolves_dns_targets() {
    let dns = test_dns().await;
    let dir = temp_dir();
    let file = dir.path().join("endpoints.yaml");
    write(
        &file,
        "- targets: ['store-a:10901']\n  labels:\n    zone: eu\n",
    );
    let discovery = discovery(&["static:1"], &[&file], &dns);
    assert_eq!(
        discovery.resolve().await.addresses,
        ["static:1", "store-a:10901"]
    );

    // File targets take every spec form, as in Thanos.
    write(
        &file,
        "- targets:\n  - store-a:10901\n  - dns+stores.test:9090\n- targets: ['dnssrvnoa+_grpc._tcp.stores.test']\n",
    );
    let changed = discovery.resolve().await;
    assert_eq!(changed.errors, []);
    assert_eq!(
        changed.addresses,
        [
            "127.0.0.11:9090",
            "127.0.0.12:9090",
            "[::1]:9090",
            "static:1",
            "store-0.test:10901",
            "store-1.test:10902",
            "store-a:10901"
        ]
    );

    // A DNS target that stops resolving is reported with the file it came from.
    dns.remove("stores.test");
    let dropped = discovery.resolve().await;
    assert_eq!(
        dropped.addresses,
        [
            "static:1",
            "store-0.test:10901",
            "store-1.test:10902",
            "store-a:10901"
        ]
    );
    let spec = format!("dns+stores.test:9090 (from {})", file.display());
    assert_eq!(dropped.errors, [not_found(&spec, "stores.test")]);

    // Labels must be a string map: a malformed file keeps the previous targets.
    write(
        &file,
        "- targets: ['store-z:10901']\n  labels: [not, a, map]\n",
    );
    let invalid = discovery.resolve().await;
    assert_eq!(invalid.addresses, dropped.addresses);
    assert!(
        matches!(invalid.errors.first(), Some(DiscoveryError::FileParse { path, .. }) if path == &file)
    );

    // Caught between truncation and write: not "no targets".
    write(&file, "");
    let truncated = discovery.resolve().await;
    assert_eq!(truncated.addresses, dropped.addresses);
    assert!(
        truncated.errors[0]
            .to_string()
            .ends_with("the file is empty; write [] for no targets")
    );

    write(&file, "- targets: []\n");
    let emptied = discovery.resolve().await;
    assert_eq!(
        emptied,
        Resolved {
            addresses: vec!["static:1".into()],
            ..Resolved::default()
        }
    );
}

#[tokio::test]
async fn sd_file_with_an_invalid_target_keeps_the_previous_targets() {
    let dns = test_dns().await;
    let dir = temp_dir();
    let file = dir.path().join("endpoints.yml");
    write(&file, "- targets: ['store-a:10901']\n");
    let discovery = discovery(&[], &[&file], &dns);
    assert_eq!(discovery.resolve().await.addresses, ["store-a:10901"]);

    write(&file, "- targets: ['store-b:10901', 'store-c']\n");
    let resolved = discovery.resolve().await;
    assert_eq!(resolved.addresses, ["store-a:10901"]);
    let expected = format!(
        "parsing endpoint SD file {}: invalid endpoint spec \"store-c\": missing port, expected host:port",
        file.display()
    );
    assert_eq!(
        resolved
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [expected]
    );
}

#[tokio::test]
async fn missing_sd_file_is_reported_until_it_appears() {
    let dns = test_dns().await;
    let dir = temp_dir();
    let file = dir.path().join("later.json");
    let discovery = discovery(&["static:1"], &[&file], &dns);

    let resolved = discovery.resolve().await;
    assert_eq!(resolved.addresses, ["static:1"]);
    assert!(
        matches!(resolved.errors.as_slice(), [DiscoveryError::FileRead { path, .. }] if path == &file)
    );

    write(&file, r#"[{"targets": ["store-a:10901"]}]"#);
    let resolved = discovery.resolve().await;
    assert_eq!(
        resolved,
        Resolved {
            addresses: vec!["static:1".into(), "store-a:10901".into()],
            ..Resolved::default()
        }
    );

    // Removed again: reported, last good targets kept (the caller's health checks decide).
    fs::remove_file(&file).unwrap();
    let resolved = discovery.resolve().await;
    assert_eq!(resolved.addresses, ["static:1", "store-a:10901"]);
    assert_eq!(resolved.errors.len(), 1);
}

#[tokio::test]
async fn unchanged_sd_file_is_not_reread_until_the_interval() {
    let dns = test_dns().await;
    let dir = temp_dir();
    let file = dir.path().join("endpoints.json");
    write(&file, r#"[{"targets": ["store-a:10901"]}]"#);
    let cached = discovery(&[], &[&file], &dns);
    assert_eq!(cached.resolve().await.addresses, ["store-a:10901"]);

    // Same size, mtime put back: indistinguishable by stat, so served from the cache...
    let mtime = fs::metadata(&file).and_then(|m| m.modified()).unwrap();
    write(&file, r#"[{"targets": ["store-b:10901"]}]"#);
    let set_back = File::options()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_modified(mtime));
    set_back.unwrap();
    assert_eq!(cached.resolve().await.addresses, ["store-a:10901"]);

    // ...until the re-read interval has passed.
    let cached = cached.with_file_reread_interval(Duration::ZERO);
    assert_eq!(cached.resolve().await.addresses, ["store-b:10901"]);
}

#[test]
fn sd_file_needs_a_known_extension() {
    let err = Discovery::from_specs(vec![], vec![PathBuf::from("/etc/endpoints.txt")]).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "parsing endpoint SD file /etc/endpoints.txt: unknown format, expected a .json, .yml or .yaml file"
        )
    );
}

#[test]
fn new_from_flags_reports_the_bad_flag() {
    let err = Discovery::new(&["store:10901".into(), "dns+nope".into()], &[]).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("invalid endpoint spec \"dns+nope\": missing port, expected host:port")
    );
    let static_only = Discovery::new(&["store:10901".into()], &[]).unwrap();
    assert!(!static_only.needs_dns());
}

#[test]
fn resolve_can_run_on_a_spawned_task() {
    fn assert_send<T: Send>(_: &T) {}
    let discovery = Discovery::from_specs(vec![], vec![]).unwrap();
    assert_send(&discovery.resolve());
    let _: &(dyn Send + Sync) = &discovery;
}

#[tokio::test]
async fn endpoint_config_file_follows_changes_and_keeps_last_good_endpoints_when_invalid() {
    let dir = temp_dir();
    let file = dir.path().join("endpoints.yml");
    let vm = "- {kind: victoriametrics, address: 'http://vm:8428', labels: {source: vm}}\n";
    write(&file, &format!("endpoints:\n{vm}"));
    let discovery = Discovery::from_specs(vec![], vec![])
        .unwrap()
        .with_config_file(file.clone())
        .unwrap();

    let first = discovery.resolve().await;
    assert_eq!(first.errors, []);
    let addresses =
        |r: &Resolved| -> Vec<String> { r.configured.iter().map(|c| c.address.clone()).collect() };
    assert_eq!(addresses(&first), ["http://vm:8428"]);
    assert_eq!(first.configured[0].kind, EndpointKind::VictoriaMetrics);

    write(
        &file,
        &format!("endpoints:\n{vm}- {{kind: prometheus, address: 'http://prom:9090'}}\n"),
    );
    let added = discovery.resolve().await;
    assert_eq!(addresses(&added), ["http://vm:8428", "http://prom:9090"]);

    write(&file, "endpoints:\n- {kind: mimir, address: 'http://m'}\n");
    let invalid = discovery.resolve().await;
    assert_eq!(invalid.configured, added.configured);
    assert_eq!(
        invalid.errors[0].to_string(),
        format!(
            "parsing endpoint config file {}: endpoints[0] (http://m): kind: unknown kind \
             \"mimir\", expected grpc, prometheus or victoriametrics",
            file.display()
        )
    );
    // A name of no known format, a missing file and an invalid one all stop the start.
    for (name, text) in [
        ("endpoints.txt", None),
        ("missing.yml", None),
        (
            "invalid.yml",
            Some("endpoints:\n- {kind: mimir, address: 'http://m'}\n"),
        ),
    ] {
        let path = dir.path().join(name);
        if let Some(text) = text {
            write(&path, text);
        }
        assert!(
            Discovery::from_specs(vec![], vec![])
                .unwrap()
                .with_config_file(path)
                .is_err(),
            "{name}"
        );
    }
}
