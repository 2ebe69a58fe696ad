//! The scanner: rules compiled once, keyword-gated, applied to any text.

use std::borrow::Cow;

use crate::rules::{self, Allowlist, DEFAULT_RULES, Rule, RulesError};

/// The text that replaces a secret, followed by its rule id and `]`.
pub const REDACTION_PREFIX: &str = "[REDACTED:";

/// One secret found in a text: where it is and which rule found it, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's id (`github_token`, `private_key`, `custom`, ...).
    pub rule_id: String,
    /// Byte offset where the secret starts.
    pub start: usize,
    /// Byte offset where it ends.
    pub end: usize,
    /// Whether a key or token format found it, not a heuristic (assignment, URL): a write
    /// that would add a strong finding is refused outright.
    pub strong: bool,
}

/// Finds and redacts secrets. Build once and share (`Arc`); scanning takes `&self`.
#[derive(Debug, Clone)]
pub struct SecretScanner {
    rules: Vec<Rule>,
    /// Distinct lowercased keywords of all rules.
    keywords: Vec<String>,
    /// For each rule, the indexes of its keywords in `keywords` (empty: always runs).
    rule_keywords: Vec<Vec<usize>>,
    /// Global allowlists (the rules files' top-level `[allowlist]`).
    allowlists: Vec<Allowlist>,
}

/// Builds a [`SecretScanner`] from the default rules, rules files and plain patterns.
#[derive(Debug, Clone)]
pub struct ScannerBuilder {
    defaults: bool,
    files: Vec<(String, String)>,
    patterns: Vec<String>,
}

impl ScannerBuilder {
    /// Leaves the shipped default rules out.
    #[must_use]
    pub fn without_defaults(mut self) -> Self {
        self.defaults = false;
        self
    }

    /// Adds plain regexes (Rust syntax), each a rule with id `custom`; a pattern with a
    /// capture group redacts only the first group.
    #[must_use]
    pub fn patterns(mut self, patterns: &[String]) -> Self {
        self.patterns.extend(patterns.iter().cloned());
        self
    }

    /// Adds the rules of a gitleaks-format TOML text the caller has read; `source_name` (the
    /// file's path, say) names it in errors.
    #[must_use]
    pub fn rules_toml(mut self, source_name: impl Into<String>, text: impl Into<String>) -> Self {
        self.files.push((source_name.into(), text.into()));
        self
    }

