//! The operator's `foreman` commands against a running server: golden text for people, the
//! shape of `--json`, exit codes, ids kept to one path segment, the live log, profiles, `init`,
//! completions and the man page.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, binary, http};

/// A server with its admin token, and a home of its own for the CLI's profiles.
struct Ops {
    server: Server,
    cli: Cli,
    _data: tempfile::TempDir,
}

/// The CLI pointed at one server with one token, with a home of its own.
struct Cli {
    base: String,
    token: String,
    home: tempfile::TempDir,
}

impl std::ops::Deref for Ops {
    type Target = Cli;

    fn deref(&self) -> &Cli {
        &self.cli
    }
}

impl Ops {
    async fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let server = Server::start(data.path(), &[]).await;
        Self::with(server, data)
    }

    /// A started server whose files live in `data`.
    fn with(server: Server, data: tempfile::TempDir) -> Self {
        let cli = Cli::new(&server.base, &server.admin_token());
        Self {
            server,
            cli,
            _data: data,
        }
    }

    /// Creates a ticket through the API; its id.
    async fn create(&self, body: Value) -> String {
        let resp = http()
            .post(self.server.url("/api/tickets"))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{body}");
        let t: Value = resp.json().await.unwrap();
        t["id"].as_str().unwrap().to_owned()
    }
}

