//! Per-role model routing: each pipeline role goes to its own `provider:model`, with an
//! optional fallback chain tried when the provider is overloaded or down.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use foreman_domain::llm::{
    LlmError, LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The pipeline roles that call a model.
pub const ROLES: &[&str] = &[
    "planner",
    "implementer",
    "spec_reviewer",
    "quality_reviewer",
    "final_reviewer",
    "clarifier",
];

/// A model string that is not `provider:model`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid model {value:?}: expected \"provider:model\", e.g. \"anthropic:claude-sonnet-4-6\""
)]
pub struct ModelSpecError {
    /// What was given.
    pub value: String,
}

impl ModelSpecError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "invalid_model_spec"
    }
}

/// A `provider:model` string, split.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelSpec {
    /// Provider name (`anthropic`, `openai`, `openrouter`, `local`, `scripted`, ...).
    pub provider: String,
    /// The model name the provider knows (may itself contain `:` or `/`).
    pub model: String,
}

impl ModelSpec {
    /// Builds a spec.
    #[must_use]
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            model: model.into(),
        }
    }
}

impl FromStr for ModelSpec {
    type Err = ModelSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ModelSpecError {
            value: s.to_owned(),
        };
        let (p, m) = s.trim().split_once(':').ok_or_else(err)?;
        let valid_provider = !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid_provider || m.trim().is_empty() {
            return Err(err());
        }
        Ok(Self::new(p, m.trim()))
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The `[models]` configuration: a model per role, a default for roles not listed, and
/// fallback chains.
///
/// ```toml
/// [models]
/// default = "anthropic:claude-sonnet-4-6"
/// spec_reviewer = "anthropic:claude-haiku-4-5"
/// [models.fallbacks]
/// planner = ["openai:gpt-5", "openrouter:anthropic/claude-sonnet-4.5"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelRouter {
    /// The model for roles without their own entry.
    #[serde(default)]
    pub default: Option<ModelSpec>,
    /// Fallbacks per role, tried in order when the previous model's provider is overloaded or
    /// down. The `default` key applies to roles without their own chain.
    #[serde(default)]
    pub fallbacks: BTreeMap<String, Vec<ModelSpec>>,
    /// The model per role.
    #[serde(flatten)]
    pub roles: BTreeMap<String, ModelSpec>,
}

impl ModelRouter {
    /// A router from a plain role → `provider:model` map (the config crate's `[llm.models]`).
    /// A `default` key, if present, becomes the default model.
    ///
    /// # Errors
    /// The first value that is not `provider:model`.
    pub fn from_roles(roles: &BTreeMap<String, String>) -> Result<Self, ModelSpecError> {
        let mut r = Self::default();
        for (role, spec) in roles {
            let spec: ModelSpec = spec.parse()?;
            if role == "default" {
                r.default = Some(spec);
            } else {
                r.roles.insert(role.clone(), spec);
            }
        }
        Ok(r)
    }

    /// The same routing with every model served by `provider` instead (e.g. `scripted` for a
    /// demo without keys: `anthropic:claude-sonnet-4-6` becomes `scripted:claude-sonnet-4-6`,
    /// still priced as Sonnet). Fallbacks are dropped: they would point at the same provider.
    #[must_use]
    pub fn all_on(&self, provider: &str) -> Self {
        let move_spec = |s: &ModelSpec| ModelSpec::new(provider, s.model.clone());
        Self {
            default: self.default.as_ref().map(move_spec),
            fallbacks: BTreeMap::new(),
            roles: self
                .roles
                .iter()
                .map(|(k, v)| (k.clone(), move_spec(v)))
                .collect(),
        }
    }

    /// The models to try for `role`, in order.
    ///
    /// # Errors
    /// [`LlmError::NotConfigured`] when neither the role nor `default` has a model.
    pub fn chain(&self, role: &str) -> LlmResult<Vec<ModelSpec>> {
        let primary = self
            .roles
            .get(role)
            .or(self.default.as_ref())
            .ok_or_else(|| LlmError::NotConfigured {
                message: format!(
                    "no model for role {role:?}: set [models].{role} or [models].default"
                ),
            })?;
        let mut chain = vec![primary.clone()];
        let fallbacks = self
            .fallbacks
            .get(role)
            .or_else(|| self.fallbacks.get("default"))
            .map_or(&[][..], Vec::as_slice);
        for f in fallbacks {
            if !chain.contains(f) {
                chain.push(f.clone());
            }
        }
        Ok(chain)
    }

    /// Every model the configuration names.
    pub fn all_specs(&self) -> impl Iterator<Item = &ModelSpec> {
        self.default
            .iter()
            .chain(self.roles.values())
            .chain(self.fallbacks.values().flatten())
    }

