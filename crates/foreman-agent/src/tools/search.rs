//! Walking the worktree: `list_dir`, `glob` and `grep`, all respecting `.gitignore`, never
//! entering `.git`, never following symlinks, never opening secret files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use globset::{Glob, GlobBuilder, GlobMatcher};
use ignore::{WalkBuilder, WalkState};

use crate::secrets::is_secret_file;

/// File contents kept between searches of one run, keyed by path and checked against the
/// file's length and modification time, so repeated `grep`s (and the context selection before
/// them) read each unchanged file once.
#[derive(Debug, Default)]
pub struct FileCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    files: HashMap<PathBuf, (u64, SystemTime, Arc<Vec<u8>>)>,
    bytes: usize,
}

/// Bytes the cache holds at most.
const CACHE_LIMIT: usize = 64 * 1024 * 1024;

impl FileCache {
    /// The contents of `path`, whose metadata is `md`, from the cache when unchanged.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn read(&self, path: &Path, md: &std::fs::Metadata) -> std::io::Result<Arc<Vec<u8>>> {
        let mtime = md.modified().ok();
        if let Some(m) = mtime {
            let inner = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((len, t, bytes)) = inner.files.get(path)
                && *len == md.len()
                && *t == m
            {
                return Ok(bytes.clone());
            }
        }
        let bytes = Arc::new(std::fs::read(path)?);
        if let Some(m) = mtime
            && bytes.len() as u64 == md.len()
        {
            let mut inner = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if inner.bytes + bytes.len() <= CACHE_LIMIT {
                inner.bytes += bytes.len();
                if let Some((_, _, old)) = inner
                    .files
                    .insert(path.to_path_buf(), (md.len(), m, bytes.clone()))
                {
                    inner.bytes -= old.len();
                }
            }
        }
        Ok(bytes)
    }

    /// Forgets a file (after writing it).
    pub fn invalidate(&self, path: &Path) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, _, old)) = inner.files.remove(path) {
            inner.bytes -= old.len();
        }
    }
}

/// A `.gitignore`-aware walker over `dir` that skips `.git` and does not follow symlinks.
pub(crate) fn walker(dir: &Path, max_depth: Option<usize>) -> WalkBuilder {
    let mut b = WalkBuilder::new(dir);
    b.hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .ignore(true)
        .parents(true)
        .require_git(false)
        .follow_links(false)
        .max_depth(max_depth)
        .filter_entry(|e| !e.file_name().eq_ignore_ascii_case(".git"));
    b
}

pub(crate) fn rel_path(root: &Path, p: &Path) -> Option<String> {
    let r = p.strip_prefix(root).ok()?;
    let s = r.to_str()?;
    if s.is_empty() {
        None
    } else {
        Some(s.to_owned())
    }
}

pub(crate) fn list(root: &Path, dir: &Path, depth: usize, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut more = 0usize;
    for entry in walker(dir, Some(depth))
        .sort_by_file_path(Ord::cmp)
        .build()
        .flatten()
    {
        let Some(rel) = rel_path(root, entry.path()) else {
            continue;
        };
        if entry.path() == dir {
            continue;
        }
        if out.len() >= max {
            more += 1;
            continue;
        }
        let ft = entry.file_type();
        let line = if ft.is_some_and(|t| t.is_dir()) {
            format!("{rel}/")
        } else if ft.is_some_and(|t| t.is_symlink()) {
            format!("{rel} (symlink)")
        } else if is_secret_file(&rel) {
            format!("{rel} (secret file, not readable)")
        } else {
            rel
        };
        out.push(line);
    }
    if more > 0 {
        out.push(format!("[{more} more entries not shown]"));
    }
    out
}

/// Paths found by `glob`.
pub(crate) struct Found {
    pub paths: Vec<String>,
    pub more: usize,
}

