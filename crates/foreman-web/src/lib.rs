//! The dashboard's static files, embedded in the binary and served over HTTP.
//!
//! This crate owns the built single-page app (`web/dist`, produced by `npm --prefix web run
//! build` or `cargo xtask web`): `build.rs` embeds every file at compile time, and [`router`]
//! serves them with the right content type, long-lived caching for content-hashed files under
//! `assets/`, revalidation for everything else, the pre-compressed gzip variant when the client
//! accepts it, and a fallback to `index.html` for the app's own routes. When the crate was
//! compiled without a build, every page explains how to build the dashboard instead.
//!
//! It must not know the API: it has no state, answers `/api/…` and `/ws/…` with a plain 404
//! so it can be mounted as a fallback, and never reads the file system at run time.
//!
//! ```no_run
//! # fn mount(api: axum::Router) -> axum::Router {
//! api.fallback_service(foreman_web::router())
//! # }
//! ```

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// `Cache-Control` for content-hashed files under `assets/`.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for `index.html` and other files whose names do not change.
pub const REVALIDATE: &str = "no-cache";

/// The content security policy sent with HTML pages: the app loads nothing from other origins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

/// One file of a built dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Path below the build root with `/` separators and no leading slash
    /// (`index.html`, `assets/index-3f2a9c.js`).
    pub path: &'static str,
    /// The file's bytes.
    pub body: &'static [u8],
    /// The gzip-compressed bytes, when the build wrote a smaller `<file>.gz`.
    pub gzip: Option<&'static [u8]>,
    /// A strong entity tag for `body`, quoted (`"0123456789abcdef"`).
    pub etag: &'static str,
}

/// The files embedded at compile time, sorted by path; empty when the crate was compiled
/// without a dashboard build.
#[must_use]
pub fn embedded() -> &'static [Asset] {
    embedded::EMBEDDED
}

/// Whether a dashboard build (with an `index.html`) was embedded.
#[must_use]
pub fn is_built() -> bool {
    find(embedded(), "index.html").is_some()
}

/// The embedded dashboard as a stateless router; mount it as the fallback for every path
/// outside the API.
pub fn router() -> Router {
    router_for(embedded())
}

/// A router serving `assets` (sorted by path, as [`embedded`] returns them) the way
/// [`router`] serves the embedded build; without an `index.html` it serves the page that
/// explains how to build the dashboard.
pub fn router_for(assets: &'static [Asset]) -> Router {
    Router::new().fallback(move |req: Request| async move { respond(assets, &req) })
}

/// The page served when no dashboard build was embedded.
pub const MISSING_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Foreman: dashboard not built</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 4rem auto; padding: 0 1.5rem; color: #1f2937; }
  code, pre { font: 14px ui-monospace, monospace; background: #f3f4f6; border-radius: 6px; }
  code { padding: 0.1rem 0.3rem; }
  pre { padding: 0.75rem 1rem; overflow-x: auto; }
  @media (prefers-color-scheme: dark) { body { background: #111827; color: #e5e7eb; } code, pre { background: #1f2937; } }
</style>
</head>
<body>
<h1>The dashboard is not built</h1>
<p>This Foreman server was compiled without the web dashboard. The API is running: every route under <code>/api/</code> works.</p>
<p>To include the dashboard, build it (Node.js 20.19 or newer) and compile the server again:</p>
<pre>cargo xtask web
cargo build -p foreman-server</pre>
<p>or, by hand:</p>
<pre>npm --prefix web ci
npm --prefix web run build
cargo build -p foreman-server</pre>
</body>
</html>
"#;

fn find(assets: &'static [Asset], path: &str) -> Option<&'static Asset> {
    assets
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .and_then(|i| assets.get(i))
}

fn respond(assets: &'static [Asset], req: &Request) -> Response {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let head = method == Method::HEAD;
    let path = req.uri().path();
    if path == "/api" || path.starts_with("/api/") || path.starts_with("/ws/") {
        return without_body(plain(StatusCode::NOT_FOUND, "not found\n"), head);
    }
    let key = path.trim_start_matches('/');
    let Some(index) = find(assets, "index.html") else {
        return without_body(missing_page(), head);
    };
    let asset = match find(assets, if key.is_empty() { "index.html" } else { key }) {
        Some(a) => a,
        None if looks_like_file(key) => {
            return without_body(plain(StatusCode::NOT_FOUND, "not found\n"), head);
        }
        // The app's own routes (`/tickets/…`) load the app, which routes on the client.
        None => index,
    };
    without_body(serve(asset, req.headers()), head)
}

/// Paths that name a file (under `assets/`, or with an extension in the last segment) get a
/// 404 when missing rather than the app, so a stale script reference fails loudly.
fn looks_like_file(key: &str) -> bool {
    key.starts_with("assets/")
        || key
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let gzip = asset.gzip.filter(|_| accepts_gzip(headers));
    let etag = if gzip.is_some() {
        // A distinct tag per representation keeps the tag strong.
        HeaderValue::from_str(&format!("{}-gz\"", asset.etag.trim_end_matches('"')))
    } else {
        HeaderValue::from_str(asset.etag)
    }
    .ok();
    let immutable = asset.path.starts_with("assets/");
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type(asset.path))
        .header(
            header::CACHE_CONTROL,
            if immutable { IMMUTABLE } else { REVALIDATE },
        )
        .header(header::VARY, "Accept-Encoding")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if asset.path.ends_with(".html") {
        builder = builder
            .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
            .header(header::REFERRER_POLICY, "no-referrer")
            .header(header::X_FRAME_OPTIONS, "DENY");
    }
    if let Some(tag) = &etag {
        builder = builder.header(header::ETAG, tag.clone());
        if let Some(inm) = headers.get(header::IF_NONE_MATCH)
            && etag_matches(inm, tag)
        {
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .unwrap_or_else(|_| internal());
        }
    }
    let body: &'static [u8] = match gzip {
        Some(gz) => {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
            gz
        }
        None => asset.body,
    };
    builder
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_else(|_| internal())
}

fn missing_page() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, REVALIDATE)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_LENGTH, MISSING_PAGE.len())
        .body(Body::from(MISSING_PAGE))
        .unwrap_or_else(|_| internal())
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, REVALIDATE)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::from(text))
        .unwrap_or_else(|_| internal())
}

fn internal() -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    res
}

/// A `HEAD` answer: the `GET` headers (including `Content-Length`) without the body.
fn without_body(res: Response, head: bool) -> Response {
    if !head {
        return res;
    }
    let (parts, _) = res.into_parts();
    Response::from_parts(parts, Body::empty())
}

/// Whether `If-None-Match` lists `tag` (or is `*`); weak comparison, as for GET.
fn etag_matches(header: &HeaderValue, tag: &HeaderValue) -> bool {
    let Ok(list) = header.to_str() else {
        return false;
    };
    let Ok(tag) = tag.to_str() else {
        return false;
    };
    let bare = tag.trim_start_matches("W/");
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == bare)
}

/// Whether `Accept-Encoding` allows gzip (explicitly or through `*`, and not with `q=0`).
#[must_use]
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut star = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match coding.as_str() {
                "gzip" | "x-gzip" => return !refused,
                "*" => star = !refused,
                _ => {}
            }
        }
    }
    star
}

/// The `Content-Type` for a file name.
#[must_use]
pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("otf") => "font/otf",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    }
}
