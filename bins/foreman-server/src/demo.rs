//! `foreman-server --demo`: a sample repository with a local bare remote, a local ticket, and
//! the scripted provider, so a newcomer watches a ticket go from `queued` to `merged` with no
//! network and no API key.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use foreman_config::Config;
use foreman_domain::{EventLog, EventType, NewEvent, NewTicket, Store};

/// The scripted provider's answers for the demo ticket (used when no API key is set).
pub const SCRIPT: &str = include_str!("../demo/script.json");

/// The demo's test command: the standard library's unittest, present wherever python3 is.
pub const TEST_COMMAND: &str = "python3 -m unittest discover -s tests -t .";

/// Files of the sample project.
const FILES: &[(&str, &str)] = &[
    (
        "README.md",
        "# calc\n\nA tiny calculator used by the Foreman demo.\n\nRun the tests with `python3 -m unittest discover -s tests -t .`.\n",
    ),
    (
        "calc.py",
        "\"\"\"A tiny calculator.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n",
    ),
    ("tests/__init__.py", ""),
    (
        "tests/test_add.py",
        "import unittest\n\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n    def test_adds_two_numbers(self):\n        self.assertEqual(add(2, 3), 5)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n",
    ),
];

/// The demo ticket.
pub const TICKET_EXTERNAL_ID: &str = "DEMO-1";
/// Its title.
pub const TICKET_TITLE: &str = "Add a multiply function to calc";
/// Its description.
pub const TICKET_DESCRIPTION: &str =
    "calc.py can add but not multiply. Add `multiply(a, b)` next to `add`, with tests.";
/// Its acceptance criteria.
pub const TICKET_CRITERIA: &str = "- `multiply(2, 3)` returns 6\n- `multiply` is covered by a unit test\n- existing tests still pass";

/// Creates `<data_dir>/demo/remote.git` (a bare repository) seeded with the sample project, once.
/// Returns the remote's path.
///
/// # Errors
/// When git is missing or a git command fails.
pub fn ensure_sample_repository(data_dir: &Path) -> Result<PathBuf> {
    let demo = data_dir.join("demo");
    let remote = demo.join("remote.git");
    if remote.join("HEAD").exists() {
        return Ok(remote);
    }
    std::fs::create_dir_all(&demo)?;
    let seed = demo.join("seed");
    if seed.exists() {
        std::fs::remove_dir_all(&seed)?;
    }
    git(
        &demo,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "remote.git",
        ],
    )?;
    git(&demo, &["init", "--quiet", "--initial-branch=main", "seed"])?;
    for (path, text) in FILES {
        let file = seed.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, text)?;
    }
    git(&seed, &["add", "-A"])?;
    git(
        &seed,
        &[
            "-c",
            "user.name=Foreman Demo",
            "-c",
            "user.email=demo@localhost",
            "commit",
            "--quiet",
            "-m",
            "Sample project",
        ],
    )?;
    git(
        &seed,
        &[
            "push",
            "--quiet",
            remote.to_str().context("non-UTF-8 data directory")?,
            "main",
        ],
    )?;
    std::fs::remove_dir_all(&seed)?;
    Ok(remote)
}

/// Points the default project at the sample repository: local tracker, local git host that
/// merges (`auto_merge`), the sample's test command, and the demo script for the scripted
/// provider when no API key is configured.
///
/// # Errors
/// When the sample repository cannot be created or the script cannot be written.
pub fn configure(
    config: &mut Config,
    data_dir: &Path,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let remote = ensure_sample_repository(data_dir)?;
    config.git.provider = "local".into();
    config.git.clone_url = remote.display().to_string();
    config.git.default_branch = "main".into();
    config.git.auto_merge = true;
    config.tracker.provider = "local".into();
    if config.pipeline.test_command.is_empty() {
        config.pipeline.test_command = TEST_COMMAND.into();
    }
    if config.effective_llm_provider(env) == "scripted" {
        sandbox_or_fallback(config);
    }
    if config.effective_llm_provider(env) == "scripted" && config.llm.script.is_empty() {
        let path = data_dir.join("demo").join("script.json");
        std::fs::write(&path, SCRIPT)
            .with_context(|| format!("cannot write {}", path.display()))?;
        config.llm.script = path.display().to_string();
    }
    Ok(())
}

