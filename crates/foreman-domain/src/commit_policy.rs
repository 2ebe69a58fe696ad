//! What a task's commit may contain: the files its plan declared, tests, and never a secret.
//!
//! [`check_commit`] is the one rule; the pipeline calls it on a task's changed paths before
//! committing, and `foreman-git` calls it again on the staged paths as a second line of
//! defence, so a commit that breaks it is refused whichever check sees it first.
//!
//! Paths are repository-relative with `/` separators (as git prints them); they are compared
//! after [`normalise_path`] (surrounding whitespace and leading `./` removed).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::file_reservation::normalise_path;

/// Test-file patterns used when a project names none: test directories and the common test
/// file spellings of Rust, Python, JavaScript/TypeScript, Go, Ruby and Java.
pub const DEFAULT_TEST_PATTERNS: &[&str] = &[
    "tests/**",
    "test/**",
    "**/tests/**",
    "**/test/**",
    "**/__tests__/**",
    "spec/**",
    "**/spec/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/*_test.go",
    "**/*_test.rs",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*_spec.rb",
    "**/*Test.java",
    "**/*Tests.java",
    "**/conftest.py",
];

/// What a task may commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRules {
    /// The files the plan declared for the task. An entry ending in `/` covers the directory
    /// below it; an entry with `*` or `?` is a glob ([`glob_match`]).
    pub declared: Vec<String>,
    /// Globs of test files, which a task may always add or change.
    pub test_patterns: Vec<String>,
    /// The plan allows files beyond the declared ones (secret files stay refused).
    pub allow_extra: bool,
}

impl CommitRules {
    /// Rules for a task that declared `declared`, with [`DEFAULT_TEST_PATTERNS`] and no extra
    /// files.
    #[must_use]
    pub fn new(declared: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            declared: declared.into_iter().map(Into::into).collect(),
            test_patterns: DEFAULT_TEST_PATTERNS
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            allow_extra: false,
        }
    }

    /// Rules that refuse secret files only (any other path may be committed).
    #[must_use]
    pub fn secrets_only() -> Self {
        Self {
            declared: Vec::new(),
            test_patterns: Vec::new(),
            allow_extra: true,
        }
    }

    /// The same rules with extra files allowed or not.
    #[must_use]
    pub fn with_extra(mut self, allow_extra: bool) -> Self {
        self.allow_extra = allow_extra;
        self
    }

    /// Whether `path` is declared (exactly, under a declared directory, or by a declared glob).
    #[must_use]
    pub fn is_declared(&self, path: &str) -> bool {
        let path = normalise_path(path);
        self.declared.iter().any(|d| {
            let d = normalise_path(d);
            if d.contains(['*', '?']) {
                glob_match(&d, &path)
            } else if let Some(dir) = d.strip_suffix('/') {
                path.strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
            } else {
                d == path
            }
        })
    }

    /// Whether `path` is a test file by [`CommitRules::test_patterns`].
    #[must_use]
    pub fn is_test(&self, path: &str) -> bool {
        let path = normalise_path(path);
        self.test_patterns.iter().any(|p| glob_match(p, &path))
    }
}

/// Why a path may not be committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// The file's name marks it as a secret store ([`is_secret_file`]); never committed.
    SecretFile {
        /// The path.
        path: String,
    },
    /// Neither declared by the plan nor a test file, and the plan allows no extra files.
    Undeclared {
        /// The path.
        path: String,
    },
    /// A git repository inside the worktree, which git would record as a submodule commit
    /// (a gitlink): git runs commands of that repository's own config (a filter driver) when it
    /// checks a recorded submodule for changes, so none is ever committed. Reported by the git
    /// layer, which sees file modes; [`check_commit`] sees paths only.
    EmbeddedRepository {
        /// The path.
        path: String,
    },
}

impl Violation {
    /// The path concerned.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::SecretFile { path }
            | Self::Undeclared { path }
            | Self::EmbeddedRepository { path } => path,
        }
    }

    /// A transport-neutral code: `secret_file`, `undeclared_file` or `embedded_repository`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::SecretFile { .. } => "secret_file",
            Self::Undeclared { .. } => "undeclared_file",
            Self::EmbeddedRepository { .. } => "embedded_repository",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretFile { path } => write!(f, "{path} is a secret file"),
            Self::EmbeddedRepository { path } => {
                write!(f, "{path} is a git repository inside the worktree")
            }
            Self::Undeclared { path } => {
                write!(f, "{path} is neither declared by the plan nor a test")
            }
        }
    }
}

