//! The tracker port: where tickets come from and where their progress is reported.
//!
//! Adapters (GitHub Issues, GitLab Issues, Jira, Linear and the `local` tracker over Foreman's
//! own database) live in `foreman-tracker`; this module holds the trait, the data it speaks in
//! and the pure text helpers every adapter shares (acceptance criteria, truncation, priorities).

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ticket::NewTicket;

/// The label that marks an issue as ready for Foreman unless configured otherwise.
pub const DEFAULT_PICKUP_LABEL: &str = "foreman-ready";

/// Longest ticket body or comment kept, in bytes; longer ones are cut with [`TRUNCATION_NOTE`].
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Appended to text cut by [`truncate_with_note`].
pub const TRUNCATION_NOTE: &str = "\n\n[truncated by foreman: the original text is longer]";

/// Priorities on Foreman's scale (higher runs first).
pub mod priority {
    /// Urgent, critical, highest, P0.
    pub const URGENT: i32 = 40;
    /// High, P1.
    pub const HIGH: i32 = 30;
    /// Medium, normal, P2.
    pub const MEDIUM: i32 = 20;
    /// Low, P3.
    pub const LOW: i32 = 10;
    /// Lowest, trivial, P4, or none given.
    pub const NONE: i32 = 0;
}

/// A tracker's priority name (`High`, `P1`, `priority: urgent`, `critical`, ...) on Foreman's
/// scale; `None` when the name is not a priority.
#[must_use]
pub fn priority_from_name(name: &str) -> Option<i32> {
    let n = name.trim().to_ascii_lowercase();
    let n = n
        .strip_prefix("priority")
        .map(|r| r.trim_start_matches([':', '/', '-', ' ', '_']))
        .unwrap_or(&n);
    match n {
        "urgent" | "critical" | "highest" | "blocker" | "p0" => Some(priority::URGENT),
        "high" | "major" | "p1" => Some(priority::HIGH),
        "medium" | "normal" | "p2" => Some(priority::MEDIUM),
        "low" | "minor" | "p3" => Some(priority::LOW),
        "lowest" | "trivial" | "p4" | "none" | "no priority" => Some(priority::NONE),
        _ => None,
    }
}

/// Cuts `text` to at most `max` bytes (on a character boundary) and appends
/// [`TRUNCATION_NOTE`]; returns whether it was cut.
#[must_use]
pub fn truncate_with_note(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + TRUNCATION_NOTE.len());
    out.push_str(&text[..cut]);
    out.push_str(TRUNCATION_NOTE);
    (out, true)
}

/// Splits a ticket body into its description and its acceptance criteria.
///
/// The criteria are the section under a Markdown heading (`## Acceptance criteria`), a bold
/// line (`**Acceptance Criteria**`) or a label line (`Acceptance criteria:`), matched without
/// regard to case, up to the next heading of the same or a higher level (any heading for the
/// bold and label forms). Returns the body without that section, and the section's text
/// trimmed (empty when the body has none).
#[must_use]
pub fn split_acceptance_criteria(body: &str) -> (String, String) {
    let lines: Vec<&str> = body.lines().collect();
    let Some((start, level, inline)) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| criteria_marker(l).map(|(lvl, rest)| (i, lvl, rest)))
    else {
        return (body.trim().to_owned(), String::new());
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| heading_level(l).is_some_and(|h| level.is_none_or(|lvl| h <= lvl)))
        .map_or(lines.len(), |p| start + 1 + p);
    let mut criteria: Vec<&str> = Vec::new();
    if !inline.is_empty() {
        criteria.push(inline);
    }
    criteria.extend(&lines[start + 1..end]);
    let description: Vec<&str> = lines[..start]
        .iter()
        .chain(&lines[end..])
        .copied()
        .collect();
    (
        description.join("\n").trim().to_owned(),
        criteria.join("\n").trim().to_owned(),
    )
}

fn heading_level(line: &str) -> Option<usize> {
    let t = line.trim_start();
    let hashes = t.chars().take_while(|&c| c == '#').count();
    (1..=6)
        .contains(&hashes)
        .then(|| t[hashes..].starts_with([' ', '\t']) || t.len() == hashes)
        .and_then(|ok| ok.then_some(hashes))
}

