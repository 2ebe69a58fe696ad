//! The JSON client for the Foreman API: bearer auth, ids percent-encoded as path segments,
//! server errors turned into [`Failure`]s with the exit code of their status, and a reader of
//! Server-Sent Events for the live commands.

use std::time::Duration;

use anyhow::{Context, Result};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::error::{self, Failure};

/// What is left unencoded in a path segment or query value: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How long a plain request may take; streams have no overall limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Percent-encodes `s` as one path segment (`/`, `?`, `#` and `%` included), so an id can
/// never name another route.
pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A client for one server.
#[derive(Debug)]
pub(crate) struct Client {
    base: String,
    token: Option<String>,
    inner: reqwest::Client,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`), sending `token` when there is one.
    pub(crate) fn new(base: &str, token: Option<&str>) -> Result<Self> {
        // rustls needs a process-wide crypto provider for https:// servers.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .user_agent(concat!("foreman-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            inner,
        })
    }

    /// The server's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET path?query`.
    pub(crate) async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.send(Method::GET, path, query, None).await
    }

    /// `POST path` with an optional JSON body.
    pub(crate) async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        self.send(Method::POST, path, &[], body).await
    }

    /// `PUT path` with a JSON body.
    pub(crate) async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(Method::PUT, path, &[], Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(Method::PATCH, path, &[], Some(body)).await
    }

    /// `DELETE path`.
    pub(crate) async fn delete(&self, path: &str) -> Result<Value> {
        self.send(Method::DELETE, path, &[], None).await
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<String> {
        // A `.` or `..` segment would be resolved away by the URL parser, however encoded.
        if path.split('/').any(|s| {
            let s = s.to_ascii_lowercase();
            matches!(s.as_str(), "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e")
        }) {
            return Err(Failure::new(error::USAGE, "an id may not be `.` or `..`").into());
        }
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&seg(v));
        }
        Ok(url)
    }

    fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let req = self.inner.request(method, url);
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = self.url(path, query)?;
        let mut req = self.request(method.clone(), &url).timeout(REQUEST_TIMEOUT);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("{url}: the response was cut short"))?;
        let parsed: Option<Value> = if bytes.is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if !status.is_success() {
            return Err(failure(status, &method, path, parsed).into());
        }
        parsed.with_context(|| format!("{url}: the response is not JSON"))
    }

    /// Opens a Server-Sent Events stream at `path?query`.
    pub(crate) async fn stream(&self, path: &str, query: &[(&str, String)]) -> Result<Sse> {
        let url = self.url(path, query)?;
        let resp = self
            .request(Method::GET, &url)
            .header("accept", "text/event-stream")
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            let parsed = serde_json::from_slice(&body).ok();
            return Err(failure(status, &Method::GET, path, parsed).into());
        }
        Ok(Sse {
            resp,
            buf: Vec::new(),
        })
    }
}

/// The [`Failure`] for an error status: the server's own message, the exit code of its status.
fn failure(status: StatusCode, method: &Method, path: &str, body: Option<Value>) -> Failure {
    let message = body
        .as_ref()
        .and_then(|b| b["error"].as_str())
        .map_or_else(|| format!("{method} {path} failed"), str::to_owned);
    let hint = if status == StatusCode::UNAUTHORIZED {
        "; pass --token, set FOREMAN_TOKEN or run `foreman login`"
    } else {
        ""
    };
    Failure {
        exit: Failure::exit_for_status(status.as_u16()),
        message: format!("{message} (HTTP {}){hint}", status.as_u16()),
        body: body.filter(|b| b.get("error").is_some()),
    }
}

/// One server-sent event.
#[derive(Debug, Default)]
pub(crate) struct SseEvent {
    /// `id:`.
    pub(crate) id: Option<String>,
    /// `event:` (`message` when absent).
    pub(crate) event: Option<String>,
    /// The `data:` lines joined with newlines.
    pub(crate) data: String,
}

/// A Server-Sent Events reader over a response body.
#[derive(Debug)]
pub(crate) struct Sse {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl Sse {
    /// The next event, or `None` when the server closed the stream. Comments (keep-alives) are
    /// skipped.
    pub(crate) async fn next(&mut self) -> Result<Option<SseEvent>> {
        let mut event = SseEvent::default();
        let mut has_field = false;
        loop {
            while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=end).collect();
                let line = String::from_utf8_lossy(&raw);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    if has_field {
                        return Ok(Some(event));
                    }
                    continue;
                }
                if line.starts_with(':') {
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                has_field = true;
                match field {
                    "id" => event.id = Some(value.to_owned()),
                    "event" => event.event = Some(value.to_owned()),
                    "data" => {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                    }
                    _ => {}
                }
            }
            match self.resp.chunk().await.context("the event stream broke")? {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_as_one_segment() {
        assert_eq!(seg("../tokens"), "..%2Ftokens");
        assert_eq!(seg("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
        assert_eq!(seg("LOCAL-1_x.y~z"), "LOCAL-1_x.y~z");
        assert_eq!(seg("é"), "%C3%A9");
    }

    #[test]
    fn dot_segments_are_refused_before_any_request() {
        let c = Client::new("http://127.0.0.1:9", None).unwrap();
        for id in [".", "..", "%2E%2e", ".%2E"] {
            let err = c.url(&format!("/api/tickets/{id}"), &[]).unwrap_err();
            let f = err.downcast_ref::<Failure>().unwrap();
            assert_eq!(f.exit, error::USAGE, "{id}");
        }
        assert_eq!(
            c.url(
                &format!("/api/tickets/{}", seg("../tokens")),
                &[("q", "a&b".into())]
            )
            .unwrap(),
            "http://127.0.0.1:9/api/tickets/..%2Ftokens?q=a%26b"
        );
    }
}
