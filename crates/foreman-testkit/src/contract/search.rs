//! Search and history cases: ranking by field, highlighted snippets, keyset pages, the bound on
//! the matches ranked, the index following writes (edits, deletes, tasks, plans and summaries),
//! and finished tickets newest first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use foreman_domain::ticket_submission::MAX_BATCH;
use foreman_domain::{
    EventType, NewEvent, NewTask, NewTicket, Page, SearchHit, SearchQuery, Store, Submission,
    Ticket, TicketId, TicketOptions, TicketPatch, TicketStatus,
};
use serde_json::json;

use super::{expect_err, new_ticket};
use crate::memory::SEARCH_CANDIDATES;

async fn ticket(store: &dyn Store, ext: &str, title: &str, description: &str) -> Ticket {
    store
        .create_ticket(NewTicket {
            title: title.to_owned(),
            description: description.to_owned(),
            ..new_ticket(ext)
        })
        .await
        .unwrap()
}

async fn search(store: &dyn Store, q: &str) -> Page<SearchHit> {
    store
        .search_tickets(&SearchQuery {
            text: q.to_owned(),
            ..SearchQuery::default()
        })
        .await
        .unwrap()
}

async fn found(store: &dyn Store, q: &str) -> Vec<TicketId> {
    search(store, q)
        .await
        .items
        .into_iter()
        .map(|h| h.ticket.id)
        .collect()
}

async fn summary(store: &dyn Store, t: &Ticket, kind: EventType, text: &str) {
    store
        .append(
            NewEvent::new(kind, "summary")
                .ticket(&t.id)
                .details(json!({"summary": text})),
        )
        .await
        .unwrap();
}

/// A match in the title ranks above one in the description, which ranks above one in an
/// event's summary; a ticket without the word is not found.
pub async fn ranks_title_above_body_above_summaries(store: Arc<dyn Store>) {
    let s = &*store;
    let in_summary = ticket(s, "R-1", "routine upkeep", "nothing special").await;
    let in_body = ticket(s, "R-2", "cache work", "the zeppelin cache misses").await;
    let in_title = ticket(s, "R-3", "zeppelin launch checklist", "launch steps").await;
    ticket(s, "R-4", "unrelated", "nothing here").await;
    summary(
        s,
        &in_summary,
        EventType::FinalReviewPass,
        "the zeppelin is fine",
    )
    .await;
    let page = search(s, "Zeppelin").await;
    let ids: Vec<_> = page.items.iter().map(|h| h.ticket.id.clone()).collect();
    assert_eq!(ids, [in_title.id, in_body.id, in_summary.id]);
    assert!(
        page.items.windows(2).all(|w| w[0].score > w[1].score),
        "scores fall: {:?}",
        page.items.iter().map(|h| h.score).collect::<Vec<_>>()
    );
    assert!(page.next_cursor.is_none());
    assert_eq!(page.items[0].ticket.title, "zeppelin launch checklist");
}

/// The snippet is a passage of the document with the matched words highlighted.
pub async fn snippets_highlight_the_matches(store: Arc<dyn Store>) {
    let s = &*store;
    ticket(
        s,
        "S-1",
        "billing",
        "Customers report that the invoice total is wrong when a refund is applied twice.",
    )
    .await;
    let page = search(s, "refund invoice").await;
    assert_eq!(page.items.len(), 1);
    let snippet = &page.items[0].snippet;
    let marked: Vec<String> = snippet
        .iter()
        .filter(|p| p.highlighted)
        .map(|p| p.text.to_lowercase())
        .collect();
    assert!(marked.iter().any(|m| m == "refund"), "{snippet:?}");
    assert!(marked.iter().any(|m| m == "invoice"), "{snippet:?}");
    let text: String = snippet.iter().map(|p| p.text.as_str()).collect();
    assert!(text.contains("total is wrong"), "{text}");
    assert!(snippet.iter().any(|p| !p.highlighted), "{snippet:?}");
}

