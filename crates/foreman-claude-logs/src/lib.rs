//! Claude Code's local session logs (`~/.claude/projects/**/*.jsonl`) as a
//! [`UsageSource`].
//!
//! This crate owns the log format: each line is a JSON record, and assistant records carry the
//! model and token usage (and, in older versions, a `costUSD`). Records are deduplicated by
//! message and request id, priced with Foreman's one price table
//! ([`foreman_llm::PricingTable`]) when no cost is recorded, and summed per session and UTC day.
//! Files are re-read only when their size or modification time changes.
//!
//! It must not know how the usage is shown (the API turns an [`ExternalUsage`] into its
//! response) and keeps no prices of its own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use foreman_domain::Micros;
use foreman_domain::llm::Usage;
use foreman_domain::usage_source::{ExternalUsage, UsageSource};
use foreman_llm::PricingTable;
use serde::Deserialize;

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

/// Parses and caches the Claude Code logs under one directory.
#[derive(Debug, Clone)]
pub struct ClaudeLogs {
    dir: Option<PathBuf>,
    pricing: Arc<PricingTable>,
    cache: Arc<Mutex<FileCache>>,
}

impl ClaudeLogs {
    /// Reads `dir`, or `$HOME/.claude/projects` when `None`, pricing records that carry no
    /// cost with `pricing`.
    #[must_use]
    pub fn new(dir: Option<PathBuf>, pricing: PricingTable) -> Self {
        let dir = dir.or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude").join("projects"))
        });
        Self {
            dir,
            pricing: Arc::new(pricing),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn file_usage(&self, path: &Path) -> Option<Arc<FileUsage>> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        };
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((s, usage)) = cache.get(path)
                && *s == stamp
            {
                return Some(usage.clone());
            }
        }
        let usage = Arc::new(parse_file(path, &HashSet::new(), &self.pricing));
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned(), (stamp, usage.clone()));
        Some(usage)
    }
}

impl UsageSource for ClaudeLogs {
    /// Blocking file I/O: call from a blocking thread.
    fn read(&self) -> Option<ExternalUsage> {
        let dir = self.dir.as_deref().filter(|d| d.is_dir())?;
        let mut files = Vec::new();
        collect_jsonl(dir, 0, &mut files);
        if files.is_empty() {
            return None;
        }
        files.sort();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut total = ExternalUsage::default();
        for path in files {
            let Some(usage) = self.file_usage(&path) else {
                continue;
            };
            // A record duplicated in another file is counted once (the first file wins).
            if usage.keys.iter().any(|k| seen.contains(k)) {
                let fresh = parse_file(&path, &seen, &self.pricing);
                merge(&mut total, &fresh);
                seen.extend(fresh.keys.iter().cloned());
            } else {
                merge(&mut total, &usage);
                seen.extend(usage.keys.iter().cloned());
            }
        }
        Some(total)
    }
}

fn merge(into: &mut ExternalUsage, usage: &FileUsage) {
    for (k, v) in &usage.by_session_day {
        *into.by_session_day.entry(k.clone()).or_default() += *v;
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

impl From<&UsageRecord> for Usage {
    fn from(u: &UsageRecord) -> Self {
        Self {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_input_tokens,
            cache_write_tokens: u.cache_creation_input_tokens,
        }
    }
}

/// Parses one log, skipping records whose key is in `skip`; unreadable lines are ignored.
fn parse_file(path: &Path, skip: &HashSet<(String, String)>, pricing: &PricingTable) -> FileUsage {
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
            _ => pricing.cost(message.model.as_deref().unwrap_or(""), &Usage::from(&u)),
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use foreman_llm::ModelPrice;
    use serde_json::{Value, json};

    use super::*;

    fn write_log(dir: &Path, name: &str, lines: &[Value]) {
        std::fs::create_dir_all(dir).unwrap();
        let mut f = std::fs::File::create(dir.join(name)).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    fn assistant(session: &str, msg: &str, model: &str, usage: Value) -> Value {
        json!({
            "type": "assistant",
            "sessionId": session,
            "timestamp": "2026-03-02T10:00:00Z",
            "requestId": format!("req_{msg}"),
            "message": {"id": msg, "model": model, "role": "assistant", "usage": usage}
        })
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    #[test]
    fn records_are_priced_with_the_given_table() {
        let dir = tempfile::tempdir().unwrap();
        let usage = json!({"input_tokens": 1_000_000, "output_tokens": 100_000,
            "cache_creation_input_tokens": 1_000_000, "cache_read_input_tokens": 1_000_000});
        write_log(
            &dir.path().join("p"),
            "s.jsonl",
            &[
                assistant("s1", "m1", "claude-sonnet-4-5-20250929", usage.clone()),
                assistant("s2", "m2", "house-model", usage),
            ],
        );
        let builtin = ClaudeLogs::new(Some(dir.path().to_owned()), PricingTable::builtin());
        let read = builtin.read().unwrap().by_session_day;
        // $3 input + $1.50 output + $3.75 cache writes + $0.30 cache reads
        assert_eq!(read[&("s1".to_owned(), day())], Micros(8_550_000));
        // an unknown model costs the table's fallback, as Foreman's own calls do
        let fallback = PricingTable::builtin().fallback();
        assert_eq!(
            read[&("s2".to_owned(), day())],
            fallback.cost(&Usage {
                input_tokens: 1_000_000,
                output_tokens: 100_000,
                cache_read_tokens: 1_000_000,
                cache_write_tokens: 1_000_000,
            })
        );
        // a configured price applies to the logs too
        let custom = PricingTable::builtin().with_price("house-model", ModelPrice::FREE);
        let read = ClaudeLogs::new(Some(dir.path().to_owned()), custom)
            .read()
            .unwrap();
        assert_eq!(read.by_session_day[&("s2".to_owned(), day())], Micros::ZERO);
    }

    #[test]
    fn duplicates_across_files_count_once_and_recorded_costs_win() {
        let dir = tempfile::tempdir().unwrap();
        let usage = json!({"input_tokens": 1_000_000, "output_tokens": 0});
        let mut priced = assistant("s1", "m2", "claude-opus-4-1", usage.clone());
        priced["costUSD"] = json!(0.25);
        write_log(
            &dir.path().join("a"),
            "s1.jsonl",
            &[
                assistant("s1", "m1", "claude-sonnet-4-6", usage.clone()),
                json!("not an object"),
                priced,
            ],
        );
        // a resumed session copies m1 into its own file
        write_log(
            &dir.path().join("b"),
            "s1-resumed.jsonl",
            &[assistant("s1", "m1", "claude-sonnet-4-6", usage)],
        );
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let logs = ClaudeLogs::new(Some(dir.path().to_owned()), PricingTable::builtin());
        let read = logs.read().unwrap();
        assert_eq!(
            read.by_session_day,
            BTreeMap::from([(("s1".to_owned(), day()), Micros(3_250_000))])
        );
        // read again from the cache: the same
        assert_eq!(logs.read().unwrap(), read);
    }

    #[test]
    fn no_directory_or_no_logs_is_nothing_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let missing = ClaudeLogs::new(Some(dir.path().join("missing")), PricingTable::builtin());
        assert_eq!(missing.read(), None);
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let empty = ClaudeLogs::new(Some(dir.path().to_owned()), PricingTable::builtin());
        assert_eq!(empty.read(), None);
    }
}
