//! `SKILL.md` parsing: YAML front matter between `---` lines, then a Markdown body.
//!
//! The front matter is read as YAML into a tree first (a syntax error is reported at its line
//! in the file), then each part is checked on its own, so one file's problems are reported
//! together rather than one per edit. Lines of semantic problems are found by looking for the
//! offending key in the front matter's block layout (`key:` at the start of a line, `- ` at
//! the start of a sequence item); in flow style (`[...]`, `{...}`) they fall back to the line
//! of the enclosing key.

use std::collections::BTreeMap;

use serde_norway::{Mapping, Value};

use super::{HookPoint, Skill, SkillInput, SkillProblem, SkillStep, StepKind};

/// The largest skill file read: 64 KiB.
pub const MAX_SKILL_BYTES: usize = 64 * 1024;

/// The most steps a skill may have.
pub const MAX_STEPS: usize = 50;

/// The most turns an `agent` step may allow.
pub const MAX_AGENT_TURNS: u32 = 50;

/// The front matter's keys.
const KEYS: [&str; 5] = ["name", "description", "hooks", "inputs", "steps"];

/// The problem of a file of `len` bytes when it is larger than [`MAX_SKILL_BYTES`].
#[must_use]
pub fn size_problem(file: &str, len: usize) -> Option<SkillProblem> {
    (len > MAX_SKILL_BYTES).then(|| SkillProblem {
        file: file.to_owned(),
        line: None,
        reason: format!(
            "the file is larger than {} KiB, the most a skill file may have",
            MAX_SKILL_BYTES / 1024
        ),
    })
}

/// Whether `name` is a valid skill name: `[a-z0-9][a-z0-9_-]{0,63}`.
#[must_use]
pub fn is_valid_skill_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

/// Whether `id` is a valid step id: `[a-z0-9_]+`.
#[must_use]
pub fn is_valid_step_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Parses and validates one `SKILL.md` (`file` names it in problems).
///
/// # Errors
/// Every problem found, each with the file, the 1-based line when known, and the reason.
pub fn parse_skill(file: &str, text: &str) -> Result<Skill, Vec<SkillProblem>> {
    parse_skill_with(file, text, &|_| Ok(()))
}

/// [`parse_skill`], also checking each template's syntax with `check_template` (the template
/// engine is the caller's: the domain has none); a template it refuses is reported at the line
/// of its field with the reason it returns.
///
/// # Errors
/// Every problem found, each with the file, the 1-based line when known, and the reason.
pub fn parse_skill_with(
    file: &str,
    text: &str,
    check_template: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Skill, Vec<SkillProblem>> {
    if let Some(p) = size_problem(file, text.len()) {
        return Err(vec![p]);
    }
    let mut out = Problems {
        file,
        list: Vec::new(),
        check_template,
    };
    let Some((front, body)) = split_front_matter(text, &mut out) else {
        return Err(out.list);
    };
    let layout = Layout::new(front);
    let value: Value = match serde_norway::from_str(front) {
        Ok(v) => v,
        Err(e) => {
            let line = e
                .location()
                .map_or(1, |l| u32::try_from(l.line()).unwrap_or(0) + 1);
            out.at(line, format!("YAML syntax: {}", yaml_reason(&e)));
            return Err(out.list);
        }
    };
    let map = match value {
        Value::Mapping(m) => m,
        Value::Null => {
            out.at(
                1,
                "the front matter is empty; it needs name, description and steps",
            );
            return Err(out.list);
        }
        _ => {
            out.at(2, "the front matter must be a mapping of keys (name, description, hooks, inputs, steps)");
            return Err(out.list);
        }
    };
    let skill = check(&map, &layout, &mut out);
    match skill {
        Some(mut skill) if out.list.is_empty() => {
            skill.body = body.to_owned();
            Ok(skill)
        }
        _ => Err(out.list),
    }
}

/// The problems found so far.
struct Problems<'a> {
    file: &'a str,
    list: Vec<SkillProblem>,
    check_template: &'a dyn Fn(&str) -> Result<(), String>,
}

impl Problems<'_> {
    fn at(&mut self, line: u32, reason: impl Into<String>) {
        self.list.push(SkillProblem {
            file: self.file.to_owned(),
            line: Some(line),
            reason: reason.into(),
        });
    }
}

