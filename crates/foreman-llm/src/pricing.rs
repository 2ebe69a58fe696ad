//! Model prices and cost arithmetic in integer micro-dollars.
//!
//! Prices are micro-dollars per million tokens, so a cost is an exact integer computation:
//! each token class is priced with [`Micros::for_tokens`] (rounded up) and the parts are added.

use std::collections::BTreeMap;

use foreman_domain::Micros;
use foreman_domain::cost_report::{PriceRow, PriceSource, PriceTableView};
use foreman_domain::llm::Usage;
use serde::{Deserialize, Serialize};

/// The version of the built-in price table; bump it when prices change.
pub const PRICING_VERSION: &str = "2026-03-01";

/// The price of one model, in micro-dollars per million tokens.
///
/// In configuration it is written in US dollars per million tokens:
/// `{ input = 3.0, output = 15.0, cache_write = 3.75, cache_read = 0.30 }`. A missing
/// `cache_write` or `cache_read` costs the same as `input` (never cheaper than it should be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PriceUsd", into = "PriceUsd")]
pub struct ModelPrice {
    /// Uncached input.
    pub input: u64,
    /// Output (thinking included).
    pub output: u64,
    /// Input written to the prompt cache.
    pub cache_write: u64,
    /// Input read from the prompt cache.
    pub cache_read: u64,
}

impl ModelPrice {
    /// A price from dollars per million tokens.
    #[must_use]
    pub fn usd(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Self {
        Self {
            input: usd_to_micros(input),
            output: usd_to_micros(output),
            cache_write: usd_to_micros(cache_write),
            cache_read: usd_to_micros(cache_read),
        }
    }

    /// Free (scripted and local models).
    pub const FREE: Self = Self {
        input: 0,
        output: 0,
        cache_write: 0,
        cache_read: 0,
    };

    /// The cost of `usage` at this price.
    #[must_use]
    pub fn cost(&self, usage: &Usage) -> Micros {
        Micros::for_tokens(usage.input_tokens, self.input)
            + Micros::for_tokens(usage.output_tokens, self.output)
            + Micros::for_tokens(usage.cache_write_tokens, self.cache_write)
            + Micros::for_tokens(usage.cache_read_tokens, self.cache_read)
    }

    /// The most a call can cost with `input_tokens` of prompt (priced as the dearer of plain
    /// and cache-write input) and `max_output` tokens of output.
    #[must_use]
    pub fn worst_case(&self, input_tokens: u64, max_output: u64) -> Micros {
        Micros::for_tokens(input_tokens, self.input.max(self.cache_write))
            + Micros::for_tokens(max_output, self.output)
    }
}

fn micros(per_mtok: u64) -> Micros {
    Micros(i64::try_from(per_mtok).unwrap_or(i64::MAX))
}

fn usd_to_micros(usd: f64) -> u64 {
    u64::try_from(Micros::from_usd(usd).0).unwrap_or(0)
}

/// The configuration form of [`ModelPrice`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceUsd {
    input: f64,
    output: f64,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    cache_read: Option<f64>,
}

impl TryFrom<PriceUsd> for ModelPrice {
    type Error = String;
    fn try_from(p: PriceUsd) -> Result<Self, String> {
        for (name, v) in [
            ("input", Some(p.input)),
            ("output", Some(p.output)),
            ("cache_write", p.cache_write),
            ("cache_read", p.cache_read),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(format!(
                    "price {name} must be a non-negative number of dollars per million tokens, got {v}"
                ));
            }
        }
        Ok(Self::usd(
            p.input,
            p.output,
            p.cache_write.unwrap_or(p.input),
            p.cache_read.unwrap_or(p.input),
        ))
    }
}

impl From<ModelPrice> for PriceUsd {
    fn from(p: ModelPrice) -> Self {
        let usd = |m: u64| Micros(i64::try_from(m).unwrap_or(i64::MAX)).to_usd();
        Self {
            input: usd(p.input),
            output: usd(p.output),
            cache_write: Some(usd(p.cache_write)),
            cache_read: Some(usd(p.cache_read)),
        }
    }
}

