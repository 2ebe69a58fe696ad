//! The built-in runner driven by the scripted provider on real temporary repositories.

use std::sync::Arc;

use anyhow::Result;
use foreman_agent::{PromptLibrary, RunnerSettings};
use foreman_domain::agent::{
    AgentLimits, AgentProgress, AgentRequest, AgentRunner, AgentStopReason, AgentTask, ChangeKind,
    FileChange, NoAgentProgress, TranscriptKind,
};
use foreman_domain::llm::ContentBlock;
use foreman_domain::{EventFilter, EventLog, EventType, Micros, TaskId, TicketId};
use foreman_testkit::MemoryStore;
use serde_json::json;

use crate::support::{Progress, Repo, runner, scripted, scripted_tools, settings};

const CALC: &str = "def add(a, b):\n    return 0\n";
const TEST: &str = "import unittest\n\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n    def test_adds(self):\n        self.assertEqual(add(2, 3), 5)\n\n\nif __name__ == '__main__':\n    unittest.main()\n";
const TEST_CMD: &str = "python3 -m unittest discover -s tests -t .";

fn task() -> AgentTask {
    AgentTask {
        ticket_id: Some(TicketId::from("ticket-1")),
        task_id: Some(TaskId::from("task-1")),
        ticket_title: "Calculator adds".into(),
        description: "Make `add` return the sum of its arguments.".into(),
        acceptance_criteria: "add(2, 3) == 5, covered by a unit test".into(),
        files: vec!["calc.py".into()],
        ..AgentTask::new("Implement add")
    }
}

#[tokio::test]
async fn tdd_cycle_red_green_complete_on_a_real_repository() -> Result<()> {
    let repo = Repo::new(&[
        ("calc.py", CALC),
        ("tests/__init__.py", ""),
        ("README.md", "calc\n"),
    ])?;
    let llm = scripted_tools(&[
        (
            "write_file",
            json!({"path": "tests/test_calc.py", "content": TEST}),
        ),
        ("run_command", json!({"command": TEST_CMD})),
        (
            "edit_file",
            json!({"path": "calc.py", "old_string": "return 0", "new_string": "return a + b"}),
        ),
        ("run_command", json!({"command": TEST_CMD})),
        ("git_diff", json!({})),
        (
            "complete",
            json!({"summary": "add returns the sum", "tests": ["tests/test_calc.py::AddTest::test_adds"]}),
        ),
    ]);
    let store = Arc::new(MemoryStore::new());
    let mut s = settings(&[]);
    s.commands.test_command = "python3 -m unittest".into();
    let runner = runner(llm.clone(), s)
        .with_events(store.clone())
        .with_pricing(Arc::new(|_: &str, u: &foreman_domain::llm::Usage| {
            Micros(i64::try_from(u.input_tokens + u.output_tokens).unwrap_or(0))
        }));
    let progress = Progress::default();
    let outcome = runner
        .run(&AgentRequest::new(task(), &repo.path), &progress)
        .await?;

    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert!(outcome.is_completed());
    assert_eq!(outcome.runner, "builtin");
    assert_eq!(outcome.turns, 6);
    assert_eq!(outcome.llm_calls, 6);
    assert_eq!(
        outcome.report.as_ref().unwrap().summary,
        "add returns the sum"
    );
    assert_eq!(
        outcome.files_changed,
        vec![
            FileChange {
                path: "calc.py".into(),
                kind: ChangeKind::Modified
            },
            FileChange {
                path: "tests/test_calc.py".into(),
                kind: ChangeKind::Added
            },
        ]
    );
    assert_eq!(repo.read("calc.py")?, "def add(a, b):\n    return a + b\n");
    // Red, then green.
    assert_eq!(outcome.commands.len(), 2);
    assert_ne!(
        outcome.commands[0].exit_code,
        Some(0),
        "the new test must fail first"
    );
    assert_eq!(
        outcome.commands[1].exit_code,
        Some(0),
        "and pass after the change"
    );
    let results: Vec<&str> = outcome
        .transcript
        .iter()
        .filter(|e| {
            e.kind == TranscriptKind::ToolResult && e.tool.as_deref() == Some("run_command")
        })
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        results[0].contains("AssertionError") && results[0].contains("FAILED"),
        "{}",
        results[0]
    );
    assert!(results[1].contains("OK"), "{}", results[1]);
    // The diff showed the modified file and the new, untracked test.
    let diff = outcome
        .transcript
        .iter()
        .find(|e| e.tool.as_deref() == Some("git_diff") && e.kind == TranscriptKind::ToolResult)
        .unwrap();
    assert!(diff.text.contains("+    return a + b"), "{}", diff.text);
    assert!(diff.text.contains("tests/test_calc.py"), "{}", diff.text);

    // Usage, cost and context statistics.
    assert!(outcome.usage.input_tokens > 0 && outcome.usage.output_tokens > 0);
    assert_eq!(
        outcome.cost,
        Micros(i64::try_from(
            outcome.usage.input_tokens + outcome.usage.output_tokens
        )?)
    );
    assert!(outcome.context.budget > 0);
    assert!(outcome.context.files_selected >= 1);
    assert!(outcome.context.used > 0 && outcome.context.used <= outcome.context.budget);
    assert_eq!(outcome.context.files_touched, 2);

    // Every request carried the implementer prompt's version and the task.
    let lib = PromptLibrary::embedded();
    let req = llm.last();
    assert_eq!(
        req.context.prompt_version.as_deref(),
        lib.version("implementer")
    );
    assert_eq!(req.context.runner, "builtin");
    assert_eq!(req.context.role, "implementer");
    assert_eq!(req.context.task_id, Some(TaskId::from("task-1")));
    assert!(req.system.as_deref().unwrap().contains("Implement add"));
    assert!(
        req.messages[0].cache_breakpoint,
        "the context message is cacheable"
    );
    assert!(req.messages[0].text().contains("<file path=\"calc.py\">"));
    assert!(
        req.system
            .unwrap()
            .contains(TEST_CMD.split(" discover").next().unwrap())
    );

    // One agent_turn event per turn.
    let events = store
        .list_events(&EventFilter {
            types: vec![EventType::AgentTurn],
            limit: 100,
            ..EventFilter::default()
        })
        .await?;
    assert_eq!(events.len(), 6);
    assert_eq!(events[0].task_id, Some(TaskId::from("task-1")));
    let reports = progress.0.lock().unwrap().clone();
    assert!(matches!(
        reports.first(),
        Some(AgentProgress::ContextSelected { .. })
    ));
    assert!(matches!(
        reports.last(),
        Some(AgentProgress::Finished {
            stop_reason: AgentStopReason::Completed
        })
    ));
    Ok(())
}

