//! A unified diff (as `git diff` writes it) read into changed files: each file's path, how it
//! changed, and its added lines with their line numbers in the new file.

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    /// A new file.
    Added,
    /// An existing file, changed in place.
    Modified,
    /// Moved from `old_path` (maybe changed too).
    Renamed,
    /// Removed: it has no new content.
    Deleted,
}

/// One added line of a changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedLine {
    /// 1-based line number in the new file.
    pub line: u32,
    /// The line's text, without the leading `+` and the line end.
    pub text: String,
}

/// One file of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// The new path (the old one for a deleted file).
    pub path: String,
    /// The path before a rename.
    pub old_path: Option<String>,
    /// How it changed.
    pub change: FileChange,
    /// Whether git showed it as binary (no lines).
    pub binary: bool,
    /// The added lines, in order.
    pub added: Vec<AddedLine>,
}

impl ChangedFile {
    fn new(path: String) -> Self {
        Self {
            path,
            old_path: None,
            change: FileChange::Modified,
            binary: false,
            added: Vec::new(),
        }
    }

    /// Whether the file exists after the change (added, modified or renamed to its path).
    #[must_use]
    pub fn exists_after(&self) -> bool {
        self.change != FileChange::Deleted
    }
}

/// A path of a diff header: quotes removed (with git's common escapes), the `a/` or `b/`
/// prefix dropped; `None` for `/dev/null`.
fn header_path(raw: &str) -> Option<String> {
    let raw = raw.trim_end_matches(['\r', '\t']);
    let raw = raw.split('\t').next().unwrap_or(raw);
    let unquoted = if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
        unescape(&raw[1..raw.len() - 1])
    } else {
        raw.to_owned()
    };
    if unquoted == "/dev/null" {
        return None;
    }
    Some(
        unquoted
            .strip_prefix("a/")
            .or_else(|| unquoted.strip_prefix("b/"))
            .unwrap_or(&unquoted)
            .to_owned(),
    )
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The new-side start and count of a hunk header `@@ -a,b +c,d @@`, and the old-side count.
fn hunk_header(line: &str) -> Option<(u32, u32, u32)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let count = |s: &str| -> Option<(u32, u32)> {
        match s.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((s.parse().ok()?, 1)),
        }
    };
    let (_, old_count) = count(old)?;
    let (start, new_count) = count(new)?;
    Some((start, new_count, old_count))
}

/// The paths of a `diff --git a/x b/y` line when they are unambiguous (no quoting, the same
/// length on both sides, as for anything but a rename).
fn git_header_path(rest: &str) -> Option<String> {
    if let Some(inner) = rest.strip_prefix('"') {
        let end = inner.find('"')? + 1;
        return header_path(&rest[..=end]);
    }
    let half = rest.len().checked_sub(1)? / 2;
    let (a, b) = (rest.get(..half)?, rest.get(half + 1..)?);
    if rest.as_bytes().get(half) == Some(&b' ')
        && a.strip_prefix("a/")
            .is_some_and(|x| Some(x) == b.strip_prefix("b/"))
    {
        return header_path(b);
    }
    rest.rsplit_once(" b/").map(|(_, b)| b.to_owned())
}

/// Reads a unified diff into its changed files, in order. Lenient: what it does not recognise
/// is skipped. Handles new, deleted, renamed and binary files, `\ No newline at end of file`,
/// and added lines that themselves start with `++` or `--` (hunks are read by their counts).
#[must_use]
pub fn parse_diff(text: &str) -> Vec<ChangedFile> {
    let mut files: Vec<ChangedFile> = Vec::new();
    let mut cur: Option<ChangedFile> = None;
    // the next new-file line number, and the new and old lines left in the current hunk
    let (mut next_line, mut new_left, mut old_left) = (0u32, 0u32, 0u32);
    // whether the current file's hunks (or binary note) have begun: a `---` line after that
    // starts the next file of a plain unified diff
    let mut body = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if (new_left > 0 || old_left > 0)
            && let Some(f) = cur.as_mut()
        {
            match line.as_bytes().first() {
                Some(b'+') => {
                    f.added.push(AddedLine {
                        line: next_line,
                        text: line[1..].to_owned(),
                    });
                    next_line += 1;
                    new_left = new_left.saturating_sub(1);
                    continue;
                }
                Some(b'-') => {
                    old_left = old_left.saturating_sub(1);
                    continue;
                }
                Some(b' ') | None => {
                    next_line += 1;
                    new_left = new_left.saturating_sub(1);
                    old_left = old_left.saturating_sub(1);
                    continue;
                }
                Some(b'\\') => continue,
                _ => {
                    // a malformed hunk: leave it and read the line as a header
                    new_left = 0;
                    old_left = 0;
                }
            }
        }
        if line.starts_with('\\') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("diff --git ") {
            files.extend(cur.take());
            cur = Some(ChangedFile::new(git_header_path(rest).unwrap_or_default()));
            body = false;
            continue;
        }
        if let Some(rest) = line.strip_prefix("--- ") {
            // a plain unified diff without a git header starts a file here
            if cur.is_none() || body {
                files.extend(cur.take());
                cur = Some(ChangedFile::new(header_path(rest).unwrap_or_default()));
                body = false;
            }
            if header_path(rest).is_none()
                && let Some(f) = cur.as_mut()
            {
                f.change = FileChange::Added;
            }
            continue;
        }
        let Some(f) = cur.as_mut() else { continue };
        if let Some(rest) = line.strip_prefix("+++ ") {
            match header_path(rest) {
                Some(p) => f.path = p,
                None => f.change = FileChange::Deleted,
            }
        } else if line.starts_with("new file mode") {
            f.change = FileChange::Added;
        } else if line.starts_with("deleted file mode") {
            f.change = FileChange::Deleted;
        } else if let Some(p) = line.strip_prefix("rename from ") {
            f.old_path = Some(unquote(p));
            f.change = FileChange::Renamed;
        } else if let Some(p) = line.strip_prefix("rename to ") {
            f.path = unquote(p);
            f.change = FileChange::Renamed;
        } else if line.starts_with("Binary files ") || line.starts_with("GIT binary patch") {
            f.binary = true;
            body = true;
            if let Some((_, b)) = line
                .strip_prefix("Binary files ")
                .and_then(|r| r.strip_suffix(" differ"))
                .and_then(|r| r.rsplit_once(" and "))
            {
                match header_path(b) {
                    Some(p) => f.path = p,
                    None => f.change = FileChange::Deleted,
                }
            }
        } else if let Some((start, new_count, old_count)) = hunk_header(line) {
            body = true;
            next_line = start.max(1);
            new_left = new_count;
            old_left = old_count;
        }
    }
    files.extend(cur);
    files.retain(|f| !f.path.is_empty());
    files
}

