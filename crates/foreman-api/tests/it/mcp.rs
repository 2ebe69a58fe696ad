//! The MCP server (`/mcp`): the handshake and sessions, every tool and resource, JSON-RPC
//! errors, and scopes on every tool (each refusal beside its control).

use foreman_domain::{NewTask, Scope, TicketStatus};
use serde_json::{Value, json};

use crate::support::TestApp;

/// A client of `/mcp` with one token.
struct Mcp<'a> {
    app: &'a TestApp,
    token: String,
    session: Option<String>,
    version: Option<&'static str>,
}

impl<'a> Mcp<'a> {
    fn new(app: &'a TestApp, token: &str) -> Self {
        Self {
            app,
            token: token.to_owned(),
            session: None,
            version: None,
        }
    }

    async fn post(&self, body: &str) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .post(self.app.url("/mcp"))
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        if let Some(v) = self.version {
            req = req.header("mcp-protocol-version", v);
        }
        req.send().await.expect("request")
    }

    /// A request; the whole JSON-RPC answer (asserting a 200).
    async fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let r = self.post(&body.to_string()).await;
        assert_eq!(r.status(), 200, "{method}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["id"], 7);
        answer
    }

    /// A tool call's result (asserting it is not a JSON-RPC error).
    async fn tool(&self, name: &str, args: Value) -> Value {
        let a = self
            .rpc("tools/call", json!({"name": name, "arguments": args}))
            .await;
        assert!(a.get("error").is_none(), "{name}: {a}");
        let result = a["result"].clone();
        let text = result["content"][0]["text"].as_str().unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            result["structuredContent"],
            "the text content is the structured content as JSON"
        );
        result
    }

    /// A successful tool call's structured content.
    async fn ok(&self, name: &str, args: Value) -> Value {
        let r = self.tool(name, args).await;
        assert_eq!(r["isError"], false, "{name}: {r}");
        r["structuredContent"].clone()
    }

    /// A JSON-RPC error answer's error.
    async fn rpc_error(&self, method: &str, params: Value) -> Value {
        let a = self.rpc(method, params).await;
        assert!(a.get("result").is_none(), "{method}: {a}");
        a["error"].clone()
    }
}

/// Every tool with arguments that work on the seeded app (`id`: a ticket that exists).
fn tools_and_arguments(id: &str) -> Vec<(&'static str, Value, Scope)> {
    vec![
        ("list_tickets", json!({}), Scope::Read),
        ("search_tickets", json!({"q": "widget"}), Scope::Read),
        ("get_ticket", json!({"id": id}), Scope::Read),
        ("cost_summary", json!({}), Scope::Read),
        ("get_budget", json!({}), Scope::Read),
        ("daemon_status", json!({}), Scope::Read),
        ("list_notifications", json!({}), Scope::Read),
        (
            "create_ticket",
            json!({"prompt": "add a widget"}),
            Scope::Write,
        ),
        ("cancel_ticket", json!({"id": id}), Scope::Write),
        ("retry_ticket", json!({"id": id}), Scope::Write),
        ("pause_daemon", json!({}), Scope::Write),
        ("resume_daemon", json!({}), Scope::Write),
    ]
}

#[tokio::test]
async fn initialize_issues_a_session_that_later_requests_present() {
    let app = TestApp::start().await;
    let mut c = Mcp::new(&app, &app.token);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}});
    let r = c.post(&body.to_string()).await;
    assert_eq!(r.status(), 200);
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    assert_eq!(session.len(), 64);
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()));
    let a: Value = r.json().await.unwrap();
    let result = &a["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert!(result["capabilities"]["tools"].is_object());
    assert!(result["capabilities"]["resources"].is_object());
    assert_eq!(result["serverInfo"]["name"], "foreman");

    c.session = Some(session.clone());
    c.version = Some("2025-06-18");
    let r = c
        .post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    assert_eq!(r.status(), 202);
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(c.rpc("ping", json!({})).await["result"], json!({}));

    // a session is only good with the token that opened it
    let other = app.token_with("other", vec![Scope::Admin]).await;
    let mut stranger = Mcp::new(&app, &other);
    stranger.session = Some(session.clone());
    let r = stranger
        .post(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .await;
    assert_eq!(r.status(), 404);
    let r = stranger
        .app
        .client
        .delete(app.url("/mcp"))
        .bearer_auth(&other)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // ended by its owner, it is gone: a 404 with the JSON error body says to initialize again
    let r = app
        .delete("/mcp")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c.post(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], 404);
    assert!(
        e["error"].as_str().unwrap().contains("initialize again"),
        "{e}"
    );
    let r = app.delete("/mcp").send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_version_is_negotiated_and_a_bad_version_header_is_refused() {
    let app = TestApp::start().await;
    let c = Mcp::new(&app, &app.token);
    for (asked, agreed) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-06-18"),
    ] {
        let a = c
            .rpc(
                "initialize",
                json!({"protocolVersion": asked, "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"}}),
            )
            .await;
        assert_eq!(a["result"]["protocolVersion"], agreed, "{asked}");
    }
    let mut bad = Mcp::new(&app, &app.token);
    bad.version = Some("1999-01-01");
    let r = bad
        .post(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("MCP-Protocol-Version"),
        "{e}"
    );
}

