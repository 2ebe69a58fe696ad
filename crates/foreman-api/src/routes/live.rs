//! Live events over WebSocket (`/ws/events`) and Server-Sent Events (`/api/stream`).

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use foreman_domain::{Scope, TicketId};
use foreman_events::{FollowItem, Follower, TypeFilter};
use futures::{SinkExt, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::watch;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{authenticate, bearer_from_header};
use crate::dto::LiveEventDto;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::live::{LiveEvent, LiveFilter, dropped_message};
use crate::state::AppState;

/// Most messages written to a WebSocket before flushing.
const WS_BATCH: usize = 256;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ws_events))
        .routes(routes!(sse_stream))
}

/// Filters and resume point of a live stream.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LiveQuery {
    /// Only this ticket's events.
    ticket_id: Option<String>,
    /// Only these types: comma-separated globs such as `ticket_*,task_*`.
    types: Option<String>,
    /// Replay every stored event after this seq before going live.
    since_seq: Option<i64>,
    /// The token, for clients that cannot set headers (deprecated on the WebSocket route).
    token: Option<String>,
}

impl LiveQuery {
    fn filter(&self, since: Option<i64>) -> ApiResult<LiveFilter> {
        let types = TypeFilter::parse(self.types.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(format!("types: {e}")))?;
        if since.is_some_and(|s| s < 0) {
            return Err(ApiError::BadRequest(
                "since_seq: must not be negative".to_owned(),
            ));
        }
        Ok(LiveFilter {
            ticket_id: self
                .ticket_id
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(TicketId::from),
            types,
            since_seq: since,
        })
    }
}

/// Counts connected subscribers per transport while alive.
struct SubscriberGauge(&'static str);

impl SubscriberGauge {
    fn new(transport: &'static str) -> Self {
        metrics::gauge!("foreman_live_subscribers", "transport" => transport).increment(1.0);
        Self(transport)
    }
}

impl Drop for SubscriberGauge {
    fn drop(&mut self) {
        metrics::gauge!("foreman_live_subscribers", "transport" => self.0).decrement(1.0);
    }
}

/// Finds a token in a `Sec-WebSocket-Protocol` offer such as `bearer.<token>`.
fn protocol_token(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| {
            p.strip_prefix("bearer.")
                .map(|t| (p.to_owned(), t.to_owned()))
        })
}

/// Live events over a WebSocket.
///
/// Authenticate with the subprotocol `bearer.<token>` (echoed back), an `Authorization: Bearer`
/// header, or `?token=` (deprecated). Each text message is an event with its ticket's title and
/// submitter. With `since_seq`, stored events after it are replayed first, so a reconnecting
/// client misses nothing. A client that falls behind receives
/// `{"event_type":"events_dropped","count":N}` and then the missed events from the log.
#[utoipa::path(get, path = "/ws/events", tag = "live", params(LiveQuery),
    responses((status = 101, description = "switching to the websocket protocol; messages are LiveEventDto"),
        (status = 200, description = "message shape (never returned as a response)", body = LiveEventDto)))]
pub(crate) async fn ws_events(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let chosen = protocol_token(&headers);
    let token = match (&chosen, bearer_from_header(&headers)?) {
        (Some((_, t)), _) => Some(t.clone()),
        (None, Some(t)) => Some(t),
        (None, None) => {
            if q.token.is_some() {
                tracing::warn!(
                    "websocket token passed in the query string; this is deprecated, use the \
                     `bearer.<token>` subprotocol"
                );
            }
            q.token.clone()
        }
    };
    authenticate(&state, token.as_deref(), Scope::Read).await?;
    let filter = q.filter(q.since_seq)?;
    let mut ws = ws.map_err(|e| {
        ApiError::BadRequest(format!(
            "websocket upgrade required: {}",
            e.body_text().to_lowercase()
        ))
    })?;
    if let Some((protocol, _)) = chosen {
        ws = ws.protocols([protocol]);
    }
    let follower = state.inner.live.follow(filter).await?;
    let keepalive = state.config().keepalive;
    let closing = state.inner.closing.subscribe();
    Ok(ws.on_upgrade(move |socket| run_ws(socket, follower, keepalive, closing)))
}

