//! Chat channels: the [`Channel`] port a chat service (Telegram's Bot API) is spoken through,
//! the messages it carries, and the rules of a conversation with Foreman, kept pure: who may
//! talk to the bot ([`AllowList`] and pairing), what a message asks for ([`ChatCommand`]), and
//! the one-time pairing codes an operator hands out, stored through the [`SettingsStore`].
//!
//! The conversation loop that applies these rules is the pipeline's (`foreman_pipeline::chat`);
//! the adapter (`foreman-channel`) only moves messages.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::remote::RemoteError;
use crate::settings::SettingsStore;

/// How long a pairing code may be redeemed after it was issued.
pub const PAIRING_TTL_MINUTES: i64 = 10;

/// The characters of a pairing code: no `0`/`O`, `1`/`I`/`L`, so it is read out without doubt.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// The length of a pairing code.
pub const PAIRING_CODE_LEN: usize = 8;

/// One message a chat service delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The service's sequence number of the delivery; the next `receive` passes one more to
    /// acknowledge it.
    pub update_id: i64,
    /// The chat it was written in (replies go there).
    pub chat_id: String,
    /// The message's id within the chat.
    pub message_id: String,
    /// The sender's stable id.
    pub sender_id: String,
    /// The sender's handle, when they have one (without `@`).
    pub sender_username: Option<String>,
    /// The text (empty for stickers, photos and the like).
    pub text: String,
    /// The message this one replies to, if any.
    pub reply_to_message_id: Option<String>,
}

impl ChatMessage {
    /// Who asked, as a ticket's `submitter`: `<channel>:<username>`, or `<channel>:<id>` for a
    /// sender without a handle.
    #[must_use]
    pub fn submitter(&self, channel: &str) -> String {
        match self.sender_username.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => format!("{channel}:{u}"),
            None => format!("{channel}:{}", self.sender_id),
        }
    }
}

/// What one `receive` brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inbox {
    /// The messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The offset that acknowledges everything received (deliveries that are not messages,
    /// such as edits, included), for the next `receive`; `None` when nothing came.
    pub next_offset: Option<i64>,
}

/// A message the bot sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// Its id within the chat (a reply to it names this id).
    pub message_id: String,
}

/// A chat service. `receive` long-polls: it returns as soon as there are messages, or empty
/// after the adapter's poll timeout.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The channel's name (`telegram`), as configuration and `/api/status` name it.
    fn name(&self) -> &str;

    /// Messages from update `offset` on (`None`: whatever the service still holds); passing
    /// an offset acknowledges every earlier update.
    ///
    /// # Errors
    /// The service's refusal or failure ([`RemoteError::Unauthorized`] for a revoked token,
    /// [`RemoteError::RateLimited`] with the wait it asked for).
    async fn receive(&self, offset: Option<i64>) -> Result<Inbox, RemoteError>;

    /// Sends `text` to `chat_id`, as a reply to `reply_to` when given.
    ///
    /// # Errors
    /// As for [`Channel::receive`].
    async fn send(
        &self,
        chat_id: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, RemoteError>;
}

/// The senders configured as allowed (`allowed_senders`): a handle (`alice` or `@alice`,
/// matched without case) or a numeric sender id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    handles: Vec<String>,
    ids: Vec<String>,
}

impl AllowList {
    /// The list from configuration entries; blank entries are ignored.
    #[must_use]
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Self {
        let mut list = Self::default();
        for e in entries {
            let e = e.as_ref().trim();
            if e.is_empty() {
                continue;
            }
            if e.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !e.starts_with('@') {
                list.ids.push(e.to_owned());
            } else {
                list.handles
                    .push(e.trim_start_matches('@').to_ascii_lowercase());
            }
        }
        list
    }

