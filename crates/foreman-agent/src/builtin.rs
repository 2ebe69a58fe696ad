//! The built-in runner: a multi-turn tool-use loop over any [`LlmProvider`].
//!
//! Before the first turn it selects context; then each turn sends the conversation, runs the
//! tools the model asked for inside the sandbox and sends the (secret-scrubbed) results back,
//! until the model calls `complete` or a limit is reached: `max_turns`, the token budget, the
//! cost budget, the wall-time limit, or a loop guard. Old tool outputs are compacted when the
//! conversation nears the model's context window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use foreman_domain::agent::{
    AgentError, AgentOutcome, AgentProgress, AgentProgressSink, AgentRequest, AgentRole,
    AgentRunner, AgentStopReason, AgentTask, TranscriptEntry, TranscriptKind,
};
use foreman_domain::llm::{
    CacheHints, CallContext, ContentBlock, LlmError, LlmProvider, LlmRequest, Message, MessageRole,
    StopReason, ToolDefinition, Usage,
};
use foreman_domain::mcp::ExternalTools;
use foreman_domain::{EventLog, EventType, NewEvent, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::command::{CommandPolicy, CommandSettings};
use crate::context::{self, ContextSettings, estimate_tokens};
use crate::error::SetupError;
use crate::guards::{GuardSettings, LoopGuard, Verdict};
use crate::observe::{CostEstimator, Observer};
use crate::prompts::PromptLibrary;
use crate::secrets::SecretScanner;
use crate::tools::{COMPLETE, Toolbox, parse_completion, summarise_call};

/// The runner name recorded on LLM calls and outcomes.
pub const BUILTIN: &str = "builtin";

/// Transcript entries keep at most this many bytes of a tool result.
const TRANSCRIPT_CLIP: usize = 4_000;

/// `[runner]` settings of the built-in runner (command settings are flattened in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerSettings {
    /// Model; empty lets an LLM router choose by role.
    pub model: String,
    /// Output tokens per turn.
    pub max_output_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// The model's context window in tokens.
    pub context_window: u64,
    /// Compact old tool outputs when the conversation reaches this percentage of the window.
    pub compact_at_pct: u8,
    /// Messages at the end of the conversation never compacted.
    pub keep_recent_messages: usize,
    /// Identical calls that earn a warning.
    pub repeat_warn: u32,
    /// Identical calls that stop the run as `agent_stalled`.
    pub repeat_stop: u32,
    /// Turns without a file change that stop the run as `agent_stalled` (0: never).
    pub stall_turns: u32,
    /// Further secret patterns (regex).
    pub secret_patterns: Vec<String>,
    /// Context selection.
    pub context: ContextSettings,
    /// Commands: allow-list, timeout, output limit, environment, local or docker.
    #[serde(flatten)]
    pub commands: CommandSettings,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            model: String::new(),
            max_output_tokens: 8_192,
            temperature: None,
            context_window: 200_000,
            compact_at_pct: 70,
            keep_recent_messages: 6,
            repeat_warn: 3,
            repeat_stop: 5,
            stall_turns: 8,
            secret_patterns: Vec::new(),
            context: ContextSettings::default(),
            commands: CommandSettings::default(),
        }
    }
}

