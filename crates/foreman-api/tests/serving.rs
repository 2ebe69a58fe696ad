//! Serving defences on real loopback sockets: the header-read and keep-alive timeouts, the
//! connection cap, WebSocket limits (pong deadline, frame and ping sizes, close codes), body
//! limits per route and the rate limits per identity. Each defence has a control showing the
//! behaviour without it (or just inside it).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use foreman_api::ApiConfig;
use foreman_domain::{NewApiToken, Scope, Store};
use foreman_events::EventHub;
use foreman_testkit::MemoryStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A server on a loopback port with `config`, and an admin token.
struct Server {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    token: String,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start(config: impl FnOnce(&mut ApiConfig)) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut c = ApiConfig::default();
        config(&mut c);
        let store = MemoryStore::new().shared();
        let app = foreman_api::app(store.clone(), EventHub::default(), c);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(foreman_api::serve(listener, app, async move {
            let _ = rx.await;
        }));
        let mut server = Self {
            addr,
            store,
            token: String::new(),
            _stop: tx,
        };
        server.token = server.new_token("admin").await;
        server
    }

    async fn new_token(&self, name: &str) -> String {
        let (new, secret) = NewApiToken::generate(name, vec![Scope::Admin], None);
        self.store.create_token(new).await.unwrap();
        secret.expose().to_owned()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status of `GET /api/tickets` with the admin token.
    async fn list_tickets(&self, client: &reqwest::Client) -> u16 {
        let r = client
            .get(self.url("/api/tickets"))
            .bearer_auth(&self.token);
        r.send().await.unwrap().status().as_u16()
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }
}

/// Reads one response (head and a `content-length` body) or until the peer closes; returns the
/// status (0 when nothing came), the head and the body.
async fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, head, body);
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return (0, String::new(), String::new()),
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether the peer has closed `stream` (EOF or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn health_request() -> &'static [u8] {
    b"GET /api/health HTTP/1.1\r\nhost: test\r\n\r\n"
}

