//! GitLab REST v4: [`GitLabClient`], bound to one project, and the wire types the GitLab
//! host (merge requests) and the GitLab Issues tracker both read.

use foreman_domain::remote::RemoteError;

use crate::client::{Auth, HttpClient, HttpConfig};

/// The public API root.
pub const DEFAULT_API_URL: &str = "https://gitlab.com/api/v4";

/// Where and how to reach one GitLab project.
#[derive(Debug, Clone)]
pub struct GitLabConfig {
    /// API root (`https://gitlab.com/api/v4`, or a self-managed instance's).
    pub api_url: String,
    /// The project's path (`group/project`) or numeric id.
    pub project: String,
    /// A token with the `api` scope.
    pub token: String,
}

/// GitLab's JSON, as much of it as Foreman reads.
pub mod wire {
    use serde::Deserialize;

    /// A user reference.
    #[derive(Debug, Clone, Deserialize)]
    pub struct User {
        /// Username.
        pub username: String,
    }

    /// An issue.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Issue {
        /// Project-scoped number.
        pub iid: i64,
        /// Title.
        pub title: String,
        /// Description.
        pub description: Option<String>,
        /// `opened` or `closed`.
        pub state: String,
        /// Labels.
        #[serde(default)]
        pub labels: Vec<String>,
        /// Author.
        pub author: Option<User>,
        /// Assignee.
        pub assignee: Option<User>,
        /// Web URL.
        pub web_url: String,
        /// Last change.
        pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    /// A note (comment); system notes record changes, not people.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Note {
        /// Id.
        pub id: i64,
        /// Text.
        pub body: String,
        /// Whether GitLab wrote it.
        #[serde(default)]
        pub system: bool,
        /// Author.
        pub author: Option<User>,
        /// Created.
        pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    }
}

/// A REST client bound to one project.
#[derive(Debug, Clone)]
pub struct GitLabClient {
    http: HttpClient,
    project: String,
}

impl GitLabClient {
    /// Builds a client with `PRIVATE-TOKEN` auth.
    ///
    /// # Errors
    /// [`RemoteError::Invalid`] for an unusable URL, or an empty project or token.
    pub fn new(config: &GitLabConfig) -> Result<Self, RemoteError> {
        let http = HttpConfig::new(
            "gitlab",
            &config.api_url,
            Auth::Header {
                name: "private-token".to_owned(),
                value: config.token.clone(),
            },
        );
        Self::with_http(http, config)
    }

    /// Builds a client with explicit HTTP settings.
    ///
    /// # Errors
    /// As [`GitLabClient::new`].
    pub fn with_http(http: HttpConfig, config: &GitLabConfig) -> Result<Self, RemoteError> {
        let invalid = |message: String| RemoteError::Invalid {
            service: "gitlab",
            message,
        };
        if config.project.trim().is_empty() || config.project.contains("..") {
            return Err(invalid(format!("bad project {:?}", config.project)));
        }
        if config.token.trim().is_empty() {
            return Err(invalid("no token configured".to_owned()));
        }
        Ok(Self {
            http: HttpClient::new(http)?,
            project: encode_path(&config.project),
        })
    }

    /// The HTTP client.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `/projects/<id><rest>`.
    #[must_use]
    pub fn path(&self, rest: &str) -> String {
        format!("/projects/{}{rest}", self.project)
    }

    /// Checks the project is visible with this token.
    ///
    /// # Errors
    /// [`RemoteError`].
    pub async fn check(&self) -> Result<(), RemoteError> {
        self.http
            .get_json::<serde_json::Value>(&self.path(""), &[])
            .await
            .map(|_| ())
    }
}

/// Percent-encodes a project path (`group/project` → `group%2Fproject`) or any other path
/// segment.
#[must_use]
pub fn encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.trim().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_are_encoded() {
        assert_eq!(encode_path("group/sub/project"), "group%2Fsub%2Fproject");
        assert_eq!(encode_path("42"), "42");
    }
}
