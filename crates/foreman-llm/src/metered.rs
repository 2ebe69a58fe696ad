//! The metered wrapper: budget admission, pricing, retries, rate limits, circuit breaking,
//! `llm_calls` records, events, metrics and audit bodies around any provider.
//!
//! One attempt goes: circuit breaker check → rate-limit wait → reserve the worst-case cost
//! (estimated input + `max_tokens` at the model's price) against the task, ticket, daily and
//! monthly budgets in one ledger transaction → call → settle the reservation with the recorded
//! call in one transaction (the spend recorded as the hold goes: the actual cost; for a failure,
//! zero unless the provider had reported output tokens before failing, then that output and
//! the estimated input; a reservation already released with its lease leaves the call to be
//! recorded alone) → metrics, events, audit. Retryable failures go round again after the
//! policy's backoff.
//!
//! Before any of it, every request is scanned for secrets ([`redact_request`]): the system
//! prompt, the text of every message, the string values of every tool call's input and every
//! tool result. What the [`Redactor`] finds is replaced before the request goes anywhere (the
//! provider, the audit body, the token estimate), counted in `foreman_secrets_detected_total`
//! by `where`, and reported in a `secrets_detected` event. Every role's call passes here, so
//! this is the one place no text leaves without being scanned.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use foreman_domain::llm::{
    LlmError, LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink, Usage,
};
use foreman_domain::{
    BudgetExceeded, BudgetLimits, BudgetScope, CostLedger, EventLog, EventType, LlmCallStatus,
    Micros, NewEvent, NewLlmCall, Reservation, ReservationRequest, StoreError,
};
use foreman_secrets::Where;
use serde_json::{Value, json};

use crate::audit::{AuditRecord, AuditSink, Redactor};
use crate::breaker::{BreakerConfig, CircuitBreaker, Transition};
use crate::pricing::{ModelPrice, PricingTable};
use crate::ratelimit::RateLimiter;
use crate::retry::RetryPolicy;

/// Local rate-limit waits at least this long are reported as `rate_limit_backoff` events.
const REPORTED_WAIT: Duration = Duration::from_millis(500);

/// A conservative estimate of a request's input tokens (about three bytes per token, plus
/// per-message framing), used for budget reservations and the token bucket.
#[must_use]
pub fn estimate_input_tokens(req: &LlmRequest) -> u64 {
    use foreman_domain::llm::ContentBlock;
    let mut bytes = req.system.as_deref().map_or(0, str::len);
    for m in &req.messages {
        bytes += 16;
        for b in &m.content {
            bytes += match b {
                ContentBlock::Text { text } => text.len(),
                ContentBlock::ToolUse { name, input, .. } => {
                    name.len() + input.to_string().len() + 32
                }
                ContentBlock::ToolResult { content, .. } => content.len() + 32,
                ContentBlock::Thinking { thinking, .. } => thinking.len(),
            };
        }
    }
    for t in &req.tools {
        bytes += t.name.len() + t.description.len() + t.input_schema.to_string().len() + 32;
    }
    (bytes as u64).div_ceil(3) + 16
}

/// Secrets found in one request, by where: system prompt, message text, tool-call input, tool
/// result.
pub type EgressCounts = [(Where, u64); 4];