impl RunnerSettings {
    fn validate(&self) -> Result<(), SetupError> {
        let bad = |key: &str, value: String, reason: &str| SetupError::InvalidSetting {
            key: format!("runner.{key}"),
            value,
            reason: reason.to_owned(),
        };
        if self.max_output_tokens == 0 {
            return Err(bad("max_output_tokens", "0".into(), "must be at least 1"));
        }
        if !(10..=100).contains(&self.compact_at_pct) {
            return Err(bad(
                "compact_at_pct",
                self.compact_at_pct.to_string(),
                "must be between 10 and 100",
            ));
        }
        if self.repeat_warn == 0 || self.repeat_stop <= self.repeat_warn {
            return Err(bad(
                "repeat_stop",
                self.repeat_stop.to_string(),
                "must be greater than repeat_warn, which must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The built-in coding agent.
pub struct BuiltinRunner {
    llm: Arc<dyn LlmProvider>,
    prompts: Arc<PromptLibrary>,
    settings: RunnerSettings,
    scanner: Arc<SecretScanner>,
    policy: Arc<CommandPolicy>,
    events: Option<Arc<dyn EventLog>>,
    pricing: Option<Arc<dyn CostEstimator>>,
    external: Option<Arc<dyn ExternalTools>>,
}

impl std::fmt::Debug for BuiltinRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinRunner")
            .field("llm", &self.llm.name())
            .field("model", &self.settings.model)
            .finish_non_exhaustive()
    }
}

impl BuiltinRunner {
    /// A runner calling `llm` (normally the metered provider or router, which records each
    /// call), with `prompts` and `settings`.
    ///
    /// # Errors
    /// Invalid settings, secret patterns or allowed commands.
    pub fn new(
        llm: Arc<dyn LlmProvider>,
        prompts: Arc<PromptLibrary>,
        settings: RunnerSettings,
    ) -> Result<Self, SetupError> {
        let policy = CommandPolicy::new(settings.commands.clone())?;
        Self::with_policy(llm, prompts, settings, policy)
    }

    /// Like [`Self::new`] with an explicit command policy (tests and embedding pass their own
    /// environment this way).
    ///
    /// # Errors
    /// Invalid settings or secret patterns.
    pub fn with_policy(
        llm: Arc<dyn LlmProvider>,
        prompts: Arc<PromptLibrary>,
        settings: RunnerSettings,
        policy: CommandPolicy,
    ) -> Result<Self, SetupError> {
        settings.validate()?;
        let scanner = Arc::new(SecretScanner::with_extra(&settings.secret_patterns)?);
        Ok(Self {
            llm,
            prompts,
            settings,
            scanner,
            policy: Arc::new(policy),
            events: None,
            pricing: None,
            external: None,
        })
    }

    /// Offers the tools of `tools` (MCP servers) beside the built-in ones, listed at the start
    /// of each run; every call is recorded as an `mcp_tool_called` event.
    #[must_use]
    pub fn with_external_tools(mut self, tools: Arc<dyn ExternalTools>) -> Self {
        self.external = Some(tools);
        self
    }

    /// Records `agent_turn`, `agent_stalled` and `secrets_detected` events in `log`.
    #[must_use]
    pub fn with_events(mut self, log: Arc<dyn EventLog>) -> Self {
        self.events = Some(log);
        self
    }

    /// Prices usage so outcomes carry a cost.
    #[must_use]
    pub fn with_pricing(mut self, pricing: Arc<dyn CostEstimator>) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// The secret scanner.
    #[must_use]
    pub fn scanner(&self) -> &Arc<SecretScanner> {
        &self.scanner
    }

    /// The command policy.
    #[must_use]
    pub fn policy(&self) -> &Arc<CommandPolicy> {
        &self.policy
    }

    fn prompt_name(task: &AgentTask) -> &'static str {
        match task.role {
            AgentRole::ConflictResolver => "conflict-resolver",
            AgentRole::Implementer if task.is_retry() => "implementer-retry",
            AgentRole::Implementer => "implementer",
        }
    }

    fn prompt_vars(&self, task: &AgentTask, tools: &[ToolDefinition]) -> serde_json::Value {
        json!({
            "ticket": {"title": task.ticket_title, "description": task.ticket_description},
            "task": {
                "title": task.title,
                "description": task.description,
                "acceptance_criteria": task.acceptance_criteria,
                "files": task.files,
                "complexity": task.complexity,
                "attempt": task.attempt,
                "feedback": task.feedback,
            },
            "commands": self.policy.allowed(),
            "test_command": self.policy.test_command(),
            "tools": tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        })
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}[... {} bytes clipped]", &s[..cut], s.len() - cut)
}

fn first_message(task: &AgentTask, context: &str) -> String {
    let mut m = format!("Task: {}\n", task.title);
    if !task.description.trim().is_empty() {
        m.push_str(&format!("\n{}\n", task.description.trim()));
    }
    if !task.acceptance_criteria.trim().is_empty() {
        m.push_str(&format!(
            "\nAcceptance criteria:\n{}\n",
            task.acceptance_criteria.trim()
        ));
    }
    if let Some(f) = task.feedback.as_deref().filter(|f| !f.trim().is_empty()) {
        m.push_str(&format!(
            "\nFeedback on the previous attempt:\n{}\n",
            f.trim()
        ));
    }
    if context.is_empty() {
        m.push_str("\nNo files were preselected; explore the worktree with the tools.\n");
    } else {
        m.push_str(
            "\nFiles selected as context (they may be partial; read_file gives the current text):\n",
        );
        m.push_str(context);
    }
    m.push_str("\nWork test-first and call `complete` when done.");
    m
}

fn tools_tokens(tools: &[ToolDefinition]) -> u64 {
    tools
        .iter()
        .map(|t| estimate_tokens(&t.description) + estimate_tokens(&t.input_schema.to_string()))
        .sum()
}

fn request_tokens(fixed: u64, messages: &[Message]) -> u64 {
    let mut n = fixed;
    for m in messages {
        for b in &m.content {
            n += match b {
                ContentBlock::Text { text } => estimate_tokens(text),
                ContentBlock::ToolUse { input, .. } => estimate_tokens(&input.to_string()) + 8,
                ContentBlock::ToolResult { content, .. } => estimate_tokens(content) + 8,
                ContentBlock::Thinking { thinking, .. } => estimate_tokens(thinking),
            };
        }
    }
    n
}

/// Replaces long tool results in all but the last `keep` messages with a short note; returns
/// how many were compacted.
fn compact(messages: &mut [Message], keep: usize) -> usize {
    let upto = messages.len().saturating_sub(keep);
    let mut n = 0;
    for m in &mut messages[..upto] {
        for b in &mut m.content {
            if let ContentBlock::ToolResult { content, .. } = b
                && content.len() > 200
                && !content.starts_with("[compacted")
            {
                *content = format!(
                    "[compacted: {} bytes of earlier tool output removed to save context; run the tool again if you need it]",
                    content.len()
                );
                n += 1;
            }
        }
    }
    n
}

struct Run<'a> {
    runner: &'a BuiltinRunner,
    request: &'a AgentRequest,
    progress: &'a dyn AgentProgressSink,
    observer: Observer,
    outcome: AgentOutcome,
    model_seen: String,
}

impl Run<'_> {
    fn note(
        &mut self,
        turn: u32,
        kind: TranscriptKind,
        tool: Option<&str>,
        text: String,
        is_error: bool,
    ) {
        // Tool results are scrubbed already; the model's own text and tool inputs are scrubbed
        // here so the stored transcript never holds a secret either.
        let text = match kind {
            TranscriptKind::Assistant | TranscriptKind::ToolCall => {
                self.runner.scanner.redact(&text).0.into_owned()
            }
            _ => text,
        };
        self.outcome.transcript.push(TranscriptEntry {
            turn,
            kind,
            tool: tool.map(str::to_owned),
            text,
            is_error,
        });
    }

