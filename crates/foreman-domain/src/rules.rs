//! Validation rules: per-project checks the pipeline runs over each task's diff after lint.
//!
//! A rule is a `regex` (a violation per matching added line), `missing` (a violation when a
//! required pattern is absent from a matched changed file) or `forbidden_path` (a violation per
//! changed file whose path matches a glob), with a severity (`error` fails the task's gate,
//! `warning` is reported to the quality reviewer and in the pull request) and `applies_to`
//! globs. A rule a reviewer proposes is `proposed` and never enforced until a person accepts it.
//!
//! Everything here is pure: [`validate_rules`] turns what a client sent into rules (or an
//! error naming `rules[i].<field>`), [`RuleSet::compile`] compiles them once, and
//! [`RuleSet::evaluate`] runs them over a parsed diff ([`parse_diff`]). The rules of a project
//! are one JSON document in the settings store ([`load_rules`], [`save_rules`]).

mod diff;

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use diff::{AddedLine, ChangedFile, FileChange, parse_diff};

use crate::error::{StoreError, StoreResult};
use crate::ids::{TaskId, TicketId};
use crate::settings::SettingsStore;
use crate::wire::wire_enum;

/// Most rules a project may have.
pub const MAX_RULES: usize = 500;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 4096;
/// Compiled size a regex may take (and its lazy DFA's cache): larger ones are refused as
/// catastrophic.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Most violations one evaluation reports (the rest are counted, not listed).
pub const MAX_VIOLATIONS: usize = 1000;
/// Longest excerpt of a violating line, in characters.
pub const MAX_EXCERPT: usize = 200;
/// The `format` of an exported rule document.
pub const EXPORT_FORMAT: &str = "foreman-rules/1";

/// The settings key of a project's rules.
#[must_use]
pub fn settings_key(project: &str) -> String {
    format!("rules/{project}")
}

wire_enum! {
    /// What a rule checks.
    RuleKind, "rule kind", default Regex {
        /// A pattern that must not appear on an added line.
        Regex = "regex",
        /// A pattern that must appear in each matched changed file.
        Missing = "missing",
        /// A glob no changed file's path may match.
        ForbiddenPath = "forbidden_path",
    }
}

wire_enum! {
    /// What a violation does.
    RuleSeverity, "severity", default Error {
        /// Fails the task's gate: the implementer must fix it.
        Error = "error",
        /// Reported to the quality reviewer and in the pull request.
        Warning = "warning",
    }
}

wire_enum! {
    /// Whether a rule is enforced.
    RuleStatus, "status", default Accepted {
        /// Enforced.
        Accepted = "accepted",
        /// Proposed by a reviewer, waiting for a person: not enforced.
        Proposed = "proposed",
        /// Turned down by a person: not enforced.
        Rejected = "rejected",
    }
}

wire_enum! {
    /// Who wrote a rule.
    RuleSource, "source", default Person {
        /// A person, through the API.
        Person = "person",
        /// The quality reviewer, in its verdict.
        Reviewer = "reviewer",
    }
}

/// The ticket and task whose review proposed a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposedBy {
    /// The ticket.
    pub ticket_id: TicketId,
    /// The task.
    pub task_id: TaskId,
}

/// A stored validation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationRule {
    /// Slug, unique in the project.
    pub id: String,
    /// What it checks.
    pub kind: RuleKind,
    /// A regex (`regex`, `missing`) or a glob (`forbidden_path`).
    pub pattern: String,
    /// What a violation does.
    pub severity: RuleSeverity,
    /// Globs of the files it applies to; empty: every file.
    pub applies_to: Vec<String>,
    /// Text for people, shown with each violation.
    pub message: Option<String>,
    /// Whether it is enforced.
    pub status: RuleStatus,
    /// Who wrote it.
    pub source: RuleSource,
    /// Why it exists.
    pub rationale: Option<String>,
    /// The review that proposed it.
    pub proposed_by: Option<ProposedBy>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl ValidationRule {
    /// Whether the pipeline enforces it.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        self.status == RuleStatus::Accepted
    }

    /// Whether `other` checks the same thing (same kind and pattern).
    #[must_use]
    pub fn same_check(&self, kind: RuleKind, pattern: &str) -> bool {
        self.kind == kind && self.pattern == pattern
    }
}

/// A rule as a client sends it: everything but `kind` and `pattern` may be left out. Unknown
/// fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// Slug; generated from the kind and pattern when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// What it checks.
    pub kind: RuleKind,
    /// A regex or a glob.
    pub pattern: String,
    /// Default `error`.
    #[serde(default)]
    pub severity: RuleSeverity,
    /// Default: every file.
    #[serde(default)]
    pub applies_to: Vec<String>,
    /// Text for people.
    #[serde(default)]
    pub message: Option<String>,
    /// Default `accepted`.
    #[serde(default)]
    pub status: RuleStatus,
    /// Default `person`.
    #[serde(default)]
    pub source: RuleSource,
    /// Why it exists.
    #[serde(default)]
    pub rationale: Option<String>,
    /// The review that proposed it.
    #[serde(default)]
    pub proposed_by: Option<ProposedBy>,
    /// Kept from an exported or fetched rule; otherwise now (or the stored rule's).
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Accepted and ignored (the time of the write is recorded).
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<&ValidationRule> for RuleInput {
    fn from(r: &ValidationRule) -> Self {
        Self {
            id: Some(r.id.clone()),
            kind: r.kind,
            pattern: r.pattern.clone(),
            severity: r.severity,
            applies_to: r.applies_to.clone(),
            message: r.message.clone(),
            status: r.status,
            source: r.source,
            rationale: r.rationale.clone(),
            proposed_by: r.proposed_by.clone(),
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
        }
    }
}

