//! `[channels.telegram]`: the chat channel on Telegram's Bot API (long polling: no inbound port).

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::parse_duration;

/// `[channels]`: chat channels. One adapter so far: `telegram`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// `[channels.telegram]`.
    pub telegram: TelegramChannelConfig,
}

/// `[channels.telegram]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramChannelConfig {
    /// Run the bot.
    pub enabled: bool,
    /// The token BotFather gave (`${TELEGRAM_BOT_TOKEN}`); never logged or shown.
    pub token: String,
    /// The Bot API's base URL.
    pub base_url: String,
    /// Senders who may talk to the bot without pairing: handles (`alice`, `@alice`) or
    /// numeric user ids.
    pub allowed_senders: Vec<String>,
    /// The project chat tickets go to (empty: the default project).
    pub project: String,
    /// How long one long poll waits for messages (Telegram allows up to 50 s).
    pub poll_timeout: String,
}

impl Default for TelegramChannelConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            token: String::new(),
            base_url: "https://api.telegram.org".into(),
            allowed_senders: Vec::new(),
            project: String::new(),
            poll_timeout: "30s".into(),
        }
    }
}

impl TelegramChannelConfig {
    /// The long poll's timeout (30 s when unparsable; `validate` refuses that).
    #[must_use]
    pub fn poll_timeout(&self) -> std::time::Duration {
        parse_duration(&self.poll_timeout).unwrap_or(std::time::Duration::from_secs(30))
    }
}

impl ChannelsConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.telegram;
        if !t.enabled {
            return Ok(());
        }
        if t.token.trim().is_empty() {
            return Err(ConfigError::invalid(
                "channels.telegram.token",
                "",
                "required when the channel is enabled (e.g. \"${TELEGRAM_BOT_TOKEN}\")",
            ));
        }
        if !(t.base_url.starts_with("https://") || t.base_url.starts_with("http://")) {
            return Err(ConfigError::invalid(
                "channels.telegram.base_url",
                &t.base_url,
                "expected an http(s) URL",
            ));
        }
        match parse_duration(&t.poll_timeout) {
            Ok(d) if d.as_secs() <= 50 => {}
            _ => {
                return Err(ConfigError::invalid(
                    "channels.telegram.poll_timeout",
                    &t.poll_timeout,
                    "expected a duration of at most 50s",
                ));
            }
        }
        if !t.project.is_empty() && !foreman_domain::project::is_valid_project_name(&t.project) {
            return Err(ConfigError::invalid(
                "channels.telegram.project",
                &t.project,
                "expected a project slug",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enabled_bot_needs_a_token_and_sane_settings() {
        let mut c = ChannelsConfig::default();
        assert!(c.validate().is_ok());
        c.telegram.enabled = true;
        assert!(c.validate().is_err());
        c.telegram.token = "1:abc".into();
        assert!(c.validate().is_ok());
        c.telegram.poll_timeout = "2m".into();
        assert!(c.validate().is_err());
        c.telegram.poll_timeout = "25s".into();
        c.telegram.base_url = "ftp://x".into();
        assert!(c.validate().is_err());
        c.telegram.base_url = "http://127.0.0.1:9".into();
        c.telegram.project = "Not A Slug".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn the_section_parses() {
        let c: ChannelsConfig = toml::from_str(
            "[telegram]\nenabled = true\ntoken = \"1:abc\"\nallowed_senders = [\"@alice\", \"42\"]\n",
        )
        .unwrap();
        assert!(c.telegram.enabled);
        assert_eq!(c.telegram.allowed_senders, vec!["@alice", "42"]);
        assert_eq!(c.telegram.base_url, "https://api.telegram.org");
    }
}
