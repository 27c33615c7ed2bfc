//! How operators read series. Planning builds the operator tree without I/O; an operator reads
//! its selector's series the first time it is pulled, on the evaluation thread, by asking the
//! query's async task ([`ReadServer`]), which reads them from storage and answers. Storage
//! stays async (it is gRPC fan-out), evaluation stays sync and off the async runtime.

use super::error::EngineError;
use super::storage::{SelectRequest, SeriesSamples, Storage};
use std::time::{Duration, Instant};
use store_api::Matcher;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// One selector's read: its matchers over `[min_time, max_time]` (ms, inclusive).
#[derive(Clone, Debug)]
pub struct Read {
    pub matchers: Vec<Matcher>,
    pub min_time: i64,
    pub max_time: i64,
}

type Answer = Result<Vec<SeriesSamples>, EngineError>;

/// The evaluation thread's end of a query's reads.
#[derive(Clone, Debug)]
pub struct SeriesReader {
    requests: mpsc::UnboundedSender<(SelectRequest, oneshot::Sender<Answer>)>,
}

/// The async end: serves the reads while the evaluation runs, collecting the storage's
/// warnings and the time spent reading.
pub struct ReadServer {
    requests: mpsc::UnboundedReceiver<(SelectRequest, oneshot::Sender<Answer>)>,
    pub warnings: Vec<String>,
    /// Time spent waiting on storage, the query's "fetch" phase.
    pub busy: Duration,
}

/// A query's reader and the server that answers it.
pub fn channel() -> (SeriesReader, ReadServer) {
    let (requests, incoming) = mpsc::unbounded_channel();
    (
        SeriesReader { requests },
        ReadServer {
            requests: incoming,
            warnings: Vec::new(),
            busy: Duration::ZERO,
        },
    )
}

impl SeriesReader {
    /// Blocks until the series are read; `samples_left` and `series_left` are the query's
    /// budgets, which the storage may fail early on. Fails as canceled once the query's async
    /// task is gone (the client left or the query timed out).
    pub fn read(&self, read: Read, samples_left: usize, series_left: usize) -> Answer {
        let request = SelectRequest {
            matchers: read.matchers,
            min_time: read.min_time,
            max_time: read.max_time,
            max_samples: samples_left,
            max_series: series_left,
        };
        let gone = || EngineError::Canceled("query preparation".into());
        let (reply, answer) = oneshot::channel();
        self.requests.send((request, reply)).map_err(|_| gone())?;
        answer.blocking_recv().map_err(|_| gone())?
    }
}

impl ReadServer {
    /// Answers reads from `storage`, one at a time as the evaluation asks, until `evaluation`
    /// completes; its output is returned.
    pub async fn serve_until<T>(
        &mut self,
        storage: &dyn Storage,
        evaluation: impl Future<Output = T>,
    ) -> T {
        let mut evaluation = std::pin::pin!(evaluation);
        loop {
            tokio::select! {
                biased;
                done = &mut evaluation => return done,
                Some((request, reply)) = self.requests.recv() => {
                    let started = Instant::now();
                    let answer = storage
                        .select(request)
                        .instrument(tracing::info_span!("fetch"))
                        .await;
                    self.busy += started.elapsed();
                    let answer = answer.map(|result| {
                        self.warnings.extend(result.warnings);
                        result.series
                    });
                    // The evaluation may have failed meanwhile: nobody waits for the answer.
                    let _ = reply.send(answer);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::storage::SelectResult;
    use futures_util::future::BoxFuture;

    /// A storage that answers with one empty series per read, with a warning.
    struct OneSeries;

    impl Storage for OneSeries {
        fn select(
            &self,
            request: SelectRequest,
        ) -> BoxFuture<'_, Result<SelectResult, EngineError>> {
            Box::pin(async move {
                Ok(SelectResult {
                    series: vec![SeriesSamples {
                        timestamps: vec![request.min_time, request.max_time],
                        values: vec![1.0, 2.0],
                        ..Default::default()
                    }],
                    warnings: vec!["partial".into()],
                })
            })
        }
    }

    fn read() -> Read {
        Read {
            matchers: Vec::new(),
            min_time: 10,
            max_time: 20,
        }
    }

    #[tokio::test]
    async fn reads_are_answered_while_the_evaluation_runs() {
        let (reader, mut server) = channel();
        let evaluation = tokio::task::spawn_blocking(move || {
            let first = reader.read(read(), usize::MAX, usize::MAX)?;
            let second = reader.read(read(), usize::MAX, usize::MAX)?;
            Ok::<_, EngineError>(first.len() + second.len())
        });
        let read = server.serve_until(&OneSeries, evaluation).await;
        assert_eq!(read.ok().and_then(Result::ok), Some(2));
        assert_eq!(server.warnings, ["partial", "partial"]);
    }

    #[tokio::test]
    async fn a_read_after_the_query_is_gone_is_canceled() {
        let (reader, server) = channel();
        drop(server);
        let answer = tokio::task::spawn_blocking(move || reader.read(read(), 1, 1)).await;
        assert_eq!(
            answer.ok().and_then(Result::err),
            Some(EngineError::Canceled("query preparation".into()))
        );
    }
}
