//! The store-api error type and its one mapping to gRPC status codes.

use tonic::{Code, Status};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The request is malformed (bad matcher, bad time range, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The backing source (Prometheus, a bucket, a remote store) cannot be reached now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The backing source answered with something we cannot read.
    #[error("bad data from source: {0}")]
    BadData(String),
    /// The deadline passed.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The caller went away or the query was cancelled.
    #[error("canceled: {0}")]
    Canceled(String),
    /// A limit of this store was reached.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// The message without the kind's prefix (the gRPC code carries the kind).
    pub fn message(&self) -> &str {
        match self {
            StoreError::InvalidArgument(m)
            | StoreError::Unavailable(m)
            | StoreError::BadData(m)
            | StoreError::Timeout(m)
            | StoreError::Canceled(m)
            | StoreError::LimitExceeded(m)
            | StoreError::Internal(m) => m,
        }
    }
}

impl StoreError {
    /// The same kind of error with another message: context added on the way up keeps the
    /// kind the store gave, so a bad request stays a bad request through every tier.
    pub fn with_message(&self, message: String) -> Self {
        match self {
            StoreError::InvalidArgument(_) => StoreError::InvalidArgument(message),
            StoreError::Unavailable(_) => StoreError::Unavailable(message),
            StoreError::BadData(_) => StoreError::BadData(message),
            StoreError::Timeout(_) => StoreError::Timeout(message),
            StoreError::Canceled(_) => StoreError::Canceled(message),
            StoreError::LimitExceeded(_) => StoreError::LimitExceeded(message),
            StoreError::Internal(_) => StoreError::Internal(message),
        }
    }

    /// The gRPC code a client sees for this error.
    pub fn code(&self) -> Code {
        match self {
            StoreError::InvalidArgument(_) => Code::InvalidArgument,
            StoreError::Unavailable(_) => Code::Unavailable,
            StoreError::BadData(_) => Code::DataLoss,
            StoreError::Timeout(_) => Code::DeadlineExceeded,
            StoreError::Canceled(_) => Code::Cancelled,
            StoreError::LimitExceeded(_) => Code::ResourceExhausted,
            StoreError::Internal(_) => Code::Internal,
        }
    }
}

/// A gRPC code's name as Go's `codes.Code.String()` spells it (metrics label it so).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        Status::new(err.code(), err.message())
    }
}

impl From<Status> for StoreError {
    fn from(status: Status) -> Self {
        // A transport failure says only "transport error"; its causes say why (a refused
        // certificate, a refused connection).
        let mut message = status.message().to_string();
        let mut cause = std::error::Error::source(&status);
        while let Some(err) = cause {
            let text = err.to_string();
            if !message.contains(&text) {
                message = format!("{message}: {text}");
            }
            cause = err.source();
        }
        match status.code() {
            Code::InvalidArgument => StoreError::InvalidArgument(message),
            Code::Unavailable => StoreError::Unavailable(message),
            Code::DataLoss => StoreError::BadData(message),
            Code::DeadlineExceeded => StoreError::Timeout(message),
            Code::Cancelled => StoreError::Canceled(message),
            // gRPC says OutOfRange for a message over the size limit.
            Code::ResourceExhausted | Code::OutOfRange => StoreError::LimitExceeded(message),
            // Transport failures (a connection reset mid-stream) arrive as Unknown.
            Code::Unknown => StoreError::Unavailable(message),
            code => StoreError::Internal(format!("{code:?}: {message}")),
        }
    }
}
