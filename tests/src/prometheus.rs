//! A real Prometheus server on loopback over promtool blocks: Debian's `prometheus` 2.42, or
//! Prometheus 3.5 from Debian's unstable suite (the reference semantics).

use crate::net::{free_addr, http_status, wait_for_port};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use store_api::Labels;

/// Which Prometheus runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Debian bookworm's package, on the PATH.
    V2_42,
    /// Debian sid's package, unpacked under the target directory by
    /// `scripts/reference-systems.sh` (README's test command runs it).
    V3_5,
}

impl Version {
    pub fn binary(self) -> PathBuf {
        match self {
            Version::V2_42 => PathBuf::from("prometheus"),
            Version::V3_5 => {
                let binary = crate::process::target_dir().join("reference/sid/usr/bin/prometheus");
                assert!(
                    binary.is_file(),
                    "{} is missing: run `bash scripts/reference-systems.sh` (README's test \
                     command does)",
                    binary.display()
                );
                binary
            }
        }
    }
}

pub struct PrometheusServer {
    binary: PathBuf,
    addr: SocketAddr,
    dir: PathBuf,
    external_labels: Vec<(String, String)>,
    /// Appended to the generated configuration file (e.g. `scrape_configs`).
    extra_config: String,
    /// Command-line flags after the ones every server gets.
    extra_flags: Vec<String>,
    child: Option<Child>,
}

impl PrometheusServer {
    /// Starts Prometheus over a copy of `blocks` (a promtool output directory) with the given
    /// external labels and no scrape targets.
    pub fn start(blocks: &Path, work_dir: &Path, external_labels: &[(&str, &str)]) -> Self {
        Self::start_with_config(Some(blocks), work_dir, external_labels, "")
    }

    /// Like [`PrometheusServer::start`], over a copy of `blocks` or (`None`) an empty data
    /// directory, with `extra_config` appended to the configuration file after `global`: a
    /// YAML snippet of top-level keys such as `scrape_configs:`.
    pub fn start_with_config(
        blocks: Option<&Path>,
        work_dir: &Path,
        external_labels: &[(&str, &str)],
        extra_config: &str,
    ) -> Self {
        Self::launch(
            Version::V2_42,
            blocks,
            work_dir,
            external_labels,
            extra_config,
            &[],
        )
    }

    /// Like [`PrometheusServer::start`] without external labels, with `flags` added to the
    /// command line (e.g. `--storage.tsdb.max-block-duration=2h`).
    pub fn start_with_flags(blocks: &Path, work_dir: &Path, flags: &[&str]) -> Self {
        Self::launch(Version::V2_42, Some(blocks), work_dir, &[], "", flags)
    }

    /// Like [`PrometheusServer::start_with_flags`], with the given version.
    pub fn start_version(version: Version, blocks: &Path, work_dir: &Path, flags: &[&str]) -> Self {
        Self::launch(version, Some(blocks), work_dir, &[], "", flags)
    }

    /// Everything chosen: the version, blocks (or an empty data directory), external labels,
    /// configuration appended after `global` and extra flags.
    pub fn launch(
        version: Version,
        blocks: Option<&Path>,
        work_dir: &Path,
        external_labels: &[(&str, &str)],
        extra_config: &str,
        flags: &[&str],
    ) -> Self {
        let addr = free_addr();
        Self::launch_on(
            addr,
            version,
            blocks,
            work_dir,
            external_labels,
            extra_config,
            flags,
        )
    }

