//! Hiding secrets and URL credentials before configuration values are shown.

/// Shows the first 8 characters of a secret followed by `...`; empty stays empty, and a secret of
/// 8 characters or fewer is fully hidden.
#[must_use]
pub fn redact_secret(secret: &str) -> String {
    if secret.is_empty() {
        return String::new();
    }
    if secret.chars().count() <= 8 {
        return "...".to_owned();
    }
    let head: String = secret.chars().take(8).collect();
    format!("{head}...")
}

/// Strips credentials from a URL (`postgres://user:pass@host` → `postgres://user:...@host`).
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((creds, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:...@{host}"),
        None => format!("{scheme}://{creds}@{host}"),
    }
}
