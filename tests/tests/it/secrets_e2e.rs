//! Secrets end to end, through the real server: tokens in a ticket, in a repository file and
//! in a test's output never reach the model, `foreman_secrets_detected_total` counts them where
//! they were found, and a token an implementer puts into a source file is stopped by the
//! commit gate and never reaches the remote.
//!
//! The server does not expose request bodies (its audit bodies are kept in memory, with no API
//! route), so in the scripted cases what the model received is checked at the scripted provider, which is the provider behind
//! the metered wrapper: canary entries match each raw token in the last user message and fail
//! the call loudly, and the entries that move the scripted agent forward match only the
//! redacted text (`[REDACTED:`), so the ticket merges only when the provider got redacted
//! requests. The wire cases point the server at the fake Anthropic API instead and check every
//! HTTP request body whole. Tokens are built at run time from parts, so no literal token is in
//! this file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::rig::{Db, Rig, Setup, complete, demo_script, plan, prepend, write_file};

const WITHIN: Duration = Duration::from_secs(120);

/// The marker the scripted canaries answer with when a raw token reached the provider.
const LEAKED: &str = "the provider received a secret";

/// An alphanumeric body of `len` characters, varied enough to pass the rules' entropy floor.
fn body(seed: u32, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ALPHABET[(x % ALPHABET.len() as u32) as usize] as char
        })
        .collect()
}

/// A Foreman-style API token (`fmn_` and 40 characters).
fn foreman_token(seed: u32) -> String {
    ["fmn", "_", &body(seed, 40)].concat()
}

/// A GitHub-style personal access token (`ghp_` and 36 characters).
fn github_token(seed: u32) -> String {
    ["ghp", "_", &body(seed, 36)].concat()
}

/// The 36 characters the Python expression [`PY_SUFFIX`] builds.
fn python_suffix() -> String {
    (0..18u8)
        .map(|i| format!("{}{}", char::from(65 + (i * 7) % 26), i % 10))
        .collect()
}

/// Python that builds [`python_suffix`] at run time.
const PY_SUFFIX: &str = "\"\".join(chr(65 + (i * 7) % 26) + str(i % 10) for i in range(18))";

/// A scripted answer of `role` (any role when `None`) calling `tool` with `input`.
fn tool(
    name: &str,
    role: Option<&str>,
    pattern: &str,
    tool: &str,
    input: Value,
    times: Option<u32>,
) -> Value {
    let mut e = json!({
        "name": name,
        "match": pattern,
        "response": {
            "tool_use": {"name": tool, "input": input},
            "usage": {"input_tokens": 1000, "output_tokens": 100}
        }
    });
    if let Some(r) = role {
        e["role"] = json!(r);
    }
    if let Some(t) = times {
        e["times"] = json!(t);
    }
    e
}

