//! Chat channel adapters behind the domain's [`Channel`] port. One so far: [`TelegramChannel`],
//! the Telegram Bot API over long polling (`getUpdates` with a `timeout`, `sendMessage`).
//!
//! Long polling needs no inbound port: the bot calls out to Telegram over HTTPS, so a Foreman
//! behind NAT or a firewall takes chat messages without a public endpoint (Slack's Events API,
//! by contrast, delivers to a public HTTPS URL).
//!
//! This crate moves messages and nothing else: who may talk, what a message means and what the
//! bot answers are the domain's rules applied by the pipeline's conversation loop
//! (`foreman_pipeline::chat`). It knows neither the pipeline nor storage. The bot token is part
//! of every request's URL, so no URL leaves this crate: transport errors are reported without it
//! and [`TelegramChannel`]'s `Debug` hides it.

mod telegram;

pub use foreman_domain::channel::{Channel, ChatMessage, Inbox, SentMessage};
pub use telegram::{TELEGRAM_API, TelegramChannel, TelegramSettings};
