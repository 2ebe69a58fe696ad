//! The HTTP client: authentication headers, request timeouts, capped response bodies, links
//! kept on the service, and retries ([`crate::retry`]) that wait out short rate limits
//! (`Retry-After`, `X-RateLimit-*`, GitHub's secondary limits) and report long ones as
//! [`RemoteError::RateLimited`].

use std::fmt;
use std::sync::Once;
use std::time::Duration;

use foreman_domain::remote::RemoteError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::page::{MAX_PAGES, NextPage, next_link, next_page};
use crate::retry::{retry_after, should_retry};

/// The user agent Foreman sends (GitHub requires one).
pub const USER_AGENT: &str = concat!("foreman/", env!("CARGO_PKG_VERSION"));

static INSTALL: Once = Once::new();

/// Installs rustls' `ring` crypto provider as the process default, once (reqwest is built
/// without a bundled provider). Harmless when one is installed already.
pub fn install_crypto_provider() {
    INSTALL.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// How requests authenticate.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>` (GitHub, GitLab OAuth, Linear OAuth).
    Bearer(String),
    /// `Authorization: Basic` (Jira Cloud: e-mail and API token).
    Basic {
        /// User (Jira: the account's e-mail).
        user: String,
        /// Password or API token.
        password: String,
    },
    /// Any other header (`PRIVATE-TOKEN` for GitLab, a bare `Authorization` for Linear keys).
    Header {
        /// Header name.
        name: String,
        /// Header value.
        value: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Bearer(_) => "Bearer(<redacted>)",
            Self::Basic { .. } => "Basic(<redacted>)",
            Self::Header { .. } => "Header(<redacted>)",
        })
    }
}

/// Settings of one REST client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The service name used in errors and logs (`github`, `jira`, ...).
    pub service: &'static str,
    /// API root, e.g. `https://api.github.com` (no trailing slash needed).
    pub base_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Responses larger than this fail with [`RemoteError::Decode`].
    pub max_body_bytes: usize,
    /// Rate-limit waits up to this long are slept through; longer ones are returned.
    pub max_retry_wait: Duration,
    /// How many times one request is retried after a rate limit or a 5xx.
    pub max_retries: u32,
    /// Headers sent with every request (API versions, `Accept`).
    pub default_headers: Vec<(String, String)>,
}

impl HttpConfig {
    /// Defaults: 30 s timeout, 32 MiB bodies, waits up to 60 s, 3 retries.
    #[must_use]
    pub fn new(service: &'static str, base_url: impl Into<String>, auth: Auth) -> Self {
        Self {
            service,
            base_url: base_url.into(),
            auth,
            timeout: Duration::from_secs(30),
            max_body_bytes: 32 * 1024 * 1024,
            max_retry_wait: Duration::from_secs(60),
            max_retries: 3,
            default_headers: Vec::new(),
        }
    }
}

/// A successful (2xx or 304) response with its body read.
#[derive(Debug)]
pub struct Response {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
    service: &'static str,
}

impl Response {
    /// Decodes the body as JSON.
    ///
    /// # Errors
    /// [`RemoteError::Decode`] when it does not decode.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, RemoteError> {
        serde_json::from_slice(&self.body).map_err(|e| RemoteError::Decode {
            service: self.service,
            message: format!("invalid json: {e}"),
        })
    }

    /// A header as text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `rel="next"` URL of a `Link` header.
    #[must_use]
    pub fn next_link(&self) -> Option<String> {
        self.header("link").and_then(next_link)
    }

    /// The next page: the `Link` header's `rel="next"`, else GitLab's `X-Next-Page`.
    #[must_use]
    pub fn next_page(&self) -> Option<NextPage> {
        next_page(&self.headers)
    }
}

/// A REST client for one service.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: HttpConfig,
    base: String,
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// A path under the base URL (`/repos/o/r/issues`) or an absolute URL (from a `Link`).
    pub url: &'a str,
    /// Query parameters.
    pub query: &'a [(&'a str, String)],
    /// JSON body.
    pub body: Option<&'a serde_json::Value>,
    /// Extra headers (`If-None-Match`, ...).
    pub headers: &'a [(&'a str, String)],
}

impl<'a> Request<'a> {
    /// A GET of `url`.
    #[must_use]
    pub fn get(url: &'a str) -> Self {
        Self {
            method: Method::GET,
            url,
            query: &[],
            body: None,
            headers: &[],
        }
    }

