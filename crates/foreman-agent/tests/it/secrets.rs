//! The secrets corpus: secrets planted in the task, in files, in command output and in a diff
//! never reach a recorded LLM request.

use std::sync::Arc;

use anyhow::Result;
use foreman_agent::{RunnerSettings, SecretScanner};
use foreman_domain::agent::{
    AgentRequest, AgentRunner, AgentStopReason, AgentTask, NoAgentProgress,
};
use foreman_domain::{EventFilter, EventLog, EventType};
use foreman_testkit::MemoryStore;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::json;

use crate::support::{Repo, runner, scripted_tools, settings};

/// Secrets in the formats the scanner knows, each with the exact value that must not leak.
fn corpus() -> Vec<(&'static str, String)> {
    let gh = format!(
        "ghp_{}",
        "A1b2C3d4E5f6G7h8I9j0"
            .repeat(2)
            .chars()
            .take(36)
            .collect::<String>()
    );
    vec![
        ("aws access key", "AKIAIOSFODNN7EXAMPLE".to_owned()),
        (
            "aws session key",
            "ASIAJEXAMPLEXEG2JICEA".chars().take(20).collect(),
        ),
        (
            "aws secret",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        ),
        ("github classic", gh),
        (
            "github oauth",
            format!("gho_{}", "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn"),
        ),
        (
            "github fine-grained",
            format!(
                "github_pat_11ABCDEFG0{}",
                "abcdefghij_KLMNOPQRST_0123456789abcdefghijklmnopqrstuvwxyz0123"
            ),
        ),
        ("gitlab", "glpat-xYz12345AbCdEfGhIjKl".to_owned()),
        (
            "slack bot",
            "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx".to_owned(),
        ),
        (
            "slack webhook",
            "https://hooks.slack.com/services/T01234567/B01234567/AbCdEfGhIjKlMnOpQrStUvWx"
                .to_owned(),
        ),
        (
            "anthropic",
            "sk-ant-api03-Abc123Def456Ghi789Jkl012Mno345Pqr678".to_owned(),
        ),
        (
            "openai project",
            "sk-proj-Q1w2E3r4T5y6U7i8O9p0Aa1Ss2Dd3Ff4".to_owned(),
        ),
        (
            "openai legacy",
            "sk-1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R9s0T".to_owned(),
        ),
        ("stripe", "sk_live_51HxYzAbCdEfGhIjKlMnOp".to_owned()),
        ("password literal", "S3cr3t-Pa55w0rd!".to_owned()),
        ("db password env", "hunter2hunter2x9".to_owned()),
        ("api token yaml", "tok_9f8e7d6c5b4a3210".to_owned()),
        ("url credentials", "p4ssw0rd-in-url".to_owned()),
        (
            "private key body",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7".to_owned(),
        ),
        ("custom pattern", "ACME-INTERNAL-88442211".to_owned()),
        ("dotenv value", "dotenv-only-secret-4242".to_owned()),
    ]
}

fn config_file(c: &[(&str, String)]) -> String {
    let v = |name: &str| c.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    format!(
        "# deployment settings\n\
         aws_access_key_id = {}\n\
         session = \"{}\"\n\
         aws_secret_access_key = {}\n\
         github = \"{}\"\n\
         oauth: {}\n\
         fine = '{}'\n\
         gitlab_ci = {}\n\
         slack = {}\n\
         hook = \"{}\"\n\
         anthropic = \"{}\"\n\
         openai = \"{}\"\n\
         legacy = \"{}\"\n\
         stripe = \"{}\"\n\
         password = \"{}\"\n\
         DB_PASSWORD={}\n\
         api_token: {}\n\
         database_url = \"postgres://app:{}@db.internal:5432/app\"\n\
         internal = {}\n",
        v("aws access key"),
        v("aws session key"),
        v("aws secret"),
        v("github classic"),
        v("github oauth"),
        v("github fine-grained"),
        v("gitlab"),
        v("slack bot"),
        v("slack webhook"),
        v("anthropic"),
        v("openai project"),
        v("openai legacy"),
        v("stripe"),
        v("password literal"),
        v("db password env"),
        v("api token yaml"),
        v("url credentials"),
        v("custom pattern"),
    )
}

