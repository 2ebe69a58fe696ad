//! Assembling the LLM stack from configuration: one adapter per provider the `[models]` table
//! uses, each wrapped in a [`MeteredProvider`] with its own rate limiter and circuit breaker,
//! behind one [`LlmRouter`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use foreman_domain::llm::LlmProvider;
use foreman_domain::{BudgetLimits, CostLedger, EventLog};
use serde::Deserialize;

use crate::anthropic::AnthropicConfig;
#[cfg(feature = "anthropic")]
use crate::anthropic::AnthropicProvider;
use crate::audit::{AuditSink, MemoryAuditSink, Redactor};
use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::metered::MeteredProvider;
#[cfg(feature = "openai")]
use crate::openai::OpenAiProvider;
use crate::openai::{MaxTokensField, OpenAiConfig};
use crate::pricing::{PricingConfig, PricingTable};
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::retry::RetryPolicy;
use crate::router::{LlmRouter, ModelRouter};
use crate::scripted::{Script, ScriptError, ScriptedProvider};
use crate::secret::Secret;

/// Settings of an OpenAI-compatible section; anything left out comes from the preset of the
/// section's name (`openai`, `openrouter`, `local`; other names start from `openai` with no
/// key required).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiSection {
    /// API key.
    pub api_key: Option<Secret>,
    /// Environment variable holding the key.
    pub api_key_env: Option<String>,
    /// Whether a key is required.
    pub require_api_key: Option<bool>,
    /// Base URL including the version path.
    pub base_url: Option<String>,
    /// Whole-call timeout.
    #[serde(with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Connect timeout.
    #[serde(with = "opt_duration")]
    pub connect_timeout: Option<Duration>,
    /// Which field carries the output limit.
    pub max_tokens_field: Option<MaxTokensField>,
    /// Extra headers.
    pub headers: Option<BTreeMap<String, String>>,
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "crate::wire::duration_ms")] Duration);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

impl OpenAiSection {
    /// The full configuration for provider `name`.
    #[must_use]
    pub fn resolve(&self, name: &str) -> OpenAiConfig {
        let mut c = OpenAiConfig::preset(name).unwrap_or_else(|| OpenAiConfig {
            name: name.to_owned(),
            require_api_key: false,
            api_key_env: format!("{}_API_KEY", name.to_ascii_uppercase().replace('-', "_")),
            ..OpenAiConfig::openai()
        });
        if let Some(v) = &self.api_key {
            c.api_key = v.clone();
        }
        if let Some(v) = &self.api_key_env {
            c.api_key_env.clone_from(v);
        }
        if let Some(v) = self.require_api_key {
            c.require_api_key = v;
        }
        if let Some(v) = &self.base_url {
            c.base_url.clone_from(v);
        }
        if let Some(v) = self.timeout {
            c.timeout = v;
        }
        if let Some(v) = self.connect_timeout {
            c.connect_timeout = v;
        }
        if let Some(v) = self.max_tokens_field {
            c.max_tokens_field = v;
        }
        if let Some(v) = &self.headers {
            c.headers.clone_from(v);
        }
        c
    }
}

/// The scripted provider's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptedSection {
    /// Script file; the shipped demo script when unset.
    pub script: Option<PathBuf>,
}

/// The `[llm]` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Anthropic.
    pub anthropic: AnthropicConfig,
    /// OpenAI-compatible providers by name (`openai`, `openrouter`, `local`, or any other name
    /// for another compatible server).
    pub openai_compatible: BTreeMap<String, OpenAiSection>,
    /// The scripted provider.
    pub scripted: ScriptedSection,
    /// Retry policy for every provider.
    pub retry: RetryPolicy,
    /// Circuit breaker for every provider.
    pub circuit_breaker: BreakerConfig,
    /// Largest request or response body kept for audit, in bytes.
    pub audit_max_bytes: usize,
    /// How many calls' audit bodies are kept in memory.
    pub audit_capacity: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            anthropic: AnthropicConfig::default(),
            openai_compatible: BTreeMap::new(),
            scripted: ScriptedSection::default(),
            retry: RetryPolicy::default(),
            circuit_breaker: BreakerConfig::default(),
            audit_max_bytes: 64 * 1024,
            audit_capacity: 1_000,
        }
    }
}

impl LlmConfig {
    /// The settings of the config crate's simple `[llm]` form: `api_key` and `base_url` apply
    /// to the default `provider`, `script` to the scripted provider. Empty values are ignored.
    #[must_use]
    pub fn from_simple(provider: &str, api_key: &str, base_url: &str, script: &str) -> Self {
        let mut c = Self::default();
        if !script.is_empty() {
            c.scripted.script = Some(PathBuf::from(script));
        }
        match provider {
            "anthropic" => {
                if !api_key.is_empty() {
                    c.anthropic.api_key = Secret::new(api_key);
                }
                if !base_url.is_empty() {
                    base_url.clone_into(&mut c.anthropic.base_url);
                }
            }
            "scripted" | "" => {}
            other => {
                let section = OpenAiSection {
                    api_key: (!api_key.is_empty()).then(|| Secret::new(api_key)),
                    base_url: (!base_url.is_empty()).then(|| base_url.to_owned()),
                    ..OpenAiSection::default()
                };
                c.openai_compatible.insert(other.to_owned(), section);
            }
        }
        c
    }
}

