//! Step templates: minijinja (the prompt library's engine) with strict undefined, so a name a
//! template uses and the run does not define fails the step instead of rendering as nothing.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// Renders `source` with `vars`; the error names the field and says what is wrong.
pub(crate) fn render(field: &str, source: &str, vars: &Value) -> Result<String, String> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
        return Ok(source.to_owned());
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let mut out = env
        .render_str(source, minijinja::value::Serde(vars))
        .map_err(|e| format!("template {field}: {}", describe(&e)))?;
    // the engine drops a template's last newline; a file's content keeps it
    if source.ends_with('\n') && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

fn describe(e: &minijinja::Error) -> String {
    let mut text = e.kind().to_string();
    if let Some(detail) = e.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    if let Some(line) = e.line() {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

/// Whether `source` reads `name` (a cheap test that spares computing what no template uses).
pub(crate) fn mentions(source: &str, name: &str) -> bool {
    source.contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_and_refuses_undefined_names() {
        let vars = json!({"ticket": {"title": "Add x"}, "steps": {"a": {"output": "out"}}});
        assert_eq!(
            render("t", "{{ ticket.title }}: {{ steps.a.output }}", &vars).unwrap(),
            "Add x: out"
        );
        let err = render("command", "echo {{ ticket.nope }}", &vars).unwrap_err();
        assert!(err.starts_with("template command: undefined"), "{err}");
        let err = render("command", "echo {{ missing }}", &vars).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
        let err = render("content", "{% if %}", &vars).unwrap_err();
        assert!(err.contains("syntax"), "{err}");
        // plain text is returned as it is, and a trailing newline kept
        assert_eq!(render("t", "plain\n", &vars).unwrap(), "plain\n");
        assert_eq!(render("t", "{{ 1 }}\n", &vars).unwrap(), "1\n");
    }
}
