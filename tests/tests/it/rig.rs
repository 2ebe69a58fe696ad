//! A real `foreman-server` working real tickets: a sample repository with a local bare remote,
//! the local tracker and git host, the scripted provider with a per-test script, and SQLite or
//! PostgreSQL. The same composition root `foreman-server` uses in production.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

use crate::support::{Server, http};

/// Which database the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Settings of one rig beyond the script.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Extra `key = value` lines under `[pipeline]`.
    pub pipeline: Vec<String>,
    /// Extra lines under `[cost]`.
    pub cost: Vec<String>,
    /// Extra lines under `[daemon]`.
    pub daemon: Vec<String>,
    /// Leave `auto_merge` off.
    pub no_auto_merge: bool,
    /// Lines under `[tracker]` (default: the local tracker).
    pub tracker: Vec<String>,
    /// Lines under `[git]` besides `clone_url` and `auto_merge` (default: the local host).
    pub git: Vec<String>,
    /// `[daemon] housekeeping_interval` (default 200 ms).
    pub housekeeping: Option<&'static str>,
    /// `[daemon] poll_interval` (default 100 ms).
    pub poll: Option<&'static str>,
    /// Lines under `[agent_runner]` (default: the built-in runner).
    pub agent_runner: Vec<String>,
    /// Lines under `[runner]` (default: none, so the OS sandbox).
    pub runner: Vec<String>,
    /// Environment variables of the server process.
    pub env: Vec<(String, String)>,
}

/// A running server with its repository, script and database.
pub struct Rig {
    pub server: Option<Server>,
    pub token: String,
    pub remote: PathBuf,
    /// The server's data directory.
    pub data: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    pg: Option<TestSchema>,
}

/// The demo script (planner, implementer phases, reviewers for the multiply ticket).
pub fn demo_script() -> Value {
    serde_json::from_str(foreman_server::demo::SCRIPT).expect("demo script is JSON")
}

/// Puts `entries` in front of the script's own (so they answer first while their `times`
/// last).
pub fn prepend(mut script: Value, entries: Vec<Value>) -> Value {
    let list = script["entries"].as_array_mut().expect("entries");
    for (i, e) in entries.into_iter().enumerate() {
        list.insert(i, e);
    }
    script
}

/// A `write_file` answer of the implementer.
pub fn write_file(
    name: &str,
    pattern: &str,
    path: &str,
    content: &str,
    times: Option<u32>,
) -> Value {
    let mut e = json!({
        "name": name,
        "role": "implementer",
        "match": pattern,
        "response": {
            "tool_use": {"name": "write_file", "input": {"path": path, "content": content}},
            "usage": {"input_tokens": 1000, "output_tokens": 100}
        }
    });
    if let Some(t) = times {
        e["times"] = json!(t);
    }
    e
}

/// A `complete` answer of the implementer.
pub fn complete(name: &str, pattern: &str, done: bool, times: Option<u32>) -> Value {
    let mut e = json!({
        "name": name,
        "role": "implementer",
        "match": pattern,
        "response": {
            "tool_use": {"name": "complete", "input": {"done": done, "summary": name}},
            "usage": {"input_tokens": 1000, "output_tokens": 20}
        }
    });
    if let Some(t) = times {
        e["times"] = json!(t);
    }
    e
}

/// An `edit_file` answer of the implementer.
pub fn edit_file(name: &str, pattern: &str, path: &str, old: &str, new: &str) -> Value {
    json!({
        "name": name,
        "role": "implementer",
        "match": pattern,
        "response": {
            "tool_use": {"name": "edit_file", "input": {"path": path, "old_string": old, "new_string": new}},
            "usage": {"input_tokens": 1000, "output_tokens": 80}
        }
    })
}

