//! Cost reports over recorded LLM calls: sums per day, model, role, runner, project or ticket,
//! spend and open reservations per budget window, and the cost of merged pull requests.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::budget_window::Window;
use crate::error::StoreResult;
use crate::money::Micros;

/// The key under which calls are summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostGroupBy {
    /// The UTC day of the call (`2026-12-07`).
    Day,
    /// The model name.
    Model,
    /// The pipeline role.
    Role,
    /// The runner.
    Runner,
    /// The ticket's project (`""` for calls of deleted tickets and calls without a ticket).
    Project,
    /// The ticket id (a deleted ticket's id for its kept calls; `""` without a ticket).
    Ticket,
}

impl CostGroupBy {
    /// Every grouping.
    pub const ALL: &'static [Self] = &[
        Self::Day,
        Self::Model,
        Self::Role,
        Self::Runner,
        Self::Project,
        Self::Ticket,
    ];

    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Model => "model",
            Self::Role => "role",
            Self::Runner => "runner",
            Self::Project => "project",
            Self::Ticket => "ticket",
        }
    }
}

impl fmt::Display for CostGroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CostGroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                format!("unknown group_by {s:?}; expected one of day, model, role, runner, project, ticket")
            })
    }
}

/// Sums of one group of calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostGroup {
    /// The group's key (see [`CostGroupBy`]).
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

impl CostGroup {
    /// Adds one call's figures.
    pub fn add(&mut self, c: &crate::llm_call::LlmCall) {
        self.calls += 1;
        self.tokens_input += c.tokens_input;
        self.tokens_output += c.tokens_output;
        self.cache_read_tokens += c.cache_read_tokens;
        self.cache_write_tokens += c.cache_write_tokens;
        self.cost += c.cost;
    }
}

/// Orders groups the way every store returns them: days ascending, any other key by cost
/// descending, then key.
pub fn sort_groups(group_by: CostGroupBy, groups: &mut [CostGroup]) {
    if group_by == CostGroupBy::Day {
        groups.sort_by(|a, b| a.key.cmp(&b.key));
    } else {
        groups.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.key.cmp(&b.key)));
    }
}

/// Recorded and reserved spend in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpend {
    /// Recorded calls.
    pub used: Micros,
    /// Open budget reservations taken in the window.
    pub reserved: Micros,
}

/// What merged pull requests cost over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedPrCost {
    /// Tickets whose pull request merged in the window.
    pub merged_prs: i64,
    /// What those tickets cost in all (their whole life).
    pub merged_cost: Micros,
    /// Every call recorded in the window, failed and unfinished tickets included.
    pub total_cost: Micros,
}

impl MergedPrCost {
    /// All spend in the window divided by the pull requests merged in it (what a merge costs
    /// with the failures it took); `None` without a merge.
    #[must_use]
    pub fn per_merged_pr(&self) -> Option<Micros> {
        (self.merged_prs > 0).then(|| Micros(self.total_cost.0 / self.merged_prs))
    }
}

/// Where a model's price comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The built-in table.
    Builtin,
    /// A `[[pricing]]` entry of the configuration.
    Config,
}

/// One model's price, in micro-dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRow {
    /// The model name as the table lists it.
    pub model: String,
    /// Uncached input.
    pub input: Micros,
    /// Output.
    pub output: Micros,
    /// Input written to the prompt cache.
    pub cache_write: Micros,
    /// Input read from the prompt cache.
    pub cache_read: Micros,
    /// Built in or configured.
    pub source: PriceSource,
}

/// The price table in use, as reports show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTableView {
    /// The table's version (`2026-03-01`, `+custom` when configured prices changed it).
    pub version: String,
    /// Every listed model, by name.
    pub models: Vec<PriceRow>,
    /// The price of a model the table does not list.
    pub fallback: Option<PriceRow>,
}

/// Cost reports. Windows are half-open `[from, to)`.
#[async_trait]
pub trait CostReport: Send + Sync {
    /// Calls in `[from, to)` summed per `group_by`, ordered by [`sort_groups`].
    async fn cost_groups(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group_by: CostGroupBy,
    ) -> StoreResult<Vec<CostGroup>>;

    /// Recorded spend and open reservations in `window`.
    async fn window_spend(&self, window: Window) -> StoreResult<WindowSpend>;

    /// Merged pull requests (tickets that reached `merged` with `completed_at` in the window),
    /// their cost, and every call's cost in `[from, to)`.
    async fn merged_pr_cost(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<MergedPrCost>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_strings_round_trip_and_unknown_names_list_the_choices() {
        for &g in CostGroupBy::ALL {
            assert_eq!(g.as_str().parse::<CostGroupBy>().unwrap(), g);
        }
        let e = "week".parse::<CostGroupBy>().unwrap_err();
        assert!(e.contains("day, model"), "{e}");
    }

    #[test]
    fn per_merged_pr_divides_all_spend() {
        let m = MergedPrCost {
            merged_prs: 4,
            merged_cost: Micros(100),
            total_cost: Micros(1_000),
        };
        assert_eq!(m.per_merged_pr(), Some(Micros(250)));
        assert_eq!(MergedPrCost::default().per_merged_pr(), None);
    }
}