/// serde_norway's message without its own " at line X column Y" (the line is reported apart,
/// in the file's numbering).
fn yaml_reason(e: &serde_norway::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// The front matter (from the file's line 2) and the body; `None` with a problem when the file
/// has no front matter or it is never closed.
fn split_front_matter<'t>(text: &'t str, out: &mut Problems<'_>) -> Option<(&'t str, &'t str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    if first.trim_end() != "---" {
        out.at(
            1,
            "the file must start with a `---` line that opens the YAML front matter",
        );
        return None;
    }
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Some((front, body));
        }
        offset += line.len();
    }
    out.at(
        1,
        "the front matter opened on line 1 is never closed by a `---` line",
    );
    None
}

/// Where keys and sequence items sit in the front matter's text (block style). Lines are the
/// file's: the front matter starts on line 2.
struct Layout<'t> {
    lines: Vec<&'t str>,
}

/// The file line of the front matter's line at `index`.
fn file_line(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX - 2) + 2
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_item(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    t == "-" || t.starts_with("- ")
}

/// Whether `line` (an item's start stripped of `- `, or any line) starts with `key:`.
fn has_key(line: &str, key: &str) -> bool {
    let mut t = line.trim_start_matches(' ');
    while let Some(rest) = t.strip_prefix("- ") {
        t = rest.trim_start_matches(' ');
    }
    for quoted in [key.to_owned(), format!("\"{key}\""), format!("'{key}'")] {
        if let Some(rest) = t.strip_prefix(&quoted)
            && rest.trim_start_matches(' ').starts_with(':')
        {
            return true;
        }
    }
    false
}

impl<'t> Layout<'t> {
    fn new(front: &'t str) -> Self {
        Self {
            lines: front.lines().collect(),
        }
    }

    /// The index of the top-level `key:` line.
    fn key_index(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| indent(l) == 0 && has_key(l, key))
    }

    /// The file line of the top-level `key:` (line 2 when not found).
    fn key_line(&self, key: &str) -> u32 {
        self.key_index(key).map_or(2, file_line)
    }

    /// The lines of `key`'s value: after its line, up to the next top-level key.
    fn section(&self, key: &str) -> Option<std::ops::Range<usize>> {
        let start = self.key_index(key)?;
        let end = self.lines[start + 1..]
            .iter()
            .position(|l| {
                let t = l.trim_start_matches(' ');
                indent(l) == 0 && !t.is_empty() && !t.starts_with('#') && !is_item(l)
            })
            .map_or(self.lines.len(), |i| start + 1 + i);
        Some(start + 1..end)
    }

    /// The ranges of the items of the block sequence under `key`.
    fn items(&self, key: &str) -> Vec<std::ops::Range<usize>> {
        let Some(section) = self.section(key) else {
            return Vec::new();
        };
        let Some(level) = section
            .clone()
            .filter(|&i| is_item(self.lines[i]))
            .map(|i| indent(self.lines[i]))
            .min()
        else {
            return Vec::new();
        };
        let starts: Vec<usize> = section
            .clone()
            .filter(|&i| is_item(self.lines[i]) && indent(self.lines[i]) == level)
            .collect();
        starts
            .iter()
            .enumerate()
            .map(|(n, &s)| s..starts.get(n + 1).copied().unwrap_or(section.end))
            .collect()
    }

    /// The file line of item `n` under `key` (the key's line when not found).
    fn item_line(&self, key: &str, n: usize) -> u32 {
        self.items(key)
            .get(n)
            .map_or_else(|| self.key_line(key), |r| file_line(r.start))
    }

    /// The file line of `field` in item `n` under `key` (the item's line when not found).
    fn field_line(&self, key: &str, n: usize, field: &str) -> u32 {
        let Some(range) = self.items(key).get(n).cloned() else {
            return self.key_line(key);
        };
        range
            .clone()
            .find(|&i| has_key(self.lines[i], field))
            .map_or(file_line(range.start), file_line)
    }
}

fn key_name(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => {
            serde_norway::to_string(other).map_or_else(|_| "?".to_owned(), |s| s.trim().to_owned())
        }
    }
}