#[tokio::test]
async fn missing_or_invalid_tokens_are_401_with_the_json_error_body() {
    let app = TestApp::start().await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let no_token = app
        .client
        .post(app.url("/mcp"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let bad_token = Mcp::new(&app, "not-a-token").post(body).await;
    for r in [no_token, bad_token] {
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], 401);
        assert!(e["error"].as_str().unwrap().contains("token"), "{e}");
    }
    // control: the same request with a valid token
    let r = Mcp::new(&app, &app.token).post(body).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn protocol_errors_are_json_rpc_errors() {
    let app = TestApp::start().await;
    let c = Mcp::new(&app, &app.token);

    let r = c.post("{not json").await;
    assert_eq!(r.status(), 400);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["code"], 400);
    let message = a["error"].as_str().unwrap();
    assert!(message.starts_with("parse error (-32700): "), "{a}");

    let r = c.post(r#"{"id":1,"method":"ping"}"#).await;
    assert_eq!(r.status(), 400);
    let a: Value = r.json().await.unwrap();
    let message = a["error"].as_str().unwrap();
    assert!(message.starts_with("invalid request (-32600): "), "{a}");

    let e = c.rpc_error("tickets/everything", json!({})).await;
    assert_eq!(e["code"], -32601);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("tickets/everything")
    );

    let e = c.rpc_error("tools/call", json!({})).await;
    assert_eq!(e["code"], -32602);
    let e = c
        .rpc_error("tools/call", json!({"name": "drop_tables"}))
        .await;
    assert_eq!(e["code"], -32602);
    assert!(e["message"].as_str().unwrap().contains("drop_tables"));
    let e = c
        .rpc_error(
            "tools/call",
            json!({"name": "list_tickets", "arguments": {"limit": "many"}}),
        )
        .await;
    assert_eq!(e["code"], -32602);
    assert!(e["message"].as_str().unwrap().contains("limit"), "{e}");
    let e = c
        .rpc_error(
            "tools/call",
            json!({"name": "list_tickets", "arguments": {"colour": "red"}}),
        )
        .await;
    assert_eq!(e["code"], -32602);
    assert!(e["message"].as_str().unwrap().contains("colour"), "{e}");
    let e = c
        .rpc_error("resources/read", json!({"uri": "https://example.com/"}))
        .await;
    assert_eq!(e["code"], -32002);
}

#[tokio::test]
async fn http_level_refusals_use_the_json_error_body() {
    let app = TestApp::start().await;
    let r = app.get("/mcp").send().await.unwrap();
    assert_eq!(r.status(), 405);
    let allow = r.headers()["allow"].to_str().unwrap().to_owned();
    assert!(
        allow.contains("POST") && allow.contains("DELETE"),
        "{allow}"
    );
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 405);

    let r = app
        .post("/mcp")
        .header("content-type", "text/plain")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 415);

    let r = app
        .post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 406);
}

