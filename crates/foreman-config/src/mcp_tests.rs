//! `[[mcp.servers]]` parsed through the whole configuration.

use std::collections::BTreeMap;

use crate::Config;

fn load(toml: &str) -> Result<Config, String> {
    Config::from_toml_str(toml, "test", &BTreeMap::new()).map_err(|e| e.to_string())
}

#[test]
fn stdio_and_http_servers_parse_with_defaults() {
    let c = load(
        r#"
        [[mcp.servers]]
        name = "fs"
        command = "npx"
        args = ["-y", "server"]
        env = { ROOT = "/srv" }
        allowed_tools = ["read_file"]
        [[mcp.servers]]
        name = "remote"
        url = "https://mcp.example.com/mcp"
        headers = { Authorization = "Bearer x" }
        restart = "never"
        "#,
    )
    .unwrap();
    let fs = &c.mcp.servers[0];
    assert_eq!(fs.args, ["-y", "server"]);
    assert_eq!(fs.restart, "on_failure");
    assert_eq!(fs.max_restarts, 5);
    assert_eq!(fs.timeout, "60s");
    assert_eq!(c.mcp.servers[1].restart, "never");
}

#[test]
fn the_old_inline_form_still_parses() {
    let c =
        load(r#"mcp = { servers = [{ name = "fs", command = "mcp-fs --root /srv" }] }"#).unwrap();
    assert_eq!(c.mcp.servers[0].command, "mcp-fs --root /srv");
}

#[test]
fn errors_name_the_key() {
    for (toml, key) in [
        (
            "[[mcp.servers]]\nname = \"a b\"\ncommand = \"x\"",
            "mcp.servers[0].name",
        ),
        ("[[mcp.servers]]\nname = \"a\"", "mcp.servers[0].command"),
        (
            "[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\nurl = \"http://h\"",
            "mcp.servers[0].url",
        ),
        (
            "[[mcp.servers]]\nname = \"a\"\nurl = \"ftp://h\"",
            "mcp.servers[0].url",
        ),
        (
            "[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\nrestart = \"sometimes\"",
            "mcp.servers[0].restart",
        ),
        (
            "[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\ntimeout = \"soon\"",
            "mcp.servers[0].timeout",
        ),
        (
            "[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\nheaders = { A = \"b\" }",
            "mcp.servers[0].headers",
        ),
        (
            "[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\n[[mcp.servers]]\nname = \"a\"\ncommand = \"y\"",
            "mcp.servers[1].name",
        ),
    ] {
        let e = load(toml).unwrap_err();
        assert!(e.contains(key), "{toml}: {e}");
    }
}
