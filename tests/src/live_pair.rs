//! A live HA pair on loopback: an exporter whose metrics move with wall time, two Prometheus
//! 3.5 replicas scraping it every second, a `panoptes sidecar` in front of each, and the checks
//! of the gateway's merged answers against each replica's own (`Checks`).

use crate::prometheus::{Answer, PrometheusServer, Version, api_time};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use store_api::Labels;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

// ---------------------------------------------------------------------------------------------
// The exporter
// ---------------------------------------------------------------------------------------------

/// A `/metrics` endpoint whose values are functions of the time since it started: counters
/// that grow steadily, one that resets to 0 every [`RESET_PERIOD_S`] seconds, and gauges.
pub struct Exporter {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

/// The period of `live_batches_total`'s resets, seconds.
pub const RESET_PERIOD_S: f64 = 25.0;

/// Every metric the exporter serves, and whether it is a counter.
pub const METRICS: [(&str, bool); 4] = [
    ("live_requests_total", true),
    ("live_batches_total", true),
    ("live_temperature_celsius", false),
    ("live_queue_depth", false),
];

impl Exporter {
    pub async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the exporter");
        let addr = listener.local_addr().expect("exporter address");
        let started = Instant::now();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, started));
            }
        });
        Self { addr, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How fast the exporter's counter `labels` (without `__name__`) grows, per second: resets
/// aside, what a `rate()` over it can be at most.
pub fn true_rate(labels: &Labels) -> f64 {
    match labels.get("path") {
        Some("/health") => 5.0,
        _ => 10.0,
    }
}

/// The exposition at `s` seconds after the exporter started.
pub fn exposition(s: f64) -> String {
    let batches = 10.0 * (s % RESET_PERIOD_S);
    let temperature = 20.0 + 5.0 * (s * std::f64::consts::TAU / 30.0).sin();
    let queue = (s % 7.0).floor();
    format!(
        "# TYPE live_requests_total counter\n\
         live_requests_total{{path=\"/api\"}} {api}\n\
         live_requests_total{{path=\"/health\"}} {health}\n\
         # TYPE live_batches_total counter\n\
         live_batches_total {batches}\n\
         # TYPE live_temperature_celsius gauge\n\
         live_temperature_celsius {temperature}\n\
         # TYPE live_queue_depth gauge\n\
         live_queue_depth {queue}\n",
        api = 10.0 * s,
        // Whole requests, 5 a second: a counter that steps between scrapes.
        health = (5.0 * s).floor(),
    )
}

/// Answers one HTTP request (whatever its path) with the exposition, then closes.
async fn serve(mut socket: TcpStream, started: Instant) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let body = exposition(started.elapsed().as_secs_f64());
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Replicas and sidecars
// ---------------------------------------------------------------------------------------------

/// The external label every replica of the pair carries.
pub const CLUSTER: (&str, &str) = ("cluster", "live");

/// A Prometheus 3.5 replica (`replica="<name>"`) scraping `target` every second into an empty
/// data directory under `work_dir`.
pub fn start_replica(name: &'static str, target: SocketAddr, work_dir: &Path) -> PrometheusServer {
    let config = format!(
        "scrape_configs:\n  \
           - job_name: live\n    \
             scrape_interval: 1s\n    \
             scrape_timeout: 900ms\n    \
             static_configs:\n      \
               - targets: [\"{target}\"]\n"
    );
    PrometheusServer::launch(
        Version::V3_5,
        None,
        &work_dir.join(format!("prometheus-{name}")),
        &[CLUSTER, ("replica", name)],
        &config,
        &[],
    )
}

// ---------------------------------------------------------------------------------------------
// Process signals
// ---------------------------------------------------------------------------------------------

/// Sends `signal` (e.g. "STOP", "CONT") to process `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// `answer` with the external label `cluster` removed (a gateway's answer, to compare with a
/// replica's own, which never shows external labels); panics where it is not [`CLUSTER`] or a
/// replica label shows.
pub fn without_cluster(answer: Answer) -> Answer {
    answer
        .into_iter()
        .map(|(mut labels, samples)| {
            assert_eq!(
                labels.get(CLUSTER.0),
                Some(CLUSTER.1),
                "gateway series {labels} lacks {CLUSTER:?}"
            );
            assert!(
                labels.get("replica").is_none(),
                "gateway series {labels} shows the replica label"
            );
            labels.retain(|l| l.name != CLUSTER.0);
            (labels, samples)
        })
        .collect()
}

/// Timestamps of one series' samples.
pub fn timestamps(samples: &[(i64, f64)]) -> Vec<i64> {
    samples.iter().map(|(t, _)| *t).collect()
}

/// Series `labels` as `{a="b", ...}` without `job` and `instance`, which are the same for
/// every series of the exporter.
pub fn short_name(labels: &Labels) -> String {
    let mut short = labels.clone();
    short.retain(|l| l.name != "job" && l.name != "instance");
    short.to_string()
}

// ---------------------------------------------------------------------------------------------
// Answers of the gateway and both replicas
// ---------------------------------------------------------------------------------------------

/// The scrape interval of both replicas.
pub const INTERVAL_MS: i64 = 1000;
// Spacing bounds of merged samples, from the dedup rules (`gateway/src/fanout/dedup/
// counter.rs`) with a tenth of an interval for scrape jitter on a loaded machine: a switch
// takes no sample closer than I/2 to the last one (closer would double the sample rate), and a
// step of the followed replica over 1.5 I is a gap, filled from the other replica.

/// No two merged samples are closer than this.
pub const MIN_SPACING_MS: i64 = INTERVAL_MS / 2 - INTERVAL_MS / 10;
/// No two consecutive merged samples are further apart than this.
pub const MAX_SPACING_MS: i64 = INTERVAL_MS * 3 / 2 + INTERVAL_MS / 10;
/// `rate()` of the merged series against the closer replica's.
pub const RATE_TOLERANCE: f64 = 0.01;

/// The gateway's and each replica's answer to one query.
pub struct Trio {
    pub merged: Answer,
    pub a: Answer,
    pub b: Answer,
}

impl Trio {
    /// Every series any of the three answers.
    pub fn series(&self) -> BTreeSet<Labels> {
        self.merged
            .keys()
            .chain(self.a.keys())
            .chain(self.b.keys())
            .cloned()
            .collect()
    }
}

/// `count_over_time` answers computed from raw windows (one value per series, without
/// `__name__`).
pub fn raw_counts(raw: &Trio) -> Trio {
    let count = |answer: &Answer| -> Answer {
        answer
            .iter()
            .map(|(labels, samples)| {
                let mut labels = labels.clone();
                labels.remove("__name__");
                (labels, vec![(0, samples.len() as f64)])
            })
            .collect()
    };
    Trio {
        merged: count(&raw.merged),
        a: count(&raw.a),
        b: count(&raw.b),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// What the checks of one phase found: failures, and the figures printed for the record.
pub struct Checks {
    what: String,
    pub failures: Vec<String>,
    lines: Vec<String>,
    windows: usize,
    /// Windows whose merged samples all came from replica a, from b, or from both.
    followed: [usize; 3],
    /// The largest relative deviation of a merged rate from the closer replica's.
    worst_rate: f64,
    range_steps: usize,
    /// The largest gap seen in each replica's raw samples (a, b), milliseconds.
    replica_gaps: [i64; 2],
}

impl Checks {
    pub fn new(what: &str) -> Self {
        Self {
            what: what.to_string(),
            failures: Vec::new(),
            lines: Vec::new(),
            windows: 0,
            followed: [0; 3],
            worst_rate: 0.0,
            range_steps: 0,
            replica_gaps: [0; 2],
        }
    }

    fn fail(&mut self, message: String) {
        self.failures.push(format!("{}: {message}", self.what));
    }

    pub fn expect(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.fail(message());
        }
    }

    /// One window `(t - 1m, t]`: raw samples and `count_over_time` of every series.
    ///
    /// The precise requirement is `min(a, b) <= merged <= max(a, b)`. The dedup follows one
    /// replica and switches only at a gap of it, so the merged series is a run of one replica's
    /// scrapes, maybe followed by a run of the other's; and it never holds more samples in a
    /// window than the replica it follows. A window within one run holds exactly that
    /// replica's samples (checked as such); a window across a switch holds the first replica's
    /// samples up to its gap and the other's after it, which cannot be more than the fuller
    /// replica holds (no sample doubled at the switch) nor fewer than the gapped one (the
    /// switch fills its gap). Both replicas scrape every second, so neither bound is slack by
    /// more than a sample or two.
    pub fn window(&mut self, t: i64, raw: &Trio, counts: &Trio) {
        for labels in raw.series() {
            self.windows += 1;
            let name = format!("{} @{}", short_name(&labels), api_time(t));
            let samples = |answer: &Answer| timestamps(answer.get(&labels).map_or(&[], |s| s));
            let (merged, a, b) = (samples(&raw.merged), samples(&raw.a), samples(&raw.b));
            self.replica_gaps[0] = self.replica_gaps[0].max(largest_gap(&a));
            self.replica_gaps[1] = self.replica_gaps[1].max(largest_gap(&b));
            self.count_bounds(&name, "raw samples", merged.len(), a.len(), b.len());
            self.sources(&name, &merged, &a, &b);
            self.spacing(&name, &merged);
            let mut counted = labels.clone();
            counted.remove("__name__");
            let count = |answer: &Answer| answer.get(&counted).map_or(0, |s| s[0].1 as usize);
            let (cm, ca, cb) = (count(&counts.merged), count(&counts.a), count(&counts.b));
            self.count_bounds(&name, "count_over_time", cm, ca, cb);
            if cm != merged.len() {
                self.fail(format!(
                    "{name}: count_over_time {cm} but {} raw samples",
                    merged.len()
                ));
            }
        }
    }

    fn count_bounds(&mut self, name: &str, what: &str, merged: usize, a: usize, b: usize) {
        if merged < a.min(b) || merged > a.max(b) {
            self.fail(format!(
                "{name}: {what}: merged {merged}, replicas a {a} and b {b}"
            ));
        }
    }

    /// Every merged sample is a scrape of one replica; a window merged from one replica only
    /// holds all of that replica's samples. Records which replicas it followed.
    fn sources(&mut self, name: &str, merged: &[i64], a: &[i64], b: &[i64]) {
        let runs = match runs(merged, a, b) {
            Ok(runs) => runs,
            Err(t) => {
                self.fail(format!(
                    "{name}: merged sample at {t} is no replica's scrape"
                ));
                return;
            }
        };
        let runs_text: Vec<String> = runs.iter().map(|(s, n)| format!("{s}x{n}")).collect();
        self.lines.push(format!(
            "{name}: merged {} = {} (a {}, b {})",
            merged.len(),
            runs_text.join(" then "),
            a.len(),
            b.len()
        ));
        match runs.as_slice() {
            [('a', _)] => self.followed[0] += 1,
            [('b', _)] => self.followed[1] += 1,
            _ => self.followed[2] += 1,
        }
        if let [(only, _)] = runs.as_slice() {
            let replica = if *only == 'a' { a } else { b };
            if merged != replica {
                self.fail(format!(
                    "{name}: merged from replica {only} alone, but {} of its {} samples",
                    merged.len(),
                    replica.len()
                ));
            }
        }
    }

    /// No two merged samples closer than half an interval (doubled), none further apart than
    /// one and a half (a gap), jitter allowed for.
    fn spacing(&mut self, name: &str, merged: &[i64]) {
        for pair in merged.windows(2) {
            let step = pair[1] - pair[0];
            if !(MIN_SPACING_MS..=MAX_SPACING_MS).contains(&step) {
                self.fail(format!(
                    "{name}: merged samples at {} and {}: {step} ms apart, want \
                     {MIN_SPACING_MS}..={MAX_SPACING_MS}",
                    pair[0], pair[1]
                ));
            }
        }
    }

    /// The merged `rate()` against the replicas' (`raw`: the same window's samples, to see
    /// which replicas the merged series took them from).
    ///
    /// A window merged from one replica holds exactly its samples: its rate is that replica's,
    /// within [`RATE_TOLERANCE`]. A window across a switch holds one replica's scrapes, then
    /// the other's, and its rate need not be within 1% of either. At a reset a replica loses
    /// the increase from its last scrape before the reset to the reset, which depends on its
    /// phase, and the replica with the gap also loses the increase before any reset in its gap;
    /// the merged series loses, at each reset, what the replica it follows there loses. So it
    /// can lose less than either (measured: 9.83/s where the replicas had 9.68 and 9.65), and
    /// a counter that steps between scrapes (`path="/health"`, whole requests) read on two
    /// phase grids is off by up to one step over the window (1.0% at 1 request/s, hence 5/s).
    /// What holds: no less than the replica losing the most (the exporter's resets are
    /// periodic, so each replica loses the same at every reset), and no more than the
    /// exporter's own rate (the merged series gains no increase that was not there), both
    /// within [`RATE_TOLERANCE`].
    pub fn rate(&mut self, t: i64, rates: &Trio, raw: &Trio) {
        for labels in rates.series() {
            let name = format!("rate {} @{}", short_name(&labels), api_time(t));
            let value = |answer: &Answer| answer.get(&labels).map(|s| s[0].1);
            let (Some(merged), Some(a), Some(b)) =
                (value(&rates.merged), value(&rates.a), value(&rates.b))
            else {
                self.fail(format!(
                    "{name}: missing somewhere: {:?}",
                    (value(&rates.merged), value(&rates.a), value(&rates.b))
                ));
                continue;
            };
            let deviation = |r: f64| (merged - r).abs() / r.abs().max(f64::MIN_POSITIVE);
            let closer = deviation(a).min(deviation(b));
            self.worst_rate = self.worst_rate.max(closer);
            let followed = single_source(raw, &labels);
            self.lines.push(format!(
                "{name}: merged {merged:.4}, a {a:.4}, b {b:.4} ({:.3}% off the closer; \
                 merged from {})",
                closer * 100.0,
                followed.map_or("both".to_string(), |r| format!("{r} alone"))
            ));
            let ok = match followed {
                Some('a') => deviation(a) <= RATE_TOLERANCE,
                Some(_) => deviation(b) <= RATE_TOLERANCE,
                None => {
                    let most = true_rate(&labels);
                    a.min(b) * (1.0 - RATE_TOLERANCE) <= merged
                        && merged <= most * (1.0 + RATE_TOLERANCE)
                }
            };
            if !ok {
                self.fail(format!(
                    "{name}: merged {merged}, replicas a {a} and b {b} (merged from {followed:?})"
                ));
            }
        }
    }

    /// A range query's `count_over_time`, step by step, within the replicas' counts.
    pub fn range_counts(&mut self, counts: &Trio) {
        for labels in counts.series() {
            let steps = |answer: &Answer| answer.get(&labels).cloned().unwrap_or_default();
            let (merged, a, b) = (steps(&counts.merged), steps(&counts.a), steps(&counts.b));
            let at = |series: &[(i64, f64)], t: i64| {
                series
                    .iter()
                    .find(|(s, _)| *s == t)
                    .map_or(0, |(_, v)| *v as usize)
            };
            let times: BTreeSet<i64> = merged.iter().chain(&a).chain(&b).map(|(t, _)| *t).collect();
            for t in times {
                self.range_steps += 1;
                let name = format!("range {} @{}", short_name(&labels), api_time(t));
                self.count_bounds(
                    &name,
                    "count_over_time",
                    at(&merged, t),
                    at(&a, t),
                    at(&b, t),
                );
            }
        }
    }

    pub fn print(&self) {
        println!("--- {}: {} windows", self.what, self.windows);
        for line in &self.lines {
            println!("  {line}");
        }
        println!(
            "--- {}: merged from a alone {}, b alone {}, both {}; {} range steps; worst rate \
             deviation {:.3}%; largest replica gaps a {} ms, b {} ms; {} failures",
            self.what,
            self.followed[0],
            self.followed[1],
            self.followed[2],
            self.range_steps,
            self.worst_rate * 100.0,
            self.replica_gaps[0],
            self.replica_gaps[1],
            self.failures.len()
        );
    }

    /// `replica` has no gap in the windows checked: the count bounds hold where at most one
    /// replica has a gap (where both have, the merged series fills each from the other).
    pub fn expect_no_gap(&mut self, replica: char) {
        let gap = self.replica_gaps[usize::from(replica == 'b')];
        self.expect(gap <= MAX_SPACING_MS, || {
            format!("replica {replica} has a gap of {gap} ms in the windows checked")
        });
    }

    /// The fault left a gap in `replica`'s samples at least most of the time it lasted (it
    /// scrapes again within an interval or two of coming back), or nothing was tested.
    pub fn expect_gap(&mut self, replica: char, from: i64, to: i64) {
        let gap = self.replica_gaps[usize::from(replica == 'b')];
        let down = to - from;
        self.expect(gap >= down - 2 * INTERVAL_MS, || {
            format!("replica {replica} was down {down} ms but its largest gap is {gap} ms")
        });
    }
}

/// The replicas the merged samples come from, run by run (`'a'` or `'b'` and how many), or the
/// first merged timestamp that is no replica's.
fn runs(merged: &[i64], a: &[i64], b: &[i64]) -> Result<Vec<(char, usize)>, i64> {
    let (in_a, in_b): (BTreeSet<i64>, BTreeSet<i64>) =
        (a.iter().copied().collect(), b.iter().copied().collect());
    let mut runs: Vec<(char, usize)> = Vec::new();
    for &t in merged {
        let source = match (in_a.contains(&t), in_b.contains(&t)) {
            (true, _) => 'a',
            (false, true) => 'b',
            (false, false) => return Err(t),
        };
        match runs.last_mut() {
            Some((s, n)) if *s == source => *n += 1,
            _ => runs.push((source, 1)),
        }
    }
    Ok(runs)
}

/// The one replica every merged raw sample of the series `labels` (without `__name__`) came
/// from, if there is one.
fn single_source(raw: &Trio, labels: &Labels) -> Option<char> {
    let named = |answer: &Answer| -> Vec<i64> {
        answer
            .iter()
            .find(|(l, _)| {
                let mut l = (*l).clone();
                l.remove("__name__");
                l == *labels
            })
            .map_or(Vec::new(), |(_, s)| timestamps(s))
    };
    match runs(&named(&raw.merged), &named(&raw.a), &named(&raw.b))
        .ok()?
        .as_slice()
    {
        [(only, _)] => Some(*only),
        _ => None,
    }
}

fn largest_gap(timestamps: &[i64]) -> i64 {
    timestamps
        .windows(2)
        .map(|p| p[1] - p[0])
        .max()
        .unwrap_or(0)
}
