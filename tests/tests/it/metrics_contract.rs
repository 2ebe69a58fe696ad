//! The metrics contract on a real server: `/api/metrics` scraped before and after one ticket
//! runs to `merged` (the demo ticket: one task, the scripted provider, real git), and each
//! pipeline counter moved by exactly what the ticket did — its LLM calls, tokens and cost as
//! recorded in the store, its test runs and red→green proof, nothing retried, no partial pull
//! request, no clarification, no secret.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::rig::{Db, Rig, Setup, count, demo_script};

const WITHIN: Duration = Duration::from_secs(120);

/// Every sample of an exposition: `(family, labels rendered as "k=v,k=v" sorted)` → value.
type Samples = BTreeMap<(String, String), f64>;

fn parse(text: &str) -> (Samples, BTreeMap<String, String>) {
    let mut samples = Samples::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                types.insert(name.to_owned(), kind.to_owned());
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let mut labels: Vec<&str> = labels
            .trim_end_matches('}')
            .split(',')
            .filter(|l| !l.is_empty())
            .collect();
        labels.sort_unstable();
        let labels = labels.join(",").replace('"', "");
        samples.insert(
            (name.to_owned(), labels),
            value.parse().expect("sample value"),
        );
    }
    (samples, types)
}

async fn scrape(rig: &Rig) -> (Samples, BTreeMap<String, String>) {
    let r = crate::support::http()
        .get(rig.server.as_ref().expect("server").url("/api/metrics"))
        .bearer_auth(&rig.token)
        .send()
        .await
        .expect("GET /api/metrics");
    assert!(r.status().is_success(), "{}", r.status());
    parse(&r.text().await.expect("body"))
}

/// The sum of a family's samples whose labels contain every `k=v` of `with`.
fn total(s: &Samples, family: &str, with: &[&str]) -> f64 {
    s.iter()
        .filter(|((name, labels), _)| {
            name == family && with.iter().all(|kv| labels.split(',').any(|l| l == *kv))
        })
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test]
async fn one_ticket_moves_each_pipeline_counter_by_what_it_did() {
    let Some(rig) = Rig::start(Db::Sqlite, &demo_script(), &Setup::default()).await else {
        return;
    };
    let (before, types) = scrape(&rig).await;
    // the contract's types, before anything was recorded
    for (name, kind) in [
        ("foreman_tickets_total", "counter"),
        ("foreman_tickets_active", "gauge"),
        ("foreman_tasks_total", "counter"),
        ("foreman_llm_calls_total", "counter"),
        ("foreman_llm_tokens_total", "counter"),
        ("foreman_llm_duration_seconds", "histogram"),
        ("foreman_cost_usd_total", "counter"),
        ("foreman_pipeline_duration_seconds", "histogram"),
        ("foreman_test_runs_total", "counter"),
        ("foreman_retries_total", "counter"),
        ("foreman_rate_limits_total", "counter"),
        ("foreman_tdd_verify_total", "counter"),
        ("foreman_partial_prs_total", "counter"),
        ("foreman_clarifications_total", "counter"),
        ("foreman_secrets_detected_total", "counter"),
        ("foreman_hook_executions_total", "counter"),
        ("foreman_skill_executions_total", "counter"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }

    let id = rig.create_ticket("Add a multiply function to calc").await;
    let ticket = rig.wait_for(&id, &["merged"], WITHIN).await;
    // `merged` is stored before the daemon counts it: wait for the count, then for the worker
    // to let go of the ticket
    let deadline = Instant::now() + WITHIN;
    let after = loop {
        let (s, _) = scrape(&rig).await;
        let merged = total(&s, "foreman_tickets_total", &["status=merged"])
            - total(&before, "foreman_tickets_total", &["status=merged"]);
        if merged >= 1.0 && total(&s, "foreman_tickets_active", &[]) == 0.0 {
            break s;
        }
        assert!(Instant::now() < deadline, "the merge was never counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let moved =
        |family: &str, with: &[&str]| total(&after, family, with) - total(&before, family, with);

    let events = rig.event_types(&id).await;
    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    let tasks = tasks.as_array().expect("tasks");
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let calls = calls.as_array().expect("llm calls");
    let sum = |field: &str| -> f64 { calls.iter().filter_map(|c| c[field].as_f64()).sum() };

    // tickets and tasks by final status
    assert_eq!(moved("foreman_tickets_total", &["status=merged"]), 1.0);
    assert_eq!(
        moved("foreman_tickets_total", &[]),
        1.0,
        "no other final status"
    );
    assert_eq!(
        moved("foreman_tasks_total", &["status=done"]),
        tasks.len() as f64
    );
    assert_eq!(moved("foreman_tasks_total", &[]), tasks.len() as f64);
    assert_eq!(total(&after, "foreman_tickets_active", &[]), 0.0);

    // LLM calls, tokens and cost: what the store recorded for the ticket
    assert!(!calls.is_empty());
    assert_eq!(moved("foreman_llm_calls_total", &[]), calls.len() as f64);
    assert_eq!(
        moved("foreman_llm_calls_total", &["status=success"]),
        calls.iter().filter(|c| c["status"] == "success").count() as f64
    );
    assert_eq!(
        moved("foreman_llm_duration_seconds_count", &[]),
        calls.len() as f64
    );
    assert_eq!(
        moved("foreman_llm_tokens_total", &["direction=input"]),
        sum("tokens_input")
    );
    assert_eq!(
        moved("foreman_llm_tokens_total", &["direction=output"]),
        sum("tokens_output")
    );
    let cost = moved("foreman_cost_usd_total", &[]);
    let recorded = ticket["cost_usd"].as_f64().expect("cost");
    assert!(recorded > 0.0);
    assert!(
        (cost - recorded).abs() < 1e-6,
        "cost counter moved {cost}, the ticket's calls cost {recorded}"
    );

    // tests: per task one red run (an assertion failure) and one green run, then the full suite
    let red = count(&events, "task_tdd_verify_pass");
    assert_eq!(red, tasks.len());
    assert_eq!(
        moved("foreman_tdd_verify_total", &["result=pass"]),
        red as f64
    );
    assert_eq!(moved("foreman_tdd_verify_total", &[]), red as f64);
    assert_eq!(
        moved("foreman_test_runs_total", &["result=fail"]),
        red as f64
    );
    assert_eq!(
        moved("foreman_test_runs_total", &["result=pass"]),
        (tasks.len() + count(&events, "full_test_pass")) as f64
    );
    assert_eq!(
        moved("foreman_test_runs_total", &[]),
        (2 * tasks.len() + 1) as f64
    );

    // nothing this ticket did not do
    for family in [
        "foreman_retries_total",
        "foreman_rate_limits_total",
        "foreman_partial_prs_total",
        "foreman_clarifications_total",
        "foreman_secrets_detected_total",
        "foreman_hook_executions_total",
        "foreman_skill_executions_total",
    ] {
        assert_eq!(moved(family, &[]), 0.0, "{family}");
    }
    rig.finish().await;
}