/// Every term must match (the last one as a prefix); punctuation and operators are only
/// separators.
pub async fn every_term_must_match_and_the_last_is_a_prefix(store: Arc<dyn Store>) {
    let s = &*store;
    let both = ticket(s, "T-1", "login bug", "users cannot sign in").await;
    let one = ticket(s, "T-2", "login page", "restyle it").await;
    assert_eq!(found(s, "login bug").await, std::slice::from_ref(&both.id));
    let mut prefix = found(s, "logi").await;
    prefix.sort();
    let mut expected = vec![both.id.clone(), one.id.clone()];
    expected.sort();
    assert_eq!(prefix, expected);
    assert_eq!(
        found(s, "\"bug\" (login*").await,
        std::slice::from_ref(&both.id)
    );
    assert_eq!(found(s, "bug -login").await, std::slice::from_ref(&both.id));
    assert!(found(s, "login nonexistentword").await.is_empty());
    assert_eq!(found(s, "T-2").await, [one.id]);
}

/// Pages of a query hold every match exactly once, best first, however small the page.
pub async fn cursor_pages_through_every_match_once(store: Arc<dyn Store>) {
    let s = &*store;
    let mut all = HashSet::new();
    for i in 0..23 {
        // several ties (same text), several distinct scores
        let description = "walrus ".repeat(1 + i % 4);
        let t = ticket(s, &format!("P-{i}"), &format!("item {i}"), &description).await;
        all.insert(t.id);
    }
    ticket(s, "P-none", "other", "no match").await;
    let mut seen = Vec::new();
    let mut scores = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s
            .search_tickets(&SearchQuery {
                text: "walrus".into(),
                limit: 5,
                cursor: cursor.take(),
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 5);
        for h in page.items {
            seen.push(h.ticket.id);
            scores.push(h.score);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 23);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all);
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

/// A query without words, a malformed cursor and a cursor of another query are refused.
pub async fn bad_queries_and_cursors_are_refused(store: Arc<dyn Store>) {
    let s = &*store;
    for i in 0..3 {
        ticket(s, &format!("B-{i}"), "gopher", "gopher").await;
    }
    for text in ["", "  ", "-- \"\" *"] {
        let e = expect_err(
            s.search_tickets(&SearchQuery {
                text: text.into(),
                ..SearchQuery::default()
            })
            .await,
            "a query without terms refused",
        );
        assert_eq!(e.code(), "invalid", "{text:?}: {e}");
    }
    let first = s
        .search_tickets(&SearchQuery {
            text: "gopher".into(),
            limit: 1,
            cursor: None,
        })
        .await
        .unwrap();
    let cursor = first.next_cursor.expect("more pages");
    for (text, cursor) in [
        ("gopher", "not-a-cursor".to_owned()),
        ("gopher", "00ff".to_owned()),
        ("badger", cursor),
    ] {
        let e = expect_err(
            s.search_tickets(&SearchQuery {
                text: text.into(),
                limit: 1,
                cursor: Some(cursor.clone()),
            })
            .await,
            "a bad cursor refused",
        );
        assert_eq!(e.code(), "invalid", "{cursor}: {e}");
    }
}

/// The index follows the ticket: an edited title is found by its new words only, a deleted
/// ticket is not found.
pub async fn the_index_follows_edits_and_deletes(store: Arc<dyn Store>) {
    let s = &*store;
    let t = ticket(s, "U-1", "alpaca shearing", "wool").await;
    assert_eq!(found(s, "alpaca").await, std::slice::from_ref(&t.id));
    s.update_ticket(
        &t.id,
        TicketPatch {
            title: Some("llama grooming".into()),
            description: Some("fleece".into()),
            ..TicketPatch::default()
        },
        None,
    )
    .await
    .unwrap();
    assert!(found(s, "alpaca").await.is_empty());
    assert!(found(s, "wool").await.is_empty());
    assert_eq!(found(s, "llama").await, std::slice::from_ref(&t.id));
    assert_eq!(found(s, "fleece").await, std::slice::from_ref(&t.id));
    // a status change leaves the document alone
    s.transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, None)
        .await
        .unwrap();
    assert_eq!(found(s, "llama").await, std::slice::from_ref(&t.id));
    assert!(s.delete_ticket(&t.id).await.unwrap());
    assert!(found(s, "llama").await.is_empty());
}

