//! LLM usage reported from outside Foreman (`POST /api/llm/usage`): rows a client sends about
//! calls it made itself, kept in the same ledger as Foreman's own calls so every spend window,
//! cost report and budget counts them alike.
//!
//! The rules of a row live here once, for the API and both stores: [`prepare`] turns what a
//! client sent ([`UsageDraft`]) into rows to record ([`NewUsageRow`]), pricing those without a
//! cost through the [`UsagePricer`] port, and names the first violation by item and field
//! ([`UsageViolation`]); [`NewUsageRow::validate`] is what a store checks again before writing.
//! The stores implement [`UsageIngest`]; the price table behind [`UsagePricer`] belongs to
//! `foreman-llm` and is installed by the server.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::ids::{LlmCallId, TaskId, TicketId};
use crate::llm::Usage;
use crate::money::Micros;

/// The most rows one ingest takes.
pub const MAX_INGEST_ROWS: usize = 500;

/// How far ahead of the server's clock a row's timestamp may be (clock skew).
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);

/// The longest provider, model, project, session tag or idempotency key, in bytes.
pub const MAX_FIELD_LEN: usize = 200;

/// The most tokens of one class a row may report.
pub const MAX_TOKENS: i64 = 1_000_000_000_000;

/// The most a row may cost.
pub const MAX_ROW_COST: Micros = Micros(1_000_000_000_000);

/// Who made an LLM call: Foreman's pipeline, or a client that reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageOrigin {
    /// Recorded by Foreman for its own calls.
    Foreman,
    /// Reported through `POST /api/llm/usage`.
    External,
}

impl UsageOrigin {
    /// Every origin.
    pub const ALL: &'static [Self] = &[Self::Foreman, Self::External];

    /// The wire and storage string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Foreman => "foreman",
            Self::External => "external",
        }
    }
}

impl fmt::Display for UsageOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UsageOrigin {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue::new("source", s, Self::ALL.iter().map(|v| v.as_str())))
    }
}

/// What a usage summary is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroupBy {
    /// The model name.
    Model,
    /// The row's project, else its ticket's (`""` with neither).
    Project,
    /// The ticket id (a deleted ticket's id for its kept calls; `""` without a ticket).
    Ticket,
    /// The session tag (`""` without one).
    SessionTag,
    /// The UTC day (`2026-12-07`).
    Day,
}

impl UsageGroupBy {
    /// Every grouping, in the order the error lists them.
    pub const ALL: &'static [Self] = &[
        Self::Model,
        Self::Project,
        Self::Ticket,
        Self::SessionTag,
        Self::Day,
    ];

    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Project => "project",
            Self::Ticket => "ticket",
            Self::SessionTag => "session_tag",
            Self::Day => "day",
        }
    }
}

impl fmt::Display for UsageGroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UsageGroupBy {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue::new("group_by", s, Self::ALL.iter().map(|v| v.as_str())))
    }
}

/// A string that is none of the allowed values; the message lists them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {name} {value:?}; allowed values: {allowed}")]
pub struct UnknownValue {
    /// The parameter (`group_by`, `source`).
    pub name: &'static str,
    /// What was given.
    pub value: String,
    /// The allowed values, comma separated.
    pub allowed: String,
}

impl UnknownValue {
    fn new<'a>(name: &'static str, value: &str, allowed: impl Iterator<Item = &'a str>) -> Self {
        Self {
            name,
            value: value.to_owned(),
            allowed: allowed.collect::<Vec<_>>().join(", "),
        }
    }
}

/// Prices a row that came without a cost.
pub trait UsagePricer: Send + Sync + fmt::Debug {
    /// The cost of `usage` on `model` of `provider`, or `None` when the price table does not
    /// list the model (the row must then carry its own cost).
    fn price(&self, provider: &str, model: &str, usage: &Usage) -> Option<Micros>;
}