/// `Some((heading level or None for bold/label forms, text after a label colon))`.
fn criteria_marker(line: &str) -> Option<(Option<usize>, &str)> {
    let t = line.trim();
    let (level, text) = match heading_level(t) {
        Some(h) => (Some(h), t[h..].trim()),
        None => (None, t),
    };
    let text = text.trim_matches(|c| c == '*' || c == '_').trim();
    let lower = text.to_ascii_lowercase();
    let normalised = lower.replace(['-', '_'], " ");
    let key = "acceptance criteria";
    if !normalised.starts_with(key) {
        return None;
    }
    let rest = text[key.len()..].trim_matches(|c: char| c == '*' || c == '_');
    let rest = rest.trim();
    if rest.is_empty() {
        return Some((level, ""));
    }
    // "Acceptance criteria: the thing works" (label form, criteria inline)
    match rest.strip_prefix(':') {
        Some(after) => Some((
            level,
            after.trim_matches(|c: char| c == '*' || c == '_').trim(),
        )),
        // a heading with more words ("## Acceptance criteria (draft)") still opens the section
        None => level.map(|_| (level, "")),
    }
}

/// A status Foreman reports on a tracker ticket, mapped by each adapter to the tracker's own
/// states (labels, workflow states, transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerStatus {
    /// Foreman is working on it.
    InProgress,
    /// A pull request waits for review.
    InReview,
    /// Merged or otherwise finished.
    Done,
    /// Foreman cannot proceed without a person (questions asked, a budget ran out).
    Blocked,
    /// Foreman gave up on it (the ticket failed).
    Failed,
}

impl TrackerStatus {
    /// Every status.
    pub const ALL: &'static [Self] = &[
        Self::InProgress,
        Self::InReview,
        Self::Done,
        Self::Blocked,
        Self::Failed,
    ];

    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::InReview => "in_review",
            Self::Done => "done",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for TrackerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comment on a tracker ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerComment {
    /// The tracker's id for it.
    pub id: String,
    /// Who wrote it.
    pub author: Option<String>,
    /// Its text (Markdown or plain).
    pub body: String,
    /// When it was written.
    pub created_at: Option<DateTime<Utc>>,
}

/// A ticket as a tracker holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerTicket {
    /// The tracker's id (`#42`, `PROJ-123`, `ENG-7`, `LOCAL-3`).
    pub external_id: String,
    /// Title.
    pub title: String,
    /// The body without its acceptance criteria section, as text.
    pub description: String,
    /// Acceptance criteria (a body section, or the tracker's field); may be empty.
    pub acceptance_criteria: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Foreman's priority scale (see [`priority`]).
    pub priority: i32,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// Who filed it.
    pub reporter: Option<String>,
    /// Where people see it.
    pub url: String,
    /// Its state in the tracker's own words (`open`, `In Progress`, ...).
    pub state: String,
    /// Comments, oldest first (empty in lists; filled by [`Tracker::get_ticket`]).
    pub comments: Vec<TrackerComment>,
    /// Whether the body or a comment was cut at [`MAX_TEXT_BYTES`].
    pub truncated: bool,
    /// Last change at the tracker.
    pub updated_at: Option<DateTime<Utc>>,
}

impl TrackerTicket {
    /// The ticket to create in Foreman's store for this tracker ticket.
    #[must_use]
    pub fn to_new_ticket(&self, project: &str) -> NewTicket {
        NewTicket {
            project: project.to_owned(),
            external_id: self.external_id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            acceptance_criteria: self.acceptance_criteria.clone(),
            priority: self.priority,
            labels: self.labels.clone(),
            submitter: self.reporter.clone(),
            parent_id: None,
        }
    }
}

/// A ticket to create at the tracker (used when Foreman decomposes a ticket).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewTrackerTicket {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Acceptance criteria (written as a body section or the tracker's field).
    pub acceptance_criteria: String,
    /// Labels to set (the pickup label is not added implicitly).
    pub labels: Vec<String>,
    /// The parent ticket's external id, where the tracker can link the two.
    pub parent: Option<String>,
}

/// Renders a body with its acceptance criteria as a `## Acceptance criteria` section, the
/// inverse of [`split_acceptance_criteria`].
#[must_use]
pub fn join_acceptance_criteria(description: &str, criteria: &str) -> String {
    let description = description.trim();
    let criteria = criteria.trim();
    match (description.is_empty(), criteria.is_empty()) {
        (_, true) => description.to_owned(),
        (true, false) => format!("## Acceptance criteria\n\n{criteria}"),
        (false, false) => format!("{description}\n\n## Acceptance criteria\n\n{criteria}"),
    }
}