    /// Whether the sender is on the list, by id or by handle.
    #[must_use]
    pub fn allows(&self, sender_id: &str, username: Option<&str>) -> bool {
        self.ids.iter().any(|i| i == sender_id)
            || username.is_some_and(|u| {
                let u = u.trim_start_matches('@').to_ascii_lowercase();
                !u.is_empty() && self.handles.contains(&u)
            })
    }
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    /// A new ticket (`/new <title>\n<description>`, or any plain message).
    New {
        /// The first line.
        title: String,
        /// The rest (the whole text when there is no rest).
        description: String,
    },
    /// `/status [id]`: one ticket, or the sender's recent ones.
    Status(Option<String>),
    /// `/cancel <id>`.
    Cancel(String),
    /// `/pair <code>`.
    Pair(String),
    /// `/start`, `/help`, or a command without what it needs.
    Help,
    /// A command the bot does not know.
    Unknown(String),
    /// Nothing to act on (an empty message: a sticker, a photo).
    Empty,
}

/// The longest title taken from a message; the rest goes to the description.
pub const MAX_TITLE_CHARS: usize = 120;

/// Reads a message. A reply to one of the bot's questions is recognised by the caller (it
/// depends on which message was replied to), not here.
#[must_use]
pub fn parse_command(text: &str) -> ChatCommand {
    let text = text.trim();
    if text.is_empty() {
        return ChatCommand::Empty;
    }
    let Some(rest) = text.strip_prefix('/') else {
        return new_ticket(text);
    };
    let (head, body) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim_start()),
        None => (rest, ""),
    };
    // Telegram appends the bot's name in groups: `/status@foreman_bot`
    let name = head.split('@').next().unwrap_or(head).to_ascii_lowercase();
    let arg = body.split_whitespace().next().map(str::to_owned);
    match name.as_str() {
        "new" if !body.is_empty() => new_ticket(body),
        "status" => ChatCommand::Status(arg),
        "cancel" => arg.map_or(ChatCommand::Help, ChatCommand::Cancel),
        "pair" => arg.map_or(ChatCommand::Help, ChatCommand::Pair),
        "new" | "start" | "help" => ChatCommand::Help,
        _ => ChatCommand::Unknown(name),
    }
}

fn new_ticket(text: &str) -> ChatCommand {
    let (first, rest) = match text.split_once('\n') {
        Some((f, r)) => (f.trim(), r.trim()),
        None => (text.trim(), ""),
    };
    let title: String = first.chars().take(MAX_TITLE_CHARS).collect();
    let description = if rest.is_empty() { text.trim() } else { rest };
    ChatCommand::New {
        title,
        description: description.to_owned(),
    }
}

/// The help text every refusal and `/help` points to.
pub const HELP_TEXT: &str = "Send a message to open a ticket: the first line is its title, \
the rest its description (or use /new <title>, then the description on the next lines).\n\
/status [ticket id]: your recent tickets, or one of them\n\
/cancel <ticket id>: cancel one of your tickets\n\
Reply to a question of mine to answer it.";

/// What a new sender is told.
#[must_use]
pub fn pairing_instructions(channel: &str) -> String {
    format!(
        "You are not on this bot's list of allowed senders. Ask a Foreman operator for a pairing \
         code (`foreman channels pair {channel}`), then send /pair <code> here. Codes work once \
         and for {PAIRING_TTL_MINUTES} minutes."
    )
}

