use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn parse(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, "foreman.toml", &env(vars))
}

#[test]
fn defaults_are_valid_and_match_the_contract() {
    let c = parse("", &[]).unwrap();
    assert_eq!(c.dashboard.host, "127.0.0.1");
    assert_eq!(c.dashboard.port, 8080);
    assert!(c.dashboard.enabled);
    assert_eq!(c.database.driver, DatabaseDriver::Sqlite);
    assert_eq!(c.cost.alert_threshold, 80);
    assert_eq!(c.llm.models["spec_reviewer"], "anthropic:claude-haiku-4-5");
    assert_eq!(c.project_names(), ["default"]);
}

#[test]
fn reads_sections() {
    let c = parse(
        r#"
        [dashboard]
        port = 9090
        host = "0.0.0.0"
        cors_allowed_origins = ["https://ops.example.com"]
        [database]
        driver = "postgres"
        url = "postgres://u:secret@db/foreman"
        [cost]
        daily_budget = 20.5
        per_task_budget = 1
        [[projects]]
        name = "web"
        [projects.git]
        provider = "github"
        "#,
        &[],
    )
    .unwrap();
    assert_eq!(c.dashboard.port, 9090);
    assert_eq!(c.database.driver, DatabaseDriver::Postgres);
    assert_eq!(
        c.database.connection_url(Path::new("/x")),
        "postgres://u:secret@db/foreman"
    );
    assert_eq!(c.cost.limits().daily, Some(Micros(20_500_000)));
    assert_eq!(c.cost.limits().task, Some(Micros(1_000_000)));
    assert_eq!(c.projects[0].git.provider, "github");
    assert_eq!(c.projects[0].tracker.provider, "local");
    assert_eq!(c.project_names(), ["default", "web"]);
}