/// A tracker failure callers can branch on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The tracker's API refused or failed the request (HTTP status, rate limit, transport,
    /// decoding, a GraphQL error), the same variants a git host reports.
    #[error(transparent)]
    Remote(crate::remote::RemoteError),
    /// The configuration cannot work (e.g. a status with no mapped tracker state).
    #[error("{service}: misconfigured: {message}")]
    Misconfigured {
        /// The service.
        service: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The caller passed something unusable.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Storage behind the tracker failed (the `local` tracker lives in the database).
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl TrackerError {
    /// A transport-neutral code for APIs, events and logs.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Remote(e) => e.code(),
            Self::Misconfigured { .. } => "misconfigured",
            Self::Invalid(_) => "invalid",
            Self::Store(e) => e.code(),
        }
    }
}

impl From<crate::remote::RemoteError> for TrackerError {
    /// Wraps a remote failure; a request that could not even be built is the caller's
    /// [`TrackerError::Invalid`].
    fn from(e: crate::remote::RemoteError) -> Self {
        match e {
            crate::remote::RemoteError::Invalid { message, .. } => Self::Invalid(message),
            e => Self::Remote(e),
        }
    }
}

/// Result alias for [`Tracker`].
pub type TrackerResult<T> = Result<T, TrackerError>;

/// An issue tracker: the source of tickets and the place their progress is reported.
#[async_trait]
pub trait Tracker: Send + Sync {
    /// The adapter's name (`github`, `gitlab`, `jira`, `linear`, `local`).
    fn name(&self) -> &'static str;

    /// Every open ticket carrying the pickup label, across all pages (pull requests excluded),
    /// without comments.
    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>>;

    /// One ticket with its comments.
    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket>;

    /// Posts a comment.
    async fn add_comment(&self, external_id: &str, body: &str) -> TrackerResult<TrackerComment>;

    /// Adds a label (already present is fine).
    async fn add_label(&self, external_id: &str, label: &str) -> TrackerResult<()>;

    /// Removes a label (already absent is fine).
    async fn remove_label(&self, external_id: &str, label: &str) -> TrackerResult<()>;

    /// Moves the ticket to the tracker state configured for `status`.
    async fn update_status(&self, external_id: &str, status: TrackerStatus) -> TrackerResult<()>;

    /// Links a pull request to the ticket.
    async fn attach_pr(&self, external_id: &str, url: &str, title: &str) -> TrackerResult<()>;

    /// Creates a ticket and returns it as the tracker stored it.
    async fn create_ticket(&self, new: &NewTrackerTicket) -> TrackerResult<TrackerTicket>;

    /// Checks that the tracker answers and accepts the credentials.
    async fn check(&self) -> TrackerResult<()>;

    /// The configured status names this tracker could not move a ticket to (a Jira status
    /// missing from the project's workflow, a Linear state the team does not have), one line
    /// each naming what the tracker offers instead; empty when every status can be reported.
    /// Run at start-up and by `foreman doctor`. Trackers whose statuses are labels (created on
    /// first use) or settings have nothing to check.
    async fn check_statuses(&self) -> TrackerResult<Vec<String>> {
        Ok(Vec::new())
    }
}

/// How a ticket reached Foreman: the `source` of its `ticket_created` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeSource {
    /// The periodic poll of the tracker.
    Poll,
    /// A tracker webhook said an issue became ready.
    Webhook,
    /// `POST /api/tickets`.
    Api,
}

impl IntakeSource {
    /// The wire name (`poll`, `webhook`, `api`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poll => "poll",
            Self::Webhook => "webhook",
            Self::Api => "api",
        }
    }
}

impl fmt::Display for IntakeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one intake pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntakeReport {
    /// Ready tickets the tracker returned.
    pub fetched: usize,
    /// Foreman tickets created from them (new ones only).
    pub created: Vec<crate::TicketId>,
}

/// The one way a project's tracker tickets become Foreman tickets, whether a poll or a webhook
/// asked: ready tickets are fetched, the new ones stored in `queued`, each with one
/// `ticket_created` event of the same shape. Implemented by `foreman-pipeline`'s `Intake`;
/// the webhook receiver in `foreman-tracker` holds it as this port.
#[async_trait]
pub trait TicketIntake: Send + Sync + fmt::Debug {
    /// The project tickets are created in.
    fn project(&self) -> &str;

