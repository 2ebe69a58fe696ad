//! `${VAR}` expansion inside string values and `FOREMAN_<SECTION>_<KEY>` overrides.

use std::collections::BTreeMap;

use crate::error::ConfigError;

/// Replaces `${VAR}` and `${VAR:-default}` in every string value. Unset variables expand to the
/// default, or to the empty string.
pub(crate) fn expand_vars(table: &mut toml::Table, vars: &BTreeMap<String, String>) {
    for (_, value) in table.iter_mut() {
        expand_value(value, vars);
    }
}

fn expand_value(value: &mut toml::Value, vars: &BTreeMap<String, String>) {
    match value {
        toml::Value::String(s) => *s = expand_str(s, vars),
        toml::Value::Array(items) => items.iter_mut().for_each(|v| expand_value(v, vars)),
        toml::Value::Table(t) => expand_vars(t, vars),
        _ => {}
    }
}

pub(crate) fn expand_str(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = &after[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        match vars.get(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => out.push_str(default.unwrap_or("")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Overlays `FOREMAN_<SECTION>_<KEY>` on every scalar of the top-level sections (arrays of
/// strings take a comma-separated list). Variables that match no key are ignored, since the
/// CLI uses other `FOREMAN_*` variables.
pub(crate) fn apply_overrides(
    root: &mut toml::Value,
    vars: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let Some(root) = root.as_table_mut() else {
        return Ok(());
    };
    for (section, value) in root.iter_mut() {
        let Some(table) = value.as_table_mut() else {
            continue;
        };
        for (key, leaf) in table.iter_mut() {
            let name = format!("FOREMAN_{}_{}", section.to_uppercase(), key.to_uppercase());
            let Some(raw) = vars.get(&name) else { continue };
            let bad = |expected: &str| ConfigError::Invalid {
                key: format!("{section}.{key} (from {name})"),
                value: raw.clone(),
                reason: format!("expected {expected}"),
            };
            *leaf = match leaf {
                toml::Value::String(_) => toml::Value::String(raw.clone()),
                toml::Value::Integer(_) => {
                    toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
                }
                toml::Value::Float(_) => {
                    toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?)
                }
                toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
                    "true" | "1" | "yes" | "on" => true,
                    "false" | "0" | "no" | "off" => false,
                    _ => return Err(bad("true or false")),
                }),
                toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => {
                    toml::Value::Array(
                        raw.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| toml::Value::String(s.to_owned()))
                            .collect(),
                    )
                }
                _ => continue,
            };
        }
    }
    Ok(())
}