impl Cli {
    fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.to_owned(),
            token: token.to_owned(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The CLI with this server and token in its environment.
    fn run(&self, args: &[&str]) -> Output {
        run_cli(
            args,
            self.home.path(),
            &[("FOREMAN_URL", &self.base), ("FOREMAN_TOKEN", &self.token)],
        )
    }

    /// [`Cli::run`], which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "foreman {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// [`Cli::ok`] parsed as JSON (with `--json` added).
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.ok(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
}

/// Runs `foreman` with a private home (`HOME` and `XDG_CONFIG_HOME`) and `envs`.
fn run_cli(args: &[&str], home: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(binary("foreman"));
    cmd.args(args)
        .env_remove("FOREMAN_CONFIG")
        .env_remove("FOREMAN_URL")
        .env_remove("FOREMAN_TOKEN")
        .env_remove("FOREMAN_PROFILE")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run foreman")
}

/// `text` with `real` replaced by `label` padded to the same width, so columns stay aligned
/// (the padding is trimmed at the end of a line, as the CLI trims it).
fn mask(text: &str, real: &str, label: &str) -> String {
    let masked = text.replace(
        real,
        &format!("{label:<width$}", width = real.chars().count()),
    );
    let mut out: String = masked
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    if masked.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `text` with the value of each `key: value` line (as `foreman` prints pairs, keys aligned
/// on the colon) replaced by `label`.
fn mask_pair(text: &str, key: &str, label: &str) -> String {
    let prefix = format!("{key}: ");
    text.lines()
        .map(|l| match l.trim_start().strip_prefix(&prefix) {
            Some(_) => format!(
                "{}{label}",
                &l[..l.len() - l.trim_start().len() + prefix.len()]
            ),
            None => l.to_owned(),
        })
        .map(|l| l + "\n")
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn tickets_status_costs_daemon_and_cancel_print_golden_text() {
    let ops = Ops::start().await;
    assert_eq!(ops.ok(&["daemon", "pause"]), "daemon paused\n");
    let t1 = ops
        .create(json!({"title": "修复登录页面", "external_id": "OPS-1"}))
        .await;
    let t2 = ops
        .create(json!({
            "title": "Fix the login page",
            "external_id": "OPS-2",
            "description": "The button does nothing.\nIt should sign in.",
            "acceptance_criteria": "- signing in works",
        }))
        .await;

    // wide characters take two cells: the columns after the title stay aligned
    let list = mask(
        &mask(&ops.ok(&["tickets", "list"]), &t1, "<T1>"),
        &t2,
        "<T2>",
    );
    assert_eq!(
        list,
        "ID                                    EXTERNAL  STATUS  PRIORITY  COST   TITLE\n\
         <T2>                                  OPS-2     queued  normal    $0.00  Fix the login page\n\
         <T1>                                  OPS-1     queued  normal    $0.00  修复登录页面\n"
    );

    let show = ops.ok(&["tickets", "show", &t2]);
    let show = mask_pair(&show, "created", "<created>");
    assert_eq!(
        mask_pair(&mask(&show, &t2, "<T2>"), "estimated start", "<start>"),
        "             id: <T2>\n\
         \x20   external_id: OPS-2\n\
         \x20       project: default\n\
         \x20         title: Fix the login page\n\
         \x20        status: queued\n\
         \x20      priority: normal\n\
         \x20     submitter: admin\n\
         \x20queue position: 2\n\
         estimated start: <start>\n\
         \x20          cost: $0.00\n\
         \x20        tokens: 0 in, 0 out\n\
         \x20     llm calls: 0\n\
         \x20       created: <created>\n\
         \n\
         description:\n\
         The button does nothing.\n\
         It should sign in.\n\
         \n\
         acceptance criteria:\n\
         - signing in works\n"
    );

    let status = mask_pair(&ops.ok(&["status"]), "uptime", "<uptime>");
    let elapsed = status
        .lines()
        .find_map(|l| l.split_once(" tickets, ")?.1.split_once(" elapsed, "))
        .map(|(e, _)| e.to_owned())
        .unwrap_or_else(|| panic!("no run progress in\n{status}"));
    assert_eq!(
        status
            .replace(&ops.server.base, "<server>")
            .replace(&format!(" {elapsed} elapsed"), " <elapsed> elapsed"),
        format!(
            "         server: running (<server>)\n\
             \x20       version: {}\n\
             \x20        uptime: <uptime>\n\
             \x20        daemon: paused\n\
             \x20        runner: sandbox\n\
             not taking work: paused\n\
             \x20           run: 0/2 tickets, <elapsed> elapsed, $0.00 over 0 LLM calls\n",
            env!("CARGO_PKG_VERSION")
        )
    );

    let today = chrono::Utc::now().date_naive().to_string();
    let cost = ops.ok(&["cost", "today"]);
    // the day may turn between the two reads
    if cost.contains(&today) {
        assert_eq!(cost, format!("today ({today}): $0.00\n"));
    }
    assert_eq!(
        ops.ok(&["cancel", &t1]).replace(&t1, "<T1>").trim_end(),
        "ticket <T1> cancelled (was queued)"
    );
    assert_eq!(
        ops.ok(&["tickets", "events", &t1])
            .lines()
            .map(|l| l.get(16..).unwrap_or(l).to_owned())
            .collect::<Vec<_>>(),
        [
            "  SEVERITY  TYPE            MESSAGE",
            "  info      ticket_created  ticket OPS-1 created through the api",
            "  error     ticket_failed   ticket cancelled from queued",
        ]
    );
    assert_eq!(ops.ok(&["daemon", "resume"]), "daemon resumed\n");
    assert_eq!(
        ops.ok(&["tickets", "tasks", &t2]),
        "SEQ  ID  STATUS  ATTEMPTS  COST  TITLE\n(none)\n"
    );
}

#[tokio::test]
async fn json_output_is_the_servers_own_body() {
    let ops = Ops::start().await;
    let paused = ops.json(&["daemon", "pause"]);
    assert_eq!(paused, json!({"message": "daemon paused"}));
    let id = ops
        .create(json!({"title": "Count the words", "external_id": "OPS-9"}))
        .await;

    let list = ops.json(&["tickets", "list"]);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 1);
    for key in [
        "id",
        "external_id",
        "title",
        "status",
        "cost_usd",
        "created_at",
    ] {
        assert!(items[0].get(key).is_some(), "no {key} in {list}");
    }
    assert_eq!(items[0]["id"], id.as_str());

    let show = ops.json(&["tickets", "show", &id]);
    assert_eq!(show["external_id"], "OPS-9");
    assert_eq!(show["status"], "queued");
    assert!(
        show["cost_usd"].is_number() && show["labels"].is_array(),
        "{show}"
    );

    let status = ops.json(&["status"]);
    assert_eq!(status["status"], "running");
    assert_eq!(status["daemon_state"], "paused");
    assert!(status["uptime_seconds"].is_u64(), "{status}");

    let today = ops.json(&["cost", "today"]);
    assert!(
        today["cost_usd"].is_number() && today["date"].is_string(),
        "{today}"
    );
    assert_eq!(ops.json(&["cost", "week"]).as_array().unwrap().len(), 7);
    assert!(ops.json(&["cost", "month"])["month"].is_string());
    let cost = ops.json(&["cost", "ticket", &id]);
    assert_eq!(cost["ticket_id"], id.as_str());
    assert_eq!(cost["by_role_and_model"], json!([]));

    let events = ops.json(&["tickets", "events", &id]);
    assert_eq!(events[0]["event_type"], "ticket_created");
    assert_eq!(ops.json(&["tickets", "tasks", &id]), json!([]));
    assert_eq!(ops.json(&["tickets", "calls", &id]), json!([]));

    let cancelled = ops.json(&["cancel", &id]);
    assert_eq!(
        cancelled,
        json!({"status": "cancelled", "ticket_id": id, "from": "queued"})
    );
    let retried = ops.json(&["tickets", "retry", &id]);
    assert_eq!(retried["status"], "retrying");
    let deleted = ops.json(&["tickets", "delete", &id]);
    assert_eq!(deleted["status"], "deleted");
}

#[tokio::test]
async fn an_id_is_one_path_segment_and_cannot_reach_another_route() {
    let ops = Ops::start().await;
    // the control: a URL built by pasting the id in lands on the token list
    let pasted = http()
        .get(format!("{}/api/tickets/../tokens", ops.server.base))
        .bearer_auth(&ops.token)
        .send()
        .await
        .unwrap();
    assert_eq!(pasted.status(), 200);
    let tokens: Value = pasted.json().await.unwrap();
    assert!(tokens[0]["prefix"].is_string(), "{tokens}");

    // the CLI encodes it: the ticket route answers that no such ticket exists
    let out = ops.run(&["tickets", "show", "../tokens"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        stderr(&out),
        "foreman: ticket ../tokens not found (HTTP 404)\n"
    );
    let out = ops.run(&["tickets", "show", "x?limit=1#y", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        body,
        json!({"error": "ticket x?limit=1#y not found", "code": 404})
    );
    // `..` itself cannot be encoded past the URL parser: refused before any request
    let out = ops.run(&["cancel", ".."]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn exit_codes_name_not_found_conflict_usage_and_failure() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    let id = ops
        .create(json!({"title": "Rename the module", "external_id": "OPS-3"}))
        .await;

    let out = ops.run(&["tickets", "show", "no-such-ticket"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "foreman: ticket no-such-ticket not found (HTTP 404)\n"
    );
    let out = ops.run(&["cost", "ticket", "no-such-ticket"]);
    assert_eq!(out.status.code(), Some(3));

    // retrying a queued ticket and cancelling a finished one are conflicts
    let out = ops.run(&["tickets", "retry", &id]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    ops.ok(&["cancel", &id]);
    let out = ops.run(&["cancel", &id, "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(body["code"], 409);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cannot be cancelled"),
        "{body}"
    );

    // usage: clap's own, and a bad value for a flag
    let out = ops.run(&["tickets", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ops.run(&["submit", "x", "--priority", "whenever"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("urgent"), "{}", stderr(&out));

    // failure: a refused token, and no server at all
    let out = run_cli(
        &["status"],
        ops.home.path(),
        &[
            ("FOREMAN_URL", &ops.server.base),
            ("FOREMAN_TOKEN", "fmn_wrong"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 401"), "{}", stderr(&out));
    let out = run_cli(
        &["status", "--server", "http://127.0.0.1:9", "--token", "x"],
        ops.home.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
}

#[tokio::test]
async fn logs_follow_streams_a_tickets_events_until_it_finishes() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    let id = ops
        .create(json!({"title": "Tidy the README", "external_id": "OPS-4"}))
        .await;
    let mut child = Command::new(binary("foreman"))
        .args(["logs", &id, "--follow", "--json"])
        .env("FOREMAN_URL", &ops.server.base)
        .env("FOREMAN_TOKEN", &ops.token)
        .env("XDG_CONFIG_HOME", ops.home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(30)).unwrap()).unwrap();
    assert_eq!(first["event_type"], "ticket_created");
    // finish the ticket: whether its event comes before or after the stream opened, the
    // stream replays what followed the history (`since_seq`), so it is printed either way
    ops.ok(&["cancel", &id]);
    let next: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(30)).unwrap()).unwrap();
    assert_eq!(next["event_type"], "ticket_failed");
    assert_eq!(next["details"]["reason"], "cancelled");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "logs --follow did not stop after the ticket finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());

    // a finished ticket's log is printed and the command ends without streaming
    let out = ops.ok(&["logs", &id, "--follow"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[1].ends_with("  error ticket_failed ticket cancelled from queued"),
        "{out}"
    );
}

#[tokio::test]
async fn login_writes_a_private_profile_that_later_commands_use() {
    let ops = Ops::start().await;
    let config = ops
        .home
        .path()
        .join("config")
        .join("foreman")
        .join("cli.toml");

    // a refused token writes nothing
    let out = run_cli(
        &[
            "login",
            "--server",
            &ops.server.base,
            "--token",
            "fmn_wrong",
        ],
        ops.home.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!config.exists());

    let out = run_cli(
        &["login", "--server", &ops.server.base, "--token", &ops.token],
        ops.home.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "logged in to {} as profile default ({})\n",
            ops.server.base,
            config.display()
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&ops.server.base) && text.contains(&ops.token),
        "{text}"
    );

    // no flags and no variables: the profile's server and token
    let out = run_cli(&["daemon", "pause", "--json"], ops.home.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = run_cli(&["status", "--json"], ops.home.path(), &[]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["daemon_state"], "paused");

    // the profile's token is not sent to another server
    let other = Ops::start().await;
    let out = run_cli(
        &["status", "--server", &other.server.base],
        ops.home.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 401"), "{}", stderr(&out));

    // a second profile, chosen by name; an unknown name is a usage error
    let out = run_cli(
        &[
            "login",
            "--profile",
            "other",
            "--no-default",
            "--server",
            &other.server.base,
            "--token",
            &other.token,
        ],
        ops.home.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let status = run_cli(
        &["--profile", "other", "status", "--json"],
        ops.home.path(),
        &[],
    );
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["daemon_state"], "running");
    let status = run_cli(&["status", "--json"], ops.home.path(), &[]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["daemon_state"], "paused",
        "the default is still the first"
    );
    let out = run_cli(&["status", "--profile", "nope"], ops.home.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("foreman login --profile nope"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn init_writes_commented_defaults_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreman.toml");
    let out = run_cli(&["init", path.to_str().unwrap()], dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).unwrap();
    for line in [
        "[daemon]",
        "# max_parallel_tickets = 3",
        "[cost]",
        "# daily_budget = 150.0",
        "# [llm.models]",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }

    // the server starts on it
    let out = run_cli(
        &[
            "doctor",
            "--config",
            path.to_str().unwrap(),
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("✓ config: "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    std::fs::write(&path, "# mine\n").unwrap();
    let out = run_cli(&["init", path.to_str().unwrap()], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("not overwriting"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
}

#[test]
fn completions_for_three_shells_and_a_man_page() {
    let home = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _foreman"),
        ("zsh", "#compdef foreman"),
        ("fish", "complete -c foreman"),
    ] {
        let out = run_cli(&["completions", shell], home.path(), &[]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for sub in ["submit", "notifications", "rollback"] {
            assert!(script.contains(sub), "{shell}: no {sub}");
        }
    }
    let out = run_cli(&["completions", "powershell"], home.path(), &[]);
    assert_eq!(out.status.code(), Some(2));

    let out = run_cli(&["man"], home.path(), &[]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH foreman 1"), "{page}");
    for sub in ["foreman\\-submit", "foreman\\-logs", "foreman\\-daemon"] {
        assert!(page.contains(sub), "no {sub} in the man page");
    }
    assert!(page.contains("\\-\\-json"));
}

#[test]
fn token_list_prints_a_golden_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    for (name, scope) in [("ops", "read"), ("deploy", "admin")] {
        let out = run_cli(
            &[
                "token",
                "generate",
                "--data-dir",
                data,
                "--name",
                name,
                "--scope",
                scope,
            ],
            dir.path(),
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = run_cli(
        &["token", "list", "--data-dir", data, "--json"],
        dir.path(),
        &[],
    );
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = run_cli(&["token", "list", "--data-dir", data], dir.path(), &[]);
    let mut text = String::from_utf8(out.stdout).unwrap();
    for (i, t) in tokens.as_array().unwrap().iter().enumerate() {
        text = mask(&text, t["id"].as_str().unwrap(), &format!("<id{i}>"));
        text = mask(&text, t["prefix"].as_str().unwrap(), &format!("<p{i}>"));
        let created = chrono::DateTime::parse_from_rfc3339(t["created_at"].as_str().unwrap())
            .unwrap()
            .format("%Y-%m-%d %H:%M")
            .to_string();
        text = mask(&text, &created, "<created>");
    }
    // newest first; the prefix is the secret's first characters, never more
    assert_eq!(
        text,
        "ID                                    NAME    PREFIX     SCOPES  CREATED           STATE\n\
         <id0>                                 deploy  <p0>    …  admin   <created>         active\n\
         <id1>                                 ops     <p1>    …  read    <created>         active\n"
    );
}

/// The first line of `submit`'s text: the id, with the volatile estimated start checked and cut.
fn submitted_id(out: &str, position: u64) -> String {
    let (head, start) = out
        .trim_end()
        .split_once(", estimated start ")
        .unwrap_or_else(|| panic!("no estimated start in {out:?}"));
    assert!(start.ends_with(" UTC") && start.len() == 20, "{out:?}");
    head.strip_prefix("ticket ")
        .and_then(|h| h.strip_suffix(&format!(" queued, queue position {position}")))
        .unwrap_or_else(|| panic!("unexpected {out:?}"))
        .to_owned()
}

#[tokio::test]
async fn submit_batch_and_search_send_every_option_and_print_golden_text() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    let id = submitted_id(
        &ops.ok(&[
            "submit",
            "Fix the login page\n\nThe button does nothing.",
            "--priority",
            "high",
            "--budget",
            "2.5",
            "--timeout",
            "600",
            "--tag",
            "ui",
            "--tag",
            "auth",
            "--agent",
            "builtin",
            "--webhook-url",
            "https://hooks.example.com/done",
        ]),
        1,
    );
    let t = ops.json(&["tickets", "show", &id]);
    assert_eq!(t["title"], "Fix the login page");
    assert_eq!(t["priority"], 30);
    assert_eq!(t["max_budget_usd"], 2.5);
    assert_eq!(t["timeout"], 600);
    assert_eq!(t["tags"], json!(["ui", "auth"]));
    assert_eq!(t["agent"], "builtin");
    assert_eq!(t["webhook_url"], "https://hooks.example.com/done");
    let show = ops.ok(&["tickets", "show", &id]);
    for line in [
        "priority: high",
        "agent: builtin",
        "budget: $2.50",
        "task timeout: 10m00s",
        "tags: ui, auth",
        "webhook: https://hooks.example.com/done",
    ] {
        assert!(
            show.lines().any(|l| l.trim_start() == line),
            "no {line:?} in\n{show}"
        );
    }

    // one prompt per line, with defaults from the flags; then a JSON array
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("prompts.txt");
    std::fs::write(&lines, "Rename the module\n\n# not a prompt\n整理文档\n").unwrap();
    let out = ops.ok(&["batch", lines.to_str().unwrap(), "--priority", "low"]);
    let created = ops.json(&["tickets", "list", "--status", "queued"]);
    let ids: Vec<&str> = created
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{created}");
    let (b1, b2) = (ids[1], ids[0]);
    assert_eq!(
        mask(&mask(&out, b1, "<B1>"), b2, "<B2>"),
        "ID                                    STATUS  QUEUE\n\
         <B1>                                  queued  2\n\
         <B2>                                  queued  3\n"
    );
    let json_file = dir.path().join("batch.json");
    std::fs::write(
        &json_file,
        r#"{"defaults": {"tags": ["docs"]}, "items": [{"prompt": "Write the guide", "priority": "urgent"}]}"#,
    )
    .unwrap();
    let batch = ops.json(&["batch", json_file.to_str().unwrap()]);
    let urgent = &batch["tickets"][0];
    assert_eq!(urgent["priority"], 40, "{batch}");
    assert_eq!(urgent["queue_position"], 1, "{batch}");
    assert_eq!(urgent["tags"], json!(["docs"]), "{batch}");

    // the whole queue, newest first, priorities by name
    let list = ops.ok(&["tickets", "list"]);
    let mut list = list.clone();
    for (i, t) in ops
        .json(&["tickets", "list"])
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        list = mask(&list, t["id"].as_str().unwrap(), &format!("<{i}>"));
    }
    assert_eq!(
        list,
        "ID                                    EXTERNAL  STATUS  PRIORITY  COST   TITLE\n\
         <0>                                   LOCAL-4   queued  urgent    $0.00  Write the guide\n\
         <1>                                   LOCAL-3   queued  low       $0.00  整理文档\n\
         <2>                                   LOCAL-2   queued  low       $0.00  Rename the module\n\
         <3>                                   LOCAL-1   queued  high      $0.00  Fix the login page\n"
    );

    // search: ranked hits with their snippet
    let out = ops.ok(&["search", "button"]);
    assert_eq!(
        mask(&out, &id, "<T>"),
        "ID                                    STATUS  TITLE               MATCH\n\
         <T>                                   queued  Fix the login page  Fix the login page  The button does nothing.\n"
    );
    let page = ops.json(&["search", "button"]);
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert!(page["items"][0]["snippet"].is_array(), "{page}");
    assert!(
        page["items"][0]["snippet"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["highlighted"] == true && p["text"].as_str().unwrap().contains("button")),
        "{page}"
    );
    assert_eq!(
        ops.ok(&["search", "nothing-like-this"]),
        "ID  STATUS  TITLE  MATCH\n(none)\n"
    );
}

#[tokio::test]
async fn bad_input_is_a_usage_error_naming_the_field() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    let long = "a".repeat(5001);
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.txt");
    std::fs::write(
        &many,
        (1..=21)
            .map(|i| format!("prompt {i}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# nothing\n").unwrap();
    for (args, field) in [
        (vec!["submit", long.as_str()], "prompt"),
        (vec!["submit", "x", "--budget", "-1"], "max_budget_usd"),
        (vec!["submit", "x", "--budget", "101"], "max_budget_usd"),
        (vec!["submit", "x", "--timeout", "0"], "timeout"),
        (
            vec!["submit", "x", "--webhook-url", "ftp://x.example"],
            "webhook_url",
        ),
        (vec!["submit", "x", "--agent", "nosuch"], "agent"),
        (vec!["batch", many.to_str().unwrap()], "items"),
        (vec!["batch", empty.to_str().unwrap()], "no tickets"),
        (vec!["search", " "], "q"),
    ] {
        let out = ops.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(field), "{args:?}: {}", stderr(&out));
    }
    // nothing was created by any of them
    assert_eq!(ops.json(&["tickets", "list"]), json!([]));
}

#[tokio::test]
async fn queue_budget_runs_and_notifications_print_golden_text_and_json() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    ops.create(json!({"title": "Count the words", "external_id": "OPS-5"}))
        .await;
    ops.create(json!({"title": "Sort the list", "external_id": "OPS-6", "priority": "urgent"}))
        .await;

    let stats = ops.ok(&["stats"]);
    assert_eq!(
        mask_pair(&stats, "estimated wait", "<wait>"),
        "       tickets: 2\n\
         \x20       queued: 2\n\
         \x20        slots: 0 busy, 3 free of 3 (configured; no daemon in this process)\n\
         \x20     duration: no finished tickets yet\n\
         estimated wait: <wait>\n\
         \x20   cost today: $0.00\n\
         \x20      budgets: daily $150.00, monthly $3000.00, ticket $15.00, task unlimited\n\
         \n\
         STATUS  TICKETS\n\
         queued  2\n"
    );
    let s = ops.json(&["stats"]);
    assert_eq!(s["queue_length"], 2);
    assert_eq!(s["by_status"], json!({"queued": 2}));
    assert_eq!(s["slots"]["total"], 3);
    assert!(s["budgets"]["max_daily_usd"].is_number(), "{s}");

    assert_eq!(
        ops.ok(&["budget"]),
        "PERIOD   LIMIT     USED   RESERVED  REMAINING  EXCEEDED\n\
         daily    $150.00   $0.00  $0.00     $150.00    no\n\
         monthly  $3000.00  $0.00  $0.00     $3000.00   no\n\
         \n\
         per ticket: $15.00\n\
         \x20 alert at: 80% of a limit\n"
    );
    let b = ops.json(&["budget"]);
    assert_eq!(b["exceeded"], false);
    assert_eq!(b["periods"][0]["period"], "daily");
    assert_eq!(b["periods"][0]["limit_usd"], 150.0);

    assert_eq!(
        ops.ok(&["workers"]),
        "SLOT  BUSY  TICKET  TASK  STAGE  STARTED  DONE  BRANCH\n\
         (none)\n\
         (no daemon runs in the server process)\n"
    );
    assert_eq!(
        ops.json(&["workers"]),
        json!({"running": false, "workers": []})
    );

    // the server's own session is a run
    let runs = ops.json(&["runs"]);
    let run = &runs[0];
    let run_id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(run["status"], "running");
    for key in ["started_at", "elapsed_seconds", "tickets_done", "cost_usd"] {
        assert!(run.get(key).is_some(), "no {key} in {runs}");
    }
    let text = ops.ok(&["runs"]);
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!("{run_id}  running  "))
            && row.ends_with("  0     0       0      $0.00"),
        "{text}"
    );
    let one = ops.ok(&["runs", &run_id]);
    let one = mask_pair(
        &mask_pair(&one, "started", "<started>"),
        "elapsed",
        "<elapsed>",
    );
    assert_eq!(
        mask_pair(&mask_pair(&one, "node", "<node>"), "id", "<run>"),
        format!(
            "            id: <run>\n\
             \x20       status: running\n\
             \x20         node: <node>\n\
             \x20      version: {}\n\
             \x20      started: <started>\n\
             \x20      elapsed: <elapsed>\n\
             \x20 tickets done: 0\n\
             tickets failed: 0\n\
             \x20    llm calls: 0\n\
             \x20         cost: $0.00\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(ops.json(&["runs", &run_id])["id"], run_id.as_str());
    let out = ops.run(&["runs", "no-such-run"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    assert_eq!(
        ops.ok(&["history"]),
        "ID  EXTERNAL  OUTCOME  FINISHED  DURATION  COST  TITLE\n(none)\n"
    );
    assert_eq!(
        ops.json(&["history"]),
        json!({"items": [], "next_cursor": null})
    );
    assert_eq!(
        ops.ok(&["notifications"]),
        "ID  TIME  SEVERITY  TRIGGER  ACKED  MESSAGE\n(none)\n\n0 unacknowledged\n"
    );
    let n = ops.json(&["notifications", "--unacked"]);
    assert_eq!(n["items"], json!([]));
    assert_eq!(n["unacknowledged"], 0);
    assert_eq!(
        ops.ok(&["notifications", "ack", "--all"]),
        "0 notifications acknowledged\n"
    );
    let out = ops.run(&["notifications", "ack", "no-such-notification"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = ops.run(&["notifications", "ack"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let per_pr = ops.ok(&["cost", "per-pr"]);
    assert_eq!(
        mask_pair(&mask_pair(&per_pr, "from", "<from>"), "to", "<to>"),
        "          from: <from>\n\
         \x20           to: <to>\n\
         \x20   merged PRs: 0\n\
         \x20  total spend: $0.00\n\
         merged tickets: $0.00\n\
         \x20per merged PR: -\n"
    );
    let p = ops.json(&["cost", "per-pr", "--from", "2026-01-01T00:00:00Z"]);
    assert_eq!(p["merged_prs"], 0);
    assert!(p["cost_per_merged_pr_usd"].is_null(), "{p}");
    assert!(p["from"].as_str().unwrap().starts_with("2026-01-01"), "{p}");
}

#[tokio::test]
async fn checkpoints_rollback_diff_and_transcript_answer_with_their_exit_codes() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    let id = ops
        .create(json!({"title": "Split the parser", "external_id": "OPS-7"}))
        .await;
    assert_eq!(
        ops.ok(&["checkpoints", &id]),
        "ID  SEQ  COMMIT  CREATED  TASK\n(none)\n"
    );
    assert_eq!(
        ops.json(&["checkpoints", &id]),
        json!({"ticket_id": id, "status": "queued", "checkpoints": []})
    );
    // a queued ticket is not rolled back: a conflict, with the server's reason
    let out = ops.run(&["rollback", &id, "no-such-checkpoint"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 409"), "{}", stderr(&out));
    let out = ops.run(&["rollback", "no-such-ticket", "c"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    for args in [
        ["checkpoints", "no-such-ticket"].as_slice(),
        &["tickets", "diff", "no-such-ticket"],
        &["tasks", "transcript", "no-such-task"],
        &["tickets", "tasks", "no-such-ticket"],
        &["logs", "no-such-ticket"],
    ] {
        let out = ops.run(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn every_id_taking_command_keeps_the_id_in_one_segment() {
    let ops = Ops::start().await;
    // each of these, pasted into the URL, would reach a route that answers 200
    let id = "../../api/status";
    for args in [
        ["tickets", "show", id].as_slice(),
        &["tickets", "tasks", id],
        &["tickets", "events", id],
        &["tickets", "calls", id],
        &["tickets", "diff", id],
        &["tickets", "retry", id],
        &["tickets", "delete", id],
        &["cancel", id],
        &["checkpoints", id],
        &["rollback", id, "c"],
        &["cost", "ticket", id],
        &["tasks", "transcript", id],
        &["runs", id],
        &["notifications", "ack", id],
        &["logs", id],
    ] {
        let out = ops.run(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("HTTP 404"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // the control: the same path pasted in does reach the status route
    let pasted = http()
        .get(format!("{}/api/tickets/{id}", ops.server.base))
        .bearer_auth(&ops.token)
        .send()
        .await
        .unwrap();
    assert_eq!(pasted.status(), 200);
}

#[tokio::test]
async fn submit_wait_follows_the_ticket_until_it_ends() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    let mut child = Command::new(binary("foreman"))
        .args(["submit", "Rename the module", "--wait"])
        .env("FOREMAN_URL", &ops.server.base)
        .env("FOREMAN_TOKEN", &ops.token)
        .env("XDG_CONFIG_HOME", ops.home.path())
        .env("FOREMAN_WAIT_INTERVAL_MS", "50")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let id = submitted_id(&first, 1);
    let second = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(second.ends_with("  queued"), "{second:?}");
    ops.ok(&["cancel", &id]);
    let out = child.wait_with_output().unwrap();
    let third = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(third.ends_with("  failed"), "{third:?}");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("foreman: ticket {id} ended failed")),
        "{err}"
    );
}

#[tokio::test]
async fn server_logs_print_oldest_first_and_the_same_lines_as_json() {
    let ops = Ops::start().await;
    let lines = ops.json(&["logs", "--limit", "20"]);
    let lines = lines.as_array().unwrap();
    for l in lines {
        for key in ["id", "at", "level", "target", "message"] {
            assert!(l.get(key).is_some(), "no {key} in {l}");
        }
    }
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let text = ops.ok(&["logs", "--limit", "20"]);
    assert_eq!(text.lines().count(), lines.len(), "{text}");
    for (line, l) in text.lines().zip(lines) {
        let level = l["level"].as_str().unwrap().to_lowercase();
        let want = format!(
            " {level:>5} {} {}",
            l["target"].as_str().unwrap(),
            l["message"].as_str().unwrap()
        );
        assert!(line[8..].starts_with(&want), "{line:?} vs {want:?}");
        assert_eq!(line.as_bytes()[2], b':', "{line:?}");
    }
    let out = ops.run(&["logs", "--level", "loud"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn daemon_drain_resume_and_stop_take_the_server_down() {
    // a server whose daemon works a local repository with the scripted provider
    let dir = tempfile::tempdir().unwrap();
    let remote = foreman_server::demo::ensure_sample_repository(dir.path()).unwrap();
    let config = dir.path().join("foreman.toml");
    std::fs::write(
        &config,
        format!(
            "[llm]\nprovider = \"scripted\"\n\n[git]\nprovider = \"local\"\nclone_url = {:?}\n\
             default_branch = \"main\"\n\n[tracker]\nprovider = \"local\"\n",
            remote.to_str().unwrap()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]).await;
    let mut ops = Ops::with(server, dir);

    // the slots are named after the node: `<node>/slot-N`
    let slots = ops.json(&["workers"]);
    assert_eq!(slots["running"], true, "{slots}");
    let name = slots["workers"][0]["name"].as_str().unwrap().to_owned();
    let node = name.strip_suffix("/slot-1").unwrap();
    let w = node.chars().count() + "/slot-1".len();
    let slot = |n: u32| {
        format!(
            "{:<w$}  no                                  0\n",
            format!("{node}/slot-{n}")
        )
    };
    assert_eq!(
        ops.ok(&["workers"]),
        format!(
            "{:<w$}  BUSY  TICKET  TASK  STAGE  STARTED  DONE  BRANCH\n{}{}{}",
            "SLOT",
            slot(1),
            slot(2),
            slot(3)
        )
    );
    assert_eq!(ops.ok(&["daemon", "drain"]), "daemon draining\n");
    let status = ops.json(&["status"]);
    assert_eq!(status["not_taking_work_because"], "draining", "{status}");
    let text = ops.ok(&["status"]);
    assert!(
        text.lines().any(|l| l == "not taking work: draining"),
        "{text}"
    );
    assert_eq!(ops.ok(&["daemon", "resume"]), "daemon resumed\n");
    assert!(ops.json(&["status"])["not_taking_work_because"].is_null());

    assert_eq!(
        ops.json(&["daemon", "stop"]),
        json!({"message": "daemon stopping"})
    );
    let server = &mut ops.server;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let out = ops.cli.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
}

#[tokio::test]
async fn colours_only_on_a_terminal() {
    let ops = Ops::start().await;
    ops.ok(&["daemon", "pause"]);
    ops.create(json!({"title": "Count the words", "external_id": "OPS-8"}))
        .await;
    // piped: plain text
    let piped = ops.ok(&["tickets", "list"]);
    assert!(!piped.contains('\x1b'), "{piped:?}");
    assert!(piped.contains("  queued  "), "{piped:?}");
    // `script` runs the command on a terminal of its own
    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        return;
    }
    let on_terminal = |no_color: &str| {
        let out = Command::new(script)
            .args([
                "-qec",
                &format!("{} tickets list", binary("foreman").display()),
                "/dev/null",
            ])
            .env("FOREMAN_URL", &ops.server.base)
            .env("FOREMAN_TOKEN", &ops.token)
            .env("XDG_CONFIG_HOME", ops.home.path())
            .env("NO_COLOR", no_color)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let coloured = on_terminal("");
    assert!(coloured.contains("\x1b[2mqueued\x1b[0m"), "{coloured:?}");
    // the colours take no room: without them the table is the piped one, columns aligned
    let stripped = coloured
        .replace("\r\n", "\n")
        .replace("\x1b[2m", "")
        .replace("\x1b[0m", "");
    assert_eq!(stripped, piped);
    let plain = on_terminal("1");
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("queued"), "{plain:?}");
}

/// The calc.py part of the demo change: the same on every run.
const CALC_DIFF: &str = r#"diff --git a/calc.py b/calc.py
index 1417ff6..cc93f77 100644
--- a/calc.py
+++ b/calc.py
@@ -4,3 +4,8 @@
 def add(a, b):
     """Return the sum of a and b."""
     return a + b
+
+
+def multiply(a, b):
+    """Return the product of a and b."""
+    return a * b
diff --git a/tests/test_multiply.py b/tests/test_multiply.py
new file mode 100644
"#;

/// Dollars as the CLI prints an amount under a dollar.
fn cents(v: &Value) -> String {
    format!("${:.4}", v.as_f64().unwrap())
}

/// A ticket the real pipeline took to `merged` (scripted provider, local git host), read back
/// through the CLI: tasks, checkpoints, the diff, a transcript, the history, the spend and the
/// log, and the conflicts a merged ticket answers with.
async fn a_merged_ticket_reads_back(db: crate::rig::Db) {
    use crate::rig::{Rig, Setup, demo_script};
    let Some(rig) = Rig::start(db, &demo_script(), &Setup::default()).await else {
        return;
    };
    let ops = Cli::new(&rig.server.as_ref().unwrap().base, &rig.token);
    // the ticket waits while `logs --follow` starts, then runs while it is followed
    ops.ok(&["daemon", "pause"]);
    let id = rig.create_ticket("Add a multiply function to calc").await;
    let mut child = Command::new(binary("foreman"))
        .args(["logs", &id, "--follow"])
        .env("FOREMAN_URL", &ops.base)
        .env("FOREMAN_TOKEN", &ops.token)
        .env("XDG_CONFIG_HOME", ops.home.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(
        first.ends_with(" ticket_created ticket LOCAL-1 created through the api"),
        "{first}"
    );
    ops.ok(&["daemon", "resume"]);
    rig.wait_for(&id, &["merged"], Duration::from_secs(90))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "logs --follow did not stop after the ticket merged"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let followed: Vec<String> = rx.iter().collect();
    let followed = followed.join("\n");

    let tasks = ops.json(&["tickets", "tasks", &id]);
    let task = tasks[0]["id"].as_str().unwrap().to_owned();
    // while following: a progress line per task move, with its stage and elapsed time
    for stage in [
        "implementing",
        "verifying",
        "spec review",
        "quality review",
        "done",
    ] {
        let prefix = format!("  ▸ task {task}: {stage} ");
        let line = followed
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in\n{followed}"));
        let elapsed = &line[prefix.len()..];
        assert!(
            elapsed.ends_with('s') && elapsed[..elapsed.len() - 1].parse::<u64>().is_ok(),
            "{line:?}"
        );
    }
    // it ends where the pipeline stops: the pull request opened and awaiting its merge
    assert!(
        followed.ends_with(" ticket_status_changed pr_created → awaiting_merge"),
        "{followed}"
    );
    assert!(
        !followed.contains('\x1b'),
        "colours on a pipe: {followed:?}"
    );
    assert_eq!(
        mask(&ops.ok(&["tickets", "tasks", &id]), &task, "<task>"),
        format!(
            "SEQ  ID                                    STATUS  ATTEMPTS  COST     TITLE\n\
             1    <task>                                done    1         {}  Add multiply to calc with unit tests\n",
            cents(&tasks[0]["cost_usd"])
        )
    );

    let cps = ops.json(&["checkpoints", &id]);
    assert_eq!(cps["status"], "merged");
    let cp = &cps["checkpoints"][0];
    assert_eq!(cp["task_id"], task.as_str());
    let sha = cp["commit_sha"].as_str().unwrap();
    assert_eq!(sha.len(), 40, "{cps}");
    let created = chrono::DateTime::parse_from_rfc3339(cp["created_at"].as_str().unwrap())
        .unwrap()
        .format("%Y-%m-%d %H:%M")
        .to_string();
    assert_eq!(
        ops.ok(&["checkpoints", &id])
            .replace(cp["id"].as_str().unwrap(), "<checkpoint>")
            .replace(&created, "<created>"),
        format!(
            "ID                                    SEQ  COMMIT        CREATED           TASK\n\
             <checkpoint>  1    {}  <created>  Add multiply to calc with unit tests\n",
            &sha[..12]
        )
    );

    let diff = ops.ok(&["tickets", "diff", &id]);
    assert!(diff.starts_with(CALC_DIFF), "{diff}");
    assert!(
        diff.ends_with("+if __name__ == \"__main__\":\n+    unittest.main()\n"),
        "{diff}"
    );
    let body = ops.json(&["tickets", "diff", &id]);
    assert_eq!(body["truncated"], false);
    assert_eq!(body["tasks"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["diff"].as_str().unwrap().trim_end(), diff.trim_end());

    let transcript = ops.ok(&["tasks", "transcript", &task]);
    for block in [
        "attempt 1 turn 1 tool_result write_file\n    overwrote calc.py (176 bytes)\n",
        "attempt 1 turn 0 review\n    spec review approved: multiply exists, is tested, and add is untouched.\n",
        "attempt 1 turn 0 review\n    quality review approved: Small, documented and covered.\n",
    ] {
        assert!(transcript.contains(block), "no {block:?} in\n{transcript}");
    }
    let t = ops.json(&["tasks", "transcript", &task]);
    assert_eq!(t["task_id"], task.as_str());
    assert_eq!(t["ticket_id"], id.as_str());
    let kinds: std::collections::BTreeSet<&str> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "prompt",
        "assistant",
        "tool_call",
        "tool_result",
        "test_run",
        "review",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }

    let history = ops.json(&["history"]);
    let h = &history["items"][0];
    assert_eq!(h["outcome"], "merged");
    let text = ops.ok(&["history"]);
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!("{id}  LOCAL-1   merged   ")),
        "{text}"
    );
    assert!(
        row.ends_with(&format!(
            "  {}  Add a multiply function to calc",
            cents(&h["cost_usd"])
        )),
        "{text}"
    );

    let cost = ops.json(&["cost", "ticket", &id]);
    let by = cost["by_role_and_model"].as_array().unwrap();
    let calls: u64 = by.iter().map(|r| r["calls"].as_u64().unwrap()).sum();
    assert_eq!(cost["llm_calls"], calls, "{cost}");
    let sum: f64 = by.iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    assert!(
        (sum - cost["cost_usd"].as_f64().unwrap()).abs() < 1e-9,
        "{cost}"
    );
    let mut want = format!(
        "ticket {id}: {} over {calls} LLM calls ({} tokens in, {} out)\n\n\
         ROLE              MODEL              CALLS  IN     OUT  COST\n",
        cents(&cost["cost_usd"]),
        cost["tokens_input"],
        cost["tokens_output"]
    );
    for r in by {
        want.push_str(&format!(
            "{:<16}  {:<17}  {:<5}  {:<5}  {:<3}  {}\n",
            r["role"].as_str().unwrap(),
            r["model"].as_str().unwrap(),
            r["calls"].to_string(),
            r["tokens_input"].to_string(),
            r["tokens_output"].to_string(),
            cents(&r["cost_usd"])
        ));
    }
    assert_eq!(ops.ok(&["cost", "ticket", &id]), want);
    for role in ["planner", "implementer", "spec_reviewer", "final_reviewer"] {
        assert!(by.iter().any(|r| r["role"] == role), "no {role} in {cost}");
    }

    // a finished ticket's log: printed, and `--follow` ends at once
    let log = ops.ok(&["logs", &id, "--follow"]);
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines[0].ends_with("    info ticket_created ticket LOCAL-1 created through the api"),
        "{log}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .ends_with(" pipeline_completed merged"),
        "{log}"
    );
    let events = ops.json(&["logs", &id]);
    assert_eq!(events.as_array().unwrap().len(), lines.len());

    // a merged ticket is not rolled back, retried or cancelled
    for args in [
        ["rollback", id.as_str(), cp["id"].as_str().unwrap()].as_slice(),
        &["tickets", "retry", &id],
        &["cancel", &id],
    ] {
        let out = ops.run(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
    }
    drop(ops);
    rig.finish().await;
}

#[tokio::test]
async fn a_merged_ticket_reads_back_through_the_cli_on_sqlite() {
    a_merged_ticket_reads_back(crate::rig::Db::Sqlite).await;
}

#[tokio::test]
async fn a_merged_ticket_reads_back_through_the_cli_on_postgres() {
    a_merged_ticket_reads_back(crate::rig::Db::Postgres).await;
}
