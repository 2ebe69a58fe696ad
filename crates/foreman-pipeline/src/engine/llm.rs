//! Structured questions to a role: a forced tool call whose input is the answer.

use foreman_domain::llm::{CallContext, LlmRequest, ToolChoice, ToolDefinition};
use foreman_domain::pipeline::Role;
use foreman_domain::{Task, Ticket};
use serde::Deserialize;
use serde_json::{Value, json};

use super::context::Ctx;
use crate::error::{PipelineError, PipelineResult};

/// A tool a role must answer through.
pub(crate) struct Tool {
    name: &'static str,
    description: &'static str,
    schema: Value,
}

impl Tool {
    pub(crate) fn new(name: &'static str, description: &'static str, schema: Value) -> Self {
        Self {
            name,
            description,
            schema,
        }
    }

    /// The reviewers' verdict tool. `proposed_rules` (validation rules the reviewer would have
    /// the project enforce from now on) is read from the quality reviewer only.
    pub(crate) fn review() -> Self {
        Self::new(
            "submit_review",
            "Submit the review verdict.",
            json!({"type": "object", "required": ["approved"], "properties": {
                "approved": {"type": "boolean"},
                "issues": {"type": "array", "items": {"type": "string"}},
                "summary": {"type": "string"},
                "proposed_rules": {"type": "array", "items": {
                    "type": "object",
                    "required": ["kind", "pattern"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["regex", "missing", "forbidden_path"]},
                        "pattern": {"type": "string", "description": "a regex (regex: must not match an added line; missing: must match each matched file) or a glob (forbidden_path)"},
                        "severity": {"type": "string", "enum": ["error", "warning"]},
                        "applies_to": {"type": "array", "items": {"type": "string"}, "description": "globs of the files it applies to; empty: all"},
                        "message": {"type": "string"},
                        "rationale": {"type": "string"}
                    }
                }}
            }}),
        )
    }
}

/// A structured review verdict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Review {
    pub(crate) approved: bool,
    pub(crate) issues: Vec<String>,
    pub(crate) summary: String,
    /// Validation rules the quality reviewer proposes (stored as `proposed`), each read on its
    /// own so a malformed proposal is dropped without losing the verdict.
    pub(crate) proposed_rules: Vec<Value>,
}

impl Ctx {
    /// Asks `role` (its prompt as the system message, its model) for structured output
    /// through a forced call of `tool`.
    pub(crate) async fn ask<T: for<'de> Deserialize<'de>>(
        &self,
        role: Role,
        t: &Ticket,
        task: Option<&Task>,
        user: String,
        tool: Tool,
    ) -> PipelineResult<T> {
        let engine = &self.engine;
        let vars = json!({
            "ticket": {"id": t.id, "external_id": t.external_id, "title": t.title, "description": t.description, "acceptance_criteria": t.acceptance_criteria},
            "task": task.map(|x| json!({"sequence": x.sequence, "title": x.title, "description": x.description, "acceptance_criteria": x.acceptance_criteria})),
        });
        let rendered = engine.ports.prompts.render(role.prompt(), &vars)?;
        let mut request = LlmRequest::new(engine.settings.model_for(role), user);
        request.system = Some(rendered.text);
        request.tools = vec![ToolDefinition {
            name: tool.name.to_owned(),
            description: tool.description.to_owned(),
            input_schema: tool.schema,
        }];
        request.tool_choice = Some(ToolChoice::Tool {
            name: tool.name.to_owned(),
        });
        request.max_tokens = 8192;
        request.cache.system = true;
        request.cache.tools = true;
        request.context = CallContext {
            role: role.as_str().to_owned(),
            ticket_id: Some(t.id.clone()),
            task_id: task.map(|x| x.id.clone()),
            runner: "builtin".into(),
            prompt_version: Some(rendered.version),
        };
        let response = self
            .interruptible(engine.ports.llm.complete(&request))
            .await??;
        let missing = || PipelineError::MissingToolOutput {
            role,
            tool: tool.name,
        };
        let input = response
            .tool_input(tool.name)
            .cloned()
            .ok_or_else(missing)?;
        serde_json::from_value(input).map_err(|_| missing())
    }
}

/// The ticket as every role first reads it.
pub(crate) fn ticket_brief(t: &Ticket) -> String {
    format!(
        "# {} {}\n\n{}\n\n## Acceptance criteria\n{}",
        t.external_id,
        t.title,
        t.description.trim(),
        if t.acceptance_criteria.trim().is_empty() {
            "(none given)"
        } else {
            t.acceptance_criteria.trim()
        }
    )
}

/// Instruction templates of the prompt library (beside the role prompts, versioned like them)
/// that the engine renders into an agent's task or feedback.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Instruction {
    /// What the implementer does in this phase (`phase`).
    ImplementerPhase,
    /// Why an attempt is sent back to the implementer (`kind` and its details).
    ImplementerFeedback,
    /// What the conflict resolver does (`kind`, `files`).
    ConflictResolution,
}

impl Instruction {
    const fn template(self) -> &'static str {
        match self {
            Self::ImplementerPhase => "implementer-phase",
            Self::ImplementerFeedback => "implementer-feedback",
            Self::ConflictResolution => "conflict-resolution",
        }
    }
}

impl Ctx {
    /// Renders an instruction template with `vars`.
    pub(crate) fn instruction(&self, which: Instruction, vars: &Value) -> PipelineResult<String> {
        Ok(self
            .engine
            .ports
            .prompts
            .render(which.template(), vars)?
            .text)
    }
}
