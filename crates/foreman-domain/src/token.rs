//! API tokens. Only a SHA-256 hash of a token is ever stored; the secret is shown once.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::event::UnknownEventString;
use crate::ids::TokenId;

/// What a token may do. Scopes nest: `admin` includes `write`, which includes `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read anything.
    Read,
    /// Change tickets, tasks and the daemon.
    Write,
    /// Manage tokens and configuration.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: &'static [Self] = &[Self::Read, Self::Write, Self::Admin];

    /// The wire and storage string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// Whether holding `self` grants `required`.
    #[must_use]
    pub fn grants(self, required: Self) -> bool {
        self >= required
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = UnknownEventString;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownEventString {
                kind: "scope",
                value: s.to_owned(),
            })
    }
}

/// A token's plaintext. `Debug` and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// The prefix every generated token starts with.
    pub const PREFIX: &'static str = "fmn_";

    /// A new random token: the prefix and 40 alphanumeric characters (~238 bits).
    #[must_use]
    pub fn generate() -> Self {
        let body: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(40)
            .map(char::from)
            .collect();
        Self(format!("{}{body}", Self::PREFIX))
    }

    /// Wraps a token a client presented.
    #[must_use]
    pub fn from_plaintext(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The plaintext, to show once to the person who created it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form: lowercase hex SHA-256.
    #[must_use]
    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }

    /// A short, non-secret label to recognise the token by (`fmn_AbCd`).
    #[must_use]
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(8).collect()
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(***)")
    }
}

/// Lowercase hex SHA-256 of a token's plaintext.
#[must_use]
pub fn hash_token(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// Compares two hashes in constant time.
#[must_use]
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A stored token (never holds the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Id.
    pub id: TokenId,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the secret.
    pub token_hash: String,
    /// The secret's first characters, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last presented.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Stops working at.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token may be used at `now`.
    #[must_use]
    pub fn is_usable_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// Whether the token grants `required`.
    #[must_use]
    pub fn grants(&self, required: Scope) -> bool {
        self.scopes.iter().any(|s| s.grants(required))
    }
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// A name for people.
    pub name: String,
    /// SHA-256 of the secret.
    pub token_hash: String,
    /// The secret's first characters.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Stops working at.
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiToken {
    /// A new token with a fresh secret; returns the record to store and the secret to show.
    #[must_use]
    pub fn generate(
        name: impl Into<String>,
        scopes: Vec<Scope>,
        expires_at: Option<DateTime<Utc>>,
    ) -> (Self, TokenSecret) {
        let secret = TokenSecret::generate();
        let token = Self {
            name: name.into(),
            token_hash: secret.hash(),
            prefix: secret.display_prefix(),
            scopes,
            expires_at,
        };
        (token, secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_hash_and_hide() {
        let (rec, secret) = NewApiToken::generate("ci", vec![Scope::Read], None);
        assert!(secret.expose().starts_with(TokenSecret::PREFIX));
        assert_eq!(secret.expose().len(), 44);
        assert_eq!(rec.token_hash, hash_token(secret.expose()));
        assert_eq!(rec.token_hash.len(), 64);
        assert!(!format!("{secret:?}").contains(secret.expose()));
        assert_ne!(TokenSecret::generate(), TokenSecret::generate());
    }

    #[test]
    fn scopes_nest() {
        assert!(Scope::Admin.grants(Scope::Read));
        assert!(Scope::Write.grants(Scope::Read));
        assert!(!Scope::Read.grants(Scope::Write));
        assert!(!Scope::Write.grants(Scope::Admin));
    }

    #[test]
    fn hashes_compare() {
        assert!(hashes_match("abc", "abc"));
        assert!(!hashes_match("abc", "abd"));
        assert!(!hashes_match("abc", "abcd"));
    }

    #[test]
    fn usability() {
        let now = crate::now();
        let mut t = ApiToken {
            id: TokenId::new(),
            name: "x".into(),
            token_hash: String::new(),
            prefix: String::new(),
            scopes: vec![Scope::Read],
            created_at: now,
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
        };
        assert!(t.is_usable_at(now));
        t.expires_at = Some(now - chrono::Duration::seconds(1));
        assert!(!t.is_usable_at(now));
        t.expires_at = None;
        t.revoked_at = Some(now);
        assert!(!t.is_usable_at(now));
    }
}