/// A provider could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// An HTTP adapter's configuration is wrong.
    #[error(transparent)]
    Provider(#[from] crate::SetupError),
    /// The scripted provider's script is wrong.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The model table names something that cannot be routed.
    #[error("{0}")]
    Routing(String),
    /// The model table names a provider whose adapter this build leaves out.
    #[error("provider {provider} is not compiled in; build with feature {feature}")]
    NotCompiled {
        /// The provider the model table names.
        provider: String,
        /// The cargo feature of `foreman-llm` that brings its adapter in.
        feature: &'static str,
    },
}

impl StackError {
    /// A transport-neutral code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Provider(e) => e.code(),
            Self::Script(e) => e.code(),
            Self::Routing(_) => "routing",
            Self::NotCompiled { .. } => "not_compiled",
        }
    }
}

/// Everything the stack needs from the rest of the configuration and from storage.
#[derive(Clone)]
pub struct StackInputs<'a> {
    /// `[llm]`.
    pub llm: &'a LlmConfig,
    /// `[models]`.
    pub models: &'a ModelRouter,
    /// `[rate_limit]`.
    pub rate_limit: &'a RateLimitConfig,
    /// `[cost]` prices.
    pub pricing: &'a PricingConfig,
    /// `[cost]` budgets.
    pub limits: BudgetLimits,
    /// The cost ledger.
    pub ledger: Arc<dyn CostLedger>,
    /// The event log.
    pub events: Arc<dyn EventLog>,
    /// The secret scanner applied to every outgoing request and audit body (the default rules
    /// plus `runner.secret_patterns`, say); `None`: the default rules.
    pub secret_scanner: Option<Arc<foreman_secrets::SecretScanner>>,
}

impl std::fmt::Debug for StackInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackInputs")
            .field("models", self.models)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The assembled stack.
#[derive(Debug)]
pub struct LlmStack {
    /// Route every pipeline call through this.
    pub router: Arc<LlmRouter>,
    /// The metered provider of each configured provider, by name.
    pub providers: HashMap<String, Arc<MeteredProvider>>,
    /// Audit bodies of recent calls.
    pub audit: Arc<MemoryAuditSink>,
}

/// The error for a provider whose adapter's feature is off.
#[cfg(not(all(feature = "anthropic", feature = "openai")))]
fn not_compiled(provider: &str, feature: &'static str) -> StackError {
    StackError::NotCompiled {
        provider: provider.to_owned(),
        feature,
    }
}