/// The violations among `changed` (the paths a commit adds or modifies; deletions need not be
/// passed), one per offending path, in path order. Empty means the commit may go ahead.
///
/// A secret file is refused even when declared; any other path is allowed when declared, when
/// it is a test file, or when the rules allow extra files.
#[must_use]
pub fn check_commit<'a>(
    changed: impl IntoIterator<Item = &'a str>,
    rules: &CommitRules,
) -> Vec<Violation> {
    let paths: BTreeSet<String> = changed
        .into_iter()
        .map(normalise_path)
        .filter(|p| !p.is_empty())
        .collect();
    paths
        .into_iter()
        .filter_map(|path| {
            if is_secret_file(&path) {
                Some(Violation::SecretFile { path })
            } else if rules.allow_extra || rules.is_declared(&path) || rules.is_test(&path) {
                None
            } else {
                Some(Violation::Undeclared { path })
            }
        })
        .collect()
}

/// Whether a file's name marks it as a secret store that is never read, written or committed:
/// `.env*`, `*.pem`, `*.key`, `*.p12`, `*.pfx`, `*.jks`, `*.keystore`, SSH private keys
/// (`id_rsa`, `id_dsa`, `id_ecdsa`, `id_ed25519`, `id_ecdsa_sk`, `id_ed25519_sk`), `.netrc`,
/// `_netrc`, `.pgpass`, `.npmrc`, `.pypirc`, `.git-credentials`, and token files (see
/// [`is_token_file`]). Matching is on the last path component, case-insensitively.
#[must_use]
pub fn is_secret_file(path: &str) -> bool {
    let name = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    if name.starts_with(".env") {
        return true;
    }
    const EXT: &[&str] = &[".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"];
    if EXT.iter().any(|e| name.ends_with(e)) {
        return true;
    }
    const SSH: &[&str] = &[
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "id_ecdsa_sk",
        "id_ed25519_sk",
    ];
    if SSH.iter().any(|k| name == *k) {
        return true;
    }
    const NAMES: &[&str] = &[
        ".netrc",
        "_netrc",
        ".pgpass",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
    ];
    NAMES.contains(&name.as_str()) || is_token_file(&name)
}

/// Source and documentation extensions: a file with one of them is code about tokens
/// (`token.rs`, `test_tokens.py`), not a stored token.
const CODE_EXT: &[&str] = &[
    "rs", "py", "pyi", "js", "mjs", "cjs", "jsx", "ts", "tsx", "go", "java", "kt", "kts", "rb",
    "php", "c", "h", "cc", "cpp", "hpp", "cs", "swift", "scala", "ex", "exs", "erl", "hs", "ml",
    "clj", "lua", "pl", "sh", "vue", "svelte", "md", "rst", "adoc", "html", "css", "snap",
];

/// Whether a file name (last component) looks like a stored token: its name without the
/// extension has `token` as a word (`token`, `.token`, `api_token.txt`, `github-token.json`,
/// `tokens.yaml`, `.gh_token`), and the extension is not a source or documentation one.
/// `tokenizer.py`, `token.rs` and `tokens.md` are not token files.
#[must_use]
pub fn is_token_file(name: &str) -> bool {
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let name = name.to_ascii_lowercase();
    let trimmed = name.trim_start_matches('.');
    let (stem, ext) = match trimmed.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (trimmed, None),
    };
    if ext.is_some_and(|e| CODE_EXT.contains(&e)) {
        return false;
    }
    stem.split(['_', '-', '.'])
        .any(|word| word == "token" || word == "tokens")
}

/// Glob matching on `/`-separated paths: `*` matches within one component, `?` one character
/// other than `/`, and a `**` component any number of components (including none). Everything
/// else matches itself.
#[must_use]
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_components(&pattern, &path)
}

fn match_components(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_components(rest, &path[skip..])),
        Some((first, rest)) => path.split_first().is_some_and(|(component, tail)| {
            match_component(first.as_bytes(), component.as_bytes()) && match_components(rest, tail)
        }),
    }
}

