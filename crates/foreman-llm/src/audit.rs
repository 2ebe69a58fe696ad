//! Audit bodies: the full request and response of every recorded call, size-capped and with
//! secrets redacted, retrievable by the call's id.
//!
//! Storage is behind the [`AuditSink`] trait; [`MemoryAuditSink`] keeps the most recent
//! records in memory. A persistent sink belongs in the storage crate.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::LlmCallId;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// One call's bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The `llm_calls` row it belongs to.
    pub call_id: LlmCallId,
    /// Provider.
    pub provider: String,
    /// Model requested.
    pub model: String,
    /// Pipeline role.
    pub role: String,
    /// The request as JSON (redacted, capped).
    pub request: String,
    /// The response as JSON (redacted, capped), when one arrived.
    pub response: Option<String>,
    /// The error, when the call failed.
    pub error: Option<String>,
    /// Whether the request or the response was cut at the size cap.
    pub truncated: bool,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// Where audit bodies go.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Stores a record. Failures are the sink's to log; the call itself never fails because
    /// of auditing.
    async fn store(&self, record: AuditRecord);

    /// A call's record, if kept.
    async fn get(&self, call_id: &LlmCallId) -> Option<AuditRecord>;
}

/// Keeps the most recent `capacity` records in memory.
#[derive(Debug)]
pub struct MemoryAuditSink {
    capacity: usize,
    inner: Mutex<(VecDeque<LlmCallId>, HashMap<LlmCallId, AuditRecord>)>,
}

impl MemoryAuditSink {
    /// A sink holding at most `capacity` records (oldest dropped first).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new((VecDeque::new(), HashMap::new())),
        }
    }

    /// How many records it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().0.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, (VecDeque<LlmCallId>, HashMap<LlmCallId, AuditRecord>)> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for MemoryAuditSink {
    fn default() -> Self {
        Self::new(1_000)
    }
}

#[async_trait]
impl AuditSink for MemoryAuditSink {
    async fn store(&self, record: AuditRecord) {
        let mut g = self.lock();
        let (order, map) = &mut *g;
        if map.insert(record.call_id.clone(), record.clone()).is_none() {
            order.push_back(record.call_id);
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    async fn get(&self, call_id: &LlmCallId) -> Option<AuditRecord> {
        self.lock().1.get(call_id).cloned()
    }
}

/// Removes secrets from text before it is stored: the configured API keys verbatim, and
/// anything shaped like a well-known credential.
#[derive(Debug, Clone)]
pub struct Redactor {
    known: Vec<String>,
    patterns: Vec<Regex>,
}

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

impl Default for Redactor {
    fn default() -> Self {
        let patterns = [
            r"sk-ant-[A-Za-z0-9_\-]{8,}",
            r"sk-(?:proj-|or-v1-)?[A-Za-z0-9_\-]{20,}",
            r"gh[pousr]_[A-Za-z0-9]{20,}",
            r"github_pat_[A-Za-z0-9_]{20,}",
            r"glpat-[A-Za-z0-9_\-]{20,}",
            r"xox[baprs]-[A-Za-z0-9\-]{10,}",
            r"AKIA[0-9A-Z]{16}",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
            r"(?i)bearer\s+[A-Za-z0-9._~+/\-]{16,}=*",
        ];
        Self {
            known: Vec::new(),
            patterns: patterns.iter().filter_map(|p| Regex::new(p).ok()).collect(),
        }
    }
}

impl Redactor {
    /// Also redacts these exact values (the configured API keys).
    #[must_use]
    pub fn with_secrets<'a>(mut self, secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        for s in secrets {
            // very short values would redact ordinary words
            if s.expose().len() >= 8 {
                self.known.push(s.expose().to_owned());
            }
        }
        self
    }

    /// `text` with every secret replaced by [`REDACTED`].
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for k in &self.known {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), REDACTED);
            }
        }
        for p in &self.patterns {
            if p.is_match(&out) {
                out = p.replace_all(&out, REDACTED).into_owned();
            }
        }
        out
    }

    /// Redacts, then cuts to at most `max_bytes` (on a character boundary) with a marker.
    /// Returns the text and whether it was cut.
    #[must_use]
    pub fn redact_capped(&self, text: &str, max_bytes: usize) -> (String, bool) {
        let red = self.redact(text);
        if red.len() <= max_bytes {
            return (red, false);
        }
        let mut cut = crate::wire::clip(&red, max_bytes).to_owned();
        cut.push_str(&format!("…[truncated {} bytes]", red.len() - cut.len()));
        (cut, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_known_and_shaped_secrets() {
        let r = Redactor::default().with_secrets([&Secret::new("my-custom-key-123")]);
        let text = "key my-custom-key-123 and sk-ant-api03-abcdefghijklmnop and \
                    ghp_abcdefghijklmnopqrstuvwxyz0123 and Authorization: Bearer abcdefghijklmnopqrstuv";
        let out = r.redact(text);
        assert!(!out.contains("my-custom-key-123"), "{out}");
        assert!(!out.contains("sk-ant-api03"), "{out}");
        assert!(!out.contains("ghp_"), "{out}");
        assert!(!out.contains("abcdefghijklmnopqrstuv"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 4, "{out}");
        assert_eq!(r.redact("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn caps_size() {
        let r = Redactor::default();
        let (s, cut) = r.redact_capped(&"é".repeat(100), 51);
        assert!(cut);
        assert!(s.starts_with(&"é".repeat(25)));
        assert!(s.ends_with("[truncated 150 bytes]"), "{s}");
        let (s, cut) = r.redact_capped("short", 51);
        assert!(!cut);
        assert_eq!(s, "short");
    }

    #[tokio::test]
    async fn memory_sink_keeps_the_most_recent() {
        let sink = MemoryAuditSink::new(2);
        let ids: Vec<LlmCallId> = (0..3).map(|_| LlmCallId::new()).collect();
        for id in &ids {
            sink.store(AuditRecord {
                call_id: id.clone(),
                provider: "p".into(),
                model: "m".into(),
                role: "r".into(),
                request: "{}".into(),
                response: None,
                error: None,
                truncated: false,
                created_at: foreman_domain::now(),
            })
            .await;
        }
        assert_eq!(sink.len(), 2);
        assert!(sink.get(&ids[0]).await.is_none());
        assert!(sink.get(&ids[2]).await.is_some());
    }
}