    /// A request with a JSON body.
    #[must_use]
    pub fn with_body(method: Method, url: &'a str, body: &'a serde_json::Value) -> Self {
        Self {
            method,
            url,
            query: &[],
            body: Some(body),
            headers: &[],
        }
    }

    /// Adds query parameters.
    #[must_use]
    pub fn query(mut self, query: &'a [(&'a str, String)]) -> Self {
        self.query = query;
        self
    }

    /// Adds headers.
    #[must_use]
    pub fn headers(mut self, headers: &'a [(&'a str, String)]) -> Self {
        self.headers = headers;
        self
    }
}

impl HttpClient {
    /// Builds the client.
    ///
    /// # Errors
    /// [`RemoteError::Invalid`] for an unusable base URL or header.
    pub fn new(config: HttpConfig) -> Result<Self, RemoteError> {
        install_crypto_provider();
        let service = config.service;
        let invalid = |message: String| RemoteError::Invalid { service, message };
        let base = config.base_url.trim_end_matches('/').to_owned();
        let parsed =
            reqwest::Url::parse(&base).map_err(|e| invalid(format!("base url {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid(format!("base url {base:?} is not http(s)")));
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &config.default_headers {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| invalid(format!("header {k}: {e}")))?,
                HeaderValue::from_str(v).map_err(|e| invalid(format!("header {k}: {e}")))?,
            );
        }
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.timeout)
            .default_headers(headers)
            .build()
            .map_err(|e| invalid(format!("building the client: {e}")))?;
        Ok(Self {
            client,
            config,
            base,
        })
    }

    /// The service name.
    #[must_use]
    pub fn service(&self) -> &'static str {
        self.config.service
    }

    /// The base URL without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else {
            format!("{}{}", self.base, url)
        }
    }

    /// Sends a request, sleeping through short rate limits and retrying transient failures
    /// (5xx, no answer) of reads ([`should_retry`]). Returns 2xx and 304 responses; every other
    /// status is an error.
    ///
    /// # Errors
    /// See [`RemoteError`].
    pub async fn send(&self, req: &Request<'_>) -> Result<Response, RemoteError> {
        let service = self.config.service;
        let url = self.absolute(req.url);
        let mut parsed = reqwest::Url::parse(&url).map_err(|e| RemoteError::Invalid {
            service,
            message: format!("url {url:?}: {e}"),
        })?;
        if !req.query.is_empty() {
            let mut pairs = parsed.query_pairs_mut();
            for (k, v) in req.query {
                pairs.append_pair(k, v);
            }
        }
        // Links from the service must stay on the service (a redirected token is a leaked one).
        if !same_service(&self.base, &parsed) {
            return Err(RemoteError::Decode {
                service,
                message: format!("refusing to follow {parsed} outside {}", self.base),
            });
        }
        let idempotent = matches!(req.method, Method::GET | Method::HEAD);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = self.send_once(req, parsed.clone()).await;
            let wait = match &result {
                Err(e) => should_retry(e, attempt, idempotent, self.config.max_retry_wait),
                Ok(_) => None,
            };
            match wait {
                Some(wait) if attempt <= self.config.max_retries => {
                    tracing::warn!(service, url = %parsed, attempt, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "retrying after rate limit or outage");
                    tokio::time::sleep(wait).await;
                }
                _ => return result,
            }
        }
    }

    async fn send_once(
        &self,
        req: &Request<'_>,
        url: reqwest::Url,
    ) -> Result<Response, RemoteError> {
        let service = self.config.service;
        let mut builder = self.client.request(req.method.clone(), url.clone());
        builder = match &self.config.auth {
            Auth::None => builder,
            Auth::Bearer(t) => builder.bearer_auth(t),
            Auth::Basic { user, password } => builder.basic_auth(user, Some(password)),
            Auth::Header { name, value } => builder.header(name.as_str(), value.as_str()),
        };
        for (k, v) in req.headers {
            builder = builder.header(*k, v.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.json(body);
        }
        let resp = builder.send().await.map_err(|e| RemoteError::Transport {
            service,
            message: transport_message(&e),
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_capped(resp, self.config.max_body_bytes, service).await?;
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(Response {
                status,
                headers,
                body,
                service,
            });
        }
        Err(classify(service, status, &headers, &body, url.as_str()))
    }

    /// GETs a JSON document.
    ///
    /// # Errors
    /// See [`RemoteError`].
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<T, RemoteError> {
        self.send(&Request::get(url).query(query)).await?.json()
    }

    /// Sends a JSON body and decodes the JSON answer.
    ///
    /// # Errors
    /// See [`RemoteError`].
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<T, RemoteError> {
        self.send(&Request::with_body(method, url, body))
            .await?
            .json()
    }

    /// GETs every page of a JSON array, following `Link: <...>; rel="next"` or GitLab's
    /// `X-Next-Page` ([`Response::next_page`]).
    ///
    /// # Errors
    /// See [`RemoteError`]; [`RemoteError::Decode`] after [`MAX_PAGES`] pages.
    pub async fn get_all_pages<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, RemoteError> {
        let mut items = Vec::new();
        let first = self.send(&Request::get(url).query(query)).await?;
        let mut next = first.next_page();
        items.extend(first.json::<Vec<T>>()?);
        let mut pages = 1;
        while let Some(at) = next {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(RemoteError::Decode {
                    service: self.config.service,
                    message: format!("more than {MAX_PAGES} pages"),
                });
            }
            let page = match at {
                NextPage::Url(link) => self.send(&Request::get(&link)).await?,
                NextPage::Number(n) => {
                    let mut q: Vec<(&str, String)> = query
                        .iter()
                        .filter(|(k, _)| *k != "page")
                        .cloned()
                        .collect();
                    q.push(("page", n.to_string()));
                    self.send(&Request::get(url).query(&q)).await?
                }
            };
            next = page.next_page();
            let batch = page.json::<Vec<T>>()?;
            if batch.is_empty() {
                break;
            }
            items.extend(batch);
        }
        Ok(items)
    }
}