fn match_component(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| match_component(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && match_component(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && match_component(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secret_file_names() {
        for p in [
            ".env",
            "a/.env.local",
            "certs/server.PEM",
            "tls.key",
            "home/id_rsa",
            "keys/id_ed25519",
            ".npmrc",
            ".pypirc",
            ".netrc",
            ".git-credentials",
            "store.p12",
            "cert.pfx",
            "token",
            ".token",
            "config/api_token.txt",
            "github-token.json",
            ".gh_token",
            "tokens.yaml",
        ] {
            assert!(is_secret_file(p), "{p}");
        }
        for p in [
            "src/env.rs",
            "keys.rs",
            "id_rsa.pub",
            "README.md",
            "environment.md",
            "src/token.rs",
            "tests/test_tokens.py",
            "tokenizer.json",
            "src/tokenizer.py",
            "docs/tokens.md",
        ] {
            assert!(!is_secret_file(p), "{p}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("tests/**", "tests/a/b.rs"));
        assert!(glob_match("**/tests/**", "crates/x/tests/it.rs"));
        assert!(glob_match("**/*_test.go", "pkg/a_test.go"));
        assert!(glob_match("**/*_test.go", "a_test.go"));
        assert!(glob_match("src/*.rs", "src/lib.rs"));
        assert!(!glob_match("src/*.rs", "src/a/lib.rs"));
        assert!(glob_match("src/?.rs", "src/a.rs"));
        assert!(!glob_match("**/*.test.*", "src/test.ts"));
        assert!(glob_match("**/*.test.*", "src/a.test.ts"));
    }

    #[test]
    fn declared_tests_extras_and_secrets() {
        let rules = CommitRules::new(["src/lib.rs", "docs/", "web/*.css"]);
        let v = check_commit(
            [
                "src/lib.rs",
                "./src/lib.rs",
                "docs/a/b.md",
                "web/site.css",
                "tests/it/new.rs",
                "src/main.rs",
                ".env",
                "docs.md",
            ],
            &rules,
        );
        assert_eq!(
            v,
            vec![
                Violation::SecretFile {
                    path: ".env".to_owned()
                },
                Violation::Undeclared {
                    path: "docs.md".to_owned()
                },
                Violation::Undeclared {
                    path: "src/main.rs".to_owned()
                },
            ]
        );
        let extra = rules.clone().with_extra(true);
        assert_eq!(
            check_commit(["src/main.rs", "id_rsa"], &extra),
            vec![Violation::SecretFile {
                path: "id_rsa".to_owned()
            }]
        );
        // declaring a secret file does not make it committable
        let declared = CommitRules::new([".env.production"]);
        assert_eq!(check_commit([".env.production"], &declared).len(), 1);
        assert!(check_commit(["anything/at/all.rs"], &CommitRules::secrets_only()).is_empty());
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-z_.]{1,8}".prop_filter("not a dot path", |s| s != "." && s != "..")
    }

    fn rel_path() -> impl Strategy<Value = String> {
        proptest::collection::vec(component(), 1..5).prop_map(|c| c.join("/"))
    }

    proptest! {
        /// Every path is either allowed or reported once, and a reported path is one of the
        /// changed ones.
        #[test]
        fn each_path_is_allowed_or_reported_once(
            changed in proptest::collection::vec(rel_path(), 0..12),
            declared in proptest::collection::vec(rel_path(), 0..6),
            allow_extra in any::<bool>(),
        ) {
            let rules = CommitRules::new(declared.clone()).with_extra(allow_extra);
            let v = check_commit(changed.iter().map(String::as_str), &rules);
            let reported: BTreeSet<&str> = v.iter().map(Violation::path).collect();
            prop_assert_eq!(reported.len(), v.len());
            for path in &changed {
                let secret = is_secret_file(path);
                let allowed = !secret
                    && (allow_extra || rules.is_declared(path) || rules.is_test(path));
                prop_assert_eq!(reported.contains(path.as_str()), !allowed, "{}", path);
            }
            for p in &reported {
                prop_assert!(changed.iter().any(|c| c == p));
            }
        }

        /// Secret files are refused whatever the rules say.
        #[test]
        fn secrets_are_refused_whatever_is_declared(
            dir in rel_path(),
            name in prop_oneof![
                Just(".env"), Just(".env.local"), Just("server.pem"), Just("id_rsa"),
                Just(".netrc"), Just(".npmrc"), Just("cert.p12"), Just("api_token.txt"),
            ],
            allow_extra in any::<bool>(),
        ) {
            let path = format!("{dir}/{name}");
            let rules = CommitRules::new([path.clone(), format!("{dir}/")])
                .with_extra(allow_extra);
            prop_assert_eq!(
                check_commit([path.as_str()], &rules),
                vec![Violation::SecretFile { path: path.clone() }]
            );
        }

        /// Declared paths (not secrets) are always allowed, extra files never without
        /// permission.
        #[test]
        fn declared_paths_pass_and_undeclared_need_permission(
            declared in rel_path(),
            other in rel_path(),
        ) {
            prop_assume!(!is_secret_file(&declared) && !is_secret_file(&other));
            let rules = CommitRules::new([declared.clone()]);
            prop_assert!(check_commit([declared.as_str()], &rules).is_empty());
            let undeclared = other != declared && !rules.is_test(&other);
            prop_assert_eq!(check_commit([other.as_str()], &rules).is_empty(), !undeclared);
            prop_assert!(check_commit([other.as_str()], &rules.clone().with_extra(true)).is_empty());
        }

        /// A glob without wildcards matches exactly itself, and `**` matches every path.
        #[test]
        fn glob_literals_and_double_star(a in rel_path(), b in rel_path()) {
            prop_assert!(glob_match(&a, &a));
            prop_assert_eq!(glob_match(&a, &b), a == b);
            prop_assert!(glob_match("**", &a));
            let (under, inside) = (format!("{a}/**"), format!("{a}/{b}"));
            prop_assert!(glob_match(&under, &inside));
        }
    }
}
