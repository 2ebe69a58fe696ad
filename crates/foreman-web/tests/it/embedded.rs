//! The table `build.rs` generated from `web/dist` (or its absence).

use axum::http::StatusCode;
use foreman_web::{IMMUTABLE, MISSING_PAGE, REVALIDATE, embedded, is_built, router};

use crate::{get, header, send};

#[test]
fn table_is_sorted_unique_and_relative() {
    let assets = embedded();
    for pair in assets.windows(2) {
        assert!(
            pair[0].path < pair[1].path,
            "{} before {}",
            pair[0].path,
            pair[1].path
        );
    }
    for a in assets {
        assert!(
            !a.path.starts_with('/') && !a.path.contains('\\'),
            "{}",
            a.path
        );
        assert!(
            !a.path.ends_with(".gz"),
            "gzip variants are attached, not listed: {}",
            a.path
        );
        assert!(
            a.etag.starts_with('"') && a.etag.ends_with('"'),
            "{}",
            a.etag
        );
        if let Some(gz) = a.gzip {
            assert!(gz.len() < a.body.len(), "{} gzip is not smaller", a.path);
            assert_eq!(
                &gz[..2],
                b"\x1f\x8b",
                "{} gzip lacks the magic bytes",
                a.path
            );
        }
    }
}

#[tokio::test]
async fn embedded_build_or_instructions_are_served() {
    let app = router();
    let (res, body) = send(&app, get("/", &[("accept-encoding", "gzip")])).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&res, "cache-control"), Some(REVALIDATE));
    if !is_built() {
        assert_eq!(body, MISSING_PAGE.as_bytes());
        return;
    }
    let index = embedded()
        .iter()
        .find(|a| a.path == "index.html")
        .expect("is_built means index.html exists");
    let expected = index.gzip.unwrap_or(index.body);
    assert_eq!(body, expected);
    // Every script and stylesheet the index references is embedded, hashed and immutable.
    let html = String::from_utf8_lossy(index.body).into_owned();
    let refs: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert!(!refs.is_empty(), "index.html references no assets");
    for r in refs {
        let (res, _) = send(&app, get(r, &[])).await;
        assert_eq!(res.status(), StatusCode::OK, "{r}");
        assert_eq!(header(&res, "cache-control"), Some(IMMUTABLE), "{r}");
    }
}
