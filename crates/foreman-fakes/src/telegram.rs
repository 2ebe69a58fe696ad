//! A fake Telegram Bot API: `getUpdates` (long polling that honours `offset` and `timeout`,
//! confirming every update below the offset as Telegram does) and `sendMessage` (`chat_id`,
//! `text`, `reply_parameters` or the older `reply_to_message_id`), under
//! `/bot<token>/<method>`, answering `{"ok": true, "result": ...}` or
//! `{"ok": false, "error_code": N, "description": "...", "parameters": {"retry_after": s}}`.
//!
//! A test plays the users ([`FakeTelegram::user_says`], [`FakeTelegram::user_replies`]), reads
//! what the bot sent ([`FakeTelegram::sent`]), revokes the token (401 on every call) and
//! queues flood-control refusals (429 with `retry_after`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::common::Running;

/// A message the bot sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotMessage {
    /// The chat.
    pub chat_id: i64,
    /// The id the fake gave it.
    pub message_id: i64,
    /// The text.
    pub text: String,
    /// The message it replied to, from `reply_parameters.message_id` or `reply_to_message_id`.
    pub reply_to: Option<i64>,
}

/// A refusal queued for the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelegramFault {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    FloodWait {
        /// Seconds.
        retry_after: u64,
    },
    /// 500 `Internal Server Error`.
    ServerError,
    /// 403 `Forbidden: bot was blocked by the user`.
    Blocked,
}

#[derive(Debug, Default)]
struct TelegramState {
    token: String,
    revoked: bool,
    next_update: i64,
    /// Per chat, the last message id given.
    next_message: BTreeMap<i64, i64>,
    /// Updates not yet confirmed.
    pending: Vec<Value>,
    sent: Vec<BotMessage>,
    faults: VecDeque<TelegramFault>,
    calls: BTreeMap<String, u64>,
    offsets: Vec<Option<i64>>,
}

impl TelegramState {
    fn message_id(&mut self, chat: i64) -> i64 {
        let n = self.next_message.entry(chat).or_insert(0);
        *n += 1;
        *n
    }
}

type Shared = Arc<(Mutex<TelegramState>, Notify)>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, TelegramState> {
    s.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake Telegram Bot API for one bot.
#[derive(Debug)]
pub struct FakeTelegram {
    server: Running,
    state: Shared,
}

impl FakeTelegram {
    /// Starts a fake bot API accepting `token`.
    pub async fn start(token: &str) -> Self {
        let state: Shared = Arc::new((
            Mutex::new(TelegramState {
                token: token.to_owned(),
                next_update: 1,
                ..TelegramState::default()
            }),
            Notify::new(),
        ));
        let router = Router::new()
            .route("/{bot}/{method}", any(method))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            server: Running::new(format!("http://{addr}"), task),
            state,
        }
    }

    /// The base URL (`https://api.telegram.org` in production).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// A user writes `text` in their private chat (chat id = user id); returns the message id.
    pub fn user_says(&self, user_id: i64, username: Option<&str>, text: &str) -> i64 {
        self.push(user_id, username, text, None)
    }

    /// A user replies to the bot's message `reply_to` in their private chat.
    pub fn user_replies(
        &self,
        user_id: i64,
        username: Option<&str>,
        text: &str,
        reply_to: i64,
    ) -> i64 {
        self.push(user_id, username, text, Some(reply_to))
    }

    fn push(&self, user_id: i64, username: Option<&str>, text: &str, reply_to: Option<i64>) -> i64 {
        let id = {
            let mut s = lock(&self.state);
            let chat = json!({"id": user_id, "type": "private", "first_name": "User"});
            let mut from = json!({"id": user_id, "is_bot": false, "first_name": "User"});
            if let Some(u) = username {
                from["username"] = json!(u);
            }
            let message_id = s.message_id(user_id);
            let mut message = json!({
                "message_id": message_id,
                "from": from,
                "chat": chat,
                "date": 1_800_000_000,
                "text": text,
            });
            if let Some(r) = reply_to {
                let original = s
                    .sent
                    .iter()
                    .find(|m| m.chat_id == user_id && m.message_id == r)
                    .map(|m| m.text.clone())
                    .unwrap_or_default();
                message["reply_to_message"] = json!({
                    "message_id": r,
                    "from": {"id": 1, "is_bot": true, "first_name": "Foreman", "username": "foreman_bot"},
                    "chat": chat,
                    "date": 1_800_000_000,
                    "text": original,
                });
            }
            let update_id = s.next_update;
            s.next_update += 1;
            s.pending
                .push(json!({"update_id": update_id, "message": message}));
            message_id
        };
        self.state.1.notify_waiters();
        id
    }

    /// What the bot sent, oldest first.
    #[must_use]
    pub fn sent(&self) -> Vec<BotMessage> {
        lock(&self.state).sent.clone()
    }

    /// What the bot sent to `chat`, oldest first.
    #[must_use]
    pub fn sent_to(&self, chat: i64) -> Vec<BotMessage> {
        lock(&self.state)
            .sent
            .iter()
            .filter(|m| m.chat_id == chat)
            .cloned()
            .collect()
    }

    /// Every call from now on is refused with 401 (a token revoked with BotFather).
    pub fn revoke_token(&self) {
        lock(&self.state).revoked = true;
        self.state.1.notify_waiters();
    }

    /// Refuses the next call with `fault` (several queue up in order).
    pub fn fail_next(&self, fault: TelegramFault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// How often `method` (`getUpdates`, `sendMessage`) was called, refusals included.
    #[must_use]
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.state).calls.get(method).copied().unwrap_or(0)
    }

    /// The `offset` of every `getUpdates` call, in order.
    #[must_use]
    pub fn offsets(&self) -> Vec<Option<i64>> {
        lock(&self.state).offsets.clone()
    }

    /// Updates delivered but not yet confirmed by a later offset.
    #[must_use]
    pub fn unconfirmed(&self) -> usize {
        lock(&self.state).pending.len()
    }
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

