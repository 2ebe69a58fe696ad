//! Bad input is a 400 naming the parameter, never a panic: the bounds the OpenAPI document
//! states are exactly the ones the server enforces, on the SQL store where an unchecked offset
//! used to panic a worker.

use std::sync::Arc;

use foreman_domain::{EventFilter, Store, TicketFilter};
use foreman_store::SqlStore;
use serde_json::{Value, json};

use crate::support::TestApp;

async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("api.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (dir, Arc::new(store))
}

/// The status and the `error` text of a GET.
async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.get(path).send().await.expect("the server answers");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn out_of_range_pages_are_400_naming_the_parameter() {
    let (_dir, store) = sqlite().await;
    let app = TestApp::builder().store(store).start().await;
    app.ticket("V-1", "one ticket").await;
    for (path, name) in [
        ("/api/tickets?offset=9223372036854775808", "offset"),
        ("/api/ticket-summaries?offset=9223372036854775808", "offset"),
        ("/api/events?offset=9223372036854775808", "offset"),
        ("/api/tickets?offset=9007199254740992", "offset"),
        ("/api/events?offset=9007199254740992", "offset"),
        ("/api/tickets?limit=2147483648", "limit"),
        ("/api/ticket-summaries?limit=2147483648", "limit"),
        ("/api/stats/recent-prs?limit=2147483648", "limit"),
        ("/api/events?limit=2147483648", "limit"),
        ("/api/tickets?limit=501", "limit"),
        ("/api/tickets?limit=0", "limit"),
        ("/api/stats/recent-prs?limit=101", "limit"),
        ("/api/events?since_seq=-1", "since_seq"),
        ("/api/tickets?sort=sideways", "sort"),
    ] {
        let (status, error) = get(&app, path).await;
        assert_eq!(status, 400, "{path}: {error}");
        assert!(
            error.starts_with(&format!("invalid query: {name}: ")),
            "{path}: {error}"
        );
    }
    let (status, error) = get(&app, "/api/tickets?limit=2147483648").await;
    assert_eq!(
        (status, error.as_str()),
        (
            400,
            "invalid query: limit: must be an integer from 1 to 500"
        )
    );
    // the largest documented values are served, past every row
    for path in [
        "/api/tickets?offset=9007199254740991&limit=500",
        "/api/ticket-summaries?offset=9007199254740991",
        "/api/events?offset=9007199254740991&since_seq=9007199254740991",
        "/api/stats/recent-prs?limit=100",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body, json!([]), "{path}");
    }
}

