//! The built-in skills: `SKILL.md` files under `crates/foreman-pipeline/skills/`, embedded in
//! the binary.

/// Every built-in skill: its name and its `SKILL.md` text.
pub const BUILTIN_SKILLS: &[(&str, &str)] = &[
    ("changelog", include_str!("../../skills/changelog/SKILL.md")),
    (
        "dependency-install",
        include_str!("../../skills/dependency-install/SKILL.md"),
    ),
    (
        "security-scan",
        include_str!("../../skills/security-scan/SKILL.md"),
    ),
];

/// The name a built-in skill's file goes by in problems and listings: `builtin:<name>`.
#[must_use]
pub fn builtin_path(name: &str) -> String {
    format!("builtin:{name}")
}

#[cfg(test)]
mod tests {
    use foreman_domain::skill::parse::parse_skill;
    use foreman_domain::skill::{HookPoint, StepKind};

    use super::*;

    #[test]
    fn every_builtin_skill_parses_under_its_own_name() {
        for (name, text) in BUILTIN_SKILLS {
            let skill = parse_skill(&builtin_path(name), text)
                .unwrap_or_else(|p| panic!("built-in skill {name} does not parse: {p:?}"));
            assert_eq!(skill.name, *name);
            assert!(!skill.body.trim().is_empty(), "{name} documents itself");
        }
    }

    #[test]
    fn the_builtin_skills_have_the_documented_shape() {
        let parse = |name: &str| {
            let (_, text) = BUILTIN_SKILLS.iter().find(|(n, _)| *n == name).unwrap();
            parse_skill(name, text).unwrap()
        };
        let changelog = parse("changelog");
        assert_eq!(changelog.hooks, [HookPoint::PrePr]);
        let types: Vec<_> = changelog.steps.iter().map(|s| s.kind.type_name()).collect();
        assert_eq!(types, ["llm_call", "file_write"]);
        let file = changelog.inputs.iter().find(|i| i.name == "file").unwrap();
        assert_eq!(file.default.as_deref(), Some("CHANGELOG.md"));
        let StepKind::LlmCall { template, .. } = &changelog.steps[0].kind else {
            unreachable!()
        };
        for var in ["ticket.title", "ticket.description", "diff"] {
            assert!(template.contains(var), "the prompt uses {var}");
        }

        let install = parse("dependency-install");
        assert_eq!(install.hooks, [HookPoint::PostClone]);
        assert!(matches!(
            &install.steps[..],
            [step] if matches!(&step.kind, StepKind::RunCommand { command, .. } if command.contains("repo.install_command"))
        ));

        let scan = parse("security-scan");
        assert_eq!(scan.hooks, [HookPoint::PostTask]);
        assert!(
            scan.inputs
                .iter()
                .any(|i| i.name == "scanner" && i.required)
        );
        assert!(matches!(
            &scan.steps[..],
            [step] if matches!(&step.kind, StepKind::RunCommand { command, .. } if command.contains("inputs.scanner"))
        ));
    }
}
