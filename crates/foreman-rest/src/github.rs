//! GitHub REST v3: [`GitHubClient`], bound to one repository, and the wire types the GitHub
//! host (pull requests) and the GitHub Issues tracker both read.

use foreman_domain::remote::RemoteError;
use reqwest::Method;
use serde_json::json;

use crate::client::{Auth, HttpClient, HttpConfig};

/// The public API root.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The GraphQL endpoint of a REST API root: `https://api.github.com/graphql`, and
/// `https://<host>/api/graphql` for Enterprise Server's `https://<host>/api/v3`.
#[must_use]
pub fn graphql_url(api_url: &str) -> String {
    let root = api_url.trim_end_matches('/');
    match root.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{root}/graphql"),
    }
}

/// Where and how to reach one GitHub repository.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// API root (`https://api.github.com`, or `https://<host>/api/v3` for Enterprise Server).
    pub api_url: String,
    /// Owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// A token with `repo` (classic) or issues + pull requests read/write (fine-grained).
    pub token: String,
}

/// GitHub's JSON, as much of it as Foreman reads.
pub mod wire {
    use serde::Deserialize;

    /// A user reference.
    #[derive(Debug, Clone, Deserialize)]
    pub struct User {
        /// Login.
        pub login: String,
    }

    /// A label.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Label {
        /// Name.
        pub name: String,
    }

    /// An issue (pull requests appear as issues with `pull_request` set).
    #[derive(Debug, Clone, Deserialize)]
    pub struct Issue {
        /// Number.
        pub number: i64,
        /// Title.
        pub title: String,
        /// Body (`null` when empty).
        pub body: Option<String>,
        /// `open` or `closed`.
        pub state: String,
        /// Web URL.
        pub html_url: String,
        /// Author.
        pub user: Option<User>,
        /// Assignee.
        pub assignee: Option<User>,
        /// Labels.
        #[serde(default)]
        pub labels: Vec<Label>,
        /// Present for pull requests.
        pub pull_request: Option<serde_json::Value>,
        /// Last change.
        pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    /// An issue comment.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Comment {
        /// Id.
        pub id: i64,
        /// Text.
        pub body: Option<String>,
        /// Author.
        pub user: Option<User>,
        /// Created.
        pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    }
}

