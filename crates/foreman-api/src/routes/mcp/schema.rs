//! Tools' input schemas, made from the REST routes' own documentation (the query parameters
//! and request bodies `utoipa` describes), so a tool and its route cannot drift apart; and
//! tool arguments read with the routes' own deserializers, so errors name the field alike.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use utoipa::openapi::Required;
use utoipa::openapi::path::ParameterIn;
use utoipa::{IntoParams, PartialSchema};

use super::rpc::RpcError;
use crate::error::ApiError;

/// An object schema with one property per query parameter of `T` (their descriptions and
/// bounds included), closed to other properties.
pub(crate) fn of_params<T: IntoParams>() -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in T::into_params(|| Some(ParameterIn::Query)) {
        let mut schema = p
            .schema
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_else(|| json!({}));
        optional_not_null(&mut schema);
        if let (Some(d), Some(obj)) = (p.description, schema.as_object_mut()) {
            obj.insert("description".to_owned(), Value::String(d));
        }
        if p.required == Required::True {
            required.push(Value::String(p.name.clone()));
        }
        properties.insert(p.name, schema);
    }
    object(properties, required)
}

/// The schema of a request body type, closed to other properties.
pub(crate) fn of_body<T: PartialSchema>() -> Value {
    let mut schema = serde_json::to_value(T::schema()).unwrap_or_else(|_| json!({}));
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("additionalProperties".to_owned(), Value::Bool(false));
        if let Some(Value::Object(properties)) = obj.get_mut("properties") {
            properties.values_mut().for_each(optional_not_null);
        }
    }
    schema
}

/// An optional argument is left out rather than given as `null`: `{"oneOf": [X, {"type":
/// "null"}]}` becomes X (keeping the description), which tool-calling models read more easily.
/// `null` is still accepted.
fn optional_not_null(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let Some(Value::Array(alternatives)) = obj.get("oneOf") else {
        return;
    };
    let is_null = |v: &Value| v == &json!({"type": "null"});
    let [a, b] = &alternatives[..] else { return };
    let inner = match (is_null(a), is_null(b)) {
        (true, false) => b.clone(),
        (false, true) => a.clone(),
        _ => return,
    };
    let Value::Object(inner) = inner else { return };
    obj.remove("oneOf");
    for (k, v) in inner {
        obj.entry(k).or_insert(v);
    }
}

/// A closed object schema.
pub(crate) fn object(properties: Map<String, Value>, required: Vec<Value>) -> Value {
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty()
        && let Some(obj) = schema.as_object_mut()
    {
        obj.insert("required".to_owned(), Value::Array(required));
    }
    schema
}

/// Reads tool arguments as `T` through the same JSON reader as a request body, after checking
/// that every argument is one the schema names. Errors are `-32602` naming the argument.
pub(crate) fn read<T: DeserializeOwned>(schema: &Value, args: &Value) -> Result<T, RpcError> {
    let Some(given) = args.as_object() else {
        return Err(RpcError::invalid_params(
            "invalid arguments: expected an object",
        ));
    };
    let known = schema.get("properties").and_then(Value::as_object);
    if let Some(unknown) = given
        .keys()
        .find(|k| !known.is_some_and(|p| p.contains_key(*k)))
    {
        let expected: Vec<&str> = known
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let expected = if expected.is_empty() {
            "none".to_owned()
        } else {
            expected.join(", ")
        };
        return Err(RpcError::invalid_params(format!(
            "invalid arguments: unknown argument `{unknown}`; expected: {expected}"
        )));
    }
    let bytes = serde_json::to_vec(args).map_err(|e| RpcError::invalid_params(e.to_string()))?;
    axum::Json::<T>::from_bytes(&bytes)
        .map(|axum::Json(v)| v)
        .map_err(|r| {
            let text = ApiError::from(r).to_string();
            let detail = text.strip_prefix("invalid request body: ").unwrap_or(&text);
            RpcError::invalid_params(format!("invalid arguments: {detail}"))
        })
}

#[cfg(test)]
#[allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]
mod tests {
    use super::*;
    use crate::validate::Int;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, IntoParams)]
    #[allow(dead_code, reason = "read by the tests through serde")]
    struct Q {
        /// How many.
        #[param(inline)]
        limit: Option<Int<1, 5>>,
        /// Needed.
        q: String,
    }

    #[test]
    fn a_params_schema_keeps_descriptions_bounds_and_required() {
        let s = of_params::<Q>();
        assert_eq!(s["type"], "object");
        assert_eq!(s["required"], json!(["q"]));
        assert_eq!(s["properties"]["limit"]["description"], "How many.");
        assert_eq!(s["properties"]["limit"]["maximum"], 5, "{s}");
        assert_eq!(s["additionalProperties"], false);
    }

    #[test]
    fn arguments_are_checked_and_errors_name_the_argument() {
        let s = of_params::<Q>();
        let q: Q = read(&s, &json!({"q": "x", "limit": 2})).unwrap();
        assert_eq!(q.q, "x");
        let e = read::<Q>(&s, &json!({"q": "x", "limit": 9})).unwrap_err();
        assert_eq!(e.code, super::super::rpc::INVALID_PARAMS);
        assert!(
            e.message.starts_with("invalid arguments: limit:"),
            "{}",
            e.message
        );
        let e = read::<Q>(&s, &json!({"q": "x", "nope": 1})).unwrap_err();
        assert!(
            e.message.contains("unknown argument `nope`"),
            "{}",
            e.message
        );
        let e = read::<Q>(&s, &json!([1])).unwrap_err();
        assert!(e.message.contains("expected an object"), "{}", e.message);
    }
}
