//! Live events over WebSocket and SSE: enrichment, filters, replay and resume without gaps or
//! duplicates, lag reporting, auth and shutdown.

use std::time::Duration;

use foreman_domain::{EventType, Scope, Ticket};
use futures::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::support::TestApp;

type Ws = WebSocketStream<TcpStream>;

const WAIT: Duration = Duration::from_secs(10);

enum WsAuth<'a> {
    Protocol(&'a str),
    Header(&'a str),
    Query(&'a str),
}

async fn connect(
    app: &TestApp,
    query: &str,
    auth: WsAuth<'_>,
) -> Result<(Ws, Option<String>), tungstenite::Error> {
    let sep = if query.is_empty() { "" } else { "&" };
    let url = match auth {
        WsAuth::Query(t) => format!("ws://{}/ws/events?token={t}{sep}{query}", app.addr),
        _ => format!("ws://{}/ws/events?{query}", app.addr),
    };
    let mut req = url.into_client_request().unwrap();
    match auth {
        WsAuth::Protocol(t) => {
            req.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(&format!("bearer.{t}")).unwrap(),
            );
        }
        WsAuth::Header(t) => {
            req.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
            );
        }
        WsAuth::Query(_) => {}
    }
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let (ws, resp) = client_async(req, tcp).await?;
    let proto = resp
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok((ws, proto))
}

/// The next text message as JSON (pings are skipped).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("ok");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Reads until `n` events (not lag notices) arrived; returns their seqs and the notices.
async fn read_events(ws: &mut Ws, n: usize) -> (Vec<i64>, Vec<Value>) {
    let mut seqs = Vec::new();
    let mut notices = Vec::new();
    while seqs.len() < n {
        let v = next_json(ws).await;
        if v["event_type"] == "events_dropped" {
            notices.push(v);
        } else {
            seqs.push(v["seq"].as_i64().unwrap());
        }
    }
    (seqs, notices)
}

async fn publish_n(app: &TestApp, t: &Ticket, n: usize) -> Vec<i64> {
    let mut seqs = Vec::with_capacity(n);
    for i in 0..n {
        seqs.push(
            app.publish(Some(t), EventType::AgentTurn, &format!("turn {i}"))
                .await,
        );
    }
    seqs
}

#[tokio::test]
async fn websocket_messages_are_enriched_events() {
    let app = TestApp::start().await;
    let t = app.ticket("W-1", "Add user authentication").await;
    let (mut ws, proto) = connect(&app, "", WsAuth::Protocol(&app.token))
        .await
        .unwrap();
    assert_eq!(
        proto.as_deref(),
        Some(format!("bearer.{}", app.token).as_str()),
        "subprotocol echoed"
    );
    let seq = app
        .publish(
            Some(&t),
            EventType::TaskSpecReviewPass,
            "Spec review passed",
        )
        .await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["seq"], seq);
    assert_eq!(v["event_type"], "task_spec_review_pass");
    assert_eq!(v["severity"], "info");
    assert_eq!(v["message"], "Spec review passed");
    assert_eq!(v["ticket_id"], t.id.to_string());
    assert_eq!(v["ticket_title"], "Add user authentication");
    assert_eq!(v["submitter"], "alice@example.com");
    for f in ["id", "task_id", "details", "created_at"] {
        assert!(v.get(f).is_some(), "{f}");
    }
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn websocket_accepts_header_and_query_tokens_and_refuses_others() {
    let app = TestApp::start().await;
    let t = app.ticket("W-2", "auth").await;
    let (mut a, proto) = connect(&app, "", WsAuth::Header(&app.token)).await.unwrap();
    assert_eq!(proto, None);
    let (mut b, _) = connect(&app, "", WsAuth::Query(&app.token)).await.unwrap();
    let seq = app.publish(Some(&t), EventType::TaskStarted, "go").await;
    assert_eq!(next_json(&mut a).await["seq"], seq);
    assert_eq!(next_json(&mut b).await["seq"], seq);
    for bad in [
        WsAuth::Protocol("wrong"),
        WsAuth::Header("wrong"),
        WsAuth::Query("wrong"),
    ] {
        match connect(&app, "", bad).await {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("connected with a bad token"),
        }
    }
    let no_scope = app.token_with("none", vec![Scope::Read]).await;
    assert!(connect(&app, "", WsAuth::Protocol(&no_scope)).await.is_ok());
    // A plain GET without the upgrade is a JSON 400 once authenticated.
    let r = app.get("/ws/events").send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn websocket_filters_by_ticket_and_type_glob() {
    let app = TestApp::start().await;
    let a = app.ticket("W-3", "a").await;
    let b = app.ticket("W-4", "b").await;
    let (mut by_ticket, _) = connect(
        &app,
        &format!("ticket_id={}", a.id),
        WsAuth::Protocol(&app.token),
    )
    .await
    .unwrap();
    let (mut by_type, _) = connect(
        &app,
        "types=task_*_fail,ticket_*",
        WsAuth::Protocol(&app.token),
    )
    .await
    .unwrap();
    app.publish(Some(&b), EventType::TaskStarted, "b started")
        .await;
    let a_fail = app
        .publish(Some(&a), EventType::TaskTestsFail, "a failed")
        .await;
    app.publish(Some(&b), EventType::AgentTurn, "b turn").await;
    let b_retry = app
        .publish(Some(&b), EventType::TicketRetried, "b retried")
        .await;
    let a_turn = app.publish(Some(&a), EventType::AgentTurn, "a turn").await;
    assert_eq!(read_events(&mut by_ticket, 2).await.0, [a_fail, a_turn]);
    assert_eq!(read_events(&mut by_type, 2).await.0, [a_fail, b_retry]);
    match connect(
        &app,
        "types=nothing_like_this",
        WsAuth::Protocol(&app.token),
    )
    .await
    {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 400),
        _ => panic!("a bad glob is refused"),
    }
}

