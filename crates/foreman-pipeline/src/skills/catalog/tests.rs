use std::process::Command;

use foreman_domain::skill::SkillCatalog;
use foreman_git::{GitRepository, RepoConfig};

use super::*;

fn skill_text(name: &str, description: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: {description}\nsteps:\n  - id: a\n    type: git_diff\n---\n"
    )
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare origin whose `main` has `files`, and a synced `GitRepository` of it.
async fn repository(root: &Path, files: &[(&str, &str)]) -> Arc<GitRepository> {
    let origin = root.join("origin.git");
    let seed = root.join("seed");
    git(
        root,
        &[
            "init",
            "--bare",
            "--quiet",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    git(
        root,
        &[
            "clone",
            "--quiet",
            origin.to_str().unwrap(),
            seed.to_str().unwrap(),
        ],
    );
    write(&seed, "README.md", "# demo\n");
    for (rel, text) in files {
        write(&seed, rel, text);
    }
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "--quiet", "-m", "seed"]);
    git(&seed, &["push", "--quiet", "origin", "HEAD:main"]);
    let repo = GitRepository::new(RepoConfig::new(
        "demo",
        origin.to_str().unwrap(),
        "main",
        root.join("work"),
    ))
    .unwrap();
    repo.sync().await.unwrap();
    Arc::new(repo)
}

fn find<'a>(list: &'a [DiscoveredSkill], name: &str, source: SkillSource) -> &'a DiscoveredSkill {
    list.iter()
        .find(|d| d.name == name && d.source == source)
        .unwrap_or_else(|| panic!("{name} from {source:?} not in {list:#?}"))
}

#[tokio::test]
async fn the_builtin_skills_are_listed_valid_without_a_data_dir() {
    let catalog = SkillFiles::new(None);
    let list = catalog.discover(None).await;
    assert_eq!(list.len(), BUILTIN_SKILLS.len());
    assert!(
        list.iter()
            .all(|d| d.skill.is_some() && d.problems.is_empty() && !d.shadowed)
    );
    assert!(catalog.resolve("any", "changelog").await.is_some());
    assert!(catalog.resolve("any", "nope").await.is_none());
}

#[tokio::test]
async fn repository_over_data_dir_over_builtin() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write(
        &data,
        "skills/changelog/SKILL.md",
        &skill_text("changelog", "from the data dir"),
    );
    write(
        &data,
        "skills/lint/SKILL.md",
        &skill_text("lint", "data lint"),
    );
    let repo = repository(
        tmp.path(),
        &[(
            ".foreman/skills/lint/SKILL.md",
            &skill_text("lint", "repo lint"),
        )],
    )
    .await;
    let catalog = SkillFiles::new(Some(&data))
        .with_repository("demo", repo)
        .with_project("other");

    let list = catalog.discover(Some("demo")).await;
    assert!(find(&list, "changelog", SkillSource::Builtin).shadowed);
    assert!(!find(&list, "changelog", SkillSource::DataDir).shadowed);
    assert!(find(&list, "lint", SkillSource::DataDir).shadowed);
    let repo_lint = find(&list, "lint", SkillSource::Repository);
    assert!(!repo_lint.shadowed);
    assert_eq!(repo_lint.project.as_deref(), Some("demo"));
    assert_eq!(repo_lint.path, ".foreman/skills/lint/SKILL.md");

    let resolve = |project: &'static str, name: &'static str| {
        let catalog = &catalog;
        async move { catalog.resolve(project, name).await.unwrap().description }
    };
    assert_eq!(resolve("demo", "lint").await, "repo lint");
    assert_eq!(resolve("other", "lint").await, "data lint");
    assert_eq!(resolve("demo", "changelog").await, "from the data dir");
    assert!(resolve("demo", "security-scan").await.contains("scanner"));

    // another project sees no repository skill of demo's
    let other = catalog.discover(Some("other")).await;
    assert!(other.iter().all(|d| d.source != SkillSource::Repository));
    assert!(!find(&other, "lint", SkillSource::DataDir).shadowed);
    assert!(catalog.knows_project("demo") && catalog.knows_project("other"));
    assert!(!catalog.knows_project("third"));
}