/// Implementer answers for a divide task and a multiply task that both edit `calc.py` in
/// place: divide goes in at the top (`divide_at_top`, a separate hunk from multiply's) or right
/// after `add`, where multiply goes too (the two changes conflict).
pub fn calc_edits(divide_at_top: bool) -> Vec<Value> {
    let divide_test = "import unittest\n\nimport calc\n\n\nclass DivideTest(unittest.TestCase):\n    def test_divide(self):\n        self.assertTrue(hasattr(calc, \"divide\"), \"calc.divide is missing\")\n        self.assertEqual(calc.divide(6, 3), 2)\n";
    let divide =
        "\n\ndef divide(a, b):\n    \"\"\"Return a divided by b.\"\"\"\n    return a / b\n";
    let (anchor, with_divide) = if divide_at_top {
        let a = "\"\"\"A tiny calculator.\"\"\"\n";
        (a, format!("{a}{divide}"))
    } else {
        ("    return a + b\n", format!("    return a + b\n{divide}"))
    };
    vec![
        complete("edited", "edited calc\\.py", true, None),
        complete(
            "divide-tests-written",
            "(created|overwrote) tests/test_divide\\.py",
            true,
            None,
        ),
        write_file(
            "divide-tests",
            "(?s)Task: Add divide.*PHASE: TESTS",
            "tests/test_divide.py",
            divide_test,
            None,
        ),
        edit_file(
            "divide-impl",
            "(?s)Task: Add divide.*PHASE: IMPLEMENT",
            "calc.py",
            anchor,
            &with_divide,
        ),
        edit_file(
            "multiply-impl",
            "(?s)Task: Add multiply.*PHASE: IMPLEMENT",
            "calc.py",
            "    return a + b\n",
            "    return a + b\n\n\ndef multiply(a, b):\n    \"\"\"Return the product of a and b.\"\"\"\n    return a * b\n",
        ),
    ]
}

/// `calc.py` with both multiply and divide after add: how the conflict resolver settles the
/// conflict [`calc_edits`]`(false)` makes.
pub const CALC_WITH_MULTIPLY_AND_DIVIDE: &str = "\"\"\"A tiny calculator.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef multiply(a, b):\n    \"\"\"Return the product of a and b.\"\"\"\n    return a * b\n\n\ndef divide(a, b):\n    \"\"\"Return a divided by b.\"\"\"\n    return a / b\n";

/// The conflict resolver's answers: it writes [`CALC_WITH_MULTIPLY_AND_DIVIDE`], then
/// completes.
pub fn conflict_resolution() -> Vec<Value> {
    let mut resolved = complete("resolved", "(created|overwrote) calc\\.py", true, None);
    resolved["role"] = json!("conflict_resolver");
    let mut resolve = write_file(
        "resolve",
        ".*",
        "calc.py",
        CALC_WITH_MULTIPLY_AND_DIVIDE,
        None,
    );
    resolve["role"] = json!("conflict_resolver");
    vec![resolved, resolve]
}

/// A reviewer's verdict.
pub fn review(role: &str, approved: bool, times: Option<u32>) -> Value {
    let issues = if approved {
        json!([])
    } else {
        json!(["multiply is not documented"])
    };
    let mut e = json!({
        "name": format!("{role}-{approved}"),
        "role": role,
        "response": {
            "tool_use": {"name": "submit_review", "input": {"approved": approved, "issues": issues, "summary": "verdict"}},
            "usage": {"input_tokens": 800, "output_tokens": 30}
        }
    });
    if let Some(t) = times {
        e["times"] = json!(t);
    }
    e
}

