//! The Python client: `clients/python/foreman-client`, generated from `docs/openapi.json` by
//! `openapi-python-client` from PyPI, pinned (`.ci/run` installs the same release).
//!
//! `cargo xtask codegen` regenerates it and `cargo xtask codegen --check` fails when the
//! committed client differs from what the committed document generates. Generation is
//! deterministic: the generator runs on a copy of the document in a temporary directory with
//! the settings of `clients/python/openapi-python-client.yaml` (names, class overrides) and its
//! default post-hooks (`ruff check --fix-only`, `ruff format`, with the ruff release pinned
//! below, since its formatting is part of the output), and nothing in the output depends on
//! the time, the machine or the directory it was written in.
//!
//! The generator runs with `--fail-on-warning`: an operation or a schema it cannot express
//! would otherwise be left out of the client without anyone noticing. The document goes to it
//! as written; a construct the generator cannot read would be rewritten in [`prepare`] (and
//! said there), never in `docs/openapi.json`.
//!
//! Without the generator (or with another release of it or of ruff) the step is skipped with a
//! note, except when `CI` is set: there it is required.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The openapi-python-client release the client is generated with (`.ci/run` installs it).
pub(crate) const GENERATOR_VERSION: &str = "0.29.1";
/// The ruff release the generator's post-hooks format with (`.ci/run` installs it).
pub(crate) const RUFF_VERSION: &str = "0.17.6";

/// The generator's settings (package and project names, class names).
const CONFIG: &str = "clients/python/openapi-python-client.yaml";
/// The generated project (its `pyproject.toml`, `README.md` and the `foreman_client` package).
const OUTPUT: &str = "clients/python/foreman-client";
/// The project metadata the generator writes: PEP 621 `[project]` with `pdm-backend`, which
/// `pip install` builds without further tools.
const META: &str = "pdm";
/// Left behind by Python or ruff when the client is imported or checked; never compared.
const IGNORED: &[&str] = &["__pycache__", ".ruff_cache", ".pytest_cache", ".mypy_cache"];

