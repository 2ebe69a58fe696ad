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

/// Adapter crates the pipeline must not depend on (it knows ports only). `foreman-agent` is
/// one: the pipeline sees the coding agent through the `AgentRunner` port.
const ADAPTERS: &[&str] = &[
    "foreman-store",
    "foreman-llm",
    "foreman-git",
    "foreman-tracker",
    "foreman-api",
    "foreman-agent",
    "foreman-rest",
    "foreman-channel",
    "foreman-mcp",
    "foreman-deliver",
];

/// Pairs `(a, b)`: `a` must not depend on `b` in any way (normal, dev or build). The tracker
/// and git host adapters share `foreman-rest` instead of each other.
const NEVER: &[(&str, &str)] = &[("foreman-tracker", "foreman-git")];

/// Workspace crates `foreman-rest` may depend on: it is below every adapter that uses it.
const REST_MAY_USE: &[&str] = &["foreman-domain"];

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
    Ok(check_graph(&Graph::new(&meta)))
}

/// Every dependency rule over one resolved graph; one line per problem.
fn check_graph(graph: &Graph) -> Vec<String> {
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
    // adapters know ports, not the application that uses them
    for adapter in ADAPTERS {
        if graph.direct_normal(adapter).contains("foreman-pipeline") {
            problems.push(format!(
                "{adapter} is an adapter and must not depend on foreman-pipeline"
            ));
        }
    }
    for (from, to) in NEVER {
        if graph.direct_any(from).contains(*to) {
            problems.push(format!("{from} must not depend on {to}"));
        }
    }
    if graph.ids.contains_key("foreman-rest") {
        for dep in graph.direct_normal("foreman-rest") {
            if graph.ids.contains_key(&dep) && !REST_MAY_USE.contains(&dep.as_str()) {
                problems.push(format!(
                    "foreman-rest must depend on no other adapter crate, but depends on {dep}"
                ));
            }
        }
    }
    problems
}

struct Graph {
    ids: BTreeMap<String, String>,
    names: BTreeMap<String, String>,
    normal_deps: BTreeMap<String, Vec<String>>,
    /// Every dependency, whatever its kind (normal, dev, build).
    all_deps: BTreeMap<String, Vec<String>>,
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
        let mut all_deps = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
            let Some(id) = node["id"].as_str() else {
                continue;
            };
            let all: Vec<String> = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["pkg"].as_str().map(str::to_owned))
                .collect();
            all_deps.insert(id.to_owned(), all);
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
            all_deps,
        }
    }

    /// Direct dependencies of every kind (normal, dev, build) of workspace member `name`.
    fn direct_any(&self, name: &str) -> BTreeSet<String> {
        self.ids
            .get(name)
            .and_then(|id| self.all_deps.get(id))
            .into_iter()
            .flatten()
            .filter_map(|d| self.names.get(d).cloned())
            .collect()
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

    /// Synthetic metadata: workspace members `names`, and edges `(from, to, kind)` with kind
    /// `None` for a normal dependency.
    fn graph(names: &[&str], edges: &[(&str, &str, Option<&str>)]) -> Graph {
        let packages: Vec<Value> = names
            .iter()
            .map(|n| serde_json::json!({"id": n, "name": n}))
            .collect();
        let nodes: Vec<Value> = names
            .iter()
            .map(|n| {
                let deps: Vec<Value> = edges
                    .iter()
                    .filter(|(from, _, _)| from == n)
                    .map(|(_, to, kind)| {
                        serde_json::json!({"pkg": to, "dep_kinds": [{"kind": kind}]})
                    })
                    .collect();
                serde_json::json!({"id": n, "deps": deps})
            })
            .collect();
        Graph::new(&serde_json::json!({
            "workspace_members": names,
            "packages": packages,
            "resolve": {"nodes": nodes}
        }))
    }

    const CRATES: &[&str] = &[
        "foreman-domain",
        "foreman-rest",
        "foreman-git",
        "foreman-tracker",
        "foreman-agent",
        "foreman-pipeline",
    ];

    /// The shape the architecture wants: passes every rule.
    const GOOD: &[(&str, &str, Option<&str>)] = &[
        ("foreman-rest", "foreman-domain", None),
        ("foreman-git", "foreman-rest", None),
        ("foreman-git", "foreman-domain", None),
        ("foreman-tracker", "foreman-rest", None),
        ("foreman-tracker", "foreman-domain", None),
        ("foreman-tracker", "foreman-pipeline", Some("dev")),
        ("foreman-agent", "foreman-domain", None),
        ("foreman-pipeline", "foreman-domain", None),
    ];

    fn problems_with(extra: (&str, &str, Option<&str>)) -> Vec<String> {
        let mut edges = GOOD.to_vec();
        edges.push(extra);
        check_graph(&graph(CRATES, &edges))
    }

    #[test]
    fn the_intended_shape_is_tidy() {
        assert_eq!(check_graph(&graph(CRATES, GOOD)), Vec::<String>::new());
    }

    #[test]
    fn detects_the_tracker_depending_on_git() {
        for kind in [None, Some("dev"), Some("build")] {
            assert_eq!(
                problems_with(("foreman-tracker", "foreman-git", kind)),
                vec!["foreman-tracker must not depend on foreman-git"],
                "{kind:?}"
            );
        }
    }

    #[test]
    fn detects_the_pipeline_depending_on_the_agent() {
        assert_eq!(
            problems_with(("foreman-pipeline", "foreman-agent", None)),
            vec!["foreman-pipeline must code against ports, not foreman-agent"]
        );
    }

    #[test]
    fn detects_the_agent_depending_on_the_pipeline() {
        assert_eq!(
            problems_with(("foreman-agent", "foreman-pipeline", None)),
            vec!["foreman-agent is an adapter and must not depend on foreman-pipeline"]
        );
    }

    #[test]
    fn detects_rest_depending_on_an_adapter() {
        assert_eq!(
            problems_with(("foreman-rest", "foreman-git", None)),
            vec!["foreman-rest must depend on no other adapter crate, but depends on foreman-git"]
        );
        // a dev-dependency (test support) is allowed
        assert_eq!(
            problems_with(("foreman-rest", "foreman-git", Some("dev"))),
            Vec::<String>::new()
        );
    }
}
