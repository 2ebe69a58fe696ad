//! Live events over WebSocket (`/ws/events`) and Server-Sent Events (`/api/stream`).

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use foreman_domain::{Scope, TicketId};
use foreman_events::{FollowItem, Follower, TypeFilter};
use futures::Stream;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{authenticate, bearer_from_header};
use crate::conn::ConnectionLease;
use crate::dto::LiveEventDto;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::live::{LiveEvent, LiveFilter, dropped_message};
use crate::state::AppState;
use crate::ws::{self, FromClient, close};

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
    mut req: Request,
) -> ApiResult<Response> {
    let headers = req.headers();
    let chosen = protocol_token(headers);
    let token = match (&chosen, bearer_from_header(headers)?) {
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
    let not_upgradable = |why: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("websocket upgrade required: {why}"))
    };
    let accept = ws::accept_key(req.headers()).map_err(|e| not_upgradable(&e))?;
    let on_upgrade = req
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| not_upgradable(&"the connection cannot be upgraded"))?;
    let follower = state.inner.live.follow(filter).await?;
    let limits = WsLimits::of(state.config());
    let closing = state.inner.closing.subscribe();
    // the connection stays busy (under the connection cap, never taken as idle) while the
    // WebSocket runs
    let busy = req
        .extensions()
        .get::<ConnectionLease>()
        .map(ConnectionLease::busy);
    tokio::spawn(async move {
        let _busy = busy;
        match on_upgrade.await {
            Ok(upgraded) => {
                run_ws(
                    hyper_util::rt::TokioIo::new(upgraded),
                    follower,
                    limits,
                    closing,
                )
                .await;
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    Ok(ws::switching_protocols(
        &accept,
        chosen.as_ref().map(|(protocol, _)| protocol.as_str()),
    ))
}

/// Most events written to a WebSocket at once, and the bytes after which a batch is written.
const WS_BATCH: usize = 1024;
const WS_BATCH_BYTES: usize = 512 * 1024;
/// Batches written on one wake-up before pings, client messages and shutdown are looked at.
const WS_BATCHES_PER_WAKE: usize = 4;

/// The time limits of one WebSocket.
#[derive(Debug, Clone, Copy)]
struct WsLimits {
    /// How often the server pings.
    keepalive: Duration,
    /// How long the client has to answer a ping (with a pong or any other frame).
    pong_timeout: Duration,
    /// How long one write may stall.
    write_timeout: Duration,
}

impl WsLimits {
    fn of(config: &crate::config::ApiConfig) -> Self {
        Self {
            keepalive: config.keepalive_interval(),
            pong_timeout: config.ws_pong_timeout,
            write_timeout: config.write_timeout,
        }
    }
}

/// Sends the follower's events until the client goes, the server shuts down or the log fails.
/// Each event's frame was encoded once by the relay; a batch of them is written with one
/// vectored write. A client that does not answer a ping within the pong timeout is closed
/// (1008), and so is one whose writes stall beyond the write timeout (dropped: nothing more can
/// be written to it).
async fn run_ws<S>(
    socket: S,
    mut follower: Follower<Arc<LiveEvent>>,
    limits: WsLimits,
    mut closing: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let _gauge = SubscriberGauge::new("websocket");
    let (reader, writer) = tokio::io::split(socket);
    let mut writer = TimedWriter {
        inner: writer,
        timeout: limits.write_timeout,
    };
    // When the client was last heard from, in ms since `started`.
    let started = tokio::time::Instant::now();
    let heard = Arc::new(AtomicU64::new(0));
    // What the client sends (pongs, pings, close) is read by a task of its own, so the writer
    // never polls the socket for reading beside every batch.
    let (from_client, mut client) = tokio::sync::mpsc::channel::<FromClient>(8);
    let reader_heard = heard.clone();
    let _reader = AbortOnDrop(tokio::spawn(async move {
        // a client that pings faster than its pongs go out loses pongs, not memory; the
        // reader ends at the client's close, and the writer sees the channel close with it
        let _ = ws::read_client(reader, |m| {
            reader_heard.store(millis_since(started), Ordering::Release);
            if matches!(
                m,
                FromClient::Ping(_) | FromClient::Close(_) | FromClient::Violation(..)
            ) {
                let _ = from_client.try_send(m);
            }
        })
        .await;
    }));
    let mut ping = tokio::time::interval(limits.keepalive);
    ping.tick().await;
    // The time of the ping a pong is awaited for, and the deadline of that pong.
    let mut awaiting: Option<u64> = None;
    let pong_deadline = tokio::time::sleep(limits.pong_timeout);
    tokio::pin!(pong_deadline);
    let mut batch: Vec<Frame> = Vec::with_capacity(WS_BATCH);
    loop {
        let out: Option<Frame> = tokio::select! {
            item = follower.next() => match item {
                Ok(Some(first)) => {
                    // a few batches while events keep coming, before looking at the rest again
                    let mut next = Some(first);
                    for _ in 0..WS_BATCHES_PER_WAKE {
                        if next.is_none() {
                            break;
                        }
                        batch.clear();
                        let mut bytes = 0;
                        while let Some(item) = next.take() {
                            let frame = Frame::from(item);
                            bytes += frame.bytes().len();
                            batch.push(frame);
                            if batch.len() < WS_BATCH && bytes < WS_BATCH_BYTES {
                                next = follower.try_next();
                            }
                        }
                        if writer.send_all(&batch).await.is_err() {
                            return;
                        }
                        next = follower.try_next();
                    }
                    next.map(Frame::from)
                }
                Ok(None) => {
                    let _ = writer.send(&ws::close_frame(close::GOING_AWAY, "server shutting down")).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live stream could not read the event log");
                    let _ = writer.send(&ws::close_frame(close::INTERNAL, "event log unavailable")).await;
                    return;
                }
            },
            message = client.recv() => match message {
                Some(FromClient::Ping(payload)) => {
                    Some(Frame::Own(ws::frame(ws::opcode::PONG, &payload)))
                }
                Some(FromClient::Close(code)) => {
                    let code = code.unwrap_or(close::NORMAL);
                    let _ = writer.send(&ws::close_frame(code, "")).await;
                    return;
                }
                Some(FromClient::Violation(code, why)) => {
                    tracing::debug!(code, reason = why, "websocket client broke the protocol");
                    let _ = writer.send(&ws::close_frame(code, why)).await;
                    return;
                }
                // the client went
                Some(FromClient::Pong | FromClient::Data) | None => return,
            },
            () = closed(&mut closing) => {
                let _ = writer.send(&ws::close_frame(close::GOING_AWAY, "server shutting down")).await;
                return;
            }
            () = &mut pong_deadline, if awaiting.is_some() => {
                if awaiting.is_some_and(|sent| heard.load(Ordering::Acquire) < sent) {
                    tracing::debug!("websocket client did not answer a ping in time");
                    let _ = writer.send(&ws::close_frame(close::POLICY, "no pong within the deadline")).await;
                    return;
                }
                awaiting = None;
                None
            }
            _ = ping.tick() => {
                if awaiting.is_none() {
                    awaiting = Some(millis_since(started));
                    pong_deadline.as_mut().reset(tokio::time::Instant::now() + limits.pong_timeout);
                }
                Some(Frame::Own(ws::frame(ws::opcode::PING, b"")))
            }
        };
        if let Some(frame) = out
            && writer.send_all(std::slice::from_ref(&frame)).await.is_err()
        {
            return;
        }
    }
}

/// A frame to send: an event's, shared with every subscriber (borrowed, not cloned: a
/// thousand subscribers bumping one reference count from two cores would fight over its cache
/// line), or one of this subscriber's own.
enum Frame {
    Event(Arc<LiveEvent>),
    Own(Bytes),
}

impl Frame {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Event(e) => &e.frame,
            Self::Own(b) => b,
        }
    }
}

impl From<FollowItem<Arc<LiveEvent>>> for Frame {
    fn from(item: FollowItem<Arc<LiveEvent>>) -> Self {
        match item {
            FollowItem::Item(e) => Self::Event(e),
            FollowItem::Dropped(n) => {
                Self::Own(ws::frame(ws::opcode::TEXT, dropped_message(n).as_bytes()))
            }
        }
    }
}

fn millis_since(started: tokio::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The WebSocket's writing half; each write fails with `TimedOut` when it stalls longer than
/// `timeout` (a client that stopped reading).
struct TimedWriter<W> {
    inner: W,
    timeout: Duration,
}

impl<W: AsyncWrite + Unpin> TimedWriter<W> {
    async fn within(
        &mut self,
        write: impl AsyncFnOnce(&mut W) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match tokio::time::timeout(self.timeout, write(&mut self.inner)).await {
            Ok(done) => done,
            Err(_) => {
                tracing::debug!("websocket write stalled; dropping the client");
                Err(std::io::ErrorKind::TimedOut.into())
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.within(async |w: &mut W| {
            w.write_all(bytes).await?;
            w.flush().await
        })
        .await
    }

    /// Writes the frames with as few vectored writes as the socket allows (one, usually): the
    /// kernel copies them straight from the relay's buffers.
    async fn send_all(&mut self, frames: &[Frame]) -> std::io::Result<()> {
        self.within(async |w: &mut W| {
            let mut slices: Vec<std::io::IoSlice<'_>> = frames
                .iter()
                .map(|f| std::io::IoSlice::new(f.bytes()))
                .collect();
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                let n = w.write_vectored(rest).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                std::io::IoSlice::advance_slices(&mut rest, n);
            }
            w.flush().await
        })
        .await
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
    let keepalive = state.config().keepalive_interval();
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
                Ok(Some(FollowItem::Item(e))) => {
                    SseEvent::default().id(e.seq.to_string()).data(&*e.json)
                }
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