#[test]
fn unknown_keys_name_the_key_and_file() {
    let err = parse("[dashboard]\nprot = 1\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("foreman.toml"), "{err}");
    assert!(err.contains("prot"), "{err}");
    let err = parse("[nonsense]\nx = 1\n", &[]).unwrap_err().to_string();
    assert!(err.contains("nonsense"), "{err}");
}

#[test]
fn wrong_types_are_errors() {
    let err = parse("[dashboard]\nport = \"eighty\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("port") || err.contains("eighty"), "{err}");
}

#[test]
fn expands_environment_variables() {
    let c = parse(
        "[dashboard]\nauth_token = \"${TOK}\"\n[llm]\napi_key = \"${MISSING}\"\nbase_url = \"${NOPE:-http://localhost:11434}\"\n",
        &[("TOK", "abc123")],
    )
    .unwrap();
    assert_eq!(c.dashboard.auth_token, "abc123");
    assert_eq!(c.llm.api_key, "");
    assert_eq!(c.llm.base_url, "http://localhost:11434");
}

#[test]
fn env_overrides_every_scalar_kind() {
    let c = parse(
        "[dashboard]\nport = 9000\n",
        &[
            ("FOREMAN_DASHBOARD_PORT", "9100"),
            ("FOREMAN_DASHBOARD_ENABLED", "false"),
            ("FOREMAN_COST_DAILY_BUDGET", "12.5"),
            ("FOREMAN_DAEMON_LOG_LEVEL", "debug"),
            (
                "FOREMAN_DASHBOARD_CORS_ALLOWED_ORIGINS",
                "http://a.test, http://b.test:81",
            ),
            ("FOREMAN_URL", "http://ignored"),
        ],
    )
    .unwrap();
    assert_eq!(c.dashboard.port, 9100);
    assert!(!c.dashboard.enabled);
    assert_eq!(c.cost.daily_budget, 12.5);
    assert_eq!(c.daemon.log_level, "debug");
    assert_eq!(
        c.dashboard.cors_allowed_origins,
        ["http://a.test", "http://b.test:81"]
    );
}

#[test]
fn bad_env_override_names_the_variable() {
    let err = parse("", &[("FOREMAN_DASHBOARD_PORT", "lots")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("FOREMAN_DASHBOARD_PORT"), "{err}");
    assert!(err.contains("lots"), "{err}");
    let err = parse("", &[("FOREMAN_DASHBOARD_PORT", "70000")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("port") || err.contains("70000"), "{err}");
}

#[test]
fn validation_names_key_and_value() {
    let cases = [
        ("[dashboard]\nhost = \"my host\"\n", "dashboard.host"),
        (
            "[daemon]\nmax_parallel_tickets = 0\n",
            "daemon.max_parallel_tickets",
        ),
        (
            "[daemon]\npoll_interval = \"soon\"\n",
            "daemon.poll_interval",
        ),
        ("[cost]\nalert_threshold = 120\n", "cost.alert_threshold"),
        ("[cost]\ndaily_budget = -1.0\n", "cost.daily_budget"),
        (
            "[database]\ndriver = \"postgres\"\nurl = \"mysql://x\"\n",
            "database.url",
        ),
        ("[tracker]\nprovider = \"trello\"\n", "tracker.provider"),
        ("[llm.models]\nplanner = \"gpt\"\n", "llm.models.planner"),
        ("[[projects]]\nname = \"Bad Name\"\n", "projects[0].name"),
        (
            "[pipeline]\nmax_spec_review_cycles = 0\n",
            "pipeline.max_spec_review_cycles",
        ),
        (
            "[pipeline]\ncommand_timeout = \"forever\"\n",
            "pipeline.command_timeout",
        ),
        ("[[projects]]\nname = \"default\"\n", "projects[0].name"),
        ("[dashboard]\ntls_cert = \"/c.pem\"\n", "dashboard.tls_cert"),
        (
            "[dashboard]\ncors_allowed_origins = [\"example.com\"]\n",
            "dashboard.cors_allowed_origins",
        ),
    ];
    for (text, key) in cases {
        let err = parse(text, &[]).expect_err(text).to_string();
        assert!(err.contains(key), "{text:?} gave {err}");
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
    assert!(parse_duration("30").is_err());
    assert!(parse_duration("s").is_err());
    assert!(parse_duration("99999999999999999999d").is_err());
}

#[test]
fn summary_redacts_secrets() {
    let c = parse(
        "[llm]\napi_key = \"sk-ant-abcdefghijklmnop\"\n[git]\ntoken = \"ghp_1234567890abcdef\"\n[database]\ndriver = \"postgres\"\nurl = \"postgres://app:hunter22@db/x\"\n",
        &[],
    )
    .unwrap();
    let s = c.summary(Path::new("/data"));
    assert_eq!(s["llm"]["api_key"], "sk-ant-a...");
    assert_eq!(s["llm"]["provider"], "anthropic");
    assert_eq!(s["git"]["token"], "ghp_1234...");
    assert_eq!(s["database"]["url"], "postgres://app:...@db/x");
    let text = s.to_string();
    assert!(!text.contains("abcdefghijklmnop"));
    assert!(!text.contains("hunter22"));
    assert_eq!(s["daemon"]["max_parallel_tickets"], 3);
    assert_eq!(s["rate_limit"]["requests_per_minute"], 50);
    assert_eq!(redact_secret("short"), "...");
    assert_eq!(redact_secret(""), "");
}

#[test]
fn provider_defaults_to_scripted_without_keys() {
    let c = parse("", &[]).unwrap();
    assert_eq!(c.effective_llm_provider(&env(&[])), "scripted");
    assert_eq!(
        c.effective_llm_provider(&env(&[("OPENAI_API_KEY", "sk-x")])),
        "openai"
    );
    assert_eq!(
        c.effective_llm_provider(&env(&[("ANTHROPIC_API_KEY", "k")])),
        "anthropic"
    );
}

#[test]
fn loads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreman.toml");
    std::fs::write(&path, "[dashboard]\nport = 8181\n").unwrap();
    let c = Config::load_with_env(Some(&path), &env(&[])).unwrap();
    assert_eq!(c.dashboard.port, 8181);
    let err = Config::load_with_env(Some(&dir.path().join("nope.toml")), &env(&[])).unwrap_err();
    assert!(err.to_string().contains("nope.toml"));
    assert_eq!(
        c.database.connection_url(dir.path()),
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("foreman.db").display()
        )
    );
}

#[test]
fn runner_section_reads_and_checks_its_mode() {
    let c = parse(
        r#"
        [runner]
        allowed_commands = ["cargo check", "shell: make fmt-check"]
        mode = "docker"
        docker_image = "python:3.12-slim"
        "#,
        &[("FOREMAN_RUNNER_BUILD_COMMAND", "cargo build")],
    )
    .unwrap();
    assert_eq!(c.runner.allowed_commands.len(), 2);
    assert_eq!(c.runner.mode, "docker");
    assert_eq!(c.runner.docker_network, "none");
    assert_eq!(c.runner.build_command, "cargo build");
    let err = parse("[runner]\nmode = \"vm\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("runner.mode") && err.contains("vm"), "{err}");
    assert!(err.contains("sandbox, docker or none"), "{err}");
    let err = parse("[runner]\nshell = true\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("shell"), "{err}");
}

#[test]
fn agent_runner_section_reads_external_settings_per_project() {
    let c = parse(
        r#"
        [agent_runner]
        provider = "claude-code"
        model = "claude-sonnet-4-6"
        args = ["--verbose"]
        env_passthrough = ["ANTHROPIC_API_KEY"]
        timeout = "20m"
        max_cost_usd = 2.5

        [[projects]]
        name = "web"
        [projects.agent_runner]
        provider = "command"
        command = ["my-agent", "{worktree}", "{prompt_file}"]
        network = false
        "#,
        &[("FOREMAN_AGENT_RUNNER_MAX_COST_USD", "3")],
    )
    .unwrap();
    let a = &c.agent_runner;
    assert_eq!(a.provider_name(), "claude_code");
    assert_eq!(a.model, "claude-sonnet-4-6");
    assert_eq!(a.args, ["--verbose"]);
    assert_eq!(a.env_passthrough, ["ANTHROPIC_API_KEY"]);
    assert_eq!(a.timeout, "20m");
    assert!((a.max_cost_usd - 3.0).abs() < f64::EPSILON, "env override");
    assert!(a.network, "external CLIs get the network by default");
    let web = c.projects[0].agent_runner.as_ref().unwrap();
    assert_eq!(web.provider_name(), "command");
    assert_eq!(web.command[1], "{worktree}");
    assert!(!web.network);
    assert!(
        (web.max_cost_usd - 2.0).abs() < f64::EPSILON,
        "defaults, not inherited"
    );
    assert_eq!(
        parse("", &[]).unwrap().agent_runner,
        AgentRunnerConfig::default()
    );
}

#[test]
fn agent_runner_errors_name_the_key() {
    for (text, key) in [
        (
            "[agent_runner]\nprovider = \"gemini\"\n",
            "agent_runner.provider",
        ),
        (
            "[agent_runner]\nprovider = \"command\"\n",
            "agent_runner.command",
        ),
        (
            "[agent_runner]\nprovider = \"command\"\ncommand = [\" \"]\n",
            "agent_runner.command",
        ),
        (
            "[agent_runner]\ntimeout = \"soon\"\n",
            "agent_runner.timeout",
        ),
        ("[agent_runner]\ntimeout = \"0s\"\n", "agent_runner.timeout"),
        (
            "[agent_runner]\nmax_cost_usd = -1.0\n",
            "agent_runner.max_cost_usd",
        ),
        ("[agent_runner]\nmax_turns = 0\n", "agent_runner.max_turns"),
        (
            "[agent_runner]\nenv_passthrough = [\"A=B\"]\n",
            "agent_runner.env_passthrough",
        ),
        (
            "[[projects]]\nname = \"web\"\n[projects.agent_runner]\nprovider = \"nope\"\n",
            "projects[0].agent_runner.provider",
        ),
    ] {
        let err = parse(text, &[]).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    let err = parse("[agent_runner]\nsandbox = true\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("sandbox"), "{err}");
}

#[test]
fn runner_mode_defaults_to_the_sandbox_and_local_is_a_deprecated_none() {
    let c = parse("", &[]).unwrap();
    assert_eq!(c.runner.mode, "sandbox");
    assert_eq!(c.runner.effective_mode(), "sandbox");
    assert!(c.runner.deprecation().is_none());
    let old = parse("[runner]\nmode = \"local\"\n", &[]).unwrap();
    assert_eq!(old.runner.effective_mode(), "none");
    assert!(old.runner.deprecation().unwrap().contains("deprecated"));
    let none = parse("[runner]\nmode = \"none\"\n", &[]).unwrap();
    assert_eq!(none.runner.effective_mode(), "none");
    assert!(none.runner.deprecation().is_none());
}

#[test]
fn runner_sandbox_paths_and_limits_are_checked() {
    let c = parse(
        r#"
        [runner]
        read_only_paths = ["~/.cargo", "/opt/toolchains"]
        hidden_paths = ["/srv/secrets"]
        max_processes = 256
        "#,
        &[("FOREMAN_RUNNER_CPU_TIME_SECS", "120")],
    )
    .unwrap();
    assert_eq!(c.runner.read_only_paths, ["~/.cargo", "/opt/toolchains"]);
    assert_eq!(c.runner.cpu_time_secs, 120);
    assert_eq!(c.runner.max_processes, 256);
    for (text, key) in [
        (
            "read_only_paths = [\"relative/dir\"]",
            "runner.read_only_paths",
        ),
        ("hidden_paths = [\"x\"]", "runner.hidden_paths"),
        ("max_processes = 3", "runner.max_processes"),
        ("max_address_space_mb = 10", "runner.max_address_space_mb"),
        ("output_limit_bytes = 100", "runner.output_limit_bytes"),
        ("bwrap_path = \"\"", "runner.bwrap_path"),
    ] {
        let err = parse(&format!("[runner]\n{text}\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    assert!(parse("[runner]\nmax_processes = 0\noutput_limit_bytes = 0\n", &[]).is_ok());
}

#[test]
fn summary_shows_the_agent_runner_but_not_its_command_line() {
    let c = parse(
        "[agent_runner]\nprovider = \"claude-code\"\nargs = [\"--api-key\", \"sk-secret\"]\nmodel = \"m\"\n",
        &[],
    )
    .unwrap();
    let s = c.summary(Path::new("/data"));
    assert_eq!(s["agent_runner"]["provider"], "claude_code");
    assert_eq!(s["agent_runner"]["model"], "m");
    assert_eq!(s["agent_runner"]["max_cost_usd"], 2.0);
    assert!(!s.to_string().contains("sk-secret"), "{s}");
}

#[test]
fn serving_limits_and_trusted_proxies_are_parsed_and_checked() {
    let c = parse("", &[]).unwrap();
    assert_eq!(c.dashboard.write_requests_per_minute, 120);
    assert_eq!(c.dashboard.requests_per_minute, 0);
    assert_eq!(c.dashboard.max_connections, 4096);
    assert_eq!(
        c.serving_timeouts(),
        [10, 5, 30, 30].map(Duration::from_secs)
    );
    let c = parse(
        "[dashboard]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nheader_read_timeout = \"3s\"\n\
         write_requests_per_minute = 0\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.dashboard.trusted_proxies, ["10.0.0.0/8", "::1"]);
    assert_eq!(c.serving_timeouts()[0], Duration::from_secs(3));
    let rejected = |text: &str| parse(text, &[]).unwrap_err().to_string();
    let err = rejected("[dashboard]\ntrusted_proxies = [\"proxy.local\"]\n");
    assert!(err.contains("dashboard.trusted_proxies"), "{err}");
    let err = rejected("[dashboard]\nheader_read_timeout = \"0s\"\n");
    assert!(err.contains("dashboard.header_read_timeout"), "{err}");
}

#[test]
fn tracker_status_names_and_transient_retries_are_read_per_project_and_checked() {
    let c = parse(
        "[tracker]\nprovider = \"jira\"\n[tracker.statuses]\nin_progress = \"Doing\"\nfailed = \"-\"\n\n\
         [pipeline]\nmax_transient_retries = 2\ntransient_backoff = \"100ms\"\ntransient_backoff_max = \"1s\"\n\n\
         [[projects]]\nname = \"web\"\n[projects.tracker]\nprovider = \"linear\"\n[projects.tracker.statuses]\ndone = \"Shipped\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.tracker.statuses.in_progress, "Doing");
    assert_eq!(c.projects[0].tracker.statuses.done, "Shipped");
    assert_eq!(c.projects[0].tracker.statuses.in_progress, "");
    assert_eq!(
        TrackerStatusNames::resolve(&c.tracker.statuses.in_progress, "In Progress"),
        "Doing"
    );
    assert_eq!(TrackerStatusNames::resolve("", "In Review"), "In Review");
    assert_eq!(
        TrackerStatusNames::resolve(&c.tracker.statuses.failed, "Blocked"),
        ""
    );
    assert_eq!(c.pipeline.max_transient_retries, 2);
    assert_eq!(parse("", &[]).unwrap().pipeline.max_transient_retries, 5);
    for (text, key) in [
        (
            "[tracker.statuses]\nblocked = \"a\\nb\"\n",
            "tracker.statuses.blocked",
        ),
        ("[tracker.statuses]\nstuck = \"x\"\n", "stuck"),
        (
            "[pipeline]\ntransient_backoff = \"soon\"\n",
            "pipeline.transient_backoff",
        ),
        (
            "[pipeline]\ntransient_backoff = \"10s\"\ntransient_backoff_max = \"1s\"\n",
            "pipeline.transient_backoff_max",
        ),
    ] {
        let err = parse(text, &[]).expect_err(text).to_string();
        assert!(err.contains(key), "{text:?} gave {err}");
    }
}

/// The configuration example of `README.md`.
fn readme_example() -> String {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let len = readme[start..].find("```").expect("its end");
    readme[start..start + len].to_owned()
}

#[test]
fn the_readme_example_loads_and_names_the_operations_keys() {
    let text = readme_example();
    let c = parse(
        &text,
        &[
            ("FOREMAN_DASHBOARD_TOKEN", "t0ken-from-the-environment"),
            ("ANTHROPIC_API_KEY", "sk-ant-example"),
        ],
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.pricing.len(), 1);
    let table: toml::Table = toml::from_str(&text).unwrap();
    let defaults = serde_json::to_value(Config::default()).unwrap();
    for section in ["logs", "notifications", "retrospectives"] {
        let keys = defaults[section].as_object().unwrap().keys();
        for key in keys {
            assert!(
                table[section].get(key).is_some(),
                "README.md's example lacks {section}.{key}"
            );
        }
    }
    let pricing = &table["pricing"].as_array().unwrap()[0];
    for key in ["model", "input", "output", "cache_write", "cache_read"] {
        assert!(
            pricing.get(key).is_some(),
            "README.md's example lacks pricing.{key}"
        );
    }
}

// ----- [[pricing]], [notifications], [retrospectives] -----

fn load_operations(toml: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(toml, "test.toml", &BTreeMap::new())
}

#[test]
fn pricing_entries_parse_and_default() {
    let c = load_operations(
        r#"
[[pricing]]
model = "my-finetune"
input = 2.0
output = 8.0
cache_read = 0.5

[[pricing]]
model = "*"
input = 3
output = 15
"#,
    )
    .unwrap();
    assert_eq!(c.pricing.len(), 2);
    assert_eq!(c.pricing[0].cache_read, Some(0.5));
    assert_eq!(c.pricing[0].cache_write, None);
    assert_eq!(c.retrospectives.every, 20);
    assert!(c.notifications.enabled);
    assert!(load_operations("").unwrap().pricing.is_empty());
}

#[test]
fn bad_operations_keys_are_named() {
    let key = |toml: &str| match load_operations(toml).unwrap_err() {
        ConfigError::Invalid { key, .. } => key,
        other => panic!("{other}"),
    };
    assert_eq!(
        key("[[pricing]]\nmodel = \"m\"\ninput = -1\noutput = 1\n"),
        "pricing[0].input"
    );
    assert_eq!(
        key("[[pricing]]\nmodel = \"\"\ninput = 1\noutput = 1\n"),
        "pricing[0].model"
    );
    assert_eq!(
        key(
            "[[pricing]]\nmodel = \"m\"\ninput = 1\noutput = 1\n[[pricing]]\nmodel = \"m\"\ninput = 1\noutput = 2\n"
        ),
        "pricing[1].model"
    );
    assert_eq!(key("[retrospectives]\nevery = 0\n"), "retrospectives.every");
    assert_eq!(
        key("[notifications]\npoll_interval = \"0s\"\n"),
        "notifications.poll_interval"
    );
    assert!(
        load_operations("[[pricing]]\nmodel = \"m\"\ninput = 1\noutput = 1\nextra = 2\n").is_err()
    );
}