#[tokio::test]
async fn websocket_reconnect_with_since_seq_loses_nothing() {
    let app = TestApp::start().await;
    let t = app.ticket("W-5", "resume").await;
    let (mut ws, _) = connect(&app, "", WsAuth::Protocol(&app.token))
        .await
        .unwrap();
    let first = publish_n(&app, &t, 5).await;
    let (got, _) = read_events(&mut ws, 3).await;
    assert_eq!(got, first[..3]);
    let last_seen = got[2];
    drop(ws);
    // Events keep coming while the client is away, and while it reconnects.
    let missed = publish_n(&app, &t, 4).await;
    let publisher = {
        let events = app.events.clone();
        let id = t.id.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..200 {
                use foreman_domain::EventLog;
                let e = foreman_domain::NewEvent::new(EventType::AgentTurn, format!("live {i}"))
                    .ticket(&id);
                seqs.push(events.append(e).await.unwrap().seq);
                if i % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            seqs
        })
    };
    let (mut ws, _) = connect(
        &app,
        &format!("since_seq={last_seen}"),
        WsAuth::Protocol(&app.token),
    )
    .await
    .unwrap();
    let live = publisher.await.unwrap();
    let mut expected: Vec<i64> = first[3..].to_vec();
    expected.extend(&missed);
    expected.extend(&live);
    let (got, _) = read_events(&mut ws, expected.len()).await;
    assert_eq!(got, expected, "every event exactly once, in order");
    // And nothing more than that.
    let after = app.publish(Some(&t), EventType::TaskDone, "done").await;
    assert_eq!(read_events(&mut ws, 1).await.0, [after]);
}

#[tokio::test]
async fn a_lagging_websocket_is_told_and_catches_up_from_the_log() {
    let app = TestApp::builder()
        .config(|c| c.live_buffer = 1)
        .start()
        .await;
    let t = app.ticket("W-6", "lag").await;
    let (mut ws, _) = connect(&app, "", WsAuth::Protocol(&app.token))
        .await
        .unwrap();
    // Live first: one event read proves the subscriber caught up and is following the hub.
    let warm = publish_n(&app, &t, 1).await;
    assert_eq!(read_events(&mut ws, 1).await.0, warm);
    // A burst without yielding: the relay outruns this subscriber's one-slot buffer.
    let seqs = publish_n(&app, &t, 60).await;
    let (got, notices) = read_events(&mut ws, seqs.len()).await;
    assert_eq!(got, seqs, "all events arrive, in order, once");
    assert!(!notices.is_empty(), "the subscriber was told it lagged");
    assert!(notices.iter().all(|n| n["count"].as_u64().unwrap() > 0));
}

fn parse_sse(buf: &str) -> Vec<(Option<i64>, Option<Value>, bool)> {
    buf.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut id = None;
            let mut data = None;
            let mut comment = false;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str(v.trim()).ok();
                } else if line.starts_with(':') {
                    comment = true;
                }
            }
            (id, data, comment)
        })
        .collect()
}