/// One row as a client sent it, every field still optional: [`prepare`] checks it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageDraft {
    /// The client's idempotency key: a row whose key was already recorded is skipped.
    pub id: Option<String>,
    /// Provider name (`anthropic`, `openai`, ...). Required.
    pub provider: Option<String>,
    /// Model name. Required.
    pub model: Option<String>,
    /// Uncached input tokens.
    pub input_tokens: Option<i64>,
    /// Output tokens.
    pub output_tokens: Option<i64>,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: Option<i64>,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: Option<i64>,
    /// Cost in US dollars; priced from the table when absent.
    pub cost_usd: Option<f64>,
    /// Project name.
    pub project: Option<String>,
    /// The Foreman ticket the call was for.
    pub ticket_id: Option<String>,
    /// A free-form tag grouping calls of one session.
    pub session_tag: Option<String>,
    /// When the call was made (RFC 3339); now when absent.
    pub timestamp: Option<String>,
}

/// A row to record, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewUsageRow {
    /// The client's idempotency key.
    pub external_id: Option<String>,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Uncached input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: i64,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: i64,
    /// Cost.
    pub cost: Micros,
    /// Whether the cost came from the price table (not from the client).
    pub priced: bool,
    /// Project name.
    pub project: Option<String>,
    /// The ticket it is charged to.
    pub ticket_id: Option<TicketId>,
    /// Session tag.
    pub session_tag: Option<String>,
    /// When the call was made.
    pub at: DateTime<Utc>,
}

impl NewUsageRow {
    /// What every store checks before writing: non-empty provider and model, amounts within
    /// bounds, no over-long text.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] naming the field.
    pub fn validate(&self) -> StoreResult<()> {
        let invalid = |m: String| Err(StoreError::Invalid(m));
        for (name, v) in [("provider", &self.provider), ("model", &self.model)] {
            if v.trim().is_empty() {
                return invalid(format!("{name}: must not be empty"));
            }
        }
        for (name, v) in [
            ("input_tokens", self.tokens_input),
            ("output_tokens", self.tokens_output),
            ("cache_read_tokens", self.cache_read_tokens),
            ("cache_write_tokens", self.cache_write_tokens),
        ] {
            if !(0..=MAX_TOKENS).contains(&v) {
                return invalid(format!("{name}: must be between 0 and {MAX_TOKENS}"));
            }
        }
        if self.cost.0 < 0 || self.cost > MAX_ROW_COST {
            return invalid("cost_usd: out of range".to_owned());
        }
        for (name, v) in [
            ("id", self.external_id.as_deref()),
            ("provider", Some(self.provider.as_str())),
            ("model", Some(self.model.as_str())),
            ("project", self.project.as_deref()),
            ("session_tag", self.session_tag.as_deref()),
        ] {
            if v.is_some_and(|s| s.len() > MAX_FIELD_LEN) {
                return invalid(format!("{name}: longer than {MAX_FIELD_LEN} bytes"));
            }
        }
        Ok(())
    }

    /// The tokens as the price table counts them.
    #[must_use]
    pub fn usage(&self) -> Usage {
        usage_of(
            self.tokens_input,
            self.tokens_output,
            self.cache_read_tokens,
            self.cache_write_tokens,
        )
    }
}

fn usage_of(input: i64, output: i64, cache_read: i64, cache_write: i64) -> Usage {
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    Usage {
        input_tokens: u(input),
        output_tokens: u(output),
        cache_read_tokens: u(cache_read),
        cache_write_tokens: u(cache_write),
    }
}

/// The first thing wrong with a batch: which item (`None` for a single row), which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.path())]
pub struct UsageViolation {
    /// The item's index in the batch; `None` when a single row was sent.
    pub index: Option<usize>,
    /// The field (`model`, `timestamp`, ...).
    pub field: String,
    /// What is wrong, lowercase.
    pub message: String,
}

