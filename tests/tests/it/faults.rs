//! Fault injection: the real server works 50 tickets while the model API, the tracker and the
//! git host fail a fifth of their calls at random (429 with `Retry-After`, overload, 5xx,
//! timeouts answered by a gateway's 504, malformed JSON, connection resets). A malformed answer
//! of the tracker or the host comes after the fake acted (the answer garbled on the way), so a
//! write the client cannot know was made is retried and must not be doubled; the other faults
//! come before it acts.
//!
//! The tracker and the git host are one fake GitHub (issues in, pull requests out), the model
//! is a fake Anthropic Messages API whose answers are computed from each request (planner,
//! implementer, reviewers), the repository is a local bare remote. Every ticket must end
//! `merged` or `failed` with a class, none stuck; no side effect may be doubled (one pull
//! request per ticket, no comment twice, each status label added and the issue closed once);
//! and the usage Foreman recorded must equal what the fake model billed, token for token and
//! micro-dollar for micro-dollar.
//!
//! The outcome table is printed (run with `--nocapture`) and copied into
//! `docs/benchmarks.md` ("Fault injection"). `FOREMAN_FAULT_SEED` replays a run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use foreman_fakes::github::FakeGitHub;
use foreman_fakes::llm::FakeModel;
use foreman_fakes::{FaultPlan, Seen};
use serde_json::{Value, json};

const TICKETS: i64 = 50;
const FAULT_PERCENT: u32 = 20;
const WITHIN: Duration = Duration::from_secs(480);
/// The labels that stand for statuses on GitHub.
const STATUS_LABELS: &[&str] = &[
    "foreman-in-progress",
    "foreman-in-review",
    "foreman-blocked",
    "foreman-failed",
];

