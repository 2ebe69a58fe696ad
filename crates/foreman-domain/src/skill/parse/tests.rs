use super::*;
use crate::skill::WriteMode;

const GOOD: &str = "---
name: changelog
description: Writes a changelog entry.
hooks: [pre_pr, post_task]
inputs:
  - name: file
    default: CHANGELOG.md
  - name: scanner
    required: true
steps:
  - id: entry
    type: llm_call
    template: 'Ticket {{ ticket.title }}: {{ diff }}'
    output_schema: {type: object}
  - id: write
    type: file_write
    path: '{{ inputs.file }}'
    mode: prepend
    content: '{{ steps.entry.output }}'
  - id: run
    type: run_command
    command: make check
    allow_failure: true
    timeout_secs: 30
  - id: diff
    type: git_diff
  - id: fix
    type: agent
    instructions: 'Fix: {{ steps.run.output }}'
    tools: [read_file]
    max_turns: 5
  - id: sub
    type: subskill
    skill: other
    inputs:
      note: '{{ steps.diff.output }}'
---
# changelog

The body.
";

/// The problems of `text`, as `(line, reason)`.
fn problems(text: &str) -> Vec<(Option<u32>, String)> {
    match parse_skill("x/SKILL.md", text) {
        Ok(skill) => panic!("expected problems, parsed {skill:?}"),
        Err(p) => {
            assert!(p.iter().all(|p| p.file == "x/SKILL.md"));
            p.into_iter().map(|p| (p.line, p.reason)).collect()
        }
    }
}

/// The one problem of `text`: its line and reason.
fn one(text: &str) -> (u32, String) {
    let p = problems(text);
    assert_eq!(p.len(), 1, "expected one problem, got {p:?}");
    (p[0].0.expect("a line"), p[0].1.clone())
}

/// A file whose steps are `steps` (YAML lines indented under `steps:`).
fn with_steps(steps: &str) -> String {
    format!("---\nname: s\ndescription: d\nsteps:\n{steps}---\nbody\n")
}

#[test]
fn a_good_skill_parses_with_every_step_type_and_its_body() {
    let skill = parse_skill("x/SKILL.md", GOOD).unwrap();
    assert_eq!(skill.name, "changelog");
    assert_eq!(skill.description, "Writes a changelog entry.");
    assert_eq!(skill.hooks, [HookPoint::PrePr, HookPoint::PostTask]);
    assert_eq!(skill.inputs.len(), 2);
    assert_eq!(skill.inputs[0].default.as_deref(), Some("CHANGELOG.md"));
    assert!(skill.inputs[1].required);
    let types: Vec<_> = skill.steps.iter().map(|s| s.kind.type_name()).collect();
    assert_eq!(
        types,
        [
            "llm_call",
            "file_write",
            "run_command",
            "git_diff",
            "agent",
            "subskill"
        ]
    );
    assert!(matches!(
        &skill.steps[1].kind,
        StepKind::FileWrite { mode: WriteMode::Prepend, path, .. } if path == "{{ inputs.file }}"
    ));
    assert!(matches!(
        &skill.steps[0].kind,
        StepKind::LlmCall { role, output_schema: Some(_), .. } if role == "implementer"
    ));
    assert!(matches!(
        &skill.steps[4].kind,
        StepKind::Agent { max_turns: 5, tools, .. } if tools == &["read_file"]
    ));
    assert_eq!(skill.body, "# changelog\n\nThe body.\n");
}

