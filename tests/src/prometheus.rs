//! A real Prometheus server (Debian's `prometheus` 2.42) on loopback over promtool blocks.

use crate::net::{free_addr, wait_for_port};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PrometheusServer {
    addr: SocketAddr,
    dir: PathBuf,
    external_labels: Vec<(String, String)>,
    child: Option<Child>,
}

impl PrometheusServer {
    /// Starts Prometheus over a copy of `blocks` (a promtool output directory) with the given
    /// external labels and no scrape targets.
    pub fn start(blocks: &Path, work_dir: &Path, external_labels: &[(&str, &str)]) -> Self {
        let dir = work_dir.to_path_buf();
        crate::promtool::copy_dir(blocks, &dir.join("data"));
        let mut server = Self {
            addr: free_addr(),
            dir,
            external_labels: external_labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let config = self.dir.join("prometheus.yml");
        let mut yaml = String::from("global:\n  external_labels:\n");
        for (k, v) in &self.external_labels {
            yaml.push_str(&format!("    {k}: {v:?}\n"));
        }
        if self.external_labels.is_empty() {
            yaml = "global: {}\n".into();
        }
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(self.dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", self.dir.join("data").display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address={}", self.addr))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus: install Debian's `prometheus` package (README's test command does)");
        self.child = Some(child);
        wait_for_port(self.addr, Duration::from_secs(30));
        self.wait_ready(Duration::from_secs(30));
    }

    fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if http_status(self.addr, "/-/ready") == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus on {} not ready; log: {}",
                self.addr,
                std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The status code of a plain HTTP/1.0 GET, `None` when the connection fails.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
