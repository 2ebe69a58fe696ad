//! The built-in agent's tools and the [`Toolbox`] that runs them inside the sandbox.
//!
//! Tools: `read_file`, `write_file`, `edit_file`, `multi_edit`, `list_dir`, `glob`, `grep`,
//! `run_command`, `git_diff` and `complete` (handled by the runner: it ends the run with a
//! [`CompletionReport`]). Every result passes the secret scanner before it is returned, and
//! failures come back as error results the model can read, never as panics.

mod edit;
pub(crate) mod search;

pub use search::FileCache;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foreman_domain::agent::{ChangeKind, CommandRecord, CompletionReport, FileChange};
use foreman_domain::llm::ToolDefinition;
use foreman_domain::mcp::{ExternalToolSpec, ExternalTools};
use serde::Deserialize;
use serde_json::{Value, json};

pub use edit::{EditError, EditMatch, apply_edit};

use crate::command::{CommandExecutor, CommandPolicy, run_in_group};
use crate::sandbox::{Sandbox, SandboxError, write_atomic};
use crate::secrets::{Finding, REDACTION_PREFIX, SecretScanner};

/// The name of the completion tool.
pub const COMPLETE: &str = "complete";

/// Size limits of the file and search tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLimits {
    /// Lines `read_file` returns when no range is given.
    pub read_lines: usize,
    /// Bytes `read_file` returns at most.
    pub read_bytes: usize,
    /// Largest file `read_file`, `edit_file` and `grep` open.
    pub max_file_bytes: u64,
    /// Matches `grep` returns at most.
    pub grep_results: usize,
    /// Paths `glob` and `list_dir` return at most.
    pub list_entries: usize,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            read_lines: 2000,
            read_bytes: 100_000,
            max_file_bytes: 10 * 1024 * 1024,
            grep_results: 200,
            list_entries: 500,
        }
    }
}

/// What a tool call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The text for the model (already scrubbed of secrets).
    pub content: String,
    /// Whether the call failed.
    pub is_error: bool,
    /// Secrets redacted from `content`.
    pub secrets: Vec<Finding>,
    /// Whether the call changed a file.
    pub changed: bool,
}

/// Runs tools for one agent run in one worktree and remembers what they changed.
#[derive(Debug)]
pub struct Toolbox {
    sandbox: Sandbox,
    scanner: Arc<SecretScanner>,
    policy: Arc<CommandPolicy>,
    executor: CommandExecutor,
    limits: ToolLimits,
    changes: BTreeMap<String, ChangeKind>,
    created: BTreeSet<String>,
    commands: Vec<CommandRecord>,
    deadline: Option<Instant>,
    cache: Arc<FileCache>,
    external: Option<External>,
}

