//! The Streamable HTTP transport: every message is a `POST` to the endpoint, answered with
//! JSON or with an SSE stream that carries the response; the session id the server assigns at
//! `initialize` (`Mcp-Session-Id`) is sent with every later request.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::sync::watch;

use crate::error::McpError;
use crate::protocol::{self, Incoming, PROTOCOL_VERSION};
use crate::transport::{Ended, Transport};

const SESSION: &str = "mcp-session-id";
const VERSION: &str = "mcp-protocol-version";
/// Largest response body read: 16 MiB.
const MAX_BODY: usize = 16 << 20;

/// What one Streamable HTTP server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    /// The endpoint URL.
    pub url: String,
    /// Headers sent with every request.
    pub headers: Vec<(String, String)>,
}

/// A connection (a session, when the server keeps one) to a Streamable HTTP server.
pub struct HttpTransport {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    session: Mutex<Option<String>>,
    next: AtomicU64,
    ended_tx: watch::Sender<Option<Ended>>,
    ended: watch::Receiver<Option<Ended>>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

impl HttpTransport {
    /// A transport for `endpoint`; `timeout` bounds connecting.
    ///
    /// # Errors
    /// [`McpError::Spawn`] for a header that is not valid HTTP or a client that cannot be
    /// built.
    pub fn new(endpoint: &HttpEndpoint, timeout: Duration) -> Result<Self, McpError> {
        install_crypto_provider();
        let mut headers = HeaderMap::new();
        for (k, v) in &endpoint.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| McpError::Spawn(format!("header {k:?}: {e}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| McpError::Spawn(format!("header {k:?}: {e}")))?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| McpError::Spawn(format!("cannot build the HTTP client: {e}")))?;
        let (ended_tx, ended) = watch::channel(None);
        Ok(Self {
            client,
            url: endpoint.url.clone(),
            headers,
            session: Mutex::new(None),
            next: AtomicU64::new(1),
            ended_tx,
            ended,
        })
    }

    fn end(&self, message: String) -> McpError {
        let _ = self.ended_tx.send(Some(Ended {
            message: message.clone(),
            failure: true,
        }));
        McpError::Closed(message)
    }

    /// Posts one message; returns the response when `id` is set.
    async fn post(&self, msg: &Value, id: Option<u64>) -> Result<Option<Value>, McpError> {
        if let Some(e) = self.ended.borrow().clone() {
            return Err(McpError::Closed(e.message));
        }
        let session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut req = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(msg.to_string());
        if let Some(s) = &session {
            req = req.header(SESSION, s).header(VERSION, PROTOCOL_VERSION);
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.end(format!("cannot reach {}: {e}", self.url))),
        };
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND && session.is_some() {
            return Err(self.end("the server ended the session (HTTP 404)".into()));
        }
        if let Some(s) = resp.headers().get(SESSION).and_then(|v| v.to_str().ok()) {
            *self
                .session
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(s.to_owned());
        }
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(McpError::Http {
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        let Some(id) = id else {
            return Ok(None);
        };
        let kind = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if kind.starts_with("text/event-stream") {
            let mut sse = SseParser::default();
            let mut read = 0usize;
            loop {
                let chunk = match resp.chunk().await {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => return Err(McpError::Transport(format!("reading the stream: {e}"))),
                };
                read += chunk.len();
                if read > MAX_BODY {
                    return Err(McpError::Protocol("the response stream is too long".into()));
                }
                for data in sse.push(&chunk) {
                    if let Some(v) = self.take_response(&data, id).await {
                        return v.map(Some);
                    }
                }
            }
            return Err(McpError::Protocol(
                "the event stream ended without the response".into(),
            ));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| McpError::Transport(format!("reading the response: {e}")))?;
        if bytes.len() > MAX_BODY {
            return Err(McpError::Protocol("the response is too long".into()));
        }
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| McpError::Protocol(format!("the response is not JSON: {e}")))?;
        let messages = match body {
            Value::Array(v) => v,
            one => vec![one],
        };
        for m in messages {
            if let Incoming::Response(got, r) = protocol::classify(&m)
                && got == id
            {
                return r.map(Some);
            }
        }
        Err(McpError::Protocol(
            "the response does not answer the request".into(),
        ))
    }

    /// The response to `id` in one SSE `data` payload, answering server requests on the way.
    async fn take_response(&self, data: &str, id: u64) -> Option<Result<Value, McpError>> {
        let msg: Value = serde_json::from_str(data).ok()?;
        match protocol::classify(&msg) {
            Incoming::Response(got, r) if got == id => Some(r),
            Incoming::Request(rid, method) => {
                let _ = Box::pin(self.post(&protocol::answer(&rid, &method), None)).await;
                None
            }
            _ => None,
        }
    }
}

/// Splits a byte stream into SSE events and returns their `data`.
#[derive(Debug, Default)]
struct SseParser {
    buf: String,
    data: Vec<String>,
}

impl SseParser {
    fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buf.push_str(&String::from_utf8_lossy(chunk));
        let mut out = Vec::new();
        while let Some(nl) = self.buf.find('\n') {
            let line: String = self.buf.drain(..=nl).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(self.data.join("\n"));
                    self.data.clear();
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                self.data.push(d.strip_prefix(' ').unwrap_or(d).to_owned());
            }
        }
        out
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn request(&self, method: &str, params: &Value) -> Result<Value, McpError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.post(&protocol::request(id, method, params), Some(id))
            .await?
            .ok_or_else(|| McpError::Protocol("no response".into()))
    }

    async fn notify(&self, method: &str, params: &Value) -> Result<(), McpError> {
        self.post(&protocol::notification(method, params), None)
            .await
            .map(|_| ())
    }

    fn ended(&self) -> watch::Receiver<Option<Ended>> {
        self.ended.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.push(b"event: message\ndata: {\"a\":").is_empty());
        assert_eq!(
            p.push(b"1}\n\n: ping\n\ndata: x\r\ndata: y\r\n\r\n"),
            vec!["{\"a\":1}".to_owned(), "x\ny".to_owned()]
        );
    }
}
