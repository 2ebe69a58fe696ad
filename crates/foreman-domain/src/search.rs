//! Full-text search over tickets and the history of finished tickets: the [`TicketSearch`] port
//! and the rules every implementation shares (how a query is split into terms, the opaque
//! cursors, how a highlighted snippet is marked).
//!
//! A ticket's search document is its external id and title, its description and acceptance
//! criteria, its plan (the planner's summary), its task titles and the summaries its events
//! carry (reviews, agents). The SQL store keeps the document current in the same transaction as
//! every write that changes it (database triggers); the memory store builds it when asked.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{StoreError, StoreResult};
use crate::ids::TicketId;
use crate::status::TicketStatus;
use crate::ticket::{Page, Ticket};

/// The most results one search or history page returns.
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// The most terms of a query that are searched for; later ones are ignored.
pub const MAX_TERMS: usize = 16;
/// The longest term searched for, in characters; longer ones are cut.
pub const MAX_TERM_CHARS: usize = 64;
/// Opens a highlighted match in the marked snippet text a store produces.
pub const MARK_OPEN: char = '\u{E000}';
/// Closes a highlighted match in the marked snippet text a store produces.
pub const MARK_CLOSE: char = '\u{E001}';

/// Statuses in which a ticket's work has ended (for now): the history lists them. `partial` and
/// `decomposed` are not terminal (a partial pull request may still merge, children may still
/// run) but Foreman's own work on the ticket is over.
pub const FINISHED: &[TicketStatus] = &[
    TicketStatus::Merged,
    TicketStatus::PrClosed,
    TicketStatus::Done,
    TicketStatus::Failed,
    TicketStatus::Blocked,
    TicketStatus::Partial,
    TicketStatus::Decomposed,
];

/// A full-text query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// What the user typed. Split into terms by [`search_terms`]; every term must match
    /// (the last one as a prefix).
    pub text: String,
    /// At most this many results (1 to [`MAX_SEARCH_LIMIT`]; 0 means 20).
    pub limit: u32,
    /// From a previous page's `next_cursor`, for the same query.
    pub cursor: Option<String>,
}

impl SearchQuery {
    /// The effective page size.
    #[must_use]
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 20,
            n => n.min(MAX_SEARCH_LIMIT),
        }
    }

    /// The query's terms, refusing a query without any.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when the text holds no letter or digit.
    pub fn terms(&self) -> StoreResult<Vec<String>> {
        let terms = search_terms(&self.text);
        if terms.is_empty() {
            return Err(StoreError::Invalid(
                "q must contain at least one letter or digit".into(),
            ));
        }
        Ok(terms)
    }

    /// The decoded cursor, checked to belong to this query.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a malformed cursor or one from another query.
    pub fn position(&self, terms: &[String]) -> StoreResult<Option<SearchCursor>> {
        self.cursor
            .as_deref()
            .map(|c| SearchCursor::decode(c, terms))
            .transpose()
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The ticket.
    pub ticket: Ticket,
    /// Relevance: higher is better. Comparable within one query and one store only.
    pub score: f64,
    /// A short passage of the document around the matches, matches highlighted.
    pub snippet: Vec<SnippetPart>,
}

/// A piece of a snippet: plain text or a highlighted match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetPart {
    /// The text.
    pub text: String,
    /// Whether it is a match.
    pub highlighted: bool,
}

/// Search and history reads over tickets.
#[async_trait]
pub trait TicketSearch: Send + Sync {
    /// Tickets whose search document matches every term of `query`, best first (ties by id),
    /// each with a highlighted snippet. Only the newest 1,000 matches are ranked (a bound on
    /// the cost when a word is in most tickets); fewer matches are ranked in full.
    ///
    /// Errors: [`StoreError::Invalid`] for a query without terms or a bad cursor.
    async fn search_tickets(&self, query: &SearchQuery) -> StoreResult<Page<SearchHit>>;

    /// Tickets in a [`FINISHED`] status, most recently finished first (ties by id descending),
    /// `limit` at most (0 means 20, capped at [`MAX_SEARCH_LIMIT`]).
    ///
    /// Errors: [`StoreError::Invalid`] for a bad cursor.
    async fn finished_tickets(&self, limit: u32, cursor: Option<&str>)
    -> StoreResult<Page<Ticket>>;
}