/// A refused rule (or rule set), naming the field: `rules[2].pattern`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// The field, as a path into the request.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl RuleError {
    fn at(i: usize, field: &str, message: impl Into<String>) -> Self {
        Self {
            field: if field.is_empty() {
                format!("rules[{i}]")
            } else {
                format!("rules[{i}].{field}")
            },
            message: message.into(),
        }
    }

    /// The same error under another path prefix (`document.rules[2].pattern`).
    #[must_use]
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

/// Parses the JSON rules a client sent, one by one so that an error names the rule: unknown
/// fields, missing or mistyped ones.
///
/// # Errors
/// The first rule that does not parse, as `rules[i]: <serde's message>`, or too many rules.
pub fn parse_inputs(values: &[serde_json::Value]) -> Result<Vec<RuleInput>, RuleError> {
    if values.len() > MAX_RULES {
        return Err(RuleError {
            field: "rules".into(),
            message: format!("at most {MAX_RULES} rules, got {}", values.len()),
        });
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<RuleInput>(v.clone())
                .map_err(|e| RuleError::at(i, "", e.to_string()))
        })
        .collect()
}

/// Whether `id` is a rule slug: 1 to 64 of `[a-z0-9_.-]`, starting alphanumeric.
#[must_use]
pub fn is_valid_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// The id a rule without one gets: its kind and the first hex digits of the hash of its kind
/// and pattern (`regex-3f2a9c1d`).
#[must_use]
pub fn generated_id(kind: RuleKind, pattern: &str) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(pattern.as_bytes());
    let digest = hex::encode(h.finalize());
    format!("{}-{}", kind.as_str().replace('_', "-"), &digest[..10])
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => {
                format!(
                    "the pattern compiles larger than the {limit}-byte limit (catastrophic pattern)"
                )
            }
            other => format!("invalid regex: {}", other.to_string().replace('\n', " ")),
        })
}

fn compile_glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .map_err(|e| format!("invalid glob: {e}"))
}

/// Turns what a client sent into the project's rules, all or nothing: ids generated or checked
/// (slugs, unique), patterns compiled (a regex within [`REGEX_SIZE_LIMIT`], globs), at most
/// [`MAX_RULES`]. A rule already stored under the same id keeps its `created_at`; every rule's
/// `updated_at` is `now` unless it is unchanged.
///
/// # Errors
/// The first problem, naming `rules[i].<field>`.
pub fn validate_rules(
    inputs: Vec<RuleInput>,
    previous: &[ValidationRule],
    now: DateTime<Utc>,
) -> Result<Vec<ValidationRule>, RuleError> {
    if inputs.len() > MAX_RULES {
        return Err(RuleError {
            field: "rules".into(),
            message: format!("at most {MAX_RULES} rules, got {}", inputs.len()),
        });
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, r) in inputs.into_iter().enumerate() {
        let rule = validate_one(i, r, previous, now)?;
        if !seen.insert(rule.id.clone()) {
            return Err(RuleError::at(
                i,
                "id",
                format!("duplicate id {:?}", rule.id),
            ));
        }
        out.push(rule);
    }
    Ok(out)
}

fn validate_one(
    i: usize,
    r: RuleInput,
    previous: &[ValidationRule],
    now: DateTime<Utc>,
) -> Result<ValidationRule, RuleError> {
    if r.pattern.trim().is_empty() {
        return Err(RuleError::at(i, "pattern", "must not be empty"));
    }
    if r.pattern.len() > MAX_PATTERN_LEN {
        return Err(RuleError::at(
            i,
            "pattern",
            format!("at most {MAX_PATTERN_LEN} bytes, got {}", r.pattern.len()),
        ));
    }
    match r.kind {
        RuleKind::Regex | RuleKind::Missing => {
            compile_regex(&r.pattern).map_err(|m| RuleError::at(i, "pattern", m))?;
        }
        RuleKind::ForbiddenPath => {
            compile_glob(&r.pattern).map_err(|m| RuleError::at(i, "pattern", m))?;
        }
    }
    for (j, g) in r.applies_to.iter().enumerate() {
        if g.trim().is_empty() {
            return Err(RuleError::at(
                i,
                &format!("applies_to[{j}]"),
                "must not be empty",
            ));
        }
        compile_glob(g).map_err(|m| RuleError::at(i, &format!("applies_to[{j}]"), m))?;
    }
    if r.applies_to.len() > 64 {
        return Err(RuleError::at(i, "applies_to", "at most 64 globs"));
    }
    if r.message.as_ref().is_some_and(|m| m.len() > 1000) {
        return Err(RuleError::at(i, "message", "at most 1000 bytes"));
    }
    if r.rationale.as_ref().is_some_and(|m| m.len() > 4000) {
        return Err(RuleError::at(i, "rationale", "at most 4000 bytes"));
    }
    let id = match r.id {
        Some(id) if !is_valid_rule_id(&id) => {
            return Err(RuleError::at(
                i,
                "id",
                format!(
                    "{id:?} is not a slug (1 to 64 of a-z, 0-9, '-', '_', '.', starting alphanumeric)"
                ),
            ));
        }
        Some(id) => id,
        None => generated_id(r.kind, &r.pattern),
    };
    let before = previous.iter().find(|p| p.id == id);
    let mut rule = ValidationRule {
        id,
        kind: r.kind,
        pattern: r.pattern,
        severity: r.severity,
        applies_to: r.applies_to,
        message: r.message.filter(|m| !m.trim().is_empty()),
        status: r.status,
        source: r.source,
        rationale: r.rationale.filter(|m| !m.trim().is_empty()),
        proposed_by: r.proposed_by,
        created_at: before.map_or_else(|| r.created_at.unwrap_or(now), |b| b.created_at),
        updated_at: now,
    };
    if let Some(b) = before {
        let mut same = rule.clone();
        same.updated_at = b.updated_at;
        if &same == b {
            rule.updated_at = b.updated_at;
        }
    }
    Ok(rule)
}

