//! `[webhooks]`: outbound webhook delivery.

use serde::{Deserialize, Serialize};

use crate::duration::parse_duration;
use crate::error::ConfigError;

/// `[webhooks]`: the delivery worker, its SSRF allow-list, timeouts and retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Run the delivery worker.
    pub enabled: bool,
    /// Non-public addresses or networks deliveries may reach (`127.0.0.1`, `10.0.0.0/8`, `::1`);
    /// every other loopback, private, link-local, CGNAT, multicast or unique-local address is
    /// refused.
    pub allow_private: Vec<String>,
    /// Subscriptions sent to at the same time (1–256); each gets one delivery at a time.
    pub delivery_concurrency: u32,
    /// Deliveries of one subscription claimed together and sent in order (1–100).
    pub batch: u32,
    /// One request, answer included.
    pub timeout: String,
    /// Connecting.
    pub connect_timeout: String,
    /// How often the queue is looked at when no event wakes the worker.
    pub poll_interval: String,
    /// The delay after a first failure; doubled per attempt.
    pub retry_base: String,
    /// The longest delay between attempts.
    pub retry_max: String,
    /// A delivery still failing this long after it was queued is given up.
    pub give_up_after: String,
    /// Failed deliveries in a row that disable a subscription (1–1000).
    pub disable_after: u32,
    /// The key signing deliveries to tickets' `webhook_url` (empty: those are unsigned).
    pub ticket_secret: String,
    /// Finished deliveries (delivered or given up) older than this are deleted from the
    /// delivery log, hourly (`0s`: kept forever).
    pub delivery_retention: String,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_private: Vec::new(),
            delivery_concurrency: 16,
            batch: 10,
            timeout: "10s".into(),
            connect_timeout: "5s".into(),
            poll_interval: "250ms".into(),
            retry_base: "10s".into(),
            retry_max: "1h".into(),
            give_up_after: "24h".into(),
            disable_after: 10,
            ticket_secret: String::new(),
            delivery_retention: "30d".into(),
        }
    }
}

impl WebhooksConfig {
    /// Checks ranges, durations and the allow-list.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            ("timeout", &self.timeout),
            ("connect_timeout", &self.connect_timeout),
            ("poll_interval", &self.poll_interval),
            ("retry_base", &self.retry_base),
            ("retry_max", &self.retry_max),
            ("give_up_after", &self.give_up_after),
            ("delivery_retention", &self.delivery_retention),
        ] {
            parse_duration(v)
                .map_err(|e| ConfigError::invalid(&format!("webhooks.{key}"), v, &e))?;
        }
        for (key, v, lo, hi) in [
            ("delivery_concurrency", self.delivery_concurrency, 1, 256),
            ("batch", self.batch, 1, 100),
            ("disable_after", self.disable_after, 1, 1000),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(ConfigError::invalid(
                    &format!("webhooks.{key}"),
                    v,
                    &format!("expected {lo} to {hi}"),
                ));
            }
        }
        for (i, e) in self.allow_private.iter().enumerate() {
            if !is_net(e) {
                return Err(ConfigError::invalid(
                    &format!("webhooks.allow_private[{i}]"),
                    e,
                    "expected an IP address or a network like 10.0.0.0/8",
                ));
            }
        }
        Ok(())
    }
}

fn is_net(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_bad_values_name_the_key() {
        WebhooksConfig::default().validate().unwrap();
        let bad = |f: &dyn Fn(&mut WebhooksConfig)| {
            let mut c = WebhooksConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(
            bad(&|c| c.allow_private = vec!["127.0.0.1".into(), "x".into()])
                .contains("webhooks.allow_private[1]")
        );
        assert!(
            bad(&|c| c.allow_private = vec!["10.0.0.0/33".into()])
                .contains("webhooks.allow_private[0]")
        );
        assert!(bad(&|c| c.timeout = "soon".into()).contains("webhooks.timeout"));
        assert!(
            bad(&|c| c.delivery_retention = "a month".into())
                .contains("webhooks.delivery_retention")
        );
        assert!(bad(&|c| c.delivery_concurrency = 0).contains("webhooks.delivery_concurrency"));
        let ok = WebhooksConfig {
            allow_private: vec!["::1".into(), "10.0.0.0/8".into(), "fd00::/8".into()],
            ..WebhooksConfig::default()
        };
        ok.validate().unwrap();
    }
}
