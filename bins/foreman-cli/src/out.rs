//! Formatting shared by the commands: JSON, money, durations, colours (only on a terminal).

use std::io::IsTerminal as _;

use serde_json::Value;

/// Pretty JSON on stdout.
pub(crate) fn json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// A field as text: strings as they are, `null` and absent as empty, the rest as JSON.
pub(crate) fn field(v: &Value, key: &str) -> String {
    text(&v[key])
}

/// A value as text: strings as they are, `null` as empty, the rest as JSON.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Dollars: two decimals, four below a dollar so small calls do not show as `$0.00`.
pub(crate) fn usd(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x != 0.0 && x.abs() < 1.0 => format!("${x:.4}"),
        Some(x) => format!("${x:.2}"),
        None => "-".to_owned(),
    }
}

/// A priority number by its name when it is one of the named levels (`urgent` 40, `high` 30,
/// `normal` 20, `low` 10), else the number itself.
pub(crate) fn priority(v: &Value) -> String {
    v.as_i64()
        .and_then(|n| {
            foreman_domain::PriorityName::ALL
                .iter()
                .find(|p| i64::from(p.value()) == n)
        })
        .map_or_else(|| text(v), |p| p.as_str().to_owned())
}

/// Seconds given as a JSON number (integer or not) as [`duration`]; empty for `null`.
pub(crate) fn secs(v: &Value) -> String {
    v.as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| duration(s.round() as u64))
        .unwrap_or_default()
}

/// A limit in dollars, `unlimited` for `null`.
pub(crate) fn limit(v: &Value) -> String {
    if v.is_null() {
        "unlimited".to_owned()
    } else {
        usd(v)
    }
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
pub(crate) fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A timestamp field (RFC 3339) as `YYYY-MM-DD HH:MM` UTC; empty when absent.
pub(crate) fn time(v: &Value) -> String {
    time_as(v, "%Y-%m-%d %H:%M")
}

/// A timestamp field as `HH:MM:SS` UTC, for log lines; empty when absent.
pub(crate) fn clock(v: &Value) -> String {
    time_as(v, "%H:%M:%S")
}

fn time_as(v: &Value, format: &str) -> String {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format(format).to_string())
        .unwrap_or_default()
}

/// Terminal colours.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Colour {
    /// Failures.
    Red,
    /// Success.
    Green,
    /// Warnings and work in progress.
    Yellow,
    /// Quiet detail.
    Dim,
    /// Stages.
    Cyan,
}