/// Price configuration as the config crate embeds it (`[cost.pricing]` and
/// `[cost.fallback_pricing]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingConfig {
    /// Per-model overrides and additions, keyed by model name (any form the lookup accepts).
    pub pricing: BTreeMap<String, ModelPrice>,
    /// The price used for a model the table does not know.
    pub fallback_pricing: Option<ModelPrice>,
}

/// The model name of a `[[pricing]]` entry that sets the fallback price.
pub const FALLBACK_MODEL: &str = "*";

impl PricingConfig {
    /// Adds a configured price: `model` [`FALLBACK_MODEL`] (`*`) sets the fallback price, any
    /// other name overrides or adds that model. A later entry for the same model wins.
    pub fn insert(&mut self, model: &str, price: ModelPrice) {
        if model == FALLBACK_MODEL {
            self.fallback_pricing = Some(price);
        } else {
            self.pricing.insert(model.to_owned(), price);
        }
    }
}

/// The result of a price lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceLookup<'a> {
    /// The price to use.
    pub price: ModelPrice,
    /// The table key that matched; `None` when the fallback price was used.
    pub matched: Option<&'a str>,
}

/// Model prices: a versioned built-in table plus configured overrides.
///
/// Lookup tries the model name as given, then without a date suffix (`-20250929`,
/// `-2025-09-29`), then without a provider prefix (`anthropic:`, `openrouter:`, `anthropic/`),
/// then without both. A model none of these match is priced at the fallback price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingTable {
    version: String,
    models: BTreeMap<String, ModelPrice>,
    fallback: ModelPrice,
    /// Models (and `*` for the fallback) whose price came from configuration.
    configured: std::collections::BTreeSet<String>,
}

impl Default for PricingTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PricingTable {
    /// The built-in table of current Anthropic and OpenAI models ([`PRICING_VERSION`]).
    /// Unknown models fall back to the dearest listed price (opus-class), so an unpriced model
    /// is never treated as cheap.
    #[must_use]
    pub fn builtin() -> Self {
        let mut models = BTreeMap::new();
        let mut add = |names: &[&str], p: ModelPrice| {
            for n in names {
                models.insert((*n).to_owned(), p);
            }
        };
        // Anthropic: cache writes (5-minute) cost 1.25x input, cache reads 0.1x input.
        add(
            &["claude-opus-4-6", "claude-opus-4-5"],
            ModelPrice::usd(5.0, 25.0, 6.25, 0.50),
        );
        add(
            &["claude-opus-4-1", "claude-opus-4-0", "claude-opus-4"],
            ModelPrice::usd(15.0, 75.0, 18.75, 1.50),
        );
        add(
            &[
                "claude-sonnet-4-6",
                "claude-sonnet-4-5",
                "claude-sonnet-4-0",
                "claude-sonnet-4",
                "claude-3-7-sonnet",
            ],
            ModelPrice::usd(3.0, 15.0, 3.75, 0.30),
        );
        add(&["claude-haiku-4-5"], ModelPrice::usd(1.0, 5.0, 1.25, 0.10));
        add(&["claude-3-5-haiku"], ModelPrice::usd(0.80, 4.0, 1.0, 0.08));
        add(&["claude-3-haiku"], ModelPrice::usd(0.25, 1.25, 0.30, 0.03));
        // OpenAI: caching is automatic, writes cost plain input, reads are discounted.
        add(
            &["gpt-5", "gpt-5.1"],
            ModelPrice::usd(1.25, 10.0, 1.25, 0.125),
        );
        add(&["gpt-5-mini"], ModelPrice::usd(0.25, 2.0, 0.25, 0.025));
        add(&["gpt-5-nano"], ModelPrice::usd(0.05, 0.40, 0.05, 0.005));
        add(&["gpt-4.1"], ModelPrice::usd(2.0, 8.0, 2.0, 0.50));
        add(&["gpt-4.1-mini"], ModelPrice::usd(0.40, 1.60, 0.40, 0.10));
        add(&["gpt-4.1-nano"], ModelPrice::usd(0.10, 0.40, 0.10, 0.025));
        add(&["gpt-4o"], ModelPrice::usd(2.50, 10.0, 2.50, 1.25));
        add(&["gpt-4o-mini"], ModelPrice::usd(0.15, 0.60, 0.15, 0.075));
        add(&["o3"], ModelPrice::usd(2.0, 8.0, 2.0, 0.50));
        add(
            &["o3-mini", "o4-mini"],
            ModelPrice::usd(1.10, 4.40, 1.10, 0.275),
        );
        // The scripted provider's own model costs nothing.
        add(&["scripted"], ModelPrice::FREE);
        Self {
            version: PRICING_VERSION.to_owned(),
            models,
            fallback: ModelPrice::usd(15.0, 75.0, 18.75, 1.50),
            configured: std::collections::BTreeSet::new(),
        }
    }

