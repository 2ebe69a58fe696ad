//! Context selection: which files the model sees before its first turn.
//!
//! Candidates are the files the plan names, their tests (by the usual naming conventions),
//! files that mention identifiers from the task text, and the most recently modified files.
//! They are ranked in that order and added while they fit a token budget that grows with the
//! task's complexity. Secret files are never candidates and every selected file passes the
//! secret scanner. The statistics are stored per task (`GET /api/tasks/{id}/context`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use foreman_domain::TaskContextStats;
use foreman_domain::agent::AgentTask;
use serde::{Deserialize, Serialize};

use crate::sandbox::Sandbox;
use crate::secrets::{Finding, SecretScanner, is_secret_file};
use crate::tools::search::{FileCache, rel_path, walker};

/// `[runner.context]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextSettings {
    /// Token budget for a task of complexity 3; complexity 1, 2, 4 and 5 get 0.5, 0.75, 1.5
    /// and 2 times as much. 0 disables selection.
    pub base_budget_tokens: u64,
    /// How many recently modified files are candidates.
    pub recent_files: usize,
    /// Files larger than this are not candidates.
    pub max_file_bytes: u64,
    /// Files walked at most when looking for identifiers and recent changes.
    pub max_walk_files: usize,
}

impl Default for ContextSettings {
    fn default() -> Self {
        Self {
            base_budget_tokens: 12_000,
            recent_files: 5,
            max_file_bytes: 256 * 1024,
            max_walk_files: 50_000,
        }
    }
}

/// Why a file was selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The plan names it.
    Planned,
    /// It tests a planned file.
    Test,
    /// It mentions identifiers from the task.
    Identifier,
    /// It changed recently.
    Recent,
}

/// A selected file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedFile {
    /// Worktree-relative path.
    pub path: String,
    /// Why.
    pub reason: Reason,
    /// Estimated tokens of the text included.
    pub tokens: u64,
    /// Whether only its beginning fitted.
    pub truncated: bool,
}

/// The selection.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedContext {
    /// Files, best first.
    pub files: Vec<SelectedFile>,
    /// The files rendered for the first message (secrets redacted).
    pub text: String,
    /// Budget, tokens used and files selected (`files_touched` and `cache_hits` are filled in
    /// by the runner).
    pub stats: TaskContextStats,
    /// Secrets redacted from `text`.
    pub secrets: Vec<Finding>,
}

/// Estimated tokens of a text (4 bytes a token, rounded up).
#[must_use]
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// The budget for a task of `complexity` (clamped to 1..=5).
#[must_use]
pub fn budget_for(base: u64, complexity: i32) -> u64 {
    let factor_x4: u64 = match complexity.clamp(1, 5) {
        1 => 2,
        2 => 3,
        3 => 4,
        4 => 6,
        _ => 8,
    };
    base * factor_x4 / 4
}

/// Identifiers in free text: `backticked` words and words that look like code
/// (`snake_case`, `camelCase`, `PascalCase` with an inner capital, `a.b` paths), at least
/// four characters long.
#[must_use]
pub fn identifiers(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 && !part.contains(char::is_whitespace) && part.len() >= 3 {
            let w = part.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
            if w.len() >= 3 {
                out.insert(w.to_owned());
            }
        }
    }
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.len() < 4 || word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            continue;
        }
        let snake = word.contains('_') && word.chars().any(char::is_alphabetic);
        let chars: Vec<char> = word.chars().collect();
        let inner_capital = chars
            .windows(2)
            .any(|w| w[0].is_lowercase() && w[1].is_uppercase());
        if snake || inner_capital {
            out.insert(word.to_owned());
        }
    }
    out
}

