//! `TicketSearch` in memory: a ranked substring search over the same search document the SQL
//! store indexes (external id and title, description and acceptance criteria, the plan, task
//! titles and event summaries), and the history of finished tickets.
//!
//! Every term must occur, case-insensitively, somewhere in the document; the score weighs
//! occurrences by field like the SQL stores' ranking does (title far above summaries). It does
//! not stem: `tests` does not find `test` here, as it does on SQLite and PostgreSQL. Like the
//! SQL stores, it ranks only the newest [`SEARCH_CANDIDATES`] matches (by creation).

use async_trait::async_trait;
use foreman_domain::search::{
    FINISHED, HistoryCursor, SearchCursor, SnippetPart, finished_at, history_limit,
};
use foreman_domain::{
    EventType, Page, SearchHit, SearchQuery, StoreResult, Ticket, TicketId, TicketSearch,
};

use super::{MemoryStore, SEARCH_CANDIDATES, State};

/// Field weights, like the SQL stores' (`bm25` weights on SQLite, A–D on PostgreSQL).
const WEIGHTS: [f64; 6] = [10.0, 10.0, 4.0, 3.0, 3.0, 1.0];
/// Characters of context before the first match in a snippet.
const BEFORE: usize = 40;
/// Characters a snippet shows at most.
const SNIPPET_CHARS: usize = 160;

