//! The file sandbox: every path the model names is resolved under the worktree root.
//!
//! A path is refused before touching the file system when it is empty, absolute, contains a
//! `..` component, a backslash, a NUL byte, a percent-encoded dot, slash or backslash, or a
//! `.git` component. It is then resolved with symlinks followed, and refused when the result
//! is outside the (canonical) root, inside `.git`, not a regular file (devices, FIFOs,
//! sockets), hard-linked (`nlink > 1`, so a link to an outside file cannot be read or
//! changed), or a secret file ([`crate::secrets::is_secret_file`]).
//!
//! Limits are described honestly in `docs/security.md`: checks and use are not atomic, so a
//! process racing the agent inside the worktree could swap a checked path for a symlink
//! between the check and the open. Writes go through a temporary file and a rename, which
//! never follows a symlink at the final component.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use crate::secrets::is_secret_file;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// No path was given.
    #[error("path is empty")]
    Empty,
    /// The path is absolute.
    #[error("absolute paths are not allowed ({path}); use a path relative to the worktree root")]
    Absolute {
        /// The path.
        path: String,
    },
    /// The path has a `..` component.
    #[error("path {path} contains '..'; paths must stay inside the worktree")]
    Traversal {
        /// The path.
        path: String,
    },
    /// The path has characters that are refused (NUL, backslash, percent-encoding).
    #[error("path {path} contains {what}, which is not allowed")]
    BadCharacters {
        /// The path.
        path: String,
        /// What was found.
        what: &'static str,
    },
    /// The path is inside `.git`.
    #[error("path {path} is inside .git, which the agent may not touch")]
    GitInternals {
        /// The path.
        path: String,
    },
    /// Following symlinks leads outside the worktree.
    #[error("path {path} resolves outside the worktree")]
    Escapes {
        /// The path.
        path: String,
    },
    /// The path is a device, FIFO, socket or other special file.
    #[error("path {path} is a {kind}, not a regular file")]
    NotRegular {
        /// The path.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// The file has more than one hard link.
    #[error("path {path} is hard-linked elsewhere and is refused")]
    HardLinked {
        /// The path.
        path: String,
    },
    /// The file's name marks it as a secret store.
    #[error("path {path} is a secret file (.env*, *.pem, *.key, ...) and is never read or written")]
    SecretFile {
        /// The path.
        path: String,
    },
    /// Nothing exists at the path.
    #[error("path {path} does not exist")]
    NotFound {
        /// The path.
        path: String,
    },
    /// The path is a directory where a file was expected.
    #[error("path {path} is a directory")]
    IsDirectory {
        /// The path.
        path: String,
    },
    /// The path is a file where a directory was expected.
    #[error("path {path} is not a directory")]
    NotDirectory {
        /// The path.
        path: String,
    },
    /// The root itself cannot be used.
    #[error("invalid worktree root {path}: {reason}")]
    InvalidRoot {
        /// The root.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file system failed.
    #[error("cannot access {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
}

impl SandboxError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty => "path_empty",
            Self::Absolute { .. } => "path_absolute",
            Self::Traversal { .. } => "path_traversal",
            Self::BadCharacters { .. } => "path_bad_characters",
            Self::GitInternals { .. } => "path_git_internals",
            Self::Escapes { .. } => "path_escapes",
            Self::NotRegular { .. } => "path_not_regular",
            Self::HardLinked { .. } => "path_hard_linked",
            Self::SecretFile { .. } => "path_secret_file",
            Self::NotFound { .. } => "path_not_found",
            Self::IsDirectory { .. } => "path_is_directory",
            Self::NotDirectory { .. } => "path_not_directory",
            Self::InvalidRoot { .. } => "invalid_root",
            Self::Io { .. } => "io",
        }
    }
}

/// Where a write will land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteTarget {
    /// The absolute path (symlinks inside the tree resolved).
    pub path: PathBuf,
    /// The worktree-relative path with `/` separators.
    pub rel: String,
    /// Whether a file exists there now.
    pub exists: bool,
}

/// A worktree root and the rules for paths under it.
#[derive(Debug, Clone)]
pub struct Sandbox {
    root: PathBuf,
}