impl UsageViolation {
    /// A violation of `field` of item `index`.
    #[must_use]
    pub fn new(index: Option<usize>, field: &str, message: impl Into<String>) -> Self {
        Self {
            index,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// Where it is: `items[3].model`, or `model` for a single row.
    #[must_use]
    pub fn path(&self) -> String {
        item_path(self.index, &self.field)
    }
}

/// `items[3].model`, or `model` for a single row.
#[must_use]
pub fn item_path(index: Option<usize>, field: &str) -> String {
    match index {
        Some(i) if field.is_empty() => format!("items[{i}]"),
        Some(i) => format!("items[{i}].{field}"),
        None => field.to_owned(),
    }
}

fn text(
    index: Option<usize>,
    field: &str,
    value: Option<String>,
    required: bool,
) -> Result<Option<String>, UsageViolation> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match value {
        None if required => Err(UsageViolation::new(index, field, "required")),
        Some(v) if v.len() > MAX_FIELD_LEN => Err(UsageViolation::new(
            index,
            field,
            format!("longer than {MAX_FIELD_LEN} bytes"),
        )),
        Some(v) if v.chars().any(char::is_control) => Err(UsageViolation::new(
            index,
            field,
            "must not contain control characters",
        )),
        v => Ok(v),
    }
}

fn tokens(index: Option<usize>, field: &str, v: Option<i64>) -> Result<i64, UsageViolation> {
    match v.unwrap_or(0) {
        n if (0..=MAX_TOKENS).contains(&n) => Ok(n),
        _ => Err(UsageViolation::new(
            index,
            field,
            format!("must be between 0 and {MAX_TOKENS}"),
        )),
    }
}

/// Checks one row: `index` is its place in a batch (`None` for a single row), `now` the
/// server's clock. A row without `cost_usd` is priced with `pricer`; a model the table does
/// not list (or no table) is a violation of `model`, so nothing is ever recorded at a guessed
/// price.
///
/// # Errors
/// The first [`UsageViolation`] of the row.
pub fn prepare_row(
    index: Option<usize>,
    draft: UsageDraft,
    now: DateTime<Utc>,
    pricer: Option<&dyn UsagePricer>,
) -> Result<NewUsageRow, UsageViolation> {
    let external_id = text(index, "id", draft.id, false)?;
    let provider = text(index, "provider", draft.provider, true)?.unwrap_or_default();
    let model = text(index, "model", draft.model, true)?.unwrap_or_default();
    let tokens_input = tokens(index, "input_tokens", draft.input_tokens)?;
    let tokens_output = tokens(index, "output_tokens", draft.output_tokens)?;
    let cache_read_tokens = tokens(index, "cache_read_tokens", draft.cache_read_tokens)?;
    let cache_write_tokens = tokens(index, "cache_write_tokens", draft.cache_write_tokens)?;
    let project = text(index, "project", draft.project, false)?;
    let session_tag = text(index, "session_tag", draft.session_tag, false)?;
    let ticket_id = text(index, "ticket_id", draft.ticket_id, false)?.map(TicketId::from);
    let at = match draft.timestamp.as_deref().map(str::trim) {
        None | Some("") => now,
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|_| {
                UsageViolation::new(
                    index,
                    "timestamp",
                    format!("expected an RFC 3339 time (2026-12-07T10:00:00Z), got {s:?}"),
                )
            })?
            .with_timezone(&Utc),
    };
    if at > now + MAX_FUTURE_SKEW {
        return Err(UsageViolation::new(
            index,
            "timestamp",
            format!(
                "{} is in the future (at most {} minutes ahead of the server's clock)",
                at.to_rfc3339(),
                MAX_FUTURE_SKEW.num_minutes()
            ),
        ));
    }
    if at.timestamp() < 0 {
        return Err(UsageViolation::new(
            index,
            "timestamp",
            "must not be before 1970-01-01",
        ));
    }
    let (cost, priced) = match draft.cost_usd {
        Some(usd) if !usd.is_finite() || usd < 0.0 || Micros::from_usd(usd) > MAX_ROW_COST => {
            return Err(UsageViolation::new(
                index,
                "cost_usd",
                format!("must be between 0 and {}", MAX_ROW_COST.0 / Micros::PER_USD),
            ));
        }
        Some(usd) => (Micros::from_usd(usd), false),
        None => {
            let usage = usage_of(
                tokens_input,
                tokens_output,
                cache_read_tokens,
                cache_write_tokens,
            );
            let price = pricer.and_then(|p| p.price(&provider, &model, &usage));
            match price {
                Some(c) => (c, true),
                None => {
                    return Err(UsageViolation::new(
                        index,
                        "model",
                        format!(
                            "no price for model {model:?} in the price table; send cost_usd \
                             or add a [[pricing]] entry"
                        ),
                    ));
                }
            }
        }
    };
    Ok(NewUsageRow {
        external_id,
        provider,
        model,
        tokens_input,
        tokens_output,
        cache_read_tokens,
        cache_write_tokens,
        cost,
        priced,
        project,
        ticket_id,
        session_tag,
        at,
    })
}