/// Sends a request head one byte every 5 s until the server disconnects or `bytes` were sent;
/// returns how many bytes went out and whether the server disconnected.
async fn pace_one_byte_every_5s(stream: TcpStream, bytes: usize) -> (usize, bool) {
    let (mut reader, mut writer) = stream.into_split();
    let mut closed = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    let head = health_request();
    let mut sent = 0;
    while sent < bytes {
        if writer.write_all(&head[sent..=sent]).await.is_err() {
            return (sent, true);
        }
        sent += 1;
        tokio::select! {
            _ = &mut closed => return (sent, true),
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
    (sent, false)
}

#[tokio::test]
async fn a_client_sending_one_byte_every_5s_is_disconnected_by_the_header_timeout() {
    let server = Server::start(|c| c.header_read_timeout = Duration::from_secs(12)).await;
    let (sent, disconnected) = pace_one_byte_every_5s(server.connect().await, 6).await;
    assert!(disconnected, "the slow client was not disconnected");
    // the pacing happened (several bytes, 5 s apart), and the head never completed
    assert!(sent >= 2, "{sent}");
    assert!(sent < health_request().len());
}

#[tokio::test]
async fn control_without_a_short_header_timeout_the_same_slow_client_holds_its_connection() {
    let server = Server::start(|c| c.header_read_timeout = Duration::from_secs(600)).await;
    let mut stream = server.connect().await;
    let head = health_request();
    let mut sent = 0;
    for _ in 0..3 {
        stream.write_all(&head[sent..=sent]).await.unwrap();
        sent += 1;
        assert!(
            !closed_within(&mut stream, Duration::from_secs(5)).await,
            "closed after {sent} bytes"
        );
    }
    // still open after 15 s of pacing: the rest of the head is answered
    stream.write_all(&head[sent..]).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
}

/// A server with `keep_alive` and a long header-read timeout, and a connection to it that has
/// been answered once.
async fn answered_connection(keep_alive: Duration) -> (Server, TcpStream) {
    let server = Server::start(|c| {
        c.keep_alive_timeout = keep_alive;
        c.header_read_timeout = Duration::from_secs(600);
    })
    .await;
    let mut stream = server.connect().await;
    stream.write_all(health_request()).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    (server, stream)
}

#[tokio::test]
async fn an_answered_keep_alive_connection_is_closed_when_idle() {
    let (_server, mut stream) = answered_connection(Duration::from_millis(300)).await;
    assert!(closed_within(&mut stream, Duration::from_secs(10)).await);

    // control: with a long keep-alive timeout the connection serves a second request later
    let (_server, mut stream) = answered_connection(Duration::from_secs(600)).await;
    assert!(!closed_within(&mut stream, Duration::from_secs(1)).await);
    stream.write_all(health_request()).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
}

/// Raises this process's descriptor limit to at least `want` (up to the hard limit) and
/// returns the soft limit now in force.
fn raise_fd_limit(want: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let target = want.min(hard).max(soft);
    setrlimit(Resource::RLIMIT_NOFILE, target, hard).unwrap();
    target
}

/// Opens up to `n` connections that never send anything; stops early if the process runs out
/// of descriptors.
async fn idle_flood(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        match TcpStream::connect(addr).await {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    idle
}

#[tokio::test]
async fn ten_thousand_idle_connections_do_not_stop_a_normal_client() {
    let limit = raise_fd_limit(20_000);
    assert!(
        limit >= 15_000,
        "descriptor limit {limit} too low for this test"
    );
    // only the cap protects here: idle connections are never timed out during the test
    let server = Server::start(|c| {
        c.header_read_timeout = Duration::from_secs(600);
        c.max_connections = 4096;
    })
    .await;
    let mut idle = idle_flood(server.addr, 10_000).await;
    assert_eq!(idle.len(), 10_000);
    assert_eq!(server.list_tickets(&reqwest::Client::new()).await, 200);
    // the oldest idle connections made room: closed by the server, not by a timeout
    assert!(closed_within(&mut idle[0], Duration::from_secs(10)).await);
    assert!(!closed_within(idle.last_mut().unwrap(), Duration::from_millis(100)).await);
}

#[tokio::test]
async fn control_without_a_cap_idle_connections_exhaust_descriptors_and_lock_a_client_out() {
    // Lowering the limit would break other tests sharing this process; nextest gives each test
    // a process of its own.
    if std::env::var("NEXTEST_EXECUTION_MODE").as_deref() != Ok("process-per-test") {
        eprintln!("skipped: needs a process of its own (cargo nextest)");
        return;
    }
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, 1024, hard).unwrap();
    let run = async |cap: usize| {
        let server = Server::start(|c| {
            c.header_read_timeout = Duration::from_secs(600);
            c.max_connections = cap;
        })
        .await;
        // the normal client's socket exists before the flood, so only the server can lack a
        // descriptor for it
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        let idle = idle_flood(server.addr, 600).await;
        let served = async {
            let mut stream = socket.connect(server.addr).await.ok()?;
            stream.write_all(health_request()).await.ok()?;
            Some(read_response(&mut stream).await.0)
        };
        let status = tokio::time::timeout(Duration::from_secs(5), served)
            .await
            .ok()
            .flatten();
        drop(idle);
        status
    };
    // with a cap the server keeps descriptors in hand: the client is served
    assert_eq!(run(200).await, Some(200));
    // without one, the same idle connections (two descriptors each in this process) take them
    // all
    assert_ne!(run(0).await, Some(200));
}

#[tokio::test]
async fn at_the_cap_an_idle_connection_makes_room_and_busy_ones_do_not() {
    let server = Server::start(|c| {
        c.max_connections = 4;
        c.header_read_timeout = Duration::from_secs(600);
    })
    .await;
    // four live streams: every connection has a request in flight
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut s = server.connect().await;
        let request = format!(
            "GET /api/stream HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {}\r\n\r\n",
            server.token
        );
        s.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        streams.push(s);
    }
    let mut fifth = server.connect().await;
    fifth.write_all(health_request()).await.unwrap();
    let (status, head, body) = read_response(&mut fifth).await;
    assert_eq!(status, 503, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], 503);
    assert!(body["error"].as_str().unwrap().contains("connection limit"));

    // control: once a stream ends, a new client is served
    drop(streams.pop());
    let mut served = false;
    for _ in 0..100 {
        let mut s = server.connect().await;
        s.write_all(health_request()).await.unwrap();
        if read_response(&mut s).await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);

    // idle connections (no request yet) are taken, oldest first, instead of refusing
    let server = Server::start(|c| {
        c.max_connections = 4;
        c.header_read_timeout = Duration::from_secs(600);
    })
    .await;
    let mut idle = idle_flood(server.addr, 4).await;
    let mut newcomer = server.connect().await;
    newcomer.write_all(health_request()).await.unwrap();
    assert_eq!(read_response(&mut newcomer).await.0, 200);
    assert!(closed_within(&mut idle[0], Duration::from_secs(10)).await);
    assert!(!closed_within(&mut idle[3], Duration::from_millis(100)).await);
}