/// Tools from outside (MCP servers), offered beside the built-in ones.
struct External {
    tools: Arc<dyn ExternalTools>,
    specs: Vec<ExternalToolSpec>,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("External")
            .field(
                "tools",
                &self.specs.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Failure(String);

impl From<SandboxError> for Failure {
    fn from(e: SandboxError) -> Self {
        Self(e.to_string())
    }
}

impl From<EditError> for Failure {
    fn from(e: EditError) -> Self {
        Self(e.to_string())
    }
}

type Outcome = Result<(String, bool), Failure>;

fn input<T: for<'de> Deserialize<'de>>(tool: &str, v: &Value) -> Result<T, Failure> {
    T::deserialize(v).map_err(|e| Failure(format!("invalid input for {tool}: {e}")))
}

#[derive(Deserialize)]
struct ReadInput {
    path: String,
    #[serde(default)]
    start_line: Option<usize>,
    #[serde(default)]
    end_line: Option<usize>,
}

#[derive(Deserialize)]
struct WriteInput {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct EditInput {
    path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

#[derive(Deserialize)]
struct OneEdit {
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

#[derive(Deserialize)]
struct MultiEditInput {
    path: String,
    edits: Vec<OneEdit>,
}

#[derive(Deserialize)]
struct ListInput {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    depth: Option<usize>,
}

#[derive(Deserialize)]
struct GlobInput {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
struct GrepInput {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default)]
    case_insensitive: bool,
    #[serde(default)]
    max_results: Option<usize>,
}

#[derive(Deserialize)]
struct CommandInput {
    command: String,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
struct DiffInput {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    stat: bool,
}

/// Parses the `complete` tool's input.
///
/// # Errors
/// A message for the model when the report is malformed or has no summary.
pub fn parse_completion(v: &Value) -> Result<CompletionReport, String> {
    let r: CompletionReport =
        CompletionReport::deserialize(v).map_err(|e| format!("invalid input for complete: {e}"))?;
    if r.summary.trim().is_empty() {
        return Err("complete needs a non-empty summary of what was done".into());
    }
    Ok(r)
}

/// A one-line description of a tool call for progress reports and logs.
#[must_use]
pub fn summarise_call(name: &str, input: &Value) -> String {
    let field = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or("");
    let s = match name {
        "read_file" | "write_file" | "edit_file" | "multi_edit" => field("path").to_owned(),
        "list_dir" | "git_diff" => {
            let p = field("path");
            if p.is_empty() {
                ".".into()
            } else {
                p.to_owned()
            }
        }
        "glob" | "grep" => field("pattern").to_owned(),
        "run_command" => field("command").to_owned(),
        COMPLETE => field("summary").to_owned(),
        _ => String::new(),
    };
    let mut s: String = s.chars().take(120).collect();
    if s.is_empty() {
        s = name.to_owned();
    }
    s
}

impl Toolbox {
    /// A toolbox for `worktree`.
    ///
    /// # Errors
    /// [`SandboxError::InvalidRoot`] when the worktree is not a directory.
    pub fn new(
        worktree: &Path,
        scanner: Arc<SecretScanner>,
        policy: Arc<CommandPolicy>,
    ) -> Result<Self, SandboxError> {
        let sandbox = Sandbox::new(worktree)?;
        let executor = CommandExecutor::new(policy.clone(), sandbox.root().to_path_buf());
        Ok(Self {
            sandbox,
            scanner,
            policy,
            executor,
            limits: ToolLimits::default(),
            changes: BTreeMap::new(),
            created: BTreeSet::new(),
            commands: Vec::new(),
            deadline: None,
            cache: Arc::new(FileCache::default()),
            external: None,
        })
    }

    /// Offers `specs` (listed from `tools` at the start of the run) beside the built-in tools;
    /// their calls go to `tools`, and their results pass the secret scanner like every other
    /// tool's. A spec whose name is a built-in tool's is left out.
    #[must_use]
    pub fn with_external(
        mut self,
        tools: Arc<dyn ExternalTools>,
        specs: Vec<ExternalToolSpec>,
    ) -> Self {
        let builtin: BTreeSet<String> = definitions(&[]).into_iter().map(|d| d.name).collect();
        let specs = specs
            .into_iter()
            .filter(|s| !builtin.contains(&s.name))
            .collect();
        self.external = Some(External { tools, specs });
        self
    }

    /// The external tool offered as `name`, if any.
    #[must_use]
    pub fn external_spec(&self, name: &str) -> Option<&ExternalToolSpec> {
        self.external
            .as_ref()
            .and_then(|e| e.specs.iter().find(|s| s.name == name))
    }

    async fn call_external(&self, name: &str, input: &Value) -> Outcome {
        let Some(external) = &self.external else {
            return Err(Failure(format!("unknown tool {name:?}")));
        };
        match external.tools.call(name, input).await {
            Ok(out) if out.is_error => Err(Failure(out.content)),
            Ok(out) => Ok((out.content, false)),
            Err(e) => Err(Failure(e.to_string())),
        }
    }

    /// Commands started after this instant get at most the time left until it.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Replaces the size limits.
    #[must_use]
    pub fn with_limits(mut self, limits: ToolLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The sandbox.
    #[must_use]
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The secret scanner.
    #[must_use]
    pub fn scanner(&self) -> &SecretScanner {
        &self.scanner
    }

    /// The file-content cache shared by `grep` and context selection.
    #[must_use]
    pub fn cache(&self) -> &Arc<FileCache> {
        &self.cache
    }

    /// Files changed so far, by path.
    #[must_use]
    pub fn changes(&self) -> Vec<FileChange> {
        self.changes
            .iter()
            .map(|(path, kind)| FileChange {
                path: path.clone(),
                kind: *kind,
            })
            .collect()
    }

    /// Commands run or refused so far.
    #[must_use]
    pub fn commands(&self) -> &[CommandRecord] {
        &self.commands
    }

    /// The tool definitions offered to the model.
    #[must_use]
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        let mut defs = definitions(&self.policy.allowed());
        if let Some(e) = &self.external {
            defs.extend(e.specs.iter().map(|s| ToolDefinition {
                name: s.name.clone(),
                description: format!("[MCP server {}] {}", s.server, s.description),
                input_schema: s.input_schema.clone(),
            }));
        }
        defs
    }

    /// Runs one tool call. `complete` is not run here (the runner handles it).
    pub async fn call(&mut self, name: &str, input: &Value) -> ToolResult {
        let outcome = match name {
            "read_file" => self.read_file(input),
            "write_file" => self.write_file(input),
            "edit_file" => self.edit_file(input),
            "multi_edit" => self.multi_edit(input),
            "list_dir" => self.list_dir(input),
            "glob" => self.glob(input),
            "grep" => self.grep(input),
            "run_command" => self.run_command(input).await,
            "git_diff" => self.git_diff(input).await,
            COMPLETE => Err(Failure(
                "complete ends the run and is handled by the runner".into(),
            )),
            other if self.external_spec(other).is_some() => self.call_external(other, input).await,
            other => Err(Failure(format!(
                "unknown tool {other:?}; available: read_file, write_file, edit_file, multi_edit, list_dir, glob, grep, run_command, git_diff, complete"
            ))),
        };
        let (text, is_error, changed) = match outcome {
            Ok((text, changed)) => (text, false, changed),
            Err(Failure(msg)) => (format!("error: {msg}"), true, false),
        };
        let (clean, secrets) = self.scanner.redact(&text);
        ToolResult {
            content: clean.into_owned(),
            is_error,
            secrets,
            changed,
        }
    }

    fn note_change(&mut self, rel: &str, existed: bool) {
        self.cache.invalidate(&self.sandbox.root().join(rel));
        let kind = if existed {
            ChangeKind::Modified
        } else {
            self.created.insert(rel.to_owned());
            ChangeKind::Added
        };
        self.changes
            .entry(rel.to_owned())
            .and_modify(|k| {
                if *k == ChangeKind::Deleted {
                    *k = ChangeKind::Modified;
                }
            })
            .or_insert(kind);
    }

    fn check_new_content(&self, content: &str) -> Result<(), Failure> {
        if content.contains(REDACTION_PREFIX) {
            return Err(Failure(
                "content contains a redaction marker ([REDACTED:...]); the original secret is not known to you, so edit around the redacted text instead of rewriting it".into(),
            ));
        }
        if let Some(f) = self.scanner.strong_findings(content).first() {
            return Err(Failure(format!(
                "refused: the content would add a secret ({}); keep credentials out of the repository",
                f.rule_id
            )));
        }
        Ok(())
    }

    fn read_text(&self, abs: &Path, rel: &str) -> Result<String, Failure> {
        let md = std::fs::metadata(abs).map_err(|e| Failure(format!("cannot read {rel}: {e}")))?;
        if md.len() > self.limits.max_file_bytes {
            return Err(Failure(format!(
                "{rel} is {} bytes, larger than the {} byte limit",
                md.len(),
                self.limits.max_file_bytes
            )));
        }
        let bytes = std::fs::read(abs).map_err(|e| Failure(format!("cannot read {rel}: {e}")))?;
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return Err(Failure(format!(
                "{rel} is a binary file ({} bytes)",
                bytes.len()
            )));
        }
        String::from_utf8(bytes).map_err(|_| Failure(format!("{rel} is not valid UTF-8 text")))
    }

    fn read_file(&self, v: &Value) -> Outcome {
        let i: ReadInput = input("read_file", v)?;
        let (abs, rel) = self.sandbox.resolve_file(&i.path)?;
        let text = self.read_text(&abs, &rel)?;
        let total = text.lines().count();
        let start = i.start_line.unwrap_or(1).max(1);
        let end = i
            .end_line
            .unwrap_or(start + self.limits.read_lines - 1)
            .min(total);
        if total == 0 {
            return Ok((format!("{rel}: empty file"), false));
        }
        if start > total {
            return Err(Failure(format!(
                "start_line {start} is past the end of {rel} ({total} lines)"
            )));
        }
        if end < start {
            return Err(Failure(format!(
                "end_line {end} is before start_line {start}"
            )));
        }
        let mut out = format!("{rel} (lines {start}-{end} of {total})\n");
        let mut last = start;
        for (n, line) in text
            .lines()
            .enumerate()
            .skip(start - 1)
            .take(end - start + 1)
        {
            if out.len() + line.len() > self.limits.read_bytes {
                out.push_str(&format!(
                    "[output truncated at line {}; read on with start_line={}]\n",
                    n,
                    n + 1
                ));
                return Ok((out, false));
            }
            out.push_str(&format!("{:>6}\t{line}\n", n + 1));
            last = n + 1;
        }
        if last < total {
            out.push_str(&format!(
                "[{} more lines; read on with start_line={}]\n",
                total - last,
                last + 1
            ));
        }
        Ok((out, false))
    }

    fn write_file(&mut self, v: &Value) -> Outcome {
        let i: WriteInput = input("write_file", v)?;
        let target = self.sandbox.resolve_write(&i.path)?;
        self.check_new_content(&i.content)?;
        write_atomic(&target, i.content.as_bytes())
            .map_err(|e| Failure(format!("cannot write {}: {e}", target.rel)))?;
        self.note_change(&target.rel, target.exists);
        Ok((
            format!(
                "{} {} ({} bytes)",
                if target.exists {
                    "overwrote"
                } else {
                    "created"
                },
                target.rel,
                i.content.len()
            ),
            true,
        ))
    }

    fn edit_file(&mut self, v: &Value) -> Outcome {
        let i: EditInput = input("edit_file", v)?;
        let target = self.sandbox.resolve_write(&i.path)?;
        if !target.exists {
            return Err(Failure(format!(
                "{} does not exist; use write_file to create it",
                target.rel
            )));
        }
        self.check_new_content(&i.new_string)?;
        let text = self.read_text(&target.path, &target.rel)?;
        let (out, how) = apply_edit(&text, &i.old_string, &i.new_string, i.replace_all)?;
        write_atomic(&target, out.as_bytes())
            .map_err(|e| Failure(format!("cannot write {}: {e}", target.rel)))?;
        self.note_change(&target.rel, true);
        let msg = match how {
            EditMatch::Exact(1) => format!("edited {}", target.rel),
            EditMatch::Exact(n) => format!("edited {} ({n} replacements)", target.rel),
            EditMatch::Tolerant(line) => format!(
                "edited {} at line {line} (matched ignoring whitespace differences)",
                target.rel
            ),
        };
        Ok((msg, true))
    }

    fn multi_edit(&mut self, v: &Value) -> Outcome {
        let i: MultiEditInput = input("multi_edit", v)?;
        if i.edits.is_empty() {
            return Err(Failure("multi_edit needs at least one edit".into()));
        }
        let target = self.sandbox.resolve_write(&i.path)?;
        if !target.exists {
            return Err(Failure(format!(
                "{} does not exist; use write_file to create it",
                target.rel
            )));
        }
        for e in &i.edits {
            self.check_new_content(&e.new_string)?;
        }
        let mut text = self.read_text(&target.path, &target.rel)?;
        for (k, e) in i.edits.iter().enumerate() {
            text = apply_edit(&text, &e.old_string, &e.new_string, e.replace_all)
                .map_err(|err| {
                    Failure(format!(
                        "edit {} of {} failed: {err}; no edits were applied",
                        k + 1,
                        i.edits.len()
                    ))
                })?
                .0;
        }
        write_atomic(&target, text.as_bytes())
            .map_err(|e| Failure(format!("cannot write {}: {e}", target.rel)))?;
        self.note_change(&target.rel, true);
        Ok((
            format!("applied {} edits to {}", i.edits.len(), target.rel),
            true,
        ))
    }

    fn list_dir(&self, v: &Value) -> Outcome {
        let i: ListInput = input("list_dir", v)?;
        let (abs, rel) = self.sandbox.resolve_dir(i.path.as_deref().unwrap_or("."))?;
        let depth = i.depth.unwrap_or(1).clamp(1, 4);
        let entries = search::list(self.sandbox.root(), &abs, depth, self.limits.list_entries);
        let shown = if rel.is_empty() { "." } else { rel.as_str() };
        let mut out = format!("{shown} (depth {depth}; ignored files hidden)\n");
        out.push_str(&entries.join("\n"));
        Ok((out, false))
    }

    fn glob(&self, v: &Value) -> Outcome {
        let i: GlobInput = input("glob", v)?;
        let (abs, _) = self.sandbox.resolve_dir(i.path.as_deref().unwrap_or("."))?;
        let found = search::glob(
            self.sandbox.root(),
            &abs,
            &i.pattern,
            self.limits.list_entries,
        )
        .map_err(Failure)?;
        if found.paths.is_empty() {
            return Ok((format!("no files match {}", i.pattern), false));
        }
        let mut out = found.paths.join("\n");
        if found.more > 0 {
            out.push_str(&format!(
                "\n[{} more not shown; narrow the pattern]",
                found.more
            ));
        }
        Ok((out, false))
    }

    fn grep(&self, v: &Value) -> Outcome {
        let i: GrepInput = input("grep", v)?;
        let (abs, _) = self.sandbox.resolve_dir(i.path.as_deref().unwrap_or("."))?;
        let max = i
            .max_results
            .unwrap_or(self.limits.grep_results)
            .clamp(1, 1000);
        let found = search::grep(
            self.sandbox.root(),
            &abs,
            &search::GrepQuery {
                pattern: &i.pattern,
                glob: i.glob.as_deref(),
                case_insensitive: i.case_insensitive,
                max_results: max,
                max_file_bytes: self.limits.max_file_bytes.min(2 * 1024 * 1024),
            },
            &self.cache,
        )
        .map_err(Failure)?;
        if found.lines.is_empty() {
            return Ok((format!("no matches for {}", i.pattern), false));
        }
        let mut out = found.lines.join("\n");
        if found.more > 0 {
            out.push_str(&format!("\n[{} more matches not shown]", found.more));
        }
        Ok((out, false))
    }

    async fn run_command(&mut self, v: &Value) -> Outcome {
        let i: CommandInput = input("run_command", v)?;
        let prepared = match self.policy.prepare(&i.command, &self.sandbox) {
            Ok(p) => p,
            Err(refused) => {
                self.commands.push(CommandRecord {
                    command: i.command.clone(),
                    allowed: false,
                    exit_code: None,
                    timed_out: false,
                    duration_ms: 0,
                    output_bytes: 0,
                    truncated: false,
                });
                return Err(Failure(refused.to_string()));
            }
        };
        let mut timeout = i.timeout_secs.map(Duration::from_secs);
        if let Some(d) = self.deadline {
            let left = d
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1));
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        let out = match self.executor.run(&prepared, timeout).await {
            Ok(out) => out,
            Err(e) => {
                self.commands.push(CommandRecord {
                    command: i.command.clone(),
                    allowed: true,
                    exit_code: None,
                    timed_out: false,
                    duration_ms: 0,
                    output_bytes: 0,
                    truncated: false,
                });
                return Err(Failure(format!("cannot start {}: {e}", prepared.argv[0])));
            }
        };
        self.commands.push(CommandRecord {
            command: i.command.clone(),
            allowed: true,
            exit_code: out.exit_code,
            timed_out: out.timed_out,
            duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
            output_bytes: out.total_bytes,
            truncated: out.truncated,
        });
        let status = if out.timed_out {
            format!(
                "killed after the {}s timeout",
                timeout
                    .unwrap_or(Duration::from_secs(self.policy.settings().timeout_secs))
                    .min(Duration::from_secs(self.policy.settings().timeout_secs))
                    .as_secs()
            )
        } else {
            match out.exit_code {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".into(),
            }
        };
        Ok((
            format!(
                "$ {}\n{status} after {:.1}s\n{}",
                i.command,
                out.duration.as_secs_f64(),
                out.output
            ),
            false,
        ))
    }

    async fn git_diff(&self, v: &Value) -> Outcome {
        let i: DiffInput = input("git_diff", v)?;
        let rel = match i.path.as_deref() {
            Some(p) if !p.trim().is_empty() && p.trim() != "." => {
                Some(self.sandbox.resolve_existing(p)?.1)
            }
            _ => None,
        };
        let mut env = self.policy.env().to_vec();
        env.push(("GIT_PAGER".into(), "cat".into()));
        env.push(("GIT_OPTIONAL_LOCKS".into(), "0".into()));
        let max = self.policy.settings().max_output_bytes;
        let timeout = Duration::from_secs(30);
        let mut base = vec![
            "git".to_owned(),
            "--no-pager".into(),
            "diff".into(),
            "--no-color".into(),
            "--no-ext-diff".into(),
            "--no-textconv".into(),
        ];
        if i.stat {
            base.push("--stat".into());
        }
        let root = self.sandbox.root();
        let mut argv = base.clone();
        argv.push("HEAD".into());
        argv.push("--".into());
        if let Some(r) = &rel {
            argv.push(r.clone());
        }
        let mut out = run_in_group(&argv, root, &env, timeout, max, None)
            .await
            .map_err(|e| Failure(format!("cannot run git diff: {e}")))?;
        if out.exit_code != Some(0) {
            // No commit yet: compare with the index instead.
            argv.retain(|a| a != "HEAD");
            out = run_in_group(&argv, root, &env, timeout, max, None)
                .await
                .map_err(|e| Failure(format!("cannot run git diff: {e}")))?;
            if out.exit_code != Some(0) {
                return Err(Failure(format!("git diff failed: {}", out.output.trim())));
            }
        }
        let mut text = out.output;
        // Files created in this run are untracked and missing from `git diff`.
        for created in &self.created {
            if rel
                .as_ref()
                .is_some_and(|r| created != r && !created.starts_with(&format!("{r}/")))
            {
                continue;
            }
            if text.contains(&format!(" b/{created}\n")) || text.contains(&format!(" {created} ")) {
                continue;
            }
            if !root.join(created).exists() {
                continue;
            }
            let mut argv = base.clone();
            argv.extend([
                "--no-index".into(),
                "--".into(),
                "/dev/null".into(),
                created.clone(),
            ]);
            if let Ok(o) = run_in_group(&argv, root, &env, timeout, max, None).await {
                text.push_str(&o.output);
            }
        }
        if text.trim().is_empty() {
            return Ok(("no changes".into(), false));
        }
        Ok((text, false))
    }
}

/// The tool definitions, describing `allowed` commands in `run_command`'s description.
#[must_use]
pub fn definitions(allowed: &[String]) -> Vec<ToolDefinition> {
    let commands = if allowed.is_empty() {
        "No commands are configured, so every command is refused.".to_owned()
    } else {
        format!(
            "Allowed commands (any arguments may follow a prefix; shell lines must be sent exactly): {}.",
            allowed.join("; ")
        )
    };
    let def = |name: &str, description: &str, schema: Value| ToolDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema: schema,
    };
    vec![
        def(
            "read_file",
            "Read a text file of the worktree, with line numbers. Paths are relative to the worktree root. Use start_line/end_line (1-based, inclusive) for large files.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "file path relative to the worktree root"},
                "start_line": {"type": "integer", "minimum": 1},
                "end_line": {"type": "integer", "minimum": 1}
            }, "required": ["path"]}),
        ),
        def(
            "write_file",
            "Create or overwrite a file with the given content. Parent directories are created.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "content": {"type": "string"}
            }, "required": ["path", "content"]}),
        ),
        def(
            "edit_file",
            "Replace old_string with new_string in a file. old_string must match exactly once (include surrounding lines to make it unique) unless replace_all is true; if it does not match exactly, a match ignoring whitespace differences is tried.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
                "replace_all": {"type": "boolean", "default": false}
            }, "required": ["path", "old_string", "new_string"]}),
        ),
        def(
            "multi_edit",
            "Apply several edits to one file in order, atomically: if any edit fails, none is applied.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "edits": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
                    "old_string": {"type": "string"},
                    "new_string": {"type": "string"},
                    "replace_all": {"type": "boolean", "default": false}
                }, "required": ["old_string", "new_string"]}}
            }, "required": ["path", "edits"]}),
        ),
        def(
            "list_dir",
            "List a directory of the worktree (files ignored by .gitignore are hidden).",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "default": "."},
                "depth": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1}
            }}),
        ),
        def(
            "glob",
            "Find files by glob pattern (e.g. **/*.rs or src/**/mod.rs). A pattern without '/' matches file names anywhere.",
            json!({"type": "object", "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "default": "."}
            }, "required": ["pattern"]}),
        ),
        def(
            "grep",
            "Search file contents with a regular expression (Rust regex syntax), respecting .gitignore. Returns path:line: text.",
            json!({"type": "object", "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "default": "."},
                "glob": {"type": "string", "description": "only files matching this glob"},
                "case_insensitive": {"type": "boolean", "default": false},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 1000}
            }, "required": ["pattern"]}),
        ),
        def(
            "run_command",
            &format!(
                "Run a command in the worktree root without a shell (no pipes, redirections, ';', '&&' or variables). Output is truncated in the middle when long. {commands}"
            ),
            json!({"type": "object", "properties": {
                "command": {"type": "string"},
                "timeout_secs": {"type": "integer", "minimum": 1}
            }, "required": ["command"]}),
        ),
        def(
            "git_diff",
            "Show the changes made in the worktree so far (against the last commit), optionally for one path or as a summary.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "stat": {"type": "boolean", "default": false}
            }}),
        ),
        def(
            COMPLETE,
            "Finish the task with a final report. Call it only when the tests pass and the acceptance criteria are met, or with done=false when blocked.",
            json!({"type": "object", "properties": {
                "summary": {"type": "string", "description": "what was changed and why"},
                "tests": {"type": "array", "items": {"type": "string"}, "description": "tests written or changed"},
                "done": {"type": "boolean", "default": true},
                "notes": {"type": "string", "description": "anything reviewers should know; why, when blocked"}
            }, "required": ["summary"]}),
        ),
    ]
}