#[tokio::test]
async fn no_secret_reaches_a_recorded_llm_request() -> Result<()> {
    let c = corpus();
    let key = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\nQ2hlY2sgdGhpcyBvdXQ=\n-----END RSA PRIVATE KEY-----\n",
        c.iter().find(|(n, _)| *n == "private key body").unwrap().1
    );
    let config = config_file(&c);
    let repo = Repo::new(&[
        ("config/settings.toml", config.as_str()),
        ("docs/key-example.txt", key.as_str()),
        ("src/app.py", "def main():\n    return 1\n"),
    ])?;
    std::fs::write(
        repo.path.join(".env"),
        format!(
            "TOKEN={}\n",
            c.iter().find(|(n, _)| *n == "dotenv value").unwrap().1
        ),
    )?;
    // A change the diff will show, holding secrets.
    std::fs::write(
        repo.path.join("config/settings.toml"),
        format!("{config}extra = 1\n"),
    )?;

    let llm = scripted_tools(&[
        ("read_file", json!({"path": "config/settings.toml"})),
        ("read_file", json!({"path": "docs/key-example.txt"})),
        ("read_file", json!({"path": ".env"})),
        (
            "grep",
            json!({"pattern": "(?i)key|token|password|secret|url|internal|hook"}),
        ),
        (
            "run_command",
            json!({"command": "cat config/settings.toml docs/key-example.txt"}),
        ),
        ("run_command", json!({"command": "cat .env"})),
        ("git_diff", json!({})),
        (
            "write_file",
            json!({"path": "leak.txt", "content": "copied AKIAZZZZZZZZZZZZZZZ7"}),
        ),
        ("write_file", json!({"path": "leak2.pem", "content": "x"})),
        ("complete", json!({"summary": "looked around"})),
    ]);
    let store = Arc::new(MemoryStore::new());
    let mut s: RunnerSettings = settings(&["cat"]);
    s.secret_patterns = vec![r"ACME-INTERNAL-\d{8}".into()];
    s.context.base_budget_tokens = 50_000;
    s.stall_turns = 0;
    let runner = runner(llm.clone(), s).with_events(store.clone());
    let task = AgentTask {
        description: format!(
            "Rotate the key {} found in config/settings.toml; it replaced old_password: \"{}\".",
            c[0].1,
            c.iter().find(|(n, _)| *n == "password literal").unwrap().1
        ),
        files: vec![
            "config/settings.toml".into(),
            "docs/key-example.txt".into(),
            ".env".into(),
        ],
        ..AgentTask::new("Rotate leaked credentials")
    };

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let outcome = {
        let _guard = metrics::set_default_local_recorder(&recorder);
        runner
            .run(&AgentRequest::new(task, &repo.path), &NoAgentProgress)
            .await?
    };
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert_eq!(llm.count(), 10);

    let sent = llm.all_json();
    let mut leaks = Vec::new();
    for (name, value) in &c {
        if let Some(i) = sent.find(value.as_str()) {
            eprintln!(
                "LEAK {name}: ...{}...",
                &sent[i.saturating_sub(200)..(i + 60).min(sent.len())]
            );
            leaks.push(*name);
        }
    }
    assert!(leaks.is_empty(), "secrets reached the model: {leaks:?}");
    assert!(!sent.contains("BEGIN RSA PRIVATE KEY"));
    // The redactions are visible, so the model knows something was there.
    assert!(sent.contains("[REDACTED:aws_access_key]"));
    assert!(sent.contains("[REDACTED:private_key]"));
    assert!(sent.contains("[REDACTED:custom]"));
    // The transcript kept for people is scrubbed too, the model's own tool inputs included.
    let transcript = serde_json::to_string(&outcome.transcript)?;
    assert!(!transcript.contains("AKIAZZZZZZZZZZZZZZZ7"));
    for (name, value) in &c {
        assert!(
            !transcript.contains(value.as_str()),
            "{name} in the transcript"
        );
    }
    // Writes that add a secret, or a secret file, were refused.
    assert!(!repo.path.join("leak.txt").exists());
    assert!(!repo.path.join("leak2.pem").exists());
    assert!(outcome.files_changed.is_empty());

    assert!(
        outcome.secrets_redacted >= 20,
        "{}",
        outcome.secrets_redacted
    );
    let events = store
        .list_events(&EventFilter {
            types: vec![EventType::SecretsDetected],
            limit: 100,
            ..EventFilter::default()
        })
        .await?;
    assert!(events.len() >= 4, "{}", events.len());
    let counted: u64 = events
        .iter()
        .map(|e| {
            e.details
                .as_ref()
                .and_then(|d| d["count"].as_u64())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(counted, outcome.secrets_redacted);
    let mut by_where = std::collections::BTreeMap::new();
    for (k, _, _, v) in snapshotter.snapshot().into_vec() {
        if k.key().name() != "foreman_secrets_detected_total" {
            continue;
        }
        let site = k
            .key()
            .labels()
            .find(|l| l.key() == "where")
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        let DebugValue::Counter(n) = v else {
            panic!("not a counter: {v:?}");
        };
        by_where.insert(site, n);
    }
    assert_eq!(
        by_where.values().sum::<u64>(),
        outcome.secrets_redacted,
        "{by_where:?}"
    );
    assert!(by_where.get("file").is_some_and(|n| *n > 0), "{by_where:?}");
    assert!(
        by_where.get("tool_output").is_some_and(|n| *n > 0),
        "{by_where:?}"
    );
    Ok(())
}

#[test]
fn every_corpus_value_is_found_by_the_scanner() {
    let c = corpus();
    let mut scanner_input = config_file(&c);
    scanner_input.push_str("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n");
    let s = SecretScanner::with_extra(&[r"ACME-INTERNAL-\d{8}".into()]).unwrap();
    let (clean, found) = s.redact(&scanner_input);
    for (name, value) in c.iter().filter(|(n, _)| *n != "dotenv value") {
        assert!(!clean.contains(value.as_str()), "{name} survived: {clean}");
    }
    assert!(found.len() >= 18);
}
