//! Projects: one repository with its tracker and git settings. Every ticket belongs to one.

use serde::{Deserialize, Serialize};

/// The project tickets belong to when none is named.
pub const DEFAULT_PROJECT: &str = "default";

/// A project as the rest of the system sees it (configuration lives in `foreman-config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Slug used in filters and storage.
    pub name: String,
    /// Where the repository is cloned from.
    pub clone_url: String,
    /// The branch pull requests target.
    pub default_branch: String,
}

/// Whether `name` is a valid project slug: 1 to 64 of `[a-z0-9_-]`, starting alphanumeric.
#[must_use]
pub fn is_valid_project_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_names() {
        assert!(is_valid_project_name(DEFAULT_PROJECT));
        assert!(is_valid_project_name("web-app_2"));
        assert!(!is_valid_project_name(""));
        assert!(!is_valid_project_name("-x"));
        assert!(!is_valid_project_name("Web"));
        assert!(!is_valid_project_name("a/b"));
    }
}
