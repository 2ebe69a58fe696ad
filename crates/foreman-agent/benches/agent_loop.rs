//! Agent-loop overhead per turn, excluding model time, on a generated 10,000-file repository.
//!
//! Run with `cargo bench -p foreman-agent --bench agent_loop`. Prints a Markdown table; the
//! figures in `docs/benchmarks.md` (## Agent) come from it. Targets: read/edit turns at most
//! 2 ms of overhead, grep turns at most 50 ms.

#![allow(clippy::print_stdout, reason = "a benchmark reports to its terminal")]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use foreman_agent::{
    BuiltinRunner, CommandPolicy, CommandSettings, PromptLibrary, RunnerSettings, SecretScanner,
    Toolbox,
};
use foreman_domain::agent::{AgentLimits, AgentProgress, AgentRequest, AgentRunner, AgentTask};
use foreman_domain::llm::{
    ContentBlock, LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink, StopReason, Usage,
};
use serde_json::{Value, json};

const FILES: usize = 10_000;

fn generate(root: &Path) {
    for d in 0..100 {
        let dir = root.join(format!("src/module_{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..(FILES / 100) {
            let mut text = String::new();
            for l in 0..40 {
                text.push_str(&format!(
                    "pub fn function_{d}_{f}_{l}(value: u64) -> u64 {{ value.wrapping_mul({l}) + {f} }}\n"
                ));
            }
            std::fs::write(dir.join(format!("file_{f:03}.rs")), text).unwrap();
        }
    }
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
}

/// Answers instantly with the next tool call of a fixed list, and measures its own time so
/// it can be subtracted.
struct Instant0 {
    calls: Vec<(String, Value)>,
    next: Mutex<usize>,
    spent: Mutex<Duration>,
}

#[async_trait]
impl LlmProvider for Instant0 {
    fn name(&self) -> &str {
        "bench"
    }

    async fn complete_with_progress(
        &self,
        _request: &LlmRequest,
        _progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let t = Instant::now();
        let mut n = self.next.lock().unwrap();
        let (name, input) = self.calls[*n % self.calls.len()].clone();
        *n += 1;
        let r = LlmResponse {
            content: vec![ContentBlock::tool_use(format!("tu_{n}"), name, input)],
            stop_reason: StopReason::ToolUse,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 10,
                ..Usage::default()
            },
            model: "bench".into(),
            duration: Duration::ZERO,
            request_id: None,
        };
        *self.spent.lock().unwrap() += t.elapsed();
        Ok(r)
    }
}

fn toolbox(root: &Path) -> Toolbox {
    let policy = CommandPolicy::with_env(CommandSettings::default(), Vec::new()).unwrap();
    Toolbox::new(
        root,
        Arc::new(SecretScanner::default_rules()),
        Arc::new(policy),
    )
    .unwrap()
}

fn per_call(
    rt: &tokio::runtime::Runtime,
    tb: &mut Toolbox,
    name: &str,
    input: &Value,
    n: u32,
) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        let r = rt.block_on(tb.call(name, input));
        assert!(!r.is_error, "{name}: {}", r.content);
    }
    t.elapsed() / n
}

