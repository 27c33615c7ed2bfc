//! The web UI: a query page (graph and table), the endpoints' page and the status page. Every
//! page is the same embedded document; its script picks the view by path and reads the
//! gateway's own API, so the UI needs nothing the API does not answer.

mod assets;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The views, each a route of its own so that request metrics name the page.
const PAGES: [&str; 4] = ["/query", "/graph", "/stores", "/status"];

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let router = Router::new()
        .route("/", get(home))
        .route("/assets/panoptes.js", get(script))
        .route("/assets/panoptes.css", get(style));
    PAGES
        .iter()
        .fold(router, |router, path| router.route(path, get(page)))
}

/// Prometheus 3 answers `/` with a 302 to its query page; clients that probe `/` (Python's
/// `prometheus_api_client`) follow it and expect a 200.
async fn home() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/query")]).into_response()
}

async fn page(headers: HeaderMap) -> Response {
    assets::PAGE.respond(&headers)
}

async fn script(headers: HeaderMap) -> Response {
    assets::SCRIPT.respond(&headers)
}

async fn style(headers: HeaderMap) -> Response {
    assets::STYLE.respond(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(header::HeaderName, &str)]) -> Response {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        routes::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header(response: &Response, name: header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[tokio::test]
    async fn root_redirects_to_the_query_page() {
        let response = get("/", &[]).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(header(&response, header::LOCATION), "/query");
    }

    #[tokio::test]
    async fn every_page_and_asset_has_its_content_type() {
        for path in PAGES {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header(&response, header::CONTENT_TYPE),
                "text/html; charset=utf-8"
            );
        }
        for (path, kind) in [
            ("/assets/panoptes.js", "text/javascript; charset=utf-8"),
            ("/assets/panoptes.css", "text/css; charset=utf-8"),
        ] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&response, header::CONTENT_TYPE), kind);
            assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
        }
    }

    #[tokio::test]
    async fn a_current_copy_is_not_sent_again() {
        let first = get("/assets/panoptes.js", &[]).await;
        let etag = header(&first, header::ETAG).to_owned();
        let again = get("/assets/panoptes.js", &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&again, header::ETAG), etag);
        let stale = get("/assets/panoptes.js", &[(header::IF_NONE_MATCH, "\"0\"")]).await;
        assert_eq!(stale.status(), StatusCode::OK);
    }
}
