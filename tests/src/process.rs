//! Real `panoptes` processes.

use crate::net::{free_addr, wait_for_port, wait_for_ready};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The `panoptes` binary of this build, fresh (see [`panoptes_binary_in`]).
pub fn panoptes_binary() -> PathBuf {
    panoptes_binary_in("debug")
}

/// The workspace's target directory (`CARGO_TARGET_DIR` if set).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"))
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `panoptes` binary of the `profile` build ("debug" or "release"), built first if it is
/// missing or older than any source it is built from, so that a test never runs a stale binary
/// (as running one test file alone after an edit would). Checked once per test process.
pub fn panoptes_binary_in(profile: &str) -> PathBuf {
    static CHECKED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let binary = target_dir().join(profile).join("panoptes");
    let mut checked = CHECKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !checked.iter().any(|p| p == profile) {
        if is_stale(&binary) {
            build(profile);
        }
        checked.push(profile.to_owned());
    }
    binary
}

/// Missing, or older than a file it is built from: the sources and manifests of its crates,
/// the workspace manifest and the lock file. (After a change cargo does not rebuild for, such
/// as a dev-dependency in the lock file, it stays older: cargo's check is then a no-op.)
fn is_stale(binary: &Path) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return true;
    };
    let workspace = workspace_dir();
    let sources = [
        "gateway/src",
        "gateway/Cargo.toml",
        "store-api/src",
        "store-api/Cargo.toml",
        "proto",
        "Cargo.toml",
        "Cargo.lock",
    ];
    sources
        .iter()
        .any(|source| newest_modification(&workspace.join(source)).is_some_and(|t| t > built))
}

fn newest_modification(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| newest_modification(&entry.ok()?.path()))
        .max()
}

fn build(profile: &str) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_dir())
        .args(["build", "--quiet", "--bin", "panoptes"]);
    if profile == "release" {
        command.arg("--release");
    }
    eprintln!("building the {profile} panoptes binary: it is older than its sources");
    let status = command.status().expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --bin panoptes ({profile}) failed"
    );
}

/// A running `panoptes` subcommand, killed on drop.
pub struct Panoptes {
    child: Child,
}

impl Panoptes {
    /// Starts `panoptes <args>` and waits until it listens on `ready_addr` — and for a
    /// `query` gateway until its `/-/ready` says its first Info round has finished.
    pub fn start(args: &[String], ready_addr: SocketAddr) -> Self {
        Self::start_binary(&panoptes_binary(), args, ready_addr)
    }

    /// Starts `panoptes <args>` and waits only until it listens on `addr`.
    pub fn start_listening(args: &[String], addr: SocketAddr) -> Self {
        Self::spawn(&panoptes_binary(), args, addr)
    }

    /// Like [`Panoptes::start_listening`], its standard error (the log) written to `log`.
    pub fn start_logging_to(args: &[String], addr: SocketAddr, log: &Path) -> Self {
        let log = std::fs::File::create(log).expect("create the log file");
        Self::spawn_with(&panoptes_binary(), args, addr, log.into())
    }

    fn spawn(binary: &Path, args: &[String], addr: SocketAddr) -> Self {
        Self::spawn_with(binary, args, addr, Stdio::inherit())
    }

    fn spawn_with(binary: &Path, args: &[String], addr: SocketAddr, stderr: Stdio) -> Self {
        let child = Command::new(binary)
            .args(args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start panoptes");
        let process = Self { child };
        wait_for_port(addr, Duration::from_secs(20));
        process
    }

    /// Like [`Panoptes::start`] with the given `panoptes` binary.
    pub fn start_binary(binary: &Path, args: &[String], ready_addr: SocketAddr) -> Self {
        let process = Self::spawn(binary, args, ready_addr);
        if args.first().is_some_and(|command| command == "query") {
            let http = args
                .iter()
                .find_map(|a| a.strip_prefix("--http-address=")?.parse().ok());
            if let Some(http) = http {
                // The first Info round waits at most the Info timeout (5 s) per endpoint.
                wait_for_ready(http, "/-/ready", Duration::from_secs(30));
            }
        }
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `panoptes sidecar` in front of the Prometheus at `prometheus_url`, with `extra` flags:
    /// the process and its StoreAPI address.
    pub fn sidecar(prometheus_url: &str, extra: &[String]) -> (Self, SocketAddr) {
        let grpc = free_addr();
        let mut args = vec![
            "sidecar".to_string(),
            format!("--prometheus.url={prometheus_url}"),
            format!("--grpc-address={grpc}"),
            format!("--http-address={}", free_addr()),
        ];
        args.extend(extra.iter().cloned());
        (Self::start(&args, grpc), grpc)
    }
}

/// A `panoptes sidecar` before one Prometheus, on free loopback ports, killed on drop.
pub struct Sidecar {
    process: Panoptes,
    /// Its StoreAPI, as a gateway names it (`--endpoint=`).
    pub grpc: SocketAddr,
    /// Its `/metrics`, `/-/healthy` and `/-/ready`.
    pub http: SocketAddr,
}

impl Sidecar {
    /// Starts it and waits until its gRPC port listens.
    pub fn start(prometheus_url: &str) -> Self {
        let (grpc, http) = (free_addr(), free_addr());
        let process = Panoptes::start(
            &[
                "sidecar".into(),
                format!("--prometheus.url={prometheus_url}"),
                format!("--grpc-address={grpc}"),
                format!("--http-address={http}"),
            ],
            grpc,
        );
        Self {
            process,
            grpc,
            http,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

impl Drop for Panoptes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
