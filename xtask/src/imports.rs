//! File-level import cycles inside a crate.
//!
//! Every target of every workspace member (library, binaries, tests, benches) is read from its
//! root file down its `mod name;` declarations. Each file's paths into its own crate
//! (`use crate::…`, `use super::…`, `self::…`, paths through a declared child module or a name
//! a `use` brought in, in `use` items and in expressions alike) become edges to the file that
//! defines what they name: a name re-exported by another file (`pub use dto::*` in `lib.rs`)
//! is followed to the file that defines it, so a crate root that re-exports its modules is not
//! a hub every file "imports". Declaring a module (`mod x;`) is not an import. Two files that
//! reach each other through these edges, directly or round a longer loop, form a cycle:
//! a strongly connected component of more than one file.
//!
//! The reader is a tokenizer, not a parser: comments, strings and character literals are
//! skipped, items are recognised by their keyword at the top level of a file, and macro
//! bodies are read like any other tokens. `#[path]` attributes are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Crates whose import cycles are reported by `cargo xtask tidy` but do not fail it yet,
/// because they predate the check. A listed crate found acyclic is reported too, so the entry
/// is removed and the crate stays acyclic.
const TOLERATED: &[&str] = &[];

/// Checks every target of every workspace member; returns one line per problem.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut cyclic = BTreeSet::new();
    for (package, target) in targets(root)? {
        let files = load(&target);
        for cycle in cycles(&target, &files) {
            cyclic.insert(package.clone());
            let names: Vec<String> = cycle
                .iter()
                .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
                .collect();
            let line = format!(
                "{package}: file-level import cycle: {}",
                names.join(" <-> ")
            );
            if TOLERATED.contains(&package.as_str()) {
                println!("imports (tolerated): {line}");
            } else {
                problems.push(line);
            }
        }
    }
    for name in TOLERATED {
        if !cyclic.contains(*name) {
            println!(
                "imports: {name} has no import cycle any more; remove it from TOLERATED in xtask/src/imports.rs"
            );
        }
    }
    Ok(problems)
}

/// `(package name, root file)` of every target of every workspace member, build scripts left
/// out.
fn targets(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let mut found = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        for target in package["targets"].as_array().into_iter().flatten() {
            let build_script = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "custom-build"));
            if let (false, Some(src)) = (build_script, target["src_path"].as_str()) {
                found.push((name.to_owned(), PathBuf::from(src)));
            }
        }
    }
    Ok(found)
}

/// The text of `root` and of every file below it through `mod name;` declarations.
fn load(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut queue = vec![root.to_owned()];
    while let Some(path) = queue.pop() {
        if files.contains_key(&path) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let dir = children_dir(&path, path == root);
        for child in parse(&text).children {
            for candidate in [
                dir.join(format!("{child}.rs")),
                dir.join(&child).join("mod.rs"),
            ] {
                if candidate.is_file() {
                    queue.push(candidate);
                    break;
                }
            }
        }
        files.insert(path, text);
    }
    files
}

/// Where the files of `file`'s child modules live.
fn children_dir(file: &Path, is_root: bool) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("")).to_owned();
    if is_root || file.file_name().is_some_and(|n| n == "mod.rs") {
        parent
    } else {
        parent.join(file.file_stem().unwrap_or_default())
    }
}

/// The import cycles among `files` (a target rooted at `root`), each as its sorted files.
fn cycles(root: &Path, files: &BTreeMap<PathBuf, String>) -> Vec<Vec<PathBuf>> {
    let crate_ = Crate::new(root, files);
    let edges = crate_.edges();
    strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect()
}

/// One token of Rust source, comments and literals removed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokenize(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1);
        } else if ch == '\'' {
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1; // a lifetime: its name follows as an identifier
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            if matches!(word.as_str(), "r" | "br" | "cr") && matches!(at(i), '"' | '#') {
                let mut hashes = 0;
                while at(i + hashes) == '#' {
                    hashes += 1;
                }
                if at(i + hashes) == '"' {
                    i = skip_raw_string(&c, i + hashes + 1, hashes);
                    continue;
                }
            }
            if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                i = skip_string(&c, i + 1);
                continue;
            }
            out.push(Tok::Ident(word));
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Tok::PathSep);
            i += 2;
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

