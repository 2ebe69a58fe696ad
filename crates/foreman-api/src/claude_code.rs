//! Usage estimates from the local Claude Code session logs (`~/.claude/projects/**/*.jsonl`).
//!
//! Each log line is a JSON record; assistant records carry the model and token usage (and, in
//! older versions, a `costUSD`). Records are deduplicated by message and request id, priced
//! with the public list prices when no cost is recorded, and summed per session and UTC day.
//! Files are re-read only when their size or modification time changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, Days, NaiveDate, Utc};
use foreman_domain::Micros;
use serde::Deserialize;

use crate::dto::{ClaudeCodeDay, ClaudeCodeToday, ClaudeCodeUsageDto, usd};

/// Deepest directory level searched below the logs directory.
const MAX_DEPTH: usize = 6;

/// What one log file contributes: spend per (session, UTC day).
#[derive(Debug, Clone, Default)]
struct FileUsage {
    by_session_day: BTreeMap<(String, NaiveDate), Micros>,
    /// `(message id, request id)` pairs seen, to drop duplicates across files.
    keys: Vec<(String, String)>,
}

type FileCache = HashMap<PathBuf, (Stamp, Arc<FileUsage>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

/// Parses and caches Claude Code logs under one directory.
#[derive(Debug, Clone)]
pub(crate) struct ClaudeCodeUsage {
    dir: Option<PathBuf>,
    cache: Arc<Mutex<FileCache>>,
}

impl ClaudeCodeUsage {
    /// Reads `dir`, or `$HOME/.claude/projects` when `None`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        let dir = dir.or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude").join("projects"))
        });
        Self {
            dir,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The usage summary as of `now` (blocking file I/O: call from a blocking thread).
    pub fn summary(&self, now: DateTime<Utc>) -> ClaudeCodeUsageDto {
        let Some(dir) = self.dir.as_deref().filter(|d| d.is_dir()) else {
            return unavailable();
        };
        let mut files = Vec::new();
        collect_jsonl(dir, 0, &mut files);
        if files.is_empty() {
            return unavailable();
        }
        files.sort();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut by_session_day: BTreeMap<(String, NaiveDate), Micros> = BTreeMap::new();
        for path in files {
            let Some(usage) = self.file_usage(&path) else {
                continue;
            };
            // A record duplicated in another file is counted once (the first file wins).
            if usage.keys.iter().any(|k| seen.contains(k)) {
                let fresh = parse_file(&path, &seen);
                merge(&mut by_session_day, &fresh);
                seen.extend(fresh.keys.iter().cloned());
            } else {
                merge(&mut by_session_day, &usage);
                seen.extend(usage.keys.iter().cloned());
            }
        }
        summarise(&by_session_day, now.date_naive())
    }

    fn file_usage(&self, path: &Path) -> Option<Arc<FileUsage>> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        };
        {
            let cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((s, usage)) = cache.get(path)
                && *s == stamp
            {
                return Some(usage.clone());
            }
        }
        let usage = Arc::new(parse_file(path, &HashSet::new()));
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.to_owned(), (stamp, usage.clone()));
        Some(usage)
    }
}

fn unavailable() -> ClaudeCodeUsageDto {
    ClaudeCodeUsageDto {
        available: false,
        total_sessions: None,
        today: None,
        last_7_days: None,
        estimate_note: None,
    }
}

fn merge(into: &mut BTreeMap<(String, NaiveDate), Micros>, usage: &FileUsage) {
    for (k, v) in &usage.by_session_day {
        *into.entry(k.clone()).or_default() += *v;
    }
}