/// What a field's YAML value is, for messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Checks every key; the skill when the parts needed to build one are there.
fn check(map: &Mapping, layout: &Layout<'_>, out: &mut Problems<'_>) -> Option<Skill> {
    for key in map.keys() {
        let k = key_name(key);
        if !KEYS.contains(&k.as_str()) {
            out.at(
                layout.key_line(&k),
                format!(
                    "unknown key `{k}` (expected one of name, description, hooks, inputs, steps)"
                ),
            );
        }
    }
    let name = check_name(map, layout, out);
    let description = match map.get("description") {
        None => {
            out.at(1, "missing `description`: say what the skill does");
            None
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::String(_) | Value::Null) => {
            out.at(layout.key_line("description"), "`description` is empty");
            None
        }
        Some(other) => {
            out.at(
                layout.key_line("description"),
                format!("`description` must be a string, not {}", kind_of(other)),
            );
            None
        }
    };
    let hooks = check_hooks(map, layout, out);
    let inputs = check_inputs(map, layout, out);
    let steps = check_steps(map, name.as_deref(), layout, out);
    Some(Skill {
        name: name?,
        description: description?,
        hooks,
        inputs,
        steps: steps?,
        body: String::new(),
    })
}

fn check_name(map: &Mapping, layout: &Layout<'_>, out: &mut Problems<'_>) -> Option<String> {
    match map.get("name") {
        None => {
            out.at(1, "missing `name`");
            None
        }
        Some(Value::String(s)) if is_valid_skill_name(s) => Some(s.clone()),
        Some(Value::String(s)) => {
            out.at(
                layout.key_line("name"),
                format!(
                    "name {s:?} is not valid: lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 64 characters"
                ),
            );
            None
        }
        Some(other) => {
            out.at(
                layout.key_line("name"),
                format!("`name` must be a string, not {}", kind_of(other)),
            );
            None
        }
    }
}

fn check_hooks(map: &Mapping, layout: &Layout<'_>, out: &mut Problems<'_>) -> Vec<HookPoint> {
    let mut hooks = Vec::new();
    match map.get("hooks") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (n, item) in items.iter().enumerate() {
                let line = layout.item_line("hooks", n);
                match item {
                    Value::String(s) => match s.parse::<HookPoint>() {
                        Ok(p) if !hooks.contains(&p) => hooks.push(p),
                        Ok(_) => {}
                        Err(e) => out.at(line, format!("hooks: {e}")),
                    },
                    other => out.at(
                        line,
                        format!("hooks: a hook point is a string, not {}", kind_of(other)),
                    ),
                }
            }
        }
        Some(other) => out.at(
            layout.key_line("hooks"),
            format!(
                "`hooks` must be a list of hook points, not {}",
                kind_of(other)
            ),
        ),
    }
    hooks
}

fn check_inputs(map: &Mapping, layout: &Layout<'_>, out: &mut Problems<'_>) -> Vec<SkillInput> {
    let mut inputs: Vec<SkillInput> = Vec::new();
    match map.get("inputs") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (n, item) in items.iter().enumerate() {
                match serde_norway::from_value::<SkillInput>(item.clone()) {
                    Ok(input) => {
                        let line = layout.field_line("inputs", n, "name");
                        if !is_identifier(&input.name) {
                            out.at(
                                line,
                                format!(
                                    "input name {:?} is not valid: letters, digits and `_`, not starting with a digit",
                                    input.name
                                ),
                            );
                        } else if inputs.iter().any(|i| i.name == input.name) {
                            out.at(line, format!("input {:?} is declared twice", input.name));
                        } else {
                            inputs.push(input);
                        }
                    }
                    Err(e) => {
                        let reason = yaml_reason(&e);
                        let line = offending_field(&reason).map_or_else(
                            || layout.item_line("inputs", n),
                            |f| layout.field_line("inputs", n, f),
                        );
                        out.at(line, format!("inputs[{n}]: {reason}"));
                    }
                }
            }
        }
        Some(other) => out.at(
            layout.key_line("inputs"),
            format!("`inputs` must be a list, not {}", kind_of(other)),
        ),
    }
    inputs
}