/// Task titles, the plan (the latest one) and event summaries are searchable as soon as they
/// are written.
pub async fn plans_tasks_and_summaries_are_indexed(store: Arc<dyn Store>) {
    let s = &*store;
    let t = ticket(s, "D-1", "plain title", "plain body").await;
    let other = ticket(s, "D-2", "another", "body").await;
    s.create_tasks(
        &t.id,
        vec![
            NewTask {
                sequence: 1,
                title: "flamingo migration".into(),
                ..NewTask::default()
            },
            NewTask {
                sequence: 2,
                title: "ostrich cleanup".into(),
                ..NewTask::default()
            },
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(found(s, "flamingo").await, std::slice::from_ref(&t.id));
    assert_eq!(found(s, "ostrich").await, std::slice::from_ref(&t.id));
    summary(s, &t, EventType::PlanCreated, "split the pelican module").await;
    assert_eq!(found(s, "pelican").await, std::slice::from_ref(&t.id));
    summary(s, &t, EventType::PlanCreated, "rewrite the heron module").await;
    assert!(
        found(s, "pelican").await.is_empty(),
        "a new plan replaces the old"
    );
    assert_eq!(found(s, "heron").await, std::slice::from_ref(&t.id));
    summary(
        s,
        &t,
        EventType::FinalReviewPass,
        "the toucan change is sound",
    )
    .await;
    summary(
        s,
        &t,
        EventType::FinalReviewFail,
        "the puffin test is flaky",
    )
    .await;
    assert_eq!(found(s, "toucan").await, std::slice::from_ref(&t.id));
    assert_eq!(found(s, "puffin").await, std::slice::from_ref(&t.id));
    // an event without a summary, or of no ticket, changes nothing
    s.append(NewEvent::new(EventType::TaskStarted, "kiwi").ticket(&other.id))
        .await
        .unwrap();
    s.append(NewEvent::new(EventType::DaemonStarted, "x").details(json!({"summary": "kiwi"})))
        .await
        .unwrap();
    assert!(found(s, "kiwi").await.is_empty());
}

async fn finish(store: &dyn Store, t: &Ticket, path: &[TicketStatus]) -> Ticket {
    let mut from = TicketStatus::Queued;
    let mut last = t.clone();
    for &to in path {
        last = store
            .transition_ticket(&t.id, from, to, None)
            .await
            .unwrap();
        from = to;
    }
    // distinct finishing times, also on a coarse clock
    tokio::time::sleep(Duration::from_millis(3)).await;
    last
}

/// The history lists finished tickets (terminal, partial, decomposed) most recently finished
/// first, in keyset pages; queued and working tickets are not in it; a bad cursor is refused.
pub async fn history_lists_finished_tickets_newest_first(store: Arc<dyn Store>) {
    use TicketStatus as S;
    let s = &*store;
    let a = ticket(s, "H-1", "a", "").await;
    let b = ticket(s, "H-2", "b", "").await;
    let c = ticket(s, "H-3", "c", "").await;
    let d = ticket(s, "H-4", "d", "").await;
    ticket(s, "H-5", "still queued", "").await;
    let working = ticket(s, "H-6", "working", "").await;
    s.transition_ticket(&working.id, S::Queued, S::Planning, None)
        .await
        .unwrap();
    let to_merged = [
        S::Planning,
        S::PlanValidating,
        S::Implementing,
        S::Reviewing,
        S::PrCreated,
        S::AwaitingMerge,
        S::Merged,
    ];
    finish(s, &b, &[S::Failed]).await;
    finish(s, &a, &to_merged).await;
    finish(s, &d, &[S::Planning, S::Decomposing, S::Decomposed]).await;
    finish(s, &c, &[S::Blocked]).await;
    let first = s.finished_tickets(3, None).await.unwrap();
    let ids: Vec<_> = first.items.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids, [c.id.clone(), d.id.clone(), a.id.clone()]);
    assert_eq!(first.items[2].status, S::Merged);
    let cursor = first.next_cursor.expect("a second page");
    let second = s.finished_tickets(3, Some(&cursor)).await.unwrap();
    let ids: Vec<_> = second.items.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&b.id));
    assert!(second.next_cursor.is_none());
    let e = expect_err(
        s.finished_tickets(3, Some("zz")).await,
        "a bad cursor refused",
    );
    assert_eq!(e.code(), "invalid");
}