/// Splits a query into lowercase terms: runs of letters and digits, at most [`MAX_TERMS`] of at
/// most [`MAX_TERM_CHARS`] characters each. Everything else (quotes, operators, punctuation)
/// separates terms, so no input can change the shape of the query a store runs.
#[must_use]
pub fn search_terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.chars()
                .take(MAX_TERM_CHARS)
                .flat_map(char::to_lowercase)
                .collect()
        })
        .take(MAX_TERMS)
        .collect()
}

/// An 8-hex-digit fingerprint of a query's terms, so a cursor is refused by another query.
fn fingerprint(terms: &[String]) -> String {
    let digest = Sha256::digest(terms.join(" ").as_bytes());
    hex::encode(&digest[..4])
}

/// Where a search page ended: the last hit's score and id, for the query it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchCursor {
    /// The last hit's score.
    pub score: f64,
    /// The last hit's ticket id (the tie-breaker).
    pub id: TicketId,
}

impl SearchCursor {
    /// The opaque string form for the query of `terms`.
    #[must_use]
    pub fn encode(&self, terms: &[String]) -> String {
        let raw = format!(
            "s.{}.{:016x}.{}",
            fingerprint(terms),
            self.score.to_bits(),
            self.id
        );
        hex::encode(raw)
    }

    /// Parses a cursor made for the query of `terms`.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when `s` is not a search cursor or belongs to another query.
    pub fn decode(s: &str, terms: &[String]) -> StoreResult<Self> {
        let bad = || StoreError::Invalid("cursor is malformed".into());
        let raw = hex::decode(s).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.splitn(4, '.');
        let (Some("s"), Some(fp), Some(bits), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if fp != fingerprint(terms) {
            return Err(StoreError::Invalid(
                "cursor belongs to another query".into(),
            ));
        }
        let bits = u64::from_str_radix(bits, 16).map_err(|_| bad())?;
        let score = f64::from_bits(bits);
        if id.is_empty() || !score.is_finite() {
            return Err(bad());
        }
        Ok(Self {
            score,
            id: TicketId::from(id),
        })
    }

    /// Whether a hit with `score` and `id` comes after this position (best first, ties by id).
    #[must_use]
    pub fn precedes(&self, score: f64, id: &TicketId) -> bool {
        score < self.score || (score == self.score && id.as_str() > self.id.as_str())
    }
}

/// When a finished ticket finished: its completion time, else (a `partial` or `decomposed`
/// ticket, which is not terminal) its last change.
#[must_use]
pub fn finished_at(ticket: &Ticket) -> DateTime<Utc> {
    ticket.completed_at.unwrap_or(ticket.updated_at)
}

/// Where a history page ended: the last ticket's finish time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryCursor {
    /// [`finished_at`] of the last ticket, in microseconds.
    pub at_micros: i64,
    /// The last ticket's id (the tie-breaker).
    pub id: TicketId,
}

impl HistoryCursor {
    /// The cursor that continues after `ticket`.
    #[must_use]
    pub fn after(ticket: &Ticket) -> Self {
        Self {
            at_micros: finished_at(ticket).timestamp_micros(),
            id: ticket.id.clone(),
        }
    }

    /// The opaque string form.
    #[must_use]
    pub fn encode(&self) -> String {
        hex::encode(format!("h.{}.{}", self.at_micros, self.id))
    }

    /// Parses a history cursor.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when `s` is not a history cursor.
    pub fn decode(s: &str) -> StoreResult<Self> {
        let bad = || StoreError::Invalid("cursor is malformed".into());
        let raw = String::from_utf8(hex::decode(s).map_err(|_| bad())?).map_err(|_| bad())?;
        let mut parts = raw.splitn(3, '.');
        let (Some("h"), Some(at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let at_micros = at.parse::<i64>().map_err(|_| bad())?;
        if id.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            at_micros,
            id: TicketId::from(id),
        })
    }

    /// Whether `ticket` comes after this position (newest first, ties by id descending).
    #[must_use]
    pub fn precedes(&self, ticket: &Ticket) -> bool {
        let at = finished_at(ticket).timestamp_micros();
        at < self.at_micros || (at == self.at_micros && ticket.id.as_str() < self.id.as_str())
    }
}