#[tokio::test]
async fn batches_belong_to_protocol_2025_03_26() {
    let app = TestApp::start().await;
    let mut c = Mcp::new(&app, &app.token);
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":2,"method":"nope"},
        {"jsonrpc":"2.0","id":3,"method":"initialize","params":{}},
        {"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"daemon_status"}}]"#;
    c.version = Some("2025-03-26");
    let r = c.post(batch).await;
    assert_eq!(r.status(), 200);
    let answers: Vec<Value> = r.json().await.unwrap();
    assert_eq!(answers.len(), 4, "the notification gets no answer");
    assert_eq!(answers[0], json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    assert_eq!(answers[1]["error"]["code"], -32601);
    assert_eq!(
        answers[2]["error"]["code"], -32600,
        "initialize is never batched"
    );
    assert_eq!(answers[3]["result"]["isError"], false);

    let r = c
        .post(r#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#)
        .await;
    assert_eq!(r.status(), 202);
    let r = c.post("[]").await;
    assert_eq!(r.status(), 400);

    c.version = Some("2025-06-18");
    let r = c.post(batch).await;
    assert_eq!(r.status(), 400);
    let a: Value = r.json().await.unwrap();
    let message = a["error"].as_str().unwrap();
    assert!(message.starts_with("invalid request (-32600): "), "{a}");
    assert!(message.contains("batch"), "{a}");
}

#[tokio::test]
async fn tools_list_names_every_tool_with_its_scope_to_any_valid_token() {
    let app = TestApp::start().await;
    let nothing = app.token_with("nothing", vec![]).await;
    for token in [app.token.clone(), nothing] {
        let c = Mcp::new(&app, &token);
        let init = c
            .rpc("initialize", json!({"protocolVersion": "2025-06-18"}))
            .await;
        assert!(init.get("result").is_some());
        let tools = c.rpc("tools/list", json!({})).await["result"]["tools"].clone();
        let mut names: Vec<&str> = tools
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        let mut expected: Vec<&str> = tools_and_arguments("x").iter().map(|t| t.0).collect();
        expected.sort_unstable();
        assert_eq!(names, expected);
        for t in tools.as_array().unwrap() {
            let (_, _, scope) = tools_and_arguments("x")
                .into_iter()
                .find(|x| x.0 == t["name"])
                .unwrap();
            assert_eq!(t["_meta"]["foreman/scope"], scope.as_str(), "{}", t["name"]);
            assert!(
                t["description"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("Needs the {scope} scope")),
                "{}",
                t["name"]
            );
            assert_eq!(t["inputSchema"]["type"], "object");
            assert_eq!(t["annotations"]["readOnlyHint"], scope == Scope::Read);
        }
    }
}

#[tokio::test]
async fn every_tool_answers_a_write_token() {
    let app = TestApp::start().await;
    let writer = app.token_with("writer", vec![Scope::Write]).await;
    let c = Mcp::new(&app, &writer);
    let t = app.ticket("EXT-1", "Make a widget").await;
    app.store
        .create_tasks(
            &t.id,
            (1..=2)
                .map(|i| NewTask {
                    sequence: i,
                    title: format!("widget step {i}"),
                    description: "do it".into(),
                    complexity: 1,
                    ..Default::default()
                })
                .collect(),
            None,
        )
        .await
        .unwrap();
    app.ticket("EXT-2", "Another widget").await;

    // list, with a status filter and cursor paging
    let page = c.ok("list_tickets", json!({"limit": 1})).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let next = c
        .ok("list_tickets", json!({"limit": 1, "cursor": cursor}))
        .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 1);
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);
    let failed = c.ok("list_tickets", json!({"status": "failed"})).await;
    assert_eq!(failed["items"], json!([]));
    let bad = c.tool("list_tickets", json!({"status": "sleeping"})).await;
    assert_eq!(bad["isError"], true);
    assert_eq!(bad["structuredContent"]["code"], 400);

    let found = c.ok("search_tickets", json!({"q": "widget"})).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 2);

    let full = c.ok("get_ticket", json!({"id": t.id.to_string()})).await;
    assert_eq!(full["ticket"]["external_id"], "EXT-1");
    assert_eq!(full["tasks"].as_array().unwrap().len(), 2);
    assert!(full["events"].is_array());
    assert_eq!(full["costs"]["llm_calls"], 0);
    let missing = c.tool("get_ticket", json!({"id": "nope"})).await;
    assert_eq!(missing["isError"], true);
    assert_eq!(missing["structuredContent"]["code"], 404);

    let created = c
        .ok(
            "create_ticket",
            json!({"prompt": "Add a gadget\nwith details", "priority": "high",
                "tags": ["mcp"], "timeout": 600, "max_budget_usd": 2.5,
                "webhook_url": "https://example.com/hook"}),
        )
        .await;
    assert_eq!(created["title"], "Add a gadget");
    assert_eq!(created["status"], "queued");
    assert_eq!(created["submitter"], "writer");
    let id = created["id"].as_str().unwrap().to_owned();
    let stored = app
        .store
        .get_ticket(&id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.priority, 30);

    let cancelled = c.ok("cancel_ticket", json!({"id": id})).await;
    assert_eq!(cancelled["status"], "cancelled");
    let stored = app
        .store
        .get_ticket(&id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, TicketStatus::Failed);
    let again = c.tool("cancel_ticket", json!({"id": id})).await;
    assert_eq!(again["structuredContent"]["code"], 409);
    let retried = c.ok("retry_ticket", json!({"id": id})).await;
    assert_eq!(retried["status"], "retrying");
    let stored = app
        .store
        .get_ticket(&id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, TicketStatus::Queued);

    let costs = c.ok("cost_summary", json!({"group_by": "model"})).await;
    assert!(costs["today"]["cost_usd"].is_number());
    assert!(costs["month"]["month"].is_string());
    assert_eq!(costs["report"]["group_by"], "model");
    let bad = c.tool("cost_summary", json!({"group_by": "moon"})).await;
    assert_eq!(bad["structuredContent"]["code"], 400);
    assert!(
        bad["structuredContent"]["error"]
            .as_str()
            .unwrap()
            .contains("group_by")
    );

    let budget = c.ok("get_budget", json!({})).await;
    assert!(budget.is_object());
    assert_eq!(
        c.ok("daemon_status", json!({})).await["daemon_state"],
        "running"
    );
    let paused = c.ok("pause_daemon", json!({})).await;
    assert_eq!(paused["message"], "daemon paused");
    assert_eq!(
        c.ok("daemon_status", json!({})).await["daemon_state"],
        "paused"
    );
    c.ok("resume_daemon", json!({})).await;
    assert_eq!(
        c.ok("daemon_status", json!({})).await["daemon_state"],
        "running"
    );

    let notes = c.ok("list_notifications", json!({"limit": 5})).await;
    assert!(notes["items"].is_array());
    let bad = c
        .tool("list_notifications", json!({"severity": "loud"}))
        .await;
    assert_eq!(bad["structuredContent"]["code"], 400);
}

