//! The UI's files, embedded in the binary, and how they are sent: with their content type,
//! revalidated on every use (`no-cache`) against an ETag of their content, so that a browser
//! never keeps a page older than the gateway it talks to, yet downloads it only once.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub struct Asset {
    body: &'static str,
    content_type: &'static str,
}

pub const PAGE: Asset = Asset {
    body: include_str!("assets/index.html"),
    content_type: "text/html; charset=utf-8",
};

pub const SCRIPT: Asset = Asset {
    body: include_str!("assets/panoptes.js"),
    content_type: "text/javascript; charset=utf-8",
};

pub const STYLE: Asset = Asset {
    body: include_str!("assets/panoptes.css"),
    content_type: "text/css; charset=utf-8",
};

impl Asset {
    fn etag(&self) -> String {
        format!(
            "\"{:016x}\"",
            xxhash_rust::xxh64::xxh64(self.body.as_bytes(), 0)
        )
    }

    /// The file, or 304 when `If-None-Match` names its current ETag.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let etag = self.etag();
        let current = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| tag.trim() == etag);
        let headers = [
            (header::CACHE_CONTROL, "no-cache".to_owned()),
            (header::ETAG, etag),
        ];
        if current {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        let content_type = [(header::CONTENT_TYPE, self.content_type)];
        (headers, content_type, self.body).into_response()
    }
}
