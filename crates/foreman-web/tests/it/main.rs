//! Integration tests for `foreman-web`: one binary, one module per concern.

mod embedded;
mod serving;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, Response};
use tower::ServiceExt;

/// Sends one request through `router` and returns the response with its body.
pub async fn send(router: &Router, req: Request<Body>) -> (Response<()>, Vec<u8>) {
    let res = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = res.into_parts();
    let bytes = to_bytes(body, 16 * 1024 * 1024)
        .await
        .expect("body should be readable");
    (Response::from_parts(parts, ()), bytes.to_vec())
}

/// A GET with optional headers.
pub fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).expect("valid request")
}

/// A header's value as text.
pub fn header<'a>(res: &'a Response<()>, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}
