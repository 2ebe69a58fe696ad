//! Audit bodies: the full request and response of every recorded call, size-capped and with
//! secrets redacted, retrievable by the call's id.
//!
//! The [`Redactor`] is also what the metered wrapper applies to every outgoing request: the
//! configured API keys verbatim, then `foreman-secrets`' [`SecretScanner`] rules.
//!
//! Storage is behind the [`AuditSink`] trait; [`MemoryAuditSink`] keeps the most recent
//! records in memory. A persistent sink belongs in the storage crate.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::LlmCallId;
use foreman_secrets::SecretScanner;
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

/// Removes secrets from text before it is sent or stored: the configured API keys verbatim
/// (replaced by [`REDACTED`]), then everything the [`SecretScanner`] finds (replaced by
/// `[REDACTED:<rule_id>]`).
#[derive(Debug, Clone)]
pub struct Redactor {
    known: Vec<String>,
    scanner: Arc<SecretScanner>,
}

/// What a configured API key is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The default rules, compiled once per process.
static DEFAULT_SCANNER: LazyLock<Arc<SecretScanner>> =
    LazyLock::new(|| Arc::new(SecretScanner::default_rules()));

impl Default for Redactor {
    fn default() -> Self {
        Self {
            known: Vec::new(),
            scanner: DEFAULT_SCANNER.clone(),
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

    /// Uses `scanner` (the default rules plus `runner.secret_patterns`, say) instead of the
    /// default rules.
    #[must_use]
    pub fn with_scanner(mut self, scanner: Arc<SecretScanner>) -> Self {
        self.scanner = scanner;
        self
    }

    /// The scanner it applies.
    #[must_use]
    pub fn scanner(&self) -> &Arc<SecretScanner> {
        &self.scanner
    }

    /// `text` with every secret replaced, and how many were. Borrows when there were none.
    #[must_use]
    pub fn redact_counted<'a>(&self, text: &'a str) -> (Cow<'a, str>, usize) {
        let mut out = Cow::Borrowed(text);
        let mut n = 0;
        for k in &self.known {
            let hits = out.matches(k.as_str()).count();
            if hits > 0 {
                n += hits;
                out = Cow::Owned(out.replace(k.as_str(), REDACTED));
            }
        }
        let scanned = match self.scanner.redact(&out) {
            (Cow::Owned(clean), found) => Some((clean, found.len())),
            (Cow::Borrowed(_), _) => None,
        };
        match scanned {
            Some((clean, k)) => (Cow::Owned(clean), n + k),
            None => (out, n),
        }
    }

    /// `text` with every secret replaced.
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        self.redact_counted(text).0.into_owned()
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
        let anthropic = format!("sk-ant-{}", "api03-Zq8vR2mK9wL4xT7b");
        let github = format!("ghp_{}", "Zq8vR2mK9wL4xT7bN3cD5fG1hJ6kP0sY2uW4");
        let text = format!(
            "key my-custom-key-123 and {anthropic} and {github} and \
             Authorization: Bearer abcdefghijklmnopqrstuv"
        );
        let (out, n) = r.redact_counted(&text);
        assert_eq!(
            out,
            "key [REDACTED] and [REDACTED:anthropic_api_key] and [REDACTED:github_token] and \
             Authorization: Bearer [REDACTED:bearer_token]"
        );
        assert_eq!(n, 4);
        assert_eq!(r.redact(&text), out);
        let (clean, n) = r.redact_counted("nothing secret here");
        assert!(matches!(clean, Cow::Borrowed(_)));
        assert_eq!((clean.as_ref(), n), ("nothing secret here", 0));
    }

    #[test]
    fn a_custom_scanner_replaces_the_default_rules() {
        let text = "build ACME-12345678 shipped";
        assert_eq!(Redactor::default().redact(text), text);
        let scanner = Arc::new(SecretScanner::with_extra(&[r"ACME-\d{8}".into()]).unwrap());
        let r = Redactor::default().with_scanner(scanner);
        assert_eq!(r.redact(text), "build [REDACTED:custom] shipped");
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
