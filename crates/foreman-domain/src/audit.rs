//! The audit trail: one entry per mutating call, hash-chained, append-only, pruned by age
//! behind a signed checkpoint.
//!
//! Every entry holds the SHA-256 of the previous entry's canonical form ([`AuditEntry::canonical`]:
//! a deterministic, length-prefixed serialisation of every field, its `seq` and that previous
//! hash included), and its own hash. The first entry links to [`GENESIS_HASH`]. Changing any
//! stored field breaks the entry's own hash; recomputing that hash breaks the next entry's link;
//! removing an entry leaves a gap in `seq`. [`ChainCheck`] walks entries in `seq` order and names
//! the first link that does not hold.
//!
//! Pruning removes the oldest entries and leaves an [`AuditCheckpoint`]: the `seq` and hash of
//! the last entry removed, signed with HMAC-SHA256 under the server's [`AuditKey`]. A walk then
//! starts from the newest checkpoint once its signature checks out, so the remaining chain is
//! still anchored; a forged checkpoint fails the signature.
//!
//! Stores implement [`AuditStore`]: appends are serialised (the chain never forks), and the
//! tables refuse `UPDATE` and `DELETE` except on the pruning path. Everything else here is pure.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{micros_to_time, time_to_micros};
use crate::error::StoreResult;
use crate::ids::TokenId;

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest page [`AuditStore::list_audit`] and [`AuditStore::audit_chain`] return.
pub const MAX_AUDIT_PAGE: u32 = 1000;

/// Default page of [`AuditFilter`].
pub const DEFAULT_AUDIT_PAGE: u32 = 100;

/// The version line that opens an entry's canonical form.
const ENTRY_FORM: &str = "foreman-audit-entry/1";
/// The version line that opens a checkpoint's signed form.
const CHECKPOINT_FORM: &str = "foreman-audit-checkpoint/1";

/// How a call ended, for people (the status code is kept beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// 1xx–3xx: the call did what it asked.
    Ok,
    /// 401 or 403: refused for who the caller is.
    Denied,
    /// Any other 4xx or 5xx.
    Error,
}

impl AuditOutcome {
    /// Every value.
    pub const ALL: &'static [Self] = &[Self::Ok, Self::Denied, Self::Error];

    /// The outcome of an HTTP status code.
    #[must_use]
    pub const fn of_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Denied,
            s if s >= 400 => Self::Error,
            _ => Self::Ok,
        }
    }

    /// The wire and storage string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ok" => Ok(Self::Ok),
            "denied" => Ok(Self::Denied),
            "error" => Ok(Self::Error),
            _ => Err(format!(
                "unknown audit outcome {s:?}; expected one of ok, denied, error"
            )),
        }
    }
}

/// A call to record, before the store gives it its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    /// When the call was answered.
    pub at: DateTime<Utc>,
    /// The stored token's id; `None` for the static dashboard token and for unknown callers.
    pub token_id: Option<TokenId>,
    /// The token's name; `None`: the caller is unknown (no valid token).
    pub actor: Option<String>,
    /// The client address (the peer, or what trusted proxies say it is).
    pub client_addr: Option<String>,
    /// Dotted action, e.g. `ticket.create`.
    pub action: String,
    /// What was acted on, e.g. `ticket/42`.
    pub resource: Option<String>,
    /// The channel the call came through: `api`, `mcp`, `channel`, `webhook`.
    pub via: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The HTTP status code of the answer.
    pub status: u16,
    /// The request's id (`X-Request-Id`).
    pub request_id: Option<String>,
}

/// Where the chain stands: the last entry's `seq` and hash (or a checkpoint's, or genesis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The last `seq`; 0 before the first entry.
    pub seq: u64,
    /// Its hash; [`GENESIS_HASH`] before the first entry.
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty chain.
    #[must_use]
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// A recorded call, in its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When the call was answered.
    pub at: DateTime<Utc>,
    /// See [`NewAuditEntry::token_id`].
    pub token_id: Option<TokenId>,
    /// See [`NewAuditEntry::actor`].
    pub actor: Option<String>,
    /// See [`NewAuditEntry::client_addr`].
    pub client_addr: Option<String>,
    /// See [`NewAuditEntry::action`].
    pub action: String,
    /// See [`NewAuditEntry::resource`].
    pub resource: Option<String>,
    /// See [`NewAuditEntry::via`].
    pub via: String,
    /// See [`NewAuditEntry::outcome`].
    pub outcome: AuditOutcome,
    /// See [`NewAuditEntry::status`].
    pub status: u16,
    /// See [`NewAuditEntry::request_id`].
    pub request_id: Option<String>,
    /// The previous entry's hash (hex SHA-256; [`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// This entry's hash: hex SHA-256 of [`AuditEntry::canonical`].
    pub hash: String,
}

