//! Direct submission: what a ticket created through the API may carry besides its text (a
//! per-task timeout, its own budget, tags, a webhook, a named coding agent), batches created
//! all-or-nothing, and where a queued ticket stands in the queue.
//!
//! The limits here are rules of the data, so both stores and the pipeline read them from one
//! place: [`TicketOptions::check`] says what may be stored, [`TicketOptions::ticket_limit`]
//! what budget admission applies, [`estimate_start`] how long a queued ticket waits.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::ids::TicketId;
use crate::money::Micros;
use crate::ticket::{NewTicket, Ticket};

/// The longest per-task timeout a ticket may ask for, in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 3_600;
/// The largest budget of one ticket: 100 USD.
pub const MAX_TICKET_BUDGET: Micros = Micros(100_000_000);
/// Tags per ticket.
pub const MAX_TAGS: usize = 10;
/// Characters per tag.
pub const MAX_TAG_CHARS: usize = 50;
/// Characters of a webhook URL.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2_048;
/// Tickets per batch.
pub const MAX_BATCH: usize = 20;
/// Finished tickets whose mean duration estimates a queued ticket's wait.
pub const RECENT_DURATIONS: u64 = 50;

/// What a submitted ticket asks for besides its text; every field is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TicketOptions {
    /// Wall time one task of the ticket may take (1 to [`MAX_TIMEOUT_SECS`] seconds); a task
    /// past it is stopped and fails with [`crate::pipeline::FailureClass::Timeout`].
    pub timeout_secs: Option<u32>,
    /// The ticket's own spending limit (at most [`MAX_TICKET_BUDGET`]); budget admission
    /// applies the lower of it and the configured per-ticket limit.
    pub max_budget: Option<Micros>,
    /// Tags (at most [`MAX_TAGS`], each 1 to [`MAX_TAG_CHARS`] characters).
    pub tags: Vec<String>,
    /// Where the ticket's outcome is to be posted (`http` or `https`).
    pub webhook_url: Option<String>,
    /// The configured coding agent runner to use (`builtin`, `claude_code`, ...).
    pub agent: Option<String>,
}

impl TicketOptions {
    /// Whether nothing is asked for (such a ticket stores no options row).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The per-task timeout.
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_secs.map(|s| Duration::from_secs(u64::from(s)))
    }

    /// The ticket limit budget admission applies: the lower of `configured` and the ticket's
    /// own.
    #[must_use]
    pub fn ticket_limit(own: Option<Micros>, configured: Option<Micros>) -> Option<Micros> {
        match (own, configured) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Checks what every store requires; the error names the field.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a timeout, budget, tag, URL or agent name out of bounds.
    pub fn check(&self) -> StoreResult<()> {
        let bad = |field: &str, why: &str| Err(StoreError::Invalid(format!("{field}: {why}")));
        if let Some(t) = self.timeout_secs
            && !(1..=MAX_TIMEOUT_SECS).contains(&t)
        {
            return bad("timeout", "must be from 1 to 3600 seconds");
        }
        if let Some(b) = self.max_budget
            && (b.0 < 0 || b > MAX_TICKET_BUDGET)
        {
            return bad("max_budget_usd", "must be from 0 to 100");
        }
        if self.tags.len() > MAX_TAGS {
            return bad("tags", "at most 10 tags");
        }
        if let Some(i) = self
            .tags
            .iter()
            .position(|t| !(1..=MAX_TAG_CHARS).contains(&t.chars().count()))
        {
            return bad(&format!("tags[{i}]"), "must be 1 to 50 characters");
        }
        if let Some(u) = &self.webhook_url
            && !is_http_url(u)
        {
            return bad("webhook_url", "must be an http or https URL");
        }
        if self.agent.as_deref().is_some_and(str::is_empty) {
            return bad("agent", "must not be empty");
        }
        Ok(())
    }
}