/// Turns a GraphQL `errors` array (sent with HTTP 200) into a remote error: `NOT_FOUND`,
/// `FORBIDDEN` and `RATE_LIMITED` by their kind, anything else as a 422 rejection carrying
/// GitHub's messages.
#[must_use]
pub fn graphql_error(errors: &[serde_json::Value], what: &str) -> RemoteError {
    let kind = errors
        .first()
        .and_then(|e| e.get("type"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let messages: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.get("message").and_then(serde_json::Value::as_str))
        .collect();
    let message = if messages.is_empty() {
        "unknown graphql error".to_owned()
    } else {
        messages.join("; ")
    };
    match kind {
        "NOT_FOUND" => RemoteError::NotFound {
            service: "github",
            what: format!("{what} ({message})"),
        },
        "FORBIDDEN" => RemoteError::Forbidden {
            service: "github",
            message,
        },
        "RATE_LIMITED" => RemoteError::RateLimited {
            service: "github",
            retry_after: None,
        },
        _ => RemoteError::Status {
            service: "github",
            status: 422,
            message,
        },
    }
}

/// A REST client bound to one repository.
#[derive(Debug, Clone)]
pub struct GitHubClient {
    http: HttpClient,
    /// The same settings aimed at the GraphQL endpoint ([`graphql_url`]).
    graphql: HttpClient,
    owner: String,
    repo: String,
}

impl GitHubClient {
    /// Builds a client with GitHub's headers (`Accept: application/vnd.github+json`, the API
    /// version) and bearer auth.
    ///
    /// # Errors
    /// [`RemoteError::Invalid`] for an unusable URL, or an empty owner, repository or token.
    pub fn new(config: &GitHubConfig) -> Result<Self, RemoteError> {
        let mut http = HttpConfig::new(
            "github",
            &config.api_url,
            Auth::Bearer(config.token.clone()),
        );
        http.default_headers = vec![
            (
                "accept".to_owned(),
                "application/vnd.github+json".to_owned(),
            ),
            ("x-github-api-version".to_owned(), "2022-11-28".to_owned()),
        ];
        Self::with_http(http, config)
    }

    /// Builds a client with explicit HTTP settings (timeouts, rate-limit waits).
    ///
    /// # Errors
    /// As [`GitHubClient::new`].
    pub fn with_http(http: HttpConfig, config: &GitHubConfig) -> Result<Self, RemoteError> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(&config.owner) || !valid(&config.repo) {
            return Err(RemoteError::Invalid {
                service: "github",
                message: format!("bad repository {}/{}", config.owner, config.repo),
            });
        }
        if config.token.trim().is_empty() {
            return Err(RemoteError::Invalid {
                service: "github",
                message: "no token configured".to_owned(),
            });
        }
        let mut graphql = http.clone();
        graphql.base_url = graphql_url(&http.base_url);
        Ok(Self {
            http: HttpClient::new(http)?,
            graphql: HttpClient::new(graphql)?,
            owner: config.owner.clone(),
            repo: config.repo.clone(),
        })
    }

    /// The HTTP client.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The same settings aimed at the GraphQL endpoint ([`graphql_url`]).
    #[must_use]
    pub fn graphql(&self) -> &HttpClient {
        &self.graphql
    }

    /// The repository name.
    #[must_use]
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The owner.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// `/repos/<owner>/<repo><rest>`.
    #[must_use]
    pub fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// Checks the repository is visible with this token.
    ///
    /// # Errors
    /// [`RemoteError`], e.g. `Unauthorized` for a revoked token, `NotFound` for a wrong name.
    pub async fn check(&self) -> Result<(), RemoteError> {
        self.http
            .get_json::<serde_json::Value>(&self.path(""), &[])
            .await
            .map(|_| ())
    }

    /// Posts a comment on an issue or pull request.
    ///
    /// # Errors
    /// [`RemoteError`].
    pub async fn comment(&self, number: i64, body: &str) -> Result<wire::Comment, RemoteError> {
        self.http
            .send_json(
                Method::POST,
                &self.path(&format!("/issues/{number}/comments")),
                &json!({ "body": body }),
            )
            .await
    }

    /// Adds labels to an issue or pull request.
    ///
    /// # Errors
    /// [`RemoteError`].
    pub async fn add_labels(&self, number: i64, labels: &[String]) -> Result<(), RemoteError> {
        self.http
            .send_json::<serde_json::Value>(
                Method::POST,
                &self.path(&format!("/issues/{number}/labels")),
                &json!({ "labels": labels }),
            )
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_lives_beside_the_rest_root() {
        assert_eq!(
            graphql_url("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            graphql_url("https://ghe.example/api/v3/"),
            "https://ghe.example/api/graphql"
        );
        assert_eq!(
            graphql_url("http://127.0.0.1:4000"),
            "http://127.0.0.1:4000/graphql"
        );
    }

    #[test]
    fn graphql_errors_are_typed() {
        let e = |v: serde_json::Value| graphql_error(v.as_array().unwrap(), "pull request #3");
        let missing = e(
            json!([{"type": "NOT_FOUND", "message": "Could not resolve to a node with the global id of 'x'"}]),
        );
        assert!(
            matches!(&missing, RemoteError::NotFound { what, .. } if what.starts_with("pull request #3")),
            "{missing:?}"
        );
        assert!(matches!(
            e(json!([{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}])),
            RemoteError::Forbidden { .. }
        ));
        assert!(matches!(
            e(json!([{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}])),
            RemoteError::RateLimited { .. }
        ));
        let other = e(json!([{"message": "a"}, {"type": "UNPROCESSABLE", "message": "b"}]));
        assert!(
            matches!(&other, RemoteError::Status { status: 422, message, .. } if message == "a; b"),
            "{other:?}"
        );
    }

    #[test]
    fn bad_repositories_and_missing_tokens_are_refused() {
        let cfg = |owner: &str, token: &str| GitHubConfig {
            api_url: DEFAULT_API_URL.to_owned(),
            owner: owner.to_owned(),
            repo: "r".to_owned(),
            token: token.to_owned(),
        };
        assert!(GitHubClient::new(&cfg("acme", "t")).is_ok());
        assert_eq!(
            GitHubClient::new(&cfg("../x", "t")).unwrap_err().code(),
            "invalid"
        );
        assert_eq!(
            GitHubClient::new(&cfg("acme", " ")).unwrap_err().code(),
            "invalid"
        );
    }
}