/// Regenerates `clients/python/foreman-client` from `docs/openapi.json` (`check`: fails when
/// it differs instead).
pub(crate) fn codegen(root: &Path, check: bool) -> Result<()> {
    if !enabled()? {
        return Ok(());
    }
    let started = Instant::now();
    let work = TempDir::new()?;
    let source = root.join("docs/openapi.json");
    let text = std::fs::read_to_string(&source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    let spec: serde_json::Value =
        serde_json::from_str(&text).context("docs/openapi.json is not JSON")?;
    let generated = generate(root, &prepare(spec), &work.path)?;
    let output = root.join(OUTPUT);
    let want = tree(&generated)?;
    let have = if output.exists() {
        tree(&output)?
    } else {
        BTreeMap::new()
    };
    let drift = differences(&want, &have);
    let took = started.elapsed().as_secs_f64();
    if check {
        if !drift.is_empty() {
            bail!(
                "{OUTPUT} is out of date with docs/openapi.json ({}): run `cargo xtask codegen` and commit it",
                summary(&drift)
            );
        }
        println!(
            "codegen: {OUTPUT} is up to date ({} files, generated in {took:.1} s)",
            want.len()
        );
    } else if drift.is_empty() {
        println!(
            "codegen: {OUTPUT} unchanged ({} files, generated in {took:.1} s)",
            want.len()
        );
    } else {
        if output.exists() {
            std::fs::remove_dir_all(&output)
                .with_context(|| format!("cannot remove {}", output.display()))?;
        }
        for (rel, bytes) in &want {
            let path = output.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!(
            "codegen: wrote {OUTPUT} ({} files, {}; generated in {took:.1} s)",
            want.len(),
            summary(&drift)
        );
    }
    Ok(())
}

/// Whether the generator can run: yes when the pinned openapi-python-client and ruff are on
/// `PATH`; when they are not, an error under `CI` and a note otherwise.
fn enabled() -> Result<bool> {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    match tools() {
        Ok(()) => Ok(true),
        Err(e) if ci => Err(e.context("CI is set, so the Python client's generation is required")),
        Err(e) => {
            println!(
                "\n== codegen: Python client skipped\ncodegen: {e:#}; skipping {OUTPUT} (required when CI is set)"
            );
            Ok(false)
        }
    }
}

/// The install command of the pinned tools, for messages.
fn install_hint() -> String {
    format!(
        "`python3 -m pip install openapi-python-client=={GENERATOR_VERSION} ruff=={RUFF_VERSION}`"
    )
}

/// Checks that `openapi-python-client` and `ruff` are the pinned releases.
fn tools() -> Result<()> {
    let hint = install_hint();
    for (program, version) in [
        ("openapi-python-client", GENERATOR_VERSION),
        ("ruff", RUFF_VERSION),
    ] {
        let out = Command::new(program)
            .arg("--version")
            .output()
            .with_context(|| {
                format!("cannot run `{program}`; the Python client is generated with {hint}")
            })?;
        let said = String::from_utf8_lossy(&out.stdout);
        let said = said.trim();
        let matches = said.split_whitespace().last().is_some_and(|v| v == version);
        if !out.status.success() || !matches {
            bail!("`{program} --version` says {said:?}, not {version}; install it with {hint}");
        }
    }
    Ok(())
}

/// Runs the generator on `spec` in `work` with the settings in `root`; the generated
/// project's directory.
fn generate(root: &Path, spec: &serde_json::Value, work: &Path) -> Result<PathBuf> {
    let input = work.join("openapi.json");
    std::fs::write(&input, serde_json::to_string_pretty(spec)?)?;
    let project = work.join("foreman-client");
    let mut cmd = Command::new("openapi-python-client");
    cmd.current_dir(work)
        .arg("generate")
        .arg("--path")
        .arg(&input)
        .arg("--config")
        .arg(root.join(CONFIG))
        .args(["--meta", META, "--fail-on-warning", "--output-path"])
        .arg(&project)
        // ruff would leave its cache in the generated project
        .env("RUFF_NO_CACHE", "true");
    println!(
        "\n== codegen: Python client (openapi-python-client {GENERATOR_VERSION}, ruff {RUFF_VERSION})"
    );
    let out = cmd
        .output()
        .context("cannot run openapi-python-client generate")?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!(
            "openapi-python-client could not generate the whole Python client from docs/openapi.json \
             (warnings are failures: a part it cannot express would be missing from the client):\n{}\n\
             Describe the operation with a content type and schema the generator reads (JSON \
             bodies; JSON, text/plain or binary responses), map an unknown response content type \
             in {CONFIG} (`content_type_overrides`, e.g. `application/x-ndjson: \
             application/octet-stream`), or rewrite the construct in `prepare` in \
             xtask/src/python_client.rs",
            said.trim()
        );
    }
    if !project.join("foreman_client/__init__.py").exists() {
        bail!(
            "openapi-python-client wrote no foreman_client package:\n{}",
            said.trim()
        );
    }
    Ok(project)
}

/// The document as the generator is given it. Today that is `docs/openapi.json` unchanged:
/// openapi-python-client reads everything the server's document uses (OpenAPI 3.1 type
/// arrays with `null`, `oneOf` with a `null` branch and nested `oneOf`, `$ref` with a sibling
/// `description`, `text/plain` and `text/event-stream` responses). A construct it could not
/// read would be rewritten here, with the reason beside the rewrite.
fn prepare(spec: serde_json::Value) -> serde_json::Value {
    spec
}

/// Every file under `dir` (relative path with `/` → contents), leaving out [`IGNORED`]
/// directories.
fn tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !IGNORED.iter().any(|i| name == *i) {
                    stack.push(entry.path());
                }
            } else if kind.is_file() {
                let path = entry.path();
                let rel = path
                    .strip_prefix(dir)
                    .expect("walked under dir")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                files.insert(rel, std::fs::read(&path)?);
            }
        }
    }
    Ok(files)
}

/// One change between the generated tree (`want`) and the committed one (`have`).
#[derive(Debug, PartialEq, Eq)]
enum Drift {
    Added(String),
    Changed(String),
    Removed(String),
}

/// What would change in `have` to make it `want`, in path order.
fn differences(want: &BTreeMap<String, Vec<u8>>, have: &BTreeMap<String, Vec<u8>>) -> Vec<Drift> {
    let mut drift = Vec::new();
    for (path, bytes) in want {
        match have.get(path) {
            None => drift.push(Drift::Added(path.clone())),
            Some(old) if old != bytes => drift.push(Drift::Changed(path.clone())),
            Some(_) => {}
        }
    }
    for path in have.keys() {
        if !want.contains_key(path) {
            drift.push(Drift::Removed(path.clone()));
        }
    }
    drift
}