/// Conventional test files for a source file.
#[must_use]
pub fn test_candidates(path: &str) -> Vec<String> {
    let p = Path::new(path);
    let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
        return Vec::new();
    };
    let ext = p.extension().and_then(|s| s.to_str()).unwrap_or("");
    let dir = p.parent().and_then(|d| d.to_str()).unwrap_or("");
    let join = |d: &str, f: &str| {
        if d.is_empty() {
            f.to_owned()
        } else {
            format!("{d}/{f}")
        }
    };
    let mut v = Vec::new();
    match ext {
        "rs" => {
            v.push(format!("tests/{stem}.rs"));
            v.push(format!("tests/it/{stem}.rs"));
            v.push(join(dir, &format!("{stem}_tests.rs")));
            v.push(join(dir, "tests.rs"));
        }
        "go" => v.push(join(dir, &format!("{stem}_test.go"))),
        "py" => {
            v.push(join(dir, &format!("test_{stem}.py")));
            v.push(format!("tests/test_{stem}.py"));
            v.push(join(dir, &format!("{stem}_test.py")));
        }
        "ts" | "tsx" | "js" | "jsx" | "mjs" => {
            v.push(join(dir, &format!("{stem}.test.{ext}")));
            v.push(join(dir, &format!("{stem}.spec.{ext}")));
            v.push(join(dir, &format!("__tests__/{stem}.test.{ext}")));
        }
        "rb" => {
            v.push(format!("spec/{stem}_spec.rb"));
            v.push(format!("test/{stem}_test.rb"));
        }
        "java" | "kt" => {
            let test_dir = dir.replacen("src/main/", "src/test/", 1);
            v.push(join(&test_dir, &format!("{stem}Test.{ext}")));
        }
        _ => {}
    }
    v.retain(|c| c != path);
    v
}

struct Candidate {
    path: String,
    reason: Reason,
    score: i64,
}