    /// An empty table where everything costs `fallback`.
    #[must_use]
    pub fn empty(fallback: ModelPrice) -> Self {
        Self {
            version: "custom".to_owned(),
            models: BTreeMap::new(),
            fallback,
            configured: std::collections::BTreeSet::new(),
        }
    }

    /// The built-in table with configured overrides applied.
    #[must_use]
    pub fn from_config(config: &PricingConfig) -> Self {
        let mut t = Self::builtin();
        for (name, price) in &config.pricing {
            t = t.with_price(name, *price);
        }
        if let Some(f) = config.fallback_pricing {
            t = t.with_fallback(f);
        }
        t
    }

    /// Adds or replaces a model's price. The version gains a `+custom` suffix.
    #[must_use]
    pub fn with_price(mut self, model: &str, price: ModelPrice) -> Self {
        self.models.insert(model.to_owned(), price);
        self.configured.insert(model.to_owned());
        if !self.version.ends_with("+custom") {
            self.version.push_str("+custom");
        }
        self
    }

    /// Replaces the fallback price.
    #[must_use]
    pub fn with_fallback(mut self, price: ModelPrice) -> Self {
        self.fallback = price;
        self.configured.insert(FALLBACK_MODEL.to_owned());
        self
    }

    /// The table as reports show it (`GET /api/costs/pricing`): every model with its price and
    /// whether it is built in or configured, and the fallback price under the name `*`.
    #[must_use]
    pub fn view(&self) -> PriceTableView {
        let row = |model: &str, p: &ModelPrice| PriceRow {
            model: model.to_owned(),
            input: micros(p.input),
            output: micros(p.output),
            cache_write: micros(p.cache_write),
            cache_read: micros(p.cache_read),
            source: if self.configured.contains(model) {
                PriceSource::Config
            } else {
                PriceSource::Builtin
            },
        };
        PriceTableView {
            version: self.version.clone(),
            models: self.models.iter().map(|(m, p)| row(m, p)).collect(),
            fallback: Some(row(FALLBACK_MODEL, &self.fallback)),
        }
    }

    /// The table's version.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The fallback price.
    #[must_use]
    pub fn fallback(&self) -> ModelPrice {
        self.fallback
    }

    /// Every listed model and its price.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.models.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The price of `model` (see the type docs for the lookup order).
    #[must_use]
    pub fn lookup(&self, model: &str) -> PriceLookup<'_> {
        let bare = strip_provider(model);
        let candidates = [model, strip_date(model), bare, strip_date(bare)];
        for c in candidates {
            if let Some((k, p)) = self.models.get_key_value(c) {
                return PriceLookup {
                    price: *p,
                    matched: Some(k.as_str()),
                };
            }
        }
        PriceLookup {
            price: self.fallback,
            matched: None,
        }
    }

    /// The cost of `usage` on `model`.
    #[must_use]
    pub fn cost(&self, model: &str, usage: &Usage) -> Micros {
        self.lookup(model).price.cost(usage)
    }
}

