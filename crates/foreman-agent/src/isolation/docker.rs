//! `mode = "docker"`: the `docker run` command line.

use std::path::Path;

use super::settings::DockerSettings;

/// Builds the `docker run` command line for running `argv` in `worktree` with `env`. The
/// worktree's `.git` is masked (`/dev/null` over a pointer file, an empty tmpfs over a
/// directory).
#[must_use]
pub fn docker_command_line(
    docker: &DockerSettings,
    worktree: &Path,
    argv: &[String],
    env: &[(String, String)],
    container_name: &str,
    user: Option<(u32, u32)>,
) -> Vec<String> {
    let mut cmd = vec![
        docker.program.clone(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        container_name.to_owned(),
        "--network".into(),
        docker.network.clone(),
        "--pids-limit".into(),
        docker.pids_limit.to_string(),
        "--memory".into(),
        docker.memory.clone(),
        "--cpus".into(),
        docker.cpus.clone(),
        "--cap-drop".into(),
        "ALL".into(),
        "--security-opt".into(),
        "no-new-privileges".into(),
    ];
    if let Some((uid, gid)) = user {
        cmd.push("--user".into());
        cmd.push(format!("{uid}:{gid}"));
    }
    cmd.push("--volume".into());
    cmd.push(format!("{}:{}:rw", worktree.display(), docker.workdir));
    match std::fs::symlink_metadata(worktree.join(".git")) {
        Ok(m) if m.is_dir() => {
            cmd.push("--tmpfs".into());
            cmd.push(format!("{}/.git:ro", docker.workdir));
        }
        Ok(_) => {
            cmd.push("--volume".into());
            cmd.push(format!("/dev/null:{}/.git:ro", docker.workdir));
        }
        Err(_) => {}
    }
    cmd.push("--workdir".into());
    cmd.push(docker.workdir.clone());
    for (k, v) in env {
        // The host's paths mean nothing inside the container.
        if matches!(
            k.as_str(),
            "PATH" | "HOME" | "TMPDIR" | "CARGO_HOME" | "RUSTUP_HOME" | "CARGO_TARGET_DIR"
        ) {
            continue;
        }
        cmd.push("--env".into());
        cmd.push(format!("{k}={v}"));
    }
    cmd.extend(docker.extra_args.iter().cloned());
    cmd.push(docker.image.clone());
    cmd.extend(argv.iter().cloned());
    cmd
}