/// Builds the adapters the model table uses, meters them and routes between them. Providers
/// the table does not name are not built, so their keys need not be set.
///
/// # Errors
/// [`StackError`] naming the provider, script or model that is wrong.
pub fn build_stack(inputs: &StackInputs<'_>) -> Result<LlmStack, StackError> {
    let cfg = inputs.llm;
    let pricing = Arc::new(PricingTable::from_config(inputs.pricing));
    let audit = Arc::new(MemoryAuditSink::new(cfg.audit_capacity));
    #[cfg_attr(
        not(any(feature = "anthropic", feature = "openai")),
        expect(unused_mut, reason = "only the HTTP adapters add their keys")
    )]
    let mut secrets: Vec<Secret> = Vec::new();
    let mut adapters: Vec<(String, Arc<dyn LlmProvider>)> = Vec::new();
    for name in inputs.models.providers() {
        let adapter: Arc<dyn LlmProvider> = match name.as_str() {
            #[cfg(feature = "anthropic")]
            "anthropic" => {
                let p = AnthropicProvider::new(cfg.anthropic.clone())?;
                secrets.push(p.api_key().clone());
                Arc::new(p)
            }
            #[cfg(not(feature = "anthropic"))]
            "anthropic" => return Err(not_compiled(&name, "anthropic")),
            "scripted" => {
                let script = match &cfg.scripted.script {
                    Some(path) => Script::load(path)?,
                    None => Script::demo(),
                };
                Arc::new(ScriptedProvider::new(script))
            }
            other => {
                let section = cfg.openai_compatible.get(other);
                if section.is_none() && OpenAiConfig::preset(other).is_none() {
                    return Err(StackError::Routing(format!(
                        "[models] uses provider {other:?}, which has no [llm.openai_compatible.{other}] section"
                    )));
                }
                #[cfg(feature = "openai")]
                {
                    let p =
                        OpenAiProvider::new(section.cloned().unwrap_or_default().resolve(other))?;
                    if let Some(k) = p.api_key() {
                        secrets.push(k.clone());
                    }
                    Arc::new(p)
                }
                #[cfg(not(feature = "openai"))]
                return Err(not_compiled(other, "openai"));
            }
        };
        adapters.push((name, adapter));
    }
    let mut redactor = Redactor::default().with_secrets(secrets.iter());
    if let Some(scanner) = &inputs.secret_scanner {
        redactor = redactor.with_scanner(scanner.clone());
    }
    let mut providers = HashMap::new();
    let mut routed: HashMap<String, Arc<dyn LlmProvider>> = HashMap::new();
    for (name, adapter) in adapters {
        let metered = Arc::new(
            MeteredProvider::builder(adapter, inputs.ledger.clone(), inputs.events.clone())
                .pricing(pricing.clone())
                .limits(inputs.limits)
                .retry(cfg.retry.clone())
                .rate_limiter(Arc::new(RateLimiter::new(
                    inputs.rate_limit.limits_for(&name),
                )))
                .breaker(Arc::new(CircuitBreaker::new(cfg.circuit_breaker)))
                .audit(audit.clone() as Arc<dyn AuditSink>, cfg.audit_max_bytes)
                .redactor(redactor.clone())
                .build(),
        );
        routed.insert(name.clone(), metered.clone());
        providers.insert(name, metered);
    }
    let router = LlmRouter::new(inputs.models.clone(), routed)
        .map_err(|e| StackError::Routing(e.to_string()))?;
    Ok(LlmStack {
        router: Arc::new(router),
        providers,
        audit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs only in a build without a provider (`cargo test -p foreman-llm --lib
    /// --no-default-features`); in the default build the same table builds (`tests/it/stack.rs`).
    #[cfg(not(all(feature = "anthropic", feature = "openai")))]
    #[test]
    fn a_provider_left_out_of_the_build_is_refused_with_its_feature() {
        let (spec, provider) = if cfg!(feature = "anthropic") {
            ("openai:gpt-4.1", "openai")
        } else {
            ("anthropic:claude-haiku-4-5", "anthropic")
        };
        let models: ModelRouter = serde_json::from_value(
            serde_json::json!({"default": "scripted:scripted", "planner": spec}),
        )
        .unwrap();
        let store = foreman_testkit::MemoryStore::new();
        let err = build_stack(&StackInputs {
            llm: &LlmConfig::default(),
            models: &models,
            rate_limit: &RateLimitConfig::default(),
            pricing: &PricingConfig::default(),
            limits: BudgetLimits::default(),
            ledger: Arc::new(store.clone()),
            events: Arc::new(store),
            secret_scanner: None,
        })
        .unwrap_err();
        assert_eq!(err.code(), "not_compiled");
        assert_eq!(
            err.to_string(),
            format!("provider {provider} is not compiled in; build with feature {provider}")
        );
    }

    #[test]
    fn sections_start_from_their_preset() {
        let s: OpenAiSection = serde_json::from_value(
            serde_json::json!({"base_url": "http://10.0.0.5:8000/v1", "timeout": "30s"}),
        )
        .unwrap();
        let local = s.resolve("local");
        assert_eq!(local.name, "local");
        assert!(!local.require_api_key);
        assert_eq!(local.max_tokens_field, MaxTokensField::MaxTokens);
        assert_eq!(local.base_url, "http://10.0.0.5:8000/v1");
        assert_eq!(local.timeout, Duration::from_secs(30));
        let vllm = s.resolve("vllm");
        assert_eq!(vllm.name, "vllm");
        assert_eq!(vllm.api_key_env, "VLLM_API_KEY");
        assert!(!vllm.require_api_key);
        let openai = OpenAiSection::default().resolve("openai");
        assert!(openai.require_api_key);
        assert_eq!(openai.base_url, "https://api.openai.com/v1");
    }

    #[test]
    fn simple_form_applies_to_the_default_provider() {
        let c = LlmConfig::from_simple("local", "", "http://127.0.0.1:8080/v1", "demo.json");
        let local = c.openai_compatible["local"].resolve("local");
        assert_eq!(local.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(
            c.scripted.script.as_deref(),
            Some(std::path::Path::new("demo.json"))
        );
        let c = LlmConfig::from_simple("anthropic", "sk-ant-k", "", "");
        assert_eq!(c.anthropic.api_key.expose(), "sk-ant-k");
        assert_eq!(c.anthropic.base_url, "https://api.anthropic.com");
        assert!(c.openai_compatible.is_empty());
    }

    #[test]
    fn llm_config_deserializes_with_defaults() {
        let c: LlmConfig = serde_json::from_value(serde_json::json!({
            "anthropic": {"api_key": "sk-ant-x", "timeout": 120000},
            "openai_compatible": {"openrouter": {"headers": {"HTTP-Referer": "https://example.invalid"}}},
            "retry": {"max_attempts": 2},
            "circuit_breaker": {"failure_threshold": 3, "cool_down": "10s"}
        }))
        .unwrap();
        assert_eq!(c.anthropic.timeout, Duration::from_secs(120));
        assert_eq!(c.anthropic.version, "2023-06-01");
        assert_eq!(c.retry.max_attempts, 2);
        assert_eq!(c.circuit_breaker.cool_down, Duration::from_secs(10));
        assert_eq!(c.audit_max_bytes, 65_536);
        let bad: Result<LlmConfig, _> = serde_json::from_value(serde_json::json!({"retyr": {}}));
        assert!(bad.unwrap_err().to_string().contains("retyr"));
    }
}
