//! HTTP basic auth against bcrypt hashes (`basic_auth_users` of the web config file), as
//! Prometheus checks it: every request of the server, `401` with `WWW-Authenticate` when
//! the credentials are missing or wrong. A bcrypt check costs tens of milliseconds of CPU,
//! so it runs off the async threads, and each user's last good password is remembered: a
//! dashboard's every request does not pay it again.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::middleware::{self, Next};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Users and their bcrypt password hashes.
#[derive(Debug)]
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// The last password that matched each user's hash.
    verified: Mutex<HashMap<String, String>>,
}

impl BasicAuth {
    /// Fails if a hash is not a bcrypt hash.
    pub fn new(users: BTreeMap<String, String>) -> Result<Self, String> {
        for (user, hash) in &users {
            hash.parse::<bcrypt::HashParts>()
                .map_err(|e| format!("basic_auth_users: {user}: not a bcrypt hash: {e}"))?;
        }
        Ok(Self {
            users,
            verified: Mutex::default(),
        })
    }

    /// Whether the `Authorization` header names a user with the right password.
    pub async fn allows(self: &Arc<Self>, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return false;
        };
        let Some(hash) = self.users.get(&user).cloned() else {
            return false;
        };
        if self.remembered(&user, &password) {
            return true;
        }
        let checked = password.clone();
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(checked, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if matches && let Ok(mut verified) = self.verified.lock() {
            verified.insert(user, password);
        }
        matches
    }

    fn remembered(&self, user: &str, password: &str) -> bool {
        let Ok(verified) = self.verified.lock() else {
            return false;
        };
        verified
            .get(user)
            .is_some_and(|known| constant_time_eq(known.as_bytes(), password.as_bytes()))
    }
}

/// `router` with every request checked against `auth`.
pub fn require(router: Router, auth: Arc<BasicAuth>) -> Router {
    router.layer(middleware::from_fn(
        move |request: Request<Body>, next: Next| {
            let auth = auth.clone();
            async move {
                if auth
                    .allows(request.headers().get(header::AUTHORIZATION))
                    .await
                {
                    next.run(request).await
                } else {
                    unauthorized()
                }
            }
        },
    ))
}

fn unauthorized() -> Response<Body> {
    let mut response = Response::new(Body::from("Unauthorized\n"));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"panoptes\""),
    );
    response
}

/// `user` and `password` of a `Basic` authorization header.
fn credentials(value: &HeaderValue) -> Option<(String, String)> {
    let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
    // Standard base64 with padding, as browsers and clients send credentials.
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_of_a_basic_header() {
        // "alice:s3cr:t" in base64: a password may hold a colon.
        let value = HeaderValue::from_static("Basic YWxpY2U6czNjcjp0");
        assert_eq!(credentials(&value), Some(("alice".into(), "s3cr:t".into())));
        // Padded: "a:" and "ab:c".
        let padded = |v: &'static str| credentials(&HeaderValue::from_static(v));
        assert_eq!(padded("Basic YTo="), Some(("a".into(), String::new())));
        assert_eq!(padded("Basic YWI6Yw=="), Some(("ab".into(), "c".into())));
        assert_eq!(credentials(&HeaderValue::from_static("Bearer x")), None);
        assert_eq!(credentials(&HeaderValue::from_static("Basic !!")), None);
    }

    #[tokio::test]
    async fn only_the_right_password_passes() {
        let hash = bcrypt::hash("s3cr:t", 4).unwrap();
        let auth = Arc::new(BasicAuth::new(BTreeMap::from([("alice".into(), hash)])).unwrap());
        let header = |v: &'static str| HeaderValue::from_static(v);
        assert!(auth.allows(Some(&header("Basic YWxpY2U6czNjcjp0"))).await);
        // Again, from what was remembered.
        assert!(auth.allows(Some(&header("Basic YWxpY2U6czNjcjp0"))).await);
        // alice:wrong, bob:s3cr:t, nothing.
        assert!(!auth.allows(Some(&header("Basic YWxpY2U6d3Jvbmc="))).await);
        assert!(!auth.allows(Some(&header("Basic Ym9iOnMzY3I6dA=="))).await);
        assert!(!auth.allows(None).await);
    }
}