fn skip_string(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn skip_raw_string(c: &[char], mut i: usize, hashes: usize) -> usize {
    while i < c.len() {
        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// One path a `use` item names: `use a::b::{c, d as e, f::*};` gives `a::b::c` (name `c`),
/// `a::b::d` (name `e`) and `a::b::f` (a glob).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UseEntry {
    path: Vec<String>,
    /// The name it brings into scope; `None` for a glob.
    name: Option<String>,
}

/// What one file says about its crate's modules.
#[derive(Debug, Default)]
struct FileFacts {
    /// `mod name;` at the top level.
    children: Vec<String>,
    /// Inline `mod name { … }` at the top level.
    inline: Vec<String>,
    /// Names of items defined at the top level.
    items: BTreeSet<String>,
    /// `use` items at the top level (they can re-export).
    uses: Vec<UseEntry>,
    /// Every path the file mentions (use items anywhere, expressions), with the inline
    /// module it appears in.
    refs: Vec<(Vec<String>, Vec<String>)>,
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn parse(src: &str) -> FileFacts {
    let toks = tokenize(src);
    let mut facts = FileFacts::default();
    let mut depth = 0usize;
    // inline modules open around the current token: (name, depth inside it)
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let top = depth == 0;
        let module: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        match &toks[i] {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d > depth) {
                    inline.pop();
                }
            }
            Tok::Ident(kw) if kw == "use" => {
                let mut entries = Vec::new();
                let end = use_tree(&toks, i + 1, Vec::new(), &mut entries);
                for e in &entries {
                    facts.refs.push((module.clone(), e.path.clone()));
                }
                if top {
                    facts.uses.extend(entries);
                }
                i = end;
                continue;
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let Some(name) = ident(toks.get(i + 1)) {
                    match toks.get(i + 2) {
                        Some(Tok::Punct(';')) if top => facts.children.push(name.to_owned()),
                        Some(Tok::Punct('{')) => {
                            if top {
                                facts.inline.push(name.to_owned());
                                facts.items.insert(name.to_owned());
                            }
                            inline.push((name.to_owned(), depth + 1));
                        }
                        _ => {}
                    }
                }
            }
            Tok::Ident(kw)
                if top
                    && matches!(
                        kw.as_str(),
                        "struct" | "enum" | "union" | "trait" | "fn" | "type" | "const" | "static"
                    ) =>
            {
                if let Some(name) = ident(toks.get(i + 1)) {
                    facts.items.insert(name.to_owned());
                }
            }
            Tok::Ident(kw) if top && kw == "macro_rules" => {
                if let Some(name) = ident(toks.get(i + 2)) {
                    facts.items.insert(name.to_owned());
                }
            }
            Tok::Ident(first)
                if toks.get(i + 1) == Some(&Tok::PathSep)
                    && (i == 0 || toks[i - 1] != Tok::PathSep)
                    && first != "Self" =>
            {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while toks.get(j) == Some(&Tok::PathSep) {
                    match ident(toks.get(j + 1)) {
                        Some(seg) => {
                            path.push(seg.to_owned());
                            j += 2;
                        }
                        None => break,
                    }
                }
                facts.refs.push((module, path));
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    facts
}

/// Reads a use tree starting at `i` below `prefix`; returns the index after it.
fn use_tree(toks: &[Tok], mut i: usize, mut prefix: Vec<String>, out: &mut Vec<UseEntry>) -> usize {
    if toks.get(i) == Some(&Tok::PathSep) {
        i += 1; // `use ::std::…`
    }
    loop {
        match toks.get(i) {
            Some(Tok::Ident(seg)) => {
                prefix.push(seg.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::PathSep) {
                    i += 1;
                    continue;
                }
                let name = if ident(toks.get(i)) == Some("as") {
                    i += 2;
                    ident(toks.get(i - 1)).map(str::to_owned)
                } else {
                    prefix.last().cloned()
                };
                out.push(UseEntry { path: prefix, name });
                break;
            }
            Some(Tok::Punct('*')) => {
                out.push(UseEntry {
                    path: prefix,
                    name: None,
                });
                i += 1;
                break;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                while !matches!(toks.get(i), None | Some(Tok::Punct('}'))) {
                    i = use_tree(toks, i, prefix.clone(), out);
                    if toks.get(i) == Some(&Tok::Punct(',')) {
                        i += 1;
                    }
                }
                i += 1;
                break;
            }
            _ => break,
        }
    }
    if toks.get(i) == Some(&Tok::Punct(';')) {
        i += 1;
    }
    i
}

/// A target's files, their module paths and what each says.
struct Crate<'a> {
    /// Module path of every file, and of every inline module (mapped to its file).
    modules: BTreeMap<Vec<String>, &'a Path>,
    /// Each file's module path and facts.
    files: BTreeMap<&'a Path, (Vec<String>, FileFacts)>,
}

impl<'a> Crate<'a> {
    fn new(root: &Path, sources: &'a BTreeMap<PathBuf, String>) -> Self {
        let mut modules = BTreeMap::new();
        let mut files = BTreeMap::new();
        let Some((root, text)) = sources.get_key_value(root) else {
            return Self { modules, files };
        };
        let mut queue = vec![(root.as_path(), Vec::<String>::new(), text)];
        while let Some((path, module, text)) = queue.pop() {
            let facts = parse(text);
            let dir = children_dir(path, module.is_empty());
            for child in &facts.children {
                let mut sub = module.clone();
                sub.push(child.clone());
                for candidate in [
                    dir.join(format!("{child}.rs")),
                    dir.join(child).join("mod.rs"),
                ] {
                    if let Some((p, t)) = sources.get_key_value(&candidate) {
                        queue.push((p.as_path(), sub.clone(), t));
                        break;
                    }
                }
            }
            for name in &facts.inline {
                let mut sub = module.clone();
                sub.push(name.clone());
                modules.insert(sub, path);
            }
            modules.insert(module.clone(), path);
            files.insert(path, (module, facts));
        }
        Self { modules, files }
    }

    /// Edges between distinct files.
    fn edges(&self) -> BTreeMap<&'a Path, BTreeSet<&'a Path>> {
        let mut edges: BTreeMap<&Path, BTreeSet<&Path>> = BTreeMap::new();
        for (file, (module, facts)) in &self.files {
            let targets = edges.entry(file).or_default();
            for (inline, path) in &facts.refs {
                let mut here = module.clone();
                here.extend(inline.iter().cloned());
                if let Some(to) = self.resolve(file, &here, path, 0)
                    && to != *file
                {
                    targets.insert(to);
                }
            }
        }
        edges
    }

    /// The file that defines what `path`, written in module `here` of `file`, names; `None`
    /// when it leaves the crate (or is a local name).
    fn resolve(&self, file: &Path, here: &[String], path: &[String], hops: u8) -> Option<&'a Path> {
        let (module, facts) = self.files.get(file)?;
        let (first, rest) = path.split_first()?;
        let abs: Vec<String> = match first.as_str() {
            "crate" => Vec::new(),
            "self" => here.to_vec(),
            "super" => {
                let mut up = here.to_vec();
                up.pop()?;
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    up.pop()?;
                    rest = &rest[1..];
                }
                return self.walk(up, rest, hops);
            }
            name if here == module.as_slice() => {
                let mut child = here.to_vec();
                child.push(name.to_owned());
                if self.modules.contains_key(&child) {
                    child
                } else if hops < 8
                    && let Some(u) = facts.uses.iter().find(|u| u.name.as_deref() == Some(name))
                {
                    let mut full = u.path.clone();
                    full.extend(rest.iter().cloned());
                    return self.resolve(file, module, &full, hops + 1);
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        self.walk(abs, rest, hops)
    }

    /// Descends from module `abs` through `rest`, then follows re-exports of the first item.
    fn walk(&self, mut abs: Vec<String>, rest: &[String], hops: u8) -> Option<&'a Path> {
        let mut rest = rest;
        while let Some((seg, tail)) = rest.split_first() {
            abs.push(seg.clone());
            if self.modules.contains_key(&abs) {
                rest = tail;
            } else {
                abs.pop();
                break;
            }
        }
        let file = *self.modules.get(&abs)?;
        let Some(item) = rest.first() else {
            return Some(file);
        };
        let (module, facts) = self.files.get(file)?;
        if module != &abs || facts.items.contains(item) || hops >= 8 {
            return Some(file);
        }
        // a re-export: the named `use` first, then globs
        if let Some(u) = facts.uses.iter().find(|u| u.name.as_deref() == Some(item))
            && let Some(to) = self.resolve(file, module, &u.path, hops + 1)
        {
            return Some(to);
        }
        for glob in facts.uses.iter().filter(|u| u.name.is_none()) {
            let mut path = glob.path.clone();
            path.push(item.clone());
            if let Some(to) = self.resolve(file, module, &path, hops + 1)
                && to != file
                && self.defines(to, item)
            {
                return Some(to);
            }
        }
        Some(file)
    }

    fn defines(&self, file: &Path, item: &str) -> bool {
        self.files
            .get(file)
            .is_some_and(|(_, f)| f.items.contains(item))
    }
}

/// Tarjan's strongly connected components, each sorted.
fn strongly_connected<'a>(edges: &BTreeMap<&'a Path, BTreeSet<&'a Path>>) -> Vec<Vec<PathBuf>> {
    struct State<'a, 'e> {
        edges: &'e BTreeMap<&'a Path, BTreeSet<&'a Path>>,
        index: BTreeMap<&'a Path, usize>,
        low: BTreeMap<&'a Path, usize>,
        stack: Vec<&'a Path>,
        on_stack: BTreeSet<&'a Path>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut State<'a, '_>, v: &'a Path) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> BTreeMap<PathBuf, String> {
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect()
    }

    fn found(files: &[(&str, &str)]) -> Vec<Vec<String>> {
        let files = tree(files);
        cycles(Path::new("src/lib.rs"), &files)
            .into_iter()
            .map(|c| c.iter().map(|p| p.display().to_string()).collect())
            .collect()
    }

    #[test]
    fn two_files_importing_each_other_are_a_cycle() {
        let files = [
            ("src/lib.rs", "mod a;\nmod b;\n"),
            ("src/a.rs", "use crate::b::B;\npub struct A(B);\n"),
            (
                "src/b.rs",
                "pub struct B;\nfn f() -> crate::a::A { todo!() }\n",
            ),
        ];
        assert_eq!(found(&files), vec![vec!["src/a.rs", "src/b.rs"]]);
    }

    #[test]
    fn a_longer_loop_through_nested_modules_and_super_is_one_cycle() {
        let files = [
            ("src/lib.rs", "mod state;\nmod routes;\n"),
            (
                "src/state.rs",
                "use crate::routes::{tickets::Cache, self};\npub struct S;\n",
            ),
            (
                "src/routes/mod.rs",
                "pub mod tickets;\nuse crate::state::S;\n",
            ),
            (
                "src/routes/tickets.rs",
                "use super::*;\npub struct Cache;\n",
            ),
        ];
        assert_eq!(
            found(&files),
            vec![vec![
                "src/routes/mod.rs",
                "src/routes/tickets.rs",
                "src/state.rs"
            ]]
        );
    }

    #[test]
    fn layered_files_and_root_reexports_are_no_cycle() {
        // every file imports through the root's re-exports, which resolve to the defining file
        let files = [
            (
                "src/lib.rs",
                "mod dto;\nmod state;\npub use dto::*;\npub use state::State;\npub fn app() -> State { state::new() }\n",
            ),
            ("src/dto.rs", "pub struct Status;\n"),
            (
                "src/state.rs",
                "use crate::Status;\n// crate::app() in a comment is not an import\npub struct State(Status);\npub fn new() -> State { let _ = \"crate::app\"; todo!() }\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
            ),
        ];
        assert!(found(&files).is_empty(), "{:?}", found(&files));
        // the control: state.rs naming the root's own function closes a loop
        let mut with_loop = files;
        with_loop[2].1 = "use crate::Status;\npub struct State(Status);\npub fn new() -> State { let _ = crate::app; todo!() }\n";
        assert_eq!(found(&with_loop), vec![vec!["src/lib.rs", "src/state.rs"]]);
    }

    #[test]
    fn tokenizer_skips_literals_and_comments() {
        let toks = tokenize("let s = r#\"crate::x\"#; /* crate::y /* nested */ */ 'a' crate::z");
        assert!(toks.contains(&Tok::Ident("z".into())));
        assert!(!toks.contains(&Tok::Ident("x".into())));
        assert!(!toks.contains(&Tok::Ident("y".into())));
    }
}