/// Creates `descriptions.len()` tickets through batches of the submission port (in order,
/// oldest first), titled `title` with the description given; returns them in that order.
async fn submit_many(
    store: &dyn Store,
    prefix: &str,
    title: &str,
    descriptions: &[String],
) -> Vec<Ticket> {
    let mut created = Vec::with_capacity(descriptions.len());
    for (chunk_no, chunk) in descriptions.chunks(MAX_BATCH).enumerate() {
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, description)| Submission {
                ticket: NewTicket {
                    title: title.to_owned(),
                    description: description.clone(),
                    ..new_ticket(&format!("{prefix}-{}", chunk_no * MAX_BATCH + i))
                },
                options: TicketOptions::default(),
            })
            .collect();
        created.extend(store.submit_tickets(items).await.unwrap());
    }
    created
}

/// Every hit of `q`, page after page of `limit`.
async fn every_page(store: &dyn Store, q: &str, limit: u32) -> Vec<SearchHit> {
    let mut hits = Vec::new();
    let mut cursor = None;
    for _ in 0..1_000 {
        let page = store
            .search_tickets(&SearchQuery {
                text: q.to_owned(),
                limit,
                cursor: cursor.take(),
            })
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        hits.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return hits,
        }
    }
    panic!("paging does not end");
}

/// With more matches than a search ranks ([`SEARCH_CANDIDATES`]), the newest of them are
/// ranked: the pages hold each of those once, best first, each with a snippet of its own
/// text; older matches are left out even when they would rank first; a new match enters the
/// candidates at once.
pub async fn only_the_newest_matches_are_ranked(store: Arc<dyn Store>) {
    let s = &*store;
    let older: Vec<String> = (0..5).map(|i| format!("old{i} notes")).collect();
    // the word in the title: these would rank above every newer match
    let older = submit_many(s, "OLD", "quokka report", &older).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let newer: Vec<String> = (0..SEARCH_CANDIDATES)
        .map(|i| format!("tag{i} {} filler text", "quokka ".repeat(1 + i % 3)))
        .collect();
    let newer = submit_many(s, "NEW", "routine item", &newer).await;
    let tag_of: HashMap<TicketId, String> = newer
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), format!("tag{i}")))
        .collect();

    let hits = every_page(s, "Quokka", 100).await;
    assert_eq!(hits.len(), SEARCH_CANDIDATES, "every candidate, once");
    let ids: HashSet<TicketId> = hits.iter().map(|h| h.ticket.id.clone()).collect();
    assert_eq!(ids.len(), hits.len(), "no ticket twice");
    assert!(
        older.iter().all(|t| !ids.contains(&t.id)),
        "matches older than the candidates are left out"
    );
    assert!(ids.iter().all(|id| tag_of.contains_key(id)));
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "best first across pages"
    );
    assert!(
        hits.first().unwrap().score > hits.last().unwrap().score,
        "the ranking is not flat"
    );
    for h in &hits {
        let text: String = h.snippet.iter().map(|p| p.text.as_str()).collect();
        let tag = &tag_of[&h.ticket.id];
        assert!(
            text.split(|c: char| !c.is_alphanumeric())
                .any(|w| w == tag.as_str()),
            "{tag}: {text:?}"
        );
        assert!(
            h.snippet
                .iter()
                .any(|p| p.highlighted && p.text.eq_ignore_ascii_case("quokka")),
            "{:?}",
            h.snippet
        );
    }
    // smaller pages cut the same ranking at other places
    let small = every_page(s, "quokka", 7).await;
    assert_eq!(small.len(), SEARCH_CANDIDATES);
    assert_eq!(
        small
            .iter()
            .map(|h| h.ticket.id.clone())
            .collect::<HashSet<_>>(),
        ids
    );

    let newest = ticket(
        s,
        "NEWEST",
        "quokka quokka sighting",
        "quokka quokka quokka",
    )
    .await;
    let first = search(s, "quokka").await;
    assert_eq!(first.items[0].ticket.id, newest.id, "a new match is ranked");
    assert_eq!(every_page(s, "quokka", 100).await.len(), SEARCH_CANDIDATES);
}