/// Checks a batch, all or nothing: every row with [`prepare_row`] (indices in the paths when
/// `batch`), at most [`MAX_INGEST_ROWS`] rows, at least one, and no idempotency key twice.
///
/// # Errors
/// The first [`UsageViolation`] found, in item order.
pub fn prepare(
    drafts: Vec<UsageDraft>,
    batch: bool,
    now: DateTime<Utc>,
    pricer: Option<&dyn UsagePricer>,
) -> Result<Vec<NewUsageRow>, UsageViolation> {
    if drafts.is_empty() {
        return Err(UsageViolation::new(None, "items", "must not be empty"));
    }
    if drafts.len() > MAX_INGEST_ROWS {
        return Err(UsageViolation::new(
            None,
            "items",
            format!(
                "at most {MAX_INGEST_ROWS} rows per request, got {}",
                drafts.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut rows = Vec::with_capacity(drafts.len());
    for (i, d) in drafts.into_iter().enumerate() {
        let index = batch.then_some(i);
        let row = prepare_row(index, d, now, pricer)?;
        if let Some(key) = &row.external_id
            && !seen.insert(key.clone())
        {
            return Err(UsageViolation::new(
                index,
                "id",
                format!("{key:?} appears twice in the batch"),
            ));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A recorded call as usage: Foreman's own calls and reported ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The call's id.
    pub id: LlmCallId,
    /// Who made it.
    pub source: UsageOrigin,
    /// The client's idempotency key (reported rows).
    pub external_id: Option<String>,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Pipeline role (`external` for reported rows).
    pub role: String,
    /// Runner (`external` for reported rows).
    pub runner: String,
    /// The row's project, else its ticket's.
    pub project: Option<String>,
    /// The ticket it is charged to (a deleted ticket's id for its kept calls).
    pub ticket_id: Option<TicketId>,
    /// The task it was made for.
    pub task_id: Option<TaskId>,
    /// Session tag.
    pub session_tag: Option<String>,
    /// Uncached input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: i64,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: i64,
    /// Cost.
    pub cost: Micros,
    /// Outcome (`success`, ...).
    pub status: String,
    /// When the call was made.
    pub at: DateTime<Utc>,
}

/// The role and runner of a reported row.
pub const EXTERNAL: &str = "external";

/// A position in the usage listing (newest first): the last row's time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCursor {
    /// The last row's time, in microseconds.
    pub at_micros: i64,
    /// The last row's id.
    pub id: LlmCallId,
}

impl UsageCursor {
    /// The cursor after `r`.
    #[must_use]
    pub fn after(r: &UsageRecord) -> Self {
        Self {
            at_micros: crate::time_to_micros(r.at),
            id: r.id.clone(),
        }
    }

    /// The opaque wire form.
    #[must_use]
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at_micros, self.id)
    }

    /// Parses the wire form.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for anything [`UsageCursor::encode`] did not make.
    pub fn decode(s: &str) -> StoreResult<Self> {
        let bad = || StoreError::Invalid("cursor: not a cursor this listing returned".into());
        let (at, id) = s.split_once('.').ok_or_else(bad)?;
        let at_micros = at.parse::<i64>().map_err(|_| bad())?;
        if id.is_empty()
            || id.len() > 64
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad());
        }
        Ok(Self {
            at_micros,
            id: LlmCallId::from(id.to_owned()),
        })
    }
}

/// Which calls to list or sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageFilter {
    /// Provider name.
    pub provider: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Project (the row's, else its ticket's).
    pub project: Option<String>,
    /// Ticket id (deleted tickets' kept calls included).
    pub ticket_id: Option<TicketId>,
    /// Session tag.
    pub session_tag: Option<String>,
    /// Who made the calls.
    pub source: Option<UsageOrigin>,
    /// Start, included.
    pub from: Option<DateTime<Utc>>,
    /// End, excluded.
    pub to: Option<DateTime<Utc>>,
}

impl UsageFilter {
    /// Whether `r` matches (the memory store's filter; the SQL store says the same in SQL).
    #[must_use]
    pub fn matches(&self, r: &UsageRecord) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        eq(&self.provider, Some(&r.provider))
            && eq(&self.model, Some(&r.model))
            && eq(&self.project, r.project.as_deref())
            && eq(&self.session_tag, r.session_tag.as_deref())
            && self
                .ticket_id
                .as_ref()
                .is_none_or(|t| r.ticket_id.as_ref() == Some(t))
            && self.source.is_none_or(|s| s == r.source)
            && self.from.is_none_or(|f| r.at >= f)
            && self.to.is_none_or(|t| r.at < t)
    }
}