/// Whether stdout takes colours: a terminal, and `NO_COLOR` unset.
pub(crate) fn colours() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `s` in `colour` when `on`, else `s` as it is.
pub(crate) fn paint(s: &str, colour: Colour, on: bool) -> String {
    if !on {
        return s.to_owned();
    }
    let code = match colour {
        Colour::Red => "31",
        Colour::Green => "32",
        Colour::Yellow => "33",
        Colour::Dim => "2",
        Colour::Cyan => "36",
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

/// The colour of a ticket or task status.
pub(crate) fn status_colour(status: &str) -> Colour {
    match status {
        "failed" | "blocked" | "pr_closed" | "error" => Colour::Red,
        "merged" | "done" | "awaiting_merge" | "success" => Colour::Green,
        "queued" | "pending" => Colour::Dim,
        _ => Colour::Yellow,
    }
}

/// A JSON value rendered for people when its shape is not known in advance: a list of objects
/// as a table of their scalar fields, an object as `key: value` lines (nested lists as
/// tables after them), anything else as its text.
pub(crate) fn generic(v: &Value) -> String {
    match v {
        Value::Array(items) if items.iter().all(Value::is_object) => {
            // `id`, `name` and `status` lead; the other scalar fields follow in key order
            let mut headers: Vec<String> = Vec::new();
            for item in items {
                for (k, val) in item.as_object().into_iter().flatten() {
                    if !val.is_object() && !val.is_array() && !headers.contains(k) {
                        headers.push(k.clone());
                    }
                }
            }
            let lead = |h: &String| {
                ["id", "name", "status"]
                    .iter()
                    .position(|l| h == l)
                    .unwrap_or(usize::MAX)
            };
            headers.sort_by_key(lead);
            let rows = items
                .iter()
                .map(|item| headers.iter().map(|h| cell(&item[h.as_str()])).collect())
                .collect();
            let upper: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
            let refs: Vec<&str> = upper.iter().map(String::as_str).collect();
            crate::table::render(&refs, rows)
        }
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("\n"),
        Value::Object(map) => {
            let pairs: Vec<(&str, String)> = map
                .iter()
                .filter(|(_, v)| !v.is_array() && !v.is_object())
                .map(|(k, v)| (k.as_str(), cell(v)))
                .collect();
            let mut out = crate::table::render_pairs(&pairs);
            for (k, v) in map.iter().filter(|(_, v)| v.is_array() || v.is_object()) {
                if v.as_array().is_some_and(Vec::is_empty) {
                    continue;
                }
                out.push_str(&format!("\n\n{k}:\n{}", generic(v)));
            }
            out
        }
        other => text(other),
    }
}

/// One cell of [`generic`]: money-looking fields as dollars, text on one line.
fn cell(v: &Value) -> String {
    text(v).replace('\n', " ")
}

/// The items of a list body: the array itself, or the array under `items`, `data`, `results`
/// or the object's only array field; empty for anything else.
pub(crate) fn list_of(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Object(map) => {
            for key in ["items", "data", "results"] {
                if let Some(Value::Array(items)) = map.get(key) {
                    return items.clone();
                }
            }
            let mut arrays = map.values().filter_map(Value::as_array);
            match (arrays.next(), arrays.next()) {
                (Some(only), None) => only.clone(),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_and_durations() {
        assert_eq!(usd(&json!(0)), "$0.00");
        assert_eq!(usd(&json!(0.0123)), "$0.0123");
        assert_eq!(usd(&json!(12.5)), "$12.50");
        assert_eq!(limit(&Value::Null), "unlimited");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(3720), "1h02m");
        assert_eq!(time(&json!("2026-03-05T10:20:30Z")), "2026-03-05 10:20");
        assert_eq!(clock(&json!("2026-03-05T10:20:30+01:00")), "09:20:30");
        assert_eq!(time(&Value::Null), "");
        assert_eq!(priority(&json!(40)), "urgent");
        assert_eq!(priority(&json!(20)), "normal");
        assert_eq!(priority(&json!(7)), "7");
        assert_eq!(secs(&json!(65.4)), "1m05s");
        assert_eq!(secs(&Value::Null), "");
    }

    #[test]
    fn generic_renders_lists_as_tables_and_objects_as_pairs() {
        let v =
            json!([{"id": "a", "busy": true, "n": 1}, {"id": "b", "busy": false, "extra": "x"}]);
        assert_eq!(
            generic(&v),
            "ID  BUSY   N  EXTRA\na   true   1\nb   false     x"
        );
        let v = json!({"queued": 2, "slots": [{"id": 1}], "empty": []});
        assert_eq!(generic(&v), "queued: 2\n\nslots:\nID\n1");
        assert_eq!(paint("x", Colour::Red, false), "x");
        assert_eq!(paint("x", Colour::Red, true), "\x1b[31mx\x1b[0m");
    }

    #[test]
    fn lists_are_found_in_their_envelopes() {
        assert_eq!(list_of(&json!([1])), vec![json!(1)]);
        assert_eq!(
            list_of(&json!({"items": [1], "next_cursor": "c"})),
            vec![json!(1)]
        );
        assert_eq!(
            list_of(&json!({"checkpoints": [2], "ticket_id": "t"})),
            vec![json!(2)]
        );
        assert!(list_of(&json!({"a": [1], "b": [2]})).is_empty());
    }
}
