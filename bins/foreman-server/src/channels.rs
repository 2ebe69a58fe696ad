//! The chat channels (`[channels.telegram]`): the Telegram adapter (`foreman-channel`) under
//! the pipeline's conversation loop (`foreman_pipeline::chat`), started beside the daemon and
//! stopped at shutdown, and their health for `/api/status` (the [`Connectivity`] probe the API
//! is given).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use async_trait::async_trait;
use foreman_api::{ChannelHealth, Connectivity, McpHealth};
use foreman_channel::{TelegramChannel, TelegramSettings};
use foreman_config::Config;
use foreman_domain::{EventLog, Store};
use foreman_pipeline::chat::{ChatHealth, ChatLoop, ChatSettings};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

/// The running chat channels.
#[derive(Debug)]
pub struct Channels {
    health: Vec<(String, ChatHealth)>,
    tasks: Vec<JoinHandle<()>>,
    stop: CancellationToken,
    // a start-up failure after the channels started stops them too
    _guard: DropGuard,
}

/// Starts the configured channels; `None` when none is enabled.
///
/// # Errors
/// A channel that cannot be built from its configuration (the message never holds the token).
pub fn spawn(
    config: &Config,
    store: Arc<dyn Store>,
    events: Arc<dyn EventLog>,
) -> Result<Option<Channels>> {
    let t = &config.channels.telegram;
    if !t.enabled {
        return Ok(None);
    }
    let channel = TelegramChannel::new(TelegramSettings {
        name: "telegram".into(),
        token: t.token.clone(),
        base_url: t.base_url.clone(),
        poll_timeout: t.poll_timeout(),
    })
    .map_err(|e| anyhow!("channels.telegram: {e}"))?;
    let chat = ChatLoop::new(
        Arc::new(channel),
        store,
        events,
        ChatSettings {
            project: t.project.clone(),
            allowed_senders: t.allowed_senders.clone(),
            ..ChatSettings::default()
        },
    );
    let health = vec![(chat.name().to_owned(), chat.health())];
    let stop = CancellationToken::new();
    tracing::info!(
        channel = "telegram",
        allowed_senders = t.allowed_senders.len(),
        "chat channel enabled"
    );
    let tasks = vec![tokio::spawn(chat.run(stop.clone()))];
    Ok(Some(Channels {
        health,
        tasks,
        _guard: stop.clone().drop_guard(),
        stop,
    }))
}

impl Channels {
    /// The probe `/api/status` reads the channels' health through.
    #[must_use]
    pub fn connectivity(&self) -> Arc<dyn Connectivity> {
        Arc::new(ChannelProbe {
            channels: self.health.clone(),
        })
    }

    /// Stops every channel and waits for its loop to end.
    pub async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Reports each channel's [`ChatHealth`]; no MCP servers.
#[derive(Debug)]
pub struct ChannelProbe {
    channels: Vec<(String, ChatHealth)>,
}

impl ChannelProbe {
    /// A probe over the given channels' health.
    #[must_use]
    pub fn new(channels: Vec<(String, ChatHealth)>) -> Self {
        Self { channels }
    }
}

#[async_trait]
impl Connectivity for ChannelProbe {
    async fn channels(&self) -> BTreeMap<String, ChannelHealth> {
        self.channels
            .iter()
            .map(|(name, h)| {
                let s = h.snapshot();
                (
                    name.clone(),
                    ChannelHealth {
                        connected: s.connected,
                        last_error: s.last_error,
                        last_poll_at: s.last_poll_at,
                    },
                )
            })
            .collect()
    }

    async fn mcp_servers(&self) -> BTreeMap<String, McpHealth> {
        BTreeMap::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use foreman_domain::{NewApiToken, Scope};
    use foreman_fakes::FakeTelegram;
    use foreman_testkit::MemoryStore;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// One request over a fresh connection; the status code and the JSON body.
    async fn call(
        addr: std::net::SocketAddr,
        method: &str,
        path: &str,
        token: &str,
    ) -> (u16, serde_json::Value) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw);
        let status = text[9..12].parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        (
            status,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_status_reports_the_bot_and_a_revoked_token_makes_it_unhealthy() {
        let fake = FakeTelegram::start("1:tok").await;
        let store = MemoryStore::new().shared();
        let mut config = Config::default();
        config.channels.telegram.enabled = true;
        config.channels.telegram.token = "1:tok".into();
        config.channels.telegram.base_url = fake.url().to_owned();
        config.channels.telegram.poll_timeout = "1s".into();
        config.channels.telegram.allowed_senders = vec!["alice".into()];
        let channels = spawn(&config, store.clone(), store.clone())
            .unwrap()
            .expect("enabled");
        let (admin, secret) = NewApiToken::generate("admin", vec![Scope::Admin], None);
        store.create_token(admin).await.unwrap();
        let (reader, read_secret) = NewApiToken::generate("reader", vec![Scope::Read], None);
        store.create_token(reader).await.unwrap();
        let hub = foreman_events::EventHub::default();
        let app = foreman_api::app(store.clone(), hub, foreman_api::ApiConfig::default())
            .with_connectivity(channels.connectivity());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn({
            let stop = stop.clone();
            async move { foreman_api::serve(listener, app, stop.cancelled_owned()).await }
        });

        // connected once the first long poll answered
        let mut body = serde_json::Value::Null;
        for _ in 0..400 {
            let (status, b) = call(addr, "GET", "/api/status", secret.expose()).await;
            assert_eq!(status, 200, "{b}");
            if b["channels"]["telegram"]["connected"] == true {
                body = b;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(body["channels"]["telegram"]["connected"], true, "{body}");

        // a pairing code: admin only, for a channel that runs
        let (status, issued) = call(
            addr,
            "POST",
            "/api/channels/telegram/pairings",
            secret.expose(),
        )
        .await;
        assert_eq!(status, 201, "{issued}");
        let code = issued["code"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 8, "{issued}");
        let (status, _) = call(
            addr,
            "POST",
            "/api/channels/telegram/pairings",
            read_secret.expose(),
        )
        .await;
        assert_eq!(status, 403);
        let (status, b) = call(
            addr,
            "POST",
            "/api/channels/slack/pairings",
            secret.expose(),
        )
        .await;
        assert_eq!(status, 404, "{b}");
        assert!(b["error"].is_string(), "{b}");
        // the code issued over the API pairs a stranger with the running bot
        fake.user_says(9, Some("stranger"), &format!("/pair {code}"));
        for _ in 0..600 {
            if !fake.sent_to(9).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let told = fake.sent_to(9);
        assert!(
            told.first().is_some_and(|m| m.text.starts_with("Paired")),
            "{told:?}"
        );

        fake.revoke_token();
        let mut body = serde_json::Value::Null;
        for _ in 0..600 {
            let (_, b) = call(addr, "GET", "/api/status", secret.expose()).await;
            if b["channels"]["telegram"]["connected"] == false {
                body = b;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let telegram = &body["channels"]["telegram"];
        assert_eq!(telegram["connected"], false, "{body}");
        assert!(
            telegram["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("credentials"),
            "{body}"
        );
        assert!(!body.to_string().contains("1:tok"));
        stop.cancel();
        server.await.unwrap().unwrap();
        channels.stop().await;
    }
}
