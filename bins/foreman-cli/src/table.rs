//! Aligned plain tables for people, laid out by `comfy-table`: no borders, two spaces between
//! columns, widths measured in terminal cells (a CJK character or an emoji is two), long cells
//! cut to one line with `…`. Colours (ANSI escapes) take no room: the table is laid out on the
//! plain text and the colours are put back afterwards.

use comfy_table::{ColumnConstraint, ContentArrangement, Row, Table, Width, presets};

/// The widest a column is shown, in terminal cells, with the two spaces after it.
const MAX_CELL: u16 = 60;

/// `s` without its ANSI escape sequences (`ESC [ … letter`).
pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: `[`, parameters, then one final letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders `rows` under `headers`; `(none)` under the headers when there are no rows.
pub(crate) fn render(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    let empty = rows.is_empty();
    let plain: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| strip_ansi(c)).collect())
        .collect();
    for cells in &plain {
        let mut row = Row::from(cells.clone());
        row.max_height(1);
        table.add_row(row);
    }
    let last = headers.len().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { 2 }));
        column.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(MAX_CELL)));
    }
    let mut out = recolour(&table.trim_fmt(), &rows, &plain);
    if empty {
        out.push_str("\n(none)");
    }
    out
}

/// Puts the colours back: in each row's line (the header is the first line, a row one line),
/// each coloured cell's plain text, found left to right, is replaced by the coloured text. A
/// cell cut with `…` stays plain.
fn recolour(table: &str, rows: &[Vec<String>], plain: &[Vec<String>]) -> String {
    if rows.iter().flatten().all(|c| !c.contains('\x1b')) {
        return table.to_owned();
    }
    let mut lines: Vec<String> = table.lines().map(str::to_owned).collect();
    for (i, (row, plain_row)) in rows.iter().zip(plain).enumerate() {
        let Some(line) = lines.get_mut(i + 1) else {
            break;
        };
        let mut at = 0;
        for (cell, text) in row.iter().zip(plain_row) {
            if text.is_empty() {
                continue;
            }
            let Some(pos) = line[at..].find(text.as_str()) else {
                continue;
            };
            let start = at + pos;
            line.replace_range(start..start + text.len(), cell);
            at = start + cell.len();
        }
    }
    lines.join("\n")
}

/// Prints [`render`].
pub(crate) fn print(headers: &[&str], rows: Vec<Vec<String>>) {
    println!("{}", render(headers, rows));
}

/// `key: value` lines with the keys right-aligned.
pub(crate) fn render_pairs(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:>width$}: {v}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints [`render_pairs`].
pub(crate) fn print_pairs(pairs: &[(&str, String)]) {
    println!("{}", render_pairs(pairs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_cells_and_columns_stay_aligned() {
        let out = render(
            &["ID", "TITLE", "COST"],
            vec![
                vec!["a".into(), "修复登录".into(), "$1.00".into()],
                vec!["bb".into(), "fix login".into(), "$2.00".into()],
                vec!["c".into(), "🚀 ship".into(), "$3.00".into()],
            ],
        );
        assert_eq!(
            out,
            "ID  TITLE      COST\n\
             a   修复登录   $1.00\n\
             bb  fix login  $2.00\n\
             c   🚀 ship    $3.00"
        );
    }

    #[test]
    fn long_cells_are_cut_to_one_line_and_empty_tables_say_so() {
        let long = "x".repeat(100);
        let out = render(&["A", "B"], vec![vec![long, "b".into()]]);
        let line = out.lines().nth(1).unwrap();
        assert!(
            line.starts_with(&format!("{}…  b", "x".repeat(57))),
            "{out}"
        );
        assert_eq!(out.lines().count(), 2, "{out}");
        assert_eq!(render(&["A", "B"], vec![]), "A  B\n(none)");
    }

    #[test]
    fn colours_take_no_room() {
        let red = |s: &str| format!("\x1b[31m{s}\x1b[0m");
        let rows = vec![
            vec!["a".into(), red("failed"), "修复".into(), "x".into()],
            vec![
                "bb".into(),
                "queued".into(),
                format!("fix {}", red("login")),
                "y".into(),
            ],
        ];
        let out = render(&["ID", "STATUS", "TITLE", "Z"], rows);
        assert_eq!(
            strip_ansi(&out),
            "ID  STATUS  TITLE      Z\n\
             a   failed  修复       x\n\
             bb  queued  fix login  y"
        );
        assert_eq!(
            out.lines().nth(1).unwrap(),
            "a   \x1b[31mfailed\x1b[0m  修复       x"
        );
        assert_eq!(
            out.lines().nth(2).unwrap(),
            "bb  queued  fix \x1b[31mlogin\x1b[0m  y"
        );
        assert_eq!(strip_ansi("\x1b[2mdim\x1b[0m plain"), "dim plain");
    }

    #[test]
    fn pairs_align_on_the_colon() {
        assert_eq!(
            render_pairs(&[
                ("id", "1".into()),
                ("status", "queued".into()),
                ("pr", String::new())
            ]),
            "    id: 1\nstatus: queued\n    pr:"
        );
    }
}
