//! A small JSON client for the Foreman API.

use anyhow::{Context, Result, bail};

pub(crate) struct Client {
    base: String,
    token: Option<String>,
    inner: reqwest::Client,
}

impl Client {
    pub(crate) fn new(base: &str, token: Option<&str>) -> Result<Self> {
        // rustls needs a process-wide crypto provider for https:// servers.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .user_agent(concat!("foreman-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            inner,
        })
    }

    pub(crate) async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value> {
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&encode(v));
        }
        let mut req = self.inner.get(&url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let body: serde_json::Value = resp
            .json()
            .await
            .with_context(|| format!("{url}: the response is not JSON"))?;
        if !status.is_success() {
            let msg = body["error"].as_str().unwrap_or("request failed");
            if status == reqwest::StatusCode::UNAUTHORIZED {
                bail!("{msg} ({status}); pass --token or set FOREMAN_TOKEN");
            }
            bail!("{msg} ({status})");
        }
        Ok(body)
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