/// `req` with every secret `redactor` finds replaced, borrowed when there was none, and how
/// many were found where (`system`, `message`, `tool_input`, `tool_result`). Thinking blocks
/// are left as they are: they are the model's own output and carry a signature the provider
/// checks.
#[must_use]
pub fn redact_request<'a>(
    redactor: &Redactor,
    req: &'a LlmRequest,
) -> (Cow<'a, LlmRequest>, EgressCounts) {
    use foreman_domain::llm::ContentBlock;
    let mut counts: EgressCounts = [
        (Where::System, 0),
        (Where::Message, 0),
        (Where::ToolInput, 0),
        (Where::ToolResult, 0),
    ];
    let mut out: Option<LlmRequest> = None;
    if let Some(system) = &req.system {
        let (clean, n) = redactor.redact_counted(system);
        if n > 0 {
            counts[0].1 += n as u64;
            out.get_or_insert_with(|| req.clone()).system = Some(clean.into_owned());
        }
    }
    for (mi, m) in req.messages.iter().enumerate() {
        for (bi, b) in m.content.iter().enumerate() {
            let replaced = match b {
                ContentBlock::Text { text } => {
                    let (clean, n) = redactor.redact_counted(text);
                    (n > 0).then(|| {
                        counts[1].1 += n as u64;
                        ContentBlock::Text {
                            text: clean.into_owned(),
                        }
                    })
                }
                ContentBlock::ToolUse { id, name, input } => {
                    let mut n = 0;
                    redact_json(redactor, input, &mut n).map(|input| {
                        counts[2].1 += n as u64;
                        ContentBlock::ToolUse {
                            id: id.clone(),
                            name: name.clone(),
                            input,
                        }
                    })
                }
                ContentBlock::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                } => {
                    let (clean, n) = redactor.redact_counted(content);
                    (n > 0).then(|| {
                        counts[3].1 += n as u64;
                        ContentBlock::ToolResult {
                            tool_use_id: tool_use_id.clone(),
                            content: clean.into_owned(),
                            is_error: *is_error,
                        }
                    })
                }
                ContentBlock::Thinking { .. } => None,
            };
            if let Some(block) = replaced {
                out.get_or_insert_with(|| req.clone()).messages[mi].content[bi] = block;
            }
        }
    }
    let req = out.map_or(Cow::Borrowed(req), Cow::Owned);
    (req, counts)
}

/// `v` with secrets in its string values replaced (`None` when there were none); `n` counts
/// them.
fn redact_json(redactor: &Redactor, v: &Value, n: &mut usize) -> Option<Value> {
    match v {
        Value::String(s) => {
            let (clean, k) = redactor.redact_counted(s);
            (k > 0).then(|| {
                *n += k;
                Value::String(clean.into_owned())
            })
        }
        Value::Array(items) => {
            let mut out: Option<Vec<Value>> = None;
            for (i, x) in items.iter().enumerate() {
                if let Some(y) = redact_json(redactor, x, n) {
                    out.get_or_insert_with(|| items.clone())[i] = y;
                }
            }
            out.map(Value::Array)
        }
        Value::Object(map) => {
            let mut out: Option<serde_json::Map<String, Value>> = None;
            for (k, x) in map {
                if let Some(y) = redact_json(redactor, x, n) {
                    out.get_or_insert_with(|| map.clone()).insert(k.clone(), y);
                }
            }
            out.map(Value::Object)
        }
        _ => None,
    }
}

/// Passes progress on and remembers what the provider reported of the call's usage, so a call
/// that fails after the provider started billing it is priced by what was reported.
struct Observed<'a> {
    inner: &'a dyn ProgressSink,
    output_tokens: std::sync::atomic::AtomicU64,
    reported: std::sync::atomic::AtomicBool,
}

impl<'a> Observed<'a> {
    fn new(inner: &'a dyn ProgressSink) -> Self {
        Self {
            inner,
            output_tokens: std::sync::atomic::AtomicU64::new(0),
            reported: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The usage of a failed call: none unless the provider reported output tokens before it
    /// failed; then those, and the request's input (the estimate: a provider that streamed
    /// output had read, and bills, the whole input).
    fn usage_of_failure(&self, estimated_input: u64) -> Usage {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.reported.load(Relaxed) {
            return Usage::default();
        }
        Usage {
            input_tokens: estimated_input,
            output_tokens: self.output_tokens.load(Relaxed),
            ..Usage::default()
        }
    }
}

impl ProgressSink for Observed<'_> {
    fn report(&self, progress: foreman_domain::llm::LlmProgress) {
        use std::sync::atomic::Ordering::Relaxed;
        if let foreman_domain::llm::LlmProgress::OutputTokens(n) = &progress {
            self.output_tokens.fetch_max(*n, Relaxed);
            self.reported.store(true, Relaxed);
        }
        self.inner.report(progress);
    }
}

/// Wraps a provider with everything that must happen around each call. Cheap to share:
/// hold it as `Arc<dyn LlmProvider>`.
pub struct MeteredProvider {
    inner: Arc<dyn LlmProvider>,
    ledger: Arc<dyn CostLedger>,
    events: Arc<dyn EventLog>,
    pricing: Arc<PricingTable>,
    limits: BudgetLimits,
    retry: RetryPolicy,
    limiter: Arc<RateLimiter>,
    breaker: Arc<CircuitBreaker>,
    audit: Option<Arc<dyn AuditSink>>,
    redactor: Redactor,
    audit_max_bytes: usize,
    alerted: Mutex<HashSet<(EventType, BudgetScope, String)>>,
    unpriced: Mutex<HashSet<String>>,
}

impl fmt::Debug for MeteredProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredProvider")
            .field("provider", &self.inner.name())
            .field("limits", &self.limits)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker.state())
            .finish_non_exhaustive()
    }
}

