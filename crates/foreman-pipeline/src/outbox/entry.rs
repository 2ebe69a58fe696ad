//! What an outbox entry of a tracker write is: the effect (`TrackerEffect`), its idempotency
//! key (`tracker_key`), the stored payload (`TrackerWrite`), how a failed write is retried
//! (`OutboxRetry`, `heals`) and what became of a write (`WriteOutcome`).

use std::time::Duration;

use foreman_domain::TicketId;
use foreman_domain::tracker::{TrackerError, TrackerStatus};
use serde::{Deserialize, Serialize};

/// The outbox `kind` of tracker write-backs.
pub const TRACKER_KIND: &str = "tracker";

/// One write to a tracker ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum TrackerEffect {
    /// Posts a comment.
    Comment {
        /// Its text.
        body: String,
    },
    /// Links the pull request.
    AttachPr {
        /// Its URL.
        url: String,
        /// Its title.
        title: String,
    },
    /// Moves the ticket to a status.
    Status {
        /// The status.
        status: TrackerStatus,
    },
    /// Adds a label.
    AddLabel {
        /// The label.
        label: String,
    },
    /// Removes a label.
    RemoveLabel {
        /// The label.
        label: String,
    },
}

impl TrackerEffect {
    /// The effect's part of the idempotency key: `comment`, `attach_pr`, `status:<status>`,
    /// `label+:<label>`, `label-:<label>`.
    #[must_use]
    pub fn key_part(&self) -> String {
        match self {
            Self::Comment { .. } => "comment".to_owned(),
            Self::AttachPr { .. } => "attach_pr".to_owned(),
            Self::Status { status } => format!("status:{status}"),
            Self::AddLabel { label } => format!("label+:{label}"),
            Self::RemoveLabel { label } => format!("label-:{label}"),
        }
    }
}

/// The idempotency key of `effect` on `ticket` for `occasion`.
#[must_use]
pub fn tracker_key(ticket: &TicketId, occasion: &str, effect: &TrackerEffect) -> String {
    format!("tracker:{ticket}:{occasion}:{}", effect.key_part())
}

/// An entry's payload: which tracker ticket, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerWrite {
    /// The project (whose tracker to use).
    pub project: String,
    /// The tracker's id of the ticket.
    pub external_id: String,
    /// What to do.
    pub effect: TrackerEffect,
}

/// How tracker writes are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxRetry {
    /// The wait after the first failure; it doubles with each further one.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// How long a claim keeps others off an entry: longer than any one tracker call takes.
    pub hold: Duration,
}

impl Default for OutboxRetry {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
            max_attempts: 10,
            hold: Duration::from_secs(120),
        }
    }
}

impl OutboxRetry {
    /// The wait after `attempts` failed attempts: `base · 2^(attempts-1)`, capped at `max`, less
    /// up to a quarter of it by a jitter drawn from `key` and `attempts` (so entries that failed
    /// together do not come back together, and the same entry's waits are reproducible).
    #[must_use]
    pub fn backoff(&self, key: &str, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let full = self.base.saturating_mul(1 << exp).min(self.max);
        // FNV-1a over the key and the attempt: a cheap, stable spread in [0, 1).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes().chain(attempts.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let frac = (h % 1000) as f64 / 1000.0;
        full.mul_f64(1.0 - frac / 4.0)
    }
}

/// Whether a tracker error may heal by itself (an outage, a rate limit, a timeout, storage).
#[must_use]
pub fn heals(e: &TrackerError) -> bool {
    match e {
        TrackerError::Remote(r) => r.is_transient(),
        TrackerError::Store(_) => true,
        _ => false,
    }
}

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Done now, or found done before.
    Done,
    /// Failed; it waits in the outbox for its next attempt.
    Retrying,
    /// Failed for good (refused, or out of attempts).
    GaveUp,
    /// Someone else holds it, or it is not due yet: left to them, or to the drain.
    Elsewhere,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_ticket_occasion_and_effect() {
        let t = TicketId::from("01".to_owned());
        let status = TrackerEffect::Status {
            status: TrackerStatus::InReview,
        };
        assert_eq!(
            tracker_key(&t, "pr3", &status),
            "tracker:01:pr3:status:in_review"
        );
        let label = TrackerEffect::RemoveLabel {
            label: "needs-info".into(),
        };
        assert_eq!(
            tracker_key(&t, "x", &label),
            "tracker:01:x:label-:needs-info"
        );
    }

    #[test]
    fn payloads_round_trip() {
        let w = TrackerWrite {
            project: "default".into(),
            external_id: "LOCAL-1".into(),
            effect: TrackerEffect::AttachPr {
                url: "https://example.invalid/pr/1".into(),
                title: "t".into(),
            },
        };
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(v["effect"]["effect"], "attach_pr");
        assert_eq!(serde_json::from_value::<TrackerWrite>(v).unwrap(), w);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_a_quarter_off() {
        let r = OutboxRetry::default();
        let mut last_full = Duration::ZERO;
        for attempts in 1..=15 {
            let d = r.backoff("tracker:k", attempts);
            let full = r
                .base
                .saturating_mul(1 << (attempts - 1).min(20))
                .min(r.max);
            assert!(
                d <= full && d >= full.mul_f64(0.75),
                "{attempts}: {d:?} of {full:?}"
            );
            assert!(full >= last_full);
            last_full = full;
            assert_eq!(d, r.backoff("tracker:k", attempts), "reproducible");
        }
        assert_eq!(last_full, r.max);
    }
}
