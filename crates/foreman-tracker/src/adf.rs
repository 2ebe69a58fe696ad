//! Atlassian Document Format (Jira Cloud REST v3 bodies) to Markdown-like text and back.
//!
//! [`to_text`] renders every node Jira produces that carries text (paragraphs, headings,
//! lists, task lists, code blocks, quotes, panels, tables, mentions, links, cards, emoji);
//! nodes without text (media) become a placeholder. [`from_text`] builds a document from the
//! text Foreman writes: paragraphs, `#` headings, `-`/`*`, `1.` and `- [ ]` lists, fenced code
//! blocks, `>` quotes and `---` rules. For that subset `to_text(from_text(t))` gives `t` back
//! (normalised: trimmed lines, single blank lines between blocks).

use serde_json::{Value, json};

/// Renders an ADF document (or any node) as text.
#[must_use]
pub fn to_text(doc: &Value) -> String {
    if let Some(s) = doc.as_str() {
        return s.to_owned(); // older API versions return plain strings
    }
    let mut out = Vec::new();
    blocks(doc.get("content"), 0, &mut out);
    out.join("\n\n").trim().to_owned()
}

fn children(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn attr<'a>(node: &'a Value, key: &str) -> Option<&'a Value> {
    node.get("attrs").and_then(|a| a.get(key))
}

fn blocks(content: Option<&Value>, depth: usize, out: &mut Vec<String>) {
    for node in children(content) {
        if let Some(b) = block(node, depth) {
            out.push(b);
        }
    }
}