/// The search document of `ticket`: external id, title, body, plan, tasks, summaries.
fn document(s: &State, ticket: &Ticket) -> [String; 6] {
    let mut tasks: Vec<_> = s
        .tasks
        .values()
        .filter(|t| t.ticket_id == ticket.id)
        .collect();
    tasks.sort_by_key(|t| t.sequence);
    let mut plan = String::new();
    let mut summaries = Vec::new();
    for e in s
        .events
        .iter()
        .filter(|e| e.ticket_id.as_ref() == Some(&ticket.id))
    {
        let Some(summary) = e
            .details
            .as_ref()
            .and_then(|d| d.get("summary"))
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        if e.event_type == EventType::PlanCreated {
            summary.clone_into(&mut plan);
        } else {
            summaries.push(summary.to_owned());
        }
    }
    [
        ticket.external_id.clone(),
        ticket.title.clone(),
        format!("{}\n{}", ticket.description, ticket.acceptance_criteria),
        plan,
        tasks
            .iter()
            .map(|t| t.title.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        summaries.join("\n"),
    ]
}

/// Each character lowercased one to one (a character whose lowercase form is longer keeps its
/// first character), so positions in the lowercase text are positions in the original.
fn lower_chars(text: &str) -> Vec<char> {
    text.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Start positions of `term` in `hay`.
fn occurrences(hay: &[char], term: &[char]) -> Vec<usize> {
    if term.is_empty() || term.len() > hay.len() {
        return Vec::new();
    }
    (0..=hay.len() - term.len())
        .filter(|&i| hay[i..i + term.len()] == *term)
        .collect()
}

/// The score of a document for `terms`, or `None` when a term occurs nowhere.
fn score(doc: &[String; 6], terms: &[Vec<char>]) -> Option<(f64, usize)> {
    let lowered: Vec<Vec<char>> = doc.iter().map(|f| lower_chars(f)).collect();
    let mut total = 0.0;
    let mut per_field = [0.0_f64; 6];
    for term in terms {
        let mut found = false;
        for (i, field) in lowered.iter().enumerate() {
            let n = occurrences(field, term).len().min(3);
            if n > 0 {
                found = true;
                let add = WEIGHTS[i] * n as f64;
                per_field[i] += add;
                total += add;
            }
        }
        if !found {
            return None;
        }
    }
    let best = (0..6)
        .max_by(|&a, &b| per_field[a].total_cmp(&per_field[b]).then(b.cmp(&a)))
        .unwrap_or(1);
    Some((total, best))
}

/// A window of `text` around its first match, every match in it highlighted.
fn snippet(text: &str, terms: &[Vec<char>]) -> Vec<SnippetPart> {
    let chars: Vec<char> = text.chars().collect();
    let lowered = lower_chars(text);
    let mut marked = vec![false; chars.len()];
    let mut first = None;
    for term in terms {
        for at in occurrences(&lowered, term) {
            first = Some(first.map_or(at, |f: usize| f.min(at)));
            marked[at..at + term.len()].fill(true);
        }
    }
    let first = first.unwrap_or(0);
    let start = first.saturating_sub(BEFORE);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut parts: Vec<SnippetPart> = Vec::new();
    let mut push = |c: char, highlighted: bool| match parts.last_mut() {
        Some(p) if p.highlighted == highlighted => p.text.push(c),
        _ => parts.push(SnippetPart {
            text: c.to_string(),
            highlighted,
        }),
    };
    if start > 0 {
        push('…', false);
    }
    for i in start..end {
        push(chars[i], marked[i]);
    }
    if end < chars.len() {
        push('…', false);
    }
    parts
}

#[async_trait]
impl TicketSearch for MemoryStore {
    async fn search_tickets(&self, query: &SearchQuery) -> StoreResult<Page<SearchHit>> {
        let terms = query.terms()?;
        let after = query.position(&terms)?;
        let limit = query.effective_limit() as usize;
        let term_chars: Vec<Vec<char>> = terms.iter().map(|t| t.chars().collect()).collect();
        let s = self.lock();
        let mut matches: Vec<(&Ticket, [String; 6], f64, usize)> = Vec::new();
        for ticket in s.tickets.values() {
            let doc = document(&s, ticket);
            if let Some((score, best)) = score(&doc, &term_chars) {
                matches.push((ticket, doc, score, best));
            }
        }
        // the candidates: the newest matches
        matches.sort_by(|a, b| (b.0.created_at, &b.0.id).cmp(&(a.0.created_at, &a.0.id)));
        matches.truncate(SEARCH_CANDIDATES);
        let mut hits: Vec<(f64, TicketId, Vec<SnippetPart>)> = Vec::new();
        for (ticket, doc, score, best) in matches {
            if after
                .as_ref()
                .is_some_and(|c| !c.precedes(score, &ticket.id))
            {
                continue;
            }
            hits.push((score, ticket.id.clone(), snippet(&doc[best], &term_chars)));
        }
        hits.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next_cursor = match (more, hits.last()) {
            (true, Some((score, id, _))) => Some(
                SearchCursor {
                    score: *score,
                    id: id.clone(),
                }
                .encode(&terms),
            ),
            _ => None,
        };
        let items = hits
            .into_iter()
            .filter_map(|(score, id, snippet)| {
                Some(SearchHit {
                    ticket: s.tickets.get(&id)?.clone(),
                    score,
                    snippet,
                })
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    async fn finished_tickets(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Ticket>> {
        let after = cursor.map(HistoryCursor::decode).transpose()?;
        let limit = history_limit(limit) as usize;
        let s = self.lock();
        let mut items: Vec<Ticket> = s
            .tickets
            .values()
            .filter(|t| FINISHED.contains(&t.status))
            .filter(|t| after.as_ref().is_none_or(|c| c.precedes(t)))
            .cloned()
            .collect();
        items.sort_by(|a, b| {
            finished_at(b)
                .cmp(&finished_at(a))
                .then_with(|| b.id.cmp(&a.id))
        });
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(|t| HistoryCursor::after(t).encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_highlights_every_match_in_its_window() {
        let terms = vec!["log".chars().collect::<Vec<_>>()];
        let parts = snippet("The Login page logs out", &terms);
        let text: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(text, "The Login page logs out");
        let marked: Vec<&str> = parts
            .iter()
            .filter(|p| p.highlighted)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(marked, ["Log", "log"]);
        let long = format!("{} needle {}", "x ".repeat(100), "y ".repeat(100));
        let parts = snippet(&long, &["needle".chars().collect()]);
        assert!(parts.first().unwrap().text.starts_with('…'));
        assert!(parts.last().unwrap().text.ends_with('…'));
    }
}