/// Every integer query parameter the document bounds is refused one past each bound and
/// served at it, so the document and the server agree on every route.
#[tokio::test]
async fn every_documented_integer_bound_is_enforced() {
    let (_dir, store) = sqlite().await;
    let app = TestApp::builder().store(store).start().await;
    let spec: Value = serde_json::from_str(&foreman_api::openapi_json()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        let streams = op["responses"]["200"]["content"]
            .as_object()
            .is_some_and(|c| c.contains_key("text/event-stream"))
            || op["responses"].get("101").is_some();
        let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
        for p in &params {
            let schema = &p["schema"];
            if p["in"] != "query" || schema["type"] != "integer" {
                continue;
            }
            let name = p["name"].as_str().unwrap();
            let (Some(min), Some(max)) = (schema["minimum"].as_i64(), schema["maximum"].as_i64())
            else {
                // the live routes' `since_seq` is bounded by its int64 format alone
                assert!(
                    streams,
                    "{path} {name}: an integer without both bounds: {schema}"
                );
                continue;
            };
            // the other required parameters, with a valid value, so only this one is wrong
            let others: String = params
                .iter()
                .filter(|o| o["in"] == "query" && o["required"] == true && o["name"] != name)
                .map(|o| format!("{}={}&", o["name"].as_str().unwrap(), valid(&o["schema"])))
                .collect();
            for bad in [i128::from(min) - 1, i128::from(max) + 1] {
                let url = format!("{path}?{others}{name}={bad}");
                let (status, error) = get(&app, &url).await;
                assert_eq!(status, 400, "{url}: {error}");
                assert!(error.contains(name), "{url}: {error}");
            }
            if !streams {
                for good in [min, max] {
                    let url = format!("{path}?{others}{name}={good}");
                    let (status, error) = get(&app, &url).await;
                    // a templated path names no stored resource: its query was accepted when the
                    // answer is the resource's 404
                    let served = status == 200 || (path.contains('{') && status == 404);
                    assert!(served, "{url}: {status} {error}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} bounded parameters found");
}

/// A value `schema` accepts: its first enum value, its minimum, or a word.
fn valid(schema: &Value) -> String {
    if let Some(first) = schema["enum"].get(0) {
        return first
            .as_str()
            .map_or_else(|| first.to_string(), str::to_owned);
    }
    if let Some(min) = schema["minimum"].as_i64() {
        return min.to_string();
    }
    "x".to_owned()
}

#[tokio::test]
async fn the_sql_store_never_panics_on_a_huge_offset() {
    let (_dir, store) = sqlite().await;
    let page = store
        .list_tickets(&TicketFilter {
            offset: u64::MAX,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
    let events = store
        .list_events(&EventFilter {
            offset: u64::MAX,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(events.is_empty());
}

/// A POST of `body`; the status and the `error` text.
async fn post(app: &TestApp, path: &str, body: Value) -> (u16, String, Value) {
    let r = app.post(path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    (status, error, body)
}

/// `priority` is a name (`urgent`, `high`, `normal`, `low`) or an integer from 0 to 100, as
/// before names were added; a missing one is `normal` (20).
#[tokio::test]
async fn priority_is_a_name_or_an_integer_from_0_to_100() {
    let app = TestApp::start().await;
    for bad in [
        json!(-59870),
        json!(-1),
        json!(101),
        json!(40.5),
        json!("HIGH"),
        json!("p1"),
        json!("30"),
        json!(true),
        json!([]),
    ] {
        let (status, error, _) = post(
            &app,
            "/api/tickets",
            json!({"title": "prioritised", "priority": bad}),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {error}");
        assert!(
            error.starts_with("invalid request body: priority: "),
            "{bad}: {error}"
        );
        assert!(
            error.contains("urgent, high, normal or low"),
            "{bad}: {error}"
        );
    }
    for (given, stored) in [
        (json!(0), 0),
        (json!(100), 100),
        (json!(35), 35),
        (json!("urgent"), 40),
        (json!("high"), 30),
        (json!("normal"), 20),
        (json!("low"), 10),
        // an explicit null is the default
        (Value::Null, 20),
    ] {
        let body = json!({"title": "prioritised", "priority": given.clone()});
        let (status, error, ticket) = post(&app, "/api/tickets", body).await;
        assert_eq!(status, 201, "{given}: {error}");
        assert_eq!(ticket["priority"], stored, "{given}");
    }
    let (_, _, ticket) = post(&app, "/api/tickets", json!({"title": "no priority"})).await;
    assert_eq!(ticket["priority"], 20);
}

#[tokio::test]
async fn text_fields_are_checked_before_trimming() {
    let app = TestApp::start().await;
    let long = "x".repeat(500);
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": " \t\u{3000}"}), "title"),
        // 501 characters: refused although 500 remain after trimming
        (json!({"title": format!(" {long}")}), "title"),
        (
            json!({"title": "t", "external_id": "é".repeat(201)}),
            "external_id",
        ),
        (json!({"title": "t", "external_id": "  "}), "external_id"),
        (json!({"title": "t", "project": "Web"}), "project"),
        (json!({"title": "t", "project": "-web"}), "project"),
        (json!({"title": "t", "surprise": 1}), "surprise"),
    ] {
        let (status, error, _) = post(&app, "/api/tickets", body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert!(error.contains(field), "{body}: {error}");
    }
    let (status, error, ticket) = post(
        &app,
        "/api/tickets",
        json!({"title": format!("  {}  ", "y".repeat(496)), "external_id": "é".repeat(200), "project": ""}),
    )
    .await;
    assert_eq!(status, 201, "{error}");
    assert_eq!(ticket["title"], "y".repeat(496));
    assert_eq!(ticket["project"], "default");

    for (body, field) in [
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"name": "n", "scopes": []}), "scopes"),
        (json!({"name": "n", "scopes": ["root"]}), "scopes"),
        (
            json!({"name": "n", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "n", "expires_in_days": 3651}),
            "expires_in_days",
        ),
    ] {
        let (status, error, _) = post(&app, "/api/tokens", body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert!(error.contains(field), "{body}: {error}");
    }
    let (status, error, token) = post(
        &app,
        "/api/tokens",
        json!({"name": " ci ", "scopes": null, "expires_in_days": 3650}),
    )
    .await;
    assert_eq!(status, 201, "{error}");
    assert_eq!(token["name"], "ci");
    assert_eq!(token["scopes"], json!(["read"]));
}