#[tokio::test]
async fn a_malformed_file_beside_good_ones_is_listed_with_its_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write(&data, "skills/good/SKILL.md", &skill_text("good", "fine"));
    write(
        &data,
        "skills/broken/SKILL.md",
        "---\nname: broken\ndescription: d\nsteps:\n  - id: a\n    type: shell\n---\n",
    );
    write(&data, "skills/nofront/SKILL.md", "just text\n");
    std::fs::write(data.join("skills/binary.md"), b"not a directory").unwrap();
    write(&data, "skills/empty-dir/README.md", "no skill file here\n");
    std::fs::create_dir_all(data.join("skills/big")).unwrap();
    std::fs::write(
        data.join("skills/big/SKILL.md"),
        vec![b'x'; MAX_SKILL_BYTES + 10],
    )
    .unwrap();
    std::fs::create_dir_all(data.join("skills/latin1")).unwrap();
    std::fs::write(
        data.join("skills/latin1/SKILL.md"),
        b"---\nname: caf\xe9\n---\n",
    )
    .unwrap();
    let repo = repository(
        tmp.path(),
        &[
            (".foreman/skills/ok/SKILL.md", &skill_text("ok", "repo ok")),
            (
                ".foreman/skills/bad/SKILL.md",
                "---\nname: bad\nsteps: [\n---\n",
            ),
        ],
    )
    .await;
    let catalog = SkillFiles::new(Some(&data)).with_repository("demo", repo);
    let list = catalog.discover(Some("demo")).await;

    assert!(find(&list, "good", SkillSource::DataDir).skill.is_some());
    assert!(find(&list, "ok", SkillSource::Repository).skill.is_some());
    let broken = find(&list, "broken", SkillSource::DataDir);
    assert!(broken.skill.is_none());
    assert_eq!(broken.problems.len(), 1);
    assert_eq!(broken.problems[0].line, Some(6));
    assert!(broken.problems[0].file.ends_with("skills/broken/SKILL.md"));
    assert!(
        broken.problems[0]
            .reason
            .contains("unknown step type `shell`")
    );
    assert_eq!(
        find(&list, "nofront", SkillSource::DataDir).problems[0].line,
        Some(1)
    );
    assert!(
        find(&list, "big", SkillSource::DataDir).problems[0]
            .reason
            .contains("64 KiB")
    );
    assert!(
        find(&list, "latin1", SkillSource::DataDir).problems[0]
            .reason
            .contains("UTF-8")
    );
    let bad = find(&list, "bad", SkillSource::Repository);
    assert_eq!(bad.problems[0].file, ".foreman/skills/bad/SKILL.md");
    assert!(bad.problems[0].reason.starts_with("YAML syntax"), "{bad:?}");
    assert!(
        !list
            .iter()
            .any(|d| d.name == "empty-dir" || d.name == "binary.md")
    );
    // the built-ins are all there and valid
    for (name, _) in BUILTIN_SKILLS {
        assert!(find(&list, name, SkillSource::Builtin).skill.is_some());
    }
    assert!(catalog.resolve("demo", "good").await.is_some());
    assert!(catalog.resolve("demo", "broken").await.is_none());
    let problems = catalog.problems().await;
    assert_eq!(problems.len(), 5, "{problems:#?}");
}

#[tokio::test]
async fn an_unreadable_data_dir_is_reported_and_the_rest_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    // `skills` is a file, not a directory: it cannot be listed (a permission test would not
    // hold when the tests run as root)
    std::fs::write(tmp.path().join("skills"), "oops").unwrap();
    let catalog = SkillFiles::new(Some(tmp.path()));
    let list = catalog.discover(None).await;
    let unreadable: Vec<_> = list
        .iter()
        .filter(|d| d.source == SkillSource::DataDir)
        .collect();
    assert_eq!(unreadable.len(), 1, "{list:#?}");
    assert!(
        unreadable[0].problems[0]
            .reason
            .contains("cannot read the skills directory")
    );
    assert_eq!(
        list.iter().filter(|d| d.skill.is_some()).count(),
        BUILTIN_SKILLS.len()
    );
    assert!(catalog.resolve("x", "changelog").await.is_some());

    // a missing skills directory is no problem at all
    let none = tempfile::tempdir().unwrap();
    let catalog = SkillFiles::new(Some(none.path()));
    assert!(catalog.problems().await.is_empty());
}

#[tokio::test]
async fn a_data_dir_change_is_seen_and_an_unchanged_one_is_not_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "skills/one/SKILL.md",
        &skill_text("one", "first"),
    );
    let catalog = SkillFiles::new(Some(tmp.path()));
    assert_eq!(
        catalog.resolve("p", "one").await.unwrap().description,
        "first"
    );

    // same listing, same sizes and times: the cached parse is used
    let cached = lock(&catalog.data_cache).clone().unwrap();
    assert_eq!(
        catalog.resolve("p", "one").await.unwrap().description,
        "first"
    );
    assert_eq!(lock(&catalog.data_cache).clone().unwrap().0, cached.0);

    // a new skill and an edited one (a different size) are read
    write(
        tmp.path(),
        "skills/two/SKILL.md",
        &skill_text("two", "second"),
    );
    write(
        tmp.path(),
        "skills/one/SKILL.md",
        &skill_text("one", "first, edited"),
    );
    assert_eq!(
        catalog.resolve("p", "two").await.unwrap().description,
        "second"
    );
    assert_eq!(
        catalog.resolve("p", "one").await.unwrap().description,
        "first, edited"
    );
}

