//! [`SandboxedWriter`]: the domain's `WorktreeWriter` port (the `file_write` step of skills)
//! on the same path confinement as the agent's `write_file` tool ([`crate::sandbox`]): no
//! empty, absolute or `..` paths, nothing under `.git`, no symlink that leads out of the
//! worktree, no hard-linked or secret files; writes go through a temporary file and a rename.

use std::path::Path;

use async_trait::async_trait;
use foreman_domain::skill::{WorktreeWriter, WriteMode};

use crate::sandbox::{Sandbox, write_atomic};

/// Writes files inside a worktree through the agent's sandbox.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxedWriter;

impl SandboxedWriter {
    /// The writer.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }

    /// The write, on the calling thread.
    ///
    /// # Errors
    /// The path is refused by the sandbox, or the file system failed.
    pub fn write_blocking(
        root: &Path,
        path: &str,
        content: &str,
        mode: WriteMode,
    ) -> Result<(), String> {
        let sandbox = Sandbox::new(root).map_err(|e| e.to_string())?;
        let target = sandbox.resolve_write(path).map_err(|e| e.to_string())?;
        let text = if target.exists && mode != WriteMode::Overwrite {
            let old = std::fs::read_to_string(&target.path)
                .map_err(|e| format!("cannot read {}: {e}", target.rel))?;
            match mode {
                WriteMode::Append => format!("{old}{content}"),
                WriteMode::Prepend => format!("{content}{old}"),
                WriteMode::Overwrite => content.to_owned(),
            }
        } else {
            content.to_owned()
        };
        write_atomic(&target, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", target.rel))
    }
}

#[async_trait]
impl WorktreeWriter for SandboxedWriter {
    async fn write(
        &self,
        root: &Path,
        path: &str,
        content: &str,
        mode: WriteMode,
    ) -> Result<(), String> {
        let (root, path, content) = (root.to_path_buf(), path.to_owned(), content.to_owned());
        tokio::task::spawn_blocking(move || Self::write_blocking(&root, &path, &content, mode))
            .await
            .map_err(|e| format!("the write did not finish: {e}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, content: &str, mode: WriteMode) -> Result<(), String> {
        SandboxedWriter::write_blocking(root, path, content, mode)
    }

    #[test]
    fn overwrites_appends_and_prepends() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "docs/CHANGELOG.md", "b\n", WriteMode::Overwrite).unwrap();
        write(root, "docs/CHANGELOG.md", "c\n", WriteMode::Append).unwrap();
        write(root, "docs/CHANGELOG.md", "a\n", WriteMode::Prepend).unwrap();
        let text = std::fs::read_to_string(root.join("docs/CHANGELOG.md")).unwrap();
        assert_eq!(text, "a\nb\nc\n");
        write(root, "docs/CHANGELOG.md", "z\n", WriteMode::Overwrite).unwrap();
        let text = std::fs::read_to_string(root.join("docs/CHANGELOG.md")).unwrap();
        assert_eq!(text, "z\n");
        // appending to a missing file creates it
        write(root, "new.txt", "x", WriteMode::Append).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("new.txt")).unwrap(), "x");
    }

    #[test]
    fn paths_out_of_the_worktree_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("wt");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.join("target.txt"), root.join("link.txt")).unwrap();
        std::fs::write(outside.join("target.txt"), "original").unwrap();

        // control: a plain write through the symlinks lands outside the worktree
        std::fs::write(root.join("out/escaped.txt"), "escaped").unwrap();
        assert!(outside.join("escaped.txt").exists());
        std::fs::remove_file(outside.join("escaped.txt")).unwrap();
        std::fs::write(root.join("link.txt"), "changed").unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("target.txt")).unwrap(),
            "changed"
        );
        std::fs::write(outside.join("target.txt"), "original").unwrap();

        // defence: the writer refuses every one of them
        for (path, why) in [
            ("out/escaped.txt", "outside"),
            ("link.txt", "outside"),
            ("../outside/escaped.txt", ".."),
            ("/etc/passwd", "absolute"),
            (".git/config", ".git"),
            ("", "empty"),
        ] {
            let err = write(&root, path, "x", WriteMode::Overwrite).unwrap_err();
            assert!(err.contains(why), "{path}: {err}");
        }
        assert!(!outside.join("escaped.txt").exists());
        assert_eq!(
            std::fs::read_to_string(outside.join("target.txt")).unwrap(),
            "original"
        );
        assert!(!root.join(".git/config").exists());
    }

    #[tokio::test]
    async fn the_port_writes_on_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let w: &dyn WorktreeWriter = &SandboxedWriter::new();
        w.write(dir.path(), "a/b.txt", "hi", WriteMode::Overwrite)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a/b.txt")).unwrap(),
            "hi"
        );
        assert!(
            w.write(dir.path(), "../x", "hi", WriteMode::Overwrite)
                .await
                .is_err()
        );
    }
}
