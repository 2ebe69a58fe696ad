//! `foreman skills list` against a running server: the built-in skills, a malformed skill file
//! in the data directory reported with its file and reason (and not stopping the others), the
//! shape of `--json`, and an unknown project.

use serde_json::Value;

use crate::support::{Server, cli_on, stdout_ok};

#[tokio::test]
async fn skills_list_shows_built_in_skills_and_a_malformed_file_with_its_reason() {
    let data = tempfile::tempdir().unwrap();
    let broken = data.path().join("skills/broken-skill");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("SKILL.md"),
        "---\nname: broken-skill\ndescription: does not load\nsteps:\n  - id: a\n    type: \
         shell_out\n    command: true\n---\n",
    )
    .unwrap();
    let server = Server::start(data.path(), &[]).await;
    let home = tempfile::tempdir().unwrap();

    let text = stdout_ok(&cli_on(&server, home.path(), &["skills", "list"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].trim_end().ends_with("STATUS"),
        "{text}"
    );
    for (name, hook) in [
        ("changelog", "pre_pr"),
        ("dependency-install", "post_clone"),
        ("security-scan", "post_task"),
    ] {
        let row = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {text}"));
        assert!(row.contains("builtin"), "{row}");
        assert!(row.contains(hook), "{row}");
        assert!(row.trim_end().ends_with("valid"), "{row}");
        assert!(!row.trim_end().ends_with("invalid"), "{row}");
    }
    let row = lines
        .iter()
        .find(|l| l.starts_with("broken-skill "))
        .unwrap_or_else(|| panic!("no row for the malformed skill: {text}"));
    assert!(
        row.contains("data_dir") && row.trim_end().ends_with("invalid"),
        "{row}"
    );
    let problem = lines
        .iter()
        .find(|l| l.starts_with("broken-skill: "))
        .unwrap_or_else(|| panic!("no problem line: {text}"));
    assert!(problem.contains("broken-skill/SKILL.md"), "{problem}");

    let json: Value = serde_json::from_str(&stdout_ok(&cli_on(
        &server,
        home.path(),
        &["skills", "list", "--json"],
    )))
    .unwrap();
    assert_eq!(json["available"], true, "{json}");
    let skills = json["skills"].as_array().unwrap();
    let changelog = skills
        .iter()
        .find(|s| s["name"] == "changelog" && s["source"] == "builtin")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(changelog["valid"], true);
    assert_eq!(changelog["hooks"], serde_json::json!(["pre_pr"]));
    let bad = skills
        .iter()
        .find(|s| s["name"] == "broken-skill")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(bad["valid"], false);
    assert!(
        !bad["problems"].as_array().unwrap().is_empty()
            && bad["problems"][0]["file"]
                .as_str()
                .unwrap()
                .ends_with("broken-skill/SKILL.md"),
        "{bad}"
    );

    // an unknown project is the API's 404, exit code 3
    let out = cli_on(
        &server,
        home.path(),
        &["skills", "list", "--project", "no-such-project"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