/// Builds a [`MeteredProvider`].
pub struct MeteredProviderBuilder {
    inner: Arc<dyn LlmProvider>,
    ledger: Arc<dyn CostLedger>,
    events: Arc<dyn EventLog>,
    pricing: Arc<PricingTable>,
    limits: BudgetLimits,
    retry: RetryPolicy,
    limiter: Option<Arc<RateLimiter>>,
    breaker: Option<Arc<CircuitBreaker>>,
    audit: Option<Arc<dyn AuditSink>>,
    redactor: Redactor,
    audit_max_bytes: usize,
}

impl fmt::Debug for MeteredProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredProviderBuilder")
            .field("provider", &self.inner.name())
            .finish_non_exhaustive()
    }
}

impl MeteredProviderBuilder {
    /// The price table (default: the built-in one).
    #[must_use]
    pub fn pricing(mut self, pricing: Arc<PricingTable>) -> Self {
        self.pricing = pricing;
        self
    }

    /// Budget limits (default: unlimited, alerts off).
    #[must_use]
    pub fn limits(mut self, limits: BudgetLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Retry policy (default: [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The provider's shared rate limiter (default: unlimited).
    #[must_use]
    pub fn rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The provider's shared circuit breaker (default: a new one with default settings).
    #[must_use]
    pub fn breaker(mut self, breaker: Arc<CircuitBreaker>) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Stores request and response bodies of every attempt, capped at `max_bytes` each.
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>, max_bytes: usize) -> Self {
        self.audit = Some(sink);
        self.audit_max_bytes = max_bytes;
        self
    }

    /// The redactor applied to every outgoing request and to audit bodies (add the configured
    /// API keys to it, and the configured scanner with [`Redactor::with_scanner`]).
    #[must_use]
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Builds the wrapper.
    #[must_use]
    pub fn build(self) -> MeteredProvider {
        MeteredProvider {
            inner: self.inner,
            ledger: self.ledger,
            events: self.events,
            pricing: self.pricing,
            limits: self.limits,
            retry: self.retry,
            limiter: self
                .limiter
                .unwrap_or_else(|| Arc::new(RateLimiter::unlimited())),
            breaker: self
                .breaker
                .unwrap_or_else(|| Arc::new(CircuitBreaker::new(BreakerConfig::default()))),
            audit: self.audit,
            redactor: self.redactor,
            audit_max_bytes: self.audit_max_bytes,
            alerted: Mutex::new(HashSet::new()),
            unpriced: Mutex::new(HashSet::new()),
        }
    }
}

/// What one attempt is about, for records and events.
struct Attempt<'a> {
    req: &'a LlmRequest,
    role: &'a str,
    runner: &'a str,
    number: u32,
}

impl MeteredProvider {
    /// Starts a builder around `inner`, recording to `ledger` and `events`.
    #[must_use]
    pub fn builder(
        inner: Arc<dyn LlmProvider>,
        ledger: Arc<dyn CostLedger>,
        events: Arc<dyn EventLog>,
    ) -> MeteredProviderBuilder {
        MeteredProviderBuilder {
            inner,
            ledger,
            events,
            pricing: Arc::new(PricingTable::builtin()),
            limits: BudgetLimits::default(),
            retry: RetryPolicy::default(),
            limiter: None,
            breaker: None,
            audit: None,
            redactor: Redactor::default(),
            audit_max_bytes: 64 * 1024,
        }
    }

    /// The wrapped provider.
    #[must_use]
    pub fn inner(&self) -> &Arc<dyn LlmProvider> {
        &self.inner
    }

    /// The provider's circuit breaker.
    #[must_use]
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    /// The provider's rate limiter.
    #[must_use]
    pub fn rate_limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// The budget limits applied.
    #[must_use]
    pub fn limits(&self) -> BudgetLimits {
        self.limits
    }

