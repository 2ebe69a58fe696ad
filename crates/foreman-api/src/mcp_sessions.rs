//! The MCP endpoint's sessions (`routes/mcp.rs`): the id `initialize` issues
//! (`Mcp-Session-Id`), the protocol version it negotiated and the token that opened it. Held
//! in memory, bounded; a restart forgets them and clients initialize again (a 404 tells them
//! to). A leaf: `state` holds the sessions, the handler knows the caller.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use foreman_domain::TokenId;

/// Sessions kept at most; the one idle longest goes first.
const MAX_SESSIONS: usize = 10_000;

/// A session unused this long is forgotten.
const IDLE: Duration = Duration::from_secs(24 * 60 * 60);

/// Who opened a session (the token's id, `None` for the configured static token, and its
/// name): a session is only good with the token that opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub token_id: Option<TokenId>,
    pub name: String,
}

#[derive(Debug)]
struct Session {
    version: &'static str,
    owner: Owner,
    seen: Instant,
}

/// The open sessions.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for `caller` at `version`; returns its id (64 hex digits).
    pub(crate) fn open(&self, owner: Owner, version: &'static str) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut open = self.lock();
        open.retain(|_, s| now.duration_since(s.seen) < IDLE);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(k, _)| k.clone())
        {
            open.remove(&oldest);
        }
        open.insert(
            id.clone(),
            Session {
                version,
                owner,
                seen: now,
            },
        );
        id
    }

    /// The protocol version of session `id` if `owner` opened it (and marks it used); `None`:
    /// unknown, expired, or opened with another token.
    pub(crate) fn resume(&self, id: &str, owner: &Owner) -> Option<&'static str> {
        let mut open = self.lock();
        let s = open.get_mut(id)?;
        if &s.owner != owner || s.seen.elapsed() >= IDLE {
            return None;
        }
        s.seen = Instant::now();
        Some(s.version)
    }

    /// Ends session `id` if `owner` opened it; whether it did.
    pub(crate) fn close(&self, id: &str, owner: &Owner) -> bool {
        let mut open = self.lock();
        if open.get(id).is_some_and(|s| &s.owner == owner) {
            open.remove(id);
            return true;
        }
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(name: &str) -> Owner {
        Owner {
            name: name.to_owned(),
            token_id: None,
        }
    }

    #[test]
    fn a_session_is_good_only_with_the_token_that_opened_it() {
        let sessions = Sessions::default();
        let id = sessions.open(caller("a"), "2025-06-18");
        assert_eq!(id.len(), 64);
        assert_eq!(sessions.resume(&id, &caller("a")), Some("2025-06-18"));
        assert_eq!(sessions.resume(&id, &caller("b")), None);
        assert!(!sessions.close(&id, &caller("b")));
        assert!(sessions.close(&id, &caller("a")));
        assert_eq!(sessions.resume(&id, &caller("a")), None);
        assert_eq!(sessions.resume("nope", &caller("a")), None);
    }
}