/// Whether `url` is an absolute `http`/`https` URL (ASCII, as a URI is) with a host, of at most
/// [`MAX_WEBHOOK_URL_CHARS`] characters and without whitespace or control characters.
#[must_use]
pub fn is_http_url(url: &str) -> bool {
    // a URI is ASCII (RFC 3986): an international host or path comes punycoded or
    // percent-encoded
    if url.chars().count() > MAX_WEBHOOK_URL_CHARS
        || !url.is_ascii()
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .map_or("", |h| h.trim_start_matches('['))
    } else {
        host.split(':').next().unwrap_or_default()
    };
    !host.is_empty()
}

/// A ticket's priority by name, on the scale tracker priorities use, so a submitted `high`
/// ticket and a tracker's `High` issue are claimed in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriorityName {
    /// 40: claimed first.
    Urgent,
    /// 30.
    High,
    /// 20: the default of a submitted ticket.
    Normal,
    /// 10.
    Low,
}

impl PriorityName {
    /// Every name, most urgent first.
    pub const ALL: &'static [Self] = &[Self::Urgent, Self::High, Self::Normal, Self::Low];

    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Urgent => "urgent",
            Self::High => "high",
            Self::Normal => "normal",
            Self::Low => "low",
        }
    }

    /// The number claims order by (higher first).
    #[must_use]
    pub const fn value(self) -> i32 {
        use crate::tracker::priority;
        match self {
            Self::Urgent => priority::URGENT,
            Self::High => priority::HIGH,
            Self::Normal => priority::MEDIUM,
            Self::Low => priority::LOW,
        }
    }

    /// The name of a wire string.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

/// A ticket to create with what it asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Submission {
    /// The ticket.
    pub ticket: NewTicket,
    /// Its options.
    pub options: TicketOptions,
}

/// The queue as claims see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueSnapshot {
    /// Queued tickets in the order the daemon claims them (highest priority, then oldest).
    pub queued: Vec<TicketId>,
    /// Tickets being worked on now (in an active status under a live lease).
    pub running: usize,
    /// The mean duration (start to finish) of the last [`RECENT_DURATIONS`] finished tickets;
    /// `None` before any finished.
    pub mean_duration: Option<Duration>,
}

impl QueueSnapshot {
    /// The 1-based place of `id` in the queue; `None` when it is not queued.
    #[must_use]
    pub fn position(&self, id: &TicketId) -> Option<usize> {
        self.queued.iter().position(|q| q == id).map(|i| i + 1)
    }
}

/// The mean of `(started, completed)` spans (negative ones count as zero); `None` for none.
#[must_use]
pub fn mean_duration(spans: &[(DateTime<Utc>, DateTime<Utc>)]) -> Option<Duration> {
    if spans.is_empty() {
        return None;
    }
    let total: i128 = spans
        .iter()
        .map(|(s, c)| i128::from((*c - *s).num_milliseconds().max(0)))
        .sum();
    let n = i128::try_from(spans.len()).ok()?;
    u64::try_from(total / n).ok().map(Duration::from_millis)
}

/// When the ticket at 1-based `position` of the queue is expected to start, given `slots`
/// execution slots of which `running` are busy and tickets taking `mean` each: the first
/// `free` tickets start now, the rest wait one mean duration per round of `slots` tickets ahead
/// of them. `None` when no ticket has finished yet (nothing to estimate from) or there are no
/// slots.
#[must_use]
pub fn estimate_start(
    position: usize,
    slots: usize,
    running: usize,
    mean: Option<Duration>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if slots == 0 || position == 0 {
        return None;
    }
    let free = slots.saturating_sub(running);
    if position <= free {
        return Some(now);
    }
    let mean = mean?;
    let rounds = (position - free).div_ceil(slots);
    let wait = mean.checked_mul(u32::try_from(rounds).ok()?)?;
    Some(now + chrono::Duration::from_std(wait).ok()?)
}

/// Where some tickets stand in the queue, with what their start estimate needs: what a
/// [`QueueSnapshot`] tells about them, found by counting rather than by listing the queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueuePlaces {
    /// The 1-based place in claim order of each ticket asked about, in the order asked; `None`
    /// for one that is not queued (or does not exist).
    pub positions: Vec<Option<usize>>,
    /// Tickets being worked on now (in an active status under a live lease).
    pub running: usize,
    /// As [`QueueSnapshot::mean_duration`].
    pub mean_duration: Option<Duration>,
}

