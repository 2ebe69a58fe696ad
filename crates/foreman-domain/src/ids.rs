//! Identifiers. Every entity id is a UUID v7 rendered as a lowercase hyphenated string, so ids
//! sort by creation time and read the same in every backend and over the API.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            #[must_use]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Wraps an id that came from storage or from a client.
            #[must_use]
            pub fn from_string(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The id as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Consumes the id, returning its string.
            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A ticket's internal id.
    TicketId
);
id_type!(
    /// A task's id.
    TaskId
);
id_type!(
    /// An event's id (its position in the global log is its `seq`).
    EventId
);
id_type!(
    /// A recorded LLM call's id.
    LlmCallId
);
id_type!(
    /// An API token's id (never the secret).
    TokenId
);
id_type!(
    /// A budget reservation's id.
    ReservationId
);

/// A lease generation. Every claim increments it; a write that presents an older value is
/// rejected, so a worker that lost its lease can never overwrite the new holder's work.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct FencingToken(pub i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let a = TicketId::new();
        let b = TicketId::new();
        assert_ne!(a, b);
        assert!(a < b, "v7 ids sort by creation: {a} !< {b}");
        assert_eq!(a.as_str().len(), 36);
    }
}