    /// The provider names the configuration uses.
    #[must_use]
    pub fn providers(&self) -> Vec<String> {
        let mut v: Vec<String> = self.all_specs().map(|s| s.provider.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Routes each request to the model of its role (`request.context.role`), falling back along
/// the chain on outages. Requests whose `model` is already `provider:model` go there (with the
/// role's fallbacks behind it). Usually each provider in the map is a [`crate::MeteredProvider`].
pub struct LlmRouter {
    router: ModelRouter,
    providers: HashMap<String, Arc<dyn LlmProvider>>,
}

impl fmt::Debug for LlmRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.providers.keys().collect();
        names.sort();
        f.debug_struct("LlmRouter")
            .field("router", &self.router)
            .field("providers", &names)
            .finish()
    }
}

impl LlmRouter {
    /// Builds a router; every provider the configuration names must be in `providers`.
    ///
    /// # Errors
    /// [`LlmError::NotConfigured`] naming the first missing provider.
    pub fn new(
        router: ModelRouter,
        providers: HashMap<String, Arc<dyn LlmProvider>>,
    ) -> LlmResult<Self> {
        for spec in router.all_specs() {
            if !providers.contains_key(&spec.provider) {
                return Err(LlmError::NotConfigured {
                    message: format!(
                        "model {spec} names provider {:?}, which is not configured",
                        spec.provider
                    ),
                });
            }
        }
        Ok(Self { router, providers })
    }

    /// The routing configuration.
    #[must_use]
    pub fn router(&self) -> &ModelRouter {
        &self.router
    }

    fn chain_for(&self, req: &LlmRequest) -> LlmResult<Vec<ModelSpec>> {
        if req.model.is_empty() {
            return self.router.chain(&req.context.role);
        }
        let explicit: ModelSpec =
            req.model
                .parse()
                .map_err(|e: ModelSpecError| LlmError::InvalidRequest {
                    message: e.to_string(),
                })?;
        let mut chain = vec![explicit.clone()];
        if let Ok(rest) = self.router.chain(&req.context.role) {
            chain.extend(rest.into_iter().skip(1).filter(|s| *s != explicit));
        }
        Ok(chain)
    }
}

#[async_trait]
impl LlmProvider for LlmRouter {
    fn name(&self) -> &str {
        "router"
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let chain = self.chain_for(request)?;
        let mut last_err = None;
        for (i, spec) in chain.iter().enumerate() {
            let provider =
                self.providers
                    .get(&spec.provider)
                    .ok_or_else(|| LlmError::NotConfigured {
                        message: format!("provider {:?} is not configured", spec.provider),
                    })?;
            let mut req = request.clone();
            req.model.clone_from(&spec.model);
            match provider.complete_with_progress(&req, progress).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_outage() && i + 1 < chain.len() => {
                    tracing::warn!(role = %request.context.role, from = %spec, to = %chain[i + 1], code = e.code(), "falling back to the next model");
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| LlmError::NotConfigured {
            message: "empty model chain".to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_specs() {
        let s: ModelSpec = "anthropic:claude-sonnet-4-6".parse().unwrap();
        assert_eq!(s, ModelSpec::new("anthropic", "claude-sonnet-4-6"));
        assert_eq!(s.to_string(), "anthropic:claude-sonnet-4-6");
        let s: ModelSpec = "local:llama3.1:8b".parse().unwrap();
        assert_eq!(s.model, "llama3.1:8b");
        let s: ModelSpec = "openrouter:anthropic/claude-sonnet-4.5".parse().unwrap();
        assert_eq!(s.provider, "openrouter");
        for bad in [
            "claude-sonnet-4-6",
            ":model",
            "anthropic:",
            "Anth ropic:x",
            "",
        ] {
            let e = bad.parse::<ModelSpec>().unwrap_err();
            assert!(e.to_string().contains("provider:model"), "{bad}: {e}");
        }
    }

    #[test]
    fn from_a_plain_map_and_moved_to_one_provider() {
        let map: BTreeMap<String, String> = [
            ("planner", "anthropic:claude-sonnet-4-6"),
            ("default", "openai:gpt-5-mini"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let r = ModelRouter::from_roles(&map).unwrap();
        assert_eq!(r.chain("planner").unwrap()[0].provider, "anthropic");
        assert_eq!(r.chain("clarifier").unwrap()[0].model, "gpt-5-mini");
        let demo = r.all_on("scripted");
        assert_eq!(demo.providers(), ["scripted"]);
        assert_eq!(
            demo.chain("planner").unwrap()[0].to_string(),
            "scripted:claude-sonnet-4-6"
        );
        let bad: BTreeMap<String, String> = [("planner".to_owned(), "gpt-5".to_owned())].into();
        assert!(ModelRouter::from_roles(&bad).is_err());
    }

    #[test]
    fn chains_per_role_with_default() {
        let r: ModelRouter = serde_json::from_value(serde_json::json!({
            "default": "anthropic:claude-sonnet-4-6",
            "spec_reviewer": "anthropic:claude-haiku-4-5",
            "fallbacks": {
                "planner": ["openai:gpt-5", "anthropic:claude-sonnet-4-6"],
                "default": ["openai:gpt-5-mini"]
            }
        }))
        .unwrap();
        let chain = r.chain("planner").unwrap();
        assert_eq!(
            chain.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["anthropic:claude-sonnet-4-6", "openai:gpt-5"],
            "duplicates are dropped"
        );
        let chain = r.chain("spec_reviewer").unwrap();
        assert_eq!(chain[0].model, "claude-haiku-4-5");
        assert_eq!(chain[1].to_string(), "openai:gpt-5-mini");
        assert_eq!(r.providers(), ["anthropic", "openai"]);
        let none = ModelRouter::default().chain("planner").unwrap_err();
        assert_eq!(none.code(), "not_configured");
        let bad: Result<ModelRouter, _> =
            serde_json::from_value(serde_json::json!({"planner": "gpt-5"}));
        assert!(bad.unwrap_err().to_string().contains("provider:model"));
    }
}