    /// The redactor applied to outgoing requests and audit bodies.
    #[must_use]
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Counts and reports the secrets redacted from a request.
    async fn report_secrets(&self, req: &LlmRequest, role: &str, counts: &EgressCounts) {
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return;
        }
        let mut by_where = serde_json::Map::new();
        for &(site, n) in counts {
            crate::metrics::record_secrets(site, n);
            if n > 0 {
                by_where.insert(site.as_str().to_owned(), json!(n));
            }
        }
        let provider = self.inner.name();
        tracing::warn!(
            count = total,
            provider,
            role,
            "secrets redacted from an llm request"
        );
        self.emit(
            req,
            NewEvent::new(
                EventType::SecretsDetected,
                format!("{total} secret(s) redacted from a {role} request to {provider}"),
            )
            .details(json!({
                "count": total,
                "source": "llm_request",
                "role": role,
                "provider": provider,
                "where": by_where,
            })),
        )
        .await;
    }

    async fn emit(&self, req: &LlmRequest, event: NewEvent) {
        let mut event = event;
        event.ticket_id.clone_from(&req.context.ticket_id);
        event.task_id.clone_from(&req.context.task_id);
        let kind = event.event_type;
        if let Err(e) = self.events.append(event).await {
            tracing::warn!(event_type = %kind, error = %e, "cannot append llm event");
        }
    }

    /// The model's price, emitting `unknown_model_pricing` the first time a model is unpriced.
    async fn price_of(&self, req: &LlmRequest) -> ModelPrice {
        let lookup = self.pricing.lookup(&req.model);
        if lookup.matched.is_none() {
            let first = self
                .unpriced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(req.model.clone());
            if first {
                tracing::warn!(model = %req.model, provider = self.inner.name(), "model has no price, using the fallback price");
                let fb = self.pricing.fallback();
                self.emit(
                    req,
                    NewEvent::new(
                        EventType::UnknownModelPricing,
                        format!("no price for model {}, using the fallback price", req.model),
                    )
                    .details(json!({
                        "provider": self.inner.name(),
                        "model": req.model,
                        "pricing_version": self.pricing.version(),
                        "fallback_usd_per_mtok": {"input": usd(fb.input), "output": usd(fb.output)},
                    })),
                )
                .await;
            }
        }
        lookup.price
    }

    /// Emits `event_type` for `(scope, period)` unless it was already emitted.
    async fn once_per_period(
        &self,
        req: &LlmRequest,
        event_type: EventType,
        scope: BudgetScope,
        at: DateTime<Utc>,
        message: String,
        details: Value,
    ) {
        let Some(period) = period_key(req, scope, at) else {
            return;
        };
        let first = self
            .alerted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((event_type, scope, period.clone()));
        if first {
            let mut details = details;
            details["period"] = json!(period);
            self.emit(req, NewEvent::new(event_type, message).details(details))
                .await;
        }
    }

    /// Alerts after a settled call: `cost_alert` past the threshold, `cost_exceeded` at the
    /// limit, each once per budget period.
    async fn check_thresholds(
        &self,
        req: &LlmRequest,
        reservation: &Reservation,
        cost: Micros,
        at: DateTime<Utc>,
    ) {
        for &(scope, committed) in &reservation.committed {
            let Some(limit) = limit_of(&self.limits, scope) else {
                continue;
            };
            if limit <= Micros::ZERO {
                continue;
            }
            let spent = committed - reservation.amount + cost;
            let details = json!({
                "scope": scope.as_str(),
                "limit_usd": limit.to_usd(),
                "spent_usd": spent.to_usd(),
                "alert_threshold_pct": self.limits.alert_threshold_pct,
            });
            if spent >= limit {
                self.once_per_period(
                    req,
                    EventType::CostExceeded,
                    scope,
                    at,
                    format!("{scope} budget exhausted: {spent} of {limit}"),
                    details,
                )
                .await;
            } else if self.limits.alert_threshold_pct > 0
                && i128::from(spent.0) * 100
                    >= i128::from(limit.0) * i128::from(self.limits.alert_threshold_pct)
            {
                self.once_per_period(
                    req,
                    EventType::CostAlert,
                    scope,
                    at,
                    format!(
                        "{scope} budget at {}% of its limit: {spent} of {limit}",
                        i128::from(spent.0) * 100 / i128::from(limit.0)
                    ),
                    details,
                )
                .await;
            }
        }
    }

    fn call_row(&self, a: &Attempt<'_>, model: &str, duration: Duration) -> NewLlmCall {
        NewLlmCall {
            ticket_id: a.req.context.ticket_id.clone(),
            task_id: a.req.context.task_id.clone(),
            role: a.role.to_owned(),
            provider: self.inner.name().to_owned(),
            model: model.to_owned(),
            runner: a.runner.to_owned(),
            attempt: i32::try_from(a.number).unwrap_or(i32::MAX),
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            prompt_version: a.req.context.prompt_version.clone(),
            ..NewLlmCall::default()
        }
    }

