//! A PostgreSQL schema of its own for each test.
//!
//! [`TestSchema::create`] reads `FOREMAN_TEST_POSTGRES_URL`, creates a fresh schema and hands
//! back a URL whose connections use it as their `search_path`, so the code under test needs no
//! schema awareness at all. [`TestSchema::drop_schema`] removes it with everything in it.
//!
//! - Variable unset and not under CI (`CI` is not `true`): a notice is printed and `None` is
//!   returned, so the test skips.
//! - Under `CI=true`: the variable defaults to [`CI_DEFAULT_URL`], and an unreachable server
//!   panics — a missing database must fail CI, not silently skip.

use sea_orm::{ConnectionTrait, Database};

/// The variable naming the PostgreSQL server to test against.
pub const URL_VAR: &str = "FOREMAN_TEST_POSTGRES_URL";

/// The URL assumed under CI when [`URL_VAR`] is unset.
pub const CI_DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Whether we run under CI (`CI=true` or `CI=1`).
#[must_use]
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A schema created for one test.
#[derive(Debug)]
pub struct TestSchema {
    base_url: String,
    schema: String,
    url: String,
}

impl TestSchema {
    /// Creates a schema named `test_<label>_<unique>`; `None` (after printing a notice) when
    /// PostgreSQL testing is not configured outside CI.
    ///
    /// # Panics
    /// Under CI, when the server cannot be reached or the schema cannot be created.
    pub async fn create(label: &str) -> Option<Self> {
        let base_url = match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ if under_ci() => CI_DEFAULT_URL.to_owned(),
            _ => {
                eprintln!("notice: {URL_VAR} is not set; skipping PostgreSQL test {label}");
                return None;
            }
        };
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(24)
            .collect();
        let schema = format!("test_{label}_{}", uuid::Uuid::now_v7().simple());
        let result = async {
            let db = Database::connect(base_url.as_str()).await?;
            db.execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await?;
            db.close().await
        }
        .await;
        if let Err(e) = result {
            assert!(
                !under_ci(),
                "PostgreSQL at {base_url} is unreachable under CI: {e}"
            );
            eprintln!("notice: PostgreSQL at {base_url} is unreachable ({e}); skipping {label}");
            return None;
        }
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
        Some(Self {
            base_url,
            schema,
            url,
        })
    }

    /// The URL to connect with: the server of [`URL_VAR`], with this schema as search path.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema name.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Drops the schema and everything in it. Failures are printed, not raised: cleanup must
    /// not hide the test's own outcome.
    pub async fn drop_schema(self) {
        let result = async {
            let db = Database::connect(self.base_url.as_str()).await?;
            db.execute_unprepared(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ))
            .await?;
            db.close().await
        }
        .await;
        if let Err(e) = result {
            eprintln!("warning: could not drop test schema {}: {e}", self.schema);
        }
    }
}