impl AuditEntry {
    /// `new` placed after `head`: the next `seq`, linked to the head's hash, hashed.
    #[must_use]
    pub fn chain(new: NewAuditEntry, head: &ChainHead) -> Self {
        let mut entry = Self {
            seq: head.seq + 1,
            // the precision every store keeps
            at: truncate(new.at),
            token_id: new.token_id,
            actor: new.actor,
            client_addr: new.client_addr,
            action: new.action,
            resource: new.resource,
            via: new.via,
            outcome: new.outcome,
            status: new.status,
            request_id: new.request_id,
            prev_hash: head.hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }

    /// Entries `news` placed after `head`, in order; `head` moves to the last.
    #[must_use]
    pub fn chain_all(news: Vec<NewAuditEntry>, head: &mut ChainHead) -> Vec<Self> {
        news.into_iter()
            .map(|n| {
                let e = Self::chain(n, head);
                *head = e.head();
                e
            })
            .collect()
    }

    /// This entry as a chain head.
    #[must_use]
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }

    /// The canonical form the hash is taken over: the line `foreman-audit-entry/1`, then one
    /// line per field in this fixed order — `seq`, `at` (microseconds since the Unix epoch),
    /// `token_id`, `actor`, `client_addr`, `action`, `resource`, `via`, `outcome`, `status`,
    /// `request_id`, `prev_hash` — each `name value\n`. Numbers are decimal; a text value is
    /// `=<byte length>:<bytes>` and an absent one `-`, so no value can be mistaken for
    /// another's (an empty text is `=0:`, distinct from absent). Every line ends in `\n`. The
    /// entry's own `hash` is not part of it.
    #[must_use]
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(ENTRY_FORM.as_bytes());
        out.push(b'\n');
        number(&mut out, "seq", self.seq.into());
        number(&mut out, "at", time_to_micros(self.at).into());
        text(
            &mut out,
            "token_id",
            self.token_id.as_ref().map(TokenId::as_str),
        );
        text(&mut out, "actor", self.actor.as_deref());
        text(&mut out, "client_addr", self.client_addr.as_deref());
        text(&mut out, "action", Some(&self.action));
        text(&mut out, "resource", self.resource.as_deref());
        text(&mut out, "via", Some(&self.via));
        text(&mut out, "outcome", Some(self.outcome.as_str()));
        number(&mut out, "status", self.status.into());
        text(&mut out, "request_id", self.request_id.as_deref());
        text(&mut out, "prev_hash", Some(&self.prev_hash));
        out
    }

    /// Hex SHA-256 of [`AuditEntry::canonical`].
    #[must_use]
    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical()))
    }
}

fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    micros_to_time(time_to_micros(t))
}

fn number(out: &mut Vec<u8>, name: &str, value: i128) {
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(value.to_string().as_bytes());
    out.push(b'\n');
}

