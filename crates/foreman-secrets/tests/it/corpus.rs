//! The corpus: every positive sample is found by the right rule and redacted, every negative
//! sample is left alone.

use foreman_secrets::{Finding, SecretScanner, Where};

use crate::support::{B64, B64URL, Fake, HEX, LOWER, UPPER_DIGITS, cat};

/// A text holding one secret, and the rule that must find it.
#[derive(Debug)]
struct Positive {
    rule: &'static str,
    text: String,
    secret: String,
}

fn pos(rule: &'static str, context: &str, secret: String) -> Positive {
    Positive {
        rule,
        text: context.replace("{}", &secret),
        secret,
    }
}

#[allow(clippy::too_many_lines, reason = "a flat list of samples reads best")]
fn positives() -> Vec<Positive> {
    let mut f = Fake::new(7);
    let mut v = Vec::new();

    // Foreman's own API tokens: `fmn_` and 40 alphanumerics (foreman-domain's TokenSecret).
    for ctx in [
        "FOREMAN_TOKEN={}",
        "curl -H 'Authorization: Bearer {}' http://127.0.0.1:8080/api/tickets",
        "token created: {} (shown once)",
        "{\"token\":\"{}\"}",
    ] {
        let s = cat(&["fmn", "_", &f.alnum(40)]);
        v.push(pos("foreman_token", ctx, s));
    }

    // GitHub.
    for prefix in ["ghp", "gho", "ghu", "ghs", "ghr"] {
        let s = cat(&[prefix, "_", &f.alnum(36)]);
        v.push(pos(
            "github_token",
            "git remote set-url origin https://x:{}@github.com/acme/app",
            s,
        ));
    }
    for ctx in ["GH_TOKEN={}", "token: {}", "use {} for the API"] {
        let s = cat(&["github", "_pat_", "11A", &f.alnum(19), "_", &f.alnum(59)]);
        v.push(pos("github_fine_grained_pat", ctx, s));
    }

    // GitLab.
    for prefix in ["glpat", "gldt", "glrt"] {
        let s = cat(&[prefix, "-", &f.alnum(20)]);
        v.push(pos("gitlab_token", "CI_TOKEN: {}", s));
    }

    // Linear.
    for ctx in [
        "LINEAR_API_KEY={}",
        "linear:\n  api_key: {}\n",
        "Authorization: {}",
    ] {
        let s = cat(&["lin", "_api_", &f.alnum(40)]);
        v.push(pos("linear_api_key", ctx, s));
    }

    // Atlassian.
    for ctx in ["JIRA_API_TOKEN={}", "jira.token = \"{}\"", "{}"] {
        let s = cat(&[
            "ATA",
            "TT3xFfGF0",
            &f.chars(&cat(&[crate::support::ALNUM, "_-"]), 170),
            "=",
            &f.chars(HEX, 8).to_uppercase(),
        ]);
        v.push(pos("atlassian_api_token", ctx, s));
    }

    // AWS access key ids.
    for (prefix, ctx) in [
        ("AKIA", "aws_access_key_id = {}"),
        ("ASIA", "\"AccessKeyId\": \"{}\","),
        ("AKIA", "export AWS_ACCESS_KEY_ID={}"),
        ("ABIA", "key={}&region=eu-west-1"),
    ] {
        let s = cat(&[prefix, &f.chars(UPPER_DIGITS, 16)]);
        v.push(pos("aws_access_key", ctx, s));
    }
    // AWS secret keys, in an assignment.
    for ctx in [
        "aws_secret_access_key = {}",
        "AWS_SECRET_ACCESS_KEY=\"{}\"",
        "\"aws_secret_key\": \"{}\"",
    ] {
        let s = f.chars(&cat(&[crate::support::ALNUM, "/+"]), 40);
        v.push(pos("aws_secret_key", ctx, s));
    }

    // Google.
    for ctx in ["GOOGLE_API_KEY={}", "maps.js?key={}&v=3", "apiKey: \"{}\""] {
        let s = cat(&["AI", "za", &f.chars(B64URL, 35)]);
        v.push(pos("gcp_api_key", ctx, s));
    }

    // Slack.
    for prefix in ["xoxb", "xoxp", "xoxa"] {
        let s = cat(&[
            prefix,
            "-",
            &f.chars("0123456789", 12),
            "-",
            &f.chars("0123456789", 13),
            "-",
            &f.alnum(24),
        ]);
        v.push(pos("slack_token", "SLACK_BOT_TOKEN={}", s));
    }
    let s = cat(&["xa", "pp-1-", &f.chars(UPPER_DIGITS, 11), "-", &f.alnum(30)]);
    v.push(pos("slack_token", "app token {}", s));
    for _ in 0..2 {
        let s = cat(&[
            "https://hooks.",
            "slack.com/services/T",
            &f.chars(UPPER_DIGITS, 8),
            "/B",
            &f.chars(UPPER_DIGITS, 8),
            "/",
            &f.alnum(24),
        ]);
        v.push(pos("slack_webhook", "webhook_url: {}", s));
    }

    // Stripe.
    for prefix in ["sk_live_", "rk_live_", "sk_test_"] {
        let s = cat(&[&prefix[..3], &prefix[3..], &f.alnum(24)]);
        v.push(pos("stripe_key", "Stripe.api_key = '{}'", s));
    }

    // OpenAI, Anthropic, OpenRouter.
    for body in [
        cat(&["sk", "-", &f.alnum(48)]),
        cat(&["sk", "-proj-", &f.chars(B64URL, 60)]),
        cat(&["sk", "-svcacct-", &f.chars(B64URL, 40)]),
    ] {
        v.push(pos("openai_api_key", "OPENAI_API_KEY={}", body));
    }
    for ctx in [
        "ANTHROPIC_API_KEY={}",
        "x-api-key: {}",
        "client = Anthropic(api_key=\"{}\")",
    ] {
        let s = cat(&["sk", "-ant-api03-", &f.chars(B64URL, 93), "AA"]);
        v.push(pos("anthropic_api_key", ctx, s));
    }
    let s = cat(&["sk", "-or-v1-", &f.chars(HEX, 64)]);
    v.push(pos("openrouter_api_key", "OPENROUTER_API_KEY={}", s));

    // Package registries and Hugging Face.
    for ctx in [
        "//registry.npmjs.org/:_authToken={}",
        "NPM_TOKEN={}",
        "npm token: {}",
    ] {
        let s = cat(&["npm", "_", &f.alnum(36)]);
        v.push(pos("npm_token", ctx, s));
    }
    for ctx in ["password = {}", "TWINE_PASSWORD={}"] {
        let s = cat(&["py", "pi-AgEIcHlwaS5vcmc", &f.chars(B64URL, 120)]);
        v.push(pos("pypi_token", ctx, s));
    }
    for ctx in [
        "HF_TOKEN={}",
        "huggingface-cli login --token {}",
        "hf token {}",
    ] {
        let s = cat(&[
            "hf",
            "_",
            &f.chars(&cat(&[LOWER, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]), 34),
        ]);
        v.push(pos("huggingface_token", ctx, s));
    }

    // JWTs.
    for ctx in [
        "Authorization: {}",
        "{\"id_token\":\"{}\"}",
        "session={}; Path=/",
    ] {
        let s = cat(&[
            "ey",
            "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.",
            "ey",
            "J",
            &f.chars(B64URL, 60),
            ".",
            &f.chars(B64URL, 43),
        ]);
        v.push(pos("jwt", ctx, s));
    }

    // Private keys.
    for kind in ["RSA ", "EC ", "OPENSSH ", ""] {
        let mut body = String::new();
        for _ in 0..4 {
            body.push_str(&f.chars(B64, 64));
            body.push('\n');
        }
        let s = format!("-----BEGIN {kind}PRIVATE KEY-----\n{body}-----END {kind}PRIVATE KEY-----");
        v.push(pos("private_key", "key file:\n{}\nend of file", s));
    }
    let s = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}\n-----END PGP PRIVATE KEY BLOCK-----",
        f.chars(B64, 64)
    );
    v.push(pos("private_key", "{}", s));
    let s = format!("-----BEGIN PRIVATE KEY-----\n{}", f.chars(B64, 64));
    v.push(pos("private_key", "cut short: {}", s));

    // Heuristics.
    for _ in 0..2 {
        let s = f.chars(B64URL, 32);
        v.push(pos("bearer_token", "Authorization: Bearer {}", s));
    }
    for ctx in [
        "DATABASE_URL=postgres://app:{}@db.internal:5432/app",
        "redis://default:{}@cache:6379/0",
    ] {
        let s = cat(&[&f.alnum(12), "-", &f.alnum(6)]);
        v.push(pos("url_credentials", ctx, s));
    }
    for ctx in [
        "password = \"{}\"",
        "\"client_secret\": \"{}\",",
        "DB_PASSWORD={}",
        "    17\tapi_token: {}",
        "config/app.env:3: API_TOKEN={}",
        "$settings['secret_key'] => '{}';",
    ] {
        let s = cat(&[&f.alnum(10), "!", &f.alnum(5)]);
        v.push(pos("secret_assignment", ctx, s));
    }
    v
}