/// Sets the status of rule `id`: the changed rule, `None` when there is no such rule. Setting
/// the status a rule already has changes nothing (and answers the rule).
pub fn set_status(
    rules: &mut [ValidationRule],
    id: &str,
    status: RuleStatus,
    now: DateTime<Utc>,
) -> Option<ValidationRule> {
    let r = rules.iter_mut().find(|r| r.id == id)?;
    if r.status != status {
        r.status = status;
        r.updated_at = now;
    }
    Some(r.clone())
}

/// A rule the quality reviewer proposes in its verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleProposal {
    /// What it checks.
    pub kind: RuleKind,
    /// A regex or a glob.
    pub pattern: String,
    /// Default `error` once accepted.
    pub severity: RuleSeverity,
    /// Globs of the files it applies to.
    pub applies_to: Vec<String>,
    /// Text for people.
    pub message: Option<String>,
    /// Why the reviewer proposes it.
    pub rationale: Option<String>,
}

/// Adds `proposal` to `rules` as a `proposed` rule from the reviewer: `Ok(None)` when a rule
/// with the same kind and pattern exists already (whatever its status, so a rejected rule is
/// not proposed again), the new rule otherwise. Its id is generated, suffixed if taken.
///
/// # Errors
/// A proposal that would not validate (bad pattern, too many rules), naming `rules[0]`.
pub fn propose(
    rules: &mut Vec<ValidationRule>,
    proposal: RuleProposal,
    by: ProposedBy,
    now: DateTime<Utc>,
) -> Result<Option<ValidationRule>, RuleError> {
    if rules
        .iter()
        .any(|r| r.same_check(proposal.kind, &proposal.pattern))
    {
        return Ok(None);
    }
    if rules.len() >= MAX_RULES {
        return Err(RuleError {
            field: "rules".into(),
            message: format!("the project has {MAX_RULES} rules already"),
        });
    }
    let base = generated_id(proposal.kind, &proposal.pattern);
    let mut id = base.clone();
    let mut n = 2;
    while rules.iter().any(|r| r.id == id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    let input = RuleInput {
        id: Some(id),
        kind: proposal.kind,
        pattern: proposal.pattern,
        severity: proposal.severity,
        applies_to: proposal.applies_to,
        message: proposal.message,
        status: RuleStatus::Proposed,
        source: RuleSource::Reviewer,
        rationale: proposal.rationale,
        proposed_by: Some(by),
        created_at: None,
        updated_at: None,
    };
    let rule = validate_one(0, input, &[], now)?;
    rules.push(rule.clone());
    Ok(Some(rule))
}

/// Merges `incoming` into `current` by id: a rule with a known id replaces the stored one in
/// place, a new one is appended.
#[must_use]
pub fn merge_inputs(current: &[ValidationRule], incoming: Vec<RuleInput>) -> Vec<RuleInput> {
    let mut out: Vec<RuleInput> = current.iter().map(RuleInput::from).collect();
    for r in incoming {
        let id =
            r.id.clone()
                .unwrap_or_else(|| generated_id(r.kind, &r.pattern));
        match out
            .iter_mut()
            .find(|o| o.id.as_deref() == Some(id.as_str()))
        {
            Some(slot) => *slot = RuleInput { id: Some(id), ..r },
            None => out.push(RuleInput { id: Some(id), ..r }),
        }
    }
    out
}

/// An exported rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesDocument {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The project it was exported from.
    pub project: String,
    /// The rules, in order.
    pub rules: Vec<ValidationRule>,
}

/// The export document of a project's rules.
#[must_use]
pub fn export(project: &str, rules: &[ValidationRule]) -> RulesDocument {
    RulesDocument {
        format: EXPORT_FORMAT.into(),
        project: project.into(),
        rules: rules.to_vec(),
    }
}

/// The rules of an export document, as inputs (each rule parsed on its own, so an error names
/// `document.rules[i]`).
///
/// # Errors
/// Not an object, another `format`, or a rule that does not parse.
pub fn import_inputs(document: &serde_json::Value) -> Result<Vec<RuleInput>, RuleError> {
    let err = |field: &str, message: String| RuleError {
        field: format!("document{field}"),
        message,
    };
    let obj = document
        .as_object()
        .ok_or_else(|| err("", "must be an object".into()))?;
    for key in obj.keys() {
        if !matches!(key.as_str(), "format" | "project" | "rules") {
            return Err(err(
                &format!(".{key}"),
                "unknown field; expected format, project, rules".into(),
            ));
        }
    }
    match obj.get("format").and_then(serde_json::Value::as_str) {
        Some(EXPORT_FORMAT) => {}
        Some(other) => {
            return Err(err(
                ".format",
                format!("unsupported format {other:?}; expected {EXPORT_FORMAT:?}"),
            ));
        }
        None => return Err(err(".format", format!("required: {EXPORT_FORMAT:?}"))),
    }
    let rules = obj
        .get("rules")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| err(".rules", "required: an array of rules".into()))?;
    parse_inputs(rules).map_err(|e| e.under("document"))
}

