//! Secret scanning: finds credentials in text bound for a model and redacts them.
//!
//! Every piece of text the agent sends to an LLM (selected files, tool results, command output,
//! the task itself) passes [`SecretScanner::redact`] first. Matches are replaced by
//! `[REDACTED:<kind>]`. Files whose names mark them as secret stores ([`is_secret_file`]) are
//! never read at all, and writes that would add a private key or a token are refused
//! ([`SecretScanner::strong_findings`]).

use std::borrow::Cow;

use regex::{Regex, RegexSet};

use crate::error::SetupError;

/// The text that replaces a secret, followed by its kind and `]`.
pub const REDACTION_PREFIX: &str = "[REDACTED:";

/// One secret found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it looks like (`aws_access_key`, `github_token`, `private_key`, ...).
    pub kind: String,
    /// Byte offset where the redacted part starts.
    pub start: usize,
    /// Byte offset where it ends.
    pub end: usize,
    /// Whether it is unambiguous (a key or token format, not an assignment heuristic).
    pub strong: bool,
}

type Validator = fn(&str) -> bool;

#[derive(Debug)]
struct Rule {
    kind: String,
    regex: Regex,
    /// Capture group holding the secret (0: the whole match).
    group: usize,
    strong: bool,
    validate: Option<Validator>,
}

/// Finds and redacts secrets. Cheap to share; build once per runner.
#[derive(Debug)]
pub struct SecretScanner {
    rules: Vec<Rule>,
    set: RegexSet,
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

fn assignment_value(s: &str) -> bool {
    // A value from an unquoted assignment: skip type names and words (`String`, `Option`),
    // keep anything with a digit or long enough to be a generated credential.
    has_digit(s) || s.len() >= 16
}

const BUILTIN: &[(&str, &str, usize, bool, Option<Validator>)] = &[
    (
        "private_key",
        r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        0,
        true,
        None,
    ),
    (
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b",
        0,
        true,
        None,
    ),
    (
        "aws_secret_key",
        r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9/+=]{40})"#,
        1,
        true,
        None,
    ),
    (
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        0,
        true,
        None,
    ),
    (
        "gitlab_token",
        r"\bgl(?:pat|dt|rt|ptt|ft|soat|cbt|imt)-[A-Za-z0-9_\-]{20,}",
        0,
        true,
        None,
    ),
    (
        "slack_token",
        r"\b(?:xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-\d-[A-Za-z0-9\-]{10,})",
        0,
        true,
        None,
    ),
    (
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,}",
        0,
        true,
        None,
    ),
    (
        "sk_key",
        r"\bsk-(?:ant-|proj-|svcacct-|or-)?[A-Za-z0-9_\-]{20,}",
        0,
        true,
        Some(has_digit),
    ),
    (
        "stripe_key",
        r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b",
        0,
        true,
        None,
    ),
    (
        "url_credentials",
        r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]+:([^/\s@]{3,})@",
        1,
        false,
        None,
    ),
    (
        "secret_assignment",
        r#"(?i)[A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key)[A-Za-z0-9_.\-]*["']?\s*(?::=|=>|=|:)\s*["']([^"'\s]{6,})["']"#,
        1,
        false,
        None,
    ),
    (
        "secret_assignment",
        r#"(?m)(?:^|\s)(?:export[ \t]+)?[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY)[A-Z0-9_]*[ \t]*=[ \t]*([^\s"'$#]{6,})"#,
        1,
        false,
        Some(assignment_value),
    ),
    (
        "secret_assignment",
        r#"(?im)(?:^|\s)[a-z0-9_.\-]*(?:password|passwd|secret|token|api[_\-]?key|access[_\-]?key)[a-z0-9_.\-]*[ \t]*:[ \t]+([^\s"'#{}\[\]$,;()<>]{6,})[ \t]*$"#,
        1,
        false,
        Some(assignment_value),
    ),
];

impl SecretScanner {
    /// The built-in rules plus `extra` patterns (Rust regex syntax; a pattern with a capture
    /// group redacts only the first group).
    ///
    /// # Errors
    /// [`SetupError::InvalidPattern`] naming the pattern that does not compile.
    pub fn new(extra: &[String]) -> Result<Self, SetupError> {
        let mut rules = Vec::with_capacity(BUILTIN.len() + extra.len());
        for &(kind, pattern, group, strong, validate) in BUILTIN {
            let regex = Regex::new(pattern).map_err(|e| SetupError::InvalidPattern {
                pattern: pattern.to_owned(),
                message: e.to_string(),
            })?;
            rules.push(Rule {
                kind: kind.to_owned(),
                regex,
                group,
                strong,
                validate,
            });
        }
        for pattern in extra {
            let regex = Regex::new(pattern).map_err(|e| SetupError::InvalidPattern {
                pattern: pattern.clone(),
                message: e.to_string(),
            })?;
            let group = usize::from(regex.captures_len() > 1);
            rules.push(Rule {
                kind: "custom".to_owned(),
                regex,
                group,
                strong: true,
                validate: None,
            });
        }
        let set = RegexSet::new(rules.iter().map(|r| r.regex.as_str())).map_err(|e| {
            SetupError::InvalidPattern {
                pattern: "(set)".to_owned(),
                message: e.to_string(),
            }
        })?;
        Ok(Self { rules, set })
    }

