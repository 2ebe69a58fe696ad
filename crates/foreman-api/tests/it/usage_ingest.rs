//! `POST /api/llm/usage`, `GET /api/llm/usage` and `GET /api/llm/usage/summary`: reported LLM
//! usage, counted in costs and budgets like Foreman's own calls.

use std::sync::Arc;

use foreman_domain::llm::Usage;
use foreman_domain::{BudgetLimits, Micros, Scope, Store};
use foreman_store::SqlStore;
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

use crate::support::{TestApp, TestAppBuilder};

/// The app pricing reported rows with the built-in price table, as the server does.
fn priced() -> TestAppBuilder {
    TestApp::builder().usage_pricer(Arc::new(foreman_llm::PricingTable::builtin()))
}

fn row(model: &str, cost: f64) -> Value {
    json!({"provider": "anthropic", "model": model, "input_tokens": 1000,
           "output_tokens": 100, "cost_usd": cost})
}

async fn post(app: &TestApp, body: &Value) -> (u16, Value) {
    let r = app
        .post("/api/llm/usage")
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn assert_bad(status: u16, body: &Value, starts: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 400, "{body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(starts),
        "{msg:?} should start with {starts:?}"
    );
}

async fn listed(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get_json(&format!("/api/llm/usage{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_single_row_is_recorded_and_listed_as_external() {
    let app = priced().start().await;
    let mut one = row("claude-sonnet-4-5", 0.25);
    one["session_tag"] = json!("s-1");
    one["project"] = json!("web");
    one["timestamp"] = json!("2026-12-01T10:00:00Z");
    let (status, body) = post(&app, &one).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["received"], 1);
    assert_eq!(body["inserted"], 1);
    assert_eq!(body["priced"], 0);
    assert_eq!(body["cost_usd"], 0.25);
    let items = listed(&app, "").await;
    assert_eq!(items.len(), 1);
    let r = &items[0];
    assert_eq!(r["id"], body["ids"][0]);
    assert_eq!(r["source"], "external");
    assert_eq!(r["model"], "claude-sonnet-4-5");
    assert_eq!(r["project"], "web");
    assert_eq!(r["session_tag"], "s-1");
    assert_eq!(r["input_tokens"], 1000);
    assert_eq!(r["timestamp"], "2026-12-01T10:00:00Z");
    assert_eq!(listed(&app, "?source=foreman").await.len(), 0);
    assert_eq!(listed(&app, "?session_tag=s-1&project=web").await.len(), 1);
    let (status, body) = app.get_json("/api/llm/usage?source=elsewhere").await;
    assert_bad(status, &body, "source: unknown source \"elsewhere\"");
}

#[tokio::test]
async fn a_batch_is_recorded_whole_and_pages_by_cursor() {
    let app = priced().start().await;
    let items: Vec<Value> = (0..7).map(|i| row("gpt-5", 0.01 * f64::from(i))).collect();
    let (status, body) = post(&app, &json!({ "items": items })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["inserted"], 7);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .get_json(&format!("/api/llm/usage?limit=3{cursor}"))
            .await;
        assert_eq!(status, 200, "{page}");
        for r in page["items"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
    let (status, body) = app.get_json("/api/llm/usage?cursor=nonsense").await;
    assert_bad(status, &body, "cursor:");
    let (status, body) = app.get_json("/api/llm/usage?limit=501").await;
    assert_bad(
        status,
        &body,
        "invalid query: limit: must be an integer from 1 to 500",
    );
}

#[tokio::test]
async fn bad_batches_are_refused_whole_naming_item_and_field() {
    let app = priced().start().await;
    let too_many: Vec<Value> = (0..501).map(|_| row("gpt-5", 0.01)).collect();
    let (status, body) = post(&app, &json!({ "items": too_many })).await;
    assert_bad(
        status,
        &body,
        "items: at most 500 rows per request, got 501",
    );

    let mut items: Vec<Value> = (0..5).map(|_| row("gpt-5", 0.01)).collect();
    items[3].as_object_mut().unwrap().remove("model");
    let (status, body) = post(&app, &json!({ "items": items })).await;
    assert_bad(status, &body, "items[3].model: required");

    let mut items: Vec<Value> = (0..3).map(|_| row("gpt-5", 0.01)).collect();
    items[1]["input_token"] = json!(5);
    let (status, body) = post(&app, &json!({ "items": items })).await;
    assert_bad(status, &body, "items[1].input_token: unknown field");

    let cases = [
        ("input_tokens", json!("many"), "items[0].input_tokens:"),
        ("input_tokens", json!(-5), "items[0].input_tokens:"),
        ("output_tokens", json!(1.5), "items[0].output_tokens:"),
        ("cost_usd", json!(-1), "items[0].cost_usd:"),
        ("cost_usd", json!("1"), "items[0].cost_usd:"),
        ("provider", json!(7), "items[0].provider:"),
        (
            "timestamp",
            json!("2099-01-01T00:00:00Z"),
            "items[0].timestamp:",
        ),
        ("timestamp", json!("yesterday"), "items[0].timestamp:"),
        (
            "ticket_id",
            json!("0190f1c2-0000-7000-8000-000000000000"),
            "items[0].ticket_id: ticket 0190f1c2-0000-7000-8000-000000000000 not found",
        ),
    ];
    for (field, value, starts) in cases {
        let mut r = row("gpt-5", 0.01);
        r[field] = value;
        let (status, body) = post(&app, &json!({ "items": [r] })).await;
        assert_bad(status, &body, starts);
    }
    let mut r = row("gpt-5", 0.01);
    r.as_object_mut().unwrap().remove("provider");
    let (status, body) = post(&app, &r).await;
    assert_bad(status, &body, "provider: required");
    let (status, body) = post(&app, &json!([row("gpt-5", 0.01)])).await;
    assert_bad(
        status,
        &body,
        "expected one row or a batch as {\"items\": [...]}",
    );
    let (status, body) = post(&app, &json!({"items": []})).await;
    assert_bad(status, &body, "items: must not be empty");
    let (status, body) = post(&app, &json!({"items": [], "extra": 1})).await;
    assert_bad(status, &body, "extra: unknown field");

    // nothing of any refused batch was recorded
    assert!(listed(&app, "").await.is_empty());
}

#[tokio::test]
async fn rows_without_cost_are_priced_from_the_table() {
    let app = priced().start().await;
    let model = "claude-sonnet-4-5-20250929";
    let (status, body) = post(
        &app,
        &json!({"provider": "anthropic", "model": model, "input_tokens": 1_000_000,
                "output_tokens": 200_000, "cache_read_tokens": 500_000}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["priced"], 1);
    let expected = foreman_llm::PricingTable::builtin().cost(
        model,
        &Usage {
            input_tokens: 1_000_000,
            output_tokens: 200_000,
            cache_read_tokens: 500_000,
            cache_write_tokens: 0,
        },
    );
    assert!(expected > Micros(0));
    assert_eq!(body["cost_usd"], expected.to_usd());
    assert_eq!(listed(&app, "").await[0]["cost_usd"], expected.to_usd());

    // a model the table does not list needs its own cost
    let unknown = json!({"provider": "acme", "model": "acme-large-1", "input_tokens": 10});
    let (status, body) = post(&app, &json!({ "items": [row("gpt-5", 0.01), unknown] })).await;
    assert_bad(
        status,
        &body,
        "items[1].model: no price for model \"acme-large-1\"",
    );
    // and without a price table nothing is priced
    let bare = TestApp::start().await;
    let (status, body) = post(&bare, &json!({"provider": "anthropic", "model": model})).await;
    assert_bad(status, &body, "model: no price for model");
}

#[tokio::test]
async fn a_retried_row_is_recorded_once() {
    let app = priced().start().await;
    let mut a = row("gpt-5", 0.5);
    a["id"] = json!("run-1-call-1");
    let mut b = row("gpt-5", 0.25);
    b["id"] = json!("run-1-call-2");
    let (status, first) = post(&app, &json!({"items": [a.clone()]})).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = post(&app, &json!({"items": [a, b]})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicates"], json!([0]));
    assert_eq!(again["inserted"], 1);
    assert_eq!(again["ids"][0], Value::Null);
    assert_eq!(again["cost_usd"], 0.25);
    let (_, today) = app.get_json("/api/costs/today").await;
    assert_eq!(today["cost_usd"], 0.75);
    let items = listed(&app, "").await;
    assert_eq!(items.len(), 2);
    assert!(items.iter().any(|r| r["client_id"] == "run-1-call-1"));
}

#[tokio::test]
async fn ingested_spend_counts_in_costs_tickets_and_the_budget() {
    let app = priced()
        .config(|c| {
            c.budgets = BudgetLimits {
                daily: Some(Micros::from_usd(1.0)),
                ..BudgetLimits::default()
            };
        })
        .start()
        .await;
    let (_, budget) = app.get_json("/api/budget").await;
    assert_eq!(budget["exceeded"], false, "{budget}");
    let t = app.ticket("UI-1", "Ingest").await;
    let mut on_ticket = row("claude-sonnet-4-5", 0.5);
    on_ticket["ticket_id"] = json!(t.id.to_string());
    let (status, body) = post(&app, &json!({"items": [row("gpt-5", 0.75), on_ticket]})).await;
    assert_eq!(status, 200, "{body}");

    let (_, today) = app.get_json("/api/costs/today").await;
    assert_eq!(today["cost_usd"], 1.25);
    let (status, report) = app.get_json("/api/costs?group_by=model").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["total"]["cost_usd"], 1.25);
    assert_eq!(report["total"]["calls"], 2);
    let (_, ticket) = app.get_json(&format!("/api/tickets/{}", t.id)).await;
    assert_eq!(ticket["cost_usd"], 0.5, "{ticket}");
    let (_, budget) = app.get_json("/api/budget").await;
    assert_eq!(budget["exceeded"], true, "{budget}");
    let daily = &budget["periods"][0];
    assert_eq!(daily["period"], "daily");
    assert_eq!(daily["used_usd"], 1.25);
    assert_eq!(daily["exceeded"], true);
    let (_, listed_ticket) = app
        .get_json(&format!("/api/llm/usage?ticket_id={}", t.id))
        .await;
    assert_eq!(listed_ticket["items"][0]["project"], "default");
}

#[tokio::test]
async fn the_summary_groups_by_every_key_and_names_the_allowed_ones() {
    let app = priced().start().await;
    let t = app.ticket("UI-2", "Summary").await;
    let mut a = row("alpha", 0.1);
    a["project"] = json!("p1");
    a["session_tag"] = json!("s1");
    a["timestamp"] = json!("2026-11-01T10:00:00Z");
    let mut b = row("alpha", 0.2);
    b["ticket_id"] = json!(t.id.to_string());
    b["timestamp"] = json!("2026-11-02T10:00:00Z");
    let mut c = row("beta", 1.0);
    c["session_tag"] = json!("s1");
    c["timestamp"] = json!("2026-11-02T11:00:00Z");
    let (status, body) = post(&app, &json!({"items": [a, b, c]})).await;
    assert_eq!(status, 200, "{body}");
    let window = "&from=2026-11-01&to=2026-11-02";
    let keys = |body: &Value| -> Vec<(String, i64)> {
        body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_owned(),
                    g["calls"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let k = |s: &str, n: i64| (s.to_owned(), n);
    let expected = [
        ("model", vec![k("beta", 1), k("alpha", 2)]),
        ("project", vec![k("", 1), k("default", 1), k("p1", 1)]),
        ("ticket", vec![k("", 2), k(t.id.as_str(), 1)]),
        ("session_tag", vec![k("s1", 2), k("", 1)]),
        ("day", vec![k("2026-11-01", 1), k("2026-11-02", 2)]),
    ];
    for (by, want) in expected {
        let (status, body) = app
            .get_json(&format!("/api/llm/usage/summary?group_by={by}{window}"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["group_by"], by);
        assert_eq!(keys(&body), want, "group_by={by}: {body}");
        assert_eq!(body["total"]["calls"], 3);
        assert_eq!(body["total"]["cost_usd"], 1.3);
        assert_eq!(body["total"]["input_tokens"], 3000);
    }
    let (status, body) = app.get_json("/api/llm/usage/summary?group_by=tokens").await;
    assert_bad(
        status,
        &body,
        "group_by: unknown group_by \"tokens\"; allowed values: model, project, ticket, \
         session_tag, day",
    );
    let (status, body) = app
        .get_json("/api/llm/usage/summary?from=2026-11-03&to=2026-11-01")
        .await;
    assert_bad(status, &body, "from:");
}

#[tokio::test]
async fn a_read_token_cannot_ingest() {
    let app = priced().start().await;
    let read = app.token_with("reader", vec![Scope::Read]).await;
    let write = app.token_with("writer", vec![Scope::Write]).await;
    let send = |token: String| {
        app.client
            .post(app.url("/api/llm/usage"))
            .bearer_auth(token)
            .json(&row("gpt-5", 0.01))
            .send()
    };
    // control: the same request with a write token is recorded
    assert_eq!(send(write).await.unwrap().status().as_u16(), 200);
    let refused = send(read.clone()).await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 403);
    // and the read token still reads
    let r = app
        .client
        .get(app.url("/api/llm/usage/summary?group_by=model"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let unauthenticated = app
        .client
        .post(app.url("/api/llm/usage"))
        .json(&row("gpt-5", 0.01))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    assert_eq!(listed(&app, "").await.len(), 1);
}

/// Ingest, listing, summary and the cost routes over a SQL store.
async fn on_sql(store: Arc<dyn Store>) {
    let app = priced().store(store).start().await;
    let t = app.ticket("UI-SQL", "Ingest on SQL").await;
    let mut items: Vec<Value> = (0..500)
        .map(|i| {
            let mut r = row(
                if i % 2 == 0 {
                    "gpt-5"
                } else {
                    "claude-sonnet-4-5"
                },
                0.001,
            );
            r["id"] = json!(format!("sql-{i}"));
            r["session_tag"] = json!(format!("s{}", i % 5));
            r
        })
        .collect();
    items[7]["ticket_id"] = json!(t.id.to_string());
    items[8].as_object_mut().unwrap().remove("cost_usd");
    let (status, body) = post(&app, &json!({ "items": items })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["inserted"], 500);
    assert_eq!(body["priced"], 1);
    let (status, again) = post(&app, &json!({ "items": items })).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["inserted"], 0);
    assert_eq!(again["duplicates"].as_array().unwrap().len(), 500);
    let (_, summary) = app
        .get_json("/api/llm/usage/summary?group_by=session_tag")
        .await;
    assert_eq!(summary["groups"].as_array().unwrap().len(), 5, "{summary}");
    assert_eq!(summary["total"]["calls"], 500);
    let (_, report) = app.get_json("/api/costs?group_by=model").await;
    assert_eq!(report["total"]["calls"], 500);
    assert_eq!(report["total"]["cost_usd"], summary["total"]["cost_usd"]);
    let (_, ticket) = app.get_json(&format!("/api/tickets/{}", t.id)).await;
    assert_eq!(ticket["total_llm_calls"], 1);
    assert_eq!(
        listed(&app, &format!("?ticket_id={}", t.id)).await[0]["project"],
        "default"
    );
    let mut cursor = String::new();
    let mut n = 0;
    loop {
        let (status, page) = app
            .get_json(&format!("/api/llm/usage?limit=200&source=external{cursor}"))
            .await;
        assert_eq!(status, 200, "{page}");
        n += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(n, 500);
}

#[tokio::test]
async fn ingest_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("foreman.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    on_sql(Arc::new(store)).await;
}

#[tokio::test]
async fn ingest_on_postgres() {
    let Some(schema) = TestSchema::create("api_usage").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    on_sql(Arc::new(store)).await;
    schema.drop_schema().await;
}