#[tokio::test]
async fn create_ticket_errors_name_the_field() {
    let app = TestApp::start().await;
    let c = Mcp::new(&app, &app.token);
    for (args, field) in [
        (json!({"prompt": "x", "priority": "soonish"}), "priority"),
        (json!({"prompt": "x", "timeout": 0}), "timeout"),
        (
            json!({"prompt": "x", "max_budget_usd": 1000}),
            "max_budget_usd",
        ),
        (
            json!({"prompt": "x", "webhook_url": "ftp://x"}),
            "webhook_url",
        ),
        (json!({"prompt": "x", "tags": [""]}), "tags"),
        (json!({"prompt": "x", "colour": "red"}), "colour"),
    ] {
        let e = c
            .rpc_error(
                "tools/call",
                json!({"name": "create_ticket", "arguments": args}),
            )
            .await;
        assert_eq!(e["code"], -32602, "{field}");
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "{field}: {e}"
        );
    }
    // what spans fields or needs the configuration: a tool error naming the field (the 400)
    for (args, field) in [
        (json!({"prompt": "x", "description": "y"}), "prompt"),
        (json!({"description": "y"}), "title"),
        (json!({"prompt": "x", "agent": "robot"}), "agent"),
    ] {
        let r = c.tool("create_ticket", args).await;
        assert_eq!(r["isError"], true, "{field}");
        assert_eq!(r["structuredContent"]["code"], 400);
        assert!(
            r["structuredContent"]["error"]
                .as_str()
                .unwrap()
                .contains(&format!("{field}:")),
            "{field}: {r}"
        );
    }
    assert_eq!(
        app.store
            .list_tickets(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        0
    );
}

