//! The measurement protocol.
//!
//! 1. Cold: before each request, every process of every system is restarted (tier by tier)
//!    and the request is sent once to each system: the first answer of a fresh process (the
//!    OS page cache stays warm). These answers are the ones compared with Prometheus'.
//! 2. One warm-up round, not measured: every request once to every system.
//! 3. `rounds` measured warm rounds; a request's warm latency is the median of its rounds.
//!
//! Within a round the systems take turns request by request, the order rotating so that no
//! system is always first after another's heavy answer: noise is shared. Latency is measured
//! end to end over HTTP (request sent to the last byte of the uncompressed JSON body).

use super::answers::{Normalized, Verdict, compare};
use super::dataset::Dataset;
use super::fleet::Fleet;
use super::http::{Http, truncate};
use super::import::SERIES;
use super::queries::Request;
use super::systems::{System, Target};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a restarted system may take to answer again.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// What one system did with one request.
#[derive(Debug, Default)]
pub struct Cell {
    /// The cold run's latency, or its error.
    pub cold: Option<Result<Duration, String>>,
    pub warm: Vec<Duration>,
    /// Warm runs that failed (not HTTP 200), with the last error.
    pub warm_failures: usize,
    pub last_warm_error: Option<String>,
    /// The cold answer compared with the reference system's (`None` for the reference).
    pub verdict: Option<Verdict>,
}

impl Cell {
    /// The median warm latency.
    pub fn warm_median(&self) -> Option<Duration> {
        median(&self.warm)
    }
}

/// Everything measured.
pub struct Results {
    pub requests: Vec<Request>,
    pub systems: Vec<System>,
    /// The size of the reference answer to each request.
    pub sizes: Vec<String>,
    pub rounds: usize,
    cells: HashMap<(usize, System), Cell>,
}

impl Results {
    pub fn cell(&self, request: usize, system: System) -> Option<&Cell> {
        self.cells.get(&(request, system))
    }

    /// The system every other one is compared with.
    pub fn reference(&self) -> System {
        self.systems[0]
    }
}

/// The systems under test and what runs them.
pub struct Bench<'a> {
    pub fleet: &'a mut Fleet,
    pub http: &'a mut Http,
    /// The reference system first.
    pub targets: &'a [Target],
    pub dataset: &'a Dataset,
}

impl Bench<'_> {
    pub fn run(&mut self, requests: Vec<Request>, rounds: usize) -> Results {
        let mut results = Results {
            systems: self.targets.iter().map(|t| t.system).collect(),
            sizes: vec![String::new(); requests.len()],
            requests,
            rounds,
            cells: HashMap::new(),
        };
        for index in 0..results.requests.len() {
            self.cold(&mut results, index);
        }
        for round in 0..=rounds {
            let started = Instant::now();
            for index in 0..results.requests.len() {
                self.warm(&mut results, index, round);
            }
            let what = match round {
                0 => "warm-up round".to_string(),
                r => format!("warm round {r}/{rounds}"),
            };
            eprintln!("{what}: {:.0?}", started.elapsed());
        }
        results
    }

    /// Panics unless every system counts every series of the data set at its end.
    pub fn check_data(&self) {
        let want = self.dataset.series_count() as f64;
        for target in self.targets {
            self.http.wait_ready(target, READY_TIMEOUT);
            let count = self
                .http
                .query_number(&target.url, SERIES, self.dataset.end_ms);
            assert_eq!(
                count,
                Ok(want),
                "{}: series at the end of the data",
                target.system
            );
        }
    }

    /// Restarts everything, then sends request `index` once to each system and compares
    /// the answers with the reference's.
    fn cold(&mut self, results: &mut Results, index: usize) {
        self.restart_everything();
        let request = results.requests[index].clone();
        let (path, params) = request.http(self.dataset);
        let mut answers: HashMap<System, Result<Normalized, String>> = HashMap::new();
        let total = results.requests.len();
        let mut line = format!(
            "cold {}/{total}: {} {}:",
            index + 1,
            request.name,
            request.shape
        );
        for target in rotated(self.targets, index) {
            let reply = self.http.get(&target.url, &path, &params);
            let cell = results.cells.entry((index, target.system)).or_default();
            let answer = reply.and_then(|reply| {
                cell.cold = Some(Ok(reply.elapsed));
                line.push_str(&format!(" {} {:.0?}", target.system, reply.elapsed));
                let data = reply.data()?;
                Normalized::parse(&request.kind, &data, target.system.layout_labels())
            });
            if let Err(e) = &answer {
                cell.cold = Some(Err(truncate(e, 300)));
                line.push_str(&format!(" {} failed", target.system));
            }
            answers.insert(target.system, answer);
        }
        eprintln!("{line}");
        let reference = results.reference();
        let Some(Ok(want)) = answers.remove(&reference) else {
            results.sizes[index] = format!("{reference} failed");
            return;
        };
        results.sizes[index] = want.size();
        for (system, answer) in answers {
            if let (Ok(got), Some(cell)) = (answer, results.cells.get_mut(&(index, system))) {
                cell.verdict = Some(compare(&got, &want));
            }
        }
    }

    /// Sends request `index` once to each system; round 0 is not recorded.
    fn warm(&mut self, results: &mut Results, index: usize, round: usize) {
        let (path, params) = results.requests[index].http(self.dataset);
        for target in rotated(self.targets, index + round) {
            let reply = self.http.get(&target.url, &path, &params);
            if round == 0 {
                continue;
            }
            let cell = results.cells.entry((index, target.system)).or_default();
            match reply.and_then(|reply| reply.data().map(|_| reply.elapsed)) {
                Ok(elapsed) => cell.warm.push(elapsed),
                Err(e) => {
                    cell.warm_failures += 1;
                    cell.last_warm_error = Some(truncate(&e, 300));
                }
            }
        }
    }

    fn restart_everything(&mut self) {
        self.fleet.restart_all();
        self.http.reconnect();
        for target in self.targets {
            self.http.wait_ready(target, READY_TIMEOUT);
        }
    }
}

/// The targets starting at `offset` (modulo their number).
fn rotated(targets: &[Target], offset: usize) -> impl Iterator<Item = &Target> {
    let n = targets.len();
    (0..n).map(move |i| &targets[(i + offset) % n])
}

pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[ms(5), ms(1), ms(3)]), Some(ms(3)));
        assert_eq!(
            median(&[ms(4), ms(1), ms(3), ms(2)]),
            Some(Duration::from_micros(2500))
        );
    }
}