/// Whether `url` has the base URL's scheme, host and port, and lies under its path.
fn same_service(base: &str, url: &reqwest::Url) -> bool {
    let Ok(b) = reqwest::Url::parse(base) else {
        return false;
    };
    let base_path = b.path().trim_end_matches('/');
    b.scheme() == url.scheme()
        && b.host_str() == url.host_str()
        && b.port_or_known_default() == url.port_or_known_default()
        && (url.path() == base_path
            || base_path.is_empty()
            || url.path().starts_with(&format!("{base_path}/")))
}

fn transport_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        msg
    }
}

async fn read_capped(
    mut resp: reqwest::Response,
    max: usize,
    service: &'static str,
) -> Result<Vec<u8>, RemoteError> {
    let too_large = || RemoteError::Decode {
        service,
        message: format!("response larger than {max} bytes"),
    };
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| RemoteError::Transport {
        service,
        message: transport_message(&e),
    })? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The service's own error message from a body (`message`, `errorMessages`, `error`), or the
/// start of the body.
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return m.to_owned();
        }
        if let Some(list) = v.get("errorMessages").and_then(|m| m.as_array()) {
            let joined: Vec<&str> = list.iter().filter_map(|m| m.as_str()).collect();
            if !joined.is_empty() {
                return joined.join("; ");
            }
        }
        if let Some(errors) = v.get("errors") {
            return errors.to_string();
        }
        if let Some(m) = v.get("error").and_then(|m| m.as_str()) {
            return m.to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut cut = text.len().min(300);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

fn classify(
    service: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    url: &str,
) -> RemoteError {
    let message = error_message(body);
    let remaining_zero = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let limited = || RemoteError::RateLimited {
        service,
        retry_after: retry_after(headers, chrono::Utc::now()),
    };
    match status.as_u16() {
        401 => RemoteError::Unauthorized { service },
        429 => limited(),
        403 if remaining_zero
            || headers.contains_key("retry-after")
            || message.to_ascii_lowercase().contains("rate limit") =>
        {
            limited()
        }
        403 => RemoteError::Forbidden { service, message },
        404 | 410 => RemoteError::NotFound {
            service,
            what: url.to_owned(),
        },
        409 => RemoteError::Conflict { service, message },
        status => RemoteError::Status {
            service,
            status,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_stay_on_the_service() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(same_service(
            "https://api.github.com",
            &u("https://api.github.com/repos/a/b?page=2")
        ));
        assert!(!same_service(
            "https://api.github.com",
            &u("https://api.github.com.evil.test/x")
        ));
        assert!(!same_service(
            "https://api.github.com",
            &u("http://api.github.com/x")
        ));
        assert!(same_service(
            "https://h/api/v4",
            &u("https://h/api/v4/projects/1")
        ));
        assert!(!same_service("https://h/api/v4", &u("https://h/api/v40/x")));
        assert!(!same_service("https://h:8443/x", &u("https://h/x")));
    }

    #[test]
    fn rate_limits_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        let e = classify(
            "github",
            StatusCode::FORBIDDEN,
            &h,
            b"{\"message\":\"You have exceeded a secondary rate limit\"}",
            "u",
        );
        assert!(
            matches!(e, RemoteError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = (chrono::Utc::now().timestamp() + 30).to_string();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        let e = classify("github", StatusCode::FORBIDDEN, &h, b"{}", "u");
        let RemoteError::RateLimited {
            retry_after: Some(d),
            ..
        } = e
        else {
            panic!("{e:?}")
        };
        assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(28));
        let e = classify(
            "github",
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            b"{\"message\":\"Resource not accessible\"}",
            "u",
        );
        assert!(
            matches!(e, RemoteError::Forbidden { ref message, .. } if message == "Resource not accessible")
        );
    }

    #[test]
    fn error_messages_from_each_service() {
        assert_eq!(
            error_message(br#"{"errorMessages":["Issue does not exist"],"errors":{}}"#),
            "Issue does not exist"
        );
        assert_eq!(error_message(b"plain failure"), "plain failure");
        assert_eq!(
            error_message(br#"{"message":"Validation Failed"}"#),
            "Validation Failed"
        );
    }

    /// A loopback server that answers the first `limited` requests with 429 and the
    /// `Retry-After` value `retry_after()` gives, then pages of a listing by `X-Next-Page`.
    async fn serve(
        limited: usize,
        retry_after: fn() -> String,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use axum::extract::{Query, State};
        use axum::http::{HeaderMap as AxHeaders, StatusCode as AxStatus};

        let hits = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new()
            .route(
                "/items",
                axum::routing::get(
                    move |State(hits): State<Arc<AtomicUsize>>,
                          Query(q): Query<std::collections::BTreeMap<String, String>>| async move {
                        let n = hits.fetch_add(1, Ordering::SeqCst);
                        let mut h = AxHeaders::new();
                        if n < limited {
                            h.insert("retry-after", retry_after().parse().unwrap());
                            return (AxStatus::TOO_MANY_REQUESTS, h, "{}".to_owned());
                        }
                        let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                        let next = if page < 3 { (page + 1).to_string() } else { String::new() };
                        h.insert("x-next-page", next.parse().unwrap());
                        (AxStatus::OK, h, format!("[{page}]"))
                    },
                ),
            )
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), hits)
    }

    fn client(base: &str) -> HttpClient {
        HttpClient::new(HttpConfig::new("test", base, Auth::None)).unwrap()
    }

    #[tokio::test]
    async fn a_retry_after_in_seconds_is_waited_out() {
        let (base, hits) = serve(1, || "1".to_owned()).await;
        let started = std::time::Instant::now();
        let items: Vec<u64> = client(&base).get_all_pages("/items", &[]).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(950),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            items,
            vec![1, 2, 3],
            "X-Next-Page pages followed to the empty one"
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_retry_after_http_date_is_waited_out() {
        // an HTTP-date has whole seconds: three seconds ahead is a wait of two to three seconds,
        // longer than the one second assumed when Retry-After cannot be read
        let (base, hits) = serve(1, || {
            (chrono::Utc::now() + chrono::TimeDelta::seconds(3))
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string()
        })
        .await;
        let started = std::time::Instant::now();
        let page: Vec<u64> = client(&base).get_json("/items", &[]).await.unwrap();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(1900) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        assert_eq!(page, vec![1]);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_long_retry_after_is_returned_not_slept() {
        let (base, hits) = serve(usize::MAX, || "3600".to_owned()).await;
        let err = client(&base)
            .get_json::<Vec<u64>>("/items", &[])
            .await
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
        assert!(err.is_transient());
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn statuses_are_classified() {
        let h = HeaderMap::new();
        let e = classify(
            "gitlab",
            StatusCode::CONFLICT,
            &h,
            b"{\"message\":\"sha moved\"}",
            "u",
        );
        assert_eq!(
            e,
            RemoteError::Conflict {
                service: "gitlab",
                message: "sha moved".into()
            }
        );
        let e = classify("gitlab", StatusCode::BAD_GATEWAY, &h, b"down", "u");
        assert!(e.is_transient() && e.code() == "unavailable", "{e:?}");
        let e = classify("gitlab", StatusCode::UNPROCESSABLE_ENTITY, &h, b"no", "u");
        assert!(!e.is_transient() && e.code() == "rejected", "{e:?}");
        let e = classify("gitlab", StatusCode::GONE, &h, b"", "https://x/y");
        assert_eq!(e.to_string(), "gitlab: https://x/y not found");
    }
}
