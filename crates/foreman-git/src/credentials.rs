//! How git authenticates to the remote, without ever writing a secret to disk or into a URL.
//!
//! An HTTPS token is handed to git through a credential helper given on the command line of
//! each network command (`-c credential.helper=...`); the helper is a shell function that prints
//! the token from an environment variable set only on that child process. The repository's
//! config and the remote URL never contain it, so neither `git config -l` nor `ps` shows it.

use std::fmt;
use std::path::PathBuf;

use tokio::process::Command;

/// Environment variable carrying the token to the credential helper.
pub(crate) const TOKEN_ENV: &str = "FOREMAN_GIT_TOKEN";
/// Environment variable carrying the user name to the credential helper.
pub(crate) const USER_ENV: &str = "FOREMAN_GIT_USERNAME";

const HELPER: &str = "!f() { test \"$1\" = get || exit 0; echo \"username=${FOREMAN_GIT_USERNAME}\"; echo \"password=${FOREMAN_GIT_TOKEN}\"; }; f";

/// Credentials for the remote.
#[derive(Clone, Default)]
pub enum Credentials {
    /// None (public remotes, local paths, or whatever the environment's SSH agent provides).
    #[default]
    None,
    /// An HTTPS token (GitHub: any user name works with `x-access-token`; GitLab: `oauth2`).
    HttpsToken {
        /// The user name git sends with it.
        username: String,
        /// The token.
        token: String,
    },
    /// SSH with a private key file.
    SshKey {
        /// The private key.
        key_path: PathBuf,
        /// Accept unknown host keys on first contact (`StrictHostKeyChecking=accept-new`)
        /// instead of refusing them.
        accept_new_host_keys: bool,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::HttpsToken { username, .. } => f
                .debug_struct("HttpsToken")
                .field("username", username)
                .field("token", &"<redacted>")
                .finish(),
            Self::SshKey {
                key_path,
                accept_new_host_keys,
            } => f
                .debug_struct("SshKey")
                .field("key_path", key_path)
                .field("accept_new_host_keys", accept_new_host_keys)
                .finish(),
        }
    }
}

impl Credentials {
    /// A token for GitHub (`x-access-token` user).
    #[must_use]
    pub fn github_token(token: impl Into<String>) -> Self {
        Self::HttpsToken {
            username: "x-access-token".to_owned(),
            token: token.into(),
        }
    }

    /// A token for GitLab (`oauth2` user).
    #[must_use]
    pub fn gitlab_token(token: impl Into<String>) -> Self {
        Self::HttpsToken {
            username: "oauth2".to_owned(),
            token: token.into(),
        }
    }

    /// Adds the per-command settings to a git invocation (before its subcommand).
    pub(crate) fn apply(&self, cmd: &mut Command) {
        match self {
            Self::None => {}
            Self::HttpsToken { username, token } => {
                // an empty helper first resets any helper inherited from other config
                cmd.arg("-c").arg("credential.helper=");
                cmd.arg("-c").arg(format!("credential.helper={HELPER}"));
                cmd.env(USER_ENV, username).env(TOKEN_ENV, token);
            }
            Self::SshKey {
                key_path,
                accept_new_host_keys,
            } => {
                let strict = if *accept_new_host_keys {
                    "accept-new"
                } else {
                    "yes"
                };
                let key = key_path.display().to_string().replace('\'', "'\\''");
                cmd.env(
                    "GIT_SSH_COMMAND",
                    format!(
                        "ssh -i '{key}' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking={strict}"
                    ),
                );
            }
        }
    }
}

/// Whether a remote URL carries credentials (`https://user:token@host/...`), which Foreman
/// refuses so that no secret is stored in the repository's config.
#[must_use]
pub fn url_has_credentials(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false; // scp-like `git@host:path` and local paths carry none
    };
    if !scheme.starts_with("http") {
        return false;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    authority.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_userinfo_are_spotted() {
        assert!(url_has_credentials("https://x:tok@github.com/o/r.git"));
        assert!(url_has_credentials("http://tok@host/r"));
        assert!(!url_has_credentials("https://github.com/o/r.git"));
        assert!(!url_has_credentials("git@github.com:o/r.git"));
        assert!(!url_has_credentials("ssh://git@host/r.git"));
        assert!(!url_has_credentials("/srv/git/r.git"));
    }

    #[test]
    fn debug_hides_the_token() {
        let c = Credentials::github_token("ghp_secret");
        assert!(!format!("{c:?}").contains("ghp_secret"));
    }
}
