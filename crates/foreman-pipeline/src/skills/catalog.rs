//! [`SkillFiles`]: the [`SkillCatalog`] over the built-in skills, the data directory's
//! (`<data_dir>/skills/*/SKILL.md`) and each project's repository's
//! (`.foreman/skills/*/SKILL.md` as committed on its default branch).
//!
//! Repository skills are read from the default branch as last fetched, through the
//! [`GitRepo`] port, never from a worktree: a worktree holds model-written files, and a skill
//! runs commands. Each source is parsed when it changes (the default branch's commit, the data
//! directory's listing and its files' sizes and modification times) and kept until then, so
//! [`SkillCatalog::resolve`] costs a look at a ref and a directory listing. A malformed file
//! is listed with its problems and never stops the others from loading; its problems are
//! logged (at warn level) each time its source is read anew.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use foreman_domain::git::GitRepo;
use foreman_domain::skill::parse::{MAX_SKILL_BYTES, parse_skill_with, size_problem};
use foreman_domain::skill::{DiscoveredSkill, Skill, SkillCatalog, SkillProblem, SkillSource};

use super::builtin::{BUILTIN_SKILLS, builtin_path};

/// The skill files' name.
pub const SKILL_FILE: &str = "SKILL.md";

/// Where skills live in a repository (each in `<name>/SKILL.md` below it).
pub const REPOSITORY_SKILLS_DIR: &str = ".foreman/skills";

/// Where skills live in the data directory (each in `<name>/SKILL.md` below it).
pub const DATA_DIR_SKILLS_DIR: &str = "skills";

/// The most skill directories read from one source; the rest are reported, not read.
pub const MAX_SKILLS_PER_SOURCE: usize = 100;

/// A skill file's size and modification time, or why it could not be looked at.
type FileState = Result<(u64, Option<SystemTime>), String>;

/// What the data directory's skills looked like when they were read: the directory's own
/// modification time and, per skill directory, its file's size and modification time (or why
/// it could not be looked at).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    files: Vec<(String, FileState)>,
    more: bool,
}

/// The catalog: built-in skills, the data directory's, and each registered project's
/// repository's.
pub struct SkillFiles {
    builtin: Vec<DiscoveredSkill>,
    /// `<data_dir>/skills`, when there is a data directory.
    data_dir: Option<PathBuf>,
    /// Every project served, with its repository when it has one.
    projects: RwLock<BTreeMap<String, Option<Arc<dyn GitRepo>>>>,
    /// The data directory's skills as last read.
    data_cache: Mutex<Option<(Fingerprint, Vec<DiscoveredSkill>)>>,
    /// Each project's repository skills as last read, with the commit they were read at.
    repo_cache: Mutex<BTreeMap<String, (String, Vec<DiscoveredSkill>)>>,
}

impl std::fmt::Debug for SkillFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillFiles")
            .field("data_dir", &self.data_dir)
            .field("projects", &self.project_names())
            .finish_non_exhaustive()
    }
}

impl SkillFiles {
    /// A catalog of the built-in skills and, with `data_dir`, the skills under
    /// `<data_dir>/skills`. Projects are added with [`Self::with_project`],
    /// [`Self::with_repository`] or [`Self::add_repository`].
    #[must_use]
    pub fn new(data_dir: Option<&Path>) -> Self {
        let builtin = dedupe(
            BUILTIN_SKILLS
                .iter()
                .map(|(name, text)| {
                    parse_entry(
                        name,
                        SkillSource::Builtin,
                        None,
                        builtin_path(name),
                        text.as_bytes(),
                    )
                })
                .collect(),
        );
        log_problems(&builtin);
        Self {
            builtin,
            data_dir: data_dir.map(|d| d.join(DATA_DIR_SKILLS_DIR)),
            projects: RwLock::default(),
            data_cache: Mutex::default(),
            repo_cache: Mutex::default(),
        }
    }

    /// Serves `project`, which has no repository (only the shared skills).
    #[must_use]
    pub fn with_project(self, project: impl Into<String>) -> Self {
        self.write_projects().entry(project.into()).or_insert(None);
        self
    }