fn io_err(path: &str, e: &io::Error) -> SandboxError {
    if e.kind() == io::ErrorKind::NotFound {
        SandboxError::NotFound {
            path: path.to_owned(),
        }
    } else {
        SandboxError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
}

fn special_kind(ft: fs::FileType) -> &'static str {
    if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

fn is_git_component(c: &str) -> bool {
    c.eq_ignore_ascii_case(".git")
}

impl Sandbox {
    /// A sandbox rooted at `root` (which must be an existing directory).
    ///
    /// # Errors
    /// [`SandboxError::InvalidRoot`] when it is missing or not a directory.
    pub fn new(root: &Path) -> Result<Self, SandboxError> {
        let canonical = fs::canonicalize(root).map_err(|e| SandboxError::InvalidRoot {
            path: root.display().to_string(),
            reason: e.to_string(),
        })?;
        if !canonical.is_dir() {
            return Err(SandboxError::InvalidRoot {
                path: root.display().to_string(),
                reason: "not a directory".to_owned(),
            });
        }
        Ok(Self { root: canonical })
    }

    /// The canonical root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks a path's spelling and returns its normal components. `"."` and `""` components
    /// are dropped; an empty result means the root.
    ///
    /// # Errors
    /// The syntactic refusals (absolute, `..`, encoded traversal, `.git`, NUL, backslash).
    pub fn check_syntax(path: &str) -> Result<Vec<&str>, SandboxError> {
        let p = path.trim();
        if p.is_empty() {
            return Err(SandboxError::Empty);
        }
        let bad = |what| SandboxError::BadCharacters {
            path: path.to_owned(),
            what,
        };
        if p.contains('\0') {
            return Err(bad("a NUL byte"));
        }
        if p.contains('\\') {
            return Err(bad("a backslash"));
        }
        let lower = p.to_ascii_lowercase();
        if ["%2e", "%2f", "%5c", "%00", "%c0", "%c1", "%e0"]
            .iter()
            .any(|e| lower.contains(e))
        {
            return Err(bad("percent-encoding"));
        }
        if p.starts_with('/') || p.starts_with('~') || Path::new(p).is_absolute() {
            return Err(SandboxError::Absolute {
                path: path.to_owned(),
            });
        }
        let mut parts = Vec::new();
        for c in p.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    return Err(SandboxError::Traversal {
                        path: path.to_owned(),
                    });
                }
                c if is_git_component(c) => {
                    return Err(SandboxError::GitInternals {
                        path: path.to_owned(),
                    });
                }
                c => parts.push(c),
            }
        }
        Ok(parts)
    }

    /// The worktree-relative spelling of an absolute path under the root.
    fn rel_of(&self, abs: &Path, asked: &str) -> Result<String, SandboxError> {
        let rel = abs
            .strip_prefix(&self.root)
            .map_err(|_| SandboxError::Escapes {
                path: asked.to_owned(),
            })?;
        let mut out = String::new();
        for c in rel.components() {
            match c {
                Component::Normal(s) => {
                    let s = s.to_string_lossy();
                    if is_git_component(&s) {
                        return Err(SandboxError::GitInternals {
                            path: asked.to_owned(),
                        });
                    }
                    if !out.is_empty() {
                        out.push('/');
                    }
                    out.push_str(&s);
                }
                _ => {
                    return Err(SandboxError::Escapes {
                        path: asked.to_owned(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Resolves an existing path (file or directory) with symlinks followed.
    ///
    /// # Errors
    /// Any refusal, or [`SandboxError::NotFound`].
    pub fn resolve_existing(&self, path: &str) -> Result<(PathBuf, String), SandboxError> {
        let parts = Self::check_syntax(path)?;
        let mut joined = self.root.clone();
        joined.extend(&parts);
        let canonical = fs::canonicalize(&joined).map_err(|e| io_err(path, &e))?;
        if !canonical.starts_with(&self.root) {
            return Err(SandboxError::Escapes {
                path: path.to_owned(),
            });
        }
        let rel = self.rel_of(&canonical, path)?;
        Ok((canonical, rel))
    }

    /// Resolves a file to read: it must exist, be a regular file with one link, and not be a
    /// secret file (by its own name or the name it resolves to).
    ///
    /// # Errors
    /// Any refusal.
    pub fn resolve_file(&self, path: &str) -> Result<(PathBuf, String), SandboxError> {
        if is_secret_file(path) {
            return Err(SandboxError::SecretFile {
                path: path.to_owned(),
            });
        }
        let (abs, rel) = self.resolve_existing(path)?;
        if is_secret_file(&rel) {
            return Err(SandboxError::SecretFile {
                path: path.to_owned(),
            });
        }
        let md = fs::metadata(&abs).map_err(|e| io_err(path, &e))?;
        let ft = md.file_type();
        if ft.is_dir() {
            return Err(SandboxError::IsDirectory {
                path: path.to_owned(),
            });
        }
        if !ft.is_file() {
            return Err(SandboxError::NotRegular {
                path: path.to_owned(),
                kind: special_kind(ft),
            });
        }
        if md.nlink() > 1 {
            return Err(SandboxError::HardLinked {
                path: path.to_owned(),
            });
        }
        Ok((abs, rel))
    }

    /// Resolves a directory to list or search (`"."` is the root).
    ///
    /// # Errors
    /// Any refusal, or [`SandboxError::NotDirectory`].
    pub fn resolve_dir(&self, path: &str) -> Result<(PathBuf, String), SandboxError> {
        let path = if path.trim().is_empty() { "." } else { path };
        let (abs, rel) = self.resolve_existing(path)?;
        if !abs.is_dir() {
            return Err(SandboxError::NotDirectory {
                path: path.to_owned(),
            });
        }
        Ok((abs, rel))
    }

    /// Resolves a file to create or replace. An existing target must be a regular file with
    /// one link (a symlink to a file inside the tree is followed); a new one is placed under
    /// its deepest existing ancestor, which must resolve inside the tree.
    ///
    /// # Errors
    /// Any refusal.
    pub fn resolve_write(&self, path: &str) -> Result<WriteTarget, SandboxError> {
        let parts = Self::check_syntax(path)?;
        if parts.is_empty() {
            return Err(SandboxError::IsDirectory {
                path: path.to_owned(),
            });
        }
        if is_secret_file(path) {
            return Err(SandboxError::SecretFile {
                path: path.to_owned(),
            });
        }
        let mut joined = self.root.clone();
        joined.extend(&parts);
        match fs::symlink_metadata(&joined) {
            Ok(_) => {
                let (abs, rel) = self.resolve_file(path)?;
                Ok(WriteTarget {
                    path: abs,
                    rel,
                    exists: true,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Find the deepest existing ancestor and check it resolves inside the tree.
                let mut existing = self.root.clone();
                let mut depth = 0;
                for (i, c) in parts.iter().enumerate().take(parts.len() - 1) {
                    let next = existing.join(c);
                    match fs::symlink_metadata(&next) {
                        Ok(_) => {
                            existing = next;
                            depth = i + 1;
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                        Err(e) => return Err(io_err(path, &e)),
                    }
                }
                let canonical = fs::canonicalize(&existing).map_err(|e| io_err(path, &e))?;
                if !canonical.starts_with(&self.root) {
                    return Err(SandboxError::Escapes {
                        path: path.to_owned(),
                    });
                }
                if !canonical.is_dir() {
                    return Err(SandboxError::NotDirectory {
                        path: path.to_owned(),
                    });
                }
                let mut abs = canonical;
                abs.extend(&parts[depth..]);
                let rel = self.rel_of(&abs, path)?;
                if is_secret_file(&rel) {
                    return Err(SandboxError::SecretFile {
                        path: path.to_owned(),
                    });
                }
                Ok(WriteTarget {
                    path: abs,
                    rel,
                    exists: false,
                })
            }
            Err(e) => Err(io_err(path, &e)),
        }
    }

    /// Whether an absolute path (an argument of a command) lies inside the root once
    /// resolved. Paths that do not exist yet are judged by their deepest existing ancestor.
    #[must_use]
    pub fn contains(&self, abs: &Path) -> bool {
        let mut probe = abs.to_path_buf();
        loop {
            if let Ok(c) = fs::canonicalize(&probe) {
                return c.starts_with(&self.root);
            }
            if !probe.pop() {
                return false;
            }
        }
    }
}

/// Writes `content` to `target` atomically: a temporary file in the same directory, then a
/// rename over the target (keeping an existing file's permissions). Missing parent
/// directories are created.
///
/// # Errors
/// The file system's.
pub fn write_atomic(target: &WriteTarget, content: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let dir = target
        .path
        .parent()
        .ok_or_else(|| io::Error::other("target has no parent directory"))?;
    fs::create_dir_all(dir)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".foreman-write-{}-{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(content)?;
        if target.exists
            && let Ok(md) = fs::metadata(&target.path)
        {
            f.set_permissions(md.permissions())?;
        }
        drop(f);
        fs::rename(&tmp, &target.path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_refusals() {
        for (p, code) in [
            ("", "path_empty"),
            ("/etc/passwd", "path_absolute"),
            ("~/x", "path_absolute"),
            ("../x", "path_traversal"),
            ("a/../../x", "path_traversal"),
            (".git/config", "path_git_internals"),
            ("a/.GIT/hooks/pre-commit", "path_git_internals"),
            ("%2e%2e/x", "path_bad_characters"),
            ("a\\..\\b", "path_bad_characters"),
            ("a\0b", "path_bad_characters"),
        ] {
            assert_eq!(Sandbox::check_syntax(p).unwrap_err().code(), code, "{p:?}");
        }
        assert_eq!(Sandbox::check_syntax("./a//b/").unwrap(), vec!["a", "b"]);
        assert!(Sandbox::check_syntax(".").unwrap().is_empty());
        assert_eq!(
            Sandbox::check_syntax(".gitignore").unwrap(),
            vec![".gitignore"]
        );
    }
}