#[test]
fn a_minimal_skill_parses_with_defaults() {
    let skill = parse_skill(
        "f",
        &with_steps("  - id: a\n    type: run_command\n    command: ls\n"),
    )
    .unwrap();
    assert!(skill.hooks.is_empty() && skill.inputs.is_empty());
    assert!(matches!(
        skill.steps[0].kind,
        StepKind::RunCommand {
            allow_failure: false,
            timeout_secs: None,
            ..
        }
    ));
    assert_eq!(skill.body, "body\n");
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_are_accepted() {
    let text = "\u{feff}---\r\nname: s\r\ndescription: d\r\nsteps:\r\n  - id: a\r\n    type: git_diff\r\n---\r\nbody\r\n";
    let skill = parse_skill("f", text).unwrap();
    assert_eq!(skill.steps[0].kind.type_name(), "git_diff");
}

#[test]
fn a_file_without_front_matter_is_refused_at_line_1() {
    let (line, reason) = one("# just markdown\n");
    assert_eq!(line, 1);
    assert!(reason.contains("must start with a `---` line"), "{reason}");
}

#[test]
fn an_unclosed_front_matter_is_refused() {
    let (line, reason) = one("---\nname: s\ndescription: d\n");
    assert_eq!(line, 1);
    assert!(reason.contains("never closed"), "{reason}");
}

#[test]
fn an_empty_front_matter_is_refused() {
    let (_, reason) = one("---\n---\nbody\n");
    assert!(reason.contains("empty"), "{reason}");
}

#[test]
fn a_yaml_syntax_error_is_reported_at_its_line_in_the_file() {
    // line 4 of the file: an unclosed flow sequence
    let text = "---\nname: s\ndescription: d\nhooks: [pre_pr\nsteps: []\n---\n";
    let p = problems(text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].1.starts_with("YAML syntax"), "{p:?}");
    let line = p[0].0.unwrap();
    assert!((4..=5).contains(&line), "line {line}");

    // a tab-indented mapping under a key, line 5
    let text = "---\nname: s\ndescription: d\nsteps:\n  - id: a\n\ttype: git_diff\n---\n";
    let (line, reason) = one(text);
    assert!(reason.starts_with("YAML syntax"), "{reason}");
    assert_eq!(line, 6, "{reason}");
}

#[test]
fn a_front_matter_that_is_not_a_mapping_is_refused() {
    let (_, reason) = one("---\n- a\n- b\n---\n");
    assert!(reason.contains("must be a mapping"), "{reason}");
}

#[test]
fn unknown_keys_are_reported_at_their_line_with_the_others() {
    let text = "---\nname: s\ndescription: d\ntrigger: pre_pr\nsteps:\n  - id: a\n    type: git_diff\nauthor: me\n---\n";
    let p = problems(text);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].0, Some(4));
    assert!(p[0].1.contains("unknown key `trigger`"), "{p:?}");
    assert_eq!(p[1].0, Some(8));
    assert!(p[1].1.contains("unknown key `author`"), "{p:?}");
}

#[test]
fn an_unknown_step_type_is_reported_at_its_type_line() {
    let (line, reason) = one(&with_steps(
        "  - id: a\n    type: git_diff\n  - id: b\n    type: shell\n    command: ls\n",
    ));
    assert_eq!(line, 8);
    assert!(reason.contains("unknown step type `shell`"), "{reason}");
    assert!(reason.contains("step \"b\""), "{reason}");
}

#[test]
fn a_missing_step_type_is_reported() {
    let (line, reason) = one(&with_steps("  - id: a\n    command: ls\n"));
    assert_eq!(line, 5);
    assert!(reason.contains("missing `type`"), "{reason}");
}

#[test]
fn an_unknown_step_field_is_reported_at_its_line() {
    let (line, reason) = one(&with_steps(
        "  - id: a\n    type: run_command\n    command: ls\n    retries: 3\n",
    ));
    assert_eq!(line, 8);
    assert!(reason.contains("unknown field `retries`"), "{reason}");
}

#[test]
fn a_missing_step_field_is_reported() {
    let (line, reason) = one(&with_steps("  - id: a\n    type: run_command\n"));
    assert_eq!(line, 5);
    assert!(reason.contains("missing field `command`"), "{reason}");
}

#[test]
fn an_unknown_input_field_is_reported_at_its_line() {
    let text = "---\nname: s\ndescription: d\ninputs:\n  - name: a\n    kind: text\nsteps:\n  - id: a\n    type: git_diff\n---\n";
    let (line, reason) = one(text);
    assert_eq!(line, 6);
    assert!(
        reason.contains("inputs[0]") && reason.contains("unknown field `kind`"),
        "{reason}"
    );
}

#[test]
fn input_names_must_be_identifiers_and_unique() {
    let text = "---\nname: s\ndescription: d\ninputs:\n  - name: a\n  - name: a\n  - name: 'my input'\nsteps:\n  - id: a\n    type: git_diff\n---\n";
    let p = problems(text);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].0, Some(6));
    assert!(p[0].1.contains("declared twice"), "{p:?}");
    assert_eq!(p[1].0, Some(7));
    assert!(p[1].1.contains("is not valid"), "{p:?}");
}

#[test]
fn skill_names_follow_the_pattern() {
    for bad in ["Changelog", "-x", "_x", "a b", "", "a.b", &"a".repeat(65)] {
        let text = format!(
            "---\nname: '{bad}'\ndescription: d\nsteps:\n  - id: a\n    type: git_diff\n---\n"
        );
        let (line, reason) = one(&text);
        assert_eq!(line, 2, "{bad}");
        assert!(reason.contains("is not valid"), "{bad}: {reason}");
    }
    for good in [
        "a",
        "0day",
        "dependency-install",
        "security_scan",
        &"a".repeat(64),
    ] {
        assert!(is_valid_skill_name(good), "{good}");
    }
}

