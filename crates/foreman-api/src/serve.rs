//! Serving the router over plain TCP or TLS, with graceful shutdown, on hyper's HTTP/1
//! connection builder: a header-read timeout (hyper's, with Tokio's timer), a keep-alive
//! timeout, a write timeout on every socket (responses, SSE and upgraded WebSockets alike) and
//! a cap on the connections served at once.
//!
//! At the cap, a new connection takes the place of the longest-open connection that has no
//! request in flight (an idle keep-alive or a client that never sent a request), so idle
//! connections cannot lock clients out; when every connection is busy, the new one is answered
//! `503` with the JSON error body and closed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

use crate::config::{ApiConfig, TlsFiles};
use crate::conn::{Busy, ConnectionLease, Permit, Tracked, Tracker};
use crate::error::ErrorBody;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the rustls server configuration from PEM files.
///
/// # Errors
/// Unreadable files, no certificate, no key, or a key that does not match.
pub fn tls_config(files: &TlsFiles) -> io::Result<rustls::ServerConfig> {
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("tls {what} {}: {e}", path.display()),
        )
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad("certificate", &files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", &files.cert, &e))?;
    if certs.is_empty() {
        return Err(bad("certificate", &files.cert, &"no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad("key", &files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("setup", &files.cert, &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("key", &files.key, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// How the listener serves connections: the socket-level limits of [`ApiConfig`] and TLS.
pub(crate) struct ServeOptions {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub tls: Option<TlsAcceptor>,
}

impl ServeOptions {
    pub fn new(config: &ApiConfig, tls: Option<rustls::ServerConfig>) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
            write_timeout: config.write_timeout,
            max_connections: config.max_connections,
            tls: tls.map(|c| TlsAcceptor::from(Arc::new(c))),
        }
    }
}

/// Connections answered 503 at once at most; beyond it, refused connections are just closed.
const REFUSALS_AT_ONCE: usize = 64;

/// How long answering a refused connection may take (TLS handshake, reading its request head,
/// writing the 503).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections finish.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        // hyper's default limit of 100 headers stays: setting any limit moves the parser's
        // header array from the stack to the heap
        .keep_alive(true);
    let builder = Arc::new(builder);
    let tracker = Arc::new(Tracker::new(options.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let options = Arc::new(options);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Usually out of descriptors; back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // no Nagle delay: a response or a batch of live events goes out when written
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(peer = %peer, error = %e, "cannot set TCP_NODELAY");
        }
        let Some(permit) = tracker.admit() else {
            refuse(tcp, peer, options.tls.clone(), &refusals);
            continue;
        };
        let connection = Connection {
            permit,
            peer,
            router: router.clone(),
            builder: builder.clone(),
            options: options.clone(),
            stop: stop_rx.clone(),
        };
        connections.spawn(connection.run(tcp));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// One accepted connection and what serving it needs.
struct Connection {
    permit: Arc<Permit>,
    peer: SocketAddr,
    router: Router,
    builder: Arc<hyper::server::conn::http1::Builder>,
    options: Arc<ServeOptions>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    async fn run(self, tcp: TcpStream) {
        let peer = self.peer;
        let write_timeout = self.options.write_timeout;
        match self.options.tls.clone() {
            None => self.serve(TimedIo::new(tcp, write_timeout)).await,
            Some(acceptor) => {
                let handshake = acceptor.accept(TimedIo::new(tcp, write_timeout));
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(tls)) => self.serve(tls).await,
                    Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "tls handshake failed"),
                    Err(_) => tracing::debug!(peer = %peer, "tls handshake timed out"),
                }
            }
        }
    }

    async fn serve<S>(mut self, io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let slot = self.permit.slot.clone();
        let permit = self.permit.clone();
        let router = self.router.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let busy = Busy::new(&permit);
            let extensions = req.extensions_mut();
            extensions.insert(ConnectInfo::<SocketAddr>(peer));
            extensions.insert(ConnectionLease(permit.clone()));
            let response = router.clone().oneshot(req);
            async move {
                let response = match response.await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| Tracked { body, _busy: busy }),
                )
            }
        });
        let conn = self
            .builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(conn);
        let keep_alive = self.options.keep_alive_timeout;
        let idle_check = tokio::time::sleep(keep_alive);
        tokio::pin!(idle_check);
        let mut closing = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = slot.evict.notified() => {
                    tracing::debug!(peer = %peer, "idle connection closed to make room");
                    return;
                }
                () = crate::routes::live::closed(&mut self.stop), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = &mut idle_check, if !closing => {
                    match slot.idle_for(keep_alive) {
                        None => {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        Some(wait) => idle_check.as_mut().reset(tokio::time::Instant::now() + wait),
                    }
                }
            }
        }
    }
}

/// Answers a connection beyond the cap with `503` and closes it, unless too many refusals are
/// already under way, in which case it is closed at once.
fn refuse(tcp: TcpStream, peer: SocketAddr, tls: Option<TlsAcceptor>, refusals: &Arc<Semaphore>) {
    tracing::debug!(peer = %peer, "connection refused: at the connection cap");
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let answer = async {
            match tls {
                None => answer_refused(tcp).await,
                Some(acceptor) => answer_refused(acceptor.accept(tcp).await?).await,
            }
        };
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, answer).await;
    });
}

/// The `503` of a refused connection, in the API's JSON error format.
pub(crate) fn refused_response() -> Vec<u8> {
    let body = serde_json::to_string(&ErrorBody {
        error: "the server is at its connection limit; retry shortly".to_owned(),
        code: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
    })
    .unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads the request head (so closing does not reset the connection under the client's
/// request), writes the 503 and closes.
async fn answer_refused<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    io.write_all(&refused_response()).await?;
    io.shutdown().await
}

/// A socket whose writes fail with `TimedOut` once one has made no progress for `timeout`: a
/// client that stops reading cannot hold a response, an SSE stream or a WebSocket for ever.
struct TimedIo<T> {
    inner: T,
    timeout: Duration,
    /// Armed while a write is pending.
    stalled: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl<T> TimedIo<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
            armed: false,
        }
    }

    /// After a write attempt: disarms on progress; on `Pending`, arms the deadline (or polls
    /// it) and fails once it has passed.
    fn check<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let sleep = match &mut self.stalled {
            Some(sleep) => {
                if !self.armed {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self
                .stalled
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.armed = true;
        if sleep.as_mut().poll(cx).is_ready() {
            self.armed = false;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "write to the client stalled",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.check(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.check(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.check(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.check(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_that_stalls_past_the_timeout_fails() {
        // the other end never reads: the 64-byte pipe fills and the write stalls
        let (near, _far) = tokio::io::duplex(64);
        let mut io = TimedIo::new(near, Duration::from_millis(50));
        let err = io.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);

        // control: a client that keeps reading, in small pieces, is never cut off
        let (near, mut far) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while let Ok(n) = far.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            got.len()
        });
        let mut io = TimedIo::new(near, Duration::from_secs(5));
        io.write_all(&[0u8; 4096]).await.unwrap();
        io.shutdown().await.unwrap();
        drop(io);
        assert_eq!(reader.await.unwrap(), 4096);
    }

    #[test]
    fn the_refusal_is_the_json_error_format() {
        let text = String::from_utf8(refused_response()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("retry-after: 1"));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], 503);
        assert!(body["error"].as_str().unwrap().contains("connection limit"));
    }
}