/// The scripted demo runs only its own sample project, so without bubblewrap installed it may
/// run its commands unisolated (`runner.mode = "none"`), loudly. With bubblewrap present, or
/// when it is installed but unusable, the configured mode stays (and an unusable sandbox refuses
/// commands). Real work never falls back.
fn sandbox_or_fallback(config: &mut Config) {
    if config.runner.effective_mode() != "sandbox" {
        return;
    }
    let iso = foreman_agent::Isolation::new(
        foreman_agent::ExecMode::Sandbox,
        foreman_agent::SandboxSettings {
            bwrap: config.runner.bwrap_path.clone(),
            ..foreman_agent::SandboxSettings::default()
        },
        foreman_agent::DockerSettings::default(),
    );
    if iso.probe() == foreman_agent::SandboxState::Missing {
        tracing::warn!(
            "DEMO WITHOUT THE OS SANDBOX: bubblewrap is not installed, so the demo's test commands run unisolated on this machine; {}",
            foreman_agent::isolation::INSTALL_HINT
        );
        eprintln!(
            "warning: bubblewrap is not installed; the demo runs its commands WITHOUT the OS sandbox ({})",
            foreman_agent::isolation::INSTALL_HINT
        );
        config.runner.mode = "none".into();
    }
}

/// Creates the demo ticket unless it exists.
///
/// # Errors
/// Store failures.
pub async fn seed_ticket(store: &dyn Store, events: &dyn EventLog) -> Result<()> {
    let project = foreman_domain::DEFAULT_PROJECT;
    if store
        .get_ticket_by_external_id(project, TICKET_EXTERNAL_ID)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let ticket = store
        .create_ticket(NewTicket {
            project: project.to_owned(),
            external_id: TICKET_EXTERNAL_ID.to_owned(),
            title: TICKET_TITLE.to_owned(),
            description: TICKET_DESCRIPTION.to_owned(),
            acceptance_criteria: TICKET_CRITERIA.to_owned(),
            priority: 1,
            labels: vec!["demo".to_owned()],
            submitter: Some("demo".to_owned()),
            parent_id: None,
        })
        .await?;
    events
        .append(NewEvent::new(EventType::TicketCreated, "demo ticket created").ticket(&ticket.id))
        .await?;
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_falls_back_to_no_isolation_only_without_bwrap() {
        let mut missing = Config::default();
        missing.runner.bwrap_path = "/nonexistent/bwrap".into();
        sandbox_or_fallback(&mut missing);
        assert_eq!(missing.runner.mode, "none");
        // An explicit docker mode is left alone.
        let mut docker = Config::default();
        docker.runner.mode = "docker".into();
        docker.runner.bwrap_path = "/nonexistent/bwrap".into();
        sandbox_or_fallback(&mut docker);
        assert_eq!(docker.runner.mode, "docker");
        if Path::new("/usr/bin/bwrap").exists() {
            let mut present = Config::default();
            present.runner.bwrap_path = "/usr/bin/bwrap".into();
            sandbox_or_fallback(&mut present);
            assert_eq!(present.runner.mode, "sandbox");
        }
    }

    #[test]
    fn seeds_a_bare_remote_once_and_its_tests_pass() {
        let dir = tempfile::tempdir().unwrap();
        let remote = ensure_sample_repository(dir.path()).unwrap();
        assert!(remote.join("HEAD").exists());
        // Idempotent.
        assert_eq!(ensure_sample_repository(dir.path()).unwrap(), remote);
        let clone = dir.path().join("clone");
        git(
            dir.path(),
            &["clone", "--quiet", remote.to_str().unwrap(), "clone"],
        )
        .unwrap();
        assert!(clone.join("calc.py").exists());
        let run = Command::new("sh")
            .arg("-c")
            .arg(TEST_COMMAND)
            .current_dir(&clone)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