/// A fresh pairing code ([`PAIRING_CODE_LEN`] characters of an unambiguous alphabet).
#[must_use]
pub fn generate_pairing_code() -> String {
    let mut rng = rand::rng();
    (0..PAIRING_CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// A code as typed, normalised: spaces and dashes dropped, upper case.
#[must_use]
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The settings key a code is stored under: its SHA-256, so the settings never hold a code
/// that still works.
#[must_use]
pub fn pairing_key(channel: &str, code: &str) -> String {
    format!(
        "channel:{channel}:pairing:{}",
        crate::token::hash_token(&normalise_code(code))
    )
}

/// The settings key of a channel's paired senders (a JSON list of [`PairedSender`]).
#[must_use]
pub fn paired_key(channel: &str) -> String {
    format!("channel:{channel}:paired")
}

/// An issued pairing code, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingRecord {
    /// Who issued it (a token's name).
    pub issued_by: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was redeemed (then it works no more).
    pub used_at: Option<DateTime<Utc>>,
}

/// A code as issued to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedPairing {
    /// The code to pass on (shown once).
    pub code: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Why a `/pair` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PairingRefusal {
    /// No such code was issued for this channel.
    #[error("unknown pairing code")]
    Unknown,
    /// It was issued more than [`PAIRING_TTL_MINUTES`] ago.
    #[error("the pairing code has expired")]
    Expired,
    /// It was redeemed already.
    #[error("the pairing code was used already")]
    Used,
}

/// Whether `record` (the code's stored record, if any) may be redeemed at `now`.
///
/// # Errors
/// Why not.
pub fn check_pairing(
    record: Option<&PairingRecord>,
    now: DateTime<Utc>,
) -> Result<(), PairingRefusal> {
    let r = record.ok_or(PairingRefusal::Unknown)?;
    if r.used_at.is_some() {
        return Err(PairingRefusal::Used);
    }
    if now >= r.expires_at {
        return Err(PairingRefusal::Expired);
    }
    Ok(())
}

/// A sender added by pairing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairedSender {
    /// The sender's stable id (what is matched: handles can change).
    pub sender_id: String,
    /// Their handle when they paired.
    pub username: Option<String>,
    /// When.
    pub paired_at: DateTime<Utc>,
}

/// Issues a code for `channel` that works once within [`PAIRING_TTL_MINUTES`] of `now`.
///
/// # Errors
/// Store errors.
pub async fn issue_pairing(
    settings: &dyn SettingsStore,
    channel: &str,
    issued_by: &str,
    now: DateTime<Utc>,
) -> StoreResult<IssuedPairing> {
    let code = generate_pairing_code();
    let record = PairingRecord {
        issued_by: issued_by.to_owned(),
        expires_at: now + Duration::minutes(PAIRING_TTL_MINUTES),
        used_at: None,
    };
    let json =
        serde_json::to_string(&record).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
    settings
        .put_setting(&pairing_key(channel, &code), &json)
        .await?;
    Ok(IssuedPairing {
        code,
        expires_at: record.expires_at,
    })
}