    async fn store_audit(
        &self,
        a: &Attempt<'_>,
        call_id: foreman_domain::LlmCallId,
        response: Option<&LlmResponse>,
        error: Option<&LlmError>,
    ) {
        let Some(sink) = &self.audit else {
            return;
        };
        let request = serde_json::to_string(a.req).unwrap_or_default();
        let (request, cut_req) = self.redactor.redact_capped(&request, self.audit_max_bytes);
        let (response, cut_resp) = match response {
            Some(r) => {
                let (s, cut) = self.redactor.redact_capped(
                    &serde_json::to_string(r).unwrap_or_default(),
                    self.audit_max_bytes,
                );
                (Some(s), cut)
            }
            None => (None, false),
        };
        sink.store(AuditRecord {
            call_id,
            provider: self.inner.name().to_owned(),
            model: a.req.model.clone(),
            role: a.role.to_owned(),
            request,
            response,
            error: error.map(|e| self.redactor.redact(&e.to_string())),
            truncated: cut_req || cut_resp,
            created_at: foreman_domain::now(),
        })
        .await;
    }

    /// Records the call and drops its reservation in one ledger transaction, so the spend is
    /// recorded before the hold goes. A reservation released meanwhile with its lease (a
    /// takeover, a restart, a cancel) leaves the call to be recorded on its own; when even that
    /// fails the hold is dropped (the error is logged: the spend is then missing).
    async fn settle(
        &self,
        reservation: &foreman_domain::ReservationId,
        row: NewLlmCall,
    ) -> Option<foreman_domain::LlmCall> {
        let again = row.clone();
        match self.ledger.settle(reservation, row).await {
            Ok(call) => return Some(call),
            Err(StoreError::NotFound { .. }) => {
                tracing::info!(%reservation, "reservation released with its lease; recording the call alone");
            }
            Err(e) => {
                tracing::error!(error = %e, %reservation, "cannot settle llm call; recording it alone");
            }
        }
        let recorded = self.ledger.record_llm_call(again).await;
        if let Err(e) = &recorded {
            tracing::error!(error = %e, %reservation, "cannot record llm call");
        }
        let _ = self.ledger.release(reservation).await;
        recorded.ok()
    }

    /// A refused reservation: record it, alert once, and fail the call.
    async fn refuse(
        &self,
        a: &Attempt<'_>,
        refusal: BudgetExceeded,
        at: DateTime<Utc>,
    ) -> LlmError {
        let err = LlmError::BudgetExceeded(refusal.clone());
        let mut row = self.call_row(a, &a.req.model, Duration::ZERO);
        row.status = Some(LlmCallStatus::BudgetExceeded);
        row.error = Some(err.to_string());
        if let Err(e) = self.ledger.record_llm_call(row).await {
            tracing::warn!(error = %e, "cannot record refused llm call");
        }
        crate::metrics::record_attempt(
            a.role,
            &a.req.model,
            LlmCallStatus::BudgetExceeded.as_str(),
            Duration::ZERO,
            &Usage::default(),
            Micros::ZERO,
        );
        tracing::warn!(scope = %refusal.scope, limit = %refusal.limit, spent = %refusal.spent, requested = %refusal.requested, "llm call refused by budget");
        self.once_per_period(
            a.req,
            EventType::CostExceeded,
            refusal.scope,
            at,
            format!("{} budget exhausted: {}", refusal.scope, refusal),
            json!({
                "scope": refusal.scope.as_str(),
                "limit_usd": refusal.limit.to_usd(),
                "spent_usd": refusal.spent.to_usd(),
                "requested_usd": refusal.requested.to_usd(),
            }),
        )
        .await;
        err
    }

    async fn breaker_transition(&self, req: &LlmRequest, t: Transition, cause: Option<&LlmError>) {
        let provider = self.inner.name();
        match t {
            Transition::None => {}
            Transition::Opened => {
                tracing::error!(provider, "provider circuit opened");
                self.emit(
                    req,
                    NewEvent::new(
                        EventType::ProviderDown,
                        format!("provider {provider} is down; calls fail fast for a cool-down"),
                    )
                    .details(json!({
                        "provider": provider,
                        "error": cause.map(LlmError::code),
                    })),
                )
                .await;
            }
            Transition::Recovered => {
                tracing::info!(provider, "provider circuit closed");
                self.emit(
                    req,
                    NewEvent::new(
                        EventType::ProviderRecovered,
                        format!("provider {provider} answers again"),
                    )
                    .details(json!({"provider": provider})),
                )
                .await;
            }
        }
    }

