//! Validation rules over HTTP: read and replace, validation errors that name the rule, the
//! validate route with line numbers, accept and reject, export and import, unknown projects and
//! auth.

use foreman_domain::rules::{ProposedBy, RuleKind, RuleProposal, load_rules, propose, save_rules};
use foreman_domain::{EventFilter, EventType, Scope};
use serde_json::{Value, json};

use crate::support::TestApp;

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn rules_are_replaced_all_or_nothing_and_read_back() {
    let app = TestApp::start().await;
    let (status, body) = app.get_json("/api/rules/default").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"project": "default", "revision": 0, "rules": []})
    );

    let (status, body) = send(app.put("/api/rules/default").json(&json!({"rules": [
        {"id": "no-unwrap", "kind": "regex", "pattern": "\\.unwrap\\(\\)", "applies_to": ["**/*.rs"], "message": "handle the error"},
        {"kind": "forbidden_path", "pattern": "dist/**", "severity": "warning"},
    ]})))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revision"], 1);
    let rules = body["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["id"], "no-unwrap");
    assert_eq!(rules[0]["severity"], "error");
    assert_eq!(rules[0]["status"], "accepted");
    assert_eq!(rules[0]["source"], "person");
    assert!(
        rules[1]["id"]
            .as_str()
            .unwrap()
            .starts_with("forbidden-path-")
    );

    // a bad third rule: nothing changes, the error names it
    let (status, body) = send(app.put("/api/rules/default").json(&json!({"rules": [
        {"kind": "regex", "pattern": "a"},
        {"kind": "regex", "pattern": "b"},
        {"kind": "regex", "pattern": "(unclosed"},
    ]})))
    .await;
    assert_eq!(status, 400);
    assert!(
        error_of(&body).starts_with("rules[2].pattern: invalid regex"),
        "{body}"
    );
    let (_, after) = app.get_json("/api/rules/default").await;
    assert_eq!(after["rules"].as_array().unwrap().len(), 2);
    assert_eq!(after["revision"], 1);

    // a fetched set can be sent back as it is; a stale revision is a 409
    let (status, body) = send(
        app.put("/api/rules/default")
            .json(&json!({"rules": after["rules"], "revision": 1})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rules"], after["rules"],
        "an unchanged rule keeps its times"
    );
    let (status, body) = send(
        app.put("/api/rules/default")
            .json(&json!({"rules": [], "revision": 1})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn invalid_rules_are_400s_naming_the_rule_and_field() {
    let app = TestApp::start().await;
    let cases = [
        (
            json!([{"kind": "regex", "pattern": "(a{1000}){1000}"}]),
            "rules[0].pattern",
            "catastrophic",
        ),
        (
            json!([{"kind": "regex", "pattern": "x"}, {"kind": "regex", "pattern": "y", "colour": 1}]),
            "rules[1]",
            "unknown field `colour`",
        ),
        (
            json!([{"kind": "forbidden_path", "pattern": "a["}]),
            "rules[0].pattern",
            "invalid glob",
        ),
        (
            json!([{"kind": "regex", "pattern": "x", "applies_to": ["{bad"]}]),
            "rules[0].applies_to[0]",
            "invalid glob",
        ),
        (
            json!([{"kind": "missing", "pattern": ""}]),
            "rules[0].pattern",
            "must not be empty",
        ),
        (
            json!([{"id": "a", "kind": "regex", "pattern": "x"}, {"id": "a", "kind": "regex", "pattern": "y"}]),
            "rules[1].id",
            "duplicate",
        ),
        (
            json!([{"kind": "grep", "pattern": "x"}]),
            "rules[0]",
            "grep",
        ),
    ];
    for (rules, field, what) in cases {
        let (status, body) =
            send(app.put("/api/rules/default").json(&json!({"rules": rules}))).await;
        assert_eq!(status, 400, "{rules}: {body}");
        let e = error_of(&body);
        assert!(e.starts_with(&format!("{field}: ")), "{field}: {e}");
        assert!(e.contains(what), "{what}: {e}");
        assert_eq!(body["code"], 400);
    }
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"kind": "regex", "pattern": format!("p{i}")}))
        .collect();
    let (status, body) = send(app.put("/api/rules/default").json(&json!({"rules": many}))).await;
    assert_eq!(status, 400);
    assert!(error_of(&body).starts_with("rules: at most 500"), "{body}");
    // control: the same shapes, valid, are stored
    let (status, body) = send(app.put("/api/rules/default").json(&json!({"rules": [
        {"kind": "regex", "pattern": "(a{10}){10}"},
        {"kind": "forbidden_path", "pattern": "a/**"},
    ]})))
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn validate_reports_violations_with_line_numbers_for_accepted_rules_only() {
    let app = TestApp::start().await;
    let (status, _) = send(app.put("/api/rules/default").json(&json!({"rules": [
        {"id": "no-dbg", "kind": "regex", "pattern": "dbg!", "applies_to": ["src/**"]},
        {"id": "license", "kind": "missing", "pattern": "SPDX-License-Identifier", "severity": "warning"},
        {"id": "no-todo", "kind": "regex", "pattern": "TODO", "status": "proposed"},
    ]})))
    .await;
    assert_eq!(status, 200);
    let content = "fn a() {}\nfn b() { dbg!(1); } // TODO\n\n  dbg!(2);\n";
    let (status, body) = send(
        app.post("/api/rules/default/validate")
            .json(&json!({"filename": "src/lib.rs", "content": content})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v = body["violations"].as_array().unwrap();
    let got: Vec<(&str, Value)> = v
        .iter()
        .map(|v| (v["rule_id"].as_str().unwrap(), v["line"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("no-dbg", json!(2)),
            ("no-dbg", json!(4)),
            ("license", Value::Null)
        ]
    );
    assert_eq!(v[1]["excerpt"], "dbg!(2);");
    assert_eq!(v[2]["severity"], "warning");
    // applies_to: another directory is not checked by no-dbg
    let (_, body) = send(
        app.post("/api/rules/default/validate")
            .json(&json!({"filename": "docs/x.md", "content": "dbg! SPDX-License-Identifier"})),
    )
    .await;
    assert_eq!(body["violations"], json!([]));
    // the proposed rule only when asked for
    let (_, body) = send(
        app.post("/api/rules/default/validate?include_proposed=true")
            .json(&json!({"filename": "docs/x.md", "content": "TODO SPDX-License-Identifier"})),
    )
    .await;
    assert_eq!(body["violations"][0]["rule_id"], "no-todo");
    let (status, body) = send(
        app.post("/api/rules/default/validate")
            .json(&json!({"filename": "a", "content": "b", "extra": true})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_proposed_rule_is_accepted_or_rejected_idempotently_with_events() {
    let app = TestApp::start().await;
    let mut rules = Vec::new();
    let proposed = propose(
        &mut rules,
        RuleProposal {
            kind: RuleKind::Regex,
            pattern: "println!".into(),
            rationale: Some("use tracing".into()),
            ..RuleProposal::default()
        },
        ProposedBy {
            ticket_id: "t1".into(),
            task_id: "k1".into(),
        },
        chrono::Utc::now(),
    )
    .unwrap()
    .unwrap();
    save_rules(app.store.as_ref(), "default", rules, 0)
        .await
        .unwrap();
    let (_, body) = app.get_json("/api/rules/default").await;
    assert_eq!(body["rules"][0]["status"], "proposed");
    assert_eq!(body["rules"][0]["source"], "reviewer");
    assert_eq!(
        body["rules"][0]["proposed_by"],
        json!({"ticket_id": "t1", "task_id": "k1"})
    );

    let path = format!("/api/rules/default/{}/accept", proposed.id);
    let (status, body) = send(app.post(&path)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "accepted");
    let (status, again) = send(app.post(&path)).await;
    assert_eq!((status, &again["updated_at"]), (200, &body["updated_at"]));
    let stored = load_rules(app.store.as_ref(), "default").await.unwrap();
    assert!(stored.rules[0].is_accepted());
    assert_eq!(stored.revision, 2, "the second accept wrote nothing");

    let (status, body) =
        send(app.post(&format!("/api/rules/default/{}/reject", proposed.id))).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")));
    let events = app
        .store
        .list_events(&EventFilter::default())
        .await
        .unwrap();
    let kinds: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(
        kinds,
        vec![EventType::RuleAccepted, EventType::RuleRejected]
    );

    let (status, body) = send(app.post("/api/rules/default/nope/accept")).await;
    assert_eq!(status, 404);
    assert!(error_of(&body).contains("rule nope not found"), "{body}");
}

#[tokio::test]
async fn export_and_import_round_trip_with_merge_and_replace() {
    let app = TestApp::builder()
        .config(|c| c.projects = vec!["default".into(), "web".into()])
        .start()
        .await;
    send(app.put("/api/rules/default").json(&json!({"rules": [
        {"id": "a", "kind": "regex", "pattern": "x"},
        {"id": "b", "kind": "missing", "pattern": "y", "severity": "warning", "applies_to": ["*.md"]},
    ]})))
    .await;
    let (status, doc) = app.get_json("/api/rules/default/export").await;
    assert_eq!(status, 200);
    assert_eq!(doc["format"], "foreman-rules/1");
    assert_eq!(doc["project"], "default");

    // into another project: the same rules
    let (status, body) = send(
        app.post("/api/rules/web/import")
            .json(&json!({"document": doc, "mode": "replace"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let without_update = |v: &Value| {
        let mut v = v.clone();
        for r in v.as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("updated_at");
        }
        v
    };
    // the same rules, created when they were; updated by the import
    assert_eq!(
        without_update(&body["rules"]),
        without_update(&doc["rules"])
    );

    // merge: `a` replaced, `c` appended, `b` kept
    let patch = json!({"format": "foreman-rules/1", "project": "x", "rules": [
        {"id": "a", "kind": "regex", "pattern": "changed"},
        {"id": "c", "kind": "forbidden_path", "pattern": "tmp/**"},
    ]});
    let (status, body) = send(
        app.post("/api/rules/web/import")
            .json(&json!({"document": patch})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got: Vec<(&str, &str)> = body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["pattern"].as_str().unwrap()))
        .collect();
    assert_eq!(got, vec![("a", "changed"), ("b", "y"), ("c", "tmp/**")]);

    let bad = json!({"format": "foreman-rules/1", "rules": [{"kind": "regex", "pattern": "(a{1000}){1000}"}]});
    let (status, body) = send(
        app.post("/api/rules/web/import")
            .json(&json!({"document": bad})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error_of(&body).starts_with("document.rules[0].pattern: "),
        "{body}"
    );
    let (status, body) = send(
        app.post("/api/rules/web/import")
            .json(&json!({"document": {"format": "foreman-rules/2", "rules": []}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&body).starts_with("document.format"), "{body}");
}

#[tokio::test]
async fn unknown_projects_are_404s_and_scopes_are_enforced() {
    let app = TestApp::start().await;
    for (method, path) in [
        ("GET", "/api/rules/ghost"),
        ("PUT", "/api/rules/ghost"),
        ("POST", "/api/rules/ghost/validate"),
        ("POST", "/api/rules/ghost/r/accept"),
        ("POST", "/api/rules/ghost/r/reject"),
        ("GET", "/api/rules/ghost/export"),
        ("POST", "/api/rules/ghost/import"),
    ] {
        let body = match path {
            p if p.ends_with("validate") => json!({"filename": "a", "content": ""}),
            p if p.ends_with("import") => {
                json!({"document": {"format": "foreman-rules/1", "rules": []}})
            }
            _ => json!({"rules": []}),
        };
        let req = match method {
            "GET" => app.get(path),
            "PUT" => app.put(path).json(&body),
            _ => app.post(path).json(&body),
        };
        let (status, body) = send(req).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(
            error_of(&body).contains("project ghost not found"),
            "{body}"
        );
    }
    // no token: 401; a read token reads but cannot write (nor validate: a POST)
    let r = app
        .client
        .get(app.url("/api/rules/default"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let read = app.token_with("reader", vec![Scope::Read]).await;
    let (status, _) = send(
        app.client
            .get(app.url("/api/rules/default"))
            .bearer_auth(&read),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        app.client
            .post(app.url("/api/rules/default/validate"))
            .bearer_auth(&read)
            .json(&json!({"filename": "a", "content": "b"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        app.client
            .put(app.url("/api/rules/default"))
            .bearer_auth(&read)
            .json(&json!({"rules": []})),
    )
    .await;
    assert_eq!(status, 403);
    let write = app.token_with("writer", vec![Scope::Write]).await;
    let (status, _) = send(
        app.client
            .put(app.url("/api/rules/default"))
            .bearer_auth(&write)
            .json(&json!({"rules": []})),
    )
    .await;
    assert_eq!(status, 200);
}