fn negatives() -> Vec<String> {
    let mut f = Fake::new(11);
    let mut v: Vec<String> = vec![
        // identifiers and hashes
        "id = \"0192a4c7-3f1e-7b2a-9c41-5d6e7f809a1b\"".into(),
        "request_id: 550e8400-e29b-41d4-a716-446655440000".into(),
        format!("commit {}\nAuthor: A Person <a@example.com>", f.chars(HEX, 40)),
        format!("Merge: {} {}", f.chars(HEX, 7), f.chars(HEX, 7)),
        format!("sha256:{}", f.chars(HEX, 64)),
        format!(
            "checksum = \"{}\"\n[[package]]\nname = \"regex\"",
            f.chars(HEX, 64)
        ),
        format!(
            "\"integrity\": \"sha512-{}==\"",
            f.chars(B64, 86)
        ),
        format!("resolved \"https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#{}\"", f.chars(HEX, 40)),
        // base64 of ordinary text
        "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw==".into(),
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==".into(),
        // prefixes in prose
        "OpenAI keys start with sk- and project keys with sk-proj-.".into(),
        "We use sk-learn-is-not-a-key-at-all-really for the model.".into(),
        "GitHub tokens start with ghp_ followed by 36 characters.".into(),
        "AWS key ids look like AKIA followed by sixteen characters.".into(),
        "A JWT starts with eyJ because of the JSON header.".into(),
        "Use an sk_test_ key in development.".into(),
        "Slack bot tokens begin with xoxb- and app tokens with xapp-.".into(),
        // ordinary and placeholder assignments
        "token = \"\"".into(),
        "password = \"${PASSWORD}\"".into(),
        "password: ${DB_PASSWORD}".into(),
        "api_key = \"your-api-key-here\"".into(),
        "password = \"changeme\"".into(),
        "secret = \"xxxxxxxxxxxxxxxx\"".into(),
        "TOKEN=xxxxxxxxxxxxxxxx".into(),
        "API_KEY=$API_KEY".into(),
        "client_secret: REPLACE_ME".into(),
        "password = os.environ[\"DB_PASSWORD\"]".into(),
        "\"password\": \"{{ .Values.db.password }}\"".into(),
        "password = \"correct horse battery staple\"".into(),
        "max_tokens: 1048576".into(),
        "token_count = 128000".into(),
        // code that names secrets
        "pub struct Config { token: String, password: Option<String> }".into(),
        "    token: String,".into(),
        "fn login(password: &str) -> bool {".into(),
        "let token = get_token();".into(),
        "api_key: ApiKey".into(),
        "from huggingface_hub import hf_hub_download".into(),
        "npm_config_registry=https://registry.npmjs.org/".into(),
        // URLs, headers and key material that is not secret
        "https://user@example.com/path?query=1".into(),
        "postgres://postgres:postgres@127.0.0.1:5432/test".into(),
        "Authorization: Bearer ${TOKEN}".into(),
        "Authorization: Bearer <token>".into(),
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----".into(),
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----".into(),
        // a documentation placeholder in Foreman's token format
        format!("FOREMAN_TOKEN={}", cat(&["fmn", "_", &"x".repeat(40)])),
        "AWS_REGION=us-east-1".into(),
        "Größenänderung: «Übersetzung» — 日本語のテキスト token: 値".into(),
    ];
    v.push(format!("{}\n", "the quick brown fox ".repeat(50)));
    v
}

