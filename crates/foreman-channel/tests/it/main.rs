//! Integration tests for `foreman-channel`: the Telegram adapter against the fake Bot API, and
//! the pipeline's conversation loop over it with the memory store.

mod conversation;
mod telegram;

use std::sync::Arc;
use std::time::Duration;

use foreman_channel::{TelegramChannel, TelegramSettings};
use foreman_fakes::FakeTelegram;

/// The token the fake accepts.
pub const TOKEN: &str = "123456:test-token";

/// A channel on `fake` with a one-second long poll.
pub fn channel(fake: &FakeTelegram) -> Arc<TelegramChannel> {
    Arc::new(
        TelegramChannel::new(TelegramSettings {
            name: "telegram".into(),
            token: TOKEN.into(),
            base_url: fake.url().to_owned(),
            poll_timeout: Duration::from_secs(1),
        })
        .expect("a channel"),
    )
}