fn text(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    match value {
        None => out.push(b'-'),
        Some(v) => {
            out.push(b'=');
            out.extend_from_slice(v.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(v.as_bytes());
        }
    }
    out.push(b'\n');
}

/// The server's key for signing checkpoints (HMAC-SHA256). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey(Vec<u8>);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// Shortest key accepted, in bytes.
pub const MIN_AUDIT_KEY_BYTES: usize = 16;

impl AuditKey {
    /// A key from its bytes; `None` when shorter than [`MIN_AUDIT_KEY_BYTES`].
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= MIN_AUDIT_KEY_BYTES).then_some(Self(bytes))
    }

    /// A key from its hex form (what the key file holds), surrounding whitespace ignored.
    ///
    /// # Errors
    /// A message when the text is not hex or the key is too short.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("audit key is not hex: {e}"))?;
        Self::from_bytes(bytes).ok_or_else(|| {
            format!(
                "audit key must be at least {MIN_AUDIT_KEY_BYTES} bytes ({} hex digits)",
                MIN_AUDIT_KEY_BYTES * 2
            )
        })
    }

    /// A fresh random 32-byte key.
    #[must_use]
    pub fn generate() -> Self {
        Self(rand::random::<[u8; 32]>().to_vec())
    }

    /// The hex form.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac takes any key length");
        mac.update(body);
        mac
    }

    /// Hex HMAC-SHA256 of `body`.
    #[must_use]
    pub fn sign(&self, body: &[u8]) -> String {
        hex::encode(self.mac(body).finalize().into_bytes())
    }

    /// Whether `signature` (hex) is the HMAC of `body`, compared in constant time.
    #[must_use]
    pub fn verify(&self, body: &[u8], signature: &str) -> bool {
        hex::decode(signature).is_ok_and(|sig| self.mac(body).verify_slice(&sig).is_ok())
    }
}

/// What pruning leaves behind: the last removed entry's `seq` and hash, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    /// The last removed entry's `seq`; the chain goes on at `seq + 1`.
    pub seq: u64,
    /// That entry's hash; entry `seq + 1` links to it.
    pub hash: String,
    /// Entries answered before this time were removed.
    pub pruned_before: DateTime<Utc>,
    /// When the checkpoint was written.
    pub created_at: DateTime<Utc>,
    /// Hex HMAC-SHA256 of [`AuditCheckpoint::signed_form`] under the server's [`AuditKey`].
    pub signature: String,
}

impl AuditCheckpoint {
    /// A signed checkpoint after `last` (the last entry pruned).
    #[must_use]
    pub fn sign(
        last: &ChainHead,
        pruned_before: DateTime<Utc>,
        created_at: DateTime<Utc>,
        key: &AuditKey,
    ) -> Self {
        let mut cp = Self {
            seq: last.seq,
            hash: last.hash.clone(),
            pruned_before: truncate(pruned_before),
            created_at: truncate(created_at),
            signature: String::new(),
        };
        cp.signature = key.sign(&cp.signed_form());
        cp
    }

    /// What the signature covers: `foreman-audit-checkpoint/1`, then `seq`, `hash`,
    /// `pruned_before` and `created_at` (microseconds), in the entry's line format.
    #[must_use]
    pub fn signed_form(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(CHECKPOINT_FORM.as_bytes());
        out.push(b'\n');
        number(&mut out, "seq", self.seq.into());
        text(&mut out, "hash", Some(&self.hash));
        number(
            &mut out,
            "pruned_before",
            time_to_micros(self.pruned_before).into(),
        );
        number(
            &mut out,
            "created_at",
            time_to_micros(self.created_at).into(),
        );
        out
    }

    /// Whether the signature is this checkpoint's under `key`.
    #[must_use]
    pub fn signature_valid(&self, key: &AuditKey) -> bool {
        key.verify(&self.signed_form(), &self.signature)
    }

    /// The checkpoint as the head the remaining chain continues from.
    #[must_use]
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// Why a link of the chain does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakReason {
    /// The entry's stored hash is not the hash of its fields: the entry was changed.
    HashMismatch,
    /// The entry's `prev_hash` is not the previous entry's (or the checkpoint's) hash.
    PrevHashMismatch,
    /// Entries before this `seq` are missing (removed without a checkpoint).
    Missing,
    /// The checkpoint's signature is not the server key's.
    CheckpointSignature,
    /// There is a checkpoint but no key to check it with.
    NoKey,
}

impl BreakReason {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HashMismatch => "hash_mismatch",
            Self::PrevHashMismatch => "prev_hash_mismatch",
            Self::Missing => "missing",
            Self::CheckpointSignature => "checkpoint_signature",
            Self::NoKey => "no_key",
        }
    }
}

/// The first link that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// The entry (or checkpoint) `seq` where the chain breaks.
    pub seq: u64,
    /// Why.
    pub reason: BreakReason,
}