fn covering<'a>(found: &'a [Finding], text: &str, secret: &str) -> Option<&'a Finding> {
    let at = text.find(secret)?;
    found
        .iter()
        .find(|f| f.start <= at && at + secret.len() <= f.end)
}

#[test]
fn every_positive_is_found_by_its_rule() {
    let s = SecretScanner::default_rules();
    let samples = positives();
    assert!(samples.len() >= 60, "{} positives", samples.len());
    let mut failures = Vec::new();
    for p in &samples {
        let found = s.scan(&p.text);
        match covering(&found, &p.text, &p.secret) {
            Some(f) if f.rule_id == p.rule => {}
            Some(f) => failures.push(format!(
                "{}: found by {} in {:?}",
                p.rule, f.rule_id, p.text
            )),
            None => failures.push(format!("{}: not found in {:?} ({found:?})", p.rule, p.text)),
        }
        let (clean, _) = s.redact(&p.text);
        if clean.contains(p.secret.as_str()) {
            failures.push(format!("{}: survived redaction: {clean}", p.rule));
        }
        if !clean.contains(&format!("[REDACTED:{}]", p.rule)) {
            failures.push(format!("{}: no marker in {clean}", p.rule));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_default_rule_has_positives() {
    let s = SecretScanner::default_rules();
    let samples = positives();
    for id in s.rule_ids() {
        let n = samples.iter().filter(|p| p.rule == id).count();
        assert!(n >= 1, "rule {id} has no positive sample");
    }
}

#[test]
fn no_negative_is_found() {
    let s = SecretScanner::default_rules();
    let samples = negatives();
    assert!(samples.len() >= 30, "{} negatives", samples.len());
    let mut failures = Vec::new();
    for text in &samples {
        let found = s.scan(text);
        if !found.is_empty() {
            let what: Vec<String> = found
                .iter()
                .map(|f| format!("{} {:?}", f.rule_id, &text[f.start..f.end]))
                .collect();
            failures.push(format!("{text:?}: {what:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn all_positives_in_one_text_are_all_redacted() {
    // The control for the negatives: the same scanner on one big text finds every secret.
    let s = SecretScanner::default_rules();
    let samples = positives();
    let mut text = negatives().join("\n");
    // an unterminated private key runs to the end of the text, so it goes last
    let (last, first): (Vec<&Positive>, Vec<&Positive>) = samples
        .iter()
        .partition(|p| p.text.starts_with("cut short"));
    assert_eq!(last.len(), 1);
    for p in first.into_iter().chain(last) {
        text.push('\n');
        text.push_str(&p.text);
    }
    let (clean, found) = s.redact(&text);
    for p in &samples {
        assert!(!clean.contains(p.secret.as_str()), "{} survived", p.rule);
    }
    assert!(
        found.len() >= samples.len(),
        "{} < {}",
        found.len(),
        samples.len()
    );
    let (again, more) = s.redact(&clean);
    assert_eq!(again, clean, "redaction is stable");
    assert!(more.is_empty());
}

#[test]
fn heuristics_are_not_strong() {
    let s = SecretScanner::default_rules();
    for p in positives() {
        let strong = s.strong_findings(&p.text);
        let heuristic = matches!(
            p.rule,
            "secret_assignment" | "url_credentials" | "bearer_token"
        );
        assert_eq!(strong.is_empty(), heuristic, "{} in {:?}", p.rule, p.text);
    }
}

#[test]
fn findings_hold_no_secret_text() {
    let s = SecretScanner::default_rules();
    for p in positives() {
        for f in s.scan(&p.text) {
            assert!(!format!("{f:?}").contains(p.secret.as_str()));
        }
    }
}

#[test]
fn extra_patterns_are_custom_rules() {
    let s = SecretScanner::with_extra(&[r"ACME-INTERNAL-\d{8}".into(), r"corp=(\w{6,})".into()])
        .unwrap();
    let (clean, found) = s.redact("id ACME-INTERNAL-88442211 and corp=abcdef1 end");
    assert_eq!(clean, "id [REDACTED:custom] and corp=[REDACTED:custom] end");
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|f| f.strong && f.rule_id == "custom"));
    // control: without the extra pattern, nothing is found
    assert!(
        SecretScanner::default_rules()
            .scan("id ACME-INTERNAL-88442211 and corp=abcdef1 end")
            .is_empty()
    );
    let e = SecretScanner::with_extra(&["(unclosed".into()]).unwrap_err();
    assert_eq!(e.code(), "invalid_secret_pattern");
    assert!(e.to_string().contains("(unclosed"), "{e}");
}

#[test]
fn where_labels_are_stable() {
    let labels: Vec<&str> = Where::ALL.iter().map(|w| w.as_str()).collect();
    assert_eq!(
        labels,
        [
            "system",
            "message",
            "tool_input",
            "tool_result",
            "tool_output",
            "file",
            "diff",
            "commit"
        ]
    );
    assert_eq!(
        foreman_secrets::SECRETS_DETECTED_TOTAL,
        "foreman_secrets_detected_total"
    );
}