fn matcher(pattern: &str) -> Result<(GlobMatcher, bool), String> {
    let p = pattern.trim().trim_start_matches("./");
    if p.is_empty() {
        return Err("glob pattern is empty".into());
    }
    let by_name = !p.contains('/');
    let g = GlobBuilder::new(p)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob {pattern:?}: {e}"))?;
    Ok((g.compile_matcher(), by_name))
}

pub(crate) fn glob(root: &Path, dir: &Path, pattern: &str, max: usize) -> Result<Found, String> {
    let (m, by_name) = matcher(pattern)?;
    let mut paths = Vec::new();
    for entry in walker(dir, None).build().flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(rel) = rel_path(root, entry.path()) else {
            continue;
        };
        let hit = if by_name {
            m.is_match(entry.file_name())
        } else {
            // Patterns are relative to the directory searched.
            entry.path().strip_prefix(dir).is_ok_and(|r| m.is_match(r))
        };
        if hit {
            paths.push(rel);
        }
    }
    paths.sort();
    let more = paths.len().saturating_sub(max);
    paths.truncate(max);
    Ok(Found { paths, more })
}

pub(crate) struct GrepQuery<'a> {
    pub pattern: &'a str,
    pub glob: Option<&'a str>,
    pub case_insensitive: bool,
    pub max_results: usize,
    pub max_file_bytes: u64,
}

pub(crate) struct GrepFound {
    pub lines: Vec<String>,
    pub more: usize,
}

const MAX_LINE: usize = 300;

pub(crate) fn grep(
    root: &Path,
    dir: &Path,
    q: &GrepQuery<'_>,
    cache: &FileCache,
) -> Result<GrepFound, String> {
    let re = regex::bytes::RegexBuilder::new(q.pattern)
        .case_insensitive(q.case_insensitive)
        .size_limit(10 * 1024 * 1024)
        .build()
        .map_err(|e| format!("invalid regex {:?}: {e}", q.pattern))?;
    let filter = q
        .glob
        .map(|g| {
            let by_name = !g.contains('/');
            Glob::new(g.trim_start_matches("./"))
                .map(|g| (g.compile_matcher(), by_name))
                .map_err(|e| format!("invalid glob {g:?}: {e}"))
        })
        .transpose()?;
    let hits: Mutex<Vec<(String, usize, String)>> = Mutex::new(Vec::new());
    let max_bytes = q.max_file_bytes;
    walker(dir, None).threads(2).build_parallel().run(|| {
        let re = &re;
        let filter = &filter;
        let hits = &hits;
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let Some(rel) = rel_path(root, entry.path()) else {
                return WalkState::Continue;
            };
            if is_secret_file(&rel) {
                return WalkState::Continue;
            }
            if let Some((m, by_name)) = filter {
                let ok = if *by_name {
                    m.is_match(entry.file_name())
                } else {
                    m.is_match(&rel)
                };
                if !ok {
                    return WalkState::Continue;
                }
            }
            let Ok(md) = entry.metadata() else {
                return WalkState::Continue;
            };
            // Hard-linked files may be links to files outside the tree.
            if md.len() > max_bytes || std::os::unix::fs::MetadataExt::nlink(&md) > 1 {
                return WalkState::Continue;
            }
            let Ok(bytes) = cache.read(entry.path(), &md) else {
                return WalkState::Continue;
            };
            if bytes[..bytes.len().min(8192)].contains(&0) || !re.is_match(&bytes) {
                return WalkState::Continue;
            }
            let mut local = Vec::new();
            for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if re.is_match(line) {
                    let text = String::from_utf8_lossy(line);
                    let text = text.trim_end_matches('\r');
                    let shown: String = text.chars().take(MAX_LINE).collect();
                    local.push((rel.clone(), n + 1, shown));
                }
            }
            hits.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(local);
            WalkState::Continue
        })
    });
    let mut hits = hits
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    hits.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let more = hits.len().saturating_sub(q.max_results);
    hits.truncate(q.max_results);
    Ok(GrepFound {
        lines: hits
            .into_iter()
            .map(|(p, n, t)| format!("{p}:{n}: {t}"))
            .collect(),
        more,
    })
}