/// A walk along the chain: feed it entries in ascending `seq`; it stops believing at the first
/// broken link.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    expected: ChainHead,
    checked: u64,
}

impl ChainCheck {
    /// A walk from the newest checkpoint (its signature checked with `key`), or from genesis
    /// when nothing was pruned.
    ///
    /// # Errors
    /// The checkpoint's [`BrokenLink`] when its signature does not check out or there is no key.
    pub fn start(
        checkpoint: Option<&AuditCheckpoint>,
        key: Option<&AuditKey>,
    ) -> Result<Self, BrokenLink> {
        let expected = match checkpoint {
            None => ChainHead::genesis(),
            Some(cp) => {
                let Some(key) = key else {
                    return Err(BrokenLink {
                        seq: cp.seq,
                        reason: BreakReason::NoKey,
                    });
                };
                if !cp.signature_valid(key) {
                    return Err(BrokenLink {
                        seq: cp.seq,
                        reason: BreakReason::CheckpointSignature,
                    });
                }
                cp.head()
            }
        };
        Ok(Self::from_head(expected))
    }

    /// A walk continuing after `head`, trusted as it is.
    #[must_use]
    pub fn from_head(head: ChainHead) -> Self {
        Self {
            expected: head,
            checked: 0,
        }
    }

    /// Checks the next entry.
    ///
    /// # Errors
    /// The first [`BrokenLink`]: a gap before `entry`, a `prev_hash` that does not link, or a
    /// stored hash that is not the entry's.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), BrokenLink> {
        let next = self.expected.seq + 1;
        if entry.seq != next {
            return Err(BrokenLink {
                seq: next,
                reason: BreakReason::Missing,
            });
        }
        if entry.compute_hash() != entry.hash {
            return Err(BrokenLink {
                seq: entry.seq,
                reason: BreakReason::HashMismatch,
            });
        }
        if entry.prev_hash != self.expected.hash {
            return Err(BrokenLink {
                seq: entry.seq,
                reason: BreakReason::PrevHashMismatch,
            });
        }
        self.expected = entry.head();
        self.checked += 1;
        Ok(())
    }

    /// Entries checked so far.
    #[must_use]
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The last link checked (the checkpoint's or genesis before any entry).
    #[must_use]
    pub fn head(&self) -> &ChainHead {
        &self.expected
    }
}

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A token's name or id.
    pub actor: Option<String>,
    /// An action (`ticket.cancel`), or a family ending in `.*` (`ticket.*`).
    pub action: Option<String>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
    /// Entries with a `seq` below this one (the cursor of the previous page).
    pub before_seq: Option<u64>,
    /// Page size; 0 means [`DEFAULT_AUDIT_PAGE`], capped at [`MAX_AUDIT_PAGE`].
    pub limit: u32,
}

impl AuditFilter {
    /// The page size to read.
    #[must_use]
    pub fn page_size(&self) -> u32 {
        match self.limit {
            0 => DEFAULT_AUDIT_PAGE,
            n => n.min(MAX_AUDIT_PAGE),
        }
    }

    /// The action filter as an exact action or a prefix: `("ticket.", true)` for `ticket.*`.
    #[must_use]
    pub fn action_match(&self) -> Option<(&str, bool)> {
        self.action.as_deref().map(|a| match a.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('.') => (prefix, true),
            _ => (a, false),
        })
    }

    /// Whether `entry` passes the filter (the memory store's rule; SQL stores say the same in
    /// their `WHERE`).
    #[must_use]
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        if let Some(actor) = &self.actor
            && entry.actor.as_deref() != Some(actor)
            && entry.token_id.as_ref().map(TokenId::as_str) != Some(actor)
        {
            return false;
        }
        if let Some((action, prefix)) = self.action_match() {
            let hit = if prefix {
                entry.action.starts_with(action)
            } else {
                entry.action == action
            };
            if !hit {
                return false;
            }
        }
        self.from.is_none_or(|f| entry.at >= f)
            && self.to.is_none_or(|t| entry.at < t)
            && self.before_seq.is_none_or(|b| entry.seq < b)
    }
}