/// One violation of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule.
    pub rule_id: String,
    /// The rule's severity.
    pub severity: RuleSeverity,
    /// The file, relative to the repository root.
    pub file: String,
    /// 1-based line in the new file (`regex` rules only).
    pub line: Option<u32>,
    /// The rule's message, or what it checks.
    pub message: String,
    /// The violating line, cut at [`MAX_EXCERPT`] characters (`regex` rules only).
    pub excerpt: Option<String>,
}

impl fmt::Display for Violation {
    /// One line for people and models: `src/a.rs:12: message [rule] — `excerpt``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": {} [{}]", self.message, self.rule_id)?;
        match &self.excerpt {
            Some(x) if !x.is_empty() => write!(f, " — `{x}`"),
            _ => Ok(()),
        }
    }
}

/// What an evaluation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The violations, at most [`MAX_VIOLATIONS`], by file then rule order.
    pub violations: Vec<Violation>,
    /// Violations found beyond the listed ones.
    pub omitted: usize,
}

impl Evaluation {
    /// Whether an `error` violation was found.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.violations
            .iter()
            .any(|v| v.severity == RuleSeverity::Error)
    }

    /// The violations of `severity`.
    pub fn of(&self, severity: RuleSeverity) -> impl Iterator<Item = &Violation> {
        self.violations
            .iter()
            .filter(move |v| v.severity == severity)
    }

    fn push(&mut self, v: Violation) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(v);
        } else {
            self.omitted += 1;
        }
    }
}

/// One compiled rule: its index in the set and what it needs beyond the pattern.
#[derive(Debug)]
struct Compiled {
    rule: ValidationRule,
    /// `None`: every file.
    applies_to: Option<GlobSet>,
    /// `missing` rules: the required pattern; `forbidden_path`: unused.
    regex: Option<Regex>,
    /// `forbidden_path` rules: the glob.
    glob: Option<GlobSet>,
}

impl Compiled {
    fn applies(&self, path: &str) -> bool {
        self.applies_to.as_ref().is_none_or(|g| g.is_match(path))
    }

    fn message(&self, default: impl FnOnce() -> String) -> String {
        self.rule.message.clone().unwrap_or_else(default)
    }
}

/// A rule set compiled once for evaluation: every `regex` rule in one [`RegexSet`] (one pass
/// per added line), `applies_to` and path globs as glob sets.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Compiled>,
    /// Indices (into `rules`) of the regex rules, in `set` order.
    regex_rules: Vec<usize>,
    set: Option<RegexSet>,
}

fn glob_set(globs: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(compile_glob(g)?);
    }
    b.build().map_err(|e| format!("invalid glob: {e}"))
}

fn excerpt(line: &str) -> String {
    let t = line.trim();
    match t.char_indices().nth(MAX_EXCERPT) {
        Some((cut, _)) => format!("{}…", &t[..cut]),
        None => t.to_owned(),
    }
}

