//! `foreman skills`: the discovered skills (`GET /api/skills`): `list [--project P]`.

use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;

use super::Ctx;
use crate::out::{self, Colour};
use crate::table;

/// `foreman skills …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SkillsCommand {
    /// Every skill file found (repository, data directory, built in): its hook points, step
    /// types, whether it loaded, and each problem as `file:line: reason`.
    List {
        /// Only the skills this project sees: its repository's and the global ones.
        #[arg(long)]
        project: Option<String>,
    },
}

/// The skills of a `GET /api/skills` answer (a list, or the list under `skills`).
fn skills_of(body: &Value) -> Vec<Value> {
    match body.get("skills") {
        Some(Value::Array(items)) => items.clone(),
        _ => out::list_of(body),
    }
}

/// Whether `skill` is seen by `project`: a global skill, or one of that project's repository.
fn seen_by(skill: &Value, project: Option<&str>) -> bool {
    match (project, skill["project"].as_str()) {
        (Some(p), Some(own)) => own == p,
        _ => true,
    }
}

/// The strings of an array field.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A skill's hook points: `hooks`, or those of the parsed skill.
fn hooks(skill: &Value) -> Vec<String> {
    let flat = strings(&skill["hooks"]);
    if flat.is_empty() {
        strings(&skill["skill"]["hooks"])
    } else {
        flat
    }
}

/// A skill's step types, each once, in order: `step_types`, or those of the parsed skill.
fn step_types(skill: &Value) -> Vec<String> {
    let mut all = strings(&skill["step_types"]);
    if all.is_empty() {
        all = skill["skill"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|step| step["type"].as_str().map(str::to_owned))
            .collect();
    }
    let mut types: Vec<String> = Vec::new();
    for t in all {
        if !types.contains(&t) {
            types.push(t);
        }
    }
    types
}

/// A skill's name; a source that could not be read at all has none.
fn name(skill: &Value) -> String {
    skill["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("(unreadable)")
        .to_owned()
}

/// A skill's problems as `file:line: reason` (`file: reason` without a line).
fn problems(skill: &Value) -> Vec<String> {
    skill["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            if let Some(s) = p.as_str() {
                return s.to_owned();
            }
            let file = p["file"]
                .as_str()
                .or_else(|| skill["path"].as_str())
                .unwrap_or("?");
            let reason = p["reason"].as_str().unwrap_or("invalid");
            match p["line"].as_u64() {
                Some(line) => format!("{file}:{line}: {reason}"),
                None => format!("{file}: {reason}"),
            }
        })
        .collect()
}

/// Whether a skill loaded: `valid`, or no problems.
fn valid(skill: &Value) -> bool {
    skill["valid"]
        .as_bool()
        .unwrap_or_else(|| problems(skill).is_empty())
}

/// The table's rows and the problem lines under it.
fn render(skills: &[Value], colours: bool) -> String {
    let rows = skills
        .iter()
        .map(|s| {
            let status = if !valid(s) {
                out::paint("invalid", Colour::Red, colours)
            } else if s["shadowed"] == true {
                out::paint("shadowed", Colour::Yellow, colours)
            } else {
                out::paint("valid", Colour::Green, colours)
            };
            vec![
                name(s),
                out::field(s, "source"),
                s["project"].as_str().unwrap_or("-").to_owned(),
                hooks(s).join(","),
                step_types(s).join(","),
                status,
            ]
        })
        .collect();
    let mut text = table::render(
        &["NAME", "SOURCE", "PROJECT", "HOOKS", "STEPS", "STATUS"],
        rows,
    );
    let lines: Vec<String> = skills
        .iter()
        .flat_map(|s| {
            let name = out::field(s, "name");
            problems(s).into_iter().map(move |p| format!("{name}: {p}"))
        })
        .collect();
    if !lines.is_empty() {
        text.push_str("\n\nproblems:\n");
        text.push_str(&lines.join("\n"));
    }
    text
}