/// A page of usage, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsagePage {
    /// The rows.
    pub items: Vec<UsageRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<UsageCursor>,
}

/// Sums of one summary group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageGroup {
    /// The model, project, ticket id, session tag or day (`2026-12-07`); `""` for calls
    /// without one.
    pub key: String,
    /// Calls.
    pub calls: i64,
    /// Uncached input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: i64,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: i64,
    /// Cost.
    pub cost: Micros,
}

impl UsageGroup {
    /// Adds `r` to the group.
    pub fn add(&mut self, r: &UsageRecord) {
        self.calls += 1;
        self.tokens_input += r.tokens_input;
        self.tokens_output += r.tokens_output;
        self.cache_read_tokens += r.cache_read_tokens;
        self.cache_write_tokens += r.cache_write_tokens;
        self.cost += r.cost;
    }

    /// The key of `r` under `by`.
    #[must_use]
    pub fn key_of(by: UsageGroupBy, r: &UsageRecord) -> String {
        match by {
            UsageGroupBy::Model => r.model.clone(),
            UsageGroupBy::Project => r.project.clone().unwrap_or_default(),
            UsageGroupBy::Ticket => r
                .ticket_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            UsageGroupBy::SessionTag => r.session_tag.clone().unwrap_or_default(),
            UsageGroupBy::Day => r.at.date_naive().to_string(),
        }
    }
}

/// Orders summary groups: days in order, the others by cost (highest first), then key.
pub fn sort_usage_groups(by: UsageGroupBy, groups: &mut [UsageGroup]) {
    if by == UsageGroupBy::Day {
        groups.sort_by(|a, b| a.key.cmp(&b.key));
    } else {
        groups.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.key.cmp(&b.key)));
    }
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestOutcome {
    /// The recorded rows' ids, in item order (skipped rows have none).
    pub ids: Vec<Option<LlmCallId>>,
    /// Indices of rows skipped because their idempotency key was already recorded.
    pub duplicates: Vec<usize>,
    /// The cost of the recorded rows.
    pub cost: Micros,
}

impl IngestOutcome {
    /// Rows recorded.
    #[must_use]
    pub fn inserted(&self) -> usize {
        self.ids.iter().filter(|i| i.is_some()).count()
    }
}

/// Usage reported from outside: recorded in the same ledger as Foreman's own calls.
#[async_trait]
pub trait UsageIngest: Send + Sync {
    /// Records `rows` in one transaction, all or nothing: each as an LLM call with source
    /// `external` (role and runner [`EXTERNAL`]), counted by every spend window, cost report and
    /// budget like Foreman's own calls, and added to its ticket's totals. A row whose
    /// idempotency key is already recorded is skipped (reported in
    /// [`IngestOutcome::duplicates`]), so a retried batch is counted once.
    ///
    /// Errors: [`StoreError::Invalid`] when a row fails [`NewUsageRow::validate`] or names a
    /// ticket that does not exist (the message names `items[i]`); nothing is recorded then.
    async fn ingest_usage(&self, rows: Vec<NewUsageRow>) -> StoreResult<IngestOutcome>;

    /// Calls matching `filter`, newest first (time, then id), at most `limit` (0: 50, capped at
    /// [`crate::MAX_PAGE_LIMIT`]) after `cursor`.
    async fn list_usage(
        &self,
        filter: &UsageFilter,
        cursor: Option<&UsageCursor>,
        limit: u32,
    ) -> StoreResult<UsagePage>;

    /// Calls matching `filter` summed per group ([`sort_usage_groups`] order).
    async fn usage_summary(
        &self,
        filter: &UsageFilter,
        group_by: UsageGroupBy,
    ) -> StoreResult<Vec<UsageGroup>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Table;
    impl UsagePricer for Table {
        fn price(&self, _provider: &str, model: &str, usage: &Usage) -> Option<Micros> {
            (model == "known").then(|| Micros::for_tokens(usage.input_tokens, 1_000_000))
        }
    }

    fn draft(model: &str) -> UsageDraft {
        UsageDraft {
            provider: Some("anthropic".into()),
            model: Some(model.into()),
            input_tokens: Some(1_000),
            ..UsageDraft::default()
        }
    }

