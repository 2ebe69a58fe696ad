//! Running hooks: skills in order, steps in order, under the hook's deadline.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use foreman_domain::agent::{AgentLimits, AgentRequest, AgentRole, AgentTask, NoAgentProgress};
use foreman_domain::git::DiffSpec;
use foreman_domain::llm::{CallContext, LlmError, LlmRequest};
use foreman_domain::pipeline::Role;
use foreman_domain::skill::{HookConfig, HookPoint, Skill, StepKind};
use foreman_domain::{EventType, NewEvent, Severity};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::schema;
use super::scope::{
    HookFailure, HookPorts, HookScope, MAX_SKILL_DEPTH, READ_ONLY_TOOLS, detect_install_command,
};
use super::template::{mentions, render};
use crate::error::{PipelineError, PipelineResult};
use crate::settings::PipelineSettings;

/// Most bytes of a step's output kept in its event.
const EVENT_OUTPUT: usize = 2000;
/// Most bytes of a command's output kept as the step's output.
const COMMAND_OUTPUT: usize = 8000;
/// Most turns of an `agent` step.
const MAX_AGENT_TURNS: u32 = 50;
/// Most output tokens of an `llm_call` that names none.
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Runs every hook of `point` that applies to the scope's project, in configuration order.
/// A failing non-blocking hook is recorded (`hook_failed`) and the next one runs; the first
/// failing blocking hook stops the point and is returned.
///
/// # Errors
/// `cancel` fired ([`PipelineError::LeaseLost`]) or a budget ran out during an `llm_call`.
pub async fn run_point(
    ports: &HookPorts,
    settings: &PipelineSettings,
    point: HookPoint,
    scope: &HookScope<'_>,
    cancel: &CancellationToken,
) -> PipelineResult<Option<HookFailure>> {
    for hook in settings
        .hooks
        .iter()
        .filter(|h| h.point == point && h.applies_to(scope.project))
    {
        if let Err(failure) = run_hook(ports, settings, hook, scope, cancel).await?
            && hook.blocking
        {
            return Ok(Some(failure));
        }
    }
    Ok(None)
}

/// Runs one hook: its skills in order until one fails, within its timeout.
///
/// # Errors
/// `cancel` fired ([`PipelineError::LeaseLost`]) or a budget ran out during an `llm_call`.
pub async fn run_hook(
    ports: &HookPorts,
    settings: &PipelineSettings,
    hook: &HookConfig,
    scope: &HookScope<'_>,
    cancel: &CancellationToken,
) -> PipelineResult<Result<(), HookFailure>> {
    let point = hook.point.as_str();
    metrics::counter!("foreman_hook_executions_total", "hook" => point).increment(1);
    let event = |ty: EventType, message: String, details: Value| {
        let mut e = NewEvent::new(ty, message)
            .ticket(&scope.ticket.id)
            .details(details);
        if let Some(task) = scope.task {
            e = e.task(&task.id);
        }
        e
    };
    emit(
        ports,
        event(
            EventType::HookStarted,
            format!("{point} hook started: {}", hook.skills.join(", ")),
            json!({"point": point, "skills": hook.skills, "blocking": hook.blocking}),
        ),
    )
    .await;
    let deadline = Instant::now() + hook.timeout;
    let at = Arc::new(Mutex::new((String::new(), None::<String>)));
    let mut runner = Runner {
        ports,
        settings,
        scope,
        hook,
        deadline,
        diff: None,
        at: at.clone(),
    };
    let work = runner.run_skills();
    let result = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(PipelineError::LeaseLost),
        r = tokio::time::timeout_at(deadline.into(), work) => match r {
            Ok(r) => r?,
            Err(_) => {
                let (skill, step) = at.lock().unwrap_or_else(PoisonError::into_inner).clone();
                Err(HookFailure {
                    skill,
                    step,
                    reason: format!("the hook ran past its timeout of {} s", hook.timeout.as_secs()),
                })
            }
        },
    };
    match &result {
        Ok(()) => {
            emit(
                ports,
                event(
                    EventType::HookPassed,
                    format!("{point} hook passed"),
                    json!({"point": point, "skills": hook.skills}),
                ),
            )
            .await;
        }
        Err(f) => {
            let reason = foreman_secrets::redact_default(&f.reason);
            let e = event(
                EventType::HookFailed,
                format!("{point} hook failed: {f}"),
                json!({
                    "point": point,
                    "skills": hook.skills,
                    "skill": f.skill,
                    "step": f.step,
                    "reason": tail(&reason, EVENT_OUTPUT),
                    "blocking": hook.blocking,
                }),
            );
            let e = if hook.blocking {
                e
            } else {
                e.severity(Severity::Info)
            };
            emit(ports, e).await;
        }
    }
    Ok(result)
}

