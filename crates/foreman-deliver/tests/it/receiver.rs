//! A local webhook receiver that records what it gets and answers as told.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, post};

/// One received request.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Debug, Default)]
struct Inner {
    got: Vec<Received>,
    /// Answers to give first, then 200.
    script: Vec<u16>,
    /// Sleep this long before answering.
    stall: Option<Duration>,
    /// Answer every request with this.
    always: Option<u16>,
}

/// A receiver bound on a local address.
#[derive(Debug, Clone)]
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

async fn hook(State(r): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let (status, stall) = {
        let mut i = r.lock().unwrap();
        i.got.push(Received { headers, body });
        let status = if let Some(s) = i.always {
            s
        } else if i.script.is_empty() {
            200
        } else {
            i.script.remove(0)
        };
        (status, i.stall)
    };
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    pub(crate) async fn start_on(bind: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    /// A receiver that redirects every request to `to`.
    pub(crate) async fn redirecting(to: String) -> SocketAddr {
        let app = Router::new().route(
            "/hook",
            any(move || {
                let to = to.clone();
                async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub(crate) fn got(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    pub(crate) fn clear(&self) {
        self.inner.lock().unwrap().got.clear();
    }

    pub(crate) fn answer_first(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script = statuses.to_vec();
    }

    pub(crate) fn always(&self, status: Option<u16>) {
        self.inner.lock().unwrap().always = status;
    }

    pub(crate) fn stall(&self, d: Option<Duration>) {
        self.inner.lock().unwrap().stall = d;
    }
}