impl RuleSet {
    /// Compiles `rules` (all of them: filter first for the enforced ones, see
    /// [`RuleSet::enforced`]).
    ///
    /// # Errors
    /// A pattern or glob that does not compile, naming `rules[i].<field>`.
    pub fn compile(rules: &[ValidationRule]) -> Result<Self, RuleError> {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut regex_rules = Vec::new();
        let mut patterns = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let applies_to = if r.applies_to.is_empty() {
                None
            } else {
                Some(glob_set(&r.applies_to).map_err(|m| RuleError::at(i, "applies_to", m))?)
            };
            let (regex, glob) = match r.kind {
                RuleKind::Regex => {
                    compile_regex(&r.pattern).map_err(|m| RuleError::at(i, "pattern", m))?;
                    regex_rules.push(i);
                    patterns.push(r.pattern.as_str());
                    (None, None)
                }
                RuleKind::Missing => (
                    Some(compile_regex(&r.pattern).map_err(|m| RuleError::at(i, "pattern", m))?),
                    None,
                ),
                RuleKind::ForbiddenPath => (
                    None,
                    Some(
                        glob_set(std::slice::from_ref(&r.pattern))
                            .map_err(|m| RuleError::at(i, "pattern", m))?,
                    ),
                ),
            };
            compiled.push(Compiled {
                rule: r.clone(),
                applies_to,
                regex,
                glob,
            });
        }
        let set = if patterns.is_empty() {
            None
        } else {
            let limit = REGEX_SIZE_LIMIT.saturating_mul(patterns.len());
            Some(
                RegexSetBuilder::new(&patterns)
                    .size_limit(limit)
                    .dfa_size_limit(limit)
                    .build()
                    .map_err(|e| RuleError {
                        field: "rules".into(),
                        message: format!("the regex rules do not compile together: {e}"),
                    })?,
            )
        };
        Ok(Self {
            rules: compiled,
            regex_rules,
            set,
        })
    }

    /// Compiles the rules that are enforced: the accepted ones, and the proposed ones too when
    /// `include_proposed`.
    ///
    /// # Errors
    /// As [`RuleSet::compile`] (stored rules were validated, so only on a corrupt store).
    pub fn enforced(rules: &[ValidationRule], include_proposed: bool) -> Result<Self, RuleError> {
        let chosen: Vec<ValidationRule> = rules
            .iter()
            .filter(|r| {
                r.status == RuleStatus::Accepted
                    || (include_proposed && r.status == RuleStatus::Proposed)
            })
            .cloned()
            .collect();
        Self::compile(&chosen)
    }

    /// Whether the set has no rule.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some rule is `missing` (and so needs the full content of changed files).
    #[must_use]
    pub fn needs_content(&self) -> bool {
        self.rules.iter().any(|c| c.rule.kind == RuleKind::Missing)
    }

    /// Runs the rules over `files`; `content` gives a changed file's full new content (asked
    /// for `missing` rules only, for files that exist after the change; `None`: unreadable,
    /// and the rule is skipped for it).
    pub fn evaluate(
        &self,
        files: &[ChangedFile],
        content: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Evaluation {
        let mut out = Evaluation::default();
        let mut applies: Vec<bool> = vec![false; self.regex_rules.len()];
        for f in files {
            if !f.exists_after() {
                continue;
            }
            for c in &self.rules {
                if let Some(g) = &c.glob
                    && c.applies(&f.path)
                    && g.is_match(&f.path)
                {
                    out.push(Violation {
                        rule_id: c.rule.id.clone(),
                        severity: c.rule.severity,
                        file: f.path.clone(),
                        line: None,
                        message: c.message(|| {
                            format!("the path matches the forbidden glob `{}`", c.rule.pattern)
                        }),
                        excerpt: None,
                    });
                }
            }
            if let Some(set) = &self.set
                && !f.added.is_empty()
            {
                let mut any = false;
                for (k, &i) in self.regex_rules.iter().enumerate() {
                    applies[k] = self.rules[i].applies(&f.path);
                    any |= applies[k];
                }
                if any {
                    for l in &f.added {
                        if !set.is_match(&l.text) {
                            continue;
                        }
                        for k in set.matches(&l.text).iter() {
                            if !applies[k] {
                                continue;
                            }
                            let c = &self.rules[self.regex_rules[k]];
                            out.push(Violation {
                                rule_id: c.rule.id.clone(),
                                severity: c.rule.severity,
                                file: f.path.clone(),
                                line: Some(l.line),
                                message: c.message(|| {
                                    format!(
                                        "the line matches the forbidden pattern `{}`",
                                        c.rule.pattern
                                    )
                                }),
                                excerpt: Some(excerpt(&l.text)),
                            });
                        }
                    }
                }
            }
            let mut text: Option<Option<String>> = None;
            for c in &self.rules {
                let Some(re) = &c.regex else { continue };
                if f.binary || !c.applies(&f.path) {
                    continue;
                }
                let Some(body) = text.get_or_insert_with(|| content(&f.path)) else {
                    continue;
                };
                if !re.is_match(body) {
                    out.push(Violation {
                        rule_id: c.rule.id.clone(),
                        severity: c.rule.severity,
                        file: f.path.clone(),
                        line: None,
                        message: c.message(|| {
                            format!("the required pattern `{}` is missing", c.rule.pattern)
                        }),
                        excerpt: None,
                    });
                }
            }
        }
        out
    }

    /// Runs the rules over one file's content as if every line were added (the validate
    /// route): `regex` violations carry the line numbers of `content`.
    #[must_use]
    pub fn validate_content(&self, filename: &str, content: &str) -> Evaluation {
        let file = ChangedFile {
            path: filename.to_owned(),
            old_path: None,
            change: FileChange::Added,
            binary: false,
            added: content
                .lines()
                .enumerate()
                .map(|(i, t)| AddedLine {
                    line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    text: t.to_owned(),
                })
                .collect(),
        };
        self.evaluate(std::slice::from_ref(&file), &mut |_| {
            Some(content.to_owned())
        })
    }
}

/// A project's stored rules, with the revision each write increments (clients may send it back
/// to refuse a write over a set they have not seen).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRules {
    /// Incremented by every write; 0 when nothing was ever stored.
    pub revision: u64,
    /// The rules, in order.
    pub rules: Vec<ValidationRule>,
}

/// The project's rules (none when nothing is stored).
///
/// # Errors
/// Backend errors, or stored text that is not a rule document.
pub async fn load_rules(settings: &dyn SettingsStore, project: &str) -> StoreResult<StoredRules> {
    let key = settings_key(project);
    match settings.get_setting(&key).await? {
        None => Ok(StoredRules::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::corrupt(&key, e)),
    }
}