/// The ticket number a request is about: the `fault-<n>` marker its text carries (in the
/// ticket's title, the plan's task titles).
fn marker(text: &str) -> Option<u64> {
    let at = text.find("fault-")? + "fault-".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn tool(name: &str, input: Value) -> Vec<Value> {
    vec![json!({"type": "tool_use", "name": name, "input": input})]
}

fn test_file(n: u64) -> String {
    format!(
        "import importlib.util\nimport unittest\n\n\nclass F{n}Test(unittest.TestCase):\n    def test_f{n}_adds_{n}(self):\n        self.assertIsNotNone(importlib.util.find_spec(\"f{n}\"), \"f{n}.py is missing\")\n        import f{n}\n        self.assertEqual(f{n}.f{n}(1), {})\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n",
        n + 1
    )
}

/// The model's side: answers every role of the pipeline for ticket `fault-<n>` from the
/// request alone, so tickets can run in any order and any request can be sent again.
fn answer(request: &Value) -> Result<Vec<Value>, String> {
    let tools: Vec<&str> = request["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let whole = request["messages"].to_string();
    let n = marker(&whole);
    if tools.contains(&"submit_clarification") {
        return Ok(tool("submit_clarification", json!({"clear": true})));
    }
    if tools.contains(&"submit_review") {
        return Ok(tool(
            "submit_review",
            json!({"approved": true, "issues": [], "summary": "fine"}),
        ));
    }
    if tools.contains(&"submit_plan") {
        let n = n.ok_or("planner request without a fault marker")?;
        return Ok(tool(
            "submit_plan",
            json!({"summary": format!("add f{n}"), "too_large": false, "tasks": [{
                "sequence": 1,
                "title": format!("Add f{n} with its test (fault-{n})"),
                "description": format!("Write tests/test_f{n}.py, see it fail, then add f{n}.py with f{n}(x) = x + {n} (fault-{n})."),
                "acceptance_criteria": format!("f{n}(1) == {}", n + 1),
                "test_assertions": [format!("f{n}(1) == {}", n + 1)],
                "files_to_read": [],
                "files_to_modify": [format!("f{n}.py"), format!("tests/test_f{n}.py")],
                "complexity": 1,
                "depends_on": []
            }]}),
        ));
    }
    if tools.contains(&"write_file") {
        let last = request["messages"]
            .as_array()
            .and_then(|m| m.last())
            .cloned()
            .unwrap_or(Value::Null);
        let last_text = last.to_string();
        if last_text.contains("\"tool_result\"") {
            return Ok(tool("complete", json!({"done": true, "summary": "done"})));
        }
        let n = n.ok_or("implementer request without a fault marker")?;
        if last_text.contains("PHASE: TESTS") {
            return Ok(tool(
                "write_file",
                json!({"path": format!("tests/test_f{n}.py"), "content": test_file(n)}),
            ));
        }
        if last_text.contains("PHASE: IMPLEMENT") {
            return Ok(tool(
                "write_file",
                json!({"path": format!("f{n}.py"), "content": format!("def f{n}(x):\n    return x + {n}\n")}),
            ));
        }
        return Ok(tool(
            "complete",
            json!({"done": true, "summary": "nothing to do"}),
        ));
    }
    Err(format!("no answer for tools {tools:?}"))
}

/// The server, with its output in a file: this run logs a warning for every fault it meets,
/// more than an unread pipe holds.
struct Faulty {
    child: std::process::Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Faulty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Faulty {
    async fn start(gh: &FakeGitHub, model: &FakeModel) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let remote = foreman_server::demo::ensure_sample_repository(dir.path()).unwrap();
        let config = format!(
            "[database]\ndriver = \"sqlite\"\n\n\
             [daemon]\npoll_interval = \"100ms\"\nhousekeeping_interval = \"300ms\"\nlease = \"20s\"\nshutdown_grace = \"5s\"\nmax_parallel_tickets = 8\n\n\
             [rate_limit]\nrequests_per_minute = 6000\n\n\
             [llm]\nprovider = \"anthropic\"\napi_key = \"{key}\"\nbase_url = \"{model}\"\n\n\
             [git]\nprovider = \"github\"\nclone_url = \"{remote}\"\nrepository = \"acme/calc\"\ntoken = \"ghp_fake\"\nbase_url = \"{gh}\"\nauto_merge = true\n\n\
             [pipeline]\ntest_command = \"{test}\"\nmax_transient_retries = 8\ntransient_backoff = \"200ms\"\ntransient_backoff_max = \"2s\"\n\n\
             [tracker]\nprovider = \"github\"\nproject = \"acme/calc\"\ntoken = \"ghp_fake\"\nbase_url = \"{gh}\"\npoll_interval = \"300ms\"\n",
            key = model.api_key(),
            model = model.url(),
            remote = remote.display(),
            gh = gh.url(),
            test = foreman_server::demo::TEST_COMMAND,
        );
        let config_path = dir.path().join("foreman.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let port = crate::support::free_port();
        let child = std::process::Command::new(crate::support::binary("foreman-server"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(&data)
            .arg("--config")
            .arg(&config_path)
            .env_remove("FOREMAN_CONFIG")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env("RUST_LOG", "warn,foreman_pipeline::outbox=info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start foreman-server");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while client()
            .get(format!("{base}/api/health"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let token = std::fs::read_to_string(data.join("dashboard_token"))
            .unwrap()
            .trim()
            .to_owned();
        Self {
            child,
            base,
            token,
            _dir: dir,
        }
    }

    /// The server's log lines containing `needle` (the last 40).
    fn log_lines(&self, needle: &str) -> String {
        let log = std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn get(&self, path: &str) -> Value {
        let r = client()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn tickets(&self) -> Vec<Value> {
        self.get("/api/tickets?limit=200")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// An HTTP client whose requests give up after 30 s, so a server that stops answering fails
/// the test instead of hanging it.
fn client() -> reqwest::Client {
    let _ = crate::support::http();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Handled requests of `method` on the issue's `suffix` path (`""` for the issue itself).
fn handled(seen: &[Seen], method: &str, issue: i64, suffix: &str) -> usize {
    let path = format!("/repos/acme/calc/issues/{issue}{suffix}");
    seen.iter()
        .filter(|s| s.method == method && s.path == path)
        .count()
}

#[tokio::test]
async fn fifty_tickets_heal_through_a_fifth_of_calls_failing() {
    let seed = std::env::var("FOREMAN_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_207_u64);
    let gh = FakeGitHub::start("acme", "calc", "ghp_fake").await;
    let model = FakeModel::start("sk-fake-faults", answer).await;
    let mut issues = BTreeMap::new();
    for n in 1..=TICKETS {
        let number = gh.add_issue(
            &format!("Add f{n} (fault-{n})"),
            Some(&format!(
                "Add f{n}.py with f{n}(x) returning x + {n} (fault-{n}).\n\n## Acceptance criteria\n- f{n}(1) == {}",
                n + 1
            )),
            &["foreman-ready"],
            "ada",
        );
        issues.insert(format!("#{number}"), number);
    }
    let remote_faults =
        Arc::new(FaultPlan::new(FAULT_PERCENT, seed).with_waits(Duration::from_millis(500), 1));
    let model_faults = Arc::new(
        FaultPlan::new(FAULT_PERCENT, seed.wrapping_add(1))
            .with_waits(Duration::from_millis(500), 1),
    );
    gh.control.set_random_faults(Some(remote_faults.clone()));
    model.set_random_faults(Some(model_faults.clone()));
    let started = Instant::now();
    let foreman = Faulty::start(&gh, &model).await;

    // Every issue comes in and ends merged or failed.
    let deadline = Instant::now() + WITHIN;
    let tickets = loop {
        let tickets = foreman.tickets().await;
        let open: Vec<String> = tickets
            .iter()
            .filter(|t| !matches!(t["status"].as_str(), Some("merged" | "failed")))
            .map(|t| format!("{} {}", t["external_id"], t["status"]))
            .collect();
        if tickets.len() == issues.len() && open.is_empty() {
            break tickets;
        }
        assert!(
            Instant::now() < deadline,
            "stuck after {WITHIN:?}: {} of {} tickets taken in, not finished: {open:?}",
            tickets.len(),
            issues.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let wall = started.elapsed();
    // The faults stop; the tracker writes still waiting in the outbox for their retry are made
    // within their backoff: every merged ticket's issue ends closed, without a status label.
    gh.control.set_random_faults(None);
    model.set_random_faults(None);
    let merged_issues: Vec<i64> = tickets
        .iter()
        .filter(|t| t["status"] == "merged")
        .map(|t| issues[t["external_id"].as_str().unwrap()])
        .collect();
    let settle = Instant::now() + Duration::from_secs(180);
    loop {
        let open: Vec<i64> = merged_issues
            .iter()
            .copied()
            .filter(|n| {
                let issue = gh.issue(*n).unwrap();
                issue.state != "closed"
                    || issue
                        .labels
                        .iter()
                        .any(|l| STATUS_LABELS.contains(&l.as_str()))
            })
            .collect();
        if open.is_empty() {
            break;
        }
        if Instant::now() >= settle {
            // what each stuck issue is, what the fake handled on it, and the ticket's events
            let seen = gh.control.handled();
            let mut why = String::new();
            for n in &open {
                let issue = gh.issue(*n).unwrap();
                let prefix = format!("/repos/acme/calc/issues/{n}");
                let on_issue =
                    |x: &&Seen| x.path == prefix || x.path.starts_with(&format!("{prefix}/"));
                let calls: Vec<String> = seen
                    .iter()
                    .filter(on_issue)
                    .map(|x| format!("{} {}", x.method, &x.path[prefix.len()..]))
                    .collect();
                let asked: Vec<String> = gh
                    .control
                    .requests()
                    .iter()
                    .filter(on_issue)
                    .map(|x| format!("{} {}", x.method, &x.path[prefix.len()..]))
                    .collect();
                let ticket = tickets
                    .iter()
                    .find(|t| issues[t["external_id"].as_str().unwrap()] == *n)
                    .map(|t| t["id"].as_str().unwrap().to_owned())
                    .unwrap_or_default();
                let events = foreman
                    .get(&format!("/api/tickets/{ticket}/events?limit=200"))
                    .await;
                let events: Vec<String> = events
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| format!("{} {}", e["type"], e["message"]))
                    .collect();
                why.push_str(&format!(
                    "\nissue #{n} (ticket {ticket}): state {}, labels {:?}\n  handled: {calls:?}\n  asked: {asked:?}\n  events: {events:#?}\n  log: {}\n",
                    issue.state,
                    issue.labels,
                    foreman.log_lines(&ticket)
                ));
            }
            panic!("merged tickets whose issue is still open or labelled: {open:?}{why}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled = started.elapsed();

    let mut outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut retries: BTreeMap<String, usize> = BTreeMap::new();
    let (mut recorded_in, mut recorded_out, mut recorded_micros) = (0u64, 0u64, 0i64);
    let mut failed_llm_calls = 0usize;
    for t in &tickets {
        let id = t["id"].as_str().unwrap();
        match t["status"].as_str() {
            Some("merged") => *outcome.entry("merged".into()).or_default() += 1,
            _ => {
                let class = t["last_error_type"].as_str().unwrap_or("");
                assert!(!class.is_empty(), "failed without a class: {t}");
                assert!(
                    !t["last_error"].as_str().unwrap_or("").is_empty(),
                    "failed without its last error: {t}"
                );
                *outcome.entry(format!("failed: {class}")).or_default() += 1;
            }
        }
        // the newest 100 events: far more than a ticket here has
        let events = foreman.get(&format!("/api/tickets/{id}/events")).await;
        for e in events.as_array().unwrap() {
            let kind = match (e["event_type"].as_str(), e["details"]["source"].as_str()) {
                (Some("rate_limit_backoff"), Some("pipeline")) => {
                    format!(
                        "step retried ({})",
                        e["details"]["class"].as_str().unwrap_or("?")
                    )
                }
                (Some("tracker_update_failed"), _) => "tracker write retried".to_owned(),
                _ => continue,
            };
            *retries.entry(kind).or_default() += 1;
        }
        let calls = foreman.get(&format!("/api/tickets/{id}/llm-calls")).await;
        for c in calls.as_array().unwrap() {
            recorded_in += c["tokens_input"].as_u64().unwrap();
            recorded_out += c["tokens_output"].as_u64().unwrap();
            recorded_micros += (c["cost_usd"].as_f64().unwrap() * 1e6).round() as i64;
            if c["status"] != "success" {
                failed_llm_calls += 1;
            }
        }
    }

    // No duplicate side effects at the host or the tracker.
    let pulls = gh.pulls();
    let heads: BTreeSet<&str> = pulls.iter().map(|p| p.head.as_str()).collect();
    assert_eq!(heads.len(), pulls.len(), "a branch got two pull requests");
    let merged = outcome.get("merged").copied().unwrap_or(0);
    assert_eq!(
        pulls.iter().filter(|p| p.merged).count(),
        merged,
        "one merged pull request per merged ticket"
    );
    let seen = gh.control.handled();
    let garbled = gh.control.garbled();
    let mut duplicates = Vec::new();
    for t in &tickets {
        let number = issues[t["external_id"].as_str().unwrap()];
        let issue = gh.issue(number).unwrap();
        let bodies: BTreeSet<&str> = issue.comments.iter().map(|c| c.body.as_str()).collect();
        if bodies.len() != issue.comments.len() {
            duplicates.push(format!(
                "#{number}: a comment posted twice: {:?}",
                issue.comments
            ));
        }
        if t["status"] == "merged" {
            // in progress, in review: one label each at most (an update overtaken by a later
            // one is superseded, not made); done: the issue closed, once. A request whose
            // answer was garbled was made, and may rightly be made again: it is not counted.
            let added = handled(&seen, "POST", number, "/labels")
                - handled(&garbled, "POST", number, "/labels");
            let closes = handled(&seen, "PATCH", number, "");
            let closed = closes - handled(&garbled, "PATCH", number, "");
            if added > 2 || closes == 0 || closed > 1 {
                duplicates.push(format!(
                    "#{number}: {added} label additions, {closed} closes, state {}",
                    issue.state
                ));
            }
        }
    }
    assert!(
        duplicates.is_empty(),
        "duplicated side effects: {duplicates:#?}"
    );

    // No spend unaccounted: what Foreman recorded is what the provider billed.
    let billed = model.billed();
    let pricing = foreman_llm::pricing::PricingTable::builtin();
    let billed_micros: i64 = billed
        .answers
        .iter()
        .map(|(m, i, o)| {
            let usage = serde_json::from_value(json!({"input_tokens": i, "output_tokens": o}))
                .expect("usage");
            pricing.cost(m, &usage).0
        })
        .sum();
    assert_eq!(
        (recorded_in, recorded_out),
        (billed.input_tokens, billed.output_tokens),
        "recorded tokens (in, out) against billed"
    );
    assert_eq!(
        recorded_micros, billed_micros,
        "recorded cost against billed (µ$)"
    );

    // Faults did happen, on both sides.
    assert!(remote_faults.injected_total() > 0 && model_faults.injected_total() > 0);
    println!(
        "fault injection (seed {seed}, {FAULT_PERCENT} % of calls, {TICKETS} tickets, all finished at {wall:.1?}, the tracker settled at {settled:.1?}):"
    );
    println!("  outcome: {outcome:?}");
    println!(
        "  host/tracker: {} requests, faults {:?}",
        remote_faults.requests(),
        remote_faults.injected()
    );
    println!(
        "  model: {} requests, faults {:?}, billed {} answers",
        model_faults.requests(),
        model_faults.injected(),
        billed.calls
    );
    println!("  retries: {retries:?}; failed LLM call records: {failed_llm_calls}");
    println!(
        "  spend: {recorded_in} in / {recorded_out} out tokens, {recorded_micros} µ$ recorded = billed; duplicates: 0"
    );
}

/// `foreman doctor` reports a configured tracker status the tracker does not have (a Jira
/// project whose workflow has no `Failed`), and passes the check once the names exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_status_name_the_tracker_does_not_have() {
    let jira = foreman_fakes::FakeJira::start("PROJ", "bot@example.com", "jira-token").await;
    let dir = tempfile::tempdir().unwrap();
    let remote = foreman_server::demo::ensure_sample_repository(dir.path()).unwrap();
    let data = dir.path().join("data");
    let migrate = crate::support::cli(&["migrate", "--data-dir", data.to_str().unwrap()], &[]);
    assert!(migrate.status.success());
    let run = |statuses: &str| {
        let config = dir.path().join("foreman.toml");
        std::fs::write(
            &config,
            format!(
                "[llm]\nprovider = \"scripted\"\n\n[git]\nprovider = \"local\"\nclone_url = {:?}\n\n\
                 [tracker]\nprovider = \"jira\"\nbase_url = {:?}\ntoken = \"bot@example.com:jira-token\"\nproject = \"PROJ\"\n\n\
                 [tracker.statuses]\n{statuses}\n",
                remote.to_str().unwrap(),
                jira.url(),
            ),
        )
        .unwrap();
        crate::support::cli(
            &[
                "doctor",
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[],
        )
    };
    let out = tokio::task::block_in_place(|| run("failed = \"Failed\""));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().any(|l| l
            .starts_with("✗ [default] tracker statuses: failed maps to \"Failed\"")
            && l.contains("project PROJ")),
        "{stdout}"
    );
    // control: the defaults all exist in the fake's workflow
    let out = tokio::task::block_in_place(|| run(""));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("✓ [default] tracker statuses: ")),
        "{stdout}"
    );
}
