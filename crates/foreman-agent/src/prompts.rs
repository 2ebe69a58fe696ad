//! The role prompts: templates embedded in the binary, overridable from a directory, rendered
//! with minijinja and versioned by the SHA-256 of their source.
//!
//! The version of the template used is recorded on every LLM call made with it
//! (`llm_calls.prompt_version`), and [`PromptLibrary::versions`] feeds
//! `GET /api/prompts/versions`, so a change of behaviour can be traced to a change of prompt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use foreman_domain::prompt::{PromptError, PromptSource, RenderedPrompt};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::SetupError;

/// The role prompts and the engine's instruction templates, by name, with their embedded
/// sources.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("clarifier", include_str!("../prompts/clarifier.md")),
    ("planner", include_str!("../prompts/planner.md")),
    ("implementer", include_str!("../prompts/implementer.md")),
    (
        "implementer-retry",
        include_str!("../prompts/implementer-retry.md"),
    ),
    ("spec-reviewer", include_str!("../prompts/spec-reviewer.md")),
    (
        "quality-reviewer",
        include_str!("../prompts/quality-reviewer.md"),
    ),
    (
        "final-reviewer",
        include_str!("../prompts/final-reviewer.md"),
    ),
    (
        "conflict-resolver",
        include_str!("../prompts/conflict-resolver.md"),
    ),
    // instructions the pipeline engine renders into an agent's task and feedback
    (
        "implementer-phase",
        include_str!("../prompts/implementer-phase.md"),
    ),
    (
        "implementer-feedback",
        include_str!("../prompts/implementer-feedback.md"),
    ),
    (
        "conflict-resolution",
        include_str!("../prompts/conflict-resolution.md"),
    ),
];

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptOrigin {
    /// Built into the binary.
    Embedded,
    /// Read from an override file.
    File(PathBuf),
}

#[derive(Debug, Clone)]
struct Template {
    source: String,
    version: String,
    origin: PromptOrigin,
}

/// The SHA-256 (lowercase hex) of a template's source.
#[must_use]
pub fn template_version(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))
}

/// Every role prompt, ready to render.
#[derive(Debug, Clone)]
pub struct PromptLibrary {
    templates: BTreeMap<String, Template>,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A missing optional variable renders empty instead of failing a pipeline step; template
    // syntax errors are still caught when the library is built.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
}

fn check(name: &str, source: &str) -> Result<(), SetupError> {
    let env = environment();
    env.template_from_named_str(name, source)
        .map(|_| ())
        .map_err(|e| SetupError::PromptTemplate {
            name: name.to_owned(),
            message: e.to_string(),
        })
}

fn known() -> String {
    EMBEDDED
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl PromptLibrary {
    /// The embedded prompts.
    #[must_use]
    pub fn embedded() -> Self {
        let templates = EMBEDDED
            .iter()
            .map(|(name, source)| {
                (
                    (*name).to_owned(),
                    Template {
                        source: (*source).to_owned(),
                        version: template_version(source),
                        origin: PromptOrigin::Embedded,
                    },
                )
            })
            .collect();
        Self { templates }
    }

    /// The embedded prompts, with `<name>.md` files from `dir` replacing them. Every file in
    /// `dir` ending in `.md` must be named after a known role, and must parse.
    ///
    /// # Errors
    /// An unreadable directory or file, an unknown name, or a template syntax error.
    pub fn with_overrides(dir: &Path) -> Result<Self, SetupError> {
        let mut lib = Self::embedded();
        let entries = std::fs::read_dir(dir).map_err(|source| SetupError::PromptIo {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        files.sort();
        for path in files {
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            if !lib.templates.contains_key(&name) {
                return Err(SetupError::UnknownPrompt {
                    name,
                    known: known(),
                });
            }
            let source = std::fs::read_to_string(&path).map_err(|source| SetupError::PromptIo {
                path: path.clone(),
                source,
            })?;
            check(&name, &source)?;
            tracing::info!(prompt = %name, path = %path.display(), "prompt overridden");
            lib.templates.insert(
                name,
                Template {
                    version: template_version(&source),
                    source,
                    origin: PromptOrigin::File(path),
                },
            );
        }
        Ok(lib)
    }

    /// Prompt names, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.templates.keys().map(String::as_str).collect()
    }

    /// A template's version hash.
    #[must_use]
    pub fn version(&self, name: &str) -> Option<&str> {
        self.templates.get(name).map(|t| t.version.as_str())
    }

    /// A template's source.
    #[must_use]
    pub fn source(&self, name: &str) -> Option<&str> {
        self.templates.get(name).map(|t| t.source.as_str())
    }

    /// Where a template came from.
    #[must_use]
    pub fn origin(&self, name: &str) -> Option<&PromptOrigin> {
        self.templates.get(name).map(|t| &t.origin)
    }

    /// Every `(name, sha256)`, sorted by name (for `GET /api/prompts/versions`).
    #[must_use]
    pub fn versions(&self) -> Vec<(String, String)> {
        self.templates
            .iter()
            .map(|(n, t)| (n.clone(), t.version.clone()))
            .collect()
    }

    /// Renders `name` with `vars`.
    ///
    /// # Errors
    /// An unknown name or a rendering failure.
    pub fn render<S: Serialize>(
        &self,
        name: &str,
        vars: &S,
    ) -> Result<RenderedPrompt, PromptError> {
        let t = self.templates.get(name).ok_or_else(|| PromptError {
            name: name.to_owned(),
            message: format!("unknown prompt (known: {})", known()),
        })?;
        let env = environment();
        let fail = |e: minijinja::Error| PromptError {
            name: name.to_owned(),
            message: e.to_string(),
        };
        let tmpl = env.template_from_named_str(name, &t.source).map_err(fail)?;
        let text = tmpl.render(minijinja::value::Serde(vars)).map_err(fail)?;
        Ok(RenderedPrompt {
            text,
            version: t.version.clone(),
        })
    }
}

impl Default for PromptLibrary {
    fn default() -> Self {
        Self::embedded()
    }
}

impl PromptSource for PromptLibrary {
    fn render(&self, name: &str, vars: &serde_json::Value) -> Result<RenderedPrompt, PromptError> {
        Self::render(self, name, vars)
    }

    fn versions(&self) -> Vec<(String, String)> {
        Self::versions(self)
    }
}