    fn add_usage(&mut self, model: &str, usage: &Usage) {
        let u = &mut self.outcome.usage;
        u.input_tokens += usage.input_tokens;
        u.output_tokens += usage.output_tokens;
        u.cache_read_tokens += usage.cache_read_tokens;
        u.cache_write_tokens += usage.cache_write_tokens;
        if usage.cache_read_tokens > 0 {
            self.outcome.context.cache_hits += 1;
        }
        if let Some(p) = &self.runner.pricing {
            self.outcome.cost += p.cost(model, usage);
        }
        self.progress.report(AgentProgress::Usage {
            usage: self.outcome.usage,
            cost: self.outcome.cost,
        });
    }

    fn tokens_used(&self) -> u64 {
        self.outcome.usage.total_input() + self.outcome.usage.output_tokens
    }

    fn stop(&mut self, reason: AgentStopReason, error: Option<String>) {
        self.outcome.stop_reason = reason;
        self.outcome.error = error;
    }
}

#[async_trait]
impl AgentRunner for BuiltinRunner {
    fn name(&self) -> &str {
        BUILTIN
    }

    #[allow(clippy::too_many_lines, reason = "the loop reads best in one place")]
    async fn run(
        &self,
        request: &AgentRequest,
        progress: &dyn AgentProgressSink,
    ) -> Result<AgentOutcome, AgentError> {
        let started = Instant::now();
        let task = &request.task;
        let limits = &request.limits;
        if limits.max_turns == 0 {
            return Err(AgentError::InvalidRequest {
                message: "max_turns must be at least 1".into(),
            });
        }
        if task.title.trim().is_empty() {
            return Err(AgentError::InvalidRequest {
                message: "task title is empty".into(),
            });
        }
        let mut toolbox =
            Toolbox::new(&request.worktree, self.scanner.clone(), self.policy.clone()).map_err(
                |e| AgentError::InvalidWorktree {
                    path: request.worktree.display().to_string(),
                    reason: e.to_string(),
                },
            )?;
        if let Some(ext) = &self.external {
            let specs = ext.tools().await;
            toolbox = toolbox.with_external(ext.clone(), specs);
        }
        let deadline = limits.timeout.map(|t| started + t);
        toolbox.set_deadline(deadline);
        let mut tools = toolbox.definitions();
        if let Some(allowed) = &request.allowed_tools {
            // `complete` ends every run, so it is always offered
            tools.retain(|t| t.name == COMPLETE || allowed.contains(&t.name));
        }
        let prompt_name = Self::prompt_name(task);
        let rendered = self
            .prompts
            .render(prompt_name, &self.prompt_vars(task, &tools))
            .map_err(|e| AgentError::NotConfigured {
                message: e.to_string(),
            })?;
        let observer = Observer::new(self.events.clone(), task);
        let mut run = Run {
            runner: self,
            request,
            progress,
            observer,
            outcome: AgentOutcome::empty(BUILTIN, AgentStopReason::MaxTurns),
            model_seen: String::new(),
        };

        // Context selection and the first message, all scrubbed.
        let selected = context::select(
            toolbox.sandbox(),
            &self.scanner,
            task,
            &self.settings.context,
            toolbox.cache(),
        );
        run.outcome.context = selected.stats;
        progress.report(AgentProgress::ContextSelected {
            stats: selected.stats,
            files: selected.files.iter().map(|f| f.path.clone()).collect(),
        });
        let (system, sys_secrets) = self.scanner.redact(&rendered.text);
        let system = system.into_owned();
        let first = first_message(task, &selected.text);
        let (first, first_secrets) = self.scanner.redact(&first);
        let mut secrets = selected.secrets.clone();
        secrets.extend(sys_secrets);
        secrets.extend(first_secrets);
        run.outcome.secrets_redacted += secrets.len() as u64;
        run.observer
            .secrets(&secrets, crate::secrets::Where::File, "task context")
            .await;
        let first = first.into_owned();
        run.note(0, TranscriptKind::Prompt, None, first.clone(), false);
        let mut messages = vec![Message::user(first).cached()];

        let mut guard = LoopGuard::new(GuardSettings {
            warn_at: self.settings.repeat_warn,
            stop_at: self.settings.repeat_stop,
            stall_turns: self.settings.stall_turns,
        });
        let window_limit =
            self.settings.context_window * u64::from(self.settings.compact_at_pct) / 100;
        let mut nudged = false;
        let mut finished = false;
        let fixed_tokens = estimate_tokens(&system) + tools_tokens(&tools);

        for turn in 1..=limits.max_turns {
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                run.stop(
                    AgentStopReason::TimedOut,
                    Some("run time limit reached".into()),
                );
                finished = true;
                break;
            }
            if limits.token_budget > 0 && run.tokens_used() >= limits.token_budget {
                run.stop(
                    AgentStopReason::TokenBudget,
                    Some(format!(
                        "used {} of {} tokens",
                        run.tokens_used(),
                        limits.token_budget
                    )),
                );
                finished = true;
                break;
            }
            if let Some(b) = limits.cost_budget
                && run.outcome.cost >= b
            {
                run.stop(
                    AgentStopReason::CostBudget,
                    Some(format!("spent {} of {}", run.outcome.cost, b)),
                );
                finished = true;
                break;
            }
            if request_tokens(fixed_tokens, &messages) > window_limit {
                let n = compact(&mut messages, self.settings.keep_recent_messages);
                if n > 0 {
                    tracing::debug!(turn, compacted = n, "compacted old tool outputs");
                    run.note(
                        turn,
                        TranscriptKind::Note,
                        None,
                        format!(
                            "compacted {n} earlier tool outputs to stay within the context window"
                        ),
                        false,
                    );
                }
            }
            progress.report(AgentProgress::TurnStarted { turn });
            let req = LlmRequest {
                model: request
                    .model
                    .clone()
                    .unwrap_or_else(|| self.settings.model.clone()),
                system: Some(system.clone()),
                messages: messages.clone(),
                tools: tools.clone(),
                tool_choice: None,
                max_tokens: self.settings.max_output_tokens,
                temperature: self.settings.temperature,
                stop_sequences: Vec::new(),
                cache: CacheHints {
                    system: true,
                    tools: true,
                },
                thinking_budget: None,
                stream: false,
                context: CallContext {
                    role: task.role.as_str().to_owned(),
                    ticket_id: task.ticket_id.clone(),
                    task_id: task.task_id.clone(),
                    runner: BUILTIN.to_owned(),
                    prompt_version: Some(rendered.version.clone()),
                },
            };
            let call = self.llm.complete(&req);
            let result = match deadline {
                Some(d) => {
                    match tokio::time::timeout(d.saturating_duration_since(Instant::now()), call)
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(LlmError::Timeout {
                            after: limits.timeout.unwrap_or(Duration::ZERO),
                        }),
                    }
                }
                None => call.await,
            };
            run.outcome.llm_calls += 1;
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    let reason = match &e {
                        LlmError::BudgetExceeded(_) => AgentStopReason::CostBudget,
                        LlmError::Timeout { .. }
                            if deadline.is_some_and(|d| Instant::now() >= d) =>
                        {
                            AgentStopReason::TimedOut
                        }
                        _ => AgentStopReason::LlmError,
                    };
                    tracing::warn!(turn, code = e.code(), error = %e, "agent llm call failed");
                    run.stop(reason, Some(e.to_string()));
                    finished = true;
                    break;
                }
            };
            run.outcome.turns = turn;
            run.model_seen.clone_from(&response.model);
            let model = run.model_seen.clone();
            run.add_usage(&model, &response.usage);
            messages.push(response.to_message());
            let text = response.text();
            if !text.trim().is_empty() {
                progress.report(AgentProgress::Text { text: text.clone() });
                run.note(turn, TranscriptKind::Assistant, None, text, false);
            }
            let calls: Vec<(String, String, serde_json::Value)> = response
                .tool_uses()
                .into_iter()
                .map(|(id, name, input)| (id.to_owned(), name.to_owned(), input.clone()))
                .collect();
            if calls.is_empty() {
                if response.stop_reason == StopReason::MaxTokens {
                    messages.push(Message::user(
                        "Your answer was cut off at the output limit. Continue, using smaller steps.",
                    ));
                    continue;
                }
                if nudged {
                    run.stop(
                        AgentStopReason::NoCompletion,
                        Some("the model stopped without calling complete".into()),
                    );
                    finished = true;
                    break;
                }
                nudged = true;
                let nudge = "You ended your turn without calling a tool. Continue the task with the tools, and call `complete` when it is done (or with done=false if you are blocked).";
                run.note(turn, TranscriptKind::Note, None, nudge.into(), false);
                messages.push(Message::user(nudge));
                continue;
            }

            let mut results = Vec::with_capacity(calls.len());
            let mut changed = false;
            let mut names = Vec::with_capacity(calls.len());
            let mut stop: Option<(AgentStopReason, String)> = None;
            for (id, name, input) in &calls {
                names.push(name.clone());
                progress.report(AgentProgress::ToolCall {
                    turn,
                    name: name.clone(),
                    summary: summarise_call(name, input),
                });
                run.note(
                    turn,
                    TranscriptKind::ToolCall,
                    Some(name),
                    input.to_string(),
                    false,
                );
                if name == COMPLETE {
                    match parse_completion(input) {
                        Ok(report) => {
                            run.outcome.report = Some(report);
                            stop = Some((AgentStopReason::Completed, String::new()));
                            break;
                        }
                        Err(msg) => {
                            results.push(ContentBlock::ToolResult {
                                tool_use_id: id.clone(),
                                content: format!("error: {msg}"),
                                is_error: true,
                            });
                            continue;
                        }
                    }
                }
                let verdict = guard.on_call(name, input);
                if let Verdict::Stop(n) = verdict {
                    stop = Some((
                        AgentStopReason::Stalled,
                        format!("the same {name} call was made {n} times without any file change"),
                    ));
                    break;
                }
                if request.allowed_tools.is_some() && !tools.iter().any(|t| t.name == *name) {
                    // a tool left out of the allow-list is refused, not run
                    let content = format!("error: tool {name:?} is not available in this run");
                    run.note(
                        turn,
                        TranscriptKind::ToolResult,
                        Some(name),
                        content.clone(),
                        true,
                    );
                    results.push(ContentBlock::ToolResult {
                        tool_use_id: id.clone(),
                        content,
                        is_error: true,
                    });
                    continue;
                }
                let external = toolbox.external_spec(name).cloned();
                let called = Instant::now();
                let result = toolbox.call(name, input).await;
                if let Some(spec) = external {
                    let ms = u64::try_from(called.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let error = result.is_error.then(|| clip(&result.content, 500));
                    run.observer
                        .emit(
                            NewEvent::new(
                                EventType::McpToolCalled,
                                format!("{} tool {} called", spec.server, spec.tool),
                            )
                            .severity(if result.is_error {
                                Severity::Warning
                            } else {
                                Severity::Info
                            })
                            .details(json!({
                                "server": spec.server,
                                "tool": spec.tool,
                                "name": spec.name,
                                "duration_ms": ms,
                                "ok": !result.is_error,
                                "error": error,
                            })),
                        )
                        .await;
                }
                run.outcome.secrets_redacted += result.secrets.len() as u64;
                run.observer
                    .secrets(
                        &result.secrets,
                        crate::secrets::Where::ToolOutput,
                        &format!("{name} output"),
                    )
                    .await;
                if result.changed {
                    changed = true;
                    guard.on_change();
                }
                progress.report(AgentProgress::ToolResult {
                    turn,
                    name: name.clone(),
                    ok: !result.is_error,
                });
                let mut content = result.content;
                if let Verdict::Warn(n) = verdict {
                    let warning = format!(
                        "\n\n[warning: you have made this exact {name} call {n} times without changing any file; it will give the same answer. Try something different; at {} the run stops.]",
                        self.settings.repeat_stop
                    );
                    content.push_str(&warning);
                    progress.report(AgentProgress::Warning {
                        message: format!("repeated {name} call ({n} times)"),
                    });
                }
                run.note(
                    turn,
                    TranscriptKind::ToolResult,
                    Some(name),
                    clip(&content, TRANSCRIPT_CLIP),
                    result.is_error,
                );
                results.push(ContentBlock::ToolResult {
                    tool_use_id: id.clone(),
                    content,
                    is_error: result.is_error,
                });
            }
            run.observer
                .emit(
                    NewEvent::new(
                        EventType::AgentTurn,
                        format!("turn {turn}: {}", names.join(", ")),
                    )
                    .details(json!({
                        "runner": BUILTIN,
                        "turn": turn,
                        "tools": names,
                        "tokens_input": response.usage.total_input(),
                        "tokens_output": response.usage.output_tokens,
                        "files_changed": toolbox.changes().len(),
                    })),
                )
                .await;
            if let Some((reason, why)) = stop {
                if reason == AgentStopReason::Stalled {
                    run.observer.stalled(BUILTIN, &why, turn).await;
                    progress.report(AgentProgress::Warning {
                        message: why.clone(),
                    });
                    run.stop(reason, Some(why));
                } else {
                    run.stop(reason, None);
                }
                finished = true;
                break;
            }
            messages.push(Message::with_blocks(MessageRole::User, results));
            if guard.end_turn(changed) {
                let why = format!(
                    "no file changed in the last {} turns",
                    guard.turns_without_change()
                );
                run.observer.stalled(BUILTIN, &why, turn).await;
                progress.report(AgentProgress::Warning {
                    message: why.clone(),
                });
                run.stop(AgentStopReason::Stalled, Some(why));
                finished = true;
                break;
            }
        }
        if !finished {
            run.stop(
                AgentStopReason::MaxTurns,
                Some(format!("used all {} turns", limits.max_turns)),
            );
        }
        let mut outcome = run.outcome;
        outcome.files_changed = toolbox.changes();
        outcome.commands = toolbox.commands().to_vec();
        outcome.context.files_touched = i64::try_from(outcome.files_changed.len()).unwrap_or(0);
        outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            runner = BUILTIN,
            stop_reason = %outcome.stop_reason,
            turns = outcome.turns,
            files_changed = outcome.files_changed.len(),
            tokens_input = outcome.usage.total_input(),
            tokens_output = outcome.usage.output_tokens,
            "agent run finished"
        );
        progress.report(AgentProgress::Finished {
            stop_reason: outcome.stop_reason,
        });
        let _ = run.request;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_keeps_recent_messages_and_pairs() {
        let long = "x".repeat(500);
        let mut msgs = vec![
            Message::user("task"),
            Message::with_blocks(
                MessageRole::User,
                vec![ContentBlock::tool_result("a", long.clone())],
            ),
            Message::with_blocks(
                MessageRole::User,
                vec![ContentBlock::tool_result("b", long.clone())],
            ),
        ];
        assert_eq!(compact(&mut msgs, 1), 1);
        match &msgs[1].content[0] {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                ..
            } => {
                assert_eq!(tool_use_id, "a");
                assert!(content.starts_with("[compacted"));
            }
            other => panic!("unexpected {other:?}"),
        }
        match &msgs[2].content[0] {
            ContentBlock::ToolResult { content, .. } => assert_eq!(content, &long),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(compact(&mut msgs, 1), 0);
    }

    #[test]
    fn settings_are_validated() {
        let s = RunnerSettings {
            repeat_stop: 2,
            ..RunnerSettings::default()
        };
        assert_eq!(s.validate().unwrap_err().code(), "invalid_setting");
        assert!(RunnerSettings::default().validate().is_ok());
    }
}