#[tokio::test]
async fn retry_attempts_use_the_retry_prompt_with_feedback() -> Result<()> {
    let repo = Repo::new(&[("calc.py", CALC)])?;
    let llm = scripted_tools(&[(
        "complete",
        json!({"summary": "nothing left", "done": false, "notes": "blocked"}),
    )]);
    let runner = runner(llm.clone(), settings(&[]));
    let mut t = task();
    t.attempt = 2;
    t.feedback = Some("the spec reviewer found no test for negative numbers".into());
    let outcome = runner
        .run(&AgentRequest::new(t, &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::Completed);
    assert!(
        !outcome.is_completed(),
        "done=false is not a completed task"
    );
    let req = llm.last();
    let lib = PromptLibrary::embedded();
    assert_eq!(
        req.context.prompt_version.as_deref(),
        lib.version("implementer-retry")
    );
    assert!(req.system.unwrap().contains("negative numbers"));
    Ok(())
}

#[tokio::test]
async fn identical_calls_warn_at_three_and_stall_at_five() -> Result<()> {
    let repo = Repo::new(&[("calc.py", CALC)])?;
    let entries = vec![
        json!({"response": {"tool_use": {"name": "read_file", "input": {"path": "calc.py"}}}}),
    ];
    let llm = scripted(entries);
    let store = Arc::new(MemoryStore::new());
    let runner = runner(llm.clone(), settings(&[])).with_events(store.clone());
    let outcome = runner
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::Stalled);
    assert_eq!(outcome.turns, 5);
    assert!(outcome.error.as_deref().unwrap().contains("5 times"));
    // The third call's result carried the warning.
    let third = llm.requests.lock().unwrap()[3].clone();
    let last_msg = third.messages.last().unwrap();
    let warned = last_msg.content.iter().any(|b| matches!(b, ContentBlock::ToolResult { content, .. } if content.contains("[warning: you have made this exact read_file call 3 times")));
    assert!(warned, "{last_msg:?}");
    let stalled = store
        .list_events(&EventFilter {
            types: vec![EventType::AgentStalled],
            limit: 10,
            ..EventFilter::default()
        })
        .await?;
    assert_eq!(stalled.len(), 1);
    Ok(())
}

