//! Rules as data: the gitleaks configuration format, parsed and compiled.
//!
//! A rules file holds `[[rules]]` tables with `id`, `description`, `regex`, optional
//! `secretGroup`, `entropy`, `keywords`, `tags` and `[rules.allowlist]` (`regexes`,
//! `stopwords`, `regexTarget` of `secret`, `match` or `line`, `condition` of `OR` or `AND`),
//! plus an optional top-level `[allowlist]` applying to every rule. gitleaks' `[[allowlists]]`
//! arrays are read too. Keys that concern files or commits rather than text (`path`, `paths`,
//! `commits`, `[extend]`) are accepted and ignored; a rule with a `path` but no `regex` is
//! skipped. Rules tagged `heuristic` are guesses (assignments, URLs), not key formats: their
//! findings are not [`strong`](crate::Finding::strong).
//!
//! Regexes use Rust syntax (which reads nearly every RE2 pattern gitleaks ships) and compile
//! under a size limit, so a rule cannot make the scanner unbounded.

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::entropy::shannon_entropy;

/// The shipped default rules (gitleaks format).
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// Compiled size limit of one rule's regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lazy-DFA cache limit of one rule's regex.
const DFA_SIZE_LIMIT: usize = 2 << 20;

/// The tag that marks a rule as a heuristic.
pub const HEURISTIC_TAG: &str = "heuristic";

/// Rules that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The rules text is not TOML, or its top level has the wrong shape.
    #[error("rules {source_name} are not valid gitleaks TOML: {message}")]
    Toml {
        /// Where the rules came from (a file path, `default`).
        source_name: String,
        /// The parser's message.
        message: String,
    },
    /// One rule is malformed: a missing id or regex, a regex that does not compile, a capture
    /// group it does not have, a field of the wrong type.
    #[error("rule {rule:?} in {source_name}: {problem}")]
    InvalidRule {
        /// Where the rules came from.
        source_name: String,
        /// The rule's id, or `#<n>` (1-based) when it has none.
        rule: String,
        /// What is wrong.
        problem: String,
    },
    /// A plain pattern (from `runner.secret_patterns`) does not compile.
    #[error("invalid secret pattern {pattern:?}: {message}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// The regex error.
        message: String,
    },
}

impl RulesError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Toml { .. } => "invalid_rules_toml",
            Self::InvalidRule { .. } => "invalid_secret_rule",
            Self::InvalidPattern { .. } => "invalid_secret_pattern",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAllowlist {
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    condition: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    id: Option<String>,
    regex: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    allowlist: Option<RawAllowlist>,
    #[serde(default)]
    allowlists: Vec<RawAllowlist>,
}

/// What an allowlist regex is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The secret (the capture group, or the whole match).
    Secret,
    /// The whole match.
    Match,
    /// The line holding the start of the match.
    Line,
}

/// Exceptions: a candidate they match is not a finding.
#[derive(Debug, Clone)]
pub(crate) struct Allowlist {
    regexes: Vec<Regex>,
    /// Lowercased.
    stopwords: Vec<String>,
    target: Target,
    all: bool,
}