async fn emit(ports: &HookPorts, event: NewEvent) {
    if let Err(e) = ports.events.append(event).await {
        tracing::warn!(error = %e, "cannot append a hook event");
    }
}

/// The last `max` bytes of `s`, cut at a character boundary.
fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

/// How a step ended.
enum Outcome {
    /// It ran: its output (and more fields for `steps.<id>`).
    Ok(Map<String, Value>),
    /// It had nothing to do (an empty command).
    Skipped(String),
}

/// Why a step stopped the skill.
enum StepError {
    /// The step failed; the skill fails with this reason.
    Failed(String),
    /// The run must stop (a budget ran out).
    Fatal(PipelineError),
}

impl From<String> for StepError {
    fn from(s: String) -> Self {
        Self::Failed(s)
    }
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct Runner<'a, 's> {
    ports: &'a HookPorts,
    settings: &'a PipelineSettings,
    scope: &'a HookScope<'s>,
    hook: &'a HookConfig,
    deadline: Instant,
    diff: Option<String>,
    /// The skill and step running now (what a timeout names).
    at: Arc<Mutex<(String, Option<String>)>>,
}

impl Runner<'_, '_> {
    async fn run_skills(&mut self) -> PipelineResult<Result<(), HookFailure>> {
        for name in &self.hook.skills {
            let Some(skill) = self.ports.skills.resolve(self.scope.project, name).await else {
                count(name, false);
                return Ok(Err(HookFailure {
                    skill: name.clone(),
                    step: None,
                    reason: format!("no valid skill named {name:?} is known to this project"),
                }));
            };
            let mut stack = Vec::new();
            if let Err(f) = self
                .run_skill(&skill, self.hook.inputs.clone(), &mut stack)
                .await?
            {
                return Ok(Err(f));
            }
        }
        Ok(Ok(()))
    }