    /// Fetches the tracker's ready tickets and creates the ones Foreman does not have yet.
    /// Safe to run concurrently with itself: a ticket is created once.
    async fn take_in(&self, source: IntakeSource) -> TrackerResult<IntakeReport>;

    /// Re-reads a ticket Foreman already has from the tracker and copies its title,
    /// description, acceptance criteria, labels and priority when they changed; returns
    /// whether anything changed.
    async fn refresh(&self, ticket: &crate::Ticket) -> TrackerResult<bool>;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn criteria_under_a_heading() {
        let body = "Users need to log in.\n\n## Acceptance Criteria\n- [ ] login works\n- [ ] logout works\n\n## Notes\nsee wiki";
        let (d, c) = split_acceptance_criteria(body);
        assert_eq!(c, "- [ ] login works\n- [ ] logout works");
        assert_eq!(d, "Users need to log in.\n\n## Notes\nsee wiki");
    }

    #[test]
    fn criteria_subheadings_stay_in_the_section() {
        let body = "# Acceptance criteria\n### API\n- returns 200\n# Other\nx";
        let (d, c) = split_acceptance_criteria(body);
        assert_eq!(c, "### API\n- returns 200");
        assert_eq!(d, "# Other\nx");
    }

    #[test]
    fn criteria_as_bold_or_label() {
        let (_, c) = split_acceptance_criteria("text\n**Acceptance criteria**\n1. a\n2. b");
        assert_eq!(c, "1. a\n2. b");
        let (d, c) = split_acceptance_criteria("text\nAcceptance-Criteria: it builds\n- and runs");
        assert_eq!(c, "it builds\n- and runs");
        assert_eq!(d, "text");
    }

    #[test]
    fn no_criteria_leaves_the_body() {
        let (d, c) = split_acceptance_criteria("  just a body\n\nwith lines  ");
        assert_eq!(d, "just a body\n\nwith lines");
        assert_eq!(c, "");
        let (_, c) = split_acceptance_criteria("we accept criteria loosely");
        assert_eq!(c, "");
    }

    #[test]
    fn join_is_the_inverse_of_split() {
        let body = join_acceptance_criteria("Do it.", "- works");
        assert_eq!(
            split_acceptance_criteria(&body),
            ("Do it.".into(), "- works".into())
        );
        assert_eq!(join_acceptance_criteria("Do it.", " "), "Do it.");
    }

    #[test]
    fn priorities_from_names() {
        assert_eq!(priority_from_name("High"), Some(priority::HIGH));
        assert_eq!(
            priority_from_name("priority: urgent"),
            Some(priority::URGENT)
        );
        assert_eq!(priority_from_name("P3"), Some(priority::LOW));
        assert_eq!(priority_from_name("bug"), None);
    }

    #[test]
    fn truncation_adds_a_note_on_a_char_boundary() {
        let (t, cut) = truncate_with_note("héllo", 2);
        assert!(cut);
        assert_eq!(t, format!("h{TRUNCATION_NOTE}"));
        assert_eq!(truncate_with_note("short", 10), ("short".to_owned(), false));
    }

    proptest! {
        #[test]
        fn split_loses_no_content(desc in "[a-z ]{0,40}", crit in "[a-z ]{1,40}", tail in "[a-z ]{0,40}") {
            let body = format!("{desc}\n## Acceptance criteria\n{crit}\n## Next\n{tail}");
            let (d, c) = split_acceptance_criteria(&body);
            prop_assert_eq!(c, crit.trim());
            prop_assert!(d.contains("## Next"));
            prop_assert!(d.starts_with(desc.trim()));
        }

        #[test]
        fn bodies_without_a_marker_are_untouched(body in "[a-zA-Z0-9 #*\n-]{0,200}") {
            prop_assume!(!body.to_ascii_lowercase().contains("acceptance"));
            let (d, c) = split_acceptance_criteria(&body);
            prop_assert_eq!(d, body.trim());
            prop_assert_eq!(c, "");
        }

        #[test]
        fn truncation_bounds_the_length(s in ".{0,300}", max in 0usize..200) {
            let (t, cut) = truncate_with_note(&s, max);
            prop_assert_eq!(cut, s.len() > max);
            if cut {
                prop_assert!(t.len() <= max + TRUNCATION_NOTE.len());
                prop_assert!(t.ends_with(TRUNCATION_NOTE));
            } else {
                prop_assert_eq!(t, s);
            }
        }
    }
}
