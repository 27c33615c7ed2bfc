//! vmalert, VictoriaMetrics' rule evaluator, as a real process on loopback: the binary of
//! Debian sid's `victoria-metrics` package, unpacked under the target directory by
//! `scripts/reference-systems.sh victoria-metrics` (README's test command runs it), and its
//! self-metrics (`/metrics`, Prometheus text format) parsed for assertions.

use crate::net::{free_addr, http_status};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The unpacked `vmalert`; panics with the command that installs it when it is missing.
pub fn binary() -> PathBuf {
    let binary = crate::process::target_dir().join("reference/sid/usr/bin/vmalert");
    assert!(
        binary.is_file(),
        "{} is missing: run `bash scripts/reference-systems.sh victoria-metrics` (README's \
         test command does)",
        binary.display()
    );
    binary
}

/// A running vmalert, killed on drop.
pub struct Vmalert {
    addr: SocketAddr,
    dir: PathBuf,
    child: Child,
    client: reqwest::Client,
}

impl Vmalert {
    /// Writes `rules` (a vmalert rules file, YAML) into `work_dir` and starts vmalert on a free
    /// loopback port with it and `flags` (e.g. `-datasource.url=...`); waits until its HTTP
    /// port answers `/health`. Blocks: call it from `block_in_place` in async tests.
    pub fn start(work_dir: &Path, rules: &str, flags: &[String]) -> Self {
        std::fs::create_dir_all(work_dir).unwrap();
        let rules_file = work_dir.join("rules.yml");
        std::fs::write(&rules_file, rules).unwrap();
        let log = std::fs::File::create(work_dir.join("vmalert.log")).unwrap();
        let addr = free_addr();
        let child = Command::new(binary())
            .arg(format!("-httpListenAddr={addr}"))
            .arg(format!("-rule={}", rules_file.display()))
            .args(flags)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start vmalert");
        let mut vmalert = Self {
            addr,
            dir: work_dir.to_path_buf(),
            child,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        };
        vmalert.wait_healthy(Duration::from_secs(30));
        vmalert
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What vmalert logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("vmalert.log")).unwrap_or_default()
    }

    /// Its self-metrics now.
    pub async fn metrics(&self) -> Metrics {
        let url = format!("{}/metrics", self.url());
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert!(response.status().is_success(), "GET {url}: {response:?}");
        Metrics::parse(&response.text().await.unwrap())
    }

    /// Polls `/health`; a vmalert that exits first (a flag or rule it rejects) fails at once,
    /// with its log.
    fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while http_status(self.addr, "/health") != Some(200) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("vmalert exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "vmalert on {} not healthy after {timeout:?}: {}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Vmalert {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sample of a metrics page.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A metrics page in the Prometheus text format (comments skipped).
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub samples: Vec<Sample>,
}

impl Metrics {
    /// Parses `name{label="value", ...} value [timestamp]` lines; panics on one it cannot read.
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| parse_line(line).unwrap_or_else(|| panic!("metrics line {line:?}")))
            .collect();
        Self { samples }
    }

    /// The samples of metric `name` (exactly: `x_sum` is not `x`).
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The sum of metric `name` over its label sets; panics when the page has none, so that a
    /// metric renamed in another vmalert version fails the test instead of reading as 0.
    pub fn sum(&self, name: &str) -> f64 {
        self.values(name, &[]).iter().sum()
    }

    /// The largest value of `name` among its samples carrying every label of `labels`; panics
    /// when there is none.
    pub fn max(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.values(name, labels)
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        let values: Vec<f64> = self
            .named(name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .collect();
        assert!(
            !values.is_empty(),
            "no metric {name} with {labels:?} on the page"
        );
        values
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inside) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inside)?;
        labels = parsed;
        rest = after;
    }
    let value = match rest.split_whitespace().next()? {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `label="value", ...}` (after the opening brace): the labels and what follows the brace.
fn parse_labels(mut text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(after) = text.strip_prefix('}') {
            return Some((labels, after));
        }
        let (name, after) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.trim().to_string(), value);
        text = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vmalert_metric_lines() {
        let page = Metrics::parse(
            "# HELP x\nvmalert_iteration_total{group=\"g\", file=\"a,b.yml\"} 7\n\
             vmalert_iteration_duration_seconds{group=\"g\",quantile=\"1\"} 0.25\n\
             vmalert_iteration_duration_seconds{group=\"h\",quantile=\"1\"} 1.5\n\
             vmalert_iteration_duration_seconds_count{group=\"g\"} 3\n\
             up{path=\"a\\\"b\"} 1 1700000000000\nplain 2\n",
        );
        assert_eq!(page.sum("vmalert_iteration_total"), 7.0);
        assert_eq!(page.samples[0].labels["file"], "a,b.yml");
        assert_eq!(
            page.max("vmalert_iteration_duration_seconds", &[("quantile", "1")]),
            1.5
        );
        assert_eq!(page.sum("vmalert_iteration_duration_seconds_count"), 3.0);
        assert_eq!(page.samples[4].labels["path"], "a\"b");
        assert_eq!(page.sum("plain"), 2.0);
    }

    #[test]
    #[should_panic(expected = "no metric missing")]
    fn a_missing_metric_is_no_zero() {
        Metrics::parse("plain 2\n").sum("missing");
    }
}
