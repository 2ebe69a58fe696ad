//! The scripted provider: answers from a script file instead of a network, so demos and
//! end-to-end tests run the whole pipeline offline.
//!
//! A script is JSON (format in `docs/llm.md`): an ordered list of entries, each optionally
//! limited to a pipeline `role`, to last user messages matching a `match` regex, and to a
//! number of `times`. A request gets the first entry that fits; entries without `role` and
//! `match` are fallbacks. When nothing fits the call fails with
//! [`LlmError::NotConfigured`] naming the role and the message, never with a made-up answer.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use foreman_domain::llm::{
    ContentBlock, LlmError, LlmProgress, LlmProvider, LlmRequest, LlmResponse, LlmResult,
    ProgressSink, StopReason, Usage,
};
use regex::Regex;
use serde::Deserialize;

use crate::wire::clip;

/// The default demo script shipped with Foreman.
pub const DEMO_SCRIPT: &str = include_str!("../scripts/demo.json");

/// A script could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The file could not be read.
    #[error("cannot read script {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid script.
    #[error("invalid script: {0}")]
    Parse(#[source] serde_json::Error),
    /// An entry's `match` is not a valid regex.
    #[error("script entry {entry}: invalid match regex")]
    Regex {
        /// Entry name or index.
        entry: String,
        /// The regex error.
        #[source]
        source: regex::Error,
    },
    /// An entry is inconsistent.
    #[error("script entry {entry}: {reason}")]
    Entry {
        /// Entry name or index.
        entry: String,
        /// What is wrong.
        reason: String,
    },
}

impl ScriptError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "script_io",
            Self::Parse(_) => "script_parse",
            Self::Regex { .. } => "script_regex",
            Self::Entry { .. } => "script_entry",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "default_model")]
    model: String,
    entries: Vec<EntryFile>,
}

fn default_model() -> String {
    "scripted".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, rename = "match")]
    pattern: Option<String>,
    #[serde(default)]
    times: Option<u32>,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    response: Option<ResponseFile>,
    #[serde(default)]
    error: Option<ErrorFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseFile {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUseFile>,
    #[serde(default)]
    content: Option<Vec<ContentBlock>>,
    #[serde(default)]
    stop_reason: Option<StopReason>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolUseFile {
    name: String,
    #[serde(default)]
    input: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorFile {
    kind: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

#[derive(Debug, Clone)]
enum Answer {
    Response {
        content: Vec<ContentBlock>,
        stop_reason: Option<StopReason>,
        usage: Option<Usage>,
    },
    Error(ErrorFile),
}

#[derive(Debug)]
struct Entry {
    label: String,
    role: Option<String>,
    pattern: Option<Regex>,
    times: Option<u32>,
    delay: Duration,
    answer: Answer,
}

/// A parsed, validated script.
#[derive(Debug)]
pub struct Script {
    description: Option<String>,
    model: String,
    entries: Vec<Entry>,
}

impl Script {
    /// Parses a script from JSON text.
    ///
    /// # Errors
    /// [`ScriptError`] naming the entry that is wrong.
    pub fn parse(text: &str) -> Result<Self, ScriptError> {
        let file: ScriptFile = serde_json::from_str(text).map_err(ScriptError::Parse)?;
        let mut entries = Vec::with_capacity(file.entries.len());
        for (i, e) in file.entries.into_iter().enumerate() {
            let label = e.name.clone().unwrap_or_else(|| format!("#{i}"));
            let invalid = |reason: &str| ScriptError::Entry {
                entry: label.clone(),
                reason: reason.to_owned(),
            };
            let pattern = e
                .pattern
                .as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|source| ScriptError::Regex {
                    entry: label.clone(),
                    source,
                })?;
            let answer = match (e.response, e.error) {
                (Some(_), Some(_)) => return Err(invalid("has both response and error")),
                (None, None) => return Err(invalid("has neither response nor error")),
                (None, Some(err)) => {
                    error_of(&err).map_err(|r| invalid(&r))?;
                    Answer::Error(err)
                }
                (Some(r), None) => {
                    let content = match r.content {
                        Some(c) => c,
                        None => {
                            let mut c = Vec::new();
                            if let Some(t) = r.text {
                                c.push(ContentBlock::Text { text: t });
                            }
                            if let Some(t) = r.tool_use {
                                c.push(ContentBlock::ToolUse {
                                    id: String::new(),
                                    name: t.name,
                                    input: t.input,
                                });
                            }
                            c
                        }
                    };
                    if content.is_empty() {
                        return Err(invalid("response has no text, tool_use or content"));
                    }
                    Answer::Response {
                        content,
                        stop_reason: r.stop_reason,
                        usage: r.usage,
                    }
                }
            };
            if e.times == Some(0) {
                return Err(invalid("times must be at least 1"));
            }
            entries.push(Entry {
                label,
                role: e.role,
                pattern,
                times: e.times,
                delay: Duration::from_millis(e.delay_ms),
                answer,
            });
        }
        Ok(Self {
            description: file.description,
            model: file.model,
            entries,
        })
    }

    /// Reads and parses a script file.
    ///
    /// # Errors
    /// [`ScriptError::Io`] or a parse error.
    pub fn load(path: &Path) -> Result<Self, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The shipped demo script.
    ///
    /// # Panics
    /// Never: the demo script is checked by this crate's tests.
    #[must_use]
    pub fn demo() -> Self {
        #[allow(
            clippy::expect_used,
            reason = "the shipped script is validated by tests"
        )]
        Self::parse(DEMO_SCRIPT).expect("the shipped demo script is valid")
    }

    /// The script's description.
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// How many entries it has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn error_of(e: &ErrorFile) -> Result<LlmError, String> {
    let message = if e.message.is_empty() {
        "scripted failure".to_owned()
    } else {
        e.message.clone()
    };
    let retry_after = e.retry_after_ms.map(Duration::from_millis);
    Ok(match e.kind.as_str() {
        "rate_limited" => LlmError::RateLimited {
            retry_after,
            message,
        },
        "overloaded" => LlmError::Overloaded {
            retry_after,
            message,
        },
        "server_error" => LlmError::Server {
            status: 500,
            message,
        },
        "timeout" => LlmError::Timeout {
            after: Duration::ZERO,
        },
        "connection" => LlmError::Connection { message },
        "authentication" => LlmError::Authentication { message },
        "invalid_request" => LlmError::InvalidRequest { message },
        "context_too_long" => LlmError::ContextTooLong { message },
        other => {
            return Err(format!(
                "unknown error kind {other:?} (rate_limited, overloaded, server_error, timeout, \
                 connection, authentication, invalid_request, context_too_long)"
            ));
        }
    })
}

