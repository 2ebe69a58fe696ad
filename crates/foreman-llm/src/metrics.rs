//! The metrics every LLM call feeds, with the names and labels of the API contract.
//!
//! Recorded through the `metrics` facade; the server installs the Prometheus recorder.

use std::time::Duration;

use foreman_domain::Micros;
use foreman_domain::llm::Usage;
use foreman_secrets::Where;

/// Calls by `role`, `model`, `status` (counter).
pub const LLM_CALLS_TOTAL: &str = "foreman_llm_calls_total";
/// Tokens by `direction` (`input`, `output`, `cache_read`, `cache_write`) and `model`
/// (counter).
pub const LLM_TOKENS_TOTAL: &str = "foreman_llm_tokens_total";
/// Call latency by `role`, `model` (histogram, seconds).
pub const LLM_DURATION_SECONDS: &str = "foreman_llm_duration_seconds";
/// Cost by `model`, in US dollars (a counter in the contract). Fractional dollars do not fit the
/// facade's integer counters, so it is recorded through a gauge handle that only ever increases;
/// the API's exposition (`foreman_api::metrics::conform`) declares the family a `counter`.
pub const COST_USD_TOTAL: &str = "foreman_cost_usd_total";
/// Retries by `role` (counter).
pub const RETRIES_TOTAL: &str = "foreman_retries_total";
/// Provider rate-limit answers (HTTP 429) by `provider` (counter).
pub const RATE_LIMITS_TOTAL: &str = "foreman_rate_limits_total";
/// Secrets redacted before text reached a model (or refused at a commit), recorded by `where`
/// (counter; the labels are [`Where`]: `system`, `message`, `tool_input`, `tool_result` from
/// this crate's egress scan, `tool_output`, `file`, `diff`, `commit` from the agent and the
/// commit gate). The contract gives the family no labels: the API exposes the sum under this
/// name and the series by `where` as `foreman_secrets_detected_by_where_total`.
pub const SECRETS_DETECTED_TOTAL: &str = foreman_secrets::SECRETS_DETECTED_TOTAL;

/// Describes the metrics (units and help text) to the installed recorder.
pub fn describe() {
    metrics::describe_counter!(LLM_CALLS_TOTAL, "Total LLM calls");
    metrics::describe_counter!(LLM_TOKENS_TOTAL, "Total tokens (input/output)");
    metrics::describe_histogram!(
        LLM_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "LLM call latency"
    );
    metrics::describe_counter!(COST_USD_TOTAL, "Total cost by model");
    metrics::describe_counter!(RETRIES_TOTAL, "Retry counts by pipeline role");
    metrics::describe_counter!(RATE_LIMITS_TOTAL, "Rate limit hits by provider");
    metrics::describe_counter!(
        SECRETS_DETECTED_TOTAL,
        "Secrets redacted before reaching a model, by where they were found"
    );
}

/// One attempt's metrics.
pub(crate) fn record_attempt(
    role: &str,
    model: &str,
    status: &str,
    duration: Duration,
    usage: &Usage,
    cost: Micros,
) {
    metrics::counter!(LLM_CALLS_TOTAL, "role" => role.to_owned(), "model" => model.to_owned(), "status" => status.to_owned())
        .increment(1);
    metrics::histogram!(LLM_DURATION_SECONDS, "role" => role.to_owned(), "model" => model.to_owned())
        .record(duration.as_secs_f64());
    for (direction, n) in [
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_tokens),
        ("cache_write", usage.cache_write_tokens),
    ] {
        if n > 0 {
            metrics::counter!(LLM_TOKENS_TOTAL, "direction" => direction, "model" => model.to_owned())
                .increment(n);
        }
    }
    if cost > Micros::ZERO {
        metrics::gauge!(COST_USD_TOTAL, "model" => model.to_owned()).increment(cost.to_usd());
    }
}

pub(crate) fn record_retry(role: &str) {
    metrics::counter!(RETRIES_TOTAL, "role" => role.to_owned()).increment(1);
}

/// Counts `n` secrets found in `site`.
pub fn record_secrets(site: Where, n: u64) {
    if n > 0 {
        metrics::counter!(SECRETS_DETECTED_TOTAL, "where" => site.as_str()).increment(n);
    }
}

pub(crate) fn record_rate_limit(provider: &str) {
    metrics::counter!(RATE_LIMITS_TOTAL, "provider" => provider.to_owned()).increment(1);
}