/// The prefix of the external ids generated for submitted tickets that give none.
pub const GENERATED_ID_PREFIX: &str = "LOCAL-";

/// The `n` of a generated id `LOCAL-<n>`; `None` for any other id.
#[must_use]
pub fn generated_number(external_id: &str) -> Option<i64> {
    let digits = external_id.strip_prefix(GENERATED_ID_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Where a project's counter of submitted tickets starts, the first time one of its tickets
/// needs a generated id: the larger of its number of tickets and the highest `n` of its
/// `LOCAL-<n>` ids, so no number it has had is handed out again.
#[must_use]
pub fn first_count<'a>(tickets: i64, external_ids: impl IntoIterator<Item = &'a str>) -> i64 {
    external_ids
        .into_iter()
        .filter_map(generated_number)
        .fold(tickets, i64::max)
}

/// What one batch does to one project's counter (see [`SubmissionStore::submit_numbered`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterMove {
    /// The project.
    pub project: String,
    /// Tickets the batch submits to it: the counter moves on by as many.
    pub tickets: i64,
    /// Of which without an external id (numbered from the counter).
    pub generated: usize,
    /// The highest `n` of the `LOCAL-<n>` ids the batch gives itself; the counter ends at
    /// least there.
    pub highest_given: Option<i64>,
}

/// Checks a batch for [`SubmissionStore::submit_numbered`] as [`check_batch`] does, an item
/// without an external id as if it had one (`LOCAL-0`, replaced when it is numbered). Returns
/// each item's project, whether its id is to be generated, and the counter moves by project
/// (sorted by project: the order both stores take the counters in).
///
/// # Errors
/// As [`check_batch`].
pub fn check_numbered_batch(
    items: &mut [Submission],
) -> StoreResult<(Vec<String>, Vec<bool>, Vec<CounterMove>)> {
    let generated: Vec<bool> = items
        .iter()
        .map(|s| s.ticket.external_id.trim().is_empty())
        .collect();
    for (s, g) in items.iter_mut().zip(&generated) {
        if *g {
            s.ticket.external_id = format!("{GENERATED_ID_PREFIX}0");
        }
    }
    let projects = check_batch(items)?;
    let mut moves: Vec<CounterMove> = Vec::new();
    for ((item, project), g) in items.iter().zip(&projects).zip(&generated) {
        if !moves.iter().any(|m| &m.project == project) {
            moves.push(CounterMove {
                project: project.clone(),
                tickets: 0,
                generated: 0,
                highest_given: None,
            });
        }
        let Some(m) = moves.iter_mut().find(|m| &m.project == project) else {
            continue;
        };
        m.tickets += 1;
        if *g {
            m.generated += 1;
        } else if let Some(n) = generated_number(&item.ticket.external_id) {
            m.highest_given = Some(m.highest_given.map_or(n, |h| h.max(n)));
        }
    }
    moves.sort_by(|a, b| a.project.cmp(&b.project));
    Ok((projects, generated, moves))
}

/// Submission and the queue, on the store.
#[async_trait]
pub trait SubmissionStore: Send + Sync {
    /// Creates every ticket (in `queued`) with its options in ONE transaction: either all are
    /// created or none. A taken `(project, external_id)` is [`StoreError::Duplicate`], an
    /// invalid ticket or option [`StoreError::Invalid`] prefixed with `items[<i>].`; nothing is
    /// created then. Tickets come back in the order given.
    async fn submit_tickets(&self, items: Vec<Submission>) -> StoreResult<Vec<Ticket>>;

    /// The options a ticket was submitted with (empty when it asked for none or does not
    /// exist).
    async fn ticket_options(&self, id: &TicketId) -> StoreResult<TicketOptions>;

    /// The queue: queued tickets in claim order, the number being worked on, the recent mean
    /// duration.
    async fn queue_snapshot(&self) -> StoreResult<QueueSnapshot>;

