//! Durations written as `500ms`, `30s`, `5m`, `2h` or `1d`.

use std::time::Duration;

/// Parses a duration like `30s`.
///
/// # Errors
/// A message saying what is expected.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let expected = || "expected a number with a unit: ms, s, m, h or d (e.g. 30s)".to_owned();
    let n: u64 = num.parse().map_err(|_| expected())?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(expected)
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => Err(expected()),
    }
}
