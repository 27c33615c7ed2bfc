//! Engine errors, worded as Prometheus words them (users and tests grep for these).

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The query does not parse; the message carries the position.
    #[error("{0}")]
    Parse(String),
    /// The query parses but cannot be evaluated as asked (type errors, bad arguments).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (e.g. "vector cannot contain metrics with the same labelset").
    #[error("{0}")]
    Execution(String),
    #[error("query timed out in {0}")]
    Timeout(String),
    #[error("query was canceled in {0}")]
    Canceled(String),
    /// A limit was hit; the message is Prometheus' own, e.g.
    /// "query processing would load too many samples into memory in query execution".
    #[error("{0}")]
    Limit(String),
    /// The storage failed; its kind (a bad request, a limit, an outage) is the store's.
    #[error("{}", .0.message())]
    Storage(store_api::StoreError),
}
