//! The clock every store shares: the current time and the timestamp representation in storage.
//!
//! Kept apart from the crate root so modules that need the time depend on this file alone.

/// Current time in UTC truncated to microseconds, the precision every store keeps.
///
/// Using one truncation everywhere means a value read back from a store equals the value
/// written, whichever backend holds it.
#[must_use]
pub fn now() -> chrono::DateTime<chrono::Utc> {
    micros_to_time(time_to_micros(chrono::Utc::now()))
}

/// A timestamp as microseconds since the Unix epoch (the storage representation).
#[must_use]
pub fn time_to_micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`time_to_micros`]; out-of-range values clamp to the epoch.
#[must_use]
pub fn micros_to_time(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}
