//! A real VictoriaMetrics single-node server on loopback: Debian's `victoria-metrics` 1.79
//! from the PATH, or sid's 1.145 unpacked by `scripts/reference-systems.sh`.
//!
//! Flags: a retention long enough for any test data; `-search.latencyOffset=0` so that the
//! freshest samples are visible at once; `-search.disableCache` so that every query is
//! evaluated (no rollup result cache, which Prometheus and Panoptes do not have either, and
//! which would otherwise keep answers computed while the import was still running);
//! deduplication stays off (`-dedup.minScrapeInterval` unset); queries may run as long as
//! Prometheus lets them (2 minutes).

use super::fleet::Service;
use crate::net::{free_addr, wait_for_port};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A graceful stop flushes in-memory data to disk; past this, the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct VictoriaMetrics {
    binary: PathBuf,
    /// Flags after the ones every server gets.
    extra_flags: Vec<String>,
    addr: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
}

impl VictoriaMetrics {
    /// Starts a server with its storage in `dir/data` and its log in `dir/victoria.log`.
    pub fn start(dir: &Path) -> Self {
        Self::start_binary(PathBuf::from("victoria-metrics"), dir, &[])
    }

    /// Like [`VictoriaMetrics::start`] with Debian sid's 1.145 (the reference systems).
    pub fn start_reference(dir: &Path) -> Self {
        Self::start_reference_with(dir, &[])
    }

    /// Like [`VictoriaMetrics::start_reference`] with `flags` added (e.g. `-httpAuth.*`).
    pub fn start_reference_with(dir: &Path, flags: &[&str]) -> Self {
        let binary = crate::process::target_dir().join("reference/sid/usr/bin/victoria-metrics");
        assert!(
            binary.exists(),
            "{} is missing: run `bash scripts/reference-systems.sh`",
            binary.display()
        );
        Self::start_binary(binary, dir, flags)
    }

    fn start_binary(binary: PathBuf, dir: &Path, flags: &[&str]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mut server = Self {
            binary,
            extra_flags: flags.iter().map(|f| f.to_string()).collect(),
            addr: free_addr(),
            dir: dir.to_path_buf(),
            child: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's version as Debian packaged it (its `-version` flag prints nothing).
    pub fn version() -> String {
        let output = Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", "victoria-metrics"])
            .output();
        match output {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            _ => "unknown".into(),
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("victoria.log")).unwrap();
        let child = Command::new(&self.binary)
            .arg(format!("-storageDataPath={}", self.data_dir().display()))
            .arg(format!("-httpListenAddr={}", self.addr))
            .args([
                "-retentionPeriod=100y",
                "-search.latencyOffset=0",
                "-search.disableCache",
                "-search.maxQueryDuration=2m",
                "-loggerLevel=WARN",
            ])
            .args(&self.extra_flags)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start victoria-metrics: install Debian's `victoria-metrics` package");
        self.child = Some(child);
        wait_for_port(self.addr, Duration::from_secs(60));
    }

    /// Stops the server with SIGTERM (it flushes its buffers), killing it after a timeout.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Service for VictoriaMetrics {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