#[tokio::test]
async fn two_files_of_one_name_in_a_source_keep_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "skills/a/SKILL.md",
        &skill_text("same", "first"),
    );
    write(
        tmp.path(),
        "skills/b/SKILL.md",
        &skill_text("same", "second"),
    );
    let catalog = SkillFiles::new(Some(tmp.path()));
    let list = catalog.discover(None).await;
    let same: Vec<_> = list.iter().filter(|d| d.name == "same").collect();
    assert_eq!(same.len(), 2);
    assert!(same[0].skill.is_some());
    assert!(same[1].skill.is_none());
    assert!(same[1].problems[0].reason.contains("already used by"));
    assert_eq!(
        catalog.resolve("p", "same").await.unwrap().description,
        "first"
    );
}

#[tokio::test]
async fn a_repository_skill_is_read_from_the_default_branch_as_fetched() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repository(tmp.path(), &[]).await;
    let catalog = SkillFiles::new(None).with_repository("demo", repo.clone());
    assert!(catalog.resolve("demo", "later").await.is_none());

    let seed = tmp.path().join("seed");
    write(
        &seed,
        ".foreman/skills/later/SKILL.md",
        &skill_text("later", "pushed later"),
    );
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "--quiet", "-m", "skill"]);
    git(&seed, &["push", "--quiet", "origin", "HEAD:main"]);
    // not fetched yet: not seen
    assert!(catalog.resolve("demo", "later").await.is_none());
    GitRepo::sync(repo.as_ref()).await.unwrap();
    assert_eq!(
        catalog.resolve("demo", "later").await.unwrap().description,
        "pushed later"
    );
}

#[test]
fn only_direct_children_of_the_skills_dir_are_skill_files() {
    assert_eq!(skill_dir_name(".foreman/skills/a/SKILL.md"), Some("a"));
    assert_eq!(skill_dir_name(".foreman/skills/a/b/SKILL.md"), None);
    assert_eq!(skill_dir_name(".foreman/skills/SKILL.md"), None);
    assert_eq!(skill_dir_name(".foreman/skillsx/a/SKILL.md"), None);
}

#[tokio::test]
async fn a_malformed_repository_skill_still_hides_a_shared_one_of_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write(
        &data,
        "skills/deploy/SKILL.md",
        &skill_text("deploy", "shared"),
    );
    let repo = repository(
        tmp.path(),
        &[(
            ".foreman/skills/deploy/SKILL.md",
            "---\nname: deploy\n---\n",
        )],
    )
    .await;
    let catalog = SkillFiles::new(Some(&data)).with_repository("demo", repo);
    let list = catalog.discover(Some("demo")).await;
    let mine = find(&list, "deploy", SkillSource::Repository);
    assert!(mine.skill.is_none() && !mine.problems.is_empty());
    assert!(find(&list, "deploy", SkillSource::DataDir).shadowed);
    // the hook fails on the repository's broken file rather than running the shared one
    assert!(catalog.resolve("demo", "deploy").await.is_none());
    // control: a project without that file runs the shared one
    let plain = SkillFiles::new(Some(&data)).with_project("demo");
    assert_eq!(
        plain.resolve("demo", "deploy").await.unwrap().description,
        "shared"
    );
}

#[tokio::test]
async fn a_template_that_does_not_compile_is_a_problem_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "skills/t/SKILL.md",
        "---\nname: t\ndescription: d\nsteps:\n  - id: a\n    type: run_command\n    command: 'echo {% if %}'\n---\n",
    );
    let catalog = SkillFiles::new(Some(tmp.path()));
    let list = catalog.discover(None).await;
    let t = find(&list, "t", SkillSource::DataDir);
    assert!(t.skill.is_none());
    assert_eq!(t.problems[0].line, Some(7));
    assert!(
        t.problems[0]
            .reason
            .contains("`command` is not a valid template"),
        "{t:?}"
    );
    assert!(template_syntax("{{ steps.a.output | trim }} {% if x %}y{% endif %}").is_ok());
    assert!(template_syntax("plain text").is_ok());
}