    /// The built-in rules only.
    #[must_use]
    pub fn builtin() -> Self {
        #[allow(
            clippy::expect_used,
            reason = "the built-in patterns are checked by tests"
        )]
        Self::new(&[]).expect("built-in secret patterns compile")
    }

    /// Every secret in `text`, ordered by position, overlaps merged into the earliest finding.
    #[must_use]
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let hits = self.set.matches(text);
        if !hits.matched_any() {
            return Vec::new();
        }
        let mut found = Vec::new();
        for i in hits.iter() {
            let rule = &self.rules[i];
            for caps in rule.regex.captures_iter(text) {
                let Some(m) = caps.get(rule.group).or_else(|| caps.get(0)) else {
                    continue;
                };
                if m.as_str().starts_with(REDACTION_PREFIX) {
                    continue;
                }
                if rule.validate.is_some_and(|v| !v(m.as_str())) {
                    continue;
                }
                found.push(Finding {
                    kind: rule.kind.clone(),
                    start: m.start(),
                    end: m.end(),
                    strong: rule.strong,
                });
            }
        }
        found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        let mut merged: Vec<Finding> = Vec::with_capacity(found.len());
        for f in found {
            match merged.last_mut() {
                Some(last) if f.start < last.end => {
                    last.end = last.end.max(f.end);
                    last.strong |= f.strong;
                }
                _ => merged.push(f),
            }
        }
        merged
    }

    /// `text` with every secret replaced by `[REDACTED:<kind>]`, and the findings.
    #[must_use]
    pub fn redact<'a>(&self, text: &'a str) -> (Cow<'a, str>, Vec<Finding>) {
        let findings = self.scan(text);
        if findings.is_empty() {
            return (Cow::Borrowed(text), findings);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in &findings {
            out.push_str(&text[at..f.start]);
            out.push_str(REDACTION_PREFIX);
            out.push_str(&f.kind);
            out.push(']');
            at = f.end;
        }
        out.push_str(&text[at..]);
        (Cow::Owned(out), findings)
    }

    /// The unambiguous secrets (keys and tokens, not assignment heuristics) in `text`: a write
    /// that would add one is refused.
    #[must_use]
    pub fn strong_findings(&self, text: &str) -> Vec<Finding> {
        let mut v = self.scan(text);
        v.retain(|f| f.strong);
        v
    }
}

/// Whether a file's name marks it as a secret store that is never read or written:
/// `.env*`, `*.pem`, `*.key`, `*.p12`, `*.pfx`, `*.jks`, `*.keystore`, SSH private keys
/// (`id_rsa`, `id_ed25519`, ...), `.netrc`, `.pgpass`, `.npmrc`, `.pypirc`,
/// `.git-credentials`. Matching is on the last path component, case-insensitively.
#[must_use]
pub fn is_secret_file(path: &str) -> bool {
    let name = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    if name.starts_with(".env") {
        return true;
    }
    const EXT: &[&str] = &[".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"];
    if EXT.iter().any(|e| name.ends_with(e)) {
        return true;
    }
    const SSH: &[&str] = &["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"];
    if SSH.iter().any(|k| name == *k) {
        return true;
    }
    const NAMES: &[&str] = &[
        ".netrc",
        "_netrc",
        ".pgpass",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
    ];
    NAMES.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_compile() {
        let s = SecretScanner::builtin();
        assert!(s.rules.len() >= 10);
    }

    #[test]
    fn redacts_and_keeps_the_rest() {
        let s = SecretScanner::builtin();
        let text = "key = AKIAIOSFODNN7EXAMPLE\nnothing here";
        let (out, f) = s.redact(text);
        assert_eq!(out, "key = [REDACTED:aws_access_key]\nnothing here");
        assert_eq!(f.len(), 1);
        assert!(f[0].strong);
    }

    #[test]
    fn code_that_names_secrets_is_left_alone() {
        let s = SecretScanner::builtin();
        for code in [
            "pub struct Config { token: String, password: Option<String> }",
            "    token: String,",
            "fn login(password: &str) -> bool {",
            "let token = get_token();",
            "api_key: ApiKey",
            "sk-learn-is-not-a-key-at-all-really",
        ] {
            assert!(s.scan(code).is_empty(), "{code}");
        }
    }

    #[test]
    fn line_prefixes_of_tool_output_do_not_hide_assignments() {
        let s = SecretScanner::builtin();
        for text in [
            "    16\tDB_PASSWORD=hunter2hunter2x9",
            "config/app.env:3: API_TOKEN=abc123def456",
            "    17\tapi_token: tok_9f8e7d6c5b4a3210",
        ] {
            let (out, f) = s.redact(text);
            assert_eq!(f.len(), 1, "{text}");
            assert!(out.contains("[REDACTED:secret_assignment]"), "{out}");
        }
    }

    #[test]
    fn already_redacted_text_is_stable() {
        let s = SecretScanner::builtin();
        let (once, _) = s.redact("password = \"hunter2hunter2\"");
        let (twice, f) = s.redact(&once);
        assert_eq!(once, twice);
        assert!(f.is_empty());
    }

    #[test]
    fn secret_file_names() {
        for p in [
            ".env",
            "a/.env.local",
            "certs/server.PEM",
            "tls.key",
            "home/id_rsa",
            ".npmrc",
        ] {
            assert!(is_secret_file(p), "{p}");
        }
        for p in [
            "src/env.rs",
            "keys.rs",
            "id_rsa.pub",
            "README.md",
            "environment.md",
        ] {
            assert!(!is_secret_file(p), "{p}");
        }
    }
}