impl Allowlist {
    /// Whether the candidate is allowed. `lower_secret` is the secret lowercased.
    pub(crate) fn allows(&self, secret: &str, lower_secret: &str, whole: &str, line: &str) -> bool {
        let target = match self.target {
            Target::Secret => secret,
            Target::Match => whole,
            Target::Line => line,
        };
        let by_regex = self.regexes.iter().any(|r| r.is_match(target));
        let by_word = self
            .stopwords
            .iter()
            .any(|w| lower_secret.contains(w.as_str()));
        if self.all {
            (self.regexes.is_empty() || by_regex) && (self.stopwords.is_empty() || by_word)
        } else {
            by_regex || by_word
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) regex: Regex,
    /// Capture group holding the secret (0: the whole match).
    pub(crate) group: usize,
    pub(crate) entropy: Option<f64>,
    /// Lowercased; empty: always run.
    pub(crate) keywords: Vec<String>,
    pub(crate) allowlists: Vec<Allowlist>,
    pub(crate) strong: bool,
}

impl Rule {
    /// Whether a candidate secret passes the entropy gate.
    pub(crate) fn entropy_ok(&self, secret: &str) -> bool {
        self.entropy
            .is_none_or(|min| shannon_entropy(secret) >= min)
    }
}

/// Compiles a regex under the size limits.
pub(crate) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

/// The rule made of one plain pattern: id `custom`, the first capture group (if any) is the
/// secret, no keywords, always strong.
pub(crate) fn plain(pattern: &str) -> Result<Rule, RulesError> {
    let regex = compile(pattern).map_err(|e| RulesError::InvalidPattern {
        pattern: pattern.to_owned(),
        message: e.to_string(),
    })?;
    let group = usize::from(regex.captures_len() > 1);
    Ok(Rule {
        id: "custom".to_owned(),
        regex,
        group,
        entropy: None,
        keywords: Vec::new(),
        allowlists: Vec::new(),
        strong: true,
    })
}

/// Parsed rules file: its rules and its global allowlists.
#[derive(Debug, Default)]
pub(crate) struct RuleFile {
    pub(crate) rules: Vec<Rule>,
    pub(crate) allowlists: Vec<Allowlist>,
}

fn allowlist(
    raw: RawAllowlist,
    problem: impl Fn(String) -> RulesError,
) -> Result<Allowlist, RulesError> {
    let target = match raw.regex_target.as_deref() {
        None | Some("secret") => Target::Secret,
        Some("match") => Target::Match,
        Some("line") => Target::Line,
        Some(other) => {
            return Err(problem(format!(
                "allowlist regexTarget {other:?} is not one of secret, match, line"
            )));
        }
    };
    let all = match raw.condition.as_deref() {
        None => false,
        Some(c) if c.eq_ignore_ascii_case("or") => false,
        Some(c) if c.eq_ignore_ascii_case("and") => true,
        Some(other) => {
            return Err(problem(format!(
                "allowlist condition {other:?} is not OR or AND"
            )));
        }
    };
    let mut regexes = Vec::with_capacity(raw.regexes.len());
    for r in &raw.regexes {
        regexes.push(
            compile(r)
                .map_err(|e| problem(format!("allowlist regex {r:?} does not compile: {e}")))?,
        );
    }
    Ok(Allowlist {
        regexes,
        stopwords: raw
            .stopwords
            .iter()
            .filter(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
            .collect(),
        target,
        all,
    })
}

fn rule_name(value: &toml::Value, index: usize) -> String {
    value
        .get("id")
        .and_then(toml::Value::as_str)
        .map_or_else(|| format!("#{}", index + 1), str::to_owned)
}

/// Parses and compiles a gitleaks-format rules text. `source_name` names it in errors.
pub(crate) fn parse(source_name: &str, text: &str) -> Result<RuleFile, RulesError> {
    let toml_err = |message: String| RulesError::Toml {
        source_name: source_name.to_owned(),
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| toml_err(e.to_string()))?;
    let mut out = RuleFile::default();
    let global_problem = |problem: String| RulesError::InvalidRule {
        source_name: source_name.to_owned(),
        rule: "[allowlist]".to_owned(),
        problem,
    };
    for key in ["allowlist", "allowlists"] {
        let Some(v) = table.get(key) else { continue };
        let raws: Vec<RawAllowlist> = match v {
            toml::Value::Array(a) => a
                .iter()
                .map(|x| x.clone().try_into())
                .collect::<Result<_, _>>()
                .map_err(|e: toml::de::Error| global_problem(e.to_string()))?,
            other => vec![
                other
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| global_problem(e.to_string()))?,
            ],
        };
        for raw in raws {
            out.allowlists.push(allowlist(raw, global_problem)?);
        }
    }
    let rules = match table.get("rules") {
        None => return Ok(out),
        Some(toml::Value::Array(a)) => a,
        Some(_) => {
            return Err(toml_err(
                "`rules` must be an array of tables ([[rules]])".into(),
            ));
        }
    };
    for (i, value) in rules.iter().enumerate() {
        let name = rule_name(value, i);
        let problem = |problem: String| RulesError::InvalidRule {
            source_name: source_name.to_owned(),
            rule: name.clone(),
            problem,
        };
        let raw: RawRule = value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| problem(e.message().to_owned()))?;
        let Some(pattern) = raw.regex else {
            if raw.path.is_some() {
                // a file-name rule: file names are the commit policy's concern, not text's
                continue;
            }
            return Err(problem("has no regex".into()));
        };
        let Some(id) = raw.id.filter(|id| !id.trim().is_empty()) else {
            return Err(problem("has no id".into()));
        };
        let regex =
            compile(&pattern).map_err(|e| problem(format!("regex does not compile: {e}")))?;
        let group = raw.secret_group.unwrap_or(0);
        if group >= regex.captures_len() {
            return Err(problem(format!(
                "secretGroup {group} but the regex has {} capture group(s)",
                regex.captures_len() - 1
            )));
        }
        if let Some(e) = raw.entropy
            && !(0.0..=8.0).contains(&e)
        {
            return Err(problem(format!("entropy {e} is outside 0..=8")));
        }
        let mut allowlists = Vec::new();
        for a in raw.allowlist.into_iter().chain(raw.allowlists) {
            allowlists.push(allowlist(a, problem)?);
        }
        out.rules.push(Rule {
            id,
            regex,
            group,
            entropy: raw.entropy,
            keywords: raw
                .keywords
                .iter()
                .filter(|k| !k.is_empty())
                .map(|k| k.to_lowercase())
                .collect(),
            allowlists,
            strong: !raw.tags.iter().any(|t| t == HEURISTIC_TAG),
        });
    }
    Ok(out)
}
