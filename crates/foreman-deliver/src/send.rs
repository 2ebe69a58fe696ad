//! The HTTP client of deliveries: signs, resolves through the guard, sends, and says what came
//! of it.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use foreman_domain::subscription::{AttemptOutcome, ClaimedDelivery, sign};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::guard::AddressPolicy;

/// The user agent of deliveries.
pub const USER_AGENT: &str = concat!("foreman-webhooks/", env!("CARGO_PKG_VERSION"));
/// The most of a receiver's answer that is read (the rest is dropped).
const MAX_ANSWER: usize = 64 * 1024;

/// How deliveries are sent.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Addresses allowed beside the public ones.
    pub policy: AddressPolicy,
    /// The whole request, answer included.
    pub timeout: Duration,
    /// Connecting.
    pub connect_timeout: Duration,
    /// The key of tickets' implicit subscriptions (no key: sent unsigned).
    pub ticket_secret: Option<String>,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            policy: AddressPolicy::default(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            ticket_secret: None,
        }
    }
}

/// Sends deliveries.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    settings: Arc<SenderSettings>,
}

/// Resolves a host once and hands reqwest only addresses the policy allows, so the connection
/// goes to the checked address (a second lookup that answers differently is never made).
#[derive(Debug)]
struct GuardedResolver {
    policy: AddressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            // every address must pass: one non-public answer refuses the host
            for a in &addrs {
                policy.check(a.ip())?;
            }
            let out: Addrs = Box::new(addrs.into_iter());
            Ok(out)
        })
    }
}

static INSTALL: Once = Once::new();

fn install_crypto_provider() {
    INSTALL.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

impl Sender {
    /// A sender.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: SenderSettings) -> Result<Self, reqwest::Error> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .pool_max_idle_per_host(4)
            .dns_resolver(GuardedResolver {
                policy: settings.policy.clone(),
            })
            .build()?;
        Ok(Self {
            client,
            settings: Arc::new(settings),
        })
    }

    /// The headers and body of a delivery at `timestamp` (Unix seconds): what receivers see.
    #[must_use]
    pub fn request_parts(
        &self,
        claim: &ClaimedDelivery,
        timestamp: i64,
    ) -> (Vec<(&'static str, String)>, Vec<u8>) {
        let body = serde_json::to_vec(&claim.delivery.body).unwrap_or_default();
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("x-foreman-event", claim.delivery.event_type.clone()),
            ("x-foreman-delivery", claim.delivery.id.to_string()),
            ("x-foreman-timestamp", timestamp.to_string()),
        ];
        let secret = claim
            .secret
            .as_deref()
            .or(self.settings.ticket_secret.as_deref());
        if let Some(secret) = secret {
            headers.push((
                "x-foreman-signature",
                sign(secret.as_bytes(), timestamp, &body),
            ));
        }
        (headers, body)
    }

    /// Sends one delivery and says what came of it; never panics, every failure is an outcome.
    pub async fn send(&self, claim: &ClaimedDelivery) -> AttemptOutcome {
        let started = Instant::now();
        let failed = |status: Option<u16>, error: String| AttemptOutcome::Failed {
            status,
            latency_ms: Some(elapsed_ms(started)),
            error,
        };
        let url = match reqwest::Url::parse(&claim.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => return failed(None, "not an http or https url".into()),
        };
        // a literal address is not resolved: check it here
        let Some(host) = url.host_str() else {
            return failed(None, "the url has no host".into());
        };
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        if let Some(ip) = literal
            && let Err(r) = self.settings.policy.check(ip)
        {
            return failed(None, r.to_string());
        }
        let timestamp = chrono::Utc::now().timestamp();
        let (headers, body) = self.request_parts(claim, timestamp);
        let mut req = self.client.post(url).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                // read a little of the answer so the connection can be reused
                let mut read = 0;
                while read < MAX_ANSWER {
                    match resp.chunk().await {
                        Ok(Some(c)) => read += c.len(),
                        _ => break,
                    }
                }
                if resp.status().is_success() {
                    AttemptOutcome::Delivered {
                        status,
                        latency_ms: elapsed_ms(started),
                    }
                } else if resp.status().is_redirection() {
                    failed(
                        Some(status),
                        format!("status {status}: redirects are not followed"),
                    )
                } else {
                    failed(Some(status), format!("status {status}"))
                }
            }
            Err(e) => failed(None, describe(&e)),
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A transport error in one line, with the guard's refusal when that was the cause.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<crate::guard::Refused>() {
            return r.to_string();
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect: {}", root(e))
    } else {
        format!("request failed: {}", root(e))
    }
}

fn root(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string().to_lowercase()
}
