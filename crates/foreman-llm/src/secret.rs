//! A secret string (an API key) that never shows up in `Debug`, `Display` or logs.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// An API key or other credential. `Debug` and `Display` print `***`; only
/// [`Secret::expose`] gives the value, for the one place that sends it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads an environment variable; `None` when unset or empty.
    #[must_use]
    pub fn from_env(var: &str) -> Option<Self> {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| Self(v.trim().to_owned()))
    }

    /// The secret value. Send it; never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (not configured).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first 8 characters followed by `...`, as shown in configuration summaries; `""`
    /// when empty, and only `...` for values too short to shorten safely.
    #[must_use]
    pub fn truncated(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() <= 16 {
            return "...".to_owned();
        }
        let head: String = chars[..8].iter().collect();
        format!("{head}...")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(String::deserialize(d)?))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("sk-ant-api03-very-secret-value");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(***))");
        assert_eq!(s.truncated(), "sk-ant-a...");
        assert_eq!(Secret::new("short").truncated(), "...");
        assert_eq!(s.expose(), "sk-ant-api03-very-secret-value");
    }

    #[test]
    fn deserializes_from_a_string() {
        let s: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(s.expose(), "abc");
    }
}
