//! Integration tests of foreman-secrets: the positive and negative corpus against the default
//! rules, gitleaks-format rules files, and diff scanning.

mod corpus;
mod diff;
mod props;
mod rules_file;
mod support;