/// Stores the project's rules as revision `rules.revision + 1`, and answers what was stored.
/// The caller serialises writers (read, change, write): the settings port has no
/// compare-and-swap.
///
/// # Errors
/// Backend errors.
pub async fn save_rules(
    settings: &dyn SettingsStore,
    project: &str,
    rules: Vec<ValidationRule>,
    previous_revision: u64,
) -> StoreResult<StoredRules> {
    let key = settings_key(project);
    let stored = StoredRules {
        revision: previous_revision + 1,
        rules,
    };
    let text = serde_json::to_string(&stored).map_err(|e| StoreError::corrupt(&key, e))?;
    settings.put_setting(&key, &text).await?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(kind: RuleKind, pattern: &str) -> RuleInput {
        RuleInput {
            kind,
            pattern: pattern.into(),
            ..RuleInput::default()
        }
    }

    fn rules(inputs: Vec<RuleInput>) -> Vec<ValidationRule> {
        validate_rules(inputs, &[], Utc::now()).expect("valid")
    }

    fn set(inputs: Vec<RuleInput>) -> RuleSet {
        RuleSet::compile(&rules(inputs)).expect("compiles")
    }

    const DIFF: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,2 +1,4 @@
 fn a() {}
+fn b() { x.unwrap(); }
 fn c() {}
+// TODO later
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1 +1,2 @@
 # title
+call .unwrap() freely
diff --git a/old.rs b/old.rs
deleted file mode 100644
--- a/old.rs
+++ /dev/null
@@ -1 +0,0 @@
-x.unwrap();
diff --git a/secrets/key.pem b/secrets/key.pem
new file mode 100644
--- /dev/null
+++ b/secrets/key.pem
@@ -0,0 +1 @@
+-----BEGIN KEY-----
";

    fn no_content(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_regex_rule_reports_each_matching_added_line_with_its_new_line_number() {
        let s = set(vec![RuleInput {
            id: Some("no-unwrap".into()),
            applies_to: vec!["**/*.rs".into()],
            ..input(RuleKind::Regex, r"\.unwrap\(\)")
        }]);
        let e = s.evaluate(&parse_diff(DIFF), &mut no_content);
        assert_eq!(e.violations.len(), 1, "{e:?}");
        let v = &e.violations[0];
        assert_eq!(
            (v.rule_id.as_str(), v.file.as_str(), v.line),
            ("no-unwrap", "src/lib.rs", Some(2))
        );
        assert_eq!(v.excerpt.as_deref(), Some("fn b() { x.unwrap(); }"));
        assert_eq!(v.severity, RuleSeverity::Error);
        assert!(e.has_errors());
        // without applies_to the README line counts too; the deleted file never does
        let s = set(vec![input(RuleKind::Regex, r"\.unwrap\(\)")]);
        let e = s.evaluate(&parse_diff(DIFF), &mut no_content);
        let files: Vec<&str> = e.violations.iter().map(|v| v.file.as_str()).collect();
        assert_eq!(files, vec!["src/lib.rs", "README.md"]);
    }

    #[test]
    fn severities_and_messages_are_carried_to_violations() {
        let s = set(vec![RuleInput {
            severity: RuleSeverity::Warning,
            message: Some("finish the TODO".into()),
            ..input(RuleKind::Regex, "TODO")
        }]);
        let e = s.evaluate(&parse_diff(DIFF), &mut no_content);
        assert_eq!(e.violations.len(), 1);
        assert_eq!(e.violations[0].message, "finish the TODO");
        assert_eq!(e.violations[0].line, Some(4));
        assert!(!e.has_errors());
        assert_eq!(e.of(RuleSeverity::Warning).count(), 1);
    }

    #[test]
    fn a_missing_rule_fires_when_a_matched_file_lacks_the_pattern() {
        let s = set(vec![RuleInput {
            applies_to: vec!["src/**".into()],
            ..input(RuleKind::Missing, "(?m)^// SPDX-License-Identifier")
        }]);
        let files = parse_diff(DIFF);
        let mut asked = Vec::new();
        let e = s.evaluate(&files, &mut |p| {
            asked.push(p.to_owned());
            Some("fn a() {}\n".into())
        });
        assert_eq!(
            asked,
            vec!["src/lib.rs"],
            "only matched files that exist are read"
        );
        assert_eq!(e.violations.len(), 1);
        assert_eq!(
            (e.violations[0].file.as_str(), e.violations[0].line),
            ("src/lib.rs", None)
        );
        let e = s.evaluate(&files, &mut |_| {
            Some("// SPDX-License-Identifier: MIT\nfn a() {}\n".into())
        });
        assert!(e.violations.is_empty());
        // unreadable content skips the rule for that file
        assert!(s.evaluate(&files, &mut no_content).violations.is_empty());
    }

    #[test]
    fn a_forbidden_path_rule_fires_per_changed_file_but_not_for_deletions() {
        let s = set(vec![
            input(RuleKind::ForbiddenPath, "secrets/**"),
            input(RuleKind::ForbiddenPath, "*.rs"),
        ]);
        let e = s.evaluate(&parse_diff(DIFF), &mut no_content);
        let got: Vec<&str> = e.violations.iter().map(|v| v.file.as_str()).collect();
        // old.rs is deleted: not a violation
        assert_eq!(got, vec!["src/lib.rs", "secrets/key.pem"]);
        // a rename into a forbidden path counts; the binary file's path is read too
        let d = "diff --git a/a.txt b/vendor/a.txt\nsimilarity index 100%\nrename from a.txt\nrename to vendor/a.txt\ndiff --git a/vendor/b.bin b/vendor/b.bin\nnew file mode 100644\nBinary files /dev/null and b/vendor/b.bin differ\n";
        let s = set(vec![input(RuleKind::ForbiddenPath, "vendor/*")]);
        assert_eq!(
            s.evaluate(&parse_diff(d), &mut no_content).violations.len(),
            2
        );
    }

    #[test]
    fn validate_content_counts_every_line() {
        let s = set(vec![input(RuleKind::Regex, "dbg!")]);
        let e = s.validate_content("src/x.rs", "a\ndbg!(1);\nb\n  dbg!(2)\n");
        let lines: Vec<Option<u32>> = e.violations.iter().map(|v| v.line).collect();
        assert_eq!(lines, vec![Some(2), Some(4)]);
        assert_eq!(e.violations[1].excerpt.as_deref(), Some("dbg!(2)"));
        let m = set(vec![input(RuleKind::Missing, "license")]);
        assert_eq!(m.validate_content("a", "nothing").violations.len(), 1);
        assert!(m.validate_content("a", "a license").violations.is_empty());
    }

    #[test]
    fn only_accepted_rules_are_enforced_unless_proposed_ones_are_asked_for() {
        let rs = rules(vec![
            RuleInput {
                status: RuleStatus::Proposed,
                ..input(RuleKind::Regex, "a")
            },
            RuleInput {
                status: RuleStatus::Rejected,
                ..input(RuleKind::Regex, "b")
            },
        ]);
        assert!(RuleSet::enforced(&rs, false).unwrap().is_empty());
        let s = RuleSet::enforced(&rs, true).unwrap();
        assert_eq!(s.validate_content("f", "ab").violations.len(), 1);
    }

    #[test]
    fn invalid_inputs_are_refused_naming_the_rule_and_field() {
        let err = |inputs: Vec<RuleInput>| validate_rules(inputs, &[], Utc::now()).unwrap_err();
        let ok = input(RuleKind::Regex, "x");
        let e = err(vec![
            ok.clone(),
            ok.clone(),
            input(RuleKind::Regex, "(unclosed"),
        ]);
        assert_eq!(e.field, "rules[1].id", "{e}");
        let e = err(vec![ok.clone(), input(RuleKind::Regex, "(unclosed")]);
        assert_eq!(e.field, "rules[1].pattern");
        assert!(e.message.contains("invalid regex"), "{e}");
        let e = err(vec![input(RuleKind::Regex, "(a{1000}){1000}")]);
        assert_eq!(e.field, "rules[0].pattern");
        assert!(e.message.contains("catastrophic"), "{e}");
        // control: the same shape, small, compiles
        assert!(
            validate_rules(vec![input(RuleKind::Regex, "(a{10}){10}")], &[], Utc::now()).is_ok()
        );
        let e = err(vec![input(RuleKind::Missing, "  ")]);
        assert_eq!(e.field, "rules[0].pattern");
        let e = err(vec![input(RuleKind::ForbiddenPath, "a[")]);
        assert_eq!(e.field, "rules[0].pattern");
        assert!(e.message.contains("invalid glob"), "{e}");
        let e = err(vec![RuleInput {
            applies_to: vec!["ok/**".into(), "{bad".into()],
            ..ok.clone()
        }]);
        assert_eq!(e.field, "rules[0].applies_to[1]");
        let e = err(vec![RuleInput {
            id: Some("Not A Slug".into()),
            ..ok.clone()
        }]);
        assert_eq!(e.field, "rules[0].id");
        let e = err(vec![ok.clone(); MAX_RULES + 1]);
        assert_eq!(e.field, "rules");
    }

    #[test]
    fn unknown_and_mistyped_fields_name_the_rule() {
        let e = parse_inputs(&[
            json!({"kind": "regex", "pattern": "x"}),
            json!({"kind": "regex", "pattern": "x", "colour": "red"}),
        ])
        .unwrap_err();
        assert_eq!(e.field, "rules[1]");
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        let e = parse_inputs(&[json!({"kind": "grep", "pattern": "x"})]).unwrap_err();
        assert_eq!(e.field, "rules[0]");
        assert!(e.message.contains("grep"), "{e}");
        let ok = parse_inputs(&[json!({"kind": "missing", "pattern": "x", "severity": "warning"})])
            .unwrap();
        assert_eq!(ok[0].severity, RuleSeverity::Warning);
        assert_eq!(ok[0].status, RuleStatus::Accepted);
        assert_eq!(ok[0].source, RuleSource::Person);
    }

    #[test]
    fn ids_are_generated_stably_and_created_at_survives_a_rewrite() {
        let a = generated_id(RuleKind::Regex, "x");
        assert_eq!(a, generated_id(RuleKind::Regex, "x"));
        assert_ne!(a, generated_id(RuleKind::Missing, "x"));
        assert!(is_valid_rule_id(&a), "{a}");
        assert!(is_valid_rule_id(&generated_id(
            RuleKind::ForbiddenPath,
            "x"
        )));
        let t0 = Utc::now() - chrono::Duration::hours(1);
        let first = validate_rules(vec![input(RuleKind::Regex, "x")], &[], t0).unwrap();
        let again = validate_rules(
            vec![input(RuleKind::Regex, "x"), input(RuleKind::Regex, "y")],
            &first,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(again[0].created_at, t0);
        assert_eq!(
            again[0].updated_at, t0,
            "an unchanged rule keeps its updated_at"
        );
        assert_ne!(again[1].created_at, t0);
    }

    #[test]
    fn status_changes_are_idempotent_and_unknown_ids_are_none() {
        let mut rs = rules(vec![RuleInput {
            id: Some("r".into()),
            status: RuleStatus::Proposed,
            ..input(RuleKind::Regex, "x")
        }]);
        let later = Utc::now() + chrono::Duration::seconds(5);
        let r = set_status(&mut rs, "r", RuleStatus::Accepted, later).unwrap();
        assert_eq!((r.status, r.updated_at), (RuleStatus::Accepted, later));
        let again = set_status(
            &mut rs,
            "r",
            RuleStatus::Accepted,
            later + chrono::Duration::seconds(5),
        )
        .unwrap();
        assert_eq!(again.updated_at, later);
        assert!(set_status(&mut rs, "nope", RuleStatus::Rejected, later).is_none());
    }

    #[test]
    fn proposals_are_stored_as_proposed_and_duplicates_are_skipped() {
        let mut rs = rules(vec![RuleInput {
            status: RuleStatus::Rejected,
            ..input(RuleKind::Regex, "old")
        }]);
        let by = ProposedBy {
            ticket_id: TicketId::from("t1".to_owned()),
            task_id: TaskId::from("k1".to_owned()),
        };
        let p = |pattern: &str| RuleProposal {
            kind: RuleKind::Regex,
            pattern: pattern.into(),
            rationale: Some("seen twice".into()),
            ..RuleProposal::default()
        };
        let added = propose(&mut rs, p("new"), by.clone(), Utc::now())
            .unwrap()
            .unwrap();
        assert_eq!(
            (added.status, added.source),
            (RuleStatus::Proposed, RuleSource::Reviewer)
        );
        assert_eq!(added.proposed_by, Some(by.clone()));
        assert!(
            propose(&mut rs, p("new"), by.clone(), Utc::now())
                .unwrap()
                .is_none()
        );
        assert!(
            propose(&mut rs, p("old"), by.clone(), Utc::now())
                .unwrap()
                .is_none(),
            "a rejected rule is not proposed again"
        );
        let e = propose(&mut rs, p("(a{1000}){1000}"), by, Utc::now()).unwrap_err();
        assert!(e.message.contains("catastrophic"));
        assert_eq!(rs.len(), 2);
    }

    #[test]
    fn export_and_import_round_trip_and_merge_by_id() {
        let rs = rules(vec![
            RuleInput {
                id: Some("a".into()),
                applies_to: vec!["**/*.rs".into()],
                message: Some("m".into()),
                ..input(RuleKind::Regex, "x")
            },
            RuleInput {
                id: Some("b".into()),
                status: RuleStatus::Proposed,
                source: RuleSource::Reviewer,
                ..input(RuleKind::ForbiddenPath, "dist/**")
            },
        ]);
        let doc = serde_json::to_value(export("web", &rs)).unwrap();
        assert_eq!(doc["format"], EXPORT_FORMAT);
        let back = validate_rules(import_inputs(&doc).unwrap(), &[], Utc::now()).unwrap();
        let strip = |v: &[ValidationRule]| {
            v.iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        r.kind,
                        r.pattern.clone(),
                        r.status,
                        r.source,
                        r.applies_to.clone(),
                        r.message.clone(),
                        r.created_at,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&back), strip(&rs));
        // merge: `a` replaced in place, `c` appended
        let merged = merge_inputs(
            &rs,
            vec![
                RuleInput {
                    id: Some("a".into()),
                    ..input(RuleKind::Regex, "changed")
                },
                RuleInput {
                    id: Some("c".into()),
                    ..input(RuleKind::Missing, "y")
                },
            ],
        );
        let merged = validate_rules(merged, &rs, Utc::now()).unwrap();
        let ids: Vec<(&str, &str)> = merged
            .iter()
            .map(|r| (r.id.as_str(), r.pattern.as_str()))
            .collect();
        assert_eq!(ids, vec![("a", "changed"), ("b", "dist/**"), ("c", "y")]);
        // a wrong format or a bad rule names the field
        let e = import_inputs(&json!({"format": "other/9", "rules": []})).unwrap_err();
        assert_eq!(e.field, "document.format");
        let e = import_inputs(&json!({"format": EXPORT_FORMAT, "rules": [{"kind": "regex"}]}))
            .unwrap_err();
        assert_eq!(e.field, "document.rules[0]");
        let e =
            import_inputs(&json!({"format": EXPORT_FORMAT, "rules": [], "extra": 1})).unwrap_err();
        assert_eq!(e.field, "document.extra");
    }

    #[test]
    fn violations_are_capped() {
        let s = set(vec![input(RuleKind::Regex, "x")]);
        let body = "x\n".repeat(MAX_VIOLATIONS + 5);
        let e = s.validate_content("f", &body);
        assert_eq!((e.violations.len(), e.omitted), (MAX_VIOLATIONS, 5));
    }

    #[test]
    fn many_regex_rules_each_report_their_own_matches() {
        let s = set((0..50)
            .map(|i| input(RuleKind::Regex, &format!("w{i}\\b")))
            .collect());
        let e = s.validate_content("f", "w3 w17\nw49\nw5x");
        let mut got: Vec<(String, Option<u32>)> = e
            .violations
            .iter()
            .map(|v| (v.rule_id.clone(), v.line))
            .collect();
        got.sort();
        let want = |p: &str, l| (generated_id(RuleKind::Regex, p), Some(l));
        let mut expected = vec![want("w3\\b", 1), want("w17\\b", 1), want("w49\\b", 2)];
        expected.sort();
        assert_eq!(got, expected);
    }
}