    /// [`SubmissionStore::submit_tickets`], except that an item with a blank `external_id` gets
    /// `LOCAL-<n>` in the same transaction, from a counter per project that starts at
    /// [`first_count`] and moves on by every ticket submitted to the project (and at least to
    /// the highest `LOCAL-<n>` given or handed out). Items take the next numbers in order,
    /// skipping ids already taken; a number is never handed out twice, also under concurrent
    /// batches and after its ticket was deleted. An item's own taken id is
    /// [`StoreError::Duplicate`] naming `items[<i>]`.
    async fn submit_numbered(&self, items: Vec<Submission>) -> StoreResult<Vec<Ticket>>;

    /// Several independent batches in ONE transaction (a group commit): each is created or
    /// refused as [`SubmissionStore::submit_numbered`] would alone, in order; its outcome is
    /// in its place. `Err`: the transaction failed, and none was created.
    async fn submit_groups(
        &self,
        groups: Vec<Vec<Submission>>,
    ) -> StoreResult<Vec<StoreResult<Vec<Ticket>>>>;

    /// Where `ids` stand in the queue now: the place of each (1 + the queued tickets ahead of
    /// it in claim order: higher priority, then older, then lower id), the number being worked
    /// on and the recent mean duration, as [`SubmissionStore::queue_snapshot`] would tell,
    /// without listing the queue.
    async fn queue_places(&self, ids: &[TicketId]) -> StoreResult<QueuePlaces>;
}

