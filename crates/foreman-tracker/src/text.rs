//! Turning a tracker's raw issue into a [`TrackerTicket`]: truncation of huge bodies, the
//! acceptance criteria section, and priorities from labels.

use chrono::{DateTime, Utc};
use foreman_domain::tracker::{
    MAX_TEXT_BYTES, TrackerComment, TrackerTicket, priority, priority_from_name,
    split_acceptance_criteria, truncate_with_note,
};

/// The raw parts of a tracker issue.
#[derive(Debug, Clone, Default)]
pub struct RawIssue {
    /// External id.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Body as text (Markdown, or converted from the tracker's format).
    pub body: String,
    /// Acceptance criteria from a dedicated field, if the tracker has one; otherwise they are
    /// taken from a section of the body.
    pub criteria_field: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// The tracker's own priority name, if it has one; otherwise labels are consulted.
    pub priority_name: Option<String>,
    /// Priority already on Foreman's scale, if the tracker has a numeric one.
    pub priority: Option<i32>,
    /// Assignee.
    pub assignee: Option<String>,
    /// Reporter.
    pub reporter: Option<String>,
    /// Web URL.
    pub url: String,
    /// State in the tracker's words.
    pub state: String,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Builds the ticket: the body is cut at [`MAX_TEXT_BYTES`] with a note, the acceptance
/// criteria come from the field or the body, the priority from the tracker or the labels.
#[must_use]
pub fn ticket(raw: RawIssue) -> TrackerTicket {
    let (body, truncated) = truncate_with_note(&raw.body, MAX_TEXT_BYTES);
    let (description, criteria) = match raw.criteria_field.as_deref().map(str::trim) {
        Some(field) if !field.is_empty() => (body.trim().to_owned(), field.to_owned()),
        _ => split_acceptance_criteria(&body),
    };
    let priority = raw
        .priority
        .or_else(|| raw.priority_name.as_deref().and_then(priority_from_name))
        .or_else(|| {
            raw.labels
                .iter()
                .filter_map(|l| priority_from_name(l))
                .max()
        })
        .unwrap_or(priority::NONE);
    TrackerTicket {
        external_id: raw.external_id,
        title: raw.title,
        description,
        acceptance_criteria: criteria,
        labels: raw.labels,
        priority,
        assignee: raw.assignee,
        reporter: raw.reporter,
        url: raw.url,
        state: raw.state,
        comments: Vec::new(),
        truncated,
        updated_at: raw.updated_at,
    }
}

/// A comment, cut at [`MAX_TEXT_BYTES`]; returns whether it was cut.
#[must_use]
pub fn comment(
    id: String,
    author: Option<String>,
    body: &str,
    created_at: Option<DateTime<Utc>>,
) -> (TrackerComment, bool) {
    let (body, cut) = truncate_with_note(body, MAX_TEXT_BYTES);
    (
        TrackerComment {
            id,
            author,
            body,
            created_at,
        },
        cut,
    )
}

/// Attaches comments to a ticket, marking it truncated if any comment was cut.
pub fn with_comments(ticket: &mut TrackerTicket, comments: Vec<(TrackerComment, bool)>) {
    for (c, cut) in comments {
        ticket.truncated |= cut;
        ticket.comments.push(c);
    }
}

/// The comment Foreman posts to link a pull request.
#[must_use]
pub fn pr_link_comment(url: &str, title: &str) -> String {
    format!("Foreman opened a pull request: [{title}]({url})")
}

/// The names of the states Foreman's statuses move to on a tracker whose states are named
/// (a Jira status, a Linear workflow state). An empty name: that status is not reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusNames {
    /// In progress (default `In Progress`).
    pub in_progress: String,
    /// In review (default `In Review`).
    pub in_review: String,
    /// Done (default `Done`).
    pub done: String,
    /// Blocked (default `Blocked`).
    pub blocked: String,
    /// Failed (default `Blocked`: most workflows have no failed state; name yours here).
    pub failed: String,
}

impl Default for StatusNames {
    fn default() -> Self {
        Self {
            in_progress: "In Progress".to_owned(),
            in_review: "In Review".to_owned(),
            done: "Done".to_owned(),
            blocked: "Blocked".to_owned(),
            failed: "Blocked".to_owned(),
        }
    }
}

impl StatusNames {
    /// The name for `status` (empty: not reported).
    #[must_use]
    pub fn name(&self, status: foreman_domain::tracker::TrackerStatus) -> &str {
        use foreman_domain::tracker::TrackerStatus as S;
        match status {
            S::InProgress => &self.in_progress,
            S::InReview => &self.in_review,
            S::Done => &self.done,
            S::Blocked => &self.blocked,
            S::Failed => &self.failed,
        }
    }

    /// One line per named status whose name is not in `available` (compared without regard
    /// to case), naming `place` and what it has; unnamed statuses need no check.
    #[must_use]
    pub fn missing_from(&self, available: &[String], place: &str) -> Vec<String> {
        foreman_domain::tracker::TrackerStatus::ALL
            .iter()
            .map(|&status| (status, self.name(status)))
            .filter(|(_, name)| !name.trim().is_empty())
            .filter(|(_, name)| !available.iter().any(|a| a.eq_ignore_ascii_case(name)))
            .map(|(status, name)| {
                format!(
                    "{status} maps to {name:?}, which {place} does not have (it has: {})",
                    available.join(", ")
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_bodies_are_cut_and_flagged() {
        let t = ticket(RawIssue {
            body: "x".repeat(MAX_TEXT_BYTES * 3),
            ..RawIssue::default()
        });
        assert!(t.truncated);
        assert!(t.description.len() < MAX_TEXT_BYTES + 200);
        assert!(t.description.ends_with("longer]"));
    }

    #[test]
    fn priority_sources_in_order() {
        let mut raw = RawIssue {
            labels: vec!["bug".into(), "P1".into(), "priority: low".into()],
            ..RawIssue::default()
        };
        assert_eq!(ticket(raw.clone()).priority, priority::HIGH);
        raw.priority_name = Some("Highest".into());
        assert_eq!(ticket(raw.clone()).priority, priority::URGENT);
        raw.priority = Some(7);
        assert_eq!(ticket(raw).priority, 7);
        assert_eq!(ticket(RawIssue::default()).priority, priority::NONE);
    }

    #[test]
    fn a_criteria_field_wins_over_the_body() {
        let t = ticket(RawIssue {
            body: "do it\n## Acceptance criteria\n- from body".into(),
            criteria_field: Some("- from field".into()),
            ..RawIssue::default()
        });
        assert_eq!(t.acceptance_criteria, "- from field");
        assert!(t.description.contains("from body"));
        let t = ticket(RawIssue {
            body: "no criteria here".into(),
            ..RawIssue::default()
        });
        assert_eq!(t.acceptance_criteria, "");
    }
}