#[tokio::test]
async fn turns_without_file_changes_stall() -> Result<()> {
    let repo = Repo::new(&[("calc.py", CALC), ("a.txt", "a\n"), ("b.txt", "b\n")])?;
    let llm = scripted_tools(&[
        ("read_file", json!({"path": "a.txt"})),
        ("read_file", json!({"path": "b.txt"})),
        ("list_dir", json!({})),
        ("read_file", json!({"path": "calc.py"})),
    ]);
    let mut s = settings(&[]);
    s.stall_turns = 3;
    let outcome = runner(llm, s)
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::Stalled);
    assert_eq!(outcome.turns, 3);
    assert!(
        outcome
            .error
            .unwrap()
            .contains("no file changed in the last 3 turns")
    );
    Ok(())
}

#[tokio::test]
async fn max_turns_and_token_budget_stop_the_loop() -> Result<()> {
    let repo = Repo::new(&[("calc.py", CALC)])?;
    let calls: Vec<(&str, serde_json::Value)> = (0..10)
        .map(|i| {
            (
                "write_file",
                json!({"path": format!("f{i}.txt"), "content": "x"}),
            )
        })
        .collect();
    let outcome = runner(scripted_tools(&calls), settings(&[]))
        .run(
            &AgentRequest::new(task(), &repo.path).with_limits(AgentLimits {
                max_turns: 3,
                ..AgentLimits::default()
            }),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::MaxTurns);
    assert_eq!(outcome.turns, 3);
    assert_eq!(outcome.files_changed.len(), 3);

    let outcome = runner(scripted_tools(&calls), settings(&[]))
        .run(
            &AgentRequest::new(task(), &repo.path).with_limits(AgentLimits {
                max_turns: 10,
                token_budget: 1,
                ..AgentLimits::default()
            }),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::TokenBudget);
    assert_eq!(outcome.turns, 1, "the budget is checked before each call");
    Ok(())
}

#[tokio::test]
async fn text_only_answers_are_nudged_once_then_stop() -> Result<()> {
    let repo = Repo::new(&[("calc.py", CALC)])?;
    let llm = scripted(vec![json!({"response": {"text": "I think it is done."}})]);
    let outcome = runner(llm.clone(), settings(&[]))
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::NoCompletion);
    assert_eq!(outcome.turns, 2);
    assert!(llm.last().last_user_text().contains("call `complete`"));
    Ok(())
}

#[tokio::test]
async fn old_tool_outputs_are_compacted_near_the_context_window() -> Result<()> {
    let big = "line of a large file\n".repeat(400);
    let repo = Repo::new(&[("big.txt", &big), ("calc.py", CALC)])?;
    let calls: Vec<(&str, serde_json::Value)> = (0..6)
        .map(|i| {
            if i % 2 == 0 {
                ("read_file", json!({"path": "big.txt", "start_line": i + 1}))
            } else {
                (
                    "write_file",
                    json!({"path": format!("out{i}.txt"), "content": "x"}),
                )
            }
        })
        .collect();
    let llm = scripted_tools(&calls);
    let mut s = settings(&[]);
    s.context_window = 8_000;
    s.compact_at_pct = 50;
    s.keep_recent_messages = 2;
    s.context.base_budget_tokens = 0;
    let outcome = runner(llm.clone(), s)
        .run(
            &AgentRequest::new(task(), &repo.path).with_limits(AgentLimits {
                max_turns: 6,
                ..AgentLimits::default()
            }),
            &NoAgentProgress,
        )
        .await?;
    assert!(
        outcome
            .transcript
            .iter()
            .any(|e| e.kind == TranscriptKind::Note && e.text.contains("compacted"))
    );
    let last = llm.last();
    let compacted = last.messages.iter().flat_map(|m| &m.content).filter(|b| matches!(b, ContentBlock::ToolResult { content, .. } if content.starts_with("[compacted"))).count();
    assert!(compacted >= 1);
    // Every tool_use still has its result.
    let uses = last
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .filter(|b| matches!(b, ContentBlock::ToolUse { .. }))
        .count();
    let results = last
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .filter(|b| matches!(b, ContentBlock::ToolResult { .. }))
        .count();
    assert_eq!(uses, results);
    Ok(())
}