/// Reads SSE events until `n` with an id arrived; returns (ids, saw a comment).
async fn read_sse(resp: reqwest::Response, n: usize) -> (Vec<i64>, bool, Vec<Value>) {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    loop {
        let parsed = parse_sse(buf.rsplit_once("\n\n").map_or("", |(done, _)| done));
        let ids: Vec<i64> = parsed.iter().filter_map(|(id, _, _)| *id).collect();
        if ids.len() >= n {
            let comment = parsed.iter().any(|(_, _, c)| *c);
            let data = parsed.into_iter().filter_map(|(_, d, _)| d).collect();
            return (ids, comment, data);
        }
        let chunk = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("sse data in time")
            .expect("open")
            .unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn sse_resumes_with_last_event_id() {
    let app = TestApp::start().await;
    let t = app.ticket("S-1", "sse").await;
    let seqs = publish_n(&app, &t, 6).await;
    let r = app
        .client
        .get(app.url("/api/stream?since_seq=0"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (ids, _, data) = read_sse(r, 3).await;
    assert_eq!(ids[..3], seqs[..3]);
    assert_eq!(data[0]["ticket_title"], "sse");
    let more = publish_n(&app, &t, 3).await;
    let r = app
        .client
        .get(app.url(&format!("/api/stream?token={}", app.token)))
        .header("last-event-id", ids[2].to_string())
        .send()
        .await
        .unwrap();
    let mut expected = seqs[3..].to_vec();
    expected.extend(&more);
    let (ids, _, _) = read_sse(r, expected.len()).await;
    assert_eq!(
        ids, expected,
        "every event after Last-Event-ID exactly once, in order"
    );
    let r = app.client.get(app.url("/api/stream")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .get("/api/stream")
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn sse_sends_keepalive_comments() {
    let app = TestApp::builder()
        .config(|c| c.keepalive = Duration::from_millis(50))
        .start()
        .await;
    let t = app.ticket("S-2", "quiet").await;
    let r = app.get("/api/stream").send().await.unwrap();
    let reader = tokio::spawn(read_sse(r, 1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.publish(Some(&t), EventType::TaskStarted, "finally")
        .await;
    let (_, comment, _) = reader.await.unwrap();
    assert!(comment, "a keepalive comment arrived while idle");
}

#[tokio::test]
async fn shutdown_closes_live_streams() {
    let app = TestApp::start().await;
    let (mut ws, _) = connect(&app, "", WsAuth::Protocol(&app.token))
        .await
        .unwrap();
    let sse = app.get("/api/stream").send().await.unwrap();
    tokio::time::timeout(WAIT, app.stop())
        .await
        .expect("graceful shutdown does not hang");
    let msg = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
    match msg {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    let rest = tokio::time::timeout(WAIT, sse.bytes()).await.unwrap();
    assert!(rest.is_ok(), "the sse stream ended cleanly");
}

/// The global feed's newest pages come from the live relay's ring once it has the events, and
/// are then exactly what the store answers (`since_seq=0` always asks the store). An event
/// appended by another process (straight to the store, never relayed) and a deleted ticket are
/// seen at once.
#[tokio::test]
async fn the_feed_served_from_recent_events_matches_the_store() {
    let app = TestApp::start().await;
    let t = app.ticket("R-1", "ring").await;
    let other = app.ticket("R-2", "other").await;
    let (mut ws, _) = connect(&app, "", WsAuth::Protocol(&app.token))
        .await
        .unwrap();
    let mut seqs = publish_n(&app, &t, 20).await;
    seqs.push(
        app.publish(Some(&other), EventType::TaskTestsFail, "fail")
            .await,
    );
    seqs.push(app.publish(None, EventType::DaemonStarted, "up").await);
    // the relay puts an event into the ring before any subscriber gets it
    read_events(&mut ws, seqs.len()).await;

    for query in [
        "limit=5",
        "limit=5&offset=3",
        "limit=500",
        "types=task_*&limit=10",
        &format!("ticket_id={}&limit=4", t.id),
        &format!("ticket_id={}&limit=50&offset=18", t.id),
    ] {
        let (status, ring) = app.get_json(&format!("/api/events?{query}")).await;
        assert_eq!(status, 200, "{query}");
        let (_, store) = app
            .get_json(&format!("/api/events?{query}&since_seq=0"))
            .await;
        assert_eq!(ring, store, "{query}");
    }
    let (_, page) = app.get_json("/api/events?limit=3").await;
    assert_eq!(page[0]["event_type"], "daemon_started");
    assert_eq!(page[1]["ticket_title"], "other");
    assert_eq!(page[2]["message"], "turn 19");

    // a deleted ticket's events leave the feed with it (the ring holds them until the
    // deletion's event reaches it, and the store is ahead of the ring until then)
    let r = app
        .delete(&format!("/api/tickets/{}", t.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (deleted, _) = read_events(&mut ws, 1).await;
    let (_, all) = app.get_json("/api/events?limit=500").await;
    let all = all.as_array().unwrap();
    assert!(
        all.iter().all(|e| e["ticket_id"] != t.id.as_str()),
        "{all:?}"
    );
    assert_eq!(all[0]["event_type"], "ticket_deleted");
    assert_eq!(all[0]["seq"], deleted[0]);
    assert_eq!(
        all.len(),
        3,
        "other's failure, daemon_started, ticket_deleted"
    );

    // appended elsewhere: the ring is behind the store, which answers
    let elsewhere = app
        .store
        .append(
            foreman_domain::NewEvent::new(EventType::AgentTurn, "from another node")
                .ticket(&other.id),
        )
        .await
        .unwrap();
    let (_, page) = app.get_json("/api/events?limit=2").await;
    assert_eq!(page[0]["seq"], elsewhere.seq);
    assert_eq!(page[0]["message"], "from another node");
    assert_eq!(page[1]["seq"], deleted[0]);
}