fn loop_overhead(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    calls: Vec<(String, Value)>,
    turns: u32,
) -> (Duration, Duration) {
    let llm = Arc::new(Instant0 {
        calls,
        next: Mutex::new(0),
        spent: Mutex::new(Duration::ZERO),
    });
    let settings = RunnerSettings {
        stall_turns: 0,
        repeat_stop: 1_000_000,
        repeat_warn: 999_999,
        ..RunnerSettings::default()
    };
    let policy = CommandPolicy::with_env(settings.commands.clone(), Vec::new()).unwrap();
    let runner = BuiltinRunner::with_policy(
        llm.clone(),
        Arc::new(PromptLibrary::embedded()),
        settings,
        policy,
    )
    .unwrap();
    let task = AgentTask {
        description: "Change `function_7_3_5` in src/module_007/file_003.rs".into(),
        files: vec!["src/module_007/file_003.rs".into()],
        ..AgentTask::new("Bench task")
    };
    // Context selection happens once, before the first turn: time it on its own, and time the
    // turns from the first turn's start to the end of the run, minus the model's time.
    let t = Instant::now();
    let _ = foreman_agent::context::select(
        &foreman_agent::Sandbox::new(root).unwrap(),
        &SecretScanner::default_rules(),
        &task,
        &Default::default(),
        &foreman_agent::tools::FileCache::default(),
    );
    let selection = t.elapsed();
    let request = AgentRequest::new(task, root).with_limits(AgentLimits {
        max_turns: turns,
        ..AgentLimits::default()
    });
    let first_turn: Mutex<Option<Instant>> = Mutex::new(None);
    let progress = |p: AgentProgress| {
        if matches!(p, AgentProgress::TurnStarted { turn: 1 }) {
            *first_turn.lock().unwrap() = Some(Instant::now());
        }
    };
    let outcome = rt.block_on(runner.run(&request, &progress)).unwrap();
    let end = Instant::now();
    assert_eq!(outcome.turns, turns);
    let start = first_turn.lock().unwrap().expect("a turn started");
    let llm_time = *llm.spent.lock().unwrap();
    let per_turn = end.duration_since(start).saturating_sub(llm_time) / turns;
    (per_turn, selection)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let t = Instant::now();
    generate(root);
    println!("generated {FILES} files in {:?}", t.elapsed());

    let mut tb = toolbox(root);
    let read = json!({"path": "src/module_050/file_050.rs"});
    let read_ms = per_call(&rt, &mut tb, "read_file", &read, 2_000);
    let edit_a = json!({"path": "src/module_050/file_051.rs", "old_string": "wrapping_mul(7)", "new_string": "wrapping_mul(77)"});
    let edit_b = json!({"path": "src/module_050/file_051.rs", "old_string": "wrapping_mul(77)", "new_string": "wrapping_mul(7)"});
    let t = Instant::now();
    for _ in 0..1_000 {
        assert!(!rt.block_on(tb.call("edit_file", &edit_a)).is_error);
        assert!(!rt.block_on(tb.call("edit_file", &edit_b)).is_error);
    }
    let edit_ms = t.elapsed() / 2_000;
    let grep = json!({"pattern": "function_42_17_3\\b"});
    let grep_ms = per_call(&rt, &mut tb, "grep", &grep, 20);
    let glob = json!({"pattern": "src/module_04*/file_00*.rs"});
    let glob_ms = per_call(&rt, &mut tb, "glob", &glob, 20);

    let read_edit: Vec<(String, Value)> = vec![
        ("read_file".into(), read.clone()),
        ("edit_file".into(), edit_a.clone()),
        (
            "read_file".into(),
            json!({"path": "src/module_050/file_051.rs"}),
        ),
        ("edit_file".into(), edit_b.clone()),
    ];
    let (loop_read_edit, selection) = loop_overhead(&rt, root, read_edit, 20);
    let (loop_grep, _) = loop_overhead(&rt, root, vec![("grep".into(), grep.clone())], 10);

    println!();
    println!("| measurement (10,000-file repository) | result | target |");
    println!("|---|---|---|");
    println!("| `read_file` call (40-line file) | {} | |", ms(read_ms));
    println!(
        "| `edit_file` call (exact match, atomic write) | {} | |",
        ms(edit_ms)
    );
    println!(
        "| `grep` call (regex over every file) | {} | |",
        ms(grep_ms)
    );
    println!("| `glob` call | {} | |", ms(glob_ms));
    println!(
        "| loop overhead per turn, read/edit turns (20 turns) | {} | ≤ 2 ms |",
        ms(loop_read_edit)
    );
    println!(
        "| loop overhead per turn, grep turns (10 turns) | {} | ≤ 50 ms |",
        ms(loop_grep)
    );
    println!(
        "| context selection before the first turn (once per run) | {} | |",
        ms(selection)
    );
}