fn refuse(code: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(s) = retry_after {
        body["parameters"] = json!({"retry_after": s});
    }
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

/// Parameters from the query string and a JSON or form body, as Telegram accepts both.
fn params(query: Option<&str>, body: &[u8]) -> Value {
    let mut out = serde_json::Map::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = serde_json::from_str(v).unwrap_or_else(|_| json!(v));
        out.insert(k.to_owned(), v);
    }
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
        out.extend(m);
    }
    Value::Object(out)
}

fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

async fn method(
    State(state): State<Shared>,
    Path((bot, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(query.as_deref(), &body);
    {
        let mut s = lock(&state);
        *s.calls.entry(name.clone()).or_insert(0) += 1;
        let token_ok = bot.strip_prefix("bot").is_some_and(|t| t == s.token);
        if !token_ok || s.revoked {
            return refuse(401, "Unauthorized", None);
        }
        if let Some(f) = s.faults.pop_front() {
            return match f {
                TelegramFault::FloodWait { retry_after } => refuse(
                    429,
                    &format!("Too Many Requests: retry after {retry_after}"),
                    Some(retry_after),
                ),
                TelegramFault::ServerError => refuse(500, "Internal Server Error", None),
                TelegramFault::Blocked => {
                    refuse(403, "Forbidden: bot was blocked by the user", None)
                }
            };
        }
    }
    match name.as_str() {
        "getUpdates" => get_updates(&state, &p).await,
        "sendMessage" => send_message(&state, &p),
        "getMe" => {
            ok(json!({"id": 1, "is_bot": true, "first_name": "Foreman", "username": "foreman_bot"}))
        }
        _ => refuse(404, "Not Found: method not found", None),
    }
}

async fn get_updates(state: &Shared, p: &Value) -> Response {
    let offset = as_i64(p.get("offset"));
    let timeout = as_i64(p.get("timeout")).unwrap_or(0).clamp(0, 50);
    let limit = as_i64(p.get("limit")).unwrap_or(100).clamp(1, 100);
    lock(state).offsets.push(offset);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout.unsigned_abs());
    loop {
        // registered before the check, so an update pushed in between wakes this poll
        let notified = state.1.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut s = lock(state);
            if s.revoked {
                return refuse(401, "Unauthorized", None);
            }
            if let Some(o) = offset {
                s.pending
                    .retain(|u| as_i64(u.get("update_id")).is_some_and(|id| id >= o));
            }
            let ready: Vec<Value> = s
                .pending
                .iter()
                .take(usize::try_from(limit).unwrap_or(100))
                .cloned()
                .collect();
            if !ready.is_empty() {
                return ok(Value::Array(ready));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

fn send_message(state: &Shared, p: &Value) -> Response {
    let Some(chat_id) = as_i64(p.get("chat_id")) else {
        return refuse(400, "Bad Request: chat_id is empty", None);
    };
    let text = p.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.is_empty() {
        return refuse(400, "Bad Request: message text is empty", None);
    }
    if text.chars().count() > 4096 {
        return refuse(400, "Bad Request: message is too long", None);
    }
    let reply_to = as_i64(p.pointer("/reply_parameters/message_id"))
        .or_else(|| as_i64(p.get("reply_to_message_id")));
    let mut s = lock(state);
    let message_id = s.message_id(chat_id);
    s.sent.push(BotMessage {
        chat_id,
        message_id,
        text: text.to_owned(),
        reply_to,
    });
    let mut result = json!({
        "message_id": message_id,
        "from": {"id": 1, "is_bot": true, "first_name": "Foreman", "username": "foreman_bot"},
        "chat": {"id": chat_id, "type": "private"},
        "date": 1_800_000_000,
        "text": text,
    });
    if let Some(r) = reply_to {
        result["reply_to_message"] = json!({"message_id": r, "chat": {"id": chat_id, "type": "private"}, "date": 1_800_000_000});
    }
    ok(result)
}