/// `2 added, 1 changed (foreman_client/api/…, …)`: counts and the first few paths.
fn summary(drift: &[Drift]) -> String {
    let count = |f: fn(&Drift) -> bool| drift.iter().filter(|d| f(d)).count();
    let mut parts = Vec::new();
    for (n, word) in [
        (count(|d| matches!(d, Drift::Added(_))), "added"),
        (count(|d| matches!(d, Drift::Changed(_))), "changed"),
        (count(|d| matches!(d, Drift::Removed(_))), "removed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let shown: Vec<&str> = drift
        .iter()
        .take(5)
        .map(|d| match d {
            Drift::Added(p) | Drift::Changed(p) | Drift::Removed(p) => p.as_str(),
        })
        .collect();
    let more = if drift.len() > shown.len() {
        ", …"
    } else {
        ""
    };
    format!("{}: {}{more}", parts.join(", "), shown.join(", "))
}

/// A temporary directory, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "foreman-python-client-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn differences_name_added_changed_and_removed_files() {
        let want = files(&[("a.py", "1"), ("b.py", "2"), ("c.py", "3")]);
        let have = files(&[("b.py", "2"), ("c.py", "old"), ("d.py", "4")]);
        let drift = differences(&want, &have);
        assert_eq!(
            drift,
            vec![
                Drift::Added("a.py".into()),
                Drift::Changed("c.py".into()),
                Drift::Removed("d.py".into()),
            ]
        );
        assert_eq!(
            summary(&drift),
            "1 added, 1 changed, 1 removed: a.py, c.py, d.py"
        );
        assert!(differences(&want, &want).is_empty());
    }

    #[test]
    fn the_tree_leaves_out_caches() {
        let dir = TempDir::new().unwrap();
        let pkg = dir.path.join("foreman_client");
        std::fs::create_dir_all(pkg.join("__pycache__")).unwrap();
        std::fs::write(pkg.join("__init__.py"), "x").unwrap();
        std::fs::write(pkg.join("__pycache__/__init__.cpython-311.pyc"), "y").unwrap();
        std::fs::create_dir_all(dir.path.join(".ruff_cache")).unwrap();
        std::fs::write(dir.path.join(".ruff_cache/CACHEDIR.TAG"), "z").unwrap();
        let found: Vec<String> = tree(&dir.path).unwrap().into_keys().collect();
        assert_eq!(found, vec!["foreman_client/__init__.py".to_owned()]);
    }

    /// A document of one JSON operation, and one more when `text_body` (a `text/plain`
    /// request body, which the generator cannot express).
    fn document(text_body: bool) -> serde_json::Value {
        let mut spec = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "Foreman API", "version": "0.1.0"},
            "paths": {"/api/things/{id}": {"get": {
                "operationId": "get_thing",
                "parameters": [{"name": "id", "in": "path", "required": true,
                    "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the thing", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}
            }}},
            "components": {"schemas": {"Thing": {"type": "object", "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "at": {"type": ["string", "null"], "format": "date-time"}
                }}}}
        });
        if text_body {
            spec["paths"]["/api/notes"] = serde_json::json!({"post": {
                "operationId": "post_note",
                "requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}},
                "responses": {"204": {"description": "stored"}}
            }});
        }
        spec
    }

    /// Whether the pinned tools are here; under `CI` they must be.
    fn tools_here() -> bool {
        match tools() {
            Ok(()) => true,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none_or(|v| v.is_empty()),
                    "CI is set, so the pinned tools are required: {e:#}"
                );
                eprintln!("skipped: {e:#}");
                false
            }
        }
    }

    #[test]
    fn generation_is_deterministic() {
        if !tools_here() {
            return;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let (one, two) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let a = tree(&generate(root, &prepare(document(false)), &one.path).unwrap()).unwrap();
        let b = tree(&generate(root, &prepare(document(false)), &two.path).unwrap()).unwrap();
        assert!(
            differences(&a, &b).is_empty(),
            "{}",
            summary(&differences(&a, &b))
        );
        assert!(a.contains_key("foreman_client/api/default/get_thing.py"));
        assert!(a.contains_key("foreman_client/models/thing.py"));
        assert!(a.contains_key("pyproject.toml"));
        assert!(!a.keys().any(|p| p.contains(".ruff_cache")));
    }

    #[test]
    fn a_part_the_generator_cannot_express_fails_the_step() {
        if !tools_here() {
            return;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let work = TempDir::new().unwrap();
        let err = generate(root, &prepare(document(true)), &work.path).unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("POST /api/notes"), "{message}");
        assert!(message.contains("text/plain"), "{message}");
        assert!(message.contains("content_type_overrides"), "{message}");
    }

    #[test]
    fn the_pins_match_ci() {
        let run = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/run"))
            .unwrap();
        for pin in [
            format!("openapi-python-client=={GENERATOR_VERSION}"),
            format!("ruff=={RUFF_VERSION}"),
        ] {
            assert!(run.contains(&pin), ".ci/run does not install {pin}");
        }
    }
}