// ---- WebSocket ----

/// Opens `/ws/events` with a hand-written handshake.
async fn websocket(server: &Server) -> TcpStream {
    let mut s = server.connect().await;
    let request = format!(
        "GET /ws/events HTTP/1.1\r\nhost: test\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         authorization: Bearer {}\r\n\r\n",
        server.token
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [9u8, 8, 7, 6];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | u8::try_from(n).unwrap()),
        n => {
            out.push(0x80 | 126);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads one server frame: opcode and payload; `None` at the end of the stream.
async fn server_frame(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7F {
        126 => usize::from(s.read_u16().await.ok()?),
        127 => usize::try_from(s.read_u64().await.ok()?).ok()?,
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0F, payload))
}

/// Reads frames until a close frame (its code) or the end of the stream, answering pings with
/// pongs when `answer_pings`; `Err(pings)` when `wait` passes first.
async fn until_close(
    s: &mut TcpStream,
    answer_pings: bool,
    wait: Duration,
) -> Result<Option<u16>, usize> {
    let mut pings = 0;
    let read = async {
        while let Some((op, payload)) = server_frame(s).await {
            match op {
                0x8 => return Some(u16::from_be_bytes([payload[0], payload[1]])),
                0x9 => {
                    pings += 1;
                    if answer_pings {
                        s.write_all(&client_frame(0xA, &payload)).await.ok()?;
                    }
                }
                _ => {}
            }
        }
        None
    };
    match tokio::time::timeout(wait, read).await {
        Ok(code) => Ok(code),
        Err(_) => Err(pings),
    }
}

fn fast_pings(c: &mut ApiConfig) {
    c.keepalive = Duration::from_millis(100);
    // long enough for an answering client on a loaded machine
    c.ws_pong_timeout = Duration::from_secs(1);
}

#[tokio::test]
async fn a_websocket_client_that_never_answers_pings_is_closed() {
    let server = Server::start(fast_pings).await;
    let mut ws = websocket(&server).await;
    let code = until_close(&mut ws, false, Duration::from_secs(30)).await;
    assert_eq!(code, Ok(Some(1008)));
    assert!(closed_within(&mut ws, Duration::from_secs(10)).await);

    // control: a client that answers stays connected through many pings
    let mut ws = websocket(&server).await;
    // (three pong deadlines long)
    match until_close(&mut ws, true, Duration::from_secs(3)).await {
        Err(pings) => assert!(pings >= 5, "{pings}"),
        Ok(code) => panic!("an answering client was closed: {code:?}"),
    }
}

#[tokio::test]
async fn oversized_pings_and_frames_are_refused_not_echoed() {
    let server = Server::start(|_| {}).await;
    // control: a ping of 125 bytes (the protocol's maximum) is answered with the same payload
    let mut ws = websocket(&server).await;
    ws.write_all(&client_frame(0x9, &[b'p'; 125]))
        .await
        .unwrap();
    assert_eq!(server_frame(&mut ws).await, Some((0xA, vec![b'p'; 125])));
    // 64 KiB used to be echoed; now anything over 125 bytes is a protocol error (1002)
    ws.write_all(&client_frame(0x9, &[b'p'; 126]))
        .await
        .unwrap();
    let (op, payload) = server_frame(&mut ws).await.unwrap();
    assert_eq!(
        (op, u16::from_be_bytes([payload[0], payload[1]])),
        (0x8, 1002)
    );
    assert!(closed_within(&mut ws, Duration::from_secs(10)).await);
    // a data frame over 4 KiB: message too big (1009)
    assert_eq!(
        close_after(&server, client_frame(0x1, &[b'd'; 5000])).await,
        Some(1009)
    );
}

/// The code of the close frame the server answers `frame` with, on a new WebSocket.
async fn close_after(server: &Server, frame: Vec<u8>) -> Option<u16> {
    let mut ws = websocket(server).await;
    ws.write_all(&frame).await.unwrap();
    until_close(&mut ws, true, Duration::from_secs(10))
        .await
        .expect("no close within 10 s")
}

#[tokio::test]
async fn an_invalid_close_code_is_not_echoed() {
    let server = Server::start(|_| {}).await;
    // 1005 means "no code" and may never be sent: answered with a protocol error
    let invalid = client_frame(0x8, &1005u16.to_be_bytes());
    assert_eq!(close_after(&server, invalid).await, Some(1002));
    // control: an application code is echoed
    let valid = client_frame(0x8, &4000u16.to_be_bytes());
    assert_eq!(close_after(&server, valid).await, Some(4000));
}

// ---- body limits ----

#[tokio::test]
async fn body_limits_are_per_route() {
    let server = Server::start(|_| {}).await;
    let client = reqwest::Client::new();
    let big = vec![b' '; 300 * 1024];
    let r = client
        .post(server.url("/api/tickets"))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], 413);
    // control: a webhook may carry up to body_limit_bytes (1 MiB); it gets past the limit
    // (here to "webhooks are not configured")
    let r = client
        .post(server.url("/api/webhooks/github"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 413);
    // and a GET carries no body worth more than 4 KiB
    let r = client
        .get(server.url("/api/tickets"))
        .bearer_auth(&server.token)
        .body(vec![b'x'; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

// ---- rate limits ----

async fn create_ticket(
    client: &reqwest::Client,
    server: &Server,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(server.url("/api/tickets"))
        .json(&serde_json::json!({"title": "rate limited", "description": "d"}));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap()
}

async fn assert_rate_limited(response: reqwest::Response) {
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 429);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn writes_are_limited_per_token() {
    let server = Server::start(|c| c.write_requests_per_minute = 3).await;
    let other = server.new_token("other").await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            create_ticket(&client, &server, Some(&server.token))
                .await
                .status(),
            201
        );
    }
    assert_rate_limited(create_ticket(&client, &server, Some(&server.token)).await).await;
    // control: another token from the same address has its own allowance
    assert_eq!(
        create_ticket(&client, &server, Some(&other)).await.status(),
        201
    );
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn without_a_valid_token_writes_are_limited_per_address() {
    let server = Server::start(|c| c.write_requests_per_minute = 3).await;
    let first = client_from("127.0.0.1");
    for _ in 0..3 {
        assert_eq!(create_ticket(&first, &server, None).await.status(), 401);
    }
    assert_rate_limited(create_ticket(&first, &server, None).await).await;
    // inventing tokens gains nothing: an invalid token counts against the address
    assert_rate_limited(create_ticket(&first, &server, Some("fmn_invented")).await).await;
    // control: another address has its own allowance
    let second = client_from("127.0.0.2");
    assert_eq!(create_ticket(&second, &server, None).await.status(), 401);
}

async fn forwarded(client: &reqwest::Client, server: &Server, xff: &str) -> reqwest::Response {
    client
        .post(server.url("/api/tickets"))
        .header("x-forwarded-for", xff)
        .json(&serde_json::json!({"title": "t"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forwarded_for_is_honoured_only_from_trusted_proxies() {
    let trusted = Server::start(|c| {
        c.write_requests_per_minute = 3;
        c.trusted_proxies = foreman_api::parse_trusted_proxies(&["127.0.0.1".into()]).unwrap();
    })
    .await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            forwarded(&client, &trusted, "203.0.113.1").await.status(),
            401
        );
    }
    assert_rate_limited(forwarded(&client, &trusted, "203.0.113.1").await).await;
    // another client behind the same proxy has its own allowance
    assert_eq!(
        forwarded(&client, &trusted, "203.0.113.2").await.status(),
        401
    );
    // a hop the client wrote before the proxy's is not believed
    assert_rate_limited(forwarded(&client, &trusted, "198.51.100.7, 203.0.113.1").await).await;

    // control: from a peer that is not a trusted proxy the header is ignored, so changing it
    // escapes nothing
    let untrusted = Server::start(|c| c.write_requests_per_minute = 3).await;
    for i in 0..3 {
        let xff = format!("203.0.113.{i}");
        assert_eq!(forwarded(&client, &untrusted, &xff).await.status(), 401);
    }
    assert_rate_limited(forwarded(&client, &untrusted, "203.0.113.99").await).await;
}

#[tokio::test]
async fn by_default_writes_are_limited_and_reads_are_not() {
    let server = Server::start(|_| {}).await;
    let client = reqwest::Client::new();
    let allowance = foreman_api::DEFAULT_WRITE_REQUESTS_PER_MINUTE;
    for _ in 0..allowance + 50 {
        assert_eq!(server.list_tickets(&client).await, 200);
    }
    // control: the same number of writes runs out of the default allowance
    let mut refused = None;
    for i in 0..allowance + 50 {
        let r = client
            .post(server.url("/api/tickets"))
            .bearer_auth(&server.token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            refused = Some(i);
            assert_rate_limited(r).await;
            break;
        }
    }
    let refused = refused.expect("writes were never limited");
    assert!(refused >= allowance, "{refused}");
}
