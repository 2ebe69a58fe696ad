//! Serving a known file table: content types, caching, compression, validators and the
//! single-page-app fallback.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use foreman_web::{Asset, IMMUTABLE, MISSING_PAGE, REVALIDATE, router_for};

use crate::{get, header, send};

const INDEX: &[u8] = b"<!doctype html><title>Foreman</title><script type=module src=/assets/index-abc123.js></script>";
const JS: &[u8] = b"console.log('dashboard')";
const JS_GZ: &[u8] = b"\x1f\x8bpretend-gzip";

static SITE: &[Asset] = &[
    Asset {
        path: "assets/index-abc123.css",
        body: b"body{margin:0}",
        gzip: None,
        etag: "\"c55\"",
    },
    Asset {
        path: "assets/index-abc123.js",
        body: JS,
        gzip: Some(JS_GZ),
        etag: "\"a1\"",
    },
    Asset {
        path: "assets/logo-ff00.svg",
        body: b"<svg/>",
        gzip: None,
        etag: "\"5f\"",
    },
    Asset {
        path: "favicon.svg",
        body: b"<svg/>",
        gzip: None,
        etag: "\"f1\"",
    },
    Asset {
        path: "index.html",
        body: INDEX,
        gzip: None,
        etag: "\"1d\"",
    },
    Asset {
        path: "theme-init.js",
        body: b"0",
        gzip: None,
        etag: "\"7e\"",
    },
];

#[tokio::test]
async fn index_is_served_at_the_root_and_revalidated() {
    let app = router_for(SITE);
    let (res, body) = send(&app, get("/", &[])).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body, INDEX);
    assert_eq!(
        header(&res, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&res, "cache-control"), Some(REVALIDATE));
    assert_eq!(header(&res, "etag"), Some("\"1d\""));
    assert_eq!(header(&res, "x-content-type-options"), Some("nosniff"));
    assert!(
        header(&res, "content-security-policy").is_some_and(|c| c.contains("default-src 'self'"))
    );
    assert_eq!(
        header(&res, "content-length"),
        Some(INDEX.len().to_string().as_str())
    );
}

#[tokio::test]
async fn app_routes_fall_back_to_the_index() {
    let app = router_for(SITE);
    for path in [
        "/tickets",
        "/tickets/0190f1c2-0000-7000-8000-000000000000",
        "/costs?range=30",
        "/board/",
    ] {
        let (res, body) = send(&app, get(path, &[])).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(body, INDEX, "{path}");
        assert_eq!(header(&res, "cache-control"), Some(REVALIDATE), "{path}");
    }
}

#[tokio::test]
async fn hashed_assets_are_immutable_with_their_content_type() {
    let app = router_for(SITE);
    let cases = [
        ("/assets/index-abc123.css", "text/css; charset=utf-8"),
        ("/assets/index-abc123.js", "text/javascript; charset=utf-8"),
        ("/assets/logo-ff00.svg", "image/svg+xml"),
    ];
    for (path, ct) in cases {
        let (res, _) = send(&app, get(path, &[])).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, "content-type"), Some(ct), "{path}");
        assert_eq!(header(&res, "cache-control"), Some(IMMUTABLE), "{path}");
        assert_eq!(header(&res, "content-security-policy"), None, "{path}");
    }
    // Files outside assets/ keep their names across builds, so they are revalidated.
    let (res, _) = send(&app, get("/theme-init.js", &[])).await;
    assert_eq!(header(&res, "cache-control"), Some(REVALIDATE));
    assert_eq!(
        header(&res, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
}

#[tokio::test]
async fn gzip_variant_is_served_when_accepted() {
    let app = router_for(SITE);
    let (res, body) = send(
        &app,
        get(
            "/assets/index-abc123.js",
            &[("accept-encoding", "gzip, deflate, br")],
        ),
    )
    .await;
    assert_eq!(body, JS_GZ);
    assert_eq!(header(&res, "content-encoding"), Some("gzip"));
    assert_eq!(header(&res, "vary"), Some("Accept-Encoding"));
    assert_eq!(header(&res, "etag"), Some("\"a1-gz\""));

    for refused in [
        &[][..],
        &[("accept-encoding", "br")][..],
        &[("accept-encoding", "gzip;q=0, *")][..],
    ] {
        let (res, body) = send(&app, get("/assets/index-abc123.js", refused)).await;
        assert_eq!(body, JS, "{refused:?}");
        assert_eq!(header(&res, "content-encoding"), None, "{refused:?}");
        assert_eq!(header(&res, "etag"), Some("\"a1\""), "{refused:?}");
    }
    let (res, body) = send(
        &app,
        get("/assets/index-abc123.js", &[("accept-encoding", "*")]),
    )
    .await;
    assert_eq!(body, JS_GZ);
    assert_eq!(header(&res, "content-encoding"), Some("gzip"));
    // A file without a gzip variant is sent as is.
    let (res, _) = send(
        &app,
        get("/assets/index-abc123.css", &[("accept-encoding", "gzip")]),
    )
    .await;
    assert_eq!(header(&res, "content-encoding"), None);
}

#[tokio::test]
async fn matching_etag_gets_not_modified() {
    let app = router_for(SITE);
    let (res, body) = send(&app, get("/", &[("if-none-match", "\"1d\"")])).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (res, _) = send(&app, get("/", &[("if-none-match", "\"other\", W/\"1d\"")])).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let (res, _) = send(&app, get("/", &[("if-none-match", "\"other\"")])).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (res, _) = send(
        &app,
        get(
            "/assets/index-abc123.js",
            &[("if-none-match", "\"a1-gz\""), ("accept-encoding", "gzip")],
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn missing_files_are_404_not_the_app() {
    let app = router_for(SITE);
    for path in [
        "/assets/index-old.js",
        "/assets/",
        "/robots.txt",
        "/deep/path/app.css",
    ] {
        let (res, body) = send(&app, get(path, &[])).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_ne!(body, INDEX, "{path}");
    }
}

#[tokio::test]
async fn api_paths_are_never_answered_with_the_app() {
    let app = router_for(SITE);
    for path in ["/api", "/api/nope", "/ws/elsewhere"] {
        let (res, body) = send(&app, get(path, &[])).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_ne!(body, INDEX, "{path}");
    }
}

#[tokio::test]
async fn head_has_headers_without_body_and_other_methods_are_refused() {
    let app = router_for(SITE);
    let req = Request::head("/")
        .body(Body::empty())
        .expect("valid request");
    let (res, body) = send(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(
        header(&res, "content-length"),
        Some(INDEX.len().to_string().as_str())
    );

    let req = Request::post("/")
        .body(Body::empty())
        .expect("valid request");
    let (res, _) = send(&app, req).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&res, "allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn without_a_build_every_page_explains_how_to_build() {
    static EMPTY: &[Asset] = &[];
    static NO_INDEX: &[Asset] = &[Asset {
        path: "assets/a.js",
        body: b"1",
        gzip: None,
        etag: "\"1\"",
    }];
    for site in [EMPTY, NO_INDEX] {
        let app = router_for(site);
        for path in ["/", "/tickets/42"] {
            let (res, body) = send(&app, get(path, &[])).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header(&res, "content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(header(&res, "cache-control"), Some(REVALIDATE));
            let text = String::from_utf8(body).expect("utf-8 page");
            assert_eq!(text, MISSING_PAGE);
            assert!(text.contains("cargo xtask web"));
            assert!(text.contains("npm --prefix web ci"));
            assert!(text.contains("npm --prefix web run build"));
        }
        let (res, _) = send(&app, get("/api/status", &[])).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