/// Replays a [`Script`].
#[derive(Debug)]
pub struct ScriptedProvider {
    name: String,
    script: Script,
    used: Mutex<Vec<u32>>,
    calls: AtomicU64,
}

impl ScriptedProvider {
    /// A provider named `scripted` replaying `script`.
    #[must_use]
    pub fn new(script: Script) -> Self {
        let n = script.entries.len();
        Self {
            name: "scripted".to_owned(),
            script,
            used: Mutex::new(vec![0; n]),
            calls: AtomicU64::new(0),
        }
    }

    /// Replays the shipped demo script.
    #[must_use]
    pub fn demo() -> Self {
        Self::new(Script::demo())
    }

    /// Loads a script file.
    ///
    /// # Errors
    /// See [`Script::load`].
    pub fn from_file(path: &Path) -> Result<Self, ScriptError> {
        Ok(Self::new(Script::load(path)?))
    }

    /// Renames the provider (as recorded in `llm_calls.provider`).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How many calls were answered or refused so far.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn pick(&self, role: &str, last_user: &str) -> Option<(usize, &Entry)> {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (i, e) = self.script.entries.iter().enumerate().find(|(i, e)| {
            e.times.is_none_or(|t| used[*i] < t)
                && e.role.as_deref().is_none_or(|r| r == role)
                && e.pattern.as_ref().is_none_or(|p| p.is_match(last_user))
        })?;
        used[i] += 1;
        Some((i, e))
    }
}

fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

#[async_trait]
impl LlmProvider for ScriptedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let started = Instant::now();
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let role = request.context.role.as_str();
        let last_user = request.last_user_text();
        let Some((index, entry)) = self.pick(role, &last_user) else {
            return Err(LlmError::NotConfigured {
                message: format!(
                    "scripted provider has no answer for role {role:?} and last user message \
                     {:?} ({} entries, none matched or all used up)",
                    clip(&last_user, 120),
                    self.script.entries.len()
                ),
            });
        };
        tracing::debug!(entry = %entry.label, index, role, "scripted answer");
        if !entry.delay.is_zero() {
            tokio::time::sleep(entry.delay).await;
        }
        let (content, stop_reason, usage) = match &entry.answer {
            Answer::Error(e) => {
                return Err(error_of(e).unwrap_or_else(|m| LlmError::NotConfigured { message: m }));
            }
            Answer::Response {
                content,
                stop_reason,
                usage,
            } => (content, stop_reason, usage),
        };
        let mut out = content.clone();
        for (k, b) in out.iter_mut().enumerate() {
            if let ContentBlock::ToolUse { id, .. } = b
                && id.is_empty()
            {
                *id = format!("toolu_scripted_{n}_{k}");
            }
        }
        progress.report(LlmProgress::Started { request_id: None });
        for b in &out {
            match b {
                ContentBlock::Text { text } => {
                    progress.report(LlmProgress::TextDelta(text.clone()))
                }
                ContentBlock::ToolUse { name, .. } => {
                    progress.report(LlmProgress::ToolUseStarted { name: name.clone() });
                }
                _ => {}
            }
        }
        let has_tool = out
            .iter()
            .any(|b| matches!(b, ContentBlock::ToolUse { .. }));
        let usage = usage.unwrap_or_else(|| {
            let input_chars = request.system.as_deref().map_or(0, str::len)
                + request
                    .messages
                    .iter()
                    .map(|m| serde_json::to_string(&m.content).map_or(0, |s| s.len()))
                    .sum::<usize>();
            let output_chars = serde_json::to_string(&out).map_or(0, |s| s.len());
            Usage {
                input_tokens: estimate_tokens(input_chars),
                output_tokens: estimate_tokens(output_chars).min(u64::from(request.max_tokens)),
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            }
        });
        Ok(LlmResponse {
            content: out,
            stop_reason: stop_reason.unwrap_or(if has_tool {
                StopReason::ToolUse
            } else {
                StopReason::EndTurn
            }),
            usage,
            model: if request.model.is_empty() {
                self.script.model.clone()
            } else {
                request.model.clone()
            },
            duration: started.elapsed(),
            request_id: Some(format!("scripted-{n}")),
        })
    }
}
