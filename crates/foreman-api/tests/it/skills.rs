//! `GET /api/skills`: the skill files of the catalog the server installs.

use std::sync::Arc;

use foreman_domain::skill::parse::parse_skill;
use foreman_domain::skill::{DiscoveredSkill, Skill, SkillCatalog, SkillProblem, SkillSource};
use serde_json::Value;

use crate::support::TestApp;

/// A catalog of fixed entries that knows one project, `web`.
struct FixedCatalog(Vec<DiscoveredSkill>);

#[async_trait::async_trait]
impl SkillCatalog for FixedCatalog {
    async fn discover(&self, project: Option<&str>) -> Vec<DiscoveredSkill> {
        self.0
            .iter()
            .filter(|d| project.is_none() || d.project.is_none() || d.project.as_deref() == project)
            .cloned()
            .collect()
    }

    async fn resolve(&self, _project: &str, name: &str) -> Option<Skill> {
        self.0
            .iter()
            .find(|d| d.name == name)
            .and_then(|d| d.skill.clone())
    }

    fn knows_project(&self, project: &str) -> bool {
        project == "web"
    }
}

fn entries() -> Vec<DiscoveredSkill> {
    let text = "---\nname: lint\ndescription: Lints.\nhooks: [post_task]\nsteps:\n  - id: a\n    type: run_command\n    command: make lint\n  - id: b\n    type: git_diff\n---\n";
    let skill = parse_skill(".foreman/skills/lint/SKILL.md", text).unwrap();
    vec![
        DiscoveredSkill {
            name: "lint".into(),
            source: SkillSource::Repository,
            project: Some("web".into()),
            path: ".foreman/skills/lint/SKILL.md".into(),
            skill: Some(skill.clone()),
            problems: Vec::new(),
            shadowed: false,
        },
        DiscoveredSkill {
            name: "broken".into(),
            source: SkillSource::DataDir,
            project: None,
            path: "/data/skills/broken/SKILL.md".into(),
            skill: None,
            problems: vec![SkillProblem {
                file: "/data/skills/broken/SKILL.md".into(),
                line: Some(6),
                reason: "unknown step type `shell`".into(),
            }],
            shadowed: false,
        },
        DiscoveredSkill {
            name: "lint".into(),
            source: SkillSource::Builtin,
            project: None,
            path: "builtin:lint".into(),
            skill: Some(skill),
            problems: Vec::new(),
            shadowed: true,
        },
    ]
}

async fn app(catalog: Option<Arc<dyn SkillCatalog>>) -> TestApp {
    let mut builder = TestApp::builder();
    if let Some(c) = catalog {
        builder = builder.skills(c);
    }
    builder.start().await
}

#[tokio::test]
async fn skills_are_listed_with_source_problems_and_shadowing() {
    let app = app(Some(Arc::new(FixedCatalog(entries())))).await;
    let (status, body) = app.get_json("/api/skills?project=web").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["available"], true);
    let skills = body["skills"].as_array().unwrap();
    assert_eq!(skills.len(), 3);
    let lint = &skills[0];
    assert_eq!(lint["name"], "lint");
    assert_eq!(lint["source"], "repository");
    assert_eq!(lint["project"], "web");
    assert_eq!(lint["path"], ".foreman/skills/lint/SKILL.md");
    assert_eq!(lint["description"], "Lints.");
    assert_eq!(lint["hooks"], serde_json::json!(["post_task"]));
    assert_eq!(
        lint["step_types"],
        serde_json::json!(["run_command", "git_diff"])
    );
    assert_eq!(lint["valid"], true);
    assert_eq!(lint["shadowed"], false);
    assert_eq!(lint["problems"], serde_json::json!([]));
    let broken = &skills[1];
    assert_eq!(broken["source"], "data_dir");
    assert_eq!(broken["valid"], false);
    assert_eq!(
        broken["problems"],
        serde_json::json!([{"file": "/data/skills/broken/SKILL.md", "line": 6, "reason": "unknown step type `shell`"}])
    );
    assert_eq!(skills[2]["source"], "builtin");
    assert_eq!(skills[2]["shadowed"], true);

    // every project when none is named
    let (status, body) = app.get_json("/api/skills").await;
    assert_eq!(status, 200);
    assert_eq!(body["skills"].as_array().unwrap().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_project_is_a_404() {
    let app = app(Some(Arc::new(FixedCatalog(entries())))).await;
    let (status, body) = app.get_json("/api/skills?project=nope").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], 404);
    app.stop().await;
}

#[tokio::test]
async fn without_a_catalog_nothing_is_listed() {
    let app = app(None).await;
    let (status, body): (u16, Value) = app.get_json("/api/skills?project=web").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["available"], false);
    assert_eq!(body["skills"], serde_json::json!([]));
    app.stop().await;
}

#[tokio::test]
async fn listing_skills_needs_a_token() {
    let app = app(Some(Arc::new(FixedCatalog(entries())))).await;
    let status = reqwest::Client::new()
        .get(app.url("/api/skills"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    app.stop().await;
}
