//! The Telegram Bot API: `POST <base>/bot<token>/getUpdates` and `…/sendMessage`, JSON bodies,
//! answers `{"ok": true, "result": …}` or `{"ok": false, "error_code": N, "description": "…",
//! "parameters": {"retry_after": s}}`.

use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use foreman_domain::channel::{Channel, ChatMessage, Inbox, SentMessage};
use foreman_domain::remote::RemoteError;
use serde::Deserialize;
use serde_json::{Value, json};

/// Telegram's Bot API.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// The service name in errors.
const SERVICE: &str = "telegram";

/// The longest text `sendMessage` takes (in characters).
const MAX_TEXT_CHARS: usize = 4096;

/// The longest flood-control wait `send` sleeps through before giving up.
const MAX_SEND_WAIT: Duration = Duration::from_secs(60);

/// Sends refused by flood control that `send` retries (after the wait Telegram asks for).
const SEND_RETRIES: u32 = 3;

/// How the bot reaches Telegram.
#[derive(Clone)]
pub struct TelegramSettings {
    /// The channel's name (`telegram`).
    pub name: String,
    /// The token BotFather gave.
    pub token: String,
    /// The API's base URL ([`TELEGRAM_API`]; a fake's in tests).
    pub base_url: String,
    /// How long one `getUpdates` waits for a message (Telegram's `timeout`).
    pub poll_timeout: Duration,
}

impl std::fmt::Debug for TelegramSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramSettings")
            .field("name", &self.name)
            .field("token", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("poll_timeout", &self.poll_timeout)
            .finish()
    }
}

impl TelegramSettings {
    /// The production API with a 30-second long poll.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            name: "telegram".into(),
            token: token.into(),
            base_url: TELEGRAM_API.into(),
            poll_timeout: Duration::from_secs(30),
        }
    }
}

/// A Telegram bot as a [`Channel`].
pub struct TelegramChannel {
    settings: TelegramSettings,
    base: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for TelegramChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramChannel")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

static INSTALL: Once = Once::new();

/// Installs rustls' `ring` provider as the process default once (reqwest is built without one).
fn install_crypto_provider() {
    INSTALL.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

impl TelegramChannel {
    /// A client for `settings`.
    ///
    /// # Errors
    /// [`RemoteError::Invalid`] for a base URL that is not http(s), or an empty token.
    pub fn new(settings: TelegramSettings) -> Result<Self, RemoteError> {
        install_crypto_provider();
        let invalid = |message: String| RemoteError::Invalid {
            service: SERVICE,
            message,
        };
        let base = settings.base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(invalid(format!("base url {base:?} is not http(s)")));
        }
        if settings.token.trim().is_empty() || settings.token.contains(['/', '?', '#', ' ']) {
            return Err(invalid("the bot token is empty or malformed".into()));
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("foreman/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| invalid(format!("building the client: {}", e.without_url())))?;
        Ok(Self {
            settings,
            base,
            client,
        })
    }

    /// Calls `method` with `body`; the answer's `result`.
    async fn call(
        &self,
        method: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, RemoteError> {
        let url = format!("{}/bot{}/{method}", self.base, self.settings.token);
        let response = self
            .client
            .post(url)
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| RemoteError::Transport {
                service: SERVICE,
                message: e.without_url().to_string(),
            })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| RemoteError::Transport {
            service: SERVICE,
            message: e.without_url().to_string(),
        })?;
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|e| {
            if status == 200 {
                RemoteError::Decode {
                    service: SERVICE,
                    message: format!("{method}: {e}"),
                }
            } else {
                refusal(status, "", None)
            }
        })?;
        if answer.ok && status == 200 {
            return Ok(answer.result.unwrap_or(Value::Null));
        }
        let code = answer.error_code.unwrap_or(status);
        Err(refusal(
            code,
            answer.description.as_deref().unwrap_or_default(),
            answer.parameters.and_then(|p| p.retry_after),
        ))
    }
}

/// Telegram's answer envelope.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    result: Option<Value>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

/// A refusal as the domain's [`RemoteError`].
fn refusal(code: u16, description: &str, retry_after: Option<u64>) -> RemoteError {
    match code {
        // 404 is what Telegram answers for a malformed token (`/bot<garbage>/getUpdates`)
        401 | 404 => RemoteError::Unauthorized { service: SERVICE },
        403 => RemoteError::Forbidden {
            service: SERVICE,
            message: description.to_owned(),
        },
        409 => RemoteError::Conflict {
            service: SERVICE,
            message: description.to_owned(),
        },
        429 => RemoteError::RateLimited {
            service: SERVICE,
            retry_after: retry_after.map(Duration::from_secs),
        },
        status => RemoteError::Status {
            service: SERVICE,
            status,
            message: description.to_owned(),
        },
    }
}

/// An update as `getUpdates` returns it (only what Foreman reads).
#[derive(Debug, Deserialize)]
struct Update {
    update_id: i64,
    message: Option<Message>,
}

#[derive(Debug, Deserialize)]
struct Message {
    message_id: i64,
    from: Option<User>,
    chat: Chat,
    text: Option<String>,
    caption: Option<String>,
    reply_to_message: Option<Box<Message>>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: i64,
    username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
}

impl Message {
    fn into_chat(self, update_id: i64) -> Option<ChatMessage> {
        // a message without a sender is a channel post: nobody to answer or to allow
        let from = self.from?;
        Some(ChatMessage {
            update_id,
            chat_id: self.chat.id.to_string(),
            message_id: self.message_id.to_string(),
            sender_id: from.id.to_string(),
            sender_username: from.username,
            text: self.text.or(self.caption).unwrap_or_default(),
            reply_to_message_id: self.reply_to_message.map(|m| m.message_id.to_string()),
        })
    }
}

/// A chat id as Telegram takes it: a number, or a string (`@channelname`).
fn chat_id_value(chat_id: &str) -> Value {
    chat_id
        .parse::<i64>()
        .map_or_else(|_| json!(chat_id), |n| json!(n))
}

#[async_trait]
impl Channel for TelegramChannel {
    fn name(&self) -> &str {
        &self.settings.name
    }

