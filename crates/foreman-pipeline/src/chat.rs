//! The chat conversation loop: Foreman over a [`Channel`] (Telegram's Bot API in the server).
//!
//! Inbound, it long-polls the channel and applies the domain's rules
//! ([`foreman_domain::channel`]) to each message: a sender neither on the allow-list nor paired
//! is told how to pair (`/pair <code>` with a code an operator issued); an allowed sender's
//! message becomes a queued ticket (`submitter` = `<channel>:<handle or id>`), confirmed with
//! its id; `/status` and `/cancel` act on the sender's own tickets; a reply to one of the bot's
//! messages about a ticket waiting in `clarification_needed` answers it, the way tracker
//! comments do (`clarification::apply_answers`).
//!
//! Outbound, it tails the event log by `seq` (as the notifier does, its cursor in the settings
//! store) and tells a ticket's chat what matters there, and nothing else: the clarifier's
//! questions, the pull request, the end (merged, closed, done, failed, blocked, cancelled), and
//! notifications about the ticket. Delivery is at least once: the cursor moves past an event
//! only once its message is sent.
//!
//! What it keeps, in the settings store under `channel:<name>:…`: the update offset, the event
//! cursor, each ticket's chat (`ticket:<id>`), the bot messages a reply may answer
//! (`message:<chat>:<id>`), and (through the domain) paired senders and pairing codes. No
//! ticket column is added: a chat ticket is an ordinary ticket with external id
//! `<channel>-<chat>-<message>`, which also makes a re-delivered message create nothing new.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use foreman_domain::audit::{AuditOutcome, NewAuditEntry};
use foreman_domain::channel::{
    AllowList, Channel, ChatCommand, ChatMessage, HELP_TEXT, PairedSender, PairingRefusal,
    paired_senders, pairing_instructions, parse_command, redeem_pairing,
};
use foreman_domain::remote::RemoteError;
use foreman_domain::{
    Event, EventFilter, EventLog, EventType, NewEvent, NewTicket, Store, StoreError, StoreResult,
    Ticket, TicketFilter, TicketId, TicketStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// How a conversation loop runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    /// The project its tickets go to (empty: the default project).
    pub project: String,
    /// Senders allowed without pairing (handles or numeric ids).
    pub allowed_senders: Vec<String>,
    /// How often the event log is read for news to send.
    pub events_interval: Duration,
    /// The first wait after a failed poll; it doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait after failed polls.
    pub max_backoff: Duration,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            project: String::new(),
            allowed_senders: Vec::new(),
            events_interval: Duration::from_secs(2),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// A channel's health as last seen by its loop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChatHealthSnapshot {
    /// The last poll succeeded.
    pub connected: bool,
    /// The last poll's error, if it failed (never the token).
    pub last_error: Option<String>,
    /// When the channel last answered a poll.
    pub last_poll_at: Option<DateTime<Utc>>,
}

/// The loop's health, shared with whoever reports it (`/api/status`).
#[derive(Debug, Clone, Default)]
pub struct ChatHealth(Arc<Mutex<ChatHealthSnapshot>>);

impl ChatHealth {
    /// The current state.
    #[must_use]
    pub fn snapshot(&self) -> ChatHealthSnapshot {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn polled(&self) {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.connected = true;
        s.last_error = None;
        s.last_poll_at = Some(foreman_domain::now());
    }

    fn failed(&self, e: &RemoteError) {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.connected = false;
        s.last_error = Some(e.to_string());
    }
}

/// Where a chat ticket came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Origin {
    chat_id: String,
    message_id: String,
}

/// The conversation loop of one channel.
pub struct ChatLoop {
    channel: Arc<dyn Channel>,
    store: Arc<dyn Store>,
    events: Arc<dyn EventLog>,
    settings: ChatSettings,
    allow: AllowList,
    health: ChatHealth,
    name: String,
}