#[tokio::test]
async fn llm_failures_end_the_run_with_the_error() -> Result<()> {
    let repo = Repo::new(&[("calc.py", CALC)])?;
    let llm = scripted(vec![
        json!({"error": {"kind": "authentication", "message": "bad key"}}),
    ]);
    let outcome = runner(llm, settings(&[]))
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::LlmError);
    assert!(outcome.error.unwrap().contains("bad key"));
    Ok(())
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_call() -> Result<()> {
    let llm = scripted(vec![]);
    let r = runner(llm.clone(), settings(&[]));
    let e = r
        .run(
            &AgentRequest::new(task(), "/nonexistent/foreman-worktree"),
            &NoAgentProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_worktree");
    let repo = Repo::new(&[])?;
    let e = r
        .run(
            &AgentRequest::new(task(), &repo.path).with_limits(AgentLimits {
                max_turns: 0,
                ..AgentLimits::default()
            }),
            &NoAgentProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_request");
    assert_eq!(llm.count(), 0);
    Ok(())
}

#[tokio::test]
async fn records_calls_through_the_metered_provider() -> Result<()> {
    use foreman_domain::CostLedger;
    let repo = Repo::new(&[("calc.py", CALC)])?;
    let store = Arc::new(MemoryStore::new());
    let scripted = scripted_tools(&[
        (
            "write_file",
            json!({"path": "notes.txt", "content": "hello"}),
        ),
        ("complete", json!({"summary": "wrote notes"})),
    ]);
    let metered =
        foreman_llm::MeteredProvider::builder(scripted, store.clone(), store.clone()).build();
    let policy =
        foreman_agent::CommandPolicy::with_env(Default::default(), crate::support::test_env())?;
    let runner = foreman_agent::BuiltinRunner::with_policy(
        Arc::new(metered),
        Arc::new(PromptLibrary::embedded()),
        RunnerSettings::default(),
        policy,
    )?;
    use foreman_domain::{NewTask, NewTicket, TaskStore, TicketStore};
    let ticket = store
        .create_ticket(NewTicket {
            external_id: "PROJ-1".into(),
            title: "Calculator adds".into(),
            ..NewTicket::default()
        })
        .await?;
    let stored = store
        .create_tasks(
            &ticket.id,
            vec![NewTask {
                sequence: 1,
                title: "Implement add".into(),
                files: vec!["calc.py".into()],
                complexity: 2,
                ..NewTask::default()
            }],
            None,
        )
        .await?;
    let t = AgentTask::from_task(&ticket, &stored[0]);
    assert_eq!(t.attempt, 1);
    let ticket = ticket.id;
    let outcome = runner
        .run(&AgentRequest::new(t, &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    let calls = store.list_llm_calls(&ticket).await?;
    assert_eq!(calls.len(), 2);
    assert!(
        calls
            .iter()
            .all(|c| c.runner == "builtin" && c.role == "implementer")
    );
    assert_eq!(
        calls[0].prompt_version.as_deref(),
        PromptLibrary::embedded().version("implementer")
    );
    let task = store.get_task(&stored[0].id).await?.unwrap();
    assert_eq!(
        task.total_llm_calls, 2,
        "the calls are attributed to the task"
    );
    Ok(())
}

#[tokio::test]
async fn an_allow_list_limits_the_tools_offered_and_refuses_the_others() -> Result<()> {
    let repo = Repo::new(&[("calc.py", CALC)])?;
    let calls = [
        (
            "write_file",
            json!({"path": "calc.py", "content": "x = 1\n"}),
        ),
        ("read_file", json!({"path": "calc.py"})),
        ("complete", json!({"done": true, "summary": "looked"})),
    ];
    // control: without an allow-list every tool is offered and the write happens
    let llm = scripted_tools(&calls);
    let outcome = runner(llm.clone(), settings(&[]))
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::Completed);
    assert!(llm.last().tools.iter().any(|t| t.name == "write_file"));
    assert_eq!(repo.read("calc.py")?, "x = 1\n");

    let repo = Repo::new(&[("calc.py", CALC)])?;
    let llm = scripted_tools(&calls);
    let request = AgentRequest::new(task(), &repo.path)
        .with_allowed_tools(Some(vec!["read_file".into(), "grep".into()]));
    let outcome = runner(llm.clone(), settings(&[]))
        .run(&request, &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::Completed);
    let mut offered: Vec<String> = llm.last().tools.iter().map(|t| t.name.clone()).collect();
    offered.sort();
    assert_eq!(offered, ["complete", "grep", "read_file"]);
    // the write was refused, not run
    assert_eq!(repo.read("calc.py")?, CALC);
    assert!(outcome.files_changed.is_empty());
    let refused = outcome
        .transcript
        .iter()
        .any(|e| e.is_error && e.text.contains("\"write_file\" is not available"));
    assert!(refused, "{:?}", outcome.transcript);
    Ok(())
}
