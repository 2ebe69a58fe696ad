//! The commit gate's half: secrets in the lines a unified diff adds.

use std::sync::LazyLock;

use crate::scanner::SecretScanner;

/// A secret on an added line of a diff: where it is and which rule found it, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffFinding {
    /// The file's path in the new tree (`b/` stripped).
    pub path: String,
    /// The 1-based line number in the new version of the file.
    pub line: usize,
    /// The rule that found it.
    pub rule_id: String,
}

static DEFAULT: LazyLock<SecretScanner> = LazyLock::new(SecretScanner::default_rules);

/// [`SecretScanner::scan_diff`] with the default rules.
#[must_use]
pub fn scan_diff(diff: &str) -> Vec<DiffFinding> {
    DEFAULT.scan_diff(diff)
}

/// [`SecretScanner::redact`] with the default rules (compiled once), for text that is stored
/// or shown rather than sent to a model — command output kept in events and errors.
#[must_use]
pub fn redact_default(text: &str) -> std::borrow::Cow<'_, str> {
    DEFAULT.redact(text).0
}

/// The added lines of one file, joined, with the new-file line number of each.
#[derive(Debug, Default)]
struct Added {
    path: String,
    text: String,
    /// `(offset in text, line number)` of each added line, in order.
    lines: Vec<(usize, usize)>,
}

impl Added {
    fn line_at(&self, offset: usize) -> usize {
        let i = self.lines.partition_point(|&(o, _)| o <= offset);
        self.lines[i.saturating_sub(1)].1
    }
}

/// `+c,d` of a hunk header: the first new line and the new line count.
fn hunk_header(line: &str) -> Option<(usize, usize, usize)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(' ')?;
    let new = rest.strip_prefix('+')?.split(' ').next()?;
    let count = |s: &str| -> Option<(usize, usize)> {
        match s.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((s.parse().ok()?, 1)),
        }
    };
    let (_, old_count) = count(old)?;
    let (new_start, new_count) = count(new)?;
    Some((new_start, old_count, new_count))
}

fn new_path(line: &str) -> Option<String> {
    let p = line.strip_prefix("+++ ")?.trim_end_matches(['\r', '\t']);
    let p = p.trim_matches('"');
    if p == "/dev/null" {
        return None;
    }
    Some(p.strip_prefix("b/").unwrap_or(p).to_owned())
}

impl SecretScanner {
    /// Every secret on a line `diff` (unified format, as `git diff` prints it) adds, with the
    /// file and new line number. Removed and context lines are not scanned; a secret spanning
    /// consecutive added lines (a private key block) is found at its first line. Ordered by
    /// file, then line.
    #[must_use]
    pub fn scan_diff(&self, diff: &str) -> Vec<DiffFinding> {
        let mut files: Vec<Added> = Vec::new();
        let mut current: Option<Added> = None;
        let (mut old_left, mut new_left, mut next_line) = (0usize, 0usize, 0usize);
        for raw in diff.split('\n') {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if old_left > 0 || new_left > 0 {
                match line.as_bytes().first() {
                    Some(b'+') => {
                        if let Some(a) = current.as_mut() {
                            a.lines.push((a.text.len(), next_line));
                            a.text.push_str(&line[1..]);
                            a.text.push('\n');
                        }
                        new_left = new_left.saturating_sub(1);
                        next_line += 1;
                    }
                    Some(b'-') => old_left = old_left.saturating_sub(1),
                    Some(b'\\') => {}
                    _ => {
                        // context (a blank line is context whose leading space was trimmed)
                        old_left = old_left.saturating_sub(1);
                        new_left = new_left.saturating_sub(1);
                        next_line += 1;
                    }
                }
                continue;
            }
            if let Some((start, old, new)) = hunk_header(line) {
                (old_left, new_left, next_line) = (old, new, start);
            } else if line.starts_with("diff ") {
                files.extend(current.take());
            } else if line.starts_with("+++ ") {
                files.extend(current.take());
                current = new_path(line).map(|path| Added {
                    path,
                    ..Added::default()
                });
            }
        }
        files.extend(current);
        let mut out = Vec::new();
        for f in files.iter().filter(|f| !f.lines.is_empty()) {
            for finding in self.scan(&f.text) {
                out.push(DiffFinding {
                    path: f.path.clone(),
                    line: f.line_at(finding.start),
                    rule_id: finding.rule_id,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers() {
        assert_eq!(hunk_header("@@ -1,3 +4,5 @@ fn x()"), Some((4, 3, 5)));
        assert_eq!(hunk_header("@@ -0,0 +1 @@"), Some((1, 0, 1)));
        assert_eq!(hunk_header("@@ -7 +7,0 @@"), Some((7, 1, 0)));
        assert_eq!(hunk_header("@@@ -1 -1 +1 @@@"), None);
    }
}
