//! Architecture invariants, stated as absences and checked over `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Crates that do I/O and must never enter `foreman-domain`'s dependency tree.
const IO_CRATES: &[&str] = &[
    "tokio",
    "sea-orm",
    "sqlx",
    "sqlx-core",
    "axum",
    "hyper",
    "reqwest",
    "mio",
    "tower",
];

/// Adapter crates the pipeline must not depend on (it knows ports only).
const ADAPTERS: &[&str] = &[
    "foreman-store",
    "foreman-llm",
    "foreman-git",
    "foreman-tracker",
    "foreman-api",
];

/// Runs every check; returns one line per problem.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let graph = Graph::new(&meta);
    let mut problems = Vec::new();
    let domain = graph.normal_closure("foreman-domain");
    for bad in IO_CRATES {
        if domain.contains(*bad) {
            problems.push(format!(
                "foreman-domain must not depend on {bad} (it does no I/O)"
            ));
        }
    }
    if graph.ids.contains_key("foreman-pipeline") {
        let direct = graph.direct_normal("foreman-pipeline");
        for adapter in ADAPTERS {
            if direct.contains(*adapter) {
                problems.push(format!(
                    "foreman-pipeline must code against ports, not {adapter}"
                ));
            }
        }
    }
    for (name, id) in &graph.ids {
        if name.starts_with("foreman-") && name.as_str() != "foreman-testkit" {
            let direct = graph.direct_normal_by_id(id);
            if direct.contains("foreman-testkit") || direct.contains("foreman-fakes") {
                problems.push(format!("{name} has test support as a normal dependency"));
            }
        }
    }
    Ok(problems)
}

struct Graph {
    ids: BTreeMap<String, String>,
    names: BTreeMap<String, String>,
    normal_deps: BTreeMap<String, Vec<String>>,
}

impl Graph {
    fn new(meta: &Value) -> Self {
        let mut names = BTreeMap::new();
        let mut ids = BTreeMap::new();
        let members: BTreeSet<&str> = meta["workspace_members"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for p in meta["packages"].as_array().into_iter().flatten() {
            let (Some(id), Some(name)) = (p["id"].as_str(), p["name"].as_str()) else {
                continue;
            };
            names.insert(id.to_owned(), name.to_owned());
            if members.contains(id) {
                ids.insert(name.to_owned(), id.to_owned());
            }
        }
        let mut normal_deps = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
            let Some(id) = node["id"].as_str() else {
                continue;
            };
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|k| k["kind"].is_null())
                })
                .filter_map(|d| d["pkg"].as_str().map(str::to_owned))
                .collect();
            normal_deps.insert(id.to_owned(), deps);
        }
        Self {
            ids,
            names,
            normal_deps,
        }
    }

    fn direct_normal(&self, name: &str) -> BTreeSet<String> {
        self.ids
            .get(name)
            .map(|id| self.direct_normal_by_id(id))
            .unwrap_or_default()
    }

    fn direct_normal_by_id(&self, id: &str) -> BTreeSet<String> {
        self.normal_deps
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|d| self.names.get(d).cloned())
            .collect()
    }

    fn normal_closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = self.ids.get(name).cloned().into_iter().collect();
        while let Some(id) = stack.pop() {
            for dep in self.normal_deps.get(&id).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        seen.iter()
            .filter_map(|id| self.names.get(id).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The invariants hold for this workspace (runs under `cargo test`, not only `cargo xtask`).
    #[test]
    fn workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let problems = check(root).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn detects_io_in_the_domain() {
        let meta = serde_json::json!({
            "workspace_members": ["d"],
            "packages": [
                {"id": "d", "name": "foreman-domain"},
                {"id": "s", "name": "serde"},
                {"id": "t", "name": "tokio"}
            ],
            "resolve": {"nodes": [
                {"id": "d", "deps": [{"pkg": "s", "dep_kinds": [{"kind": null}]}]},
                {"id": "s", "deps": [{"pkg": "t", "dep_kinds": [{"kind": null}]}]}
            ]}
        });
        let g = Graph::new(&meta);
        assert!(g.normal_closure("foreman-domain").contains("tokio"));
        let meta_dev = serde_json::json!({
            "workspace_members": ["d"],
            "packages": [{"id": "d", "name": "foreman-domain"}, {"id": "t", "name": "tokio"}],
            "resolve": {"nodes": [
                {"id": "d", "deps": [{"pkg": "t", "dep_kinds": [{"kind": "dev"}]}]}
            ]}
        });
        assert!(
            !Graph::new(&meta_dev)
                .normal_closure("foreman-domain")
                .contains("tokio")
        );
    }
}
