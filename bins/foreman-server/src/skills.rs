//! The skill catalog: the built-in skills, `<data_dir>/skills/*/SKILL.md`, and each project's
//! repository's `.foreman/skills/*/SKILL.md` as committed on its default branch. One catalog
//! serves the API (`GET /api/skills`) and the pipeline's hooks.

use std::path::Path;
use std::sync::Arc;

use foreman_config::Config;
use foreman_pipeline::skills::SkillFiles;

use crate::adapters::project_specs;

/// The catalog of every configured project (repositories are attached by
/// [`crate::compose::build`] as it builds them, with [`SkillFiles::add_repository`]).
///
/// Every problem of the built-in and data-directory skills is logged at warn level
/// (`file:line: reason`) in the background right away; a repository's, when its default
/// branch is first read (after the first fetch) and whenever it moves.
#[must_use]
pub fn build_catalog(config: &Config, data_dir: &Path) -> Arc<SkillFiles> {
    let catalog = project_specs(config)
        .into_iter()
        .fold(SkillFiles::new(Some(data_dir)), |c, spec| {
            c.with_project(spec.name)
        });
    Arc::new(catalog)
}

/// Reads every source once, in the background, so the problems of malformed skill files are
/// logged at start (the catalog logs them as it reads).
pub fn log_problems_at_start(catalog: &Arc<SkillFiles>) {
    let catalog = catalog.clone();
    tokio::spawn(async move {
        let problems = catalog.problems().await;
        if problems.is_empty() {
            tracing::debug!("every skill file is valid");
        } else {
            tracing::warn!(
                count = problems.len(),
                "some skill files are malformed and were not loaded (see above)"
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use foreman_domain::skill::{SkillCatalog, SkillSource};

    use super::*;

    #[tokio::test]
    async fn the_catalog_knows_every_configured_project_and_the_builtin_skills() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        let catalog = build_catalog(&config, dir.path());
        assert!(catalog.knows_project(foreman_domain::DEFAULT_PROJECT));
        assert!(!catalog.knows_project("nope"));
        let skills = catalog.discover(None).await;
        assert!(
            skills
                .iter()
                .any(|s| s.name == "changelog" && s.source == SkillSource::Builtin)
        );
    }
}