fn block(node: &Value, depth: usize) -> Option<String> {
    let ty = node.get("type").and_then(Value::as_str).unwrap_or_default();
    let content = node.get("content");
    Some(match ty {
        "paragraph" => inline(content),
        "heading" => {
            let level = attr(node, "level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6);
            format!(
                "{} {}",
                "#".repeat(usize::try_from(level).unwrap_or(1)),
                inline(content)
            )
        }
        "bulletList" | "orderedList" | "taskList" => list(node, depth),
        "codeBlock" => {
            let lang = attr(node, "language")
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!("```{lang}\n{}\n```", plain(content))
        }
        "blockquote" => {
            let mut inner = Vec::new();
            blocks(content, depth, &mut inner);
            inner
                .join("\n\n")
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        ">".to_owned()
                    } else {
                        format!("> {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        "rule" => "---".to_owned(),
        "table" => children(content)
            .iter()
            .map(|row| {
                let cells: Vec<String> = children(row.get("content"))
                    .iter()
                    .map(|cell| {
                        let mut inner = Vec::new();
                        blocks(cell.get("content"), depth, &mut inner);
                        inner.join(" ").replace('\n', " ")
                    })
                    .collect();
                format!("| {} |", cells.join(" | "))
            })
            .collect::<Vec<_>>()
            .join("\n"),
        "mediaSingle" | "mediaGroup" | "media" => "[attachment]".to_owned(),
        "text" | "hardBreak" | "mention" | "emoji" | "inlineCard" | "status" | "date" => {
            inline(Some(&json!([node])))
        }
        _ => {
            // panels, expands, layouts and anything newer: keep the text inside
            let mut inner = Vec::new();
            blocks(content, depth, &mut inner);
            if inner.is_empty() {
                return None;
            }
            inner.join("\n\n")
        }
    })
}

fn list(node: &Value, depth: usize) -> String {
    let ty = node.get("type").and_then(Value::as_str).unwrap_or_default();
    let start = attr(node, "order").and_then(Value::as_u64).unwrap_or(1);
    let indent = "  ".repeat(depth);
    let mut lines = Vec::new();
    for (i, item) in children(node.get("content")).iter().enumerate() {
        let marker = match ty {
            "orderedList" => format!("{}.", start + i as u64),
            "taskList" => {
                if attr(item, "state").and_then(Value::as_str) == Some("DONE") {
                    "- [x]".to_owned()
                } else {
                    "- [ ]".to_owned()
                }
            }
            _ => "-".to_owned(),
        };
        let item_type = item.get("type").and_then(Value::as_str).unwrap_or_default();
        let mut first = String::new();
        let mut nested = Vec::new();
        if item_type == "taskItem" {
            first = inline(item.get("content"));
        } else {
            for (j, child) in children(item.get("content")).iter().enumerate() {
                let cty = child
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if matches!(cty, "bulletList" | "orderedList" | "taskList") {
                    nested.push(list(child, depth + 1));
                } else if j == 0 {
                    first = block(child, depth).unwrap_or_default();
                } else if let Some(b) = block(child, depth) {
                    nested.push(format!("{indent}  {b}"));
                }
            }
        }
        lines.push(format!("{indent}{marker} {first}").trim_end().to_owned());
        lines.extend(nested);
    }
    lines.join("\n")
}

fn plain(content: Option<&Value>) -> String {
    children(content)
        .iter()
        .map(|n| n.get("text").and_then(Value::as_str).unwrap_or_default())
        .collect()
}

fn inline(content: Option<&Value>) -> String {
    let mut s = String::new();
    for n in children(content) {
        match n.get("type").and_then(Value::as_str).unwrap_or_default() {
            "text" => {
                let mut t = n
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                for m in children(n.get("marks")) {
                    t = match m.get("type").and_then(Value::as_str).unwrap_or_default() {
                        "code" => format!("`{t}`"),
                        "strong" => format!("**{t}**"),
                        "em" => format!("*{t}*"),
                        "strike" => format!("~~{t}~~"),
                        "link" => match attr(m, "href").and_then(Value::as_str) {
                            Some(href) => format!("[{t}]({href})"),
                            None => t,
                        },
                        _ => t,
                    };
                }
                s.push_str(&t);
            }
            "hardBreak" => s.push('\n'),
            "mention" => s.push_str(
                attr(n, "text")
                    .and_then(Value::as_str)
                    .unwrap_or("@someone"),
            ),
            "emoji" => s.push_str(
                attr(n, "text")
                    .or_else(|| attr(n, "shortName"))
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            "inlineCard" | "blockCard" => {
                s.push_str(attr(n, "url").and_then(Value::as_str).unwrap_or_default())
            }
            "status" => s.push_str(attr(n, "text").and_then(Value::as_str).unwrap_or_default()),
            "date" => s.push_str(
                attr(n, "timestamp")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            _ => s.push_str(&inline(n.get("content"))),
        }
    }
    s
}

/// Builds an ADF document from text (see the module docs for the subset understood).
#[must_use]
pub fn from_text(text: &str) -> Value {
    let lines: Vec<&str> = text.lines().collect();
    let mut content = Vec::new();
    let mut i = 0;
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, content: &mut Vec<Value>| {
        if !para.is_empty() {
            content.push(paragraph(&para.join("\n")));
            para.clear();
        }
    };
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.is_empty() {
            flush(&mut para, &mut content);
            i += 1;
            continue;
        }
        if let Some(lang) = t.strip_prefix("```") {
            flush(&mut para, &mut content);
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && lines[i].trim() != "```" {
                code.push(lines[i]);
                i += 1;
            }
            i += 1; // the closing fence
            let mut node = json!({"type": "codeBlock", "content": [{"type": "text", "text": code.join("\n")}]});
            if code.is_empty() {
                node["content"] = json!([]);
            }
            if !lang.trim().is_empty() {
                node["attrs"] = json!({"language": lang.trim()});
            }
            content.push(node);
            continue;
        }
        let hashes = t.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            flush(&mut para, &mut content);
            content.push(json!({"type": "heading", "attrs": {"level": hashes}, "content": texts(t[hashes..].trim())}));
            i += 1;
            continue;
        }
        if t == "---" {
            flush(&mut para, &mut content);
            content.push(json!({"type": "rule"}));
            i += 1;
            continue;
        }
        if t.starts_with("> ") || t == ">" {
            flush(&mut para, &mut content);
            let mut quoted = Vec::new();
            while i < lines.len() && (lines[i].trim().starts_with("> ") || lines[i].trim() == ">") {
                quoted.push(
                    lines[i]
                        .trim()
                        .trim_start_matches('>')
                        .strip_prefix(' ')
                        .unwrap_or(""),
                );
                i += 1;
            }
            let inner = from_text(&quoted.join("\n"));
            content.push(json!({"type": "blockquote", "content": inner["content"].clone()}));
            continue;
        }
        if let Some(kind) = list_kind(t) {
            flush(&mut para, &mut content);
            let mut items = Vec::new();
            while i < lines.len() && list_kind(lines[i].trim()) == Some(kind) {
                items.push(list_item_text(lines[i].trim(), kind));
                i += 1;
            }
            content.push(list_node(kind, &items));
            continue;
        }
        para.push(t);
        i += 1;
    }
    flush(&mut para, &mut content);
    json!({"type": "doc", "version": 1, "content": content})
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Bullet,
    Ordered,
    Task,
}

fn list_kind(t: &str) -> Option<ListKind> {
    if t.starts_with("- [ ] ") || t.starts_with("- [x] ") || t.starts_with("- [X] ") {
        Some(ListKind::Task)
    } else if t.starts_with("- ") || t.starts_with("* ") {
        Some(ListKind::Bullet)
    } else {
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        (digits > 0 && t[digits..].starts_with(". ")).then_some(ListKind::Ordered)
    }
}

fn list_item_text(t: &str, kind: ListKind) -> (String, bool) {
    match kind {
        ListKind::Task => (t[6..].trim().to_owned(), !t.starts_with("- [ ]")),
        ListKind::Bullet => (t[2..].trim().to_owned(), false),
        ListKind::Ordered => {
            let digits = t.chars().take_while(char::is_ascii_digit).count();
            (t[digits + 2..].trim().to_owned(), false)
        }
    }
}

fn list_node(kind: ListKind, items: &[(String, bool)]) -> Value {
    match kind {
        ListKind::Task => json!({
            "type": "taskList",
            "attrs": {"localId": "foreman-tasks"},
            "content": items.iter().enumerate().map(|(n, (t, done))| json!({
                "type": "taskItem",
                "attrs": {"localId": format!("foreman-task-{n}"), "state": if *done { "DONE" } else { "TODO" }},
                "content": texts(t),
            })).collect::<Vec<_>>(),
        }),
        ListKind::Bullet | ListKind::Ordered => json!({
            "type": if kind == ListKind::Bullet { "bulletList" } else { "orderedList" },
            "content": items.iter().map(|(t, _)| json!({"type": "listItem", "content": [paragraph(t)]})).collect::<Vec<_>>(),
        }),
    }
}

fn texts(t: &str) -> Value {
    if t.is_empty() {
        json!([])
    } else {
        json!([{"type": "text", "text": t}])
    }
}

fn paragraph(t: &str) -> Value {
    let mut content = Vec::new();
    for (n, line) in t.split('\n').enumerate() {
        if n > 0 {
            content.push(json!({"type": "hardBreak"}));
        }
        if !line.is_empty() {
            content.push(json!({"type": "text", "text": line}));
        }
    }
    json!({"type": "paragraph", "content": content})
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn renders_what_jira_sends() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Goal"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Call "},
                {"type": "text", "text": "login()", "marks": [{"type": "code"}]},
                {"type": "text", "text": " as "},
                {"type": "mention", "attrs": {"id": "1", "text": "@Ada"}},
                {"type": "hardBreak"},
                {"type": "text", "text": "docs", "marks": [{"type": "link", "attrs": {"href": "https://x.test"}}]}
            ]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "one"}]},
                    {"type": "bulletList", "content": [{"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "nested"}]}]}]}
                ]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}
            ]},
            {"type": "taskList", "attrs": {"localId": "t"}, "content": [
                {"type": "taskItem", "attrs": {"localId": "a", "state": "DONE"}, "content": [{"type": "text", "text": "done"}]},
                {"type": "taskItem", "attrs": {"localId": "b", "state": "TODO"}, "content": [{"type": "text", "text": "todo"}]}
            ]},
            {"type": "codeBlock", "attrs": {"language": "rust"}, "content": [{"type": "text", "text": "fn main() {}"}]},
            {"type": "panel", "attrs": {"panelType": "info"}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "note"}]}]},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "x"}}]},
            {"type": "rule"}
        ]});
        assert_eq!(
            to_text(&doc),
            "## Goal\n\nCall `login()` as @Ada\n[docs](https://x.test)\n\n- one\n  - nested\n- two\n\n- [x] done\n- [ ] todo\n\n```rust\nfn main() {}\n```\n\nnote\n\n[attachment]\n\n---"
        );
    }

    #[test]
    fn plain_strings_and_empty_docs() {
        assert_eq!(to_text(&json!("legacy text")), "legacy text");
        assert_eq!(
            to_text(&json!({"type": "doc", "version": 1, "content": []})),
            ""
        );
        assert_eq!(to_text(&Value::Null), "");
    }

    #[test]
    fn writes_valid_documents() {
        let doc = from_text(
            "Intro line\nsecond line\n\n## Acceptance criteria\n\n- [ ] works\n- [x] tested\n\n1. first\n2. second\n\n> quoted\n\n```sh\ncargo test\n```\n\n---",
        );
        assert_eq!(doc["type"], "doc");
        assert_eq!(doc["version"], 1);
        let types: Vec<&str> = doc["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "paragraph",
                "heading",
                "taskList",
                "orderedList",
                "blockquote",
                "codeBlock",
                "rule"
            ]
        );
    }

    fn block_strategy() -> impl Strategy<Value = String> {
        let word = "[a-zA-Z][a-zA-Z0-9]{0,8}";
        let words = proptest::collection::vec(word, 1..5).prop_map(|w| w.join(" "));
        prop_oneof![
            words.clone(),
            (1usize..=6, words.clone()).prop_map(|(l, w)| format!("{} {w}", "#".repeat(l))),
            proptest::collection::vec(words.clone(), 1..4).prop_map(|items| items
                .iter()
                .map(|i| format!("- {i}"))
                .collect::<Vec<_>>()
                .join("\n")),
            proptest::collection::vec(words.clone(), 1..4).prop_map(|items| items
                .iter()
                .enumerate()
                .map(|(n, i)| format!("{}. {i}", n + 1))
                .collect::<Vec<_>>()
                .join("\n")),
            proptest::collection::vec((any::<bool>(), words.clone()), 1..4).prop_map(|items| items
                .iter()
                .map(|(d, i)| format!("- [{}] {i}", if *d { "x" } else { " " }))
                .collect::<Vec<_>>()
                .join("\n")),
            words.clone().prop_map(|w| format!("```\n{w}\n```")),
            words.prop_map(|w| format!("> {w}")),
            Just("---".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn text_round_trips_through_adf(blocks in proptest::collection::vec(block_strategy(), 0..8)) {
            let text = blocks.join("\n\n");
            prop_assert_eq!(to_text(&from_text(&text)), text);
        }
    }
}
