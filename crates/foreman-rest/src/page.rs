//! Pagination: where the next page is.
//!
//! Three shapes cover Foreman's services: a `Link: <url>; rel="next"` header (GitHub, GitLab,
//! Jira's agile API), GitLab's `X-Next-Page` header (a page number, empty on the last page),
//! and cursors in the body (Linear's `pageInfo { hasNextPage endCursor }`, Jira's
//! `nextPageToken`), walked by [`collect_cursor_pages`].

use std::future::Future;

use foreman_domain::remote::RemoteError;
use reqwest::header::HeaderMap;

/// Most pages one listing follows before giving up (a guard against loops).
pub const MAX_PAGES: usize = 200;

/// Where the next page of a listing is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPage {
    /// An absolute URL (from a `Link` header).
    Url(String),
    /// A page number to send as `page=` with the first request's query (`X-Next-Page`).
    Number(u64),
}

/// Finds the `rel="next"` target in a `Link` header value.
#[must_use]
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        (is_next && target.starts_with('<') && target.ends_with('>'))
            .then(|| target[1..target.len() - 1].to_owned())
    })
}

/// The next page from a response's headers: the `Link` header's `rel="next"` first, else a
/// non-empty `X-Next-Page`.
#[must_use]
pub fn next_page(headers: &HeaderMap) -> Option<NextPage> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(url) = get("link").and_then(next_link) {
        return Some(NextPage::Url(url));
    }
    get("x-next-page")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse::<u64>().ok())
        .map(NextPage::Number)
}

/// Walks a cursor-paginated listing: `fetch(cursor)` returns one page's items and the cursor
/// of the next page (`None` or empty on the last). The first call gets `None`. The error type
/// is the caller's (a tracker's own error, say), as long as a [`RemoteError`] converts into it.
///
/// # Errors
/// The first error `fetch` returns; [`RemoteError::Decode`] after [`MAX_PAGES`] pages.
pub async fn collect_cursor_pages<T, E, F, Fut>(
    service: &'static str,
    mut fetch: F,
) -> Result<Vec<T>, E>
where
    E: From<RemoteError>,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), E>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let (batch, next) = fetch(cursor.take()).await?;
        items.extend(batch);
        match next {
            Some(next) if !next.is_empty() => cursor = Some(next),
            _ => return Ok(items),
        }
    }
    Err(RemoteError::Decode {
        service,
        message: format!("more than {MAX_PAGES} pages"),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn link_headers() {
        let l = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link(l).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn next_page_prefers_link_then_x_next_page() {
        let mut h = HeaderMap::new();
        assert_eq!(next_page(&h), None);
        h.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(next_page(&h), None, "gitlab's last page has it empty");
        h.insert("x-next-page", HeaderValue::from_static("3"));
        assert_eq!(next_page(&h), Some(NextPage::Number(3)));
        h.insert(
            "link",
            HeaderValue::from_static(r#"<https://h/api/v4/x?page=3>; rel="next""#),
        );
        assert_eq!(
            next_page(&h),
            Some(NextPage::Url("https://h/api/v4/x?page=3".into()))
        );
    }

    #[tokio::test]
    async fn cursors_are_followed_to_the_end_and_bounded() {
        let pages: Vec<i32> = collect_cursor_pages("linear", |cursor| async move {
            Ok::<_, RemoteError>(match cursor.as_deref() {
                None => (vec![1, 2], Some("a".to_owned())),
                Some("a") => (vec![3], Some("b".to_owned())),
                _ => (vec![4], None),
            })
        })
        .await
        .unwrap();
        assert_eq!(pages, vec![1, 2, 3, 4]);
        let endless: RemoteError = collect_cursor_pages("linear", |_| async {
            Ok::<_, RemoteError>((vec![0u8], Some("again".to_owned())))
        })
        .await
        .unwrap_err();
        assert_eq!(endless.code(), "bad_response");
    }
}
