//! The `llm_call` step's output schema: the answer parsed as JSON (a ```` ```json ```` fence
//! tolerated) and checked against a subset of JSON Schema — `type`, `properties`, `required`,
//! `items` and `enum`. Other keywords are ignored.

use serde_json::Value;

/// The JSON in a model's answer: the whole text, or the inside of its first fenced block.
///
/// # Errors
/// The text is not JSON; the message says where parsing stopped.
pub fn parse_answer(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let inner = fenced(trimmed).unwrap_or(trimmed);
    serde_json::from_str(inner).map_err(|e| format!("the answer is not JSON: {e}"))
}

fn fenced(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    let end = body.find("```")?;
    Some(body[..end].trim())
}

/// Checks `value` against `schema`.
///
/// # Errors
/// The first violation, with its path (`$.items[2].name: expected string, got number`).
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "$")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(v: &Value, ty: &str) -> bool {
    let actual = type_name(v);
    actual == ty || (ty == "number" && actual == "integer")
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(ty) = schema.get("type") {
        let allowed: Vec<&str> = match ty {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| has_type(value, t)) {
            return Err(format!(
                "{path}: expected {}, got {}",
                allowed.join(" or "),
                type_name(value)
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        return Err(format!(
            "{path}: {value} is not one of {}",
            Value::Array(options.clone())
        ));
    }
    if let Value::Object(map) = value {
        if let Some(Value::Array(required)) = schema.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    return Err(format!("{path}: missing required property {key:?}"));
                }
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (key, sub) in props {
                if let Some(v) = map.get(key) {
                    check(sub, v, &format!("{path}.{key}"))?;
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(item_schema, v, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "required": ["entry", "kind"], "properties": {
            "entry": {"type": "string"},
            "kind": {"enum": ["added", "fixed"]},
            "refs": {"type": "array", "items": {"type": "object", "required": ["id"],
                "properties": {"id": {"type": "integer"}}}},
            "score": {"type": "number"}
        }})
    }

    #[test]
    fn valid_values_pass() {
        let v = json!({"entry": "x", "kind": "added", "refs": [{"id": 1}], "score": 2});
        validate(&schema(), &v).unwrap();
        validate(&json!({"type": ["string", "null"]}), &Value::Null).unwrap();
        // unknown keywords are ignored
        validate(&json!({"minLength": 3}), &json!("a")).unwrap();
    }

    #[test]
    fn the_first_error_is_named_by_its_path() {
        let cases = [
            (json!([]), "$: expected object, got array"),
            (
                json!({"kind": "added"}),
                "$: missing required property \"entry\"",
            ),
            (
                json!({"entry": 1, "kind": "added"}),
                "$.entry: expected string, got integer",
            ),
            (
                json!({"entry": "x", "kind": "removed"}),
                "$.kind: \"removed\" is not one of",
            ),
            (
                json!({"entry": "x", "kind": "fixed", "refs": [{"id": 1}, {"id": "2"}]}),
                "$.refs[1].id: expected integer, got string",
            ),
            (
                json!({"entry": "x", "kind": "fixed", "refs": [{}]}),
                "$.refs[0]: missing required property \"id\"",
            ),
            (
                json!({"entry": "x", "kind": "fixed", "score": "high"}),
                "$.score: expected number, got string",
            ),
        ];
        for (value, want) in cases {
            let err = validate(&schema(), &value).unwrap_err();
            assert!(err.starts_with(want), "{value}: {err}");
        }
    }

    #[test]
    fn answers_may_be_fenced() {
        assert_eq!(parse_answer(" {\"a\": 1} ").unwrap(), json!({"a": 1}));
        assert_eq!(
            parse_answer("Here it is:\n```json\n{\"a\": [1, 2]}\n```\nDone.").unwrap(),
            json!({"a": [1, 2]})
        );
        assert_eq!(parse_answer("```\n\"s\"\n```").unwrap(), json!("s"));
        assert!(parse_answer("not json").unwrap_err().contains("not JSON"));
    }
}