#[test]
fn missing_name_description_and_steps_are_all_reported() {
    let p = problems("---\nhooks: [pre_pr]\n---\n");
    let reasons: Vec<_> = p.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(reasons.iter().any(|r| r.contains("missing `name`")));
    assert!(reasons.iter().any(|r| r.contains("missing `description`")));
    assert!(reasons.iter().any(|r| r.contains("missing `steps`")));
}

#[test]
fn an_empty_description_is_refused() {
    let (line, reason) =
        one("---\nname: s\ndescription: '  '\nsteps:\n  - id: a\n    type: git_diff\n---\n");
    assert_eq!(line, 3);
    assert!(reason.contains("`description` is empty"), "{reason}");
}

#[test]
fn a_skill_needs_a_step() {
    let (line, reason) = one("---\nname: s\ndescription: d\nsteps: []\n---\n");
    assert_eq!(line, 4);
    assert!(reason.contains("at least one step"), "{reason}");
    let (_, reason) = one("---\nname: s\ndescription: d\nsteps:\n---\n");
    assert!(reason.contains("at least one step"), "{reason}");
    let (_, reason) = one("---\nname: s\ndescription: d\nsteps: run it\n---\n");
    assert!(reason.contains("must be a list"), "{reason}");
}

#[test]
fn more_than_fifty_steps_are_refused() {
    let steps: String = (0..=MAX_STEPS)
        .map(|i| format!("  - id: s{i}\n    type: git_diff\n"))
        .collect();
    let (line, reason) = one(&with_steps(&steps));
    assert_eq!(line, 4);
    assert!(reason.contains("51 steps"), "{reason}");
    let steps: String = (0..MAX_STEPS)
        .map(|i| format!("  - id: s{i}\n    type: git_diff\n"))
        .collect();
    assert!(parse_skill("f", &with_steps(&steps)).is_ok());
}

#[test]
fn step_ids_must_be_valid_and_unique() {
    let p = problems(&with_steps(
        "  - id: a\n    type: git_diff\n  - id: a\n    type: git_diff\n  - id: Bad-Id\n    type: git_diff\n",
    ));
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].0, Some(7));
    assert!(p[0].1.contains("used twice"), "{p:?}");
    assert_eq!(p[1].0, Some(9));
    assert!(p[1].1.contains("is not valid"), "{p:?}");
}

#[test]
fn a_template_may_read_only_earlier_steps() {
    let p = problems(&with_steps(
        "  - id: a\n    type: run_command\n    command: 'echo {{ steps.b.output }}'\n  - id: b\n    type: run_command\n    command: 'echo {{ steps.b.output }} {{ steps.nope.output }}'\n  - id: c\n    type: run_command\n    command: 'echo {{ steps.a.output }}{{steps.b.output}}'\n",
    ));
    assert_eq!(p.len(), 3, "{p:?}");
    assert_eq!(p[0].0, Some(7));
    assert!(p[0].1.contains("a later step"), "{p:?}");
    assert_eq!(p[1].0, Some(10));
    assert!(p[1].1.contains("its own output"), "{p:?}");
    assert_eq!(p[2].0, Some(10));
    assert!(p[2].1.contains("not a step of this skill"), "{p:?}");
}

#[test]
fn step_references_are_found_only_as_whole_names() {
    assert_eq!(
        step_references("{{ steps.a.output }} {{steps.b_2.output}} mysteps.c Follow the steps. x"),
        ["a", "b_2"]
    );
}

#[test]
fn a_subskill_cannot_name_its_own_skill() {
    let (line, reason) = one(&with_steps("  - id: a\n    type: subskill\n    skill: s\n"));
    assert_eq!(line, 7);
    assert!(reason.contains("cannot run itself"), "{reason}");
}

#[test]
fn unknown_hook_points_are_reported_at_their_item() {
    let text = "---\nname: s\ndescription: d\nhooks:\n  - pre_pr\n  - before_merge\nsteps:\n  - id: a\n    type: git_diff\n---\n";
    let (line, reason) = one(text);
    assert_eq!(line, 6);
    assert!(
        reason.contains("unknown hook point \"before_merge\""),
        "{reason}"
    );
    // flow style: the line of `hooks`
    let text = "---\nname: s\ndescription: d\nhooks: [pre_pr, post_deploy]\nsteps:\n  - id: a\n    type: git_diff\n---\n";
    let (line, _) = one(text);
    assert_eq!(line, 4);
}

