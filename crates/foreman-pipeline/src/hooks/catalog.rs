//! [`StaticCatalog`]: skills held in memory.

use async_trait::async_trait;
use foreman_domain::skill::{DiscoveredSkill, Skill, SkillCatalog, SkillSource};

/// A catalog of skills held in memory, every one built in: for tests and embedders that
/// compose their skills in code.
#[derive(Debug, Clone, Default)]
pub struct StaticCatalog {
    skills: Vec<Skill>,
}

impl StaticCatalog {
    /// A catalog of `skills`.
    #[must_use]
    pub fn new(skills: Vec<Skill>) -> Self {
        Self { skills }
    }

    /// A catalog without skills.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SkillCatalog for StaticCatalog {
    async fn discover(&self, _project: Option<&str>) -> Vec<DiscoveredSkill> {
        self.skills
            .iter()
            .map(|s| DiscoveredSkill {
                name: s.name.clone(),
                source: SkillSource::Builtin,
                project: None,
                path: format!("builtin:{}", s.name),
                skill: Some(s.clone()),
                problems: Vec::new(),
                shadowed: false,
            })
            .collect()
    }

    async fn resolve(&self, _project: &str, name: &str) -> Option<Skill> {
        self.skills.iter().find(|s| s.name == name).cloned()
    }
}