fn summarise(
    by_session_day: &BTreeMap<(String, NaiveDate), Micros>,
    today: NaiveDate,
) -> ClaudeCodeUsageDto {
    let sessions: BTreeSet<&str> = by_session_day.keys().map(|(s, _)| s.as_str()).collect();
    let first = today.checked_sub_days(Days::new(6)).unwrap_or(today);
    let mut days: BTreeMap<NaiveDate, (BTreeSet<&str>, Micros)> = BTreeMap::new();
    let mut d = first;
    while d <= today {
        days.insert(d, (BTreeSet::new(), Micros::ZERO));
        d = d.succ_opt().unwrap_or(today);
        if d == first {
            break;
        }
    }
    for ((session, day), cost) in by_session_day {
        if let Some((s, c)) = days.get_mut(day) {
            s.insert(session.as_str());
            *c += *cost;
        }
    }
    let today_entry = days
        .get(&today)
        .map_or((0, Micros::ZERO), |(s, c)| (s.len(), *c));
    ClaudeCodeUsageDto {
        available: true,
        total_sessions: Some(sessions.len() as i64),
        today: Some(ClaudeCodeToday {
            sessions: today_entry.0 as i64,
            cost_usd: usd(today_entry.1),
        }),
        last_7_days: Some(
            days.iter()
                .map(|(date, (s, c))| ClaudeCodeDay {
                    date: *date,
                    sessions: s.len() as i64,
                    cost_usd: usd(*c),
                })
                .collect(),
        ),
        estimate_note: Some(
            "costs are estimates from local claude code session logs, priced at list prices when \
             the log records no cost"
                .to_owned(),
        ),
    }
}

fn collect_jsonl(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_jsonl(&path, depth + 1, out);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    timestamp: Option<DateTime<Utc>>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<f64>,
    message: Option<MessageRecord>,
}

#[derive(Debug, Deserialize)]
struct MessageRecord {
    id: Option<String>,
    model: Option<String>,
    usage: Option<UsageRecord>,
}

#[derive(Debug, Default, Deserialize)]
struct UsageRecord {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
}

/// Parses one log, skipping records whose key is in `skip`; unreadable lines are ignored.
fn parse_file(path: &Path, skip: &HashSet<(String, String)>) -> FileUsage {
    let mut usage = FileUsage::default();
    let Ok(text) = std::fs::read_to_string(path) else {
        return usage;
    };
    let fallback_session = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut local: HashSet<(String, String)> = HashSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(record) = serde_json::from_str::<Record>(line) else {
            continue;
        };
        if record.kind.as_deref() != Some("assistant") {
            continue;
        }
        let (Some(timestamp), Some(message)) = (record.timestamp, record.message) else {
            continue;
        };
        let Some(u) = message.usage else {
            continue;
        };
        let key = (
            message.id.unwrap_or_default(),
            record.request_id.unwrap_or_default(),
        );
        if !(key.0.is_empty() && key.1.is_empty()) {
            if skip.contains(&key) || !local.insert(key.clone()) {
                continue;
            }
            usage.keys.push(key);
        }
        let cost = match record.cost_usd {
            Some(c) if c.is_finite() && c >= 0.0 => Micros::from_usd(c),
            _ => price(message.model.as_deref().unwrap_or(""), &u),
        };
        let session = record
            .session_id
            .unwrap_or_else(|| fallback_session.clone());
        *usage
            .by_session_day
            .entry((session, timestamp.date_naive()))
            .or_default() += cost;
    }
    usage
}

/// List prices in micro-dollars per million tokens: input, output, cache write, cache read.
fn prices(model: &str) -> (u64, u64, u64, u64) {
    let m = model.to_ascii_lowercase();
    if m.contains("opus") {
        if m.contains("opus-4-5") || m.contains("opus-4-6") {
            (5_000_000, 25_000_000, 6_250_000, 500_000)
        } else {
            (15_000_000, 75_000_000, 18_750_000, 1_500_000)
        }
    } else if m.contains("haiku") {
        if m.contains("3-5") || m.contains("3.5") {
            (800_000, 4_000_000, 1_000_000, 80_000)
        } else {
            (1_000_000, 5_000_000, 1_250_000, 100_000)
        }
    } else {
        // Sonnet, and the price used for unknown models.
        (3_000_000, 15_000_000, 3_750_000, 300_000)
    }
}

fn price(model: &str, u: &UsageRecord) -> Micros {
    let (input, output, write, read) = prices(model);
    Micros::for_tokens(u.input_tokens, input)
        + Micros::for_tokens(u.output_tokens, output)
        + Micros::for_tokens(u.cache_creation_input_tokens, write)
        + Micros::for_tokens(u.cache_read_input_tokens, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_family() {
        let u = UsageRecord {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..Default::default()
        };
        assert_eq!(price("claude-sonnet-4-6", &u), Micros(18_000_000));
        assert_eq!(price("claude-opus-4-1-20250805", &u), Micros(90_000_000));
        assert_eq!(price("claude-haiku-4-5", &u), Micros(6_000_000));
    }
}
