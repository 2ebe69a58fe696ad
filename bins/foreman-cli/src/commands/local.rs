//! Commands that need no server: `init`, `completions`, `man`, `login` (which checks the
//! server once), and the database commands `migrate` and `token`.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory as _;
use foreman_config::{Config, parse_duration};
use foreman_domain::{NewApiToken, Scope, TokenId};
use foreman_store::SqlStore;

use crate::cli::{Cli, DbArgs, Global, LoginArgs, Shell, TokenCommand};
use crate::error::{self, Failure};
use crate::http::Client;
use crate::out;
use crate::profile::{self, DEFAULT_PROFILE, DEFAULT_SERVER, Profile};
use crate::table;

/// What each section of `foreman.toml` is for (the config crate's own doc lines).
const SECTIONS: &[(&str, &str)] = &[
    ("dashboard", "HTTP API and dashboard"),
    (
        "database",
        "Storage (SQLite in the data directory unless `url` is set)",
    ),
    ("daemon", "The daemon's scheduling"),
    ("llm", "LLM providers and role routing"),
    ("tracker", "The default project's tracker"),
    ("git", "The default project's repository and git host"),
    ("agent_runner", "The coding agent"),
    ("runner", "Where and how worktree commands run"),
    ("pipeline", "The pipeline's stages and limits"),
    ("cost", "Budgets"),
    ("rate_limit", "Provider and API rate limits"),
    ("mcp", "MCP servers made available to the agent"),
];

/// A commented `foreman.toml`: every section of the defaults with each key commented out at
/// its default value, so the file changes nothing until a line is uncommented.
pub(crate) fn render_init() -> Result<String> {
    let defaults =
        toml::Value::try_from(Config::default()).context("cannot encode the defaults")?;
    let root = defaults
        .as_table()
        .context("the defaults are not a table")?;
    let mut out = String::from(
        "# foreman.toml: written by `foreman init` from Foreman's defaults.\n\
         # Every key is commented out at its default value: uncomment a line to change it.\n\
         # Values may use ${VAR}; FOREMAN_<SECTION>_<KEY> overrides any scalar.\n\
         # See README.md (Configuration) for what each key does.\n",
    );
    for (name, value) in root {
        match value {
            toml::Value::Table(table) => section(&mut out, name, table),
            toml::Value::Array(_) => {
                let about = if name == "projects" {
                    "Further projects beside the default one, each with its own tracker and git host"
                } else {
                    "A list of tables"
                };
                out.push_str(&format!("\n# {about}:\n# [[{name}]]\n"));
            }
            other => out.push_str(&format!("# {name} = {other}\n")),
        }
    }
    Ok(out)
}

/// One section; a nested table's header is commented out too, since an empty map table would
/// replace the default map (e.g. `[llm.models]`).
fn section(out: &mut String, name: &str, table: &toml::Table) {
    let about = SECTIONS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
    out.push('\n');
    if let Some(a) = about {
        out.push_str(&format!("# {a}.\n"));
    }
    let comment = if name.contains('.') { "# " } else { "" };
    out.push_str(&format!("{comment}[{name}]\n"));
    let mut nested = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(t) => nested.push((key, t)),
            toml::Value::Array(items) if items.iter().any(toml::Value::is_table) => {
                out.push_str(&format!("# [[{name}.{key}]]\n"));
            }
            other => out.push_str(&format!("# {key} = {other}\n")),
        }
    }
    for (key, t) in nested {
        section(out, &format!("{name}.{key}"), t);
    }
}

/// `foreman init`: refuses (exit 4) to overwrite anything.
pub(crate) fn init(path: &Path, json: bool) -> Result<()> {
    let text = render_init()?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::new(
                error::CONFLICT,
                format!("{} exists; not overwriting it", path.display()),
            )
            .into());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    if json {
        out::json(&serde_json::json!({"path": path, "written": true}));
    } else {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `foreman completions SHELL`.
pub(crate) fn completions(shell: Shell) {
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "foreman", &mut script);
    write_stdout(&script);
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}

/// `foreman man`: the page for `foreman` and a section per subcommand.
pub(crate) fn man() -> Result<()> {
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .context("cannot render the man page")?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap names are `&'static str` (without its `string` feature); the page is printed
        // once and the process exits.
        let name: &'static str = Box::leak(format!("foreman-{}", sub.get_name()).into_boxed_str());
        let sub = sub.clone().name(name).display_name(name);
        let mut section = Vec::new();
        let man = clap_mangen::Man::new(sub);
        man.render_name_section(&mut section)?;
        man.render_synopsis_section(&mut section)?;
        man.render_description_section(&mut section)?;
        man.render_options_section(&mut section)?;
        if !section.is_empty() {
            page.extend_from_slice(&section);
        }
    }
    write_stdout(&page);
    Ok(())
}