/// The senders paired with `channel` so far.
///
/// # Errors
/// Store errors.
pub async fn paired_senders(
    settings: &dyn SettingsStore,
    channel: &str,
) -> StoreResult<Vec<PairedSender>> {
    Ok(settings
        .get_setting(&paired_key(channel))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

/// Redeems `code` for `sender` at `now`: marks the code used and adds the sender to the
/// channel's paired senders. One writer per channel (its conversation loop) is assumed.
///
/// # Errors
/// Store errors; the inner result says whether the code was accepted.
pub async fn redeem_pairing(
    settings: &dyn SettingsStore,
    channel: &str,
    code: &str,
    sender: PairedSender,
    now: DateTime<Utc>,
) -> StoreResult<Result<(), PairingRefusal>> {
    let key = pairing_key(channel, code);
    let mut record: Option<PairingRecord> = settings
        .get_setting(&key)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok());
    if let Err(refusal) = check_pairing(record.as_ref(), now) {
        return Ok(Err(refusal));
    }
    if let Some(r) = record.as_mut() {
        r.used_at = Some(now);
        let json =
            serde_json::to_string(r).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
        settings.put_setting(&key, &json).await?;
    }
    let mut paired = paired_senders(settings, channel).await?;
    if !paired.iter().any(|p| p.sender_id == sender.sender_id) {
        paired.push(sender);
        let json = serde_json::to_string(&paired)
            .map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
        settings.put_setting(&paired_key(channel), &json).await?;
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn the_allow_list_matches_handles_without_case_and_ids_exactly() {
        let list = AllowList::new(&["@Alice", "bob", "4242", " ", "-100123"]);
        assert!(list.allows("1", Some("alice")));
        assert!(list.allows("1", Some("ALICE")));
        assert!(list.allows("1", Some("Bob")));
        assert!(list.allows("4242", None));
        assert!(list.allows("-100123", None));
        assert!(!list.allows("42", Some("carol")));
        assert!(!list.allows("42", None));
        // a handle that looks like an id is not an id
        assert!(!list.allows("9", Some("4242")));
        assert!(!AllowList::new::<&str>(&[]).allows("1", Some("")));
    }

    #[test]
    fn commands_are_read_and_plain_text_is_a_ticket() {
        assert_eq!(
            parse_command("Fix the login\nIt 500s on empty passwords"),
            ChatCommand::New {
                title: "Fix the login".into(),
                description: "It 500s on empty passwords".into()
            }
        );
        assert_eq!(
            parse_command("/new Add dark mode\nfor the dashboard"),
            ChatCommand::New {
                title: "Add dark mode".into(),
                description: "for the dashboard".into()
            }
        );
        assert_eq!(
            parse_command("just one line"),
            ChatCommand::New {
                title: "just one line".into(),
                description: "just one line".into()
            }
        );
        assert_eq!(parse_command("/status"), ChatCommand::Status(None));
        assert_eq!(
            parse_command("/status@foreman_bot abc"),
            ChatCommand::Status(Some("abc".into()))
        );
        assert_eq!(
            parse_command("/cancel x-1"),
            ChatCommand::Cancel("x-1".into())
        );
        assert_eq!(parse_command("/cancel"), ChatCommand::Help);
        assert_eq!(
            parse_command("/pair ab-cd 12"),
            ChatCommand::Pair("ab-cd".into())
        );
        assert_eq!(parse_command("/new"), ChatCommand::Help);
        assert_eq!(parse_command("/start"), ChatCommand::Help);
        assert_eq!(
            parse_command("/frobnicate"),
            ChatCommand::Unknown("frobnicate".into())
        );
        assert_eq!(parse_command("  "), ChatCommand::Empty);
        let long = "x".repeat(300);
        let ChatCommand::New { title, .. } = parse_command(&long) else {
            panic!("a ticket")
        };
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn codes_are_unambiguous_and_normalised() {
        let c = generate_pairing_code();
        assert_eq!(c.len(), PAIRING_CODE_LEN);
        assert!(c.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{c}");
        assert_eq!(normalise_code(" ab-cd 23 "), "ABCD23");
        assert_eq!(
            pairing_key("telegram", "abcd-2345"),
            pairing_key("telegram", "ABCD2345")
        );
        assert_ne!(
            pairing_key("telegram", "ABCD2345"),
            pairing_key("slack", "ABCD2345")
        );
        assert!(!pairing_key("telegram", "ABCD2345").contains("ABCD2345"));
    }

    #[test]
    fn a_code_works_once_and_only_before_it_expires() {
        let fresh = PairingRecord {
            issued_by: "admin".into(),
            expires_at: at(PAIRING_TTL_MINUTES),
            used_at: None,
        };
        assert_eq!(check_pairing(Some(&fresh), at(0)), Ok(()));
        assert_eq!(check_pairing(Some(&fresh), at(9)), Ok(()));
        assert_eq!(
            check_pairing(Some(&fresh), at(PAIRING_TTL_MINUTES)),
            Err(PairingRefusal::Expired)
        );
        let used = PairingRecord {
            used_at: Some(at(1)),
            ..fresh
        };
        assert_eq!(check_pairing(Some(&used), at(2)), Err(PairingRefusal::Used));
        assert_eq!(check_pairing(None, at(0)), Err(PairingRefusal::Unknown));
    }

    #[test]
    fn the_submitter_is_the_handle_or_the_id() {
        let mut m = ChatMessage {
            update_id: 1,
            chat_id: "7".into(),
            message_id: "1".into(),
            sender_id: "99".into(),
            sender_username: Some("alice".into()),
            text: String::new(),
            reply_to_message_id: None,
        };
        assert_eq!(m.submitter("telegram"), "telegram:alice");
        m.sender_username = None;
        assert_eq!(m.submitter("telegram"), "telegram:99");
    }
}