/// Checks every item of a batch as the stores do before writing; the error names the item.
///
/// # Errors
/// [`StoreError::Invalid`] naming `items[<i>]` and its field; the batch size.
pub fn check_batch(items: &[Submission]) -> StoreResult<Vec<String>> {
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(StoreError::Invalid(
            "items: a batch holds 1 to 20 tickets".into(),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let prefix = |e: StoreError| match e {
                StoreError::Invalid(m) => StoreError::Invalid(format!("items[{i}].{m}")),
                other => other,
            };
            s.options.check().map_err(prefix)?;
            s.ticket.validate().map_err(prefix)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_only() {
        for ok in [
            "http://example.com",
            "https://example.com/hook?x=1",
            "HTTPS://h:8080/p",
            "http://[::1]:80/",
            "https://user@host/",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "ftp://example.com",
            "https://\u{f0d2e}",
            "https://bücher.example/",
            "httpx://a",
            "http://",
            "https:///path",
            "javascript:alert(1)",
            "http://a b",
            "example.com",
            "",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
        assert!(!is_http_url(&format!("https://a/{}", "x".repeat(2048))));
    }

    #[test]
    fn names_map_onto_the_tracker_scale_in_claim_order() {
        let values: Vec<i32> = PriorityName::ALL.iter().map(|p| p.value()).collect();
        assert_eq!(values, [40, 30, 20, 10]);
        assert_eq!(PriorityName::parse("high"), Some(PriorityName::High));
        assert_eq!(PriorityName::parse("HIGH"), None);
    }

    #[test]
    fn the_lower_ticket_limit_applies() {
        let m = |n| Some(Micros(n));
        assert_eq!(TicketOptions::ticket_limit(m(5), m(9)), m(5));
        assert_eq!(TicketOptions::ticket_limit(m(9), m(5)), m(5));
        assert_eq!(TicketOptions::ticket_limit(None, m(5)), m(5));
        assert_eq!(TicketOptions::ticket_limit(m(0), None), m(0));
        assert_eq!(TicketOptions::ticket_limit(None, None), None);
    }

    #[test]
    fn options_name_the_field_they_break() {
        let err = |o: TicketOptions| o.check().unwrap_err().to_string();
        assert!(
            err(TicketOptions {
                timeout_secs: Some(0),
                ..Default::default()
            })
            .contains("timeout")
        );
        assert!(
            err(TicketOptions {
                max_budget: Some(Micros(-1)),
                ..Default::default()
            })
            .contains("max_budget_usd")
        );
        assert!(
            err(TicketOptions {
                tags: vec!["a".into(), String::new()],
                ..Default::default()
            })
            .contains("tags[1]")
        );
        assert!(
            err(TicketOptions {
                webhook_url: Some("ftp://x".into()),
                ..Default::default()
            })
            .contains("webhook_url")
        );
        assert!(
            TicketOptions {
                timeout_secs: Some(3600),
                max_budget: Some(MAX_TICKET_BUDGET),
                tags: vec!["x".repeat(50); 10],
                webhook_url: Some("https://h/".into()),
                agent: Some("builtin".into()),
            }
            .check()
            .is_ok()
        );
    }

    #[test]
    fn free_slots_start_now_and_the_rest_wait_in_rounds() {
        let now = Utc::now();
        let mean = Some(Duration::from_secs(60));
        assert_eq!(estimate_start(1, 2, 0, mean, now), Some(now));
        assert_eq!(estimate_start(2, 2, 0, mean, now), Some(now));
        assert_eq!(
            estimate_start(3, 2, 0, mean, now),
            Some(now + chrono::Duration::seconds(60))
        );
        assert_eq!(
            estimate_start(1, 2, 2, mean, now),
            Some(now + chrono::Duration::seconds(60))
        );
        assert_eq!(
            estimate_start(5, 2, 2, mean, now),
            Some(now + chrono::Duration::seconds(180))
        );
        assert_eq!(estimate_start(3, 2, 2, None, now), None);
        assert_eq!(estimate_start(1, 0, 0, mean, now), None);
    }

    #[test]
    fn the_mean_of_spans() {
        let t = Utc::now();
        let s = chrono::Duration::seconds;
        assert_eq!(mean_duration(&[]), None);
        assert_eq!(
            mean_duration(&[(t, t + s(10)), (t, t + s(30)), (t + s(5), t)]),
            Some(Duration::from_millis(13_333))
        );
    }

    #[test]
    fn generated_ids_and_their_counters() {
        assert_eq!(generated_number("LOCAL-12"), Some(12));
        for other in [
            "LOCAL-", "LOCAL-1a", "local-3", "LOCAL--1", "JIRA-9", "LOCAL-+4",
        ] {
            assert_eq!(generated_number(other), None, "{other}");
        }
        assert_eq!(first_count(3, ["LOCAL-7", "JIRA-90", "LOCAL-x"]), 7);
        assert_eq!(first_count(9, ["LOCAL-7"]), 9);
        let pairs = [("b", ""), ("a", "LOCAL-9"), ("b", "LOCAL-4"), ("b", " ")];
        let mut items: Vec<Submission> = pairs
            .map(|(project, ext)| Submission {
                ticket: NewTicket {
                    project: project.into(),
                    external_id: ext.into(),
                    title: "t".into(),
                    ..Default::default()
                },
                options: TicketOptions::default(),
            })
            .into();
        let (projects, generated, moves) = check_numbered_batch(&mut items).unwrap();
        assert_eq!(projects, ["b", "a", "b", "b"]);
        assert_eq!(generated, [true, false, false, true]);
        let moves: Vec<_> = moves
            .iter()
            .map(|m| (m.project.as_str(), m.tickets, m.generated, m.highest_given))
            .collect();
        assert_eq!(moves, [("a", 1, 0, Some(9)), ("b", 3, 2, Some(4))]);
    }

    #[test]
    fn a_batch_names_the_item() {
        let good = Submission {
            ticket: NewTicket {
                external_id: "A-1".into(),
                title: "t".into(),
                ..Default::default()
            },
            options: TicketOptions::default(),
        };
        let mut bad = good.clone();
        bad.options.timeout_secs = Some(4000);
        let e = check_batch(&[good.clone(), bad]).unwrap_err().to_string();
        assert!(e.contains("items[1].timeout"), "{e}");
        assert!(check_batch(&[]).is_err());
        assert!(check_batch(&vec![good.clone(); 21]).is_err());
        assert_eq!(check_batch(&[good]).unwrap(), ["default"]);
    }
}
