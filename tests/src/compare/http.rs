//! A blocking HTTP client for the harness: one request at a time, timed end to end (request
//! sent, whole body received), on a current-thread runtime of its own.

use super::systems::{Readiness, Target};
use crate::faults::store_statuses;
use crate::prometheus::api_time;
use std::time::{Duration, Instant};

/// No request may take longer than this (queries time out after 2 minutes everywhere).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// One answer: status, body, and the time from sending the request to the body's last byte.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let text = String::from_utf8_lossy(&self.body);
            format!("not JSON ({e}): {}", truncate(&text, 300))
        })
    }

    /// The `data` of a successful Prometheus API answer, or what went wrong.
    pub fn data(&self) -> Result<serde_json::Value, String> {
        let mut body = self.json()?;
        if self.status != 200 || body["status"] != "success" {
            let error = body["error"].as_str().unwrap_or_default();
            return Err(format!("HTTP {}: {}", self.status, truncate(error, 300)));
        }
        Ok(body["data"].take())
    }
}

pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

impl Http {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Self {
            runtime,
            client: new_client(),
        }
    }

    /// Drops pooled connections (to processes that were restarted).
    pub fn reconnect(&mut self) {
        self.client = new_client();
    }

    /// `GET {base}{path}?{params}`.
    pub fn get(
        &self,
        base: &str,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Reply, String> {
        let request = self.client.get(format!("{base}{path}")).query(params);
        self.send(request)
    }

    /// `POST {base}{path}` with `body`.
    pub fn post(&self, base: &str, path: &str, body: String) -> Result<Reply, String> {
        let request = self.client.post(format!("{base}{path}")).body(body);
        self.send(request)
    }

    fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, String> {
        self.runtime.block_on(async {
            let started = Instant::now();
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.bytes().await.map_err(|e| e.to_string())?;
            let elapsed = started.elapsed();
            Ok(Reply {
                status,
                body: body.to_vec(),
                elapsed,
            })
        })
    }

    /// The value of an instant `query` at `time_ms` whose answer is one number.
    pub fn query_number(&self, base: &str, query: &str, time_ms: i64) -> Result<f64, String> {
        let params = [
            ("query".to_string(), query.to_string()),
            ("time".to_string(), api_time(time_ms)),
        ];
        let data = self.get(base, "/api/v1/query", &params)?.data()?;
        let value = data["result"][0]["value"][1]
            .as_str()
            .ok_or_else(|| format!("{query}: not one number: {data}"))?;
        value.parse().map_err(|e| format!("{query}: {value}: {e}"))
    }

    /// Waits until `target` answers queries; panics after `timeout`.
    pub fn wait_ready(&self, target: &Target, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let (ready, state) = self.is_ready(target);
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} at {} not ready after {timeout:?}: {state}",
                target.system,
                target.url
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the target is ready, and what it said.
    fn is_ready(&self, target: &Target) -> (bool, String) {
        let path = match target.readiness {
            Readiness::Listening => return (true, String::new()),
            Readiness::Health(path) => path,
            Readiness::Gateway { .. } => "/api/v1/stores",
        };
        let reply = match self.get(&target.url, path, &[]) {
            Ok(reply) => reply,
            Err(e) => return (false, e),
        };
        match target.readiness {
            Readiness::Gateway { endpoints } => {
                let Ok(body) = reply.json() else {
                    return (false, String::from_utf8_lossy(&reply.body).into_owned());
                };
                let statuses = store_statuses(&body);
                let healthy = statuses.iter().filter(|s| s.healthy).count();
                (healthy >= endpoints, format!("{statuses:?}"))
            }
            _ => (reply.status == 200, format!("HTTP {}", reply.status)),
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}
