//! Where the server is and which token to send: flags and `FOREMAN_URL`/`FOREMAN_TOKEN` first,
//! then a profile from `$XDG_CONFIG_HOME/foreman/cli.toml` (`~/.config/foreman/cli.toml`),
//! which `foreman login` writes with mode 0600.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::{self, Failure};

/// The server used when nothing else names one.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The profile used when neither `--profile` nor the file's `default` names one.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// `cli.toml`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileFile {
    /// The profile used without `--profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, Profile>,
}

/// One server and its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    /// Base URL.
    pub(crate) server: String,
    /// API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
}

/// The path of `cli.toml`, or `None` when neither `XDG_CONFIG_HOME` nor `HOME` is set.
pub(crate) fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("foreman").join("cli.toml"))
}

/// Reads `cli.toml`; an absent file is an empty one.
pub(crate) fn load() -> Result<ProfileFile> {
    let Some(path) = path() else {
        return Ok(ProfileFile::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("cannot read {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfileFile::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `cli.toml` with mode 0600 (its directory 0700), replacing it atomically.
pub(crate) fn save(file: &ProfileFile) -> Result<PathBuf> {
    let path = path().context("cannot tell where cli.toml goes: set HOME or XDG_CONFIG_HOME")?;
    let dir = path.parent().context("cli.toml has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = format!(
        "# foreman CLI profiles, written by `foreman login`; holds API tokens (mode 0600)\n{}",
        toml::to_string(file).context("cannot encode the profiles")?
    );
    let tmp = dir.join(".cli.toml.tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
            options.mode(0o600);
            let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
        }
        let mut f = options
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // `mode` applies only when the file is created: a leftover keeps no wider bits.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The server and token a command uses.
#[derive(Debug)]
pub(crate) struct Target {
    /// Base URL.
    pub(crate) server: String,
    /// Token, if any.
    pub(crate) token: Option<String>,
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Resolves the target: `--server`/`FOREMAN_URL` and `--token`/`FOREMAN_TOKEN` win, each
/// separately, over the profile (whose token is sent only to its own server); the profile is `--profile`/`FOREMAN_PROFILE`, else the file's
/// `default`, else `default`. Naming a profile that does not exist is an error.
pub(crate) fn resolve(
    server: Option<&str>,
    token: Option<&str>,
    profile: Option<&str>,
) -> Result<Target> {
    let file = if server.is_some() && token.is_some() {
        ProfileFile::default()
    } else {
        load()?
    };
    let chosen = match profile {
        Some(name) => Some(file.profiles.get(name).cloned().ok_or_else(|| {
            Failure::new(
                error::USAGE,
                format!("no profile {name:?}; create it with `foreman login --profile {name}`"),
            )
        })?),
        None => file
            .profiles
            .get(file.default.as_deref().unwrap_or(DEFAULT_PROFILE))
            .cloned(),
    };
    let server = server
        .map(str::to_owned)
        .or_else(|| chosen.as_ref().map(|p| p.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    // A profile's token goes only to the profile's own server.
    let profile_token = chosen
        .filter(|p| same_server(&p.server, &server))
        .and_then(|p| p.token);
    Ok(Target {
        server,
        token: token.map(str::to_owned).or(profile_token),
    })
}