/// Runs `foreman skills …`.
pub(crate) async fn skills(ctx: &Ctx, command: SkillsCommand) -> Result<()> {
    match command {
        SkillsCommand::List { project } => {
            let query: Vec<(&str, String)> =
                project.iter().map(|p| ("project", p.clone())).collect();
            let body = ctx.client.get("/api/skills", &query).await?;
            let shown: Vec<Value> = skills_of(&body)
                .into_iter()
                .filter(|s| seen_by(s, project.as_deref()))
                .collect();
            if ctx.json {
                let mut answer = body;
                if let Some(map) = answer.as_object_mut() {
                    map.insert("skills".to_owned(), Value::Array(shown));
                } else {
                    answer = Value::Array(shown);
                }
                out::json(&answer);
            } else if body["available"] == false {
                println!("this server runs without a skill catalog");
            } else {
                println!("{}", render(&shown, ctx.colours));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn catalogue() -> Value {
        json!({"skills": [
            {"name": "changelog", "source": "builtin", "path": "builtin:changelog",
             "skill": {"name": "changelog", "hooks": ["pre_pr"],
                       "steps": [{"id": "a", "type": "llm_call"}, {"id": "b", "type": "file_write"},
                                 {"id": "c", "type": "llm_call"}]},
             "problems": [], "shadowed": true},
            {"name": "changelog", "source": "repository", "project": "web",
             "path": ".foreman/skills/changelog/SKILL.md",
             "skill": {"hooks": ["pre_pr"], "steps": [{"id": "w", "type": "file_write"}]}},
            {"name": "broken", "source": "data_dir", "path": "/d/skills/broken/SKILL.md",
             "problems": [{"file": "/d/skills/broken/SKILL.md", "line": 4,
                           "reason": "unknown step type `shell`"},
                          {"file": "/d/skills/broken/SKILL.md", "reason": "no steps"}]}
        ]})
    }

    #[test]
    fn rows_show_hooks_distinct_step_types_and_status() {
        let text = render(&skills_of(&catalogue()), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(
            lines[1].contains("changelog")
                && lines[1].contains("builtin")
                && lines[1].contains("pre_pr")
                && lines[1].contains("llm_call,file_write")
                && lines[1].ends_with("shadowed"),
            "{text}"
        );
        assert!(
            lines[2].contains("web") && lines[2].ends_with("valid"),
            "{text}"
        );
        assert!(lines[3].ends_with("invalid"), "{text}");
        assert!(
            text.ends_with(
                "problems:\nbroken: /d/skills/broken/SKILL.md:4: unknown step type `shell`\n\
                 broken: /d/skills/broken/SKILL.md: no steps"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_project_sees_its_own_and_the_global_skills() {
        let all = skills_of(&catalogue());
        let seen = |p: Option<&str>| all.iter().filter(|s| seen_by(s, p)).count();
        assert_eq!(seen(None), 3);
        assert_eq!(seen(Some("web")), 3);
        assert_eq!(seen(Some("api")), 2);
    }

    #[test]
    fn flat_fields_and_bare_lists_are_read_too() {
        let body = json!([{"name": "x", "source": "builtin", "hooks": ["post_clone"],
                           "step_types": ["run_command", "llm_call", "run_command"],
                           "valid": false, "problems": ["x: bad"]},
                          {"name": "", "source": "repository", "valid": false,
                           "problems": [{"file": "web:.foreman/skills", "line": null,
                                         "reason": "unreadable"}]}]);
        let skills = skills_of(&body);
        assert_eq!(skills.len(), 2);
        assert_eq!(hooks(&skills[0]), ["post_clone"]);
        assert_eq!(step_types(&skills[0]), ["run_command", "llm_call"]);
        assert_eq!(name(&skills[1]), "(unreadable)");
        assert_eq!(problems(&skills[1]), ["web:.foreman/skills: unreadable"]);
        assert!(!valid(&skills[0]));
        assert_eq!(problems(&skills[0]), ["x: bad"]);
        assert!(render(&[], false).ends_with("(none)"));
    }
}