    /// Like [`PrometheusServer::launch`], listening on `addr` (which a configuration, such as
    /// a scrape of itself, may name).
    pub fn launch_on(
        addr: SocketAddr,
        version: Version,
        blocks: Option<&Path>,
        work_dir: &Path,
        external_labels: &[(&str, &str)],
        extra_config: &str,
        flags: &[&str],
    ) -> Self {
        let dir = work_dir.to_path_buf();
        match blocks {
            Some(blocks) => crate::promtool::copy_dir(blocks, &dir.join("data")),
            None => std::fs::create_dir_all(dir.join("data")).unwrap(),
        }
        let mut server = Self {
            binary: version.binary(),
            addr,
            dir,
            external_labels: external_labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extra_config: extra_config.to_string(),
            extra_flags: flags.iter().map(|f| f.to_string()).collect(),
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

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
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
        yaml.push_str(&self.extra_config);
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(self.dir.join("prometheus.log")).unwrap();
        let child = Command::new(&self.binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", self.dir.join("data").display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address={}", self.addr))
            .args(&self.extra_flags)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus: install Debian's `prometheus` package (README's test command does)");
        self.child = Some(child);
        wait_for_port(self.addr, Duration::from_secs(30));
        self.wait_ready(Duration::from_secs(30));
    }

    fn wait_ready(&self, timeout: Duration) {
        // Behind a web config, a plain anonymous probe gets 401 (basic auth) or 400 (TLS)
        // once it serves.
        let behind_web_config = self
            .extra_flags
            .iter()
            .any(|f| f.starts_with("--web.config.file"));
        let deadline = Instant::now() + timeout;
        loop {
            match http_status(self.addr, "/-/ready") {
                Some(200) => return,
                Some(400 | 401) if behind_web_config => return,
                _ => {}
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

// Prometheus' HTTP API answers (from Prometheus or a gateway), normalised for comparing two
// servers' answers to the same request.

/// A query answer: each series (its labels, `__name__` included) with its samples in time
/// order (milliseconds, value). A scalar is one series with no labels.
pub type Answer = BTreeMap<Labels, Vec<(i64, f64)>>;

/// An evaluation of a query, times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eval {
    Instant(i64),
    /// start, end, step.
    Range(i64, i64, i64),
}

impl Eval {
    /// Instant evaluations at `base_ms` plus each of `instants` seconds, then range
    /// evaluations given as (start, end, step) seconds after `base_ms`.
    pub fn grid(base_ms: i64, instants: &[i64], ranges: &[(i64, i64, i64)]) -> Vec<Eval> {
        let at = |seconds: i64| base_ms + seconds * 1000;
        instants
            .iter()
            .map(|&t| Eval::Instant(at(t)))
            .chain(
                ranges
                    .iter()
                    .map(|&(a, b, step)| Eval::Range(at(a), at(b), step * 1000)),
            )
            .collect()
    }
}

/// A client for Prometheus-compatible HTTP APIs: every request is bounded.
pub fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A time parameter: seconds with millisecond decimals.
pub fn api_time(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// `GET {base}{path}` with `params`: the status code and the body as JSON (panics when the
/// body is not JSON).
pub async fn get_json(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    params: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = client
        .get(format!("{base}{path}"))
        .query(params)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {base}{path} {params:?}: {e}"));
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "GET {base}{path} {params:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

/// The `data` of a successful API answer without warnings (a warning means partial data);
/// panics with the answer otherwise.
pub async fn get_data(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    params: &[(&str, &str)],
) -> serde_json::Value {
    let (status, body) = get_json(client, base, path, params).await;
    assert!(
        status == 200 && body["status"] == "success" && body.get("warnings").is_none(),
        "GET {base}{path} {params:?}: {status} {body}"
    );
    body["data"].clone()
}

/// Runs `query` as `eval` on the server at `base`; panics unless it succeeds.
pub async fn query_answer(client: &reqwest::Client, base: &str, query: &str, eval: Eval) -> Answer {
    let data = match eval {
        Eval::Instant(t) => {
            let time = api_time(t);
            get_data(
                client,
                base,
                "/api/v1/query",
                &[("query", query), ("time", &time)],
            )
            .await
        }
        Eval::Range(start, end, step) => {
            let (start, end, step) = (api_time(start), api_time(end), api_time(step));
            get_data(
                client,
                base,
                "/api/v1/query_range",
                &[
                    ("query", query),
                    ("start", &start),
                    ("end", &end),
                    ("step", &step),
                ],
            )
            .await
        }
    };
    parse_answer(&data)
}

/// A `{"name": "value", ...}` object as labels.
pub fn json_labels(metric: &serde_json::Value) -> Labels {
    Labels::from_pairs(
        metric
            .as_object()
            .unwrap_or_else(|| panic!("not a label object: {metric}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
    )
}

/// A JSON array of strings.
pub fn json_strings(data: &serde_json::Value) -> Vec<String> {
    data.as_array()
        .unwrap_or_else(|| panic!("not an array: {data}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn sample(point: &serde_json::Value) -> (i64, f64) {
    let t = (point[0].as_f64().unwrap() * 1000.0).round() as i64;
    let v = match point[1].as_str().unwrap() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .unwrap_or_else(|e| panic!("value {other:?}: {e}")),
    };
    (t, v)
}

/// The `data` of a query or query_range answer (scalar, vector or matrix) as an [`Answer`].
/// Panics on a series listed twice (an answer must not have duplicate label sets).
pub fn parse_answer(data: &serde_json::Value) -> Answer {
    let result = &data["result"];
    let mut answer = Answer::new();
    let mut add = |labels: Labels, samples: Vec<(i64, f64)>| {
        let duplicate = answer.insert(labels.clone(), samples);
        assert!(duplicate.is_none(), "series {labels} twice in {data}");
    };
    match data["resultType"].as_str() {
        Some("scalar") => add(Labels::new(), vec![sample(result)]),
        Some("vector") => {
            for s in result.as_array().unwrap() {
                add(json_labels(&s["metric"]), vec![sample(&s["value"])]);
            }
        }
        Some("matrix") => {
            for s in result.as_array().unwrap() {
                let points = s["values"].as_array().unwrap().iter().map(sample).collect();
                add(json_labels(&s["metric"]), points);
            }
        }
        other => panic!("unexpected result type {other:?}: {data}"),
    }
    answer
}

/// Equal within a relative `tolerance` (with an absolute floor of 1e-12 for results that
/// should be 0 but carry rounding residue); NaN equals NaN; infinities exactly.
pub fn close(a: f64, b: f64, tolerance: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= (tolerance * a.abs().max(b.abs())).max(1e-12)
}

/// The differences between `got` and `want` (empty when they agree): series only in one of
/// them, and per series the first sample whose time differs or whose value is not
/// [`close`].
pub fn compare_answers(got: &Answer, want: &Answer, tolerance: f64) -> Vec<String> {
    let mut differences = Vec::new();
    for labels in want.keys().filter(|l| !got.contains_key(*l)) {
        differences.push(format!("missing series {labels}"));
    }
    for labels in got.keys().filter(|l| !want.contains_key(*l)) {
        differences.push(format!("unexpected series {labels}"));
    }
    for (labels, want) in want {
        let Some(got) = got.get(labels) else { continue };
        if got.len() != want.len() {
            differences.push(format!(
                "{labels}: {} samples, want {}",
                got.len(),
                want.len()
            ));
        }
        let first = got
            .iter()
            .zip(want)
            .find(|((tg, vg), (tw, vw))| tg != tw || !close(*vg, *vw, tolerance));
        if let Some((g, w)) = first {
            differences.push(format!("{labels}: got {g:?}, want {w:?}"));
        }
    }
    differences
}
