//! The price table as the [`UsagePricer`] of reported usage (`POST /api/llm/usage`): a row
//! without a cost is priced like Foreman's own calls, and a model the table does not list is
//! not priced at all (the fallback price is for Foreman's calls, which must never be
//! under-counted; a reported row must then carry its own cost).

use foreman_domain::Micros;
use foreman_domain::llm::Usage;
use foreman_domain::usage_ingest::UsagePricer;

use crate::pricing::PricingTable;

impl UsagePricer for PricingTable {
    fn price(&self, _provider: &str, model: &str, usage: &Usage) -> Option<Micros> {
        let found = self.lookup(model);
        found.matched.map(|_| found.price.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_models_are_priced_like_foremans_calls_and_others_not_at_all() {
        let table = PricingTable::builtin();
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
        };
        let model = "claude-sonnet-4-5-20250929";
        assert_eq!(
            UsagePricer::price(&table, "anthropic", model, &usage),
            Some(table.cost(model, &usage))
        );
        assert_eq!(
            UsagePricer::price(&table, "acme", "acme-large-1", &usage),
            None
        );
    }
}