fn unquote(p: &str) -> String {
    if p.len() >= 2 && p.starts_with('"') && p.ends_with('"') {
        unescape(&p[1..p.len() - 1])
    } else {
        p.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_carry_their_new_line_numbers_across_hunks() {
        let d = "diff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1,3 +1,4 @@\n one\n+two\n three\n four\n@@ -10,2 +11,3 @@\n ten\n-old\n+new\n+newer\n";
        let f = parse_diff(d);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path, "src/a.rs");
        assert_eq!(f[0].change, FileChange::Modified);
        let got: Vec<(u32, &str)> = f[0]
            .added
            .iter()
            .map(|l| (l.line, l.text.as_str()))
            .collect();
        assert_eq!(got, vec![(2, "two"), (12, "new"), (13, "newer")]);
    }

    #[test]
    fn new_deleted_renamed_and_binary_files_are_told_apart() {
        let d = "\
diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+hello
+world
\\ No newline at end of file
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/old name.txt b/new name.txt
similarity index 90%
rename from old name.txt
rename to new name.txt
--- a/old name.txt
+++ b/new name.txt
@@ -1 +1 @@
-a
+b
diff --git a/img.png b/img.png
new file mode 100644
Binary files /dev/null and b/img.png differ
";
        let f = parse_diff(d);
        assert_eq!(f.len(), 4, "{f:?}");
        assert_eq!(
            (f[0].path.as_str(), f[0].change),
            ("new.txt", FileChange::Added)
        );
        assert_eq!(f[0].added.len(), 2);
        assert_eq!(f[0].added[1].text, "world");
        assert_eq!(
            (f[1].path.as_str(), f[1].change),
            ("gone.txt", FileChange::Deleted)
        );
        assert!(f[1].added.is_empty());
        assert!(!f[1].exists_after());
        assert_eq!(
            (f[2].path.as_str(), f[2].change),
            ("new name.txt", FileChange::Renamed)
        );
        assert_eq!(f[2].old_path.as_deref(), Some("old name.txt"));
        assert_eq!(f[2].added[0].line, 1);
        assert_eq!(f[3].path, "img.png");
        assert!(f[3].binary);
        assert!(f[3].added.is_empty());
    }

    #[test]
    fn added_lines_that_look_like_headers_stay_lines() {
        let d = "diff --git a/x.md b/x.md\n--- a/x.md\n+++ b/x.md\n@@ -1,1 +1,3 @@\n title\n+++ b/not-a-file\n+--- also a line\n";
        let f = parse_diff(d);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path, "x.md");
        let texts: Vec<&str> = f[0].added.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["++ b/not-a-file", "--- also a line"]);
    }

    #[test]
    fn a_rename_without_content_change_and_crlf_lines_are_read() {
        let d = "diff --git a/a.rs b/b.rs\r\nsimilarity index 100%\r\nrename from a.rs\r\nrename to b.rs\r\ndiff --git a/c.rs b/c.rs\r\n--- a/c.rs\r\n+++ b/c.rs\r\n@@ -1 +1,2 @@\r\n x\r\n+y\r\n";
        let f = parse_diff(d);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].path.as_str(), f[0].change),
            ("b.rs", FileChange::Renamed)
        );
        assert_eq!(f[1].added[0].text, "y");
        assert_eq!(f[1].added[0].line, 2);
    }

    #[test]
    fn a_plain_unified_diff_and_quoted_paths_are_read() {
        let d = "--- a/one.txt\n+++ b/one.txt\n@@ -1 +0,0 @@\n-a\n--- a/two.txt\n+++ b/two.txt\n@@ -1 +1 @@\n-c\n+d\n";
        let f = parse_diff(d);
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].path, "two.txt");
        let q = "diff --git \"a/sp ace\\tx.txt\" \"b/sp ace\\tx.txt\"\n--- \"a/sp ace\\tx.txt\"\n+++ \"b/sp ace\\tx.txt\"\n@@ -0,0 +1 @@\n+z\n";
        let f = parse_diff(q);
        assert_eq!(f[0].path, "sp ace\tx.txt");
        assert!(parse_diff("").is_empty());
    }
}