    fn now() -> DateTime<Utc> {
        crate::micros_to_time(1_800_000_000_000_000)
    }

    #[test]
    fn a_missing_model_is_named_with_its_index() {
        let mut rows = vec![draft("known"); 5];
        rows[3].model = None;
        let e = prepare(rows, true, now(), Some(&Table)).unwrap_err();
        assert_eq!(e.path(), "items[3].model");
        assert_eq!(e.to_string(), "items[3].model: required");
    }

    #[test]
    fn a_single_row_is_named_without_index() {
        let mut d = draft("known");
        d.provider = Some("  ".into());
        let e = prepare(vec![d], false, now(), Some(&Table)).unwrap_err();
        assert_eq!(e.path(), "provider");
    }

    #[test]
    fn rows_without_cost_are_priced_and_unknown_models_refused() {
        let rows = prepare(vec![draft("known")], true, now(), Some(&Table)).unwrap();
        assert_eq!((rows[0].cost, rows[0].priced), (Micros(1_000), true));
        let e = prepare(vec![draft("unknown")], true, now(), Some(&Table)).unwrap_err();
        assert_eq!(e.path(), "items[0].model");
        let e = prepare(vec![draft("known")], true, now(), None).unwrap_err();
        assert_eq!(e.path(), "items[0].model");
        let mut given = draft("unknown");
        given.cost_usd = Some(0.25);
        let rows = prepare(vec![given], true, now(), None).unwrap();
        assert_eq!((rows[0].cost, rows[0].priced), (Micros(250_000), false));
    }

    #[test]
    fn batch_bounds_and_duplicate_keys() {
        let e = prepare(vec![draft("known"); 501], true, now(), Some(&Table)).unwrap_err();
        assert_eq!(e.path(), "items");
        assert!(e.message.contains("500"), "{e}");
        assert!(prepare(vec![], true, now(), Some(&Table)).is_err());
        let mut a = draft("known");
        a.id = Some("k".into());
        let e = prepare(vec![a.clone(), a], true, now(), Some(&Table)).unwrap_err();
        assert_eq!(e.path(), "items[1].id");
    }

    #[test]
    fn bad_amounts_and_times_are_refused() {
        type Edit = fn(&mut UsageDraft);
        let cases: Vec<(Edit, &str)> = vec![
            (|d| d.input_tokens = Some(-1), "items[0].input_tokens"),
            (|d| d.cost_usd = Some(-0.5), "items[0].cost_usd"),
            (|d| d.cost_usd = Some(f64::NAN), "items[0].cost_usd"),
            (
                |d| d.timestamp = Some("yesterday".into()),
                "items[0].timestamp",
            ),
            (
                |d| d.timestamp = Some("2099-01-01T00:00:00Z".into()),
                "items[0].timestamp",
            ),
            (
                |d| d.session_tag = Some("x".repeat(201)),
                "items[0].session_tag",
            ),
            (|d| d.project = Some("a\nb".into()), "items[0].project"),
        ];
        for (edit, path) in cases {
            let mut d = draft("known");
            edit(&mut d);
            let e = prepare(vec![d], true, now(), Some(&Table)).unwrap_err();
            assert_eq!(e.path(), path, "{e}");
        }
        let mut d = draft("known");
        d.timestamp = Some("2027-01-15T10:00:00+02:00".into());
        let rows = prepare(vec![d], true, now(), Some(&Table)).unwrap();
        assert_eq!(rows[0].at.to_rfc3339(), "2027-01-15T08:00:00+00:00");
    }

    #[test]
    fn unknown_group_by_lists_the_allowed_values() {
        let e = "tokens".parse::<UsageGroupBy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown group_by \"tokens\"; allowed values: model, project, ticket, session_tag, day"
        );
        for g in UsageGroupBy::ALL {
            assert_eq!(g.as_str().parse::<UsageGroupBy>().unwrap(), *g);
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = UsageCursor {
            at_micros: 42,
            id: LlmCallId::from("0190f1c2-0000-7000-8000-000000000000".to_owned()),
        };
        assert_eq!(UsageCursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "x", "1.", "a.b", "1.a b", "1.'; drop"] {
            assert!(UsageCursor::decode(bad).is_err(), "{bad}");
        }
    }
}