#[test]
fn a_zero_timeout_is_refused() {
    let (line, reason) = one(&with_steps(
        "  - id: a\n    type: run_command\n    command: ls\n    timeout_secs: 0\n",
    ));
    assert_eq!(line, 8);
    assert!(
        reason.contains("`timeout_secs` must be at least 1"),
        "{reason}"
    );
}

#[test]
fn agent_turns_must_be_between_1_and_50() {
    for turns in [0, 51] {
        let (line, reason) = one(&with_steps(&format!(
            "  - id: a\n    type: agent\n    instructions: fix it\n    max_turns: {turns}\n"
        )));
        assert_eq!(line, 8);
        assert!(
            reason.contains("`max_turns` must be between 1 and 50"),
            "{reason}"
        );
    }
    for turns in [1, 50] {
        let text = with_steps(&format!(
            "  - id: a\n    type: agent\n    instructions: fix it\n    max_turns: {turns}\n"
        ));
        assert!(parse_skill("f", &text).is_ok(), "{turns}");
    }
}

#[test]
fn an_output_schema_must_be_an_object() {
    let (line, reason) = one(&with_steps(
        "  - id: a\n    type: llm_call\n    template: hi\n    output_schema: [1, 2]\n",
    ));
    assert_eq!(line, 8);
    assert!(
        reason.contains("`output_schema` must be a JSON Schema object"),
        "{reason}"
    );
}

#[test]
fn a_file_write_path_must_stay_inside_the_worktree() {
    for bad in [
        "/etc/passwd",
        "../outside",
        "docs/../../x",
        "C:\\x",
        "~/x",
        "a\\..\\b",
        "",
    ] {
        let (line, reason) = one(&with_steps(&format!(
            "  - id: a\n    type: file_write\n    path: '{bad}'\n    content: x\n"
        )));
        assert_eq!(line, 7, "{bad}");
        assert!(reason.contains("`path`"), "{bad}: {reason}");
    }
    for good in [
        "CHANGELOG.md",
        "docs/notes.md",
        "{{ inputs.file }}",
        "a..b/c",
    ] {
        let text = with_steps(&format!(
            "  - id: a\n    type: file_write\n    path: '{good}'\n    content: x\n"
        ));
        assert!(parse_skill("f", &text).is_ok(), "{good}");
    }
}

#[test]
fn a_file_over_64_kib_is_refused() {
    let mut text = with_steps("  - id: a\n    type: git_diff\n");
    assert!(parse_skill("f", &text).is_ok());
    text.push_str(&"x".repeat(MAX_SKILL_BYTES));
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert!(p[0].1.contains("64 KiB"), "{p:?}");
}

#[test]
fn every_problem_of_a_file_is_reported_together() {
    let text = "---\nname: Bad Name\ndescription: d\nhooks: [nope]\ncolour: red\nsteps:\n  - id: a\n    type: shell\n  - id: b\n    type: run_command\n    command: ls\n    timeout_secs: 0\n  - id: c\n    type: agent\n    instructions: x\n    max_turns: 99\n---\n";
    let p = problems(text);
    let lines: Vec<_> = p.iter().map(|(l, _)| l.unwrap()).collect();
    assert_eq!(lines, [5, 2, 4, 8, 12, 16], "{p:?}");
}

#[test]
fn the_problem_display_is_file_line_reason() {
    let p = parse_skill("skills/x/SKILL.md", "nope").unwrap_err();
    assert_eq!(
        p[0].to_string(),
        "skills/x/SKILL.md:1: the file must start with a `---` line that opens the YAML front matter"
    );
}

#[test]
fn templates_are_checked_by_the_given_engine_at_their_line() {
    let text = with_steps(
        "  - id: a\n    type: run_command\n    command: 'echo {{ oops'\n  - id: b\n    type: git_diff\n",
    );
    // control: without a checker the file parses
    assert!(parse_skill("f", &text).is_ok());
    let check = |t: &str| {
        if t.matches("{{").count() == t.matches("}}").count() {
            Ok(())
        } else {
            Err("unclosed `{{`".to_owned())
        }
    };
    let p = parse_skill_with("f", &text, &check).unwrap_err();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].line, Some(7));
    assert!(
        p[0].reason
            .contains("`command` is not a valid template: unclosed"),
        "{p:?}"
    );
}
