//! The Prometheus endpoint.

use foreman_domain::EventType;

use crate::support::TestApp;

#[tokio::test]
async fn every_contract_metric_is_exposed_with_its_type() {
    let app = TestApp::start().await;
    let r = app.get("/api/metrics").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert_eq!(foreman_api::CONTRACT_METRICS.len(), 17);
    for m in foreman_api::CONTRACT_METRICS {
        let line = format!("# TYPE {} {}", m.name, m.kind.as_str());
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "missing {name}");
    }
    assert_eq!(
        app.client
            .get(app.url("/api/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn http_and_event_metrics_are_recorded() {
    let app = TestApp::start().await;
    let t = app.ticket("M-1", "metrics").await;
    assert_eq!(
        app.get(&format!("/api/tickets/{}", t.id))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.publish(Some(&t), EventType::TaskTddVerifyPass, "ok")
        .await;
    assert_eq!(
        app.client
            .get(app.url("/api/status"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let text = app
        .get("/api/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("foreman_http_requests_total{")
                && l.contains("route=\"/api/tickets/{id}\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(text.contains("# TYPE foreman_http_request_duration_seconds histogram"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("foreman_http_request_duration_seconds_bucket{"))
    );
    assert!(text.lines().any(|l| l.starts_with("foreman_events_total{")
        && l.contains("event_type=\"task_tdd_verify_pass\"")));
    assert!(
        text.lines()
            .any(|l| l.starts_with("foreman_api_auth_failures_total{")
                && l.contains("reason=\"missing\"")),
        "{text}"
    );
}
