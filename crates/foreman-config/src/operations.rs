//! `[[pricing]]`, `[notifications]` and `[retrospectives]`: model price overrides, the
//! notifier's intervals and the retrospective round size.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::parse_duration;

/// `[[pricing]]`: one model's price, overriding the built-in one or adding a model, in US
/// dollars per million tokens. A missing `cache_write` or `cache_read` costs the same as
/// `input` (never cheaper than it should be). `model = "*"` sets the price of models the table
/// does not list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingEntry {
    /// The model name (`claude-sonnet-4-6`, `my-finetune`; a dated or provider-prefixed name
    /// matches it too), or `*` for the fallback price.
    pub model: String,
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Input written to the prompt cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Input read from the prompt cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
}

/// `[notifications]`: how often the notifier reads new events and sums spend against the
/// budgets. The triggers themselves are set over the API (`PUT /api/notifications/triggers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Run the notifier.
    pub enabled: bool,
    /// How often new events are read.
    pub poll_interval: String,
    /// How often spend is summed against the budgets.
    pub budget_interval: String,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: "2s".into(),
            budget_interval: "30s".into(),
        }
    }
}

/// `[retrospectives]`: a retrospective is written every `every` finished tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrospectivesConfig {
    /// Write retrospectives.
    pub enabled: bool,
    /// Finished tickets per retrospective (1–10,000).
    pub every: u32,
}

impl Default for RetrospectivesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            every: 20,
        }
    }
}

/// Checks `[[pricing]]`, `[notifications]` and `[retrospectives]`.
pub(crate) fn validate(
    pricing: &[PricingEntry],
    notifications: &NotificationsConfig,
    retrospectives: &RetrospectivesConfig,
) -> Result<(), ConfigError> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, p) in pricing.iter().enumerate() {
        let model = p.model.trim();
        if model.is_empty() || model.len() > 200 || model.chars().any(char::is_control) {
            return Err(ConfigError::invalid(
                &format!("pricing[{i}].model"),
                &p.model,
                "expected a model name of 1-200 characters, or * for the fallback price",
            ));
        }
        if seen.contains(&model) {
            return Err(ConfigError::invalid(
                &format!("pricing[{i}].model"),
                &p.model,
                "each model may be priced once",
            ));
        }
        seen.push(model);
        for (field, v) in [
            ("input", Some(p.input)),
            ("output", Some(p.output)),
            ("cache_write", p.cache_write),
            ("cache_read", p.cache_read),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && (0.0..=1_000_000.0).contains(&v))
            {
                return Err(ConfigError::invalid(
                    &format!("pricing[{i}].{field}"),
                    v,
                    "must be a non-negative number of USD per million tokens",
                ));
            }
        }
    }
    for (key, value) in [
        ("notifications.poll_interval", &notifications.poll_interval),
        (
            "notifications.budget_interval",
            &notifications.budget_interval,
        ),
    ] {
        match parse_duration(value) {
            Ok(d) if !d.is_zero() => {}
            Ok(_) => return Err(ConfigError::invalid(key, value, "must be positive")),
            Err(reason) => return Err(ConfigError::invalid(key, value, &reason)),
        }
    }
    if !(1..=10_000).contains(&retrospectives.every) {
        return Err(ConfigError::invalid(
            "retrospectives.every",
            retrospectives.every,
            "must be from 1 to 10000",
        ));
    }
    Ok(())
}