/// The audit trail's storage.
///
/// Appends are serialised so two appends never take the same `seq` or link to the same
/// entry. Entries and checkpoints are never updated; entries are deleted only by
/// [`AuditStore::prune_audit`], which writes its checkpoint in the same transaction.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `entries` in order, in one transaction, after the current head (the last entry,
    /// else the newest checkpoint, else genesis); returns them as chained.
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<Vec<AuditEntry>>;

    /// A page of entries, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    /// Up to `limit` entries (capped at [`MAX_AUDIT_PAGE`]) with `seq > after_seq`, oldest
    /// first: the chain as stored, for verification.
    async fn audit_chain(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<AuditEntry>>;

    /// The newest checkpoint, if entries were ever pruned.
    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>>;

    /// Removes entries answered before `before`, keeping at least the newest entry so the
    /// head stays in the table. The removed run is verified first (from the current
    /// checkpoint); when it is broken nothing is removed ([`crate::StoreError::Invalid`]
    /// naming the seq). A checkpoint signed with `key` over the last removed entry is written
    /// in the same transaction. `None`: nothing was old enough.
    async fn prune_audit(
        &self,
        before: DateTime<Utc>,
        key: &AuditKey,
    ) -> StoreResult<Option<AuditCheckpoint>>;
}

/// What pruning may remove: the entries of `older` (ascending, all answered before the cut),
/// verified from `start`, without the chain's newest entry `head_seq`. Returns the head of the
/// last entry to remove, `Ok(None)` when nothing may go.
///
/// # Errors
/// [`crate::StoreError::Invalid`] naming the first broken link among them.
pub fn prune_cut(
    start: ChainCheck,
    older: &[AuditEntry],
    head_seq: u64,
) -> StoreResult<Option<ChainHead>> {
    let mut walk = start;
    let mut last = None;
    for e in older.iter().filter(|e| e.seq < head_seq) {
        walk.check(e).map_err(|b| {
            crate::StoreError::Invalid(format!(
                "audit chain broken at seq {} ({}); not pruning",
                b.seq,
                b.reason.as_str()
            ))
        })?;
        last = Some(e.head());
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(action: &str) -> NewAuditEntry {
        NewAuditEntry {
            at: micros_to_time(1_700_000_000_000_000),
            token_id: Some(TokenId::from("tok-1")),
            actor: Some("ci".into()),
            client_addr: Some("127.0.0.1".into()),
            action: action.into(),
            resource: Some("ticket/1".into()),
            via: "api".into(),
            outcome: AuditOutcome::Ok,
            status: 200,
            request_id: Some("req-1".into()),
        }
    }

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut head = ChainHead::genesis();
        AuditEntry::chain_all((0..n).map(|i| new(&format!("a.{i}"))).collect(), &mut head)
    }

    fn walk(entries: &[AuditEntry]) -> Result<u64, BrokenLink> {
        let mut c = ChainCheck::start(None, None)?;
        for e in entries {
            c.check(e)?;
        }
        Ok(c.checked())
    }

    #[test]
    fn the_canonical_form_is_fixed() {
        let e = &chain(1)[0];
        let text = String::from_utf8(e.canonical()).unwrap();
        assert_eq!(
            text,
            "foreman-audit-entry/1\nseq 1\nat 1700000000000000\ntoken_id =5:tok-1\nactor =2:ci\n\
             client_addr =9:127.0.0.1\naction =3:a.0\nresource =8:ticket/1\nvia =3:api\n\
             outcome =2:ok\nstatus 200\nrequest_id =5:req-1\nprev_hash =64:"
                .to_owned()
                + GENESIS_HASH
                + "\n"
        );
        assert_eq!(e.hash, hex::encode(Sha256::digest(e.canonical())));
    }

    #[test]
    fn absent_and_empty_differ() {
        let mut a = chain(1).remove(0);
        a.resource = None;
        let mut b = a.clone();
        b.resource = Some(String::new());
        assert_ne!(a.compute_hash(), b.compute_hash());
        // a value cannot spill into the next field
        let mut c = a.clone();
        c.actor = Some("ci\nclient_addr =0:".into());
        c.client_addr = None;
        assert_ne!(c.compute_hash(), a.compute_hash());
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(walk(&chain(5)), Ok(5));
    }

    #[test]
    fn a_changed_field_is_named_at_its_seq() {
        let mut entries = chain(5);
        entries[2].action = "ticket.delete".into();
        assert_eq!(
            walk(&entries),
            Err(BrokenLink {
                seq: 3,
                reason: BreakReason::HashMismatch
            })
        );
        // rehashing the changed entry moves the break to the next link
        entries[2].hash = entries[2].compute_hash();
        assert_eq!(
            walk(&entries),
            Err(BrokenLink {
                seq: 4,
                reason: BreakReason::PrevHashMismatch
            })
        );
    }

    #[test]
    fn a_removed_entry_is_a_gap() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            walk(&entries),
            Err(BrokenLink {
                seq: 2,
                reason: BreakReason::Missing
            })
        );
        let mut head_cut = chain(3);
        head_cut.remove(0);
        assert_eq!(walk(&head_cut).unwrap_err().reason, BreakReason::Missing);
    }

    #[test]
    fn checkpoints_anchor_the_rest_and_forgeries_fail() {
        let entries = chain(6);
        let key = AuditKey::generate();
        let t = entries[0].at;
        let cp = AuditCheckpoint::sign(&entries[2].head(), t, t, &key);
        assert!(cp.signature_valid(&key));
        let mut walk = ChainCheck::start(Some(&cp), Some(&key)).unwrap();
        for e in &entries[3..] {
            walk.check(e).unwrap();
        }
        assert_eq!(walk.checked(), 3);

        let other = AuditKey::generate();
        let forged = AuditCheckpoint::sign(&entries[3].head(), t, t, &other);
        assert_eq!(
            ChainCheck::start(Some(&forged), Some(&key)).unwrap_err(),
            BrokenLink {
                seq: 4,
                reason: BreakReason::CheckpointSignature
            }
        );
        let mut moved = cp.clone();
        moved.seq = 1;
        assert_eq!(
            ChainCheck::start(Some(&moved), Some(&key))
                .unwrap_err()
                .reason,
            BreakReason::CheckpointSignature
        );
        assert_eq!(
            ChainCheck::start(Some(&cp), None).unwrap_err().reason,
            BreakReason::NoKey
        );
    }

    #[test]
    fn prune_cut_keeps_the_head_and_refuses_a_broken_run() {
        let entries = chain(4);
        let start = ChainCheck::start(None, None).unwrap();
        let cut = prune_cut(start.clone(), &entries, 4).unwrap().unwrap();
        assert_eq!(cut.seq, 3);
        let cut = prune_cut(start.clone(), &entries[..1], 4).unwrap().unwrap();
        assert_eq!(cut.seq, 1);
        assert_eq!(prune_cut(start.clone(), &entries[3..], 4).unwrap(), None);
        let mut bad = entries.clone();
        bad[1].status = 500;
        assert!(prune_cut(start, &bad, 4).is_err());
    }

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(AuditOutcome::of_status(201), AuditOutcome::Ok);
        assert_eq!(AuditOutcome::of_status(304), AuditOutcome::Ok);
        assert_eq!(AuditOutcome::of_status(401), AuditOutcome::Denied);
        assert_eq!(AuditOutcome::of_status(403), AuditOutcome::Denied);
        assert_eq!(AuditOutcome::of_status(404), AuditOutcome::Error);
        assert_eq!(AuditOutcome::of_status(503), AuditOutcome::Error);
        for o in AuditOutcome::ALL {
            assert_eq!(o.as_str().parse::<AuditOutcome>(), Ok(*o));
        }
    }

    #[test]
    fn filters_match_actor_by_name_or_id_and_action_families() {
        let e = &chain(1)[0];
        let f = |actor: Option<&str>, action: Option<&str>| AuditFilter {
            actor: actor.map(Into::into),
            action: action.map(Into::into),
            ..AuditFilter::default()
        };
        assert!(f(Some("ci"), None).matches(e));
        assert!(f(Some("tok-1"), None).matches(e));
        assert!(!f(Some("other"), None).matches(e));
        assert!(f(None, Some("a.0")).matches(e));
        assert!(f(None, Some("a.*")).matches(e));
        assert!(!f(None, Some("a")).matches(e));
        assert!(!f(None, Some("b.*")).matches(e));
    }
}