    /// Runs one skill; its last step's output when it succeeds.
    fn run_skill<'b>(
        &'b mut self,
        skill: &'b Skill,
        given: BTreeMap<String, String>,
        stack: &'b mut Vec<String>,
    ) -> Boxed<'b, PipelineResult<Result<String, HookFailure>>> {
        Box::pin(async move {
            let result = self.skill_body(skill, given, stack).await;
            if let Ok(r) = &result {
                count(&skill.name, r.is_ok());
            }
            result
        })
    }

    async fn skill_body(
        &mut self,
        skill: &Skill,
        given: BTreeMap<String, String>,
        stack: &mut Vec<String>,
    ) -> PipelineResult<Result<String, HookFailure>> {
        let fail = |step: Option<&str>, reason: String| {
            Ok(Err(HookFailure {
                skill: skill.name.clone(),
                step: step.map(str::to_owned),
                reason,
            }))
        };
        let mut inputs = BTreeMap::new();
        for input in &skill.inputs {
            match given.get(&input.name).or(input.default.as_ref()) {
                Some(v) => {
                    inputs.insert(input.name.clone(), v.clone());
                }
                None if input.required => {
                    return fail(None, format!("required input {:?} is missing", input.name));
                }
                None => {}
            }
        }
        // inputs the skill does not declare are passed on too: templates may read them
        for (k, v) in given {
            inputs.entry(k).or_insert(v);
        }
        stack.push(skill.name.clone());
        let mut steps = Map::new();
        let mut last = String::new();
        for step in &skill.steps {
            *self.at.lock().unwrap_or_else(PoisonError::into_inner) =
                (skill.name.clone(), Some(step.id.clone()));
            let started = Instant::now();
            let vars = self.vars(&step.kind, &inputs, &steps).await;
            let result = match vars {
                Ok(vars) => self.step(skill, &step.kind, &vars, stack).await,
                Err(e) => Err(StepError::Failed(e)),
            };
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (status, output) = match &result {
                Ok(Outcome::Ok(out)) => (
                    "ok",
                    out.get("output")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
                Ok(Outcome::Skipped(why)) => ("skipped", why.clone()),
                Err(StepError::Failed(why)) => ("failed", why.clone()),
                Err(StepError::Fatal(e)) => ("failed", e.to_string()),
            };
            let shown = tail(&foreman_secrets::redact_default(&output), EVENT_OUTPUT);
            let mut event = NewEvent::new(
                EventType::SkillStepCompleted,
                format!(
                    "skill {} step {} ({}) {status}",
                    skill.name,
                    step.id,
                    step.kind.type_name()
                ),
            )
            .ticket(&self.scope.ticket.id)
            .details(json!({
                "point": self.hook.point.as_str(),
                "skill": skill.name,
                "step": step.id,
                "type": step.kind.type_name(),
                "status": status,
                "duration_ms": ms,
                "output": shown,
            }));
            if let Some(task) = self.scope.task {
                event = event.task(&task.id);
            }
            if status == "failed" {
                event = event.severity(Severity::Warning);
            }
            emit(self.ports, event).await;
            match result {
                Ok(Outcome::Ok(out)) => {
                    last = output;
                    steps.insert(step.id.clone(), Value::Object(out));
                }
                Ok(Outcome::Skipped(why)) => {
                    last = String::new();
                    steps.insert(
                        step.id.clone(),
                        json!({"output": "", "skipped": true, "reason": why}),
                    );
                }
                Err(StepError::Failed(why)) => {
                    stack.pop();
                    return fail(Some(&step.id), why);
                }
                Err(StepError::Fatal(e)) => {
                    stack.pop();
                    return Err(e);
                }
            }
        }
        stack.pop();
        Ok(Ok(last))
    }

    /// The template variables for one step; the diff is computed the first time a template
    /// reads it.
    async fn vars(
        &mut self,
        kind: &StepKind,
        inputs: &BTreeMap<String, String>,
        steps: &Map<String, Value>,
    ) -> Result<Value, String> {
        if self.diff.is_none() && templates(kind).iter().any(|t| mentions(t, "diff")) {
            self.diff = Some(match self.scope.worktree {
                Some((repo, wt)) => {
                    repo.diff(
                        wt,
                        &DiffSpec::Since {
                            base: self.scope.base.to_owned(),
                        },
                    )
                    .await
                    .map_err(|e| format!("cannot compute the diff: {e}"))?
                    .text
                }
                None => String::new(),
            });
        }
        let t = self.scope.ticket;
        let root = self.scope.worktree.map(|(_, wt)| wt.path.as_path());
        Ok(json!({
            "ticket": {
                "id": t.id,
                "project": t.project,
                "external_id": t.external_id,
                "title": t.title,
                "description": t.description,
                "acceptance_criteria": t.acceptance_criteria,
            },
            "task": self.scope.task.map(|x| json!({
                "id": x.id,
                "sequence": x.sequence,
                "title": x.title,
                "description": x.description,
                "acceptance_criteria": x.acceptance_criteria,
            })),
            "diff": self.diff.clone().unwrap_or_default(),
            "inputs": inputs,
            "hook": self.hook.point.as_str(),
            "repo": {
                "install_command": root.map(detect_install_command).unwrap_or_default(),
                "test_command": self.scope.test_command,
            },
            "steps": steps,
        }))
    }

    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn worktree(
        &self,
        what: &str,
    ) -> Result<
        (
            &dyn foreman_domain::git::GitRepo,
            &foreman_domain::git::Worktree,
        ),
        StepError,
    > {
        self.scope.worktree.ok_or_else(|| {
            StepError::Failed(format!(
                "{what} needs a worktree, and the {} hook has none",
                self.hook.point
            ))
        })
    }

    async fn step(
        &mut self,
        skill: &Skill,
        kind: &StepKind,
        vars: &Value,
        stack: &mut Vec<String>,
    ) -> Result<Outcome, StepError> {
        match kind {
            StepKind::RunCommand {
                command,
                allow_failure,
                timeout_secs,
            } => {
                let command = render("command", command, vars)?;
                if command.trim().is_empty() {
                    return Ok(Outcome::Skipped("the command is empty".into()));
                }
                let (_, wt) = self.worktree("run_command")?;
                let limit =
                    timeout_secs.map_or(self.left(), |s| Duration::from_secs(s).min(self.left()));
                let out = self
                    .ports
                    .commands
                    .run(&wt.path, &command, limit)
                    .await
                    .map_err(|e| format!("cannot run {command:?}: {e}"))?;
                let text = tail(
                    &foreman_secrets::redact_default(&out.output),
                    COMMAND_OUTPUT,
                );
                if out.timed_out {
                    return Err(StepError::Failed(format!(
                        "{command:?} ran past its timeout of {} s\n{text}",
                        limit.as_secs()
                    )));
                }
                if !out.success() && !allow_failure {
                    return Err(StepError::Failed(format!(
                        "{command:?} exited with {}\n{text}",
                        out.exit_code
                            .map_or_else(|| "a signal".into(), |c| c.to_string())
                    )));
                }
                let mut m = Map::new();
                m.insert("output".into(), text.into());
                m.insert("exit_code".into(), json!(out.exit_code));
                Ok(Outcome::Ok(m))
            }
            StepKind::LlmCall {
                role,
                template,
                output_schema,
                max_tokens,
            } => {
                let prompt = render("template", template, vars)?;
                let role: Role = role
                    .replace('-', "_")
                    .parse()
                    .map_err(|_| format!("unknown role {role:?}"))?;
                let mut request = LlmRequest::new(self.settings.model_for(role), prompt);
                request.max_tokens = max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
                request.context = CallContext {
                    role: role.as_str().to_owned(),
                    ticket_id: Some(self.scope.ticket.id.clone()),
                    task_id: self.scope.task.map(|t| t.id.clone()),
                    runner: "builtin".into(),
                    prompt_version: None,
                };
                let response = match self.ports.llm.complete(&request).await {
                    Ok(r) => r,
                    Err(e @ LlmError::BudgetExceeded(_)) => return Err(StepError::Fatal(e.into())),
                    Err(e) => return Err(StepError::Failed(format!("the model call failed: {e}"))),
                };
                let text = response.text();
                let mut m = Map::new();
                if let Some(schema) = output_schema {
                    let value = schema::parse_answer(&text)?;
                    schema::validate(schema, &value)
                        .map_err(|e| format!("the answer does not match the output schema: {e}"))?;
                    m.insert(
                        "output".into(),
                        serde_json::to_string(&value).unwrap_or_default().into(),
                    );
                    m.insert("json".into(), value);
                } else {
                    m.insert("output".into(), text.into());
                }
                Ok(Outcome::Ok(m))
            }
            StepKind::FileWrite {
                path,
                content,
                mode,
            } => {
                let path = render("path", path, vars)?;
                let content = render("content", content, vars)?;
                let (_, wt) = self.worktree("file_write")?;
                self.ports
                    .files
                    .write(&wt.path, &path, &content, *mode)
                    .await
                    .map_err(|e| format!("cannot write {path}: {e}"))?;
                let mut m = Map::new();
                m.insert(
                    "output".into(),
                    format!("wrote {} bytes to {path}", content.len()).into(),
                );
                m.insert("path".into(), path.into());
                Ok(Outcome::Ok(m))
            }
            StepKind::GitDiff { base } => {
                let base = match base {
                    Some(b) => render("base", b, vars)?,
                    None => self.scope.base.to_owned(),
                };
                let (repo, wt) = self.worktree("git_diff")?;
                let diff = repo
                    .diff(wt, &DiffSpec::Since { base: base.clone() })
                    .await
                    .map_err(|e| format!("cannot diff against {base}: {e}"))?;
                let mut m = Map::new();
                m.insert("output".into(), diff.text.into());
                m.insert("truncated".into(), diff.truncated.into());
                Ok(Outcome::Ok(m))
            }
            StepKind::Agent {
                instructions,
                tools,
                max_turns,
            } => {
                let instructions = render("instructions", instructions, vars)?;
                let (_, wt) = self.worktree("agent")?;
                let t = self.scope.ticket;
                let task = AgentTask {
                    ticket_id: Some(t.id.clone()),
                    task_id: self.scope.task.map(|x| x.id.clone()),
                    role: AgentRole::Implementer,
                    attempt: 1,
                    ticket_title: t.title.clone(),
                    ticket_description: t.description.clone(),
                    title: format!("skill {}", skill.name),
                    description: instructions,
                    acceptance_criteria: String::new(),
                    files: Vec::new(),
                    complexity: 2,
                    feedback: None,
                };
                let allowed = if tools.is_empty() {
                    READ_ONLY_TOOLS.iter().map(|s| (*s).to_owned()).collect()
                } else {
                    tools.clone()
                };
                let limits = AgentLimits {
                    max_turns: (*max_turns).clamp(1, MAX_AGENT_TURNS),
                    timeout: Some(self.left()),
                    ..self.settings.agent_limits.clone()
                };
                let request = AgentRequest::new(task, wt.path.clone())
                    .with_limits(limits)
                    .with_allowed_tools(Some(allowed));
                let outcome = self
                    .ports
                    .agent
                    .run(&request, &NoAgentProgress)
                    .await
                    .map_err(|e| format!("the agent could not run: {e}"))?;
                let summary = outcome
                    .report
                    .as_ref()
                    .map(|r| r.summary.clone())
                    .unwrap_or_default();
                if !outcome.is_completed() {
                    return Err(StepError::Failed(format!(
                        "the agent stopped without completing ({}){}",
                        outcome.stop_reason,
                        outcome
                            .error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )));
                }
                let mut m = Map::new();
                m.insert("output".into(), summary.into());
                m.insert("turns".into(), outcome.turns.into());
                Ok(Outcome::Ok(m))
            }
            StepKind::Subskill {
                skill: name,
                inputs,
            } => {
                if stack.iter().any(|s| s == name) {
                    return Err(StepError::Failed(format!(
                        "subskill cycle refused: {} → {name}",
                        stack.join(" → ")
                    )));
                }
                if stack.len() >= MAX_SKILL_DEPTH {
                    return Err(StepError::Failed(format!(
                        "subskills nest deeper than {MAX_SKILL_DEPTH}: {} → {name}",
                        stack.join(" → ")
                    )));
                }
                let mut given = BTreeMap::new();
                for (k, v) in inputs {
                    given.insert(k.clone(), render(&format!("inputs.{k}"), v, vars)?);
                }
                let Some(sub) = self.ports.skills.resolve(self.scope.project, name).await else {
                    return Err(StepError::Failed(format!("no valid skill named {name:?}")));
                };
                match self.run_skill(&sub, given, stack).await {
                    Ok(Ok(output)) => {
                        let mut m = Map::new();
                        m.insert("output".into(), output.into());
                        Ok(Outcome::Ok(m))
                    }
                    Ok(Err(f)) => Err(StepError::Failed(format!("subskill {f}"))),
                    Err(e) => Err(StepError::Fatal(e)),
                }
            }
        }
    }
}

/// The template fields of a step.
fn templates(kind: &StepKind) -> Vec<&str> {
    match kind {
        StepKind::RunCommand { command, .. } => vec![command],
        StepKind::LlmCall { template, .. } => vec![template],
        StepKind::FileWrite { path, content, .. } => vec![path, content],
        StepKind::GitDiff { base } => base.iter().map(String::as_str).collect(),
        StepKind::Agent { instructions, .. } => vec![instructions],
        StepKind::Subskill { inputs, .. } => inputs.values().map(String::as_str).collect(),
    }
}

/// `foreman_skill_executions_total{skill,status}`.
fn count(skill: &str, success: bool) {
    metrics::counter!(
        "foreman_skill_executions_total",
        "skill" => skill.to_owned(),
        "status" => if success { "success" } else { "failure" }
    )
    .increment(1);
}
