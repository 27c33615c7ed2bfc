//! Request parameters as Prometheus reads them: from the URL and, for POST, from a
//! form-encoded body; times as RFC 3339 or float seconds; durations as `5m` or `1.5`.

use super::envelope::ApiError;
use crate::promql::functions::calendar::days_from_civil;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header};

/// A handler's parameters, read from the URL and a form body of at most `MAX_BODY_BYTES`.
/// Bad parameters (a body too large, invalid UTF-8) are refused in Prometheus' error shape,
/// not axum's plain-text rejections.
pub struct ApiParams(pub Params);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiParams {
    type Rejection = axum::response::Response;

    async fn from_request(request: axum::extract::Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let reject = |e: ApiError| super::envelope::respond(Err(e));
        let body = axum::body::to_bytes(body, super::MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                let mut response = reject(ApiError::bad_data(format!(
                    "request body larger than {} bytes",
                    super::MAX_BODY_BYTES
                )));
                // The rest of the body is not read: the connection cannot be reused.
                response.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
                response
            })?;
        Ok(ApiParams(Params::from_request(
            &parts.method,
            &parts.headers,
            parts.uri.query(),
            &body,
        )))
    }
}

/// All `name=value` pairs of a request, URL first, then the form body.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn from_request(
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &Bytes,
    ) -> Self {
        let mut pairs = Vec::new();
        if let Some(query) = query {
            pairs.extend(decode(query.as_bytes()));
        }
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if *method == Method::POST && is_form {
            pairs.extend(decode(body));
        }
        Self { pairs }
    }

    /// Parameters of the URL only.
    pub fn from_query(query: Option<&str>) -> Self {
        Self {
            pairs: query.map(|q| decode(q.as_bytes())).unwrap_or_default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter, or `default` when absent or empty.
    pub fn time_or(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(text) => parse_time(text).map_err(|e| bad_time(name, e)),
        }
    }

    /// A required time parameter (query_range's start and end, worded without the "invalid
    /// time value" phrase, as Prometheus does there).
    pub fn time(&self, name: &str) -> Result<i64, ApiError> {
        let text = self.get(name).unwrap_or("");
        parse_time(text).map_err(|e| ApiError::bad_param(name, e))
    }

    /// An optional boolean like Thanos reads `dedup` and `partial_response`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_param(
                name,
                format!("cannot parse {other:?} to a boolean"),
            )),
        }
    }
}

/// Prometheus' wording: `invalid parameter "time": invalid time value for 'time': ...`.
fn bad_time(name: &str, reason: String) -> ApiError {
    ApiError::bad_param(name, format!("invalid time value for '{name}': {reason}"))
}

/// Like Go's form parser, invalid UTF-8 is not refused here: a parameter that is used fails
/// where it is read (a query does not parse), an unused one does not matter.
fn decode(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Prometheus' smallest and largest API times (milliseconds), for open ranges.
pub const MIN_TIME: i64 = -9_223_309_901_257_974;
pub const MAX_TIME: i64 = 9_223_309_901_257_974;

/// Float seconds (`1435781451.781`) or RFC 3339 (`2015-07-01T20:10:51.781Z`), to ms.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {text:?} to a valid timestamp");
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(bad());
        }
        let ms = (seconds * 1000.0).round();
        if ms < MIN_TIME as f64 || ms > MAX_TIME as f64 {
            return Err(bad());
        }
        return Ok(ms as i64);
    }
    parse_rfc3339(text).ok_or_else(bad)
}

/// A duration: float seconds (`1.5`) or Prometheus' notation (`5m`, `1h30m`), to ms.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {text:?} to a valid duration");
    if let Ok(seconds) = text.parse::<f64>() {
        let ms = (seconds * 1000.0).round();
        if !ms.is_finite() || ms.abs() >= i64::MAX as f64 {
            return Err(bad());
        }
        return Ok(ms as i64);
    }
    match crate::promql::syntax::parse_duration(text) {
        Ok(ms) if ms >= 0 => Ok(ms),
        _ => Err(bad()),
    }
}

/// RFC 3339 with optional fraction and any offset (`Z`, `+02:00`).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    let days = i64::try_from(days_from_civil(year.into(), month.into(), day.into())).ok()?;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form() {
        assert_eq!(parse_time("4"), Ok(4000));
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51+02:00"),
            Ok(1_435_781_451_000)
        );
        assert_eq!(parse_time("1970-01-01T00:00:04Z"), Ok(4000));
        assert!(parse_time("").is_err());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("NaN").is_err());
        assert!(parse_time("1e300").is_err());
        assert!(parse_time("2015-13-01T00:00:00Z").is_err());
    }

    #[test]
    fn durations_in_every_form() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert!(parse_duration("x").is_err());
    }
}
