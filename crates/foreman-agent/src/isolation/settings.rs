//! The settings of the isolation: the mode, the container and OS sandbox settings, the resource
//! limits and what a caller asks of one command.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where commands run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecMode {
    /// In the OS sandbox (`bwrap`) on this machine.
    #[default]
    Sandbox,
    /// In a container (`docker run --network none ...`) with the worktree mounted.
    Docker,
    /// On this machine without isolation (`local` is accepted as an old name).
    #[serde(alias = "local")]
    None,
}

impl ExecMode {
    /// The configuration name: `sandbox`, `docker` or `none`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Docker => "docker",
            Self::None => "none",
        }
    }

    /// Parses a configuration value; `local` is the old name of `none`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sandbox" => Some(Self::Sandbox),
            "docker" => Some(Self::Docker),
            "none" | "local" => Some(Self::None),
            _ => None,
        }
    }
}

/// `[runner]` container settings for `mode = "docker"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerSettings {
    /// The container CLI (`docker`, `podman`).
    pub program: String,
    /// The image commands run in.
    pub image: String,
    /// `--network` value; `none` unless a project needs otherwise.
    pub network: String,
    /// `--memory` value.
    pub memory: String,
    /// `--cpus` value.
    pub cpus: String,
    /// `--pids-limit` value (bounds fork bombs).
    pub pids_limit: u32,
    /// Where the worktree is mounted.
    pub workdir: String,
    /// Further `docker run` arguments, placed before the image.
    pub extra_args: Vec<String>,
}

impl Default for DockerSettings {
    fn default() -> Self {
        Self {
            program: "docker".into(),
            image: "rust:1-slim".into(),
            network: "none".into(),
            memory: "4g".into(),
            cpus: "2".into(),
            pids_limit: 512,
            workdir: "/workspace".into(),
            extra_args: Vec::new(),
        }
    }
}

/// Resource limits of one sandboxed command (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceLimits {
    /// CPU seconds (`RLIMIT_CPU`).
    pub cpu_secs: u64,
    /// Address space in bytes (`RLIMIT_AS`).
    pub address_space_bytes: u64,
    /// Processes and threads (`pids.max` of a per-command cgroup, else `RLIMIT_NPROC`).
    pub processes: u32,
    /// Largest file a command may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Output bytes after which the command's processes are killed (every mode).
    pub output_bytes: u64,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            cpu_secs: 3600,
            address_space_bytes: 32 << 30,
            processes: 1024,
            file_size_bytes: 8 << 30,
            output_bytes: 64 << 20,
        }
    }
}

/// `[runner]` settings of the OS sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// The bubblewrap binary.
    pub bwrap: String,
    /// Further host paths visible read-only (toolchains such as `~/.cargo`, `~/.rustup`).
    pub read_only_paths: Vec<PathBuf>,
    /// Host paths never visible (the data and work directories belong here; the binaries add
    /// them).
    pub hidden_paths: Vec<PathBuf>,
    /// Resource limits.
    pub limits: ResourceLimits,
    /// Where pids cgroups are created (`None`: found under `/sys/fs/cgroup`).
    pub cgroup_root: Option<PathBuf>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            bwrap: "bwrap".into(),
            read_only_paths: Vec::new(),
            hidden_paths: Vec::new(),
            limits: ResourceLimits::default(),
            cgroup_root: None,
        }
    }
}

/// What a caller asks of one wrapped command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsolationOptions {
    /// Keep the host's network (external agent CLIs talk to their API); otherwise the command
    /// gets a network namespace of its own with only loopback.
    pub network: bool,
    /// Further host paths visible read-only for this command (e.g. a CLI's own installation).
    pub read_only: Vec<PathBuf>,
    /// Further host paths writable for this command (e.g. a CLI's session directory).
    pub read_write: Vec<PathBuf>,
}