/// `foreman login`: checks the token against the server, then saves the profile.
pub(crate) async fn login(global: &Global, args: &LoginArgs) -> Result<()> {
    let mut file = profile::load()?;
    let name = global.profile.clone().unwrap_or_else(|| {
        file.default
            .clone()
            .unwrap_or_else(|| DEFAULT_PROFILE.to_owned())
    });
    let server = global
        .server
        .clone()
        .or_else(|| file.profiles.get(&name).map(|p| p.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let token = match &global.token {
        Some(t) => t.clone(),
        None => {
            eprint!("token for {server}: ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the token from stdin")?;
            line.trim().to_owned()
        }
    };
    if token.is_empty() {
        return Err(
            Failure::new(error::USAGE, "no token: pass --token or type it on stdin").into(),
        );
    }
    let client = Client::new(&server, Some(&token))?;
    client
        .get("/api/tickets", &[("limit", "1".to_owned())])
        .await
        .context("the server refused the login")?;
    file.profiles.insert(
        name.clone(),
        Profile {
            server: server.clone(),
            token: Some(token),
        },
    );
    if !args.no_default || file.default.is_none() {
        file.default = Some(name.clone());
    }
    let path = profile::save(&file)?;
    if global.json {
        out::json(&serde_json::json!({"profile": name, "server": server, "path": path}));
    } else {
        println!(
            "logged in to {server} as profile {name} ({})",
            path.display()
        );
    }
    Ok(())
}

async fn open(db: &DbArgs) -> Result<SqlStore> {
    let url = match &db.database_url {
        Some(url) => url.clone(),
        None => {
            let config = Config::load(db.config.as_deref())?;
            std::fs::create_dir_all(&db.data_dir)
                .with_context(|| format!("cannot create {}", db.data_dir.display()))?;
            config.database.connection_url(&db.data_dir)
        }
    };
    SqlStore::connect(&url)
        .await
        .context("cannot open the database")
}

/// `foreman migrate`.
pub(crate) async fn migrate(db: &DbArgs, json: bool) -> Result<()> {
    let store = open(db).await?;
    store.migrate().await.context("migration failed")?;
    if json {
        out::json(&serde_json::json!({"migrated": true, "backend": store.backend().to_string()}));
    } else {
        println!("database is up to date ({})", store.backend());
    }
    Ok(())
}

/// `foreman token …`.
pub(crate) async fn token(command: TokenCommand, json: bool) -> Result<()> {
    use foreman_domain::TokenStore;
    match command {
        TokenCommand::Generate {
            db,
            name,
            scope,
            expires_in,
        } => {
            let scope: Scope = scope.parse().map_err(|e| {
                Failure::new(error::USAGE, format!("{e}; expected read, write or admin"))
            })?;
            let expires_at = match expires_in {
                Some(s) => {
                    let d = parse_duration(&s).map_err(|e| {
                        Failure::new(error::USAGE, format!("--expires-in {s:?}: {e}"))
                    })?;
                    Some(foreman_domain::now() + chrono::Duration::from_std(d)?)
                }
                None => None,
            };
            let store = open(&db).await?;
            store.migrate().await?;
            let (record, secret) = NewApiToken::generate(name, vec![scope], expires_at);
            let token = store.create_token(record).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": token.id, "name": token.name, "token": secret.expose(), "scopes": token.scopes, "expires_at": token.expires_at})
                );
            } else {
                println!("{}", secret.expose());
                eprintln!(
                    "token {} ({}) created; it is shown only once",
                    token.id, token.name
                );
            }
            Ok(())
        }
        TokenCommand::List { db } => {
            let store = open(&db).await?;
            let tokens = store.list_tokens().await?;
            if json {
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id, "name": t.name, "prefix": t.prefix, "scopes": t.scopes,
                            "created_at": t.created_at, "last_used_at": t.last_used_at,
                            "expires_at": t.expires_at, "revoked_at": t.revoked_at,
                        })
                    })
                    .collect();
                out::json(&serde_json::Value::Array(rows));
            } else {
                let rows = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            format!("{}…", t.prefix),
                            t.scopes
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(","),
                            t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                            if t.revoked_at.is_some() {
                                "revoked".into()
                            } else if !t.is_usable_at(foreman_domain::now()) {
                                "expired".into()
                            } else {
                                "active".into()
                            },
                        ]
                    })
                    .collect();
                table::print(
                    &["ID", "NAME", "PREFIX", "SCOPES", "CREATED", "STATE"],
                    rows,
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { db, id } => {
            let store = open(&db).await?;
            if store.revoke_token(&TokenId::from(id.as_str())).await? {
                if json {
                    out::json(&serde_json::json!({"id": id, "revoked": true}));
                } else {
                    println!("token {id} revoked");
                }
                Ok(())
            } else {
                Err(Failure::new(error::NOT_FOUND, format!("no token with id {id}")).into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn is_key_line(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(k, _)| {
            k.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        })
    }

    fn is_nested_header(line: &str) -> bool {
        line.starts_with('[') && !line.starts_with("[[") && line.contains('.')
    }

    #[test]
    fn init_writes_every_default_commented_out() {
        let text = render_init().unwrap();
        // as written it changes nothing
        let vars = BTreeMap::new();
        assert_eq!(
            Config::from_toml_str(&text, "init", &vars).unwrap(),
            Config::default()
        );
        // with every key uncommented it is still exactly the defaults: the values are real
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if is_key_line(rest) || is_nested_header(rest) => rest.to_owned(),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(uncommented.matches(" = ").count() > 20, "{uncommented}");
        assert_eq!(
            Config::from_toml_str(&uncommented, "init", &vars).unwrap(),
            Config::default()
        );
        for (name, _) in SECTIONS {
            assert!(
                text.contains(&format!("\n[{name}]\n")),
                "no [{name}] in\n{text}"
            );
        }
    }
}