    /// Compiles every rule.
    ///
    /// # Errors
    /// [`RulesError`] naming the rules text, rule or pattern that cannot be used.
    pub fn build(self) -> Result<SecretScanner, RulesError> {
        let mut rules = Vec::new();
        let mut allowlists = Vec::new();
        if self.defaults {
            let f = rules::parse("default", DEFAULT_RULES)?;
            rules.extend(f.rules);
            allowlists.extend(f.allowlists);
        }
        for (name, text) in &self.files {
            let f = rules::parse(name, text)?;
            rules.extend(f.rules);
            allowlists.extend(f.allowlists);
        }
        for p in &self.patterns {
            rules.push(rules::plain(p)?);
        }
        let mut keywords: Vec<String> = Vec::new();
        let rule_keywords = rules
            .iter()
            .map(|r| {
                r.keywords
                    .iter()
                    .map(|k| match keywords.iter().position(|x| x == k) {
                        Some(i) => i,
                        None => {
                            keywords.push(k.clone());
                            keywords.len() - 1
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(SecretScanner {
            rules,
            keywords,
            rule_keywords,
            allowlists,
        })
    }
}

impl Default for SecretScanner {
    fn default() -> Self {
        Self::default_rules()
    }
}

impl SecretScanner {
    /// A builder starting from the default rules.
    #[must_use]
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder {
            defaults: true,
            files: Vec::new(),
            patterns: Vec::new(),
        }
    }

    /// The shipped default rules only.
    #[must_use]
    pub fn default_rules() -> Self {
        #[allow(clippy::expect_used, reason = "the default rules are checked by tests")]
        Self::builder()
            .build()
            .expect("the default secret rules compile")
    }

    /// The default rules plus plain regexes (`runner.secret_patterns`), each a rule with id
    /// `custom`.
    ///
    /// # Errors
    /// [`RulesError::InvalidPattern`] naming the pattern that does not compile.
    pub fn with_extra(patterns: &[String]) -> Result<Self, RulesError> {
        Self::builder().patterns(patterns).build()
    }

    /// How many rules it applies.
    #[must_use]
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The distinct rule ids, in rule order.
    #[must_use]
    pub fn rule_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for r in &self.rules {
            if !ids.contains(&r.id.as_str()) {
                ids.push(&r.id);
            }
        }
        ids
    }

    /// Every secret in `text`, ordered by position; overlapping findings are merged into the
    /// one that starts first (its rule id is kept).
    #[must_use]
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut lower: Option<String> = None;
        let mut seen: Vec<Option<bool>> = vec![None; self.keywords.len()];
        let mut found = Vec::new();
        for (rule, kws) in self.rules.iter().zip(&self.rule_keywords) {
            if !kws.is_empty() {
                let mut hit = false;
                for &k in kws {
                    let present = *seen[k].get_or_insert_with(|| {
                        lower
                            .get_or_insert_with(|| text.to_ascii_lowercase())
                            .contains(self.keywords[k].as_str())
                    });
                    if present {
                        hit = true;
                        break;
                    }
                }
                if !hit {
                    continue;
                }
            }
            if rule.group == 0 {
                for m in rule.regex.find_iter(text) {
                    self.consider(
                        rule,
                        text,
                        (m.start(), m.end()),
                        (m.start(), m.end()),
                        &mut found,
                    );
                }
            } else {
                for caps in rule.regex.captures_iter(text) {
                    let Some(whole) = caps.get(0) else { continue };
                    let secret = caps.get(rule.group).unwrap_or(whole);
                    self.consider(
                        rule,
                        text,
                        (secret.start(), secret.end()),
                        (whole.start(), whole.end()),
                        &mut found,
                    );
                }
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

    /// Applies a rule's gates to one candidate and records it if it passes. A match that starts
    /// inside a redaction marker (`[REDACTED:github_token]="…"` read as an assignment to a name
    /// ending in `token`) is not a finding, so redacting twice changes nothing.
    fn consider(
        &self,
        rule: &Rule,
        text: &str,
        (start, end): (usize, usize),
        (wstart, wend): (usize, usize),
        found: &mut Vec<Finding>,
    ) {
        let secret = &text[start..end];
        if secret.is_empty()
            || secret.contains(REDACTION_PREFIX)
            || inside_marker(text, wstart)
            || !rule.entropy_ok(secret)
        {
            return;
        }
        let mut lists = rule.allowlists.iter().chain(&self.allowlists).peekable();
        if lists.peek().is_some() {
            let lower = secret.to_lowercase();
            let whole = &text[wstart..wend];
            let line_start = text[..wstart].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[wstart..].find('\n').map_or(text.len(), |i| wstart + i);
            let line = &text[line_start..line_end];
            if lists.any(|a| a.allows(secret, &lower, whole, line)) {
                return;
            }
        }
        found.push(Finding {
            rule_id: rule.id.clone(),
            start,
            end,
            strong: rule.strong,
        });
    }

    /// Whether `text` holds at least one secret.
    #[must_use]
    pub fn contains_secret(&self, text: &str) -> bool {
        !self.scan(text).is_empty()
    }

    /// `text` with every secret replaced by `[REDACTED:<rule_id>]`, and the findings (offsets
    /// into the original text). Borrows when there is nothing to redact.
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
            out.push_str(&f.rule_id);
            out.push(']');
            at = f.end;
        }
        out.push_str(&text[at..]);
        (Cow::Owned(out), findings)
    }

    /// The unambiguous secrets (key and token formats, not heuristics) in `text`.
    #[must_use]
    pub fn strong_findings(&self, text: &str) -> Vec<Finding> {
        let mut v = self.scan(text);
        v.retain(|f| f.strong);
        v
    }
}

/// Whether byte `pos` of `text` lies inside a `[REDACTED:<rule>]` marker.
fn inside_marker(text: &str, pos: usize) -> bool {
    text[..pos]
        .rfind(REDACTION_PREFIX)
        .is_some_and(|open| !text[open..pos].contains(']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_compile_and_have_keywords() {
        let s = SecretScanner::default_rules();
        assert!(s.rule_count() >= 24, "{}", s.rule_count());
        for (r, kws) in s.rules.iter().zip(&s.rule_keywords) {
            assert!(!kws.is_empty(), "rule {} has no keyword prefilter", r.id);
        }
    }

    #[test]
    fn keyword_gate_is_case_insensitive() {
        let s = SecretScanner::builder()
            .without_defaults()
            .rules_toml(
                "t",
                "[[rules]]\nid = \"acme\"\nregex = 'ACME-[0-9]{6}'\nkeywords = [\"ACME-\"]\n",
            )
            .build()
            .unwrap();
        assert_eq!(s.scan("id ACME-123456 here").len(), 1);
        assert!(s.scan("id ACMF-123456 here").is_empty());
    }

    #[test]
    fn redacts_and_keeps_the_rest() {
        let s = SecretScanner::default_rules();
        let text = "key = AKIAIOSFODNN7EXAMPLE\nnothing here";
        let (out, f) = s.redact(text);
        assert_eq!(out, "key = [REDACTED:aws_access_key]\nnothing here");
        assert_eq!(f.len(), 1);
        assert!(f[0].strong);
        assert!(s.contains_secret(text));
        assert!(!s.contains_secret("nothing here"));
    }

    #[test]
    fn already_redacted_text_is_stable() {
        let s = SecretScanner::default_rules();
        let (once, _) = s.redact("password = \"hunter2hunter2x9\"");
        assert_ne!(once, "password = \"hunter2hunter2x9\"");
        let (twice, f) = s.redact(&once);
        assert_eq!(once, twice);
        assert!(f.is_empty());
    }

    #[test]
    fn overlapping_findings_merge() {
        let s = SecretScanner::with_extra(&["AKIA[A-Z0-9]{4}".into()]).unwrap();
        let f = s.scan("x AKIAIOSFODNN7EXAMPLE y");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule_id, "aws_access_key");
        assert_eq!((f[0].start, f[0].end), (2, 22));
    }
}
