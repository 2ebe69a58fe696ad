//! `[[pipeline.hooks]]`: the skills run at a point of the pipeline.

use std::collections::BTreeMap;

use foreman_domain::skill::{HookConfig, HookPoint};
use serde::{Deserialize, Serialize};

use crate::duration::parse_duration;
use crate::error::ConfigError;

/// One `[[pipeline.hooks]]` entry.
///
/// ```toml
/// [[pipeline.hooks]]
/// point = "pre_pr"            # post_clone, pre_plan, post_task, post_lint, pre_pr, post_pr, post_merge
/// skills = ["changelog"]      # run in order
/// inputs = { file = "CHANGELOG.md" }
/// timeout = "10m"             # the whole hook
/// blocking = false            # a failing blocking hook fails the step
/// projects = ["default"]      # empty or absent: every project
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookEntry {
    /// Where it runs.
    pub point: String,
    /// The skills it runs, in order.
    pub skills: Vec<String>,
    /// Inputs handed to each skill.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// The whole hook's time limit, e.g. `5m`.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// Whether a failure fails the step (with feedback, like a gate) rather than being
    /// recorded only.
    #[serde(default)]
    pub blocking: bool,
    /// The projects it applies to (empty: every project).
    #[serde(default)]
    pub projects: Vec<String>,
}

fn default_timeout() -> String {
    "10m".into()
}

impl HookEntry {
    /// Checks the entry (`index` in `[[pipeline.hooks]]`) against the configured `projects`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key (`pipeline.hooks[1].point`).
    pub(crate) fn validate(&self, index: usize, projects: &[String]) -> Result<(), ConfigError> {
        self.to_hook(index)?;
        for (i, s) in self.skills.iter().enumerate() {
            if s.trim().is_empty() {
                return Err(ConfigError::invalid(
                    &format!("pipeline.hooks[{index}].skills[{i}]"),
                    s,
                    "must name a skill",
                ));
            }
        }
        for (i, p) in self.projects.iter().enumerate() {
            if !projects.contains(p) {
                return Err(ConfigError::invalid(
                    &format!("pipeline.hooks[{index}].projects[{i}]"),
                    p,
                    &format!(
                        "not a configured project (expected one of {})",
                        projects.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The hook as the pipeline runs it.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key: an unknown point, no skills, a bad or zero
    /// timeout.
    pub fn to_hook(&self, index: usize) -> Result<HookConfig, ConfigError> {
        let key = |k: &str| format!("pipeline.hooks[{index}].{k}");
        let point: HookPoint =
            self.point
                .parse()
                .map_err(|e: foreman_domain::skill::UnknownHookPoint| {
                    ConfigError::invalid(&key("point"), &self.point, &e.to_string())
                })?;
        if self.skills.is_empty() {
            return Err(ConfigError::invalid(
                &key("skills"),
                "[]",
                "must name at least one skill",
            ));
        }
        let timeout = parse_duration(&self.timeout)
            .map_err(|e| ConfigError::invalid(&key("timeout"), &self.timeout, &e))?;
        if timeout.is_zero() {
            return Err(ConfigError::invalid(
                &key("timeout"),
                &self.timeout,
                "must be longer than zero",
            ));
        }
        Ok(HookConfig {
            point,
            skills: self.skills.clone(),
            inputs: self.inputs.clone(),
            timeout,
            blocking: self.blocking,
            projects: self.projects.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::Deserialize;

    use super::HookEntry;

    /// `[pipeline]` with its hooks only (the whole `Config` lives above this module).
    #[derive(Debug, Deserialize)]
    struct Doc {
        pipeline: Pipeline,
    }

    #[derive(Debug, Deserialize)]
    struct Pipeline {
        hooks: Vec<HookEntry>,
    }

    fn parse(toml: &str) -> Result<Doc, String> {
        let doc: Doc = toml::from_str(toml).map_err(|e| e.to_string())?;
        let projects = ["default".to_owned()];
        for (i, h) in doc.pipeline.hooks.iter().enumerate() {
            h.validate(i, &projects).map_err(|e| e.to_string())?;
        }
        Ok(doc)
    }

    #[test]
    fn hooks_parse_with_their_defaults() {
        let config = parse(
            r#"
            [[pipeline.hooks]]
            point = "pre_pr"
            skills = ["changelog"]
            inputs = { file = "CHANGELOG.md" }

            [[pipeline.hooks]]
            point = "post_task"
            skills = ["security-scan", "lint-docs"]
            timeout = "5m"
            blocking = true
            projects = ["default"]
            "#,
        )
        .unwrap();
        let hooks: Vec<_> = config
            .pipeline
            .hooks
            .iter()
            .enumerate()
            .map(|(i, h)| h.to_hook(i).unwrap())
            .collect();
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].point.as_str(), "pre_pr");
        assert_eq!(hooks[0].timeout, Duration::from_secs(600));
        assert!(!hooks[0].blocking);
        assert_eq!(hooks[0].inputs["file"], "CHANGELOG.md");
        assert!(hooks[0].projects.is_empty());
        assert_eq!(hooks[1].skills, ["security-scan", "lint-docs"]);
        assert_eq!(hooks[1].timeout, Duration::from_secs(300));
        assert!(hooks[1].blocking);
        assert!(hooks[1].applies_to("default") && !hooks[1].applies_to("other"));
    }

    #[test]
    fn bad_hooks_name_the_key() {
        let ok = "[[pipeline.hooks]]\npoint = \"pre_pr\"\nskills = [\"a\"]\n";
        let cases = [
            (
                "point = \"later\"\nskills = [\"a\"]\n",
                "pipeline.hooks[1].point",
            ),
            (
                "point = \"pre_pr\"\nskills = []\n",
                "pipeline.hooks[1].skills",
            ),
            (
                "point = \"pre_pr\"\nskills = [\"a\"]\ntimeout = \"soon\"\n",
                "pipeline.hooks[1].timeout",
            ),
            (
                "point = \"pre_pr\"\nskills = [\"a\"]\ntimeout = \"0s\"\n",
                "pipeline.hooks[1].timeout",
            ),
            (
                "point = \"pre_pr\"\nskills = [\"a\"]\nprojects = [\"nope\"]\n",
                "pipeline.hooks[1].projects[0]",
            ),
            (
                "point = \"pre_pr\"\nskills = [\" \"]\n",
                "pipeline.hooks[1].skills[0]",
            ),
        ];
        for (second, key) in cases {
            let err = parse(&format!("{ok}\n[[pipeline.hooks]]\n{second}")).unwrap_err();
            assert!(err.contains(key), "{second}: {err}");
        }
        // unknown fields and a missing point are refused by the parser
        assert!(
            parse("[[pipeline.hooks]]\npoint = \"pre_pr\"\nskills = [\"a\"]\nretries = 2\n")
                .is_err()
        );
        assert!(parse("[[pipeline.hooks]]\nskills = [\"a\"]\n").is_err());
        // control: the first entry alone is valid
        parse(ok).unwrap();
    }
}
