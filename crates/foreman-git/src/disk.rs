//! Disk usage of worktrees: measuring a directory tree and the gauge that reports it.

use std::path::Path;

/// The gauge set by [`record_disk_usage`].
pub const DISK_GAUGE: &str = "foreman_worktree_disk_bytes";

/// Bytes a directory tree occupies on disk (allocated blocks; symlinks not followed). Files
/// that vanish while walking are skipped.
///
/// # Errors
/// When the root cannot be read (a missing root is 0 bytes).
pub fn directory_bytes(root: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    let mut first = true;
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if first => return Err(e),
            Err(_) => continue,
        };
        first = false;
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(total)
}

/// Sets `foreman_worktree_disk_bytes{project}`.
#[allow(
    clippy::cast_precision_loss,
    reason = "a gauge is an f64; byte counts stay exact below 2^53"
)]
pub fn record_disk_usage(project: &str, bytes: u64) {
    metrics::gauge!(DISK_GAUGE, "project" => project.to_owned()).set(bytes as f64);
}