impl std::fmt::Debug for ChatLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatLoop")
            .field("channel", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ChatLoop {
    /// A loop over `channel`, reading and writing through `store` and announcing through
    /// `events` (a publishing log, so the daemon wakes for a new ticket at once).
    #[must_use]
    pub fn new(
        channel: Arc<dyn Channel>,
        store: Arc<dyn Store>,
        events: Arc<dyn EventLog>,
        settings: ChatSettings,
    ) -> Self {
        let name = channel.name().to_owned();
        Self {
            allow: AllowList::new(&settings.allowed_senders),
            channel,
            store,
            events,
            settings,
            health: ChatHealth::default(),
            name,
        }
    }

    /// The channel's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The health this loop keeps up to date.
    #[must_use]
    pub fn health(&self) -> ChatHealth {
        self.health.clone()
    }

    fn key(&self, rest: &str) -> String {
        format!("channel:{}:{rest}", self.name)
    }

    fn project(&self) -> String {
        if self.settings.project.is_empty() {
            foreman_domain::DEFAULT_PROJECT.to_owned()
        } else {
            self.settings.project.clone()
        }
    }

    /// Polls and relays until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(channel = %self.name, "chat channel started");
        let inbound = async {
            let mut backoff = self.settings.initial_backoff;
            loop {
                let polled = tokio::select! {
                    () = cancel.cancelled() => return,
                    r = self.poll_once() => r,
                };
                let wait = match polled {
                    Ok(_) => {
                        backoff = self.settings.initial_backoff;
                        continue;
                    }
                    Err(e) => {
                        let wait = wait_after(&e, backoff);
                        backoff = (backoff * 2).min(self.settings.max_backoff);
                        tracing::warn!(channel = %self.name, error = %e, wait_ms = wait.as_millis(), "chat poll failed");
                        wait
                    }
                };
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        };
        let outbound = async {
            loop {
                if let Err(e) = self.relay_events().await {
                    tracing::warn!(channel = %self.name, error = %e, "cannot relay events to the chat");
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(self.settings.events_interval) => {}
                }
            }
        };
        tokio::join!(inbound, outbound);
        tracing::info!(channel = %self.name, "chat channel stopped");
    }

    /// One long poll: receives, answers each message, and acknowledges them (the offset is
    /// stored once every message was handled, so a crash in between hands them over again).
    /// Returns how many messages came.
    ///
    /// # Errors
    /// The channel's refusal (recorded in the health too); store errors are logged and the
    /// offset is kept, so the messages come again.
    pub async fn poll_once(&self) -> Result<usize, RemoteError> {
        let offset = self
            .store
            .get_setting(&self.key("offset"))
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse::<i64>().ok());
        let inbox = match self.channel.receive(offset).await {
            Ok(i) => i,
            Err(e) => {
                self.health.failed(&e);
                return Err(e);
            }
        };
        self.health.polled();
        let n = inbox.messages.len();
        for m in &inbox.messages {
            if let Err(e) = self.handle(m).await {
                tracing::warn!(channel = %self.name, update = m.update_id, error = %e, "cannot handle a chat message; it comes again");
                return Ok(n);
            }
        }
        if let Some(next) = inbox.next_offset
            && let Err(e) = self
                .store
                .put_setting(&self.key("offset"), &next.to_string())
                .await
        {
            tracing::warn!(channel = %self.name, error = %e, "cannot store the chat offset");
        }
        Ok(n)
    }

    async fn say(&self, chat_id: &str, text: &str, reply_to: Option<&str>) -> Option<String> {
        match self.channel.send(chat_id, text, reply_to).await {
            Ok(sent) => Some(sent.message_id),
            Err(e) => {
                if matches!(e, RemoteError::Unauthorized { .. }) {
                    self.health.failed(&e);
                }
                tracing::warn!(channel = %self.name, error = %e, "cannot send a chat message");
                None
            }
        }
    }

    async fn is_allowed(&self, m: &ChatMessage) -> StoreResult<bool> {
        if self
            .allow
            .allows(&m.sender_id, m.sender_username.as_deref())
        {
            return Ok(true);
        }
        Ok(paired_senders(self.store.as_ref(), &self.name)
            .await?
            .iter()
            .any(|p| p.sender_id == m.sender_id))
    }

    async fn handle(&self, m: &ChatMessage) -> Result<(), crate::PipelineError> {
        let command = parse_command(&m.text);
        let reply_to = Some(m.message_id.as_str());
        if !self.is_allowed(m).await? {
            let text = match command {
                ChatCommand::Pair(code) => {
                    let sender = PairedSender {
                        sender_id: m.sender_id.clone(),
                        username: m.sender_username.clone(),
                        paired_at: foreman_domain::now(),
                    };
                    match redeem_pairing(
                        self.store.as_ref(),
                        &self.name,
                        &code,
                        sender,
                        foreman_domain::now(),
                    )
                    .await?
                    {
                        Ok(()) => {
                            tracing::info!(channel = %self.name, sender = %m.sender_id, "chat sender paired");
                            self.audit(m, "channel.pair", format!("channel/{}", self.name), 200)
                                .await;
                            format!("Paired: you can talk to Foreman now.\n\n{HELP_TEXT}")
                        }
                        Err(refusal) => {
                            tracing::info!(channel = %self.name, sender = %m.sender_id, reason = %refusal, "pairing refused");
                            let why = match refusal {
                                PairingRefusal::Unknown => "That pairing code is not valid.",
                                PairingRefusal::Expired => "That pairing code has expired.",
                                PairingRefusal::Used => "That pairing code was used already.",
                            };
                            format!("{why} {}", pairing_instructions(&self.name))
                        }
                    }
                }
                ChatCommand::Empty => return Ok(()),
                _ => pairing_instructions(&self.name),
            };
            self.say(&m.chat_id, &text, reply_to).await;
            return Ok(());
        }
        if let Some(replied) = &m.reply_to_message_id
            && let Some(ticket_id) = self
                .store
                .get_setting(&self.key(&format!("message:{}:{replied}", m.chat_id)))
                .await?
            && !m.text.trim().is_empty()
        {
            return self.answer(m, &TicketId::from_string(ticket_id)).await;
        }
        match command {
            ChatCommand::New { title, description } => self.open(m, title, description).await?,
            ChatCommand::Status(id) => {
                let text = self.status(m, id.as_deref()).await?;
                self.say(&m.chat_id, &text, reply_to).await;
            }
            ChatCommand::Cancel(id) => {
                let text = self.cancel(m, &id).await?;
                self.say(&m.chat_id, &text, reply_to).await;
            }
            ChatCommand::Pair(_) => {
                self.say(
                    &m.chat_id,
                    "You are already allowed to talk to me.",
                    reply_to,
                )
                .await;
            }
            ChatCommand::Help => {
                self.say(&m.chat_id, HELP_TEXT, reply_to).await;
            }
            ChatCommand::Unknown(name) => {
                let text = format!("I do not know /{name}.\n\n{HELP_TEXT}");
                self.say(&m.chat_id, &text, reply_to).await;
            }
            ChatCommand::Empty => {}
        }
        Ok(())
    }

    /// Records what a chat message changed in the audit trail, as the API records its calls:
    /// the sender (`<channel>:<handle or id>`) as the actor, `via = "channel"`, and the chat
    /// message as the request id. A failed append is logged; the change stands.
    async fn audit(&self, m: &ChatMessage, action: &str, resource: String, status: u16) {
        let entry = NewAuditEntry {
            at: foreman_domain::now(),
            token_id: None,
            actor: Some(m.submitter(&self.name)),
            client_addr: None,
            action: action.to_owned(),
            resource: Some(resource),
            via: "channel".to_owned(),
            outcome: AuditOutcome::Ok,
            status,
            request_id: Some(format!("{}:{}:{}", self.name, m.chat_id, m.message_id)),
        };
        if let Err(e) = self.store.append_audit(vec![entry]).await {
            tracing::error!(channel = %self.name, action, error = %e, "a chat action has no audit entry");
        }
    }

    async fn remember_message(&self, chat_id: &str, message_id: &str, ticket: &TicketId) {
        let key = self.key(&format!("message:{chat_id}:{message_id}"));
        if let Err(e) = self.store.put_setting(&key, ticket.as_str()).await {
            tracing::warn!(channel = %self.name, error = %e, "cannot remember a chat message");
        }
    }

    async fn origin(&self, ticket: &TicketId) -> StoreResult<Option<Origin>> {
        Ok(self
            .store
            .get_setting(&self.key(&format!("ticket:{ticket}")))
            .await?
            .and_then(|v| serde_json::from_str(&v).ok()))
    }

    async fn open(
        &self,
        m: &ChatMessage,
        title: String,
        description: String,
    ) -> Result<(), crate::PipelineError> {
        let project = self.project();
        let external_id = format!("{}-{}-{}", self.name, m.chat_id, m.message_id);
        let submitter = m.submitter(&self.name);
        let created = self
            .store
            .create_ticket(NewTicket {
                project: project.clone(),
                external_id: external_id.clone(),
                title: title.clone(),
                description,
                submitter: Some(submitter.clone()),
                labels: vec![format!("channel:{}", self.name)],
                ..NewTicket::default()
            })
            .await;
        let ticket = match created {
            Ok(t) => {
                let origin = Origin {
                    chat_id: m.chat_id.clone(),
                    message_id: m.message_id.clone(),
                };
                let json = serde_json::to_string(&origin).unwrap_or_default();
                self.store
                    .put_setting(&self.key(&format!("ticket:{}", t.id)), &json)
                    .await?;
                let event = NewEvent::new(
                    EventType::TicketCreated,
                    format!("ticket {} created through {}", t.external_id, self.name),
                )
                .ticket(&t.id)
                .details(json!({"source": self.name, "submitter": submitter}));
                if let Err(e) = self.events.append(event).await {
                    tracing::warn!(error = %e, "cannot append event");
                }
                self.audit(m, "ticket.create", format!("ticket/{}", t.id), 201)
                    .await;
                t
            }
            // the message came a second time (its acknowledgement was lost): same ticket
            Err(StoreError::Duplicate { .. }) => {
                match self
                    .store
                    .get_ticket_by_external_id(&project, &external_id)
                    .await?
                {
                    Some(t) => t,
                    None => return Ok(()),
                }
            }
            Err(StoreError::Invalid(why)) => {
                let text = format!("I could not open a ticket: {why}");
                self.say(&m.chat_id, &text, Some(&m.message_id)).await;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let text = format!(
            "Ticket {} queued: {}\nI will write here when it needs answers, opens a pull request \
             or finishes. /status {} shows where it is.",
            ticket.id, ticket.title, ticket.id
        );
        if let Some(sent) = self.say(&m.chat_id, &text, Some(&m.message_id)).await {
            self.remember_message(&m.chat_id, &sent, &ticket.id).await;
        }
        Ok(())
    }

    async fn answer(&self, m: &ChatMessage, id: &TicketId) -> Result<(), crate::PipelineError> {
        let reply_to = Some(m.message_id.as_str());
        let Some(t) = self.store.get_ticket(id).await? else {
            self.say(&m.chat_id, "That ticket no longer exists.", reply_to)
                .await;
            return Ok(());
        };
        if t.status != TicketStatus::ClarificationNeeded {
            let text = format!(
                "Ticket {} is {}; it is not waiting for answers. Send a new message to open \
                 another ticket.",
                t.id, t.status
            );
            self.say(&m.chat_id, &text, reply_to).await;
            return Ok(());
        }
        let answer = format!(
            "{} (in {}): {}",
            m.submitter(&self.name),
            self.name,
            m.text.trim()
        );
        let requeued = crate::clarification::apply_answers(
            self.store.as_ref(),
            self.events.as_ref(),
            &t,
            &[answer],
        )
        .await?;
        self.audit(m, "ticket.answer", format!("ticket/{}", t.id), 200)
            .await;
        let text = if requeued {
            format!("Thanks. Ticket {} is queued again with your answers.", t.id)
        } else {
            format!(
                "Ticket {} moved on meanwhile; your answer was added to it.",
                t.id
            )
        };
        self.say(&m.chat_id, &text, reply_to).await;
        Ok(())
    }

    /// The ticket `arg` names (its id, or its external id in the loop's project) when it is
    /// the sender's: opened by them or from this chat.
    async fn own_ticket(&self, m: &ChatMessage, arg: &str) -> StoreResult<Option<Ticket>> {
        let t = match self.store.get_ticket(&TicketId::from_string(arg)).await? {
            Some(t) => Some(t),
            None => {
                self.store
                    .get_ticket_by_external_id(&self.project(), arg)
                    .await?
            }
        };
        let Some(t) = t else { return Ok(None) };
        let mine = t.submitter.as_deref() == Some(m.submitter(&self.name).as_str())
            || self
                .origin(&t.id)
                .await?
                .is_some_and(|o| o.chat_id == m.chat_id);
        Ok(mine.then_some(t))
    }

    async fn status(&self, m: &ChatMessage, arg: Option<&str>) -> StoreResult<String> {
        if let Some(arg) = arg {
            return Ok(match self.own_ticket(m, arg).await? {
                Some(t) => describe(&t),
                None => format!("You have no ticket {arg}."),
            });
        }
        let page = self
            .store
            .list_tickets(&TicketFilter {
                submitter: Some(m.submitter(&self.name)),
                limit: 5,
                ..TicketFilter::default()
            })
            .await?;
        if page.items.is_empty() {
            return Ok("You have no tickets yet. Send a message to open one.".into());
        }
        let lines: Vec<String> = page.items.iter().map(describe).collect();
        Ok(format!("Your latest tickets:\n{}", lines.join("\n")))
    }

    async fn cancel(&self, m: &ChatMessage, arg: &str) -> Result<String, crate::PipelineError> {
        let Some(before) = self.own_ticket(m, arg).await? else {
            return Ok(format!("You have no ticket {arg}."));
        };
        match self.store.cancel_ticket(&before.id).await {
            Ok(t) => {
                let event = NewEvent::new(
                    EventType::TicketFailed,
                    format!("ticket cancelled from {}", before.status),
                )
                .ticket(&t.id)
                .details(json!({
                    "reason": "cancelled",
                    "from": before.status.as_str(),
                    "by": m.submitter(&self.name),
                }));
                if let Err(e) = self.events.append(event).await {
                    tracing::warn!(error = %e, "cannot append event");
                }
                self.audit(m, "ticket.cancel", format!("ticket/{}", t.id), 200)
                    .await;
                Ok(format!("Ticket {} is cancelled.", t.id))
            }
            Err(StoreError::Conflict { current, .. }) => Ok(format!(
                "Ticket {} is {current}; a finished ticket cannot be cancelled.",
                before.id
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the events appended since the last pass and sends each chat ticket's news to its
    /// chat; the cursor moves past an event once its message is sent (a failed send stops the
    /// pass, and the event is tried again next time). A first start begins at the log's end.
    /// Returns how many messages were sent.
    ///
    /// # Errors
    /// Store errors.
    pub async fn relay_events(&self) -> StoreResult<usize> {
        let cursor_key = self.key("seq");
        let mut after = match self
            .store
            .get_setting(&cursor_key)
            .await?
            .and_then(|v| v.parse::<i64>().ok())
        {
            Some(s) => s,
            None => {
                let seq = self.store.latest_seq().await?;
                self.store
                    .put_setting(&cursor_key, &seq.to_string())
                    .await?;
                seq
            }
        };
        let mut sent = 0;
        loop {
            let page = self
                .store
                .list_events(&EventFilter {
                    after_seq: Some(after),
                    limit: foreman_domain::MAX_PAGE_LIMIT,
                    ..EventFilter::default()
                })
                .await?;
            let n = page.len();
            for e in &page {
                match self.relay(e).await? {
                    Relayed::Sent => sent += 1,
                    Relayed::Skipped => {}
                    Relayed::Failed => {
                        self.store
                            .put_setting(&cursor_key, &after.to_string())
                            .await?;
                        return Ok(sent);
                    }
                }
                after = e.seq;
            }
            self.store
                .put_setting(&cursor_key, &after.to_string())
                .await?;
            if n < foreman_domain::MAX_PAGE_LIMIT as usize {
                return Ok(sent);
            }
        }
    }

    async fn relay(&self, e: &Event) -> StoreResult<Relayed> {
        let Some(ticket_id) = &e.ticket_id else {
            return Ok(Relayed::Skipped);
        };
        if !concerns_the_chat(e) {
            return Ok(Relayed::Skipped);
        }
        let Some(origin) = self.origin(ticket_id).await? else {
            return Ok(Relayed::Skipped);
        };
        let Some(t) = self.store.get_ticket(ticket_id).await? else {
            return Ok(Relayed::Skipped);
        };
        let Some(text) = news(e, &t) else {
            return Ok(Relayed::Skipped);
        };
        match self
            .channel
            .send(&origin.chat_id, &text, Some(&origin.message_id))
            .await
        {
            Ok(sent) => {
                // a reply to any of these is read as an answer while the ticket waits for one
                self.remember_message(&origin.chat_id, &sent.message_id, &t.id)
                    .await;
                Ok(Relayed::Sent)
            }
            // the bot's token, or Telegram itself: tried again on the next pass
            Err(err) if err.is_transient() || matches!(err, RemoteError::Unauthorized { .. }) => {
                if matches!(err, RemoteError::Unauthorized { .. }) {
                    self.health.failed(&err);
                }
                tracing::warn!(channel = %self.name, ticket = %t.id, error = %err, "cannot send ticket news to the chat; trying again");
                Ok(Relayed::Failed)
            }
            // this chat refuses it (the user blocked the bot, the chat is gone): sending again
            // would hold up every other chat's news
            Err(err) => {
                tracing::warn!(channel = %self.name, ticket = %t.id, error = %err, "the chat refused ticket news; skipped");
                Ok(Relayed::Skipped)
            }
        }
    }
}

/// How long to wait after a failed poll: what the service asked for when it rate-limited
/// (Telegram's `parameters.retry_after`), else the current backoff.
#[must_use]
pub fn wait_after(e: &RemoteError, backoff: Duration) -> Duration {
    match e {
        RemoteError::RateLimited {
            retry_after: Some(w),
            ..
        } => *w,
        _ => backoff,
    }
}

enum Relayed {
    Sent,
    Skipped,
    Failed,
}

/// Whether `e` is news a chat is told (before the ticket is looked up).
fn concerns_the_chat(e: &Event) -> bool {
    match e.event_type {
        EventType::ClarificationRequested
        | EventType::ClarificationTimeout
        | EventType::PrCreated
        | EventType::PartialPrCreated
        | EventType::NotificationCreated => true,
        EventType::TicketStatusChanged => to_status(e).is_some_and(TicketStatus::is_terminal),
        EventType::TicketFailed => is_cancellation(e),
        _ => false,
    }
}

fn to_status(e: &Event) -> Option<TicketStatus> {
    e.details
        .as_ref()?
        .get("to")?
        .as_str()?
        .parse::<TicketStatus>()
        .ok()
}

fn is_cancellation(e: &Event) -> bool {
    e.details
        .as_ref()
        .and_then(|d| d.get("reason"))
        .and_then(serde_json::Value::as_str)
        == Some("cancelled")
}

/// What the chat is told about `e` of ticket `t`.
fn news(e: &Event, t: &Ticket) -> Option<String> {
    let detail = |k: &str| {
        e.details
            .as_ref()
            .and_then(|d| d.get(k))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Some(match e.event_type {
        EventType::ClarificationRequested => {
            let questions: Vec<String> = e
                .details
                .as_ref()
                .and_then(|d| d.get("questions"))
                .and_then(serde_json::Value::as_array)
                .map(|qs| {
                    qs.iter()
                        .filter_map(serde_json::Value::as_str)
                        .map(|q| format!("- {q}"))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "Ticket {} needs answers before it can start:\n{}\n\nReply to this message with \
                 your answers.",
                t.id,
                questions.join("\n")
            )
        }
        EventType::ClarificationTimeout => format!(
            "Ticket {} got no answers in time and is blocked. Ask an operator to retry it.",
            t.id
        ),
        EventType::PrCreated | EventType::PartialPrCreated => {
            let url = detail("url").unwrap_or_else(|| t.pr_url.clone());
            format!("Ticket {}: {}: {url}", t.id, e.message)
        }
        EventType::NotificationCreated => format!("Ticket {}: {}", t.id, e.message),
        EventType::TicketFailed => format!("Ticket {} is cancelled.", t.id),
        EventType::TicketStatusChanged => {
            let to = to_status(e)?;
            match to {
                TicketStatus::Merged => format!("Ticket {} is merged. Done.", t.id),
                TicketStatus::Failed => format!(
                    "Ticket {} failed: {}",
                    t.id,
                    t.last_error.as_deref().unwrap_or("no reason recorded")
                ),
                other => format!("Ticket {} is now {other}.", t.id),
            }
        }
        _ => return None,
    })
}

/// One ticket in a line.
fn describe(t: &Ticket) -> String {
    let pr = if t.pr_url.is_empty() {
        String::new()
    } else {
        format!(" ({})", t.pr_url)
    };
    format!("{}: {} [{}]{pr}", t.id, t.title, t.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: EventType, details: serde_json::Value) -> Event {
        Event {
            id: foreman_domain::EventId::new(),
            seq: 1,
            ticket_id: Some(TicketId::new()),
            task_id: None,
            event_type,
            severity: event_type.default_severity(),
            message: "m".into(),
            details: Some(details),
            created_at: foreman_domain::now(),
        }
    }

    #[test]
    fn a_rate_limit_is_waited_out_as_asked_and_other_failures_back_off() {
        let limited = RemoteError::RateLimited {
            service: "telegram",
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            wait_after(&limited, Duration::from_secs(1)),
            Duration::from_secs(7)
        );
        let unsaid = RemoteError::RateLimited {
            service: "telegram",
            retry_after: None,
        };
        assert_eq!(
            wait_after(&unsaid, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        let down = RemoteError::Unauthorized {
            service: "telegram",
        };
        assert_eq!(
            wait_after(&down, Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn only_questions_pull_requests_notifications_and_ends_concern_the_chat() {
        let to = |s: &str| {
            event(
                EventType::TicketStatusChanged,
                json!({"from": "x", "to": s}),
            )
        };
        for s in ["merged", "failed", "blocked", "done", "pr_closed"] {
            assert!(concerns_the_chat(&to(s)), "{s}");
        }
        for s in ["planning", "implementing", "pr_created", "queued", "bogus"] {
            assert!(!concerns_the_chat(&to(s)), "{s}");
        }
        assert!(concerns_the_chat(&event(
            EventType::ClarificationRequested,
            json!({})
        )));
        assert!(concerns_the_chat(&event(EventType::PrCreated, json!({}))));
        assert!(concerns_the_chat(&event(
            EventType::NotificationCreated,
            json!({})
        )));
        assert!(!concerns_the_chat(&event(EventType::AgentTurn, json!({}))));
        // a failure is told by its status change; a cancellation has none
        assert!(!concerns_the_chat(&event(
            EventType::TicketFailed,
            json!({"error_type": "test"})
        )));
        assert!(concerns_the_chat(&event(
            EventType::TicketFailed,
            json!({"reason": "cancelled"})
        )));
    }
}
