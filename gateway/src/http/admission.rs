//! Admission control: at most `--query.max-concurrent` requests that read the fan-out run at
//! once (queries, label and series calls); up to `--query.max-queued` more wait, each no
//! longer than its own timeout, which the wait counts against, as Prometheus' query queue
//! does. A request beyond the queue is refused at once. Both refusals are 503s in the
//! envelope, so an overloaded gateway answers quickly instead of slowing every query down.

use super::envelope::{ApiError, ErrorType};
use crate::telemetry::metrics::{
    IntCounterVec, IntGaugeVec, Registry, counter_vec, gauge_vec, register,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub struct Admission {
    running: Arc<Semaphore>,
    max_concurrent: usize,
    max_queued: usize,
    queued: Arc<AtomicUsize>,
    /// `running` and `queued`, by `state`.
    requests: IntGaugeVec,
    refused: IntCounterVec,
}

/// A running request's place; freed when dropped.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    _running: GaugeGuard,
    /// How long it waited in the queue.
    pub waited: Duration,
}

impl Admission {
    pub fn new(max_concurrent: usize, max_queued: usize, registry: &Registry) -> Self {
        let admission = Self {
            running: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_concurrent: max_concurrent.max(1),
            max_queued,
            queued: Arc::new(AtomicUsize::new(0)),
            requests: gauge_vec(
                "panoptes_query_admission_requests",
                "Requests that read the fan-out, by state: running or queued.",
                &["state"],
            ),
            refused: counter_vec(
                "panoptes_query_admission_refused_total",
                "Requests refused by admission control, by reason: queue_full or queue_timeout.",
                &["reason"],
            ),
        };
        register(registry, admission.requests.clone());
        register(registry, admission.refused.clone());
        admission
    }

    /// Waits for a place, at most `timeout`.
    pub async fn admit(&self, timeout: Duration) -> Result<Admitted, ApiError> {
        let started = Instant::now();
        let permit = match self.running.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait(timeout).await?,
        };
        Ok(Admitted {
            _permit: permit,
            _running: GaugeGuard::enter(&self.requests, "running"),
            waited: started.elapsed(),
        })
    }

    async fn wait(&self, timeout: Duration) -> Result<OwnedSemaphorePermit, ApiError> {
        let queued = self.queued.fetch_add(1, Ordering::AcqRel);
        let _queued = QueueGuard(self.queued.clone());
        if queued >= self.max_queued {
            self.refused.with_label_values(&["queue_full"]).inc();
            return Err(ApiError::new(
                ErrorType::Unavailable,
                format!(
                    "too many concurrent queries: {} running and {} waiting, the most allowed \
                     (--query.max-concurrent, --query.max-queued)",
                    self.max_concurrent, self.max_queued
                ),
            ));
        }
        let _gauge = GaugeGuard::enter(&self.requests, "queued");
        match tokio::time::timeout(timeout, self.running.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(ApiError::new(
                ErrorType::Internal,
                "the query queue is closed",
            )),
            Err(_) => {
                self.refused.with_label_values(&["queue_timeout"]).inc();
                Err(ApiError::new(
                    ErrorType::Timeout,
                    "query timed out in query queue",
                ))
            }
        }
    }
}

/// Leaves the queue when dropped, however the wait ends (the client may leave).
struct QueueGuard(Arc<AtomicUsize>);

impl Drop for QueueGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One request counted in a state of the gauge while it lives.
struct GaugeGuard(prometheus::IntGauge);

impl GaugeGuard {
    fn enter(gauge: &IntGaugeVec, state: &str) -> Self {
        let gauge = gauge.with_label_values(&[state]);
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn beyond_the_running_and_the_queued_requests_are_refused() {
        let admission = Arc::new(Admission::new(2, 1, &Registry::new()));
        let timeout = Duration::from_secs(10);
        let first = admission.admit(timeout).await.unwrap();
        let _second = admission.admit(timeout).await.unwrap();
        // The third waits in the queue; the fourth finds the queue full.
        let waiting = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit(timeout).await.map(|a| a.waited) })
        };
        tokio::task::yield_now().await;
        let full = admission.admit(timeout).await.err().unwrap();
        assert_eq!(full.kind, ErrorType::Unavailable);
        assert!(
            full.message.contains("too many concurrent queries"),
            "{}",
            full.message
        );
        // A place frees after 3 s: the waiting one runs, having waited 3 s.
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(first);
        assert_eq!(waiting.await.unwrap().unwrap(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_request_gives_up_at_its_timeout() {
        let admission = Admission::new(1, 10, &Registry::new());
        let _running = admission.admit(Duration::from_secs(1)).await.unwrap();
        let started = tokio::time::Instant::now();
        let late = admission.admit(Duration::from_secs(5)).await.err().unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(
            (late.kind, late.message.as_str()),
            (ErrorType::Timeout, "query timed out in query queue")
        );
        // It left the queue: the next one may queue again.
        assert_eq!(admission.queued.load(Ordering::Acquire), 0);
    }
}
