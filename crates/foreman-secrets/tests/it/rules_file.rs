//! gitleaks-format rules files: custom rules load and apply; malformed ones fail with a typed
//! error naming the rule.

use foreman_secrets::{RulesError, SecretScanner};

const CUSTOM: &str = r#"
title = "acme rules"

[extend]
useDefault = true

[allowlist]
description = "test fixtures"
regexes = ['''^ACME-TEST-''']

[[rules]]
id = "acme-internal-token"
description = "ACME internal service token"
regex = '''(?i)\b(acme_[a-z0-9]{24})\b'''
secretGroup = 1
entropy = 3.5
keywords = ["acme_"]
tags = ["internal"]
[rules.allowlist]
stopwords = ["acme_sample"]

[[rules]]
id = "acme-badge"
description = "ACME badge number"
regex = '''ACME-(?:TEST|PROD)-[0-9]{6}'''
keywords = ["acme-"]

[[rules]]
id = "acme-key-file"
description = "a path-only rule: file names are not text"
path = '''(?i)\.acmekey$'''
"#;

fn custom() -> SecretScanner {
    SecretScanner::builder()
        .without_defaults()
        .rules_toml("acme.toml", CUSTOM)
        .build()
        .unwrap()
}

#[test]
fn custom_rules_load_and_apply() {
    let s = custom();
    assert_eq!(s.rule_ids(), ["acme-internal-token", "acme-badge"]);
    let (clean, found) = s.redact("svc acme_k3j9x0q2m8w7v5b1n4z6c8d0 badge ACME-PROD-123456");
    assert_eq!(
        clean,
        "svc [REDACTED:acme-internal-token] badge [REDACTED:acme-badge]"
    );
    assert_eq!(found.len(), 2);
    // entropy gate, rule stopword, global allowlist, keyword gate
    assert!(s.scan("acme_aaaaaaaaaaaaaaaaaaaaaaaa").is_empty());
    assert!(s.scan("acme_sample0123456789abcdef").is_empty());
    assert!(s.scan("ACME-TEST-123456").is_empty());
    assert!(s.scan("acmx_k3j9x0q2m8w7v5b1n4z6c8d0").is_empty());
}

#[test]
fn custom_rules_add_to_the_defaults() {
    let s = SecretScanner::builder()
        .rules_toml("acme.toml", CUSTOM)
        .patterns(&[r"corp-\d{6}".into()])
        .build()
        .unwrap();
    let ids = s.rule_ids();
    assert!(ids.contains(&"aws_access_key"));
    assert!(ids.contains(&"acme-badge"));
    assert_eq!(ids.last(), Some(&"custom"));
    let defaults = SecretScanner::default_rules().rule_count();
    assert_eq!(s.rule_count(), defaults + 3);
}

#[test]
fn allowlist_targets_and_conditions() {
    let s = SecretScanner::builder()
        .without_defaults()
        .rules_toml(
            "t.toml",
            r#"
[[rules]]
id = "k"
regex = '''key-([0-9]{4})'''
secretGroup = 1
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''^#''']
[[rules.allowlists]]
condition = "AND"
regexes = ['''^1''']
stopwords = ["99"]
"#,
        )
        .build()
        .unwrap();
    assert!(s.scan("# key-1234 in a comment").is_empty());
    assert!(s.scan("x key-1992").is_empty(), "both conditions hold");
    assert_eq!(s.scan("x key-1234").len(), 1, "only the regex holds");
    assert_eq!(s.scan("x key-2990").len(), 1, "only the stopword holds");
    let f = &s.scan("x key-2990")[0];
    assert_eq!((f.start, f.end), (6, 10), "secretGroup is what is redacted");
}

fn rule_error(toml: &str) -> RulesError {
    SecretScanner::builder()
        .without_defaults()
        .rules_toml("bad.toml", toml)
        .build()
        .unwrap_err()
}

#[test]
fn malformed_rules_name_the_rule() {
    let cases = [
        (
            "[[rules]]\nid = \"ok\"\nregex = 'a'\n[[rules]]\nid = \"broken-regex\"\nregex = '(unclosed'\n",
            "broken-regex",
            "does not compile",
        ),
        (
            "[[rules]]\nid = \"no-regex\"\ndescription = \"x\"\n",
            "no-regex",
            "has no regex",
        ),
        (
            "[[rules]]\nid = \"group\"\nregex = 'a(b)'\nsecretGroup = 2\n",
            "group",
            "secretGroup 2",
        ),
        (
            "[[rules]]\nid = \"typed\"\nregex = 'a'\nentropy = \"high\"\n",
            "typed",
            "",
        ),
        (
            "[[rules]]\nid = \"range\"\nregex = 'a'\nentropy = 9.5\n",
            "range",
            "outside",
        ),
        (
            "[[rules]]\nid = \"allow\"\nregex = 'a'\n[rules.allowlist]\nregexes = ['[']\n",
            "allow",
            "allowlist regex",
        ),
        (
            "[[rules]]\nid = \"target\"\nregex = 'a'\n[rules.allowlist]\nregexTarget = \"file\"\n",
            "target",
            "regexTarget",
        ),
        (
            "[[rules]]\nid = \"x\"\nregex = 'a'\n[[rules]]\nregex = 'b'\n",
            "#2",
            "has no id",
        ),
    ];
    for (toml, rule, problem) in cases {
        match rule_error(toml) {
            RulesError::InvalidRule {
                source_name,
                rule: named,
                problem: p,
            } => {
                assert_eq!(source_name, "bad.toml");
                assert_eq!(named, rule, "{toml}");
                assert!(p.contains(problem), "{p}");
            }
            other => panic!("{toml}: {other:?}"),
        }
    }
    let e = rule_error("[[rules]]\nid = \"broken-regex\"\nregex = '(unclosed'\n");
    assert_eq!(e.code(), "invalid_secret_rule");
    assert!(
        e.to_string()
            .starts_with("rule \"broken-regex\" in bad.toml:"),
        "{e}"
    );
}

#[test]
fn not_toml_is_a_toml_error() {
    let e = rule_error("[[rules]\nid = ");
    assert!(matches!(e, RulesError::Toml { .. }), "{e:?}");
    assert_eq!(e.code(), "invalid_rules_toml");
    let e = rule_error("rules = 3\n");
    assert!(matches!(e, RulesError::Toml { .. }), "{e:?}");
}

#[test]
fn regex_size_is_limited() {
    let e = rule_error("[[rules]]\nid = \"huge\"\nregex = '(?:\\w{100}){100}'\n");
    assert!(
        matches!(&e, RulesError::InvalidRule { rule, .. } if rule == "huge"),
        "{e:?}"
    );
}