/// A canary: any request whose last user message holds `token` verbatim fails, naming the leak.
fn canary(token: &str) -> Value {
    json!({
        "name": format!("canary-{}", &token[..4]),
        "match": regex_escape(token),
        "error": {"kind": "invalid_request", "message": LEAKED}
    })
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Commits `path` with `content` to the remote's `main`.
fn seed_remote(remote: &Path, path: &str, content: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("seed");
    git(
        tmp.path(),
        &["clone", "--quiet", remote.to_str().unwrap(), "seed"],
    );
    std::fs::write(work.join(path), content).unwrap();
    git(&work, &["add", path]);
    git(
        &work,
        &[
            "-c",
            "user.name=Seed",
            "-c",
            "user.email=seed@localhost",
            "commit",
            "--quiet",
            "-m",
            "Add configuration",
        ],
    );
    git(&work, &["push", "--quiet", "origin", "main"]);
}

/// Every commit of every ref of the bare remote, with patches.
fn remote_history(remote: &Path) -> String {
    git(remote, &["--git-dir", ".", "log", "-p", "--all"])
}

/// `foreman_secrets_detected_total` by `where` (exposed as
/// `foreman_secrets_detected_by_where_total`: the contract family has no labels), from
/// `/api/metrics`.
async fn secrets_detected(rig: &Rig) -> Vec<(String, f64)> {
    let r = crate::support::http()
        .get(rig.server.as_ref().unwrap().url("/api/metrics"))
        .bearer_auth(&rig.token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let text = r.text().await.unwrap();
    let mut out: Vec<(String, f64)> = text
        .lines()
        .filter(|l| l.starts_with("foreman_secrets_detected_by_where_total{"))
        .filter_map(|l| {
            let site = l.split("where=\"").nth(1)?.split('"').next()?.to_owned();
            let value = l.rsplit(' ').next()?.parse().ok()?;
            Some((site, value))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn count_at(counts: &[(String, f64)], site: &str) -> f64 {
    counts
        .iter()
        .filter(|(s, _)| s == site)
        .map(|(_, v)| v)
        .sum()
}

/// The ticket's LLM call records, tasks and events as one text, the output of test runs that
/// events keep for the dashboard (`details.output_tail`) included: it is redacted before it is
/// stored, like everything a model is sent.
async fn records(rig: &Rig, id: &str) -> String {
    let mut all = String::new();
    for path in ["llm-calls", "tasks", "events"] {
        all.push_str(
            &rig.get(&format!("/api/tickets/{id}/{path}"))
                .await
                .to_string(),
        );
    }
    all
}

/// Asserts that no scripted canary fired and that none of `tokens` is in `text`.
fn assert_clean(what: &str, text: &str, tokens: &[&str]) {
    assert!(!text.contains(LEAKED), "a canary fired: {what}: {text}");
    for t in tokens {
        if let Some(at) = text.find(t) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(300)
                .map_or(0, |(i, _)| i);
            panic!(
                "{what} holds a token ({}…) after: {}",
                &t[..6],
                &text[from..at]
            );
        }
    }
}

/// The ticket carries a Foreman token, the repository's `config.py` a GitHub token the
/// implementer reads (context selection and `read_file`), and the test the implementer writes
/// prints a third token when it runs (`run_command` on the test command).
async fn redaction(db: Db) {
    let ticket_token = foreman_token(1);
    let file_token = github_token(2);
    let output_token = ["ghp", "_", &python_suffix()].concat();
    let tokens = [
        ticket_token.as_str(),
        file_token.as_str(),
        output_token.as_str(),
    ];

    let tasks = json!([{
        "sequence": 1, "title": "Add multiply to calc with unit tests",
        "description": "Write tests/test_multiply.py, then add multiply(a, b) to calc.py.",
        "acceptance_criteria": "multiply(2, 3) returns 6",
        "files_to_read": ["config.py", "calc.py"],
        "files_to_modify": ["calc.py", "tests/test_multiply.py"],
        "complexity": 1, "depends_on": []
    }]);
    let test_file = format!(
        "import unittest\n\nimport calc\n\nVALUE = \"ghp\" + \"_\" + {PY_SUFFIX}\n\n\nclass MultiplyTest(unittest.TestCase):\n    def test_multiplies_two_numbers(self):\n        print(\"LEAK_CHECK value=\" + VALUE)\n        self.assertTrue(hasattr(calc, \"multiply\"), \"calc.multiply is missing\")\n        self.assertEqual(calc.multiply(2, 3), 6)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n"
    );
    let mut entries: Vec<Value> = tokens.iter().map(|t| canary(t)).collect();
    entries.extend([
        plan(tasks, None),
        // tests phase: read config.py, write the test, run the suite, complete; each step
        // answers only the redacted form of what the last step returned
        tool(
            "read-config",
            Some("implementer"),
            "PHASE: TESTS",
            "read_file",
            json!({"path": "config.py"}),
            Some(1),
        ),
        write_file(
            "write-test-after-redacted-config",
            "API_KEY = \"?\\[REDACTED:",
            "tests/test_multiply.py",
            &test_file,
            Some(1),
        ),
        tool(
            "run-tests",
            Some("implementer"),
            "(created|overwrote) tests/test_multiply\\.py",
            "run_command",
            json!({"command": foreman_server::demo::TEST_COMMAND}),
            Some(1),
        ),
        complete(
            "tests-done-after-redacted-output",
            "LEAK_CHECK value=\\[REDACTED:",
            true,
            Some(1),
        ),
    ]);
    let script = prepend(demo_script(), entries);
    let Some(rig) = Rig::start(db, &script, &Setup::default()).await else {
        return;
    };
    seed_remote(
        &rig.remote,
        "config.py",
        &format!("\"\"\"Service settings.\"\"\"\n\nAPI_KEY = \"{file_token}\"\nTIMEOUT = 3\n"),
    );
    let description = format!(
        "{}\n\nThe staging deploy authenticates with {ticket_token}; keep it working.",
        foreman_server::demo::TICKET_DESCRIPTION
    );
    let (status, created) = rig
        .post(
            "/api/tickets",
            json!({
                "title": "Add a multiply function to calc",
                "description": description,
                "acceptance_criteria": foreman_server::demo::TICKET_CRITERIA,
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    rig.wait_for(&id, &["merged"], WITHIN).await;

    // Control: the inputs hold the tokens, so a request built from them without redaction
    // would have carried them.
    let stored = rig.get(&format!("/api/tickets/{id}")).await;
    assert!(
        stored["description"]
            .as_str()
            .unwrap()
            .contains(&ticket_token),
        "the stored ticket keeps its text"
    );
    assert!(rig.remote_file("config.py").contains(&file_token));
    let merged_test = rig.remote_file("tests/test_multiply.py");
    assert!(!merged_test.contains(&output_token), "{merged_test}");
    let tmp = tempfile::tempdir().unwrap();
    git(
        tmp.path(),
        &["clone", "--quiet", rig.remote.to_str().unwrap(), "main"],
    );
    let run = Command::new("python3")
        .args(["-m", "unittest", "tests.test_multiply"])
        .current_dir(tmp.path().join("main"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&run.stdout).contains(&output_token),
        "the merged test prints the token"
    );

    // (1) The provider got none of them: no canary fired (the ticket merged and no call
    // failed on one), and nothing recorded about the ticket holds them.
    assert_clean("the ticket's records", &records(&rig, &id).await, &tokens);
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let implementer = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["role"] == "implementer")
        .count();
    // read_file, write_file, run_command, complete, then the change and its complete
    assert!(implementer >= 6, "{calls:#}");

    // (2) Counted where found: the agent's context (config.py, the task), the output of its
    // tools (read_file, the test run) and the planner's request (the ticket text).
    let counts = secrets_detected(&rig).await;
    eprintln!("foreman_secrets_detected_total: {counts:?}");
    assert!(count_at(&counts, "file") >= 1.0, "{counts:?}");
    assert!(count_at(&counts, "tool_output") >= 2.0, "{counts:?}");
    assert!(
        count_at(&counts, "message") + count_at(&counts, "system") >= 1.0,
        "{counts:?}"
    );
    assert_eq!(count_at(&counts, "commit"), 0.0, "{counts:?}");
    // what the agent redacted is not counted again on the way out
    assert_eq!(count_at(&counts, "tool_result"), 0.0, "{counts:?}");
    assert_eq!(count_at(&counts, "tool_input"), 0.0, "{counts:?}");
    let events = rig.get(&format!("/api/tickets/{id}/events")).await;
    let reported = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "secrets_detected")
        .count();
    assert!(reported >= 2, "{events:#}");
    rig.finish().await;
}

#[tokio::test]
async fn secrets_in_a_ticket_a_file_and_test_output_never_reach_the_model_on_sqlite() {
    redaction(Db::Sqlite).await;
}

#[tokio::test]
async fn secrets_in_a_ticket_a_file_and_test_output_never_reach_the_model_on_postgres() {
    redaction(Db::Postgres).await;
}

/// Control for the canaries: one on text of `config.py` that is not a secret (and so reaches
/// the model unchanged through the context and `read_file`) fires, and the ticket fails naming
/// it. A token that escaped redaction would have been caught the same way.
#[tokio::test]
async fn a_canary_fires_on_file_text_that_does_reach_the_model() {
    let marker = ["CANARY", "_", &body(4, 12)].concat();
    let script = prepend(
        demo_script(),
        vec![
            canary(&marker),
            plan(
                json!([{
                    "sequence": 1, "title": "Add multiply to calc with unit tests",
                    "description": "Add multiply(a, b) to calc.py.",
                    "acceptance_criteria": "multiply(2, 3) returns 6",
                    "files_to_read": ["config.py", "calc.py"],
                    "files_to_modify": ["calc.py", "tests/test_multiply.py"],
                    "complexity": 1, "depends_on": []
                }]),
                None,
            ),
        ],
    );
    let setup = Setup {
        pipeline: vec!["max_implementation_retries = 1".into()],
        ..Setup::default()
    };
    let rig = Rig::start(Db::Sqlite, &script, &setup).await.unwrap();
    seed_remote(
        &rig.remote,
        "config.py",
        &format!("\"\"\"Service settings.\"\"\"\n\nREGION = \"{marker}\"\n"),
    );
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["failed", "partial", "blocked"], WITHIN)
        .await;
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    let recorded = format!("{calls}{tasks}");
    assert!(recorded.contains(LEAKED), "{recorded}");
    rig.finish().await;
}

/// The implementer puts a token into `app_config.py` in two edits (neither holds the whole
/// token, so the write check lets both through); the commit gate refuses the change with the
/// file, line and rule, the next attempt reads the value from the environment, and the ticket
/// merges with no trace of the token on the remote.
async fn commit_gate(db: Db) {
    let suffix = body(3, 36);
    let token = ["ghp", "_", &suffix].concat();
    let multiply = "\"\"\"A tiny calculator.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef multiply(a, b):\n    \"\"\"Return the product of a and b.\"\"\"\n    return a * b\n";
    let entries = vec![
        canary(&token),
        plan(
            json!([{
                "sequence": 1, "title": "Add multiply to calc with unit tests",
                "description": "Add multiply(a, b) to calc.py; app_config.py holds the GitHub token setting.",
                "acceptance_criteria": "multiply(2, 3) returns 6",
                "files_to_read": ["calc.py"],
                "files_to_modify": ["calc.py", "tests/test_multiply.py", "app_config.py"],
                "complexity": 1, "depends_on": []
            }]),
            None,
        ),
        // second attempt: the feedback names the place, not the value
        write_file(
            "fix-after-feedback",
            "(?s)PHASE: IMPLEMENT.*not committed: it adds what looks like a secret at app_config\\.py:1 \\(github_token\\)",
            "app_config.py",
            "import os\n\nGITHUB_PAT = os.environ.get(\"GITHUB_PAT\", \"\")\n",
            Some(1),
        ),
        complete("fixed", "overwrote app_config\\.py", true, Some(1)),
        // first attempt: a placeholder, then the token's body in an edit
        write_file(
            "placeholder",
            "PHASE: IMPLEMENT",
            "app_config.py",
            "GITHUB_PAT = \"ghp_PLACEHOLDER\"\n",
            Some(1),
        ),
        tool(
            "fill-in",
            Some("implementer"),
            "created app_config\\.py",
            "edit_file",
            json!({"path": "app_config.py", "old_string": "PLACEHOLDER", "new_string": suffix}),
            Some(1),
        ),
        write_file(
            "multiply",
            "edited app_config\\.py",
            "calc.py",
            multiply,
            Some(1),
        ),
    ];
    let script = prepend(demo_script(), entries);
    let Some(rig) = Rig::start(db, &script, &Setup::default()).await else {
        return;
    };
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;

    // The gate refused the first change, naming file, line and rule.
    let events = rig.get(&format!("/api/tickets/{id}/events")).await;
    let gate: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "secrets_detected" && e["details"]["where"] == "commit")
        .collect();
    assert_eq!(gate.len(), 1, "{events:#}");
    let findings = gate[0]["details"]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f == "app_config.py:1 (github_token)"),
        "{findings:?}"
    );
    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    assert_eq!(tasks[0]["status"], "done", "{tasks:#}");
    assert_eq!(tasks[0]["implementation_attempts"], 2, "{tasks:#}");
    assert_clean("the ticket's records", &records(&rig, &id).await, &[&token]);

    let counts = secrets_detected(&rig).await;
    eprintln!("foreman_secrets_detected_total: {counts:?}");
    assert_eq!(
        count_at(&counts, "commit"),
        findings.len() as f64,
        "{counts:?}"
    );
    // the reviewers of the first attempt got its diff with the token redacted
    assert!(count_at(&counts, "message") >= 1.0, "{counts:?}");

    // The remote never saw the token; the merged file reads it from the environment.
    let history = remote_history(&rig.remote);
    assert!(history.contains("app_config.py"), "the fix was pushed");
    assert_clean("the remote's history", &history, &[&token]);
    assert!(rig.remote_file("app_config.py").contains("os.environ"));
    assert!(rig.remote_file("calc.py").contains("def multiply"));
    rig.finish().await;
}

#[tokio::test]
async fn a_token_in_a_change_is_refused_by_the_commit_gate_and_never_pushed_on_sqlite() {
    commit_gate(Db::Sqlite).await;
}

#[tokio::test]
async fn a_token_in_a_change_is_refused_by_the_commit_gate_and_never_pushed_on_postgres() {
    commit_gate(Db::Postgres).await;
}

/// A server whose provider is the fake Anthropic API at `fake`, over HTTP, on SQLite, with the
/// sample repository and its bare remote.
struct WireServer {
    server: crate::support::Server,
    token: String,
    remote: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl WireServer {
    async fn start(fake: &foreman_llm::testing::FakeServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let remote = foreman_server::demo::ensure_sample_repository(dir.path()).unwrap();
        let config = format!(
            "[database]\ndriver = \"sqlite\"\n\n\
             [daemon]\npoll_interval = \"100ms\"\nhousekeeping_interval = \"200ms\"\nlease = \"10s\"\nshutdown_grace = \"5s\"\n\n\
             [llm]\nprovider = \"anthropic\"\napi_key = \"{}\"\nbase_url = \"{}\"\n\n\
             [git]\nprovider = \"local\"\nclone_url = \"{}\"\nauto_merge = true\n\n\
             [pipeline]\ntest_command = \"{}\"\n\n\
             [tracker]\n",
            fake.api_key(),
            fake.base_url(),
            remote.display(),
            foreman_server::demo::TEST_COMMAND,
        );
        let config_path = dir.path().join("foreman.toml");
        std::fs::write(&config_path, config).unwrap();
        let server =
            crate::support::Server::start(&data, &["--config", config_path.to_str().unwrap()])
                .await;
        let token = server.admin_token();
        Self {
            server,
            token,
            remote,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> Value {
        crate::support::http()
            .get(self.server.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Creates a ticket with `description` and returns its id.
    async fn ticket(&self, description: &str) -> String {
        let created: Value = crate::support::http()
            .post(self.server.url("/api/tickets"))
            .bearer_auth(&self.token)
            .json(&json!({
                "title": "Add a multiply function to calc",
                "description": description,
                "acceptance_criteria": foreman_server::demo::TICKET_CRITERIA,
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["id"].as_str().expect("ticket id").to_owned()
    }

    /// Waits until the ticket is in one of `statuses`, failing at a terminal other status.
    async fn wait_for(&self, id: &str, statuses: &[&str]) -> Value {
        let deadline = std::time::Instant::now() + WITHIN;
        loop {
            let t = self.get(&format!("/api/tickets/{id}")).await;
            let status = t["status"].as_str().unwrap_or("").to_owned();
            if statuses.contains(&status.as_str()) {
                return t;
            }
            let terminal = ["failed", "blocked", "partial", "merged"].contains(&status.as_str());
            if terminal || std::time::Instant::now() > deadline {
                let events = self.get(&format!("/api/tickets/{id}/events")).await;
                panic!("ticket {id} is {status}, not one of {statuses:?}: {t}\nevents: {events:#}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The ticket's description: the demo's and a sentence holding `token`.
fn description_with(token: &str) -> String {
    format!(
        "{}\n\nThe staging deploy authenticates with {token}; keep it working.",
        foreman_server::demo::TICKET_DESCRIPTION
    )
}

/// On the wire: the server talks to a fake Anthropic API over HTTP, and every request body it
/// sent (system prompt, messages and tools, whole) is checked. The planner gets a ticket holding
/// a Foreman token and answers with a plan that is never valid, so the ticket fails after its
/// planning attempts without running an agent.
#[tokio::test]
async fn the_ticket_token_never_goes_over_the_wire_to_the_provider() {
    use foreman_llm::testing::{FakeAnthropic, FakeReply};

    let ticket_token = foreman_token(5);
    let fake = FakeAnthropic::start("sk-fake-e2e").await.unwrap();
    let invalid = json!({"summary": "plan", "too_large": false, "tasks": [
        {"sequence": 1, "title": "Loop", "description": "d", "acceptance_criteria": "a",
         "files_to_modify": ["calc.py"], "complexity": 1, "depends_on": [1]}]});
    for _ in 0..5 {
        fake.push(FakeReply::tool_use("submit_plan", invalid.clone()));
    }
    let wire = WireServer::start(&fake).await;
    let id = wire.ticket(&description_with(&ticket_token)).await;
    let ticket = wire.wait_for(&id, &["failed"]).await;
    assert_eq!(ticket["last_error_type"], "plan", "{ticket}");
    // control: the ticket as stored holds the token
    assert!(
        ticket["description"]
            .as_str()
            .unwrap()
            .contains(&ticket_token)
    );

    let requests = fake.requests();
    assert!(!requests.is_empty(), "no request reached the fake");
    for r in &requests {
        let body = r.body.to_string();
        assert!(r.body.is_object(), "{body}");
        assert_clean("a request body on the wire", &body, &[&ticket_token]);
        // the rest of the description went out, the token as its marker
        assert!(
            body.contains("The staging deploy authenticates with [REDACTED:foreman_token]"),
            "{body}"
        );
    }
}

/// The whole pipeline on the wire: the three tokens of the scripted case (ticket, `config.py`,
/// test output), with the fake Anthropic API answering each call in the order the pipeline
/// makes them (planner, six implementer turns, three reviewers). Every request body that went
/// over HTTP is checked whole, and the redaction markers of all three are seen going out.
#[tokio::test]
async fn no_token_goes_over_the_wire_in_a_whole_ticket() {
    use foreman_llm::testing::{FakeAnthropic, FakeReply};

    let ticket_token = foreman_token(6);
    let file_token = github_token(7);
    let output_token = ["ghp", "_", &python_suffix()].concat();
    let test_file = format!(
        "import unittest\n\nimport calc\n\nVALUE = \"ghp\" + \"_\" + {PY_SUFFIX}\n\n\nclass MultiplyTest(unittest.TestCase):\n    def test_multiplies_two_numbers(self):\n        print(\"LEAK_CHECK value=\" + VALUE)\n        self.assertTrue(hasattr(calc, \"multiply\"), \"calc.multiply is missing\")\n        self.assertEqual(calc.multiply(2, 3), 6)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n"
    );
    let multiply = "\"\"\"A tiny calculator.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef multiply(a, b):\n    \"\"\"Return the product of a and b.\"\"\"\n    return a * b\n";
    let approve = json!({"approved": true, "issues": [], "summary": "fine"});
    let fake = FakeAnthropic::start("sk-fake-e2e").await.unwrap();
    for reply in [
        FakeReply::tool_use(
            "submit_plan",
            json!({"summary": "plan", "too_large": false, "tasks": [{
                "sequence": 1, "title": "Add multiply to calc with unit tests",
                "description": "Write tests/test_multiply.py, then add multiply(a, b) to calc.py.",
                "acceptance_criteria": "multiply(2, 3) returns 6",
                "files_to_read": ["config.py", "calc.py"],
                "files_to_modify": ["calc.py", "tests/test_multiply.py"],
                "complexity": 1, "depends_on": []}]}),
        ),
        FakeReply::tool_use("read_file", json!({"path": "config.py"})),
        FakeReply::tool_use(
            "write_file",
            json!({"path": "tests/test_multiply.py", "content": test_file}),
        ),
        FakeReply::tool_use(
            "run_command",
            json!({"command": foreman_server::demo::TEST_COMMAND}),
        ),
        FakeReply::tool_use("complete", json!({"done": true, "summary": "tests"})),
        FakeReply::tool_use(
            "write_file",
            json!({"path": "calc.py", "content": multiply}),
        ),
        FakeReply::tool_use("complete", json!({"done": true, "summary": "multiply"})),
        FakeReply::tool_use("submit_review", approve.clone()),
        FakeReply::tool_use("submit_review", approve.clone()),
        FakeReply::tool_use("submit_review", approve),
    ] {
        fake.push(reply);
    }
    let wire = WireServer::start(&fake).await;
    seed_remote(
        &wire.remote,
        "config.py",
        &format!("\"\"\"Service settings.\"\"\"\n\nAPI_KEY = \"{file_token}\"\nTIMEOUT = 3\n"),
    );
    let id = wire.ticket(&description_with(&ticket_token)).await;
    wire.wait_for(&id, &["merged"]).await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 10, "one request per scripted reply");
    let mut all = String::new();
    for r in &requests {
        let body = r.body.to_string();
        assert_clean(
            "a request body on the wire",
            &body,
            &[&ticket_token, &file_token, &output_token],
        );
        all.push_str(&body);
    }
    // the text around each token went out, with the marker in its place
    for marker in [
        "authenticates with [REDACTED:foreman_token]",
        "API_KEY = \\\"[REDACTED:",
        "LEAK_CHECK value=[REDACTED:github_token]",
    ] {
        assert!(all.contains(marker), "{marker} not sent: {all}");
    }
}