/// A planner answer with `tasks`.
pub fn plan(tasks: Value, times: Option<u32>) -> Value {
    let mut e = json!({
        "name": "plan",
        "role": "planner",
        "response": {
            "tool_use": {"name": "submit_plan", "input": {"summary": "plan", "too_large": false, "tasks": tasks}},
            "usage": {"input_tokens": 2000, "output_tokens": 200}
        }
    });
    if let Some(t) = times {
        e["times"] = json!(t);
    }
    e
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

impl Rig {
    /// Starts a server on `db` with `script`; `None` when PostgreSQL is not configured outside
    /// CI.
    pub async fn start(db: Db, script: &Value, setup: &Setup) -> Option<Self> {
        let pg = match db {
            Db::Sqlite => None,
            Db::Postgres => Some(TestSchema::create("pipeline").await?),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let remote = foreman_server::demo::ensure_sample_repository(dir.path()).expect("sample");
        let script_path = dir.path().join("script.json");
        std::fs::write(&script_path, serde_json::to_vec_pretty(script).unwrap()).unwrap();
        let database = match &pg {
            Some(s) => format!("driver = \"postgres\"\nurl = \"{}\"\n", s.url()),
            None => "driver = \"sqlite\"\n".to_owned(),
        };
        let config = format!(
            "[database]\n{database}\n\
             [daemon]\npoll_interval = \"{}\"\nhousekeeping_interval = \"{}\"\nlease = \"10s\"\nshutdown_grace = \"5s\"\n{}\n\n\
             [llm]\nprovider = \"scripted\"\nscript = \"{}\"\n\n\
             [git]\n{}\nclone_url = \"{}\"\nauto_merge = {}\n\n\
             [pipeline]\ntest_command = \"{}\"\n{}\n\n\
             [cost]\n{}\n\n\
             [agent_runner]\n{}\n\n\
             [runner]\n{}\n\n\
             [tracker]\n{}\n",
            setup.poll.unwrap_or("100ms"),
            setup.housekeeping.unwrap_or("200ms"),
            setup.daemon.join("\n"),
            script_path.display(),
            if setup.git.is_empty() {
                "provider = \"local\"".to_owned()
            } else {
                setup.git.join("\n")
            },
            remote.display(),
            !setup.no_auto_merge,
            foreman_server::demo::TEST_COMMAND,
            setup.pipeline.join("\n"),
            setup.cost.join("\n"),
            setup.agent_runner.join("\n"),
            setup.runner.join("\n"),
            setup.tracker.join("\n"),
        );
        let config_path = dir.path().join("foreman.toml");
        std::fs::write(&config_path, config).unwrap();
        let server = Server::start_with_env(
            &data,
            &["--config", config_path.to_str().unwrap()],
            &setup.env,
        )
        .await;
        let token = server.admin_token();
        Some(Self {
            server: Some(server),
            token,
            remote,
            data,
            config: config_path,
            env: setup.env.clone(),
            dir,
            pg,
        })
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("server running")
    }

    /// Kills the server with SIGKILL (no drain, no lease release).
    pub fn kill(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }

    /// Starts another node: a second server with its own data directory (node id, cached
    /// clone, worktrees) on the same configuration, database and remote. It is stopped when
    /// the returned handle is dropped.
    pub async fn start_node(&self, name: &str) -> Server {
        let data = self.dir.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        Server::start_with_env(
            &data,
            &["--config", self.config.to_str().unwrap()],
            &self.env,
        )
        .await
    }

    /// Starts the server again on the same data directory, database and script; returns how
    /// long it took from starting the process to a healthy answer (its restart-to-ready time).
    pub async fn restart(&mut self) -> Duration {
        self.kill();
        let started = Instant::now();
        let server = Server::start_with_env(
            &self.data,
            &["--config", self.config.to_str().unwrap()],
            &self.env,
        )
        .await;
        let ready = started.elapsed();
        self.server = Some(server);
        ready
    }

    /// Connects to the server's database (SQLite file or PostgreSQL schema), to read what the
    /// API does not show.
    pub async fn database(&self) -> sea_orm::DatabaseConnection {
        let url = match &self.pg {
            Some(pg) => pg.url().to_owned(),
            None => format!(
                "sqlite://{}?mode=ro",
                self.data.join("foreman.db").display()
            ),
        };
        sea_orm::Database::connect(url.as_str())
            .await
            .expect("connect to the server's database")
    }

    /// Rows of `sql` (every column read as text or a number), for assertions on the database.
    pub async fn query(&self, sql: &str) -> Vec<Vec<String>> {
        use sea_orm::ConnectionTrait;
        let db = self.database().await;
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let out = rows
            .iter()
            .map(|row| {
                let mut cols = Vec::new();
                for i in 0.. {
                    if let Ok(v) = row.try_get_by_index::<Option<String>>(i) {
                        cols.push(v.unwrap_or_default());
                    } else if let Ok(v) = row.try_get_by_index::<i64>(i) {
                        cols.push(v.to_string());
                    } else if let Ok(v) = row.try_get_by_index::<i32>(i) {
                        cols.push(v.to_string());
                    } else {
                        break;
                    }
                }
                cols
            })
            .collect();
        let _ = db.close().await;
        out
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = http()
            .get(self.server().url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = http()
            .post(self.server().url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates the multiply ticket through the API and returns its id.
    pub async fn create_ticket(&self, title: &str) -> String {
        let (status, body) = self
            .post(
                "/api/tickets",
                json!({
                    "title": title,
                    "description": foreman_server::demo::TICKET_DESCRIPTION,
                    "acceptance_criteria": foreman_server::demo::TICKET_CRITERIA,
                }),
            )
            .await;
        assert_eq!(status, 201, "create ticket: {body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Every event of the ticket, oldest first (paged through `/api/events`; the ticket's own
    /// route returns its latest 100).
    pub async fn all_events(&self, id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let page = self
                .get(&format!(
                    "/api/events?ticket_id={id}&limit=500&offset={}",
                    all.len()
                ))
                .await;
            let page = page.as_array().cloned().expect("events array");
            let n = page.len();
            all.extend(page);
            if n < 500 {
                break;
            }
        }
        all.sort_by_key(|e| e["seq"].as_i64());
        all
    }

    /// The ticket's event types, oldest first.
    pub async fn event_types(&self, id: &str) -> Vec<String> {
        let events = self.get(&format!("/api/tickets/{id}/events")).await;
        let mut v: Vec<(i64, String)> = events
            .as_array()
            .expect("events array")
            .iter()
            .map(|e| {
                (
                    e["seq"].as_i64().unwrap_or(0),
                    e["event_type"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, t)| t).collect()
    }

    /// Waits until the ticket reaches one of `statuses`, failing with its events otherwise.
    pub async fn wait_for(&self, id: &str, statuses: &[&str], within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let t = self.get(&format!("/api/tickets/{id}")).await;
            let status = t["status"].as_str().unwrap_or("").to_owned();
            if statuses.contains(&status.as_str()) {
                return t;
            }
            if Instant::now() > deadline {
                let events = self.get(&format!("/api/tickets/{id}/events")).await;
                let lines: Vec<String> = events
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                format!("  {} {}: {}", e["seq"], e["event_type"], e["message"])
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                panic!(
                    "ticket {id} is {status}, not one of {statuses:?}, after {within:?}; last error: {}\nevents:\n{}",
                    t["last_error"],
                    lines.join("\n")
                );
            }
            if ["failed", "blocked", "partial"].contains(&status.as_str())
                && !statuses.contains(&status.as_str())
            {
                // terminal: no need to wait out the deadline
                let types = self.event_types(id).await;
                let events = self.get(&format!("/api/tickets/{id}/events")).await;
                let problems: Vec<String> = events
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|e| e["severity"] != "info")
                            .map(|e| {
                                format!("  {}: {} {}", e["event_type"], e["message"], e["details"])
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                panic!(
                    "ticket {id} is {status}; last error: {}\nevents: {types:?}\nproblems:\n{}",
                    t["last_error"],
                    problems.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A file of the remote's `main` branch.
    pub fn remote_file(&self, path: &str) -> String {
        git(
            &self.remote,
            &["--git-dir", ".", "show", &format!("main:{path}")],
        )
    }

    /// Stops the server and drops the PostgreSQL schema.
    pub async fn finish(mut self) {
        self.kill();
        if let Some(pg) = self.pg.take() {
            pg.drop_schema().await;
        }
    }
}

/// Counts `ty` in `events`.
pub fn count(events: &[String], ty: &str) -> usize {
    events.iter().filter(|e| e.as_str() == ty).count()
}

/// Whether `a` occurs before `b` in `events`.
pub fn before(events: &[String], a: &str, b: &str) -> bool {
    match (
        events.iter().position(|e| e == a),
        events.iter().rposition(|e| e == b),
    ) {
        (Some(i), Some(j)) => i < j,
        _ => false,
    }
}