    /// Serves `project` with the skills committed in `repo` too.
    #[must_use]
    pub fn with_repository(self, project: impl Into<String>, repo: Arc<dyn GitRepo>) -> Self {
        self.add_repository(project, repo);
        self
    }

    /// [`Self::with_repository`] on a shared catalog.
    pub fn add_repository(&self, project: impl Into<String>, repo: Arc<dyn GitRepo>) {
        let project = project.into();
        lock(&self.repo_cache).remove(&project);
        self.write_projects().insert(project, Some(repo));
    }

    /// Every problem of every skill file, for every project (what the server logs at start).
    pub async fn problems(&self) -> Vec<SkillProblem> {
        self.discover(None)
            .await
            .into_iter()
            .flat_map(|d| d.problems)
            .collect()
    }

    fn project_names(&self) -> Vec<String> {
        self.projects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    fn write_projects(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Option<Arc<dyn GitRepo>>>> {
        self.projects
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn repository(&self, project: &str) -> Option<Arc<dyn GitRepo>> {
        self.projects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(project)
            .cloned()
            .flatten()
    }

    /// The data directory's skills, read again only when its fingerprint changed.
    async fn data_dir_skills(&self) -> Vec<DiscoveredSkill> {
        let Some(dir) = self.data_dir.clone() else {
            return Vec::new();
        };
        let cached = lock(&self.data_cache).clone();
        let read = tokio::task::spawn_blocking(move || {
            let fingerprint = match fingerprint(&dir) {
                Ok(f) => f,
                Err(reason) => {
                    return (
                        None,
                        vec![unreadable(SkillSource::DataDir, None, &dir, reason)],
                    );
                }
            };
            let Some(fingerprint) = fingerprint else {
                return (None, Vec::new());
            };
            if let Some((known, skills)) = cached
                && known == fingerprint
            {
                return (Some((fingerprint, false)), skills);
            }
            let skills = read_data_dir(&dir, &fingerprint);
            (Some((fingerprint, true)), skills)
        })
        .await;
        let (fingerprint, skills) = match read {
            Ok(r) => r,
            Err(e) => {
                let dir = self.data_dir.clone().unwrap_or_default();
                return vec![unreadable(SkillSource::DataDir, None, &dir, e.to_string())];
            }
        };
        match fingerprint {
            Some((fingerprint, fresh)) => {
                if fresh {
                    log_problems(&skills);
                    *lock(&self.data_cache) = Some((fingerprint, skills.clone()));
                }
            }
            None => {
                if !skills.is_empty() {
                    log_problems(&skills);
                }
                *lock(&self.data_cache) = None;
            }
        }
        skills
    }

    /// `project`'s repository skills, read again only when its default branch moved.
    async fn repository_skills(&self, project: &str) -> Vec<DiscoveredSkill> {
        let Some(repo) = self.repository(project) else {
            return Vec::new();
        };
        let place = format!("{project}:{REPOSITORY_SKILLS_DIR}");
        let commit = match repo.default_branch_commit().await {
            Ok(Some(c)) => c,
            Ok(None) => return Vec::new(),
            Err(e) => {
                let entry = unreadable(
                    SkillSource::Repository,
                    Some(project),
                    Path::new(&place),
                    format!("cannot read the default branch: {e}"),
                );
                return vec![entry];
            }
        };
        if let Some((at, skills)) = lock(&self.repo_cache).get(project)
            && *at == commit
        {
            return skills.clone();
        }
        let files = match repo
            .files_at(&commit, REPOSITORY_SKILLS_DIR, SKILL_FILE, MAX_SKILL_BYTES)
            .await
        {
            Ok(files) => files,
            Err(e) => {
                let entry = unreadable(
                    SkillSource::Repository,
                    Some(project),
                    Path::new(&place),
                    format!("cannot read the skills committed at {commit}: {e}"),
                );
                return vec![entry];
            }
        };
        let mut entries = Vec::new();
        for (path, bytes) in files {
            let Some(name) = skill_dir_name(&path) else {
                continue;
            };
            if entries.len() == MAX_SKILLS_PER_SOURCE {
                entries.push(too_many(SkillSource::Repository, Some(project), &place));
                break;
            }
            entries.push(parse_entry(
                name,
                SkillSource::Repository,
                Some(project),
                path.clone(),
                &bytes,
            ));
        }
        let skills = dedupe(entries);
        log_problems(&skills);
        lock(&self.repo_cache).insert(project.to_owned(), (commit, skills.clone()));
        skills
    }
}

#[async_trait]
impl SkillCatalog for SkillFiles {
    async fn discover(&self, project: Option<&str>) -> Vec<DiscoveredSkill> {
        let projects = match project {
            Some(p) => vec![p.to_owned()],
            None => self.project_names(),
        };
        let mut found = Vec::new();
        for p in &projects {
            let mut skills = self.repository_skills(p).await;
            found.append(&mut skills);
        }
        found.extend(self.data_dir_skills().await);
        found.extend(self.builtin.iter().cloned());
        mark_shadowed(&mut found);
        found
    }

    async fn resolve(&self, project: &str, name: &str) -> Option<Skill> {
        self.discover(Some(project))
            .await
            .into_iter()
            .find(|d| d.name == name)
            .and_then(|d| d.skill)
    }

    fn knows_project(&self, project: &str) -> bool {
        self.projects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(project)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `<name>` of a path `.foreman/skills/<name>/SKILL.md`; `None` for any other path (deeper or
/// shallower files of that name are not skills).
fn skill_dir_name(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix(REPOSITORY_SKILLS_DIR)?
        .strip_prefix('/')?;
    let (name, file) = rest.split_once('/')?;
    (file == SKILL_FILE && !name.is_empty()).then_some(name)
}

/// One file parsed into a listing entry: named after its skill when it parsed, after its
/// directory when not.
fn parse_entry(
    dir_name: &str,
    source: SkillSource,
    project: Option<&str>,
    path: String,
    bytes: &[u8],
) -> DiscoveredSkill {
    let parsed = if let Some(problem) = size_problem(&path, bytes.len()) {
        Err(vec![problem])
    } else {
        match std::str::from_utf8(bytes) {
            Ok(text) => parse_skill_with(&path, text, &template_syntax),
            Err(e) => Err(vec![SkillProblem {
                file: path.clone(),
                line: None,
                reason: format!("the file is not UTF-8 ({e})"),
            }]),
        }
    };
    let (name, skill, problems) = match parsed {
        Ok(skill) => (skill.name.clone(), Some(skill), Vec::new()),
        Err(problems) => (dir_name.to_owned(), None, problems),
    };
    DiscoveredSkill {
        name,
        source,
        project: project.map(str::to_owned),
        path,
        skill,
        problems,
        shadowed: false,
    }
}

/// Whether `source` is a template minijinja (the hooks' engine) can compile; names it does not
/// know are found when the step runs.
fn template_syntax(source: &str) -> Result<(), String> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
        return Ok(());
    }
    let env = minijinja::Environment::new();
    env.template_from_str(source).map(|_| ()).map_err(|e| {
        let mut text = e.kind().to_string();
        if let Some(detail) = e.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        text
    })
}

/// An entry for a source that could not be read at all.
fn unreadable(
    source: SkillSource,
    project: Option<&str>,
    dir: &Path,
    reason: String,
) -> DiscoveredSkill {
    let path = dir.display().to_string();
    DiscoveredSkill {
        name: String::new(),
        source,
        project: project.map(str::to_owned),
        path: path.clone(),
        skill: None,
        problems: vec![SkillProblem {
            file: path,
            line: None,
            reason,
        }],
        shadowed: false,
    }
}

fn too_many(source: SkillSource, project: Option<&str>, dir: &str) -> DiscoveredSkill {
    unreadable(
        source,
        project,
        Path::new(dir),
        format!("more than {MAX_SKILLS_PER_SOURCE} skills; the rest were not read"),
    )
}

/// Within one source, a second valid skill of a name already taken is refused.
fn dedupe(mut entries: Vec<DiscoveredSkill>) -> Vec<DiscoveredSkill> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for entry in &mut entries {
        if entry.skill.is_none() {
            continue;
        }
        if let Some(first) = seen.get(&entry.name) {
            entry.problems.push(SkillProblem {
                file: entry.path.clone(),
                line: Some(2),
                reason: format!("skill name {:?} is already used by {first}", entry.name),
            });
            entry.skill = None;
        } else {
            seen.insert(entry.name.clone(), entry.path.clone());
        }
    }
    entries
}

/// Marks each entry that a source of higher precedence hides. Repository skills hide shared
/// ones only within a listing of one project; a listing of every project marks only the data
/// directory's skills hiding built-in ones. An invalid file hides too (its name is its
/// directory's): a hook naming it fails rather than silently running another skill.
fn mark_shadowed(entries: &mut [DiscoveredSkill]) {
    let projects: std::collections::BTreeSet<Option<String>> = entries
        .iter()
        .filter(|e| e.source == SkillSource::Repository)
        .map(|e| e.project.clone())
        .collect();
    let one_project = projects.len() <= 1;
    let mut best: BTreeMap<String, SkillSource> = BTreeMap::new();
    for entry in entries.iter() {
        if entry.name.is_empty() || (!one_project && entry.source == SkillSource::Repository) {
            continue;
        }
        best.entry(entry.name.clone())
            .and_modify(|s| *s = (*s).min(entry.source))
            .or_insert(entry.source);
    }
    for entry in entries.iter_mut() {
        if let Some(top) = best.get(&entry.name) {
            entry.shadowed = *top < entry.source;
        }
    }
}

fn log_problems(entries: &[DiscoveredSkill]) {
    for entry in entries {
        for problem in &entry.problems {
            tracing::warn!(
                source = entry.source.as_str(),
                project = entry.project.as_deref().unwrap_or(""),
                "skill file problem: {problem}"
            );
        }
    }
}

/// The data directory's skills as they are now; `Ok(None)` when there is no skills
/// directory, `Err` when it cannot be listed.
fn fingerprint(dir: &Path) -> Result<Option<Fingerprint>, String> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the skills directory: {e}")),
    };
    let listing =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read the skills directory: {e}"))?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| format!("cannot read the skills directory: {e}"))?;
        let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        if is_dir {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let more = names.len() > MAX_SKILLS_PER_SOURCE;
    names.truncate(MAX_SKILLS_PER_SOURCE);
    let mut files = Vec::new();
    for name in names {
        let file = dir.join(&name).join(SKILL_FILE);
        match std::fs::metadata(&file) {
            Ok(m) if m.is_file() => files.push((name, Ok((m.len(), m.modified().ok())))),
            Ok(_) => files.push((name, Err(format!("{SKILL_FILE} is not a file")))),
            // a directory without a skill file is not a skill
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => files.push((name, Err(format!("cannot read {SKILL_FILE}: {e}")))),
        }
    }
    Ok(Some(Fingerprint {
        modified: meta.modified().ok(),
        files,
        more,
    }))
}

fn read_data_dir(dir: &Path, fingerprint: &Fingerprint) -> Vec<DiscoveredSkill> {
    let mut entries = Vec::new();
    for (name, state) in &fingerprint.files {
        let path = dir.join(name).join(SKILL_FILE);
        let shown = path.display().to_string();
        let bytes = state.clone().and_then(|_| read_capped(&path));
        entries.push(match bytes {
            Ok(bytes) => parse_entry(name, SkillSource::DataDir, None, shown, &bytes),
            Err(reason) => DiscoveredSkill {
                name: name.clone(),
                source: SkillSource::DataDir,
                project: None,
                path: shown.clone(),
                skill: None,
                problems: vec![SkillProblem {
                    file: shown,
                    line: None,
                    reason,
                }],
                shadowed: false,
            },
        });
    }
    if fingerprint.more {
        entries.push(too_many(
            SkillSource::DataDir,
            None,
            &dir.display().to_string(),
        ));
    }
    dedupe(entries)
}

/// At most one byte more than a skill file may have.
fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_SKILL_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