fn is_identifier(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The field a serde message is about (`unknown field `x``, `missing field `x``,
/// `unknown variant` → `type`).
fn offending_field(reason: &str) -> Option<&str> {
    if reason.starts_with("unknown variant") {
        return Some("type");
    }
    for prefix in ["unknown field `", "duplicate field `"] {
        if let Some(rest) = reason.strip_prefix(prefix) {
            return rest.split('`').next();
        }
    }
    None
}

fn check_steps(
    map: &Mapping,
    name: Option<&str>,
    layout: &Layout<'_>,
    out: &mut Problems<'_>,
) -> Option<Vec<SkillStep>> {
    let items = match map.get("steps") {
        None => {
            out.at(1, "missing `steps`: a skill needs at least one step");
            return None;
        }
        Some(Value::Sequence(items)) => items,
        Some(Value::Null) => {
            out.at(
                layout.key_line("steps"),
                "`steps` is empty: a skill needs at least one step",
            );
            return None;
        }
        Some(other) => {
            out.at(
                layout.key_line("steps"),
                format!("`steps` must be a list, not {}", kind_of(other)),
            );
            return None;
        }
    };
    if items.is_empty() {
        out.at(
            layout.key_line("steps"),
            "`steps` is empty: a skill needs at least one step",
        );
        return None;
    }
    if items.len() > MAX_STEPS {
        out.at(
            layout.key_line("steps"),
            format!(
                "{} steps, more than the {MAX_STEPS} a skill may have",
                items.len()
            ),
        );
    }
    // every id, by position, as written (also of steps that did not parse)
    let ids: Vec<Option<&str>> = items
        .iter()
        .map(|i| i.get("id").and_then(Value::as_str))
        .collect();
    let mut first_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut all_parsed = true;
    for (n, item) in items.iter().enumerate() {
        if let Some(id) = ids[n] {
            let line = layout.field_line("steps", n, "id");
            if !is_valid_step_id(id) {
                out.at(
                    line,
                    format!("step id {id:?} is not valid: lowercase letters, digits and `_`"),
                );
            } else if let Some(first) = first_of.get(id) {
                out.at(
                    line,
                    format!("step id {id:?} is used twice (first by step {})", first + 1),
                );
            } else {
                first_of.insert(id, n);
            }
        }
        match serde_norway::from_value::<SkillStep>(item.clone()) {
            Ok(step) => {
                check_step(&step, n, &ids, name, layout, out);
                steps.push(step);
            }
            Err(e) => {
                all_parsed = false;
                let reason = yaml_reason(&e);
                let line = offending_field(&reason).map_or_else(
                    || layout.item_line("steps", n),
                    |f| layout.field_line("steps", n, f),
                );
                let which =
                    ids[n].map_or_else(|| format!("step {}", n + 1), |id| format!("step {id:?}"));
                out.at(line, format!("{which}: {}", step_reason(&reason)));
            }
        }
    }
    all_parsed.then_some(steps)
}

/// serde's messages about the step type, in the file's terms.
fn step_reason(reason: &str) -> String {
    if reason.starts_with("missing field `type`") || reason.contains("missing field `type`") {
        return "missing `type` (one of run_command, llm_call, file_write, git_diff, agent, subskill)"
            .to_owned();
    }
    if let Some(rest) = reason.strip_prefix("unknown variant `") {
        let variant = rest.split('`').next().unwrap_or_default();
        return format!(
            "unknown step type `{variant}` (expected one of run_command, llm_call, file_write, git_diff, agent, subskill)"
        );
    }
    reason.to_owned()
}

/// The semantic rules of one parsed step.
fn check_step(
    step: &SkillStep,
    n: usize,
    ids: &[Option<&str>],
    skill_name: Option<&str>,
    layout: &Layout<'_>,
    out: &mut Problems<'_>,
) {
    let line = |field: &str| layout.field_line("steps", n, field);
    let which = format!("step {:?}", step.id);
    for (field, template) in templates(&step.kind) {
        if let Err(why) = (out.check_template)(template) {
            out.at(
                line(field),
                format!("{which}: `{field}` is not a valid template: {why}"),
            );
        }
        for referenced in step_references(template) {
            let earlier = ids[..n].contains(&Some(referenced));
            if earlier {
                continue;
            }
            let reason = if referenced == step.id {
                format!(
                    "{which}: `{field}` refers to `steps.{referenced}`, its own output, which does not exist yet"
                )
            } else if ids[n..].contains(&Some(referenced)) {
                format!(
                    "{which}: `{field}` refers to `steps.{referenced}`, a later step; only earlier steps' outputs can be used"
                )
            } else {
                format!(
                    "{which}: `{field}` refers to `steps.{referenced}`, which is not a step of this skill"
                )
            };
            out.at(line(field), reason);
        }
    }
    match &step.kind {
        StepKind::RunCommand { timeout_secs, .. } => {
            if *timeout_secs == Some(0) {
                out.at(
                    line("timeout_secs"),
                    format!("{which}: `timeout_secs` must be at least 1"),
                );
            }
        }
        StepKind::LlmCall {
            output_schema,
            max_tokens,
            ..
        } => {
            if let Some(schema) = output_schema
                && !schema.is_object()
            {
                out.at(
                    line("output_schema"),
                    format!("{which}: `output_schema` must be a JSON Schema object"),
                );
            }
            if *max_tokens == Some(0) {
                out.at(
                    line("max_tokens"),
                    format!("{which}: `max_tokens` must be at least 1"),
                );
            }
        }
        StepKind::FileWrite { path, .. } => {
            if let Some(why) = unsafe_path(path) {
                out.at(line("path"), format!("{which}: `path` {why}"));
            }
        }
        StepKind::GitDiff { .. } => {}
        StepKind::Agent { max_turns, .. } => {
            if *max_turns == 0 || *max_turns > MAX_AGENT_TURNS {
                out.at(
                    line("max_turns"),
                    format!("{which}: `max_turns` must be between 1 and {MAX_AGENT_TURNS}, not {max_turns}"),
                );
            }
        }
        StepKind::Subskill { skill, .. } => {
            if Some(skill.as_str()) == skill_name {
                out.at(
                    line("skill"),
                    format!("{which}: a skill cannot run itself as a subskill"),
                );
            } else if !is_valid_skill_name(skill) {
                out.at(
                    line("skill"),
                    format!("{which}: {skill:?} is not a valid skill name"),
                );
            }
        }
    }
}

/// Why a `file_write` path (a template) could leave the worktree, if it could.
fn unsafe_path(path: &str) -> Option<&'static str> {
    let p = path.trim();
    if p.is_empty() {
        return Some("is empty");
    }
    let bytes = p.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if p.starts_with(['/', '\\', '~']) || drive {
        return Some("must be relative to the worktree, not absolute");
    }
    if p.split(['/', '\\']).any(|c| c.trim() == "..") {
        return Some("must not contain `..`");
    }
    None
}

/// Every template of a step with its field name.
fn templates(kind: &StepKind) -> Vec<(&'static str, &str)> {
    match kind {
        StepKind::RunCommand { command, .. } => vec![("command", command)],
        StepKind::LlmCall { role, template, .. } => vec![("role", role), ("template", template)],
        StepKind::FileWrite { path, content, .. } => vec![("path", path), ("content", content)],
        StepKind::GitDiff { base } => base.as_deref().map(|b| ("base", b)).into_iter().collect(),
        StepKind::Agent {
            instructions,
            tools,
            ..
        } => std::iter::once(("instructions", instructions.as_str()))
            .chain(tools.iter().map(|t| ("tools", t.as_str())))
            .collect(),
        StepKind::Subskill { skill, inputs } => std::iter::once(("skill", skill.as_str()))
            .chain(inputs.values().map(|v| ("inputs", v.as_str())))
            .collect(),
    }
}

/// The step ids a template reads: every `steps.<id>` (not part of a longer name).
fn step_references(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let bytes = template.as_bytes();
    let mut from = 0;
    while let Some(at) = template[from..].find("steps.") {
        let start = from + at;
        from = start + "steps.".len();
        let preceded = start > 0 && {
            let b = bytes[start - 1];
            b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
        };
        if preceded {
            continue;
        }
        let rest = &template[from..];
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 && !found.contains(&&rest[..len]) {
            found.push(&rest[..len]);
        }
    }
    found
}

#[cfg(test)]
mod tests;