/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`; `gpt-4o-2024-08-06` → `gpt-4o`.
fn strip_date(model: &str) -> &str {
    let b = model.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() > 9 && b[b.len() - 9] == b'-' && digits(&b[b.len() - 8..]) {
        return &model[..model.len() - 9];
    }
    if b.len() > 11 {
        let tail = &b[b.len() - 11..];
        if tail[0] == b'-'
            && digits(&tail[1..5])
            && tail[5] == b'-'
            && digits(&tail[6..8])
            && tail[8] == b'-'
            && digits(&tail[9..11])
        {
            return &model[..model.len() - 11];
        }
    }
    model
}

/// `openrouter:anthropic/claude-sonnet-4.5` → `claude-sonnet-4.5`.
fn strip_provider(model: &str) -> &str {
    let after_colon = model.split_once(':').map_or(model, |(_, m)| m);
    after_colon.rsplit_once('/').map_or(after_colon, |(_, m)| m)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn usage(i: u64, o: u64, cw: u64, cr: u64) -> Usage {
        Usage {
            input_tokens: i,
            output_tokens: o,
            cache_write_tokens: cw,
            cache_read_tokens: cr,
        }
    }

    #[test]
    fn lookup_order() {
        let t = PricingTable::builtin();
        assert_eq!(
            t.lookup("claude-sonnet-4-6").matched,
            Some("claude-sonnet-4-6")
        );
        assert_eq!(
            t.lookup("claude-sonnet-4-5-20250929").matched,
            Some("claude-sonnet-4-5")
        );
        assert_eq!(t.lookup("gpt-4o-2024-08-06").matched, Some("gpt-4o"));
        assert_eq!(
            t.lookup("anthropic:claude-haiku-4-5").matched,
            Some("claude-haiku-4-5")
        );
        assert_eq!(
            t.lookup("openrouter:anthropic/claude-opus-4-1-20250805")
                .matched,
            Some("claude-opus-4-1")
        );
        let unknown = t.lookup("mystery-model-7b");
        assert_eq!(unknown.matched, None);
        assert_eq!(unknown.price, t.fallback());
        // an exact override beats the stripped form
        let t = t.with_price("claude-sonnet-4-5-20250929", ModelPrice::FREE);
        assert_eq!(
            t.lookup("claude-sonnet-4-5-20250929").price,
            ModelPrice::FREE
        );
        assert!(t.version().ends_with("+custom"));
    }

    #[test]
    fn sonnet_cost_in_micros() {
        let t = PricingTable::builtin();
        // 12,000 in at $3, 2,500 out at $15, 10,000 cache reads at $0.30, 1,000 writes at $3.75
        let c = t.cost("claude-sonnet-4-6", &usage(12_000, 2_500, 1_000, 10_000));
        assert_eq!(c, Micros(36_000 + 37_500 + 3_750 + 3_000));
    }

    #[test]
    fn config_prices_are_dollars() {
        let cfg: PricingConfig = toml_like(
            r#"{"pricing": {"my-model": {"input": 1.5, "output": 2}}, "fallback_pricing": {"input": 0.5, "output": 1, "cache_read": 0.05}}"#,
        );
        let t = PricingTable::from_config(&cfg);
        let p = t.lookup("local:my-model").price;
        assert_eq!(p.input, 1_500_000);
        assert_eq!(p.cache_write, 1_500_000);
        assert_eq!(t.fallback().cache_read, 50_000);
        let bad: Result<PricingConfig, _> =
            serde_json::from_str(r#"{"pricing": {"x": {"input": -1, "output": 1}}}"#);
        assert!(bad.unwrap_err().to_string().contains("non-negative"));
    }

    #[test]
    fn configured_prices_override_and_show_where_they_came_from() {
        let mut cfg = PricingConfig::default();
        cfg.insert("claude-sonnet-4-6", ModelPrice::usd(1.0, 2.0, 1.0, 0.1));
        cfg.insert("my-finetune", ModelPrice::usd(0.5, 0.5, 0.5, 0.5));
        cfg.insert(FALLBACK_MODEL, ModelPrice::usd(9.0, 9.0, 9.0, 9.0));
        let t = PricingTable::from_config(&cfg);
        assert_eq!(
            t.lookup("claude-sonnet-4-6-20260101").price.input,
            1_000_000
        );
        assert_eq!(t.lookup("unknown-model").price.input, 9_000_000);
        let view = t.view();
        assert!(view.version.ends_with("+custom"));
        let row = |m: &str| view.models.iter().find(|r| r.model == m).unwrap().clone();
        assert_eq!(row("claude-sonnet-4-6").source, PriceSource::Config);
        assert_eq!(row("claude-sonnet-4-6").output, Micros(2_000_000));
        assert_eq!(row("my-finetune").source, PriceSource::Config);
        assert_eq!(row("claude-haiku-4-5").source, PriceSource::Builtin);
        let fallback = view.fallback.unwrap();
        assert_eq!(
            (fallback.model.as_str(), fallback.source),
            ("*", PriceSource::Config)
        );
        let builtin = PricingTable::builtin().view();
        assert_eq!(builtin.fallback.unwrap().source, PriceSource::Builtin);
        assert_eq!(builtin.version, PRICING_VERSION);
    }

    fn toml_like(json: &str) -> PricingConfig {
        serde_json::from_str(json).unwrap()
    }

    proptest! {
        #[test]
        fn cost_is_the_sum_of_its_parts(
            i in 0u64..5_000_000, o in 0u64..500_000, cw in 0u64..1_000_000, cr in 0u64..5_000_000,
            pi in 0u64..100_000_000, po in 0u64..100_000_000,
        ) {
            let p = ModelPrice { input: pi, output: po, cache_write: pi + pi / 4, cache_read: pi / 10 };
            let total = p.cost(&usage(i, o, cw, cr));
            let parts = p.cost(&usage(i, 0, 0, 0)) + p.cost(&usage(0, o, 0, 0))
                + p.cost(&usage(0, 0, cw, 0)) + p.cost(&usage(0, 0, 0, cr));
            prop_assert_eq!(total, parts);
            // exact up to one rounded-up micro per token class
            let exact = u128::from(i) * u128::from(pi) + u128::from(o) * u128::from(po)
                + u128::from(cw) * u128::from(p.cache_write) + u128::from(cr) * u128::from(p.cache_read);
            let exact_floor = i64::try_from(exact / 1_000_000).unwrap();
            prop_assert!(total.0 >= exact_floor && total.0 <= exact_floor + 4);
        }

        #[test]
        fn worst_case_covers_any_actual_usage(
            input in 0u64..1_000_000, max_out in 0u64..100_000,
            cached in 0u64..1_000_000, out in 0u64..100_000,
            pi in 0u64..20_000_000, po in 0u64..100_000_000,
        ) {
            let p = ModelPrice { input: pi, output: po, cache_write: pi + pi / 4, cache_read: pi / 10 };
            let cached = cached.min(input);
            let write = cached / 2;
            let read = cached - write;
            let actual = usage(input - cached, out.min(max_out), write, read);
            prop_assert!(p.cost(&actual) <= p.worst_case(input, max_out) + Micros(3));
        }

        #[test]
        fn cost_is_monotonic_in_tokens(a in 0u64..10_000_000, b in 0u64..10_000_000) {
            let t = PricingTable::builtin();
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(t.cost("gpt-5", &usage(lo, lo, 0, 0)) <= t.cost("gpt-5", &usage(hi, hi, 0, 0)));
        }
    }
}