    /// One attempt. `Ok` is final; `Err` carries the error for the retry decision.
    async fn attempt(
        &self,
        a: &Attempt<'_>,
        price: ModelPrice,
        estimate: u64,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let provider = self.inner.name();
        if !self.breaker.allow() {
            return Err(LlmError::Unavailable {
                provider: provider.to_owned(),
            });
        }
        let want_tokens = estimate + u64::from(a.req.max_tokens);
        let waited = self.limiter.acquire(want_tokens).await;
        if waited >= REPORTED_WAIT {
            self.emit(
                a.req,
                NewEvent::new(
                    EventType::RateLimitBackoff,
                    format!(
                        "waited {}ms for the {provider} rate limit",
                        waited.as_millis()
                    ),
                )
                .details(
                    json!({"provider": provider, "wait_ms": waited.as_millis(), "source": "local"}),
                ),
            )
            .await;
        }
        let at = foreman_domain::now();
        let reservation = match self
            .ledger
            .reserve(&ReservationRequest {
                ticket_id: a.req.context.ticket_id.clone(),
                task_id: a.req.context.task_id.clone(),
                amount: price.worst_case(estimate, u64::from(a.req.max_tokens)),
                limits: self.limits,
                at,
            })
            .await
        {
            Ok(r) => r,
            Err(StoreError::BudgetExceeded(b)) => {
                self.breaker.on_abandoned();
                return Err(self.refuse(a, b, at).await);
            }
            Err(e) => {
                self.breaker.on_abandoned();
                tracing::error!(error = %e, "cost ledger failed; llm call not made");
                return Err(LlmError::Storage {
                    message: e.to_string(),
                });
            }
        };
        let started = Instant::now();
        let observed = Observed::new(progress);
        let result = self.inner.complete_with_progress(a.req, &observed).await;
        let duration = started.elapsed();
        match result {
            Ok(resp) => {
                let t = self.breaker.on_success();
                self.breaker_transition(a.req, t, None).await;
                self.limiter.settle_tokens(
                    want_tokens,
                    resp.usage.total_input() + resp.usage.output_tokens,
                );
                let cost = price.cost(&resp.usage);
                let mut row = self.call_row(a, &resp.model, duration);
                row.status = Some(LlmCallStatus::Success);
                row.tokens_input = to_i64(resp.usage.input_tokens);
                row.tokens_output = to_i64(resp.usage.output_tokens);
                row.cache_read_tokens = to_i64(resp.usage.cache_read_tokens);
                row.cache_write_tokens = to_i64(resp.usage.cache_write_tokens);
                row.cost = cost;
                row.request_id.clone_from(&resp.request_id);
                crate::metrics::record_attempt(
                    a.role,
                    &a.req.model,
                    LlmCallStatus::Success.as_str(),
                    duration,
                    &resp.usage,
                    cost,
                );
                if let Some(call) = self.settle(&reservation.id, row).await {
                    self.store_audit(a, call.id, Some(&resp), None).await;
                }
                self.check_thresholds(a.req, &reservation, cost, at).await;
                tracing::debug!(provider, model = %resp.model, role = a.role, attempt = a.number, cost = %cost, duration_ms = duration.as_millis(), "llm call succeeded");
                Ok(resp)
            }
            Err(err) => {
                let t = if err.is_outage() {
                    self.breaker.on_outage()
                } else {
                    self.breaker.on_success()
                };
                self.breaker_transition(a.req, t, Some(&err)).await;
                // a failure after the provider reported usage is billed: priced like a success
                let usage = observed.usage_of_failure(estimate);
                let cost = price.cost(&usage);
                self.limiter
                    .settle_tokens(want_tokens, usage.total_input() + usage.output_tokens);
                let status = err.call_status();
                let mut row = self.call_row(a, &a.req.model, duration);
                row.status = Some(status);
                row.error = Some(self.redactor.redact(&err.to_string()));
                row.tokens_input = to_i64(usage.input_tokens);
                row.tokens_output = to_i64(usage.output_tokens);
                row.cost = cost;
                crate::metrics::record_attempt(
                    a.role,
                    &a.req.model,
                    status.as_str(),
                    duration,
                    &usage,
                    cost,
                );
                if let Some(call) = self.settle(&reservation.id, row).await {
                    self.store_audit(a, call.id, None, Some(&err)).await;
                }
                if let LlmError::RateLimited { retry_after, .. } = &err {
                    crate::metrics::record_rate_limit(provider);
                    if let Some(ra) = retry_after {
                        self.limiter.pause_until(
                            tokio::time::Instant::now() + (*ra).min(self.retry.max_retry_after),
                        );
                    }
                    self.emit(
                        a.req,
                        NewEvent::new(
                            EventType::RateLimitHit,
                            format!("provider {provider} rate-limited the call"),
                        )
                        .details(json!({
                            "provider": provider,
                            "retry_after_ms": retry_after.map(|d| d.as_millis()),
                        })),
                    )
                    .await;
                }
                tracing::warn!(provider, model = %a.req.model, role = a.role, attempt = a.number, code = err.code(), error = %err, "llm call failed");
                self.emit(
                    a.req,
                    NewEvent::new(
                        EventType::LlmCallFailed,
                        format!("{} call to {provider} failed: {}", a.role, err.code()),
                    )
                    .details(json!({
                        "provider": provider,
                        "model": a.req.model,
                        "role": a.role,
                        "attempt": a.number,
                        "code": err.code(),
                        "error": self.redactor.redact(&err.to_string()),
                        "retryable": err.is_retryable(),
                    })),
                )
                .await;
                Err(err)
            }
        }
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn usd(micros_per_mtok: u64) -> f64 {
    Micros(to_i64(micros_per_mtok)).to_usd()
}

fn limit_of(limits: &BudgetLimits, scope: BudgetScope) -> Option<Micros> {
    match scope {
        BudgetScope::Task => limits.task,
        BudgetScope::Ticket => limits.ticket,
        BudgetScope::Daily => limits.daily,
        BudgetScope::Monthly => limits.monthly,
    }
}

/// The budget period a scope's alert belongs to.
fn period_key(req: &LlmRequest, scope: BudgetScope, at: DateTime<Utc>) -> Option<String> {
    match scope {
        BudgetScope::Task => req.context.task_id.as_ref().map(ToString::to_string),
        BudgetScope::Ticket => req.context.ticket_id.as_ref().map(ToString::to_string),
        BudgetScope::Daily => Some(at.date_naive().to_string()),
        BudgetScope::Monthly => Some(format!("{:04}-{:02}", at.year(), at.month())),
    }
}

#[async_trait]
impl LlmProvider for MeteredProvider {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let role = if request.context.role.is_empty() {
            "unknown"
        } else {
            request.context.role.as_str()
        };
        let runner = if request.context.runner.is_empty() {
            "builtin"
        } else {
            request.context.runner.as_str()
        };
        let (scrubbed, found) = redact_request(&self.redactor, request);
        let request: &LlmRequest = &scrubbed;
        self.report_secrets(request, role, &found).await;
        let price = self.price_of(request).await;
        let estimate = estimate_input_tokens(request);
        let mut number = 1;
        loop {
            let a = Attempt {
                req: request,
                role,
                runner,
                number,
            };
            match self.attempt(&a, price, estimate, progress).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let Some(delay) = self.retry.delay_after(number, &e) else {
                        return Err(e);
                    };
                    crate::metrics::record_retry(role);
                    if matches!(
                        e,
                        LlmError::RateLimited { .. } | LlmError::Overloaded { .. }
                    ) {
                        self.emit(
                            request,
                            NewEvent::new(
                                EventType::RateLimitBackoff,
                                format!(
                                    "backing off {}ms before retrying {}",
                                    delay.as_millis(),
                                    self.inner.name()
                                ),
                            )
                            .details(json!({
                                "provider": self.inner.name(),
                                "wait_ms": delay.as_millis(),
                                "attempt": number,
                                "source": "provider",
                            })),
                        )
                        .await;
                    }
                    tracing::info!(
                        provider = self.inner.name(),
                        role,
                        attempt = number,
                        delay_ms = delay.as_millis(),
                        code = e.code(),
                        "retrying llm call"
                    );
                    tokio::time::sleep(delay).await;
                    number += 1;
                }
            }
        }
    }
}