/// Selects context for `task` in the sandbox, reading files through `cache` (so later
/// searches of the same run find them there).
#[must_use]
pub fn select(
    sandbox: &Sandbox,
    scanner: &SecretScanner,
    task: &AgentTask,
    settings: &ContextSettings,
    cache: &FileCache,
) -> SelectedContext {
    let budget = budget_for(settings.base_budget_tokens, task.complexity);
    let mut stats = TaskContextStats {
        budget: i64::try_from(budget).unwrap_or(i64::MAX),
        ..TaskContextStats::default()
    };
    if budget == 0 {
        return SelectedContext {
            files: Vec::new(),
            text: String::new(),
            stats,
            secrets: Vec::new(),
        };
    }
    let readable = |p: &str| -> Option<String> {
        let (_, rel) = sandbox.resolve_file(p).ok()?;
        Some(rel)
    };
    let mut cands: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut add = |path: String, reason: Reason, score: i64| {
        cands
            .entry(path.clone())
            .and_modify(|c| {
                if score > c.score {
                    c.score = score;
                    c.reason = reason;
                }
            })
            .or_insert(Candidate {
                path,
                reason,
                score,
            });
    };
    for (i, f) in task.files.iter().enumerate() {
        let rank = i64::try_from(i).unwrap_or(i64::MAX);
        if let Some(rel) = readable(f) {
            add(rel, Reason::Planned, 10_000 - rank);
        }
        for t in test_candidates(f.trim_start_matches("./")) {
            if let Some(rel) = readable(&t) {
                add(rel, Reason::Test, 8_000 - rank);
            }
        }
    }
    let text = format!(
        "{}\n{}\n{}\n{}",
        task.title,
        task.description,
        task.acceptance_criteria,
        task.feedback.as_deref().unwrap_or("")
    );
    let idents: Vec<String> = identifiers(&text).into_iter().take(40).collect();
    let ident_re = if idents.is_empty() {
        None
    } else {
        let alt = idents
            .iter()
            .map(|s| regex::escape(s))
            .collect::<Vec<_>>()
            .join("|");
        regex::bytes::Regex::new(&format!(r"\b(?:{alt})\b")).ok()
    };
    let mut recent: Vec<(SystemTime, String)> = Vec::new();
    let root = sandbox.root();
    for entry in walker(root, None)
        .build()
        .flatten()
        .take(settings.max_walk_files)
    {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(rel) = rel_path(root, entry.path()) else {
            continue;
        };
        if is_secret_file(&rel) {
            continue;
        }
        let Ok(md) = entry.metadata() else {
            continue;
        };
        if md.len() > settings.max_file_bytes || std::os::unix::fs::MetadataExt::nlink(&md) > 1 {
            continue;
        }
        if let Ok(m) = md.modified() {
            recent.push((m, rel.clone()));
        }
        if let Some(re) = &ident_re {
            let name_hit = idents.iter().any(|i| rel.contains(i.as_str()));
            let Ok(bytes) = cache.read(entry.path(), &md) else {
                continue;
            };
            if bytes[..bytes.len().min(8192)].contains(&0) {
                continue;
            }
            let mut distinct = BTreeSet::new();
            let mut hits = 0i64;
            for m in re.find_iter(&bytes) {
                distinct.insert(m.as_bytes().to_vec());
                hits += 1;
            }
            if !distinct.is_empty() || name_hit {
                let d = i64::try_from(distinct.len()).unwrap_or(0);
                add(
                    rel,
                    Reason::Identifier,
                    1_000 + 100 * d + hits.min(20) + if name_hit { 200 } else { 0 },
                );
            }
        }
    }
    recent.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (i, (_, rel)) in recent.into_iter().take(settings.recent_files).enumerate() {
        add(rel, Reason::Recent, 100 - i64::try_from(i).unwrap_or(0));
    }

    let mut ranked: Vec<Candidate> = cands.into_values().collect();
    ranked.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.path.cmp(&b.path)));
    let mut files = Vec::new();
    let mut out = String::new();
    let mut secrets = Vec::new();
    let mut used = 0u64;
    for c in ranked {
        let remaining = budget.saturating_sub(used);
        if remaining < 64 {
            break;
        }
        let Ok((abs, _)) = sandbox.resolve_file(&c.path) else {
            continue;
        };
        let Ok(raw) = std::fs::read_to_string(&abs) else {
            continue;
        };
        let (clean, found) = scanner.redact(&raw);
        let header = format!("<file path=\"{}\">\n", c.path);
        let footer = "</file>\n";
        let overhead = estimate_tokens(&header) + estimate_tokens(footer);
        let full = estimate_tokens(&clean) + overhead;
        let (body, truncated) = if full <= remaining {
            (clean.into_owned(), false)
        } else if remaining >= 512 && c.reason <= Reason::Test {
            // Planned files and their tests are worth a partial view.
            let keep = usize::try_from((remaining - overhead - 16) * 4).unwrap_or(usize::MAX);
            let mut cut = keep.min(clean.len());
            while !clean.is_char_boundary(cut) {
                cut -= 1;
            }
            let cut = clean[..cut].rfind('\n').map_or(cut, |n| n + 1);
            (
                format!(
                    "{}[... rest of file not shown; read_file it]\n",
                    &clean[..cut]
                ),
                true,
            )
        } else {
            continue;
        };
        let tokens = estimate_tokens(&body) + overhead;
        used += tokens;
        secrets.extend(found);
        out.push_str(&header);
        out.push_str(&body);
        if !body.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(footer);
        files.push(SelectedFile {
            path: c.path,
            reason: c.reason,
            tokens,
            truncated,
        });
    }
    stats.used = i64::try_from(used).unwrap_or(i64::MAX);
    stats.files_selected = i64::try_from(files.len()).unwrap_or(i64::MAX);
    SelectedContext {
        files,
        text: out,
        stats,
        secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_scales_with_complexity() {
        assert_eq!(budget_for(12_000, 1), 6_000);
        assert_eq!(budget_for(12_000, 3), 12_000);
        assert_eq!(budget_for(12_000, 4), 18_000);
        assert_eq!(budget_for(12_000, 9), 24_000);
        assert_eq!(budget_for(12_000, -1), 6_000);
    }

    #[test]
    fn identifiers_from_prose() {
        let ids = identifiers(
            "Make `parse_config` reject empty keys in ConfigLoader and fooBar; the word Config alone is not one",
        );
        assert!(ids.contains("parse_config"));
        assert!(ids.contains("ConfigLoader"));
        assert!(ids.contains("fooBar"));
        assert!(!ids.contains("Config"));
        assert!(!ids.contains("Make"));
    }

    #[test]
    fn test_files_by_convention() {
        assert!(test_candidates("src/lib.rs").contains(&"tests/lib.rs".to_owned()));
        assert_eq!(
            test_candidates("pkg/a.go"),
            vec!["pkg/a_test.go".to_owned()]
        );
        assert!(test_candidates("src/app.ts").contains(&"src/app.test.ts".to_owned()));
        assert!(
            test_candidates("src/main/java/x/Foo.java")
                .contains(&"src/test/java/x/FooTest.java".to_owned())
        );
    }
}
