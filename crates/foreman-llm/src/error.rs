//! Errors building a provider (configuration problems found at start-up).

/// A provider could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// No API key in the configuration nor in the environment.
    #[error("no api key for provider {provider}: set it in the config or in {env}")]
    MissingApiKey {
        /// The provider.
        provider: String,
        /// The environment variable that was read.
        env: String,
    },
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid base url {url:?}: {reason}")]
    InvalidBaseUrl {
        /// What was configured.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The HTTP client could not be built.
    #[cfg(any(feature = "anthropic", feature = "openai"))]
    #[error("cannot build the http client")]
    Http(#[source] reqwest::Error),
}

impl SetupError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MissingApiKey { .. } => "missing_api_key",
            Self::InvalidBaseUrl { .. } => "invalid_base_url",
            #[cfg(any(feature = "anthropic", feature = "openai"))]
            Self::Http(_) => "http_client",
        }
    }
}