/// The effective history page size for `limit`.
#[must_use]
pub fn history_limit(limit: u32) -> u32 {
    match limit {
        0 => 20,
        n => n.min(MAX_SEARCH_LIMIT),
    }
}

/// Splits text marked with [`MARK_OPEN`] and [`MARK_CLOSE`] into parts. Empty parts are
/// dropped, adjacent parts of the same kind merged; a stray mark only toggles the state.
#[must_use]
pub fn parse_marked(marked: &str) -> Vec<SnippetPart> {
    let mut parts: Vec<SnippetPart> = Vec::new();
    let mut highlighted = false;
    let mut current = String::new();
    let flush = |text: &mut String, highlighted: bool, parts: &mut Vec<SnippetPart>| {
        if text.is_empty() {
            return;
        }
        match parts.last_mut() {
            Some(last) if last.highlighted == highlighted => last.text.push_str(text),
            _ => parts.push(SnippetPart {
                text: text.clone(),
                highlighted,
            }),
        }
        text.clear();
    };
    for c in marked.chars() {
        match c {
            MARK_OPEN => {
                flush(&mut current, highlighted, &mut parts);
                highlighted = true;
            }
            MARK_CLOSE => {
                flush(&mut current, highlighted, &mut parts);
                highlighted = false;
            }
            c => current.push(c),
        }
    }
    flush(&mut current, highlighted, &mut parts);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_words_lowercased_and_bounded() {
        assert_eq!(
            search_terms(r#"Fix "OAuth" login; NOT -- x* (Ünïcode) 42"#),
            ["fix", "oauth", "login", "not", "x", "ünïcode", "42"]
        );
        assert!(search_terms(" \"*-() ").is_empty());
        let many = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(search_terms(&many).len(), MAX_TERMS);
        assert_eq!(search_terms(&"a".repeat(500))[0].len(), MAX_TERM_CHARS);
    }

    #[test]
    fn a_query_without_terms_is_refused() {
        let q = SearchQuery {
            text: "  -- ".into(),
            ..SearchQuery::default()
        };
        assert_eq!(q.terms().unwrap_err().code(), "invalid");
    }

    #[test]
    fn search_cursors_round_trip_and_belong_to_their_query() {
        let terms = search_terms("login bug");
        let c = SearchCursor {
            score: -3.25e-7,
            id: TicketId::from("0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"),
        };
        let s = c.encode(&terms);
        assert_eq!(SearchCursor::decode(&s, &terms).unwrap(), c);
        let other = SearchCursor::decode(&s, &search_terms("login")).unwrap_err();
        assert!(other.to_string().contains("another query"), "{other}");
        for bad in [
            "",
            "zz",
            "00",
            &hex::encode("s.x.y"),
            &hex::encode("h.1.id"),
        ] {
            assert!(SearchCursor::decode(bad, &terms).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn history_cursors_round_trip() {
        let c = HistoryCursor {
            at_micros: 1_700_000_000_000_001,
            id: TicketId::from("t-1"),
        };
        assert_eq!(HistoryCursor::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "xyz",
            &hex::encode("h.x.t"),
            &hex::encode("h.1."),
            &hex::encode("s.1.t"),
        ] {
            assert!(HistoryCursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn marked_text_becomes_parts() {
        let marked =
            format!("a {MARK_OPEN}login{MARK_CLOSE} bug{MARK_OPEN}{MARK_CLOSE} x{MARK_CLOSE}y");
        assert_eq!(
            parse_marked(&marked),
            vec![
                SnippetPart {
                    text: "a ".into(),
                    highlighted: false
                },
                SnippetPart {
                    text: "login".into(),
                    highlighted: true
                },
                SnippetPart {
                    text: " bug xy".into(),
                    highlighted: false
                },
            ]
        );
        assert!(parse_marked("").is_empty());
    }

    #[test]
    fn later_positions_follow_the_cursor() {
        let c = SearchCursor {
            score: 2.0,
            id: TicketId::from("m"),
        };
        assert!(c.precedes(1.0, &TicketId::from("a")));
        assert!(c.precedes(2.0, &TicketId::from("z")));
        assert!(!c.precedes(2.0, &TicketId::from("m")));
        assert!(!c.precedes(3.0, &TicketId::from("z")));
    }
}
