//! The HTTP client set-up shared by every Foreman adapter that calls out (LLM providers,
//! trackers, git hosts).
//!
//! reqwest is built with rustls but without a bundled crypto provider; [`client_builder`]
//! installs rustls' `ring` provider once per process (cheap to build, no C toolchain beyond
//! `cc`) and verifies certificates with the platform's trust store.

use std::sync::Once;
use std::time::Duration;

static INSTALL: Once = Once::new();

/// Installs rustls' `ring` crypto provider as the process default, once. Harmless when another
/// provider was installed first (that one stays).
pub fn install_crypto_provider() {
    INSTALL.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // An Err means another thread installed one in between; either way one is set.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// The user agent Foreman sends.
pub const USER_AGENT: &str = concat!("foreman/", env!("CARGO_PKG_VERSION"));

/// A reqwest client builder with the crypto provider installed, Foreman's user agent and a
/// connect timeout. Callers add their own request timeout and headers.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_client_with_tls() {
        let client = client_builder().build();
        assert!(client.is_ok(), "{client:?}");
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