    async fn receive(&self, offset: Option<i64>) -> Result<Inbox, RemoteError> {
        let timeout = self.settings.poll_timeout;
        let mut body = json!({
            "timeout": timeout.as_secs(),
            "allowed_updates": ["message"],
        });
        if let Some(o) = offset {
            body["offset"] = json!(o);
        }
        // the HTTP timeout outlasts the long poll, so a quiet chat is not a transport error
        let result = self
            .call("getUpdates", &body, timeout + Duration::from_secs(15))
            .await?;
        let updates: Vec<Update> =
            serde_json::from_value(result).map_err(|e| RemoteError::Decode {
                service: SERVICE,
                message: format!("getUpdates: {e}"),
            })?;
        let next_offset = updates.iter().map(|u| u.update_id + 1).max();
        let messages = updates
            .into_iter()
            .filter_map(|u| u.message.and_then(|m| m.into_chat(u.update_id)))
            .collect();
        Ok(Inbox {
            messages,
            next_offset,
        })
    }

    async fn send(
        &self,
        chat_id: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, RemoteError> {
        let text: String = text.chars().take(MAX_TEXT_CHARS).collect();
        let mut body = json!({"chat_id": chat_id_value(chat_id), "text": text});
        if let Some(id) = reply_to.and_then(|r| r.parse::<i64>().ok()) {
            body["reply_parameters"] = json!({
                "message_id": id,
                "allow_sending_without_reply": true,
            });
        }
        let mut retries = 0;
        loop {
            match self
                .call("sendMessage", &body, Duration::from_secs(30))
                .await
            {
                Ok(result) => {
                    let message_id = result
                        .get("message_id")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| RemoteError::Decode {
                            service: SERVICE,
                            message: "sendMessage: no message_id".into(),
                        })?;
                    return Ok(SentMessage {
                        message_id: message_id.to_string(),
                    });
                }
                // flood control: wait as asked, within reason, and send again
                Err(RemoteError::RateLimited {
                    retry_after: Some(wait),
                    ..
                }) if retries < SEND_RETRIES && wait <= MAX_SEND_WAIT => {
                    retries += 1;
                    tracing::info!(
                        channel = %self.settings.name,
                        wait_secs = wait.as_secs(),
                        "telegram flood control; waiting before sending again"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_the_domain_errors() {
        assert!(matches!(
            refusal(401, "Unauthorized", None),
            RemoteError::Unauthorized { .. }
        ));
        assert!(matches!(
            refusal(404, "Not Found", None),
            RemoteError::Unauthorized { .. }
        ));
        assert_eq!(
            refusal(429, "Too Many Requests: retry after 7", Some(7)),
            RemoteError::RateLimited {
                service: SERVICE,
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            refusal(
                409,
                "Conflict: terminated by other getUpdates request",
                None
            ),
            RemoteError::Conflict { .. }
        ));
        assert!(matches!(
            refusal(502, "Bad Gateway", None),
            RemoteError::Status { status: 502, .. }
        ));
    }

    #[test]
    fn the_token_is_never_shown() {
        let s = TelegramSettings::new("123456:SECRET-TOKEN");
        assert!(!format!("{s:?}").contains("SECRET"));
        let c = TelegramChannel::new(s).unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
        assert!(TelegramChannel::new(TelegramSettings::new("")).is_err());
        assert!(TelegramChannel::new(TelegramSettings::new("a/b")).is_err());
    }

    #[test]
    fn numeric_chat_ids_are_numbers() {
        assert_eq!(chat_id_value("-1001"), json!(-1001));
        assert_eq!(chat_id_value("@news"), json!("@news"));
    }
}
