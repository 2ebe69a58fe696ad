//! Worktree hygiene: disk usage and its gauge, and the janitor that removes the worktrees of
//! finished tickets and orphans left by crashes and runs git's automatic maintenance on the
//! cached clone.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::git::GitResult;
use foreman_domain::{TicketId, TicketStore};
use tokio_util::sync::CancellationToken;

pub use crate::disk::{DISK_GAUGE, directory_bytes, record_disk_usage};
use crate::repo::GitRepository;

/// How often the janitor runs by default: every 5 minutes, so a finished ticket's worktrees
/// are gone within 10.
pub const DEFAULT_JANITOR_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Removes the worktrees of tickets that are gone from the store or in a terminal status, and
/// orphaned directories, then runs [`GitRepository::maintain`]. Returns how many were removed.
/// Run at start-up and by the janitor.
///
/// # Errors
/// Git, file system or store failures.
pub async fn sweep_finished(repo: &GitRepository, tickets: &dyn TicketStore) -> GitResult<usize> {
    let mut finished: Vec<TicketId> = Vec::new();
    let mut dirs = match tokio::fs::read_dir(repo.worktrees_dir()).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(foreman_domain::git::GitError::Io {
                context: "listing worktrees".to_owned(),
                source: e,
            });
        }
    };
    while let Ok(Some(entry)) = dirs.next_entry().await {
        let id = TicketId::from_string(entry.file_name().to_string_lossy().into_owned());
        match tickets.get_ticket(&id).await {
            Ok(Some(t)) if !t.status.is_terminal() => {}
            Ok(_) => finished.push(id),
            Err(e) => {
                // keep what we cannot classify; the next run tries again
                tracing::warn!(ticket_id = %id, error = %e, "janitor could not read a ticket");
            }
        }
    }
    let removed = repo.sweep(&|id| !finished.contains(id)).await?;
    if let Err(e) = repo.maintain().await {
        tracing::warn!(project = %repo.config().project, error = %e, "git maintenance failed");
    }
    let _ = repo.disk_usage().await;
    Ok(removed.len())
}

/// Runs [`sweep_finished`] now and then every `every` until `shutdown` is cancelled.
pub fn spawn_janitor(
    repo: Arc<GitRepository>,
    tickets: Arc<dyn TicketStore>,
    every: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sweep_finished(&repo, tickets.as_ref()).await {
                Ok(n) if n > 0 => {
                    tracing::info!(project = %repo.config().project, removed = n, "janitor removed worktrees")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(project = %repo.config().project, error = %e, code = e.code(), "janitor failed")
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    })
}
