//! Exact-match editing with a whitespace-tolerant fallback.

/// Why an edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// `old_string` is empty.
    #[error("old_string is empty; use write_file to create a file")]
    EmptyOld,
    /// `old_string` equals `new_string`.
    #[error("old_string and new_string are identical; nothing to change")]
    NoChange,
    /// Not found, not even ignoring whitespace.
    #[error("old_string was not found in the file{hint}")]
    NotFound {
        /// Where something similar is, if anywhere.
        hint: String,
    },
    /// Found more than once and `replace_all` was not set.
    #[error(
        "old_string matches {count} times (at lines {lines}); include more surrounding lines to make it unique, or set replace_all"
    )]
    Ambiguous {
        /// How many matches.
        count: usize,
        /// Their first lines, comma-separated.
        lines: String,
    },
}

impl EditError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::EmptyOld => "edit_empty_old",
            Self::NoChange => "edit_no_change",
            Self::NotFound { .. } => "edit_not_found",
            Self::Ambiguous { .. } => "edit_ambiguous",
        }
    }
}

/// How an edit was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditMatch {
    /// Exactly, this many times.
    Exact(usize),
    /// Ignoring whitespace differences, at this 1-based line.
    Tolerant(usize),
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte].bytes().filter(|b| *b == b'\n').count() + 1
}

fn normalise(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Replaces `old` by `new` in `text`.
///
/// An exact match must be unique unless `replace_all`. With no exact match, lines are
/// compared with whitespace runs collapsed and ends trimmed; a unique match there is replaced
/// by `new`, re-indented from `old`'s indentation to the file's.
///
/// # Errors
/// [`EditError`] explaining what did not match.
pub fn apply_edit(
    text: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(String, EditMatch), EditError> {
    if old.is_empty() {
        return Err(EditError::EmptyOld);
    }
    if old == new {
        return Err(EditError::NoChange);
    }
    let positions: Vec<usize> = text.match_indices(old).map(|(i, _)| i).collect();
    match positions.len() {
        1 => return Ok((text.replacen(old, new, 1), EditMatch::Exact(1))),
        n if n > 1 && replace_all => return Ok((text.replace(old, new), EditMatch::Exact(n))),
        n if n > 1 => {
            let mut lines: Vec<String> = positions
                .iter()
                .take(10)
                .map(|p| line_of(text, *p).to_string())
                .collect();
            if n > 10 {
                lines.push("...".into());
            }
            return Err(EditError::Ambiguous {
                count: n,
                lines: lines.join(", "),
            });
        }
        _ => {}
    }
    tolerant(text, old, new)
}

fn tolerant(text: &str, old: &str, new: &str) -> Result<(String, EditMatch), EditError> {
    let old_lines: Vec<&str> = old.lines().collect();
    let start = old_lines.iter().position(|l| !l.trim().is_empty());
    let end = old_lines.iter().rposition(|l| !l.trim().is_empty());
    let (Some(start), Some(end)) = (start, end) else {
        return Err(EditError::NotFound {
            hint: String::new(),
        });
    };
    let old_lines = &old_lines[start..=end];
    let wanted: Vec<String> = old_lines.iter().map(|l| normalise(l)).collect();
    let file_lines: Vec<&str> = text.split_inclusive('\n').collect();
    let normal: Vec<String> = file_lines.iter().map(|l| normalise(l)).collect();
    let mut found = Vec::new();
    if wanted.len() <= normal.len() {
        for i in 0..=normal.len() - wanted.len() {
            if normal[i..i + wanted.len()] == wanted[..] {
                found.push(i);
            }
        }
    }
    match found.len() {
        0 => {
            let hint = normal
                .iter()
                .position(|l| *l == wanted[0])
                .map(|i| {
                    format!(
                        " (its first line appears at line {}, but the following lines differ; read the file again)",
                        i + 1
                    )
                })
                .unwrap_or_else(|| " (read the file again to get its current text)".into());
            Err(EditError::NotFound { hint })
        }
        1 => {
            let i = found[0];
            let window = &file_lines[i..i + wanted.len()];
            let mut replacement = String::new();
            let new_lines: Vec<&str> = new.lines().collect();
            for (k, l) in new_lines.iter().enumerate() {
                // Map each line's indentation from `old` to the file, line by line.
                let j = k.min(old_lines.len() - 1);
                let file_indent = indent_of(window[j]);
                let old_indent = indent_of(old_lines[j]);
                if let Some(rest) = l.strip_prefix(old_indent) {
                    replacement.push_str(file_indent);
                    replacement.push_str(rest);
                } else {
                    replacement.push_str(l);
                }
                if k + 1 < new_lines.len() {
                    replacement.push('\n');
                }
            }
            let last = window[window.len() - 1];
            if last.ends_with('\n') && !new_lines.is_empty() {
                replacement.push('\n');
            }
            let mut out = String::with_capacity(text.len() + new.len());
            for l in &file_lines[..i] {
                out.push_str(l);
            }
            out.push_str(&replacement);
            for l in &file_lines[i + wanted.len()..] {
                out.push_str(l);
            }
            Ok((out, EditMatch::Tolerant(i + 1)))
        }
        n => Err(EditError::Ambiguous {
            count: n,
            lines: found
                .iter()
                .take(10)
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn exact_unique() {
        let (out, m) = apply_edit("a\nb\nc\n", "b", "B", false).unwrap();
        assert_eq!(out, "a\nB\nc\n");
        assert_eq!(m, EditMatch::Exact(1));
    }

    #[test]
    fn ambiguous_names_lines() {
        let e = apply_edit("x\ny\nx\n", "x", "z", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "old_string matches 2 times (at lines 1, 3); include more surrounding lines to make it unique, or set replace_all"
        );
        let (out, m) = apply_edit("x\ny\nx\n", "x", "z", true).unwrap();
        assert_eq!(out, "z\ny\nz\n");
        assert_eq!(m, EditMatch::Exact(2));
    }

    #[test]
    fn whitespace_tolerant_reindents() {
        let text = "fn f() {\n        let a = 1;\n        let b  = 2;\n}\n";
        let old = "    let a = 1;\n    let b = 2;";
        let new = "    let a = 10;\n    let b = 20;";
        let (out, m) = apply_edit(text, old, new, false).unwrap();
        assert_eq!(
            out,
            "fn f() {\n        let a = 10;\n        let b = 20;\n}\n"
        );
        assert_eq!(m, EditMatch::Tolerant(2));
    }

    #[test]
    fn not_found_gives_a_hint() {
        let e = apply_edit("one\ntwo\n", "one\nthree", "x", false).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert_eq!(e.code(), "edit_not_found");
        assert_eq!(
            apply_edit("a", "", "b", false).unwrap_err(),
            EditError::EmptyOld
        );
        assert_eq!(
            apply_edit("a", "a", "a", false).unwrap_err(),
            EditError::NoChange
        );
    }

    proptest! {
        #[test]
        fn unique_exact_edit_round_trips(prefix in "[a-z\n ]{0,40}", suffix in "[a-z\n ]{0,40}") {
            let marker = "<<MARK>>";
            let text = format!("{prefix}{marker}{suffix}");
            let (out, _) = apply_edit(&text, marker, "##NEW##", false).unwrap();
            prop_assert_eq!(out.clone(), format!("{prefix}##NEW##{suffix}"));
            let (back, _) = apply_edit(&out, "##NEW##", marker, false).unwrap();
            prop_assert_eq!(back, text);
        }
    }
}