#[tokio::test]
async fn every_mutating_tool_refuses_a_read_token_and_serves_a_write_token() {
    let app = TestApp::start().await;
    let reader = Mcp::new(&app, &app.token_with("reader", vec![Scope::Read]).await);
    let writer = Mcp::new(&app, &app.token_with("writer", vec![Scope::Write]).await);
    let t = app.ticket("EXT-1", "Make a widget").await;
    let id = t.id.to_string();
    for (name, args, scope) in tools_and_arguments(&id) {
        if scope != Scope::Write {
            continue;
        }
        let before = app
            .store
            .list_tickets(&Default::default())
            .await
            .unwrap()
            .items;
        let daemon = reader.ok("daemon_status", json!({})).await["daemon_state"].clone();
        let r = reader.tool(name, args.clone()).await;
        assert_eq!(r["isError"], true, "{name}");
        assert_eq!(
            r["structuredContent"],
            json!({"error": "token lacks the write scope", "code": 403}),
            "{name}"
        );
        let after = app
            .store
            .list_tickets(&Default::default())
            .await
            .unwrap()
            .items;
        assert_eq!(before, after, "{name}: a refused call changes nothing");
        assert_eq!(
            reader.ok("daemon_status", json!({})).await["daemon_state"],
            daemon,
            "{name}: a refused call changes nothing"
        );
        // control: the same call with a write token
        let r = writer.tool(name, args).await;
        assert_eq!(r["isError"], false, "{name}: {r}");
    }
}

#[tokio::test]
async fn every_read_tool_and_resource_refuses_a_token_without_read() {
    let app = TestApp::start().await;
    let nothing = Mcp::new(&app, &app.token_with("nothing", vec![]).await);
    let reader = Mcp::new(&app, &app.token_with("reader", vec![Scope::Read]).await);
    let t = app.ticket("EXT-1", "Make a widget").await;
    let id = t.id.to_string();
    for (name, args, scope) in tools_and_arguments(&id) {
        let r = nothing.tool(name, args.clone()).await;
        assert_eq!(r["isError"], true, "{name}");
        assert_eq!(
            r["structuredContent"],
            json!({"error": format!("token lacks the {scope} scope"), "code": 403}),
            "{name}"
        );
        if scope == Scope::Read {
            // control: a read token
            let r = reader.tool(name, args).await;
            assert_eq!(r["isError"], false, "{name}: {r}");
        }
    }
    let uri = format!("foreman://tickets/{id}");
    for (method, params) in [
        ("resources/list", json!({})),
        ("resources/read", json!({"uri": uri})),
    ] {
        let e = nothing.rpc_error(method, params.clone()).await;
        assert_eq!(e["code"], -32003, "{method}");
        assert_eq!(e["message"], "token lacks the read scope");
        // control
        assert!(reader.rpc(method, params).await.get("result").is_some());
    }
}

#[tokio::test]
async fn tickets_and_tasks_are_resources() {
    let app = TestApp::start().await;
    let c = Mcp::new(&app, &app.token);
    let t = app.ticket("EXT-1", "Make a widget").await;
    let tasks = app
        .store
        .create_tasks(
            &t.id,
            vec![NewTask {
                sequence: 1,
                title: "the only step".into(),
                ..Default::default()
            }],
            None,
        )
        .await
        .unwrap();
    let templates = c.rpc("resources/templates/list", json!({})).await;
    let uris: Vec<&str> = templates["result"]["resourceTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["uriTemplate"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "foreman://tickets/{id}",
            "foreman://tickets/{id}/tasks/{task_id}"
        ]
    );

    let uri = format!("foreman://tickets/{}", t.id);
    let list = c.rpc("resources/list", json!({})).await;
    assert_eq!(list["result"]["resources"][0]["uri"], uri);
    assert_eq!(list["result"]["resources"][0]["name"], "EXT-1");

    let read = c.rpc("resources/read", json!({"uri": uri})).await;
    let content = &read["result"]["contents"][0];
    assert_eq!(content["uri"], uri);
    assert_eq!(content["mimeType"], "application/json");
    let doc: Value = serde_json::from_str(content["text"].as_str().unwrap()).unwrap();
    assert_eq!(doc["external_id"], "EXT-1");
    assert_eq!(doc["tasks"][0]["title"], "the only step");

    let task_uri = format!("{uri}/tasks/{}", tasks[0].id);
    let read = c.rpc("resources/read", json!({"uri": task_uri})).await;
    let doc: Value =
        serde_json::from_str(read["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(doc["title"], "the only step");

    for missing in [
        "foreman://tickets/nope".to_owned(),
        format!("{uri}/tasks/nope"),
        format!("{uri}/elsewhere/x"),
    ] {
        let e = c.rpc_error("resources/read", json!({"uri": missing})).await;
        assert_eq!(e["code"], -32002, "{missing}");
    }
}