async fn run_ws(
    socket: WebSocket,
    mut follower: Follower<Arc<LiveEvent>>,
    keepalive: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let _gauge = SubscriberGauge::new("websocket");
    let (mut tx, mut rx) = socket.split();
    // What the client sends (pongs, close) is read by a task of its own: polling the socket for
    // reading beside every batch of events would cost a read attempt (and the zeroing of a read
    // buffer) per batch and subscriber.
    let (gone_tx, mut gone) = tokio::sync::oneshot::channel::<()>();
    let _reader = AbortOnDrop(tokio::spawn(async move {
        while let Some(Ok(message)) = rx.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
        let _ = gone_tx.send(());
    }));
    let mut ping = tokio::time::interval(keepalive);
    ping.tick().await;
    loop {
        tokio::select! {
            item = follower.next() => match item {
                Ok(Some(first)) => {
                    let mut batch = Some(first);
                    let mut written = 0;
                    while let Some(item) = batch.take() {
                        if tx.feed(ws_message(item)).await.is_err() {
                            return;
                        }
                        written += 1;
                        if written < WS_BATCH {
                            batch = follower.try_next();
                        }
                    }
                    if tx.flush().await.is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    let _ = tx.send(close(1001, "server shutting down")).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live stream could not read the event log");
                    let _ = tx.send(close(1011, "event log unavailable")).await;
                    return;
                }
            },
            _ = &mut gone => return,
            () = closed(&mut closing) => {
                let _ = tx.send(close(1001, "server shutting down")).await;
                return;
            }
            _ = ping.tick() => {
                if tx.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes once the server starts shutting down.
pub(crate) async fn closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

fn ws_message(item: FollowItem<Arc<LiveEvent>>) -> Message {
    match item {
        FollowItem::Item(e) => Message::Text(e.json.clone()),
        FollowItem::Dropped(n) => Message::Text(dropped_message(n).into()),
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Live events as Server-Sent Events.
///
/// Authenticate with `Authorization: Bearer` or `?token=` (browsers' `EventSource` cannot set
/// headers). Each event has `id: <seq>`; reconnecting with `Last-Event-ID` (or `since_seq`)
/// replays what was missed. A comment is sent every 15 s to keep proxies from closing the
/// stream.
#[utoipa::path(get, path = "/api/stream", tag = "live", params(LiveQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this seq")),
    responses((status = 200, description = "an event stream of LiveEventDto messages",
        body = LiveEventDto, content_type = "text/event-stream")))]
pub(crate) async fn sse_stream(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let token = match bearer_from_header(&headers)? {
        Some(t) => Some(t),
        None => q.token.clone(),
    };
    authenticate(&state, token.as_deref(), Scope::Read).await?;
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::BadRequest("last-event-id: must be an event seq".to_owned())
                })?,
        ),
    };
    let filter = q.filter(last_event_id.or(q.since_seq))?;
    let follower = state.inner.live.follow(filter).await?;
    let keepalive = state.config().keepalive;
    let closing = state.inner.closing.subscribe();
    Ok(Sse::new(sse_events(follower, closing))
        .keep_alive(KeepAlive::new().interval(keepalive).text("keepalive"))
        .into_response())
}

fn sse_events(
    follower: Follower<Arc<LiveEvent>>,
    closing: watch::Receiver<bool>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
    let gauge = SubscriberGauge::new("sse");
    futures::stream::unfold(
        (follower, gauge, closing),
        |(mut f, gauge, mut closing)| async move {
            let next = tokio::select! {
                next = f.next() => next,
                () = closed(&mut closing) => return None,
            };
            let event = match next {
                Ok(Some(FollowItem::Item(e))) => SseEvent::default()
                    .id(e.seq.to_string())
                    .data(e.json.as_str()),
                Ok(Some(FollowItem::Dropped(n))) => SseEvent::default().data(dropped_message(n)),
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "live stream could not read the event log");
                    return None;
                }
            };
            Some((Ok(event), (f, gauge, closing)))
        },
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn finds_the_bearer_subprotocol() {
        let mut h = HeaderMap::new();
        h.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("json, bearer.fmn_abc"),
        );
        assert_eq!(
            protocol_token(&h),
            Some(("bearer.fmn_abc".to_owned(), "fmn_abc".to_owned()))
        );
        assert_eq!(protocol_token(&HeaderMap::new()), None);
    }

    use crate::auth::AuthError;

    #[test]
    fn auth_errors_map_to_status() {
        assert_eq!(ApiError::from(AuthError::Missing).status().as_u16(), 401);
        assert_eq!(
            ApiError::from(AuthError::Insufficient(Scope::Admin))
                .status()
                .as_u16(),
            403
        );
    }
}
