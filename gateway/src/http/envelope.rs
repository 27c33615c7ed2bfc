//! The one place that writes Prometheus' response envelope
//! `{status, data, errorType, error, warnings, infos}` and maps errors to HTTP status codes.

use crate::promql::EngineError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use store_api::text::push_json_string;

/// Prometheus' error types, each with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Canceled,
    Internal,
    Unavailable,
    NotFound,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            // Prometheus' "client closed connection".
            ErrorType::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// An API error: its type and Prometheus-worded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorType::BadData, message)
    }

    /// `invalid parameter "name": reason`, as Prometheus words parameter errors.
    pub fn bad_param(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter {name:?}: {reason}"))
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        use EngineError as E;
        let kind = match &err {
            E::Parse(_) | E::BadData(_) => ErrorType::BadData,
            E::Execution(_) | E::Limit(_) => ErrorType::Execution,
            E::Timeout(_) => ErrorType::Timeout,
            E::Canceled(_) => ErrorType::Canceled,
            E::Storage(err) => return err.clone().into(),
        };
        Self::new(kind, err.to_string())
    }
}

/// Engine errors as the API words them: parse errors of instant queries name the parameter,
/// those of range queries do not (as Prometheus has it).
pub fn query_error(err: EngineError, name_param: bool) -> ApiError {
    match err {
        EngineError::Parse(message) if name_param => ApiError::bad_param("query", message),
        EngineError::Parse(message) => ApiError::bad_data(message),
        other => other.into(),
    }
}

/// The one mapping of a store's (or the fan-out's) error to Prometheus' error types: the
/// kind the store gave travels through every tier, so a request a store refuses is the
/// client's error (400), a limit a 422, and only an outage a 503. Data a store sent that
/// cannot be read, and a store's internal error, fail the query as execution errors (422):
/// Grafana reads the message of a 400, 422 or 503 and shows only the status of a 500.
impl From<store_api::StoreError> for ApiError {
    fn from(err: store_api::StoreError) -> Self {
        use store_api::StoreError as S;
        let kind = match &err {
            S::InvalidArgument(_) => ErrorType::BadData,
            S::Timeout(_) => ErrorType::Timeout,
            S::Canceled(_) => ErrorType::Canceled,
            S::Unavailable(_) => ErrorType::Unavailable,
            S::LimitExceeded(_) | S::BadData(_) | S::Internal(_) => ErrorType::Execution,
        };
        Self::new(kind, err.message())
    }
}

/// A successful answer's `data`, plus annotations.
pub struct ApiData {
    pub data: Data,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// `data`: small answers already encoded; a query's result encoded as it is sent.
pub enum Data {
    Json(String),
    Query(super::json::QueryBody),
}

impl ApiData {
    pub fn new(json: String) -> Self {
        Self {
            data: Data::Json(json),
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ApiData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiData")
            .field("warnings", &self.warnings)
            .field("infos", &self.infos)
            .finish_non_exhaustive()
    }
}

pub type ApiResult = Result<ApiData, ApiError>;

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn push_strings(out: &mut String, key: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, v);
    }
    out.push(']');
}

/// Wraps a handler's result in the envelope.
pub fn respond(result: ApiResult) -> Response {
    match result {
        Ok(ApiData {
            data,
            warnings,
            infos,
        }) => {
            const HEAD: &str = "{\"status\":\"success\",\"data\":";
            let mut tail = String::new();
            push_strings(&mut tail, "warnings", &warnings);
            push_strings(&mut tail, "infos", &infos);
            tail.push('}');
            match data {
                Data::Json(json) => json_response(StatusCode::OK, [HEAD, &json, &tail].concat()),
                Data::Query(body) => {
                    let chunks = std::iter::once(HEAD.to_string())
                        .chain(body)
                        .chain(std::iter::once(tail))
                        .map(Ok::<_, std::convert::Infallible>);
                    let mut response =
                        axum::body::Body::from_stream(futures_util::stream::iter(chunks))
                            .into_response();
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    response
                }
            }
        }
        Err(err) => {
            let mut body = String::from("{\"status\":\"error\",\"errorType\":\"");
            body.push_str(err.kind.as_str());
            body.push_str("\",\"error\":");
            push_json_string(&mut body, &err.message);
            body.push('}');
            json_response(err.kind.status(), body)
        }
    }
}
