//! The pipeline's conversation loop over the Telegram adapter, the fake Bot API and the memory
//! store: pairing, tickets, clarifications answered in the chat, news sent back, health.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Minutes;
use foreman_domain::audit::AuditFilter;
use foreman_domain::channel::{issue_pairing, paired_senders};
use foreman_domain::{EventFilter, EventType, NewEvent, Store, TicketFilter, TicketStatus};
use foreman_fakes::FakeTelegram;
use foreman_fakes::telegram::TelegramFault;
use foreman_pipeline::chat::{ChatLoop, ChatSettings};
use foreman_testkit::MemoryStore;
use tokio_util::sync::CancellationToken;

use crate::{TOKEN, channel, on_every_store};

struct Chat {
    fake: FakeTelegram,
    store: Arc<dyn Store>,
    chat: ChatLoop,
}

async fn chat(allowed: &[&str]) -> Chat {
    chat_on(MemoryStore::new().shared(), allowed).await
}

/// The loop over `store`.
async fn chat_on(store: Arc<dyn Store>, allowed: &[&str]) -> Chat {
    let fake = FakeTelegram::start(TOKEN).await;
    let chat = ChatLoop::new(
        channel(&fake),
        store.clone(),
        store.clone(),
        ChatSettings {
            allowed_senders: allowed.iter().map(|s| (*s).to_owned()).collect(),
            ..ChatSettings::default()
        },
    );
    // news starts at the log's end, as on a first start
    chat.relay_events().await.unwrap();
    Chat { fake, store, chat }
}

impl Chat {
    /// One poll that finds what the users wrote.
    async fn poll(&self) -> usize {
        self.chat.poll_once().await.expect("a poll")
    }

    fn last_to(&self, chat: i64) -> String {
        self.fake
            .sent_to(chat)
            .last()
            .map(|m| m.text.clone())
            .unwrap_or_default()
    }

    async fn tickets(&self) -> Vec<foreman_domain::Ticket> {
        self.store
            .list_tickets(&TicketFilter::default())
            .await
            .unwrap()
            .items
    }
}

#[tokio::test]
async fn an_unknown_sender_is_refused_and_told_how_to_pair() {
    let c = chat(&["alice"]).await;
    c.fake
        .user_says(66, Some("mallory"), "delete the production database");
    assert_eq!(c.poll().await, 1);
    let told = c.last_to(66);
    assert!(told.contains("/pair <code>"), "{told}");
    assert!(told.contains("foreman channels pair telegram"), "{told}");
    assert!(c.tickets().await.is_empty());
    // control: the same message from an allowed sender opens a ticket
    c.fake
        .user_says(1, Some("Alice"), "delete the production database");
    c.poll().await;
    assert_eq!(c.tickets().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_code_pairs_once_and_expired_or_reused_codes_are_refused() {
    on_every_store(async |store: Arc<dyn Store>| {
        let c = chat_on(store, &[]).await;
        let now = foreman_domain::now();
        let code = issue_pairing(c.store.as_ref(), "telegram", "admin", now)
            .await
            .unwrap();
        let old = issue_pairing(
            c.store.as_ref(),
            "telegram",
            "admin",
            now - Minutes::minutes(11),
        )
        .await
        .unwrap();

        // expired
        c.fake
            .user_says(5, Some("bob"), &format!("/pair {}", old.code));
        c.poll().await;
        assert!(c.last_to(5).contains("expired"), "{}", c.last_to(5));
        // wrong
        c.fake.user_says(5, Some("bob"), "/pair ZZZZZZZZ");
        c.poll().await;
        assert!(c.last_to(5).contains("not valid"), "{}", c.last_to(5));
        c.fake.user_says(5, Some("bob"), "a ticket before pairing");
        c.poll().await;
        assert!(c.tickets().await.is_empty());

        // valid, typed in lower case with a dash
        let typed = format!("{}-{}", &code.code[..4], &code.code[4..]).to_lowercase();
        c.fake.user_says(5, Some("bob"), &format!("/pair {typed}"));
        c.poll().await;
        assert!(c.last_to(5).starts_with("Paired"), "{}", c.last_to(5));
        let paired = paired_senders(c.store.as_ref(), "telegram").await.unwrap();
        assert_eq!(paired.len(), 1);
        assert_eq!(paired[0].sender_id, "5");
        // one audit entry: the pairing that worked (the refused codes changed nothing)
        let pairings: Vec<_> = c
            .store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.actor, e.resource))
            .collect();
        assert_eq!(
            pairings,
            vec![(
                "channel.pair".to_owned(),
                Some("telegram:bob".to_owned()),
                Some("channel/telegram".to_owned())
            )]
        );

        // reused by someone else
        c.fake
            .user_says(6, Some("eve"), &format!("/pair {}", code.code));
        c.poll().await;
        assert!(c.last_to(6).contains("used already"), "{}", c.last_to(6));
        assert_eq!(
            paired_senders(c.store.as_ref(), "telegram")
                .await
                .unwrap()
                .len(),
            1
        );

        // the paired sender is heard
        c.fake.user_says(5, Some("bob"), "now a ticket");
        c.poll().await;
        let tickets = c.tickets().await;
        assert_eq!(tickets.len(), 1);
        assert_eq!(tickets[0].submitter.as_deref(), Some("telegram:bob"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_message_becomes_a_queued_ticket_once_and_is_confirmed() {
    on_every_store(async |store: Arc<dyn Store>| {
        let c = chat_on(store, &["@alice", "77"]).await;
        let asked = c.fake.user_says(
            1,
            Some("alice"),
            "Add a dark mode\nThe dashboard hurts at night.",
        );
        c.poll().await;
        let tickets = c.tickets().await;
        assert_eq!(tickets.len(), 1);
        let t = &tickets[0];
        assert_eq!(t.status, TicketStatus::Queued);
        assert_eq!(t.title, "Add a dark mode");
        assert_eq!(t.description, "The dashboard hurts at night.");
        assert_eq!(t.submitter.as_deref(), Some("telegram:alice"));
        let confirm = c.fake.sent_to(1);
        assert_eq!(confirm.len(), 1);
        assert!(
            confirm[0].text.contains(t.id.as_str()),
            "{}",
            confirm[0].text
        );
        assert_eq!(confirm[0].reply_to, Some(asked));
        let created = c
            .store
            .list_events(&EventFilter {
                types: vec![EventType::TicketCreated],
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(created.len(), 1);
        assert_eq!(
            created[0].details.as_ref().unwrap()["submitter"],
            "telegram:alice"
        );

        // a sender without a handle, allowed by id
        c.fake
            .user_says(77, None, "/new Fix the typo\nin the README");
        c.poll().await;
        let by_id = by_id_ticket(&c, "telegram:77").await;
        assert_eq!(by_id.title, "Fix the typo");

        assert_eq!(c.tickets().await.len(), 2);

        // /status and /cancel act on the sender's own tickets only
        c.fake.user_says(1, Some("alice"), "/status");
        c.poll().await;
        assert!(c.last_to(1).contains("Add a dark mode"), "{}", c.last_to(1));
        assert!(!c.last_to(1).contains("Fix the typo"), "{}", c.last_to(1));
        let other = by_id_ticket(&c, "telegram:77").await;
        c.fake
            .user_says(1, Some("alice"), &format!("/cancel {}", other.id));
        c.poll().await;
        assert!(c.last_to(1).contains("no ticket"), "{}", c.last_to(1));
        c.fake
            .user_says(1, Some("alice"), &format!("/cancel {}", t.id));
        c.poll().await;
        assert!(c.last_to(1).contains("cancelled"), "{}", c.last_to(1));
        let after = c.store.get_ticket(&t.id).await.unwrap().unwrap();
        assert_eq!(after.status, TicketStatus::Failed);

        // what the chat changed is in the audit trail, newest first, with its sender; the
        // refused cancel and the status queries changed nothing and left no entry
        let trail: Vec<(String, Option<String>, Option<String>, String)> = c
            .store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.actor, e.resource, e.via))
            .collect();
        let entry = |action: &str, actor: &str, ticket: &foreman_domain::TicketId| {
            (
                action.to_owned(),
                Some(actor.to_owned()),
                Some(format!("ticket/{ticket}")),
                "channel".to_owned(),
            )
        };
        assert_eq!(
            trail,
            vec![
                entry("ticket.cancel", "telegram:alice", &t.id),
                entry("ticket.create", "telegram:77", &by_id.id),
                entry("ticket.create", "telegram:alice", &t.id),
            ]
        );
    })
    .await;
}

async fn by_id_ticket(c: &Chat, submitter: &str) -> foreman_domain::Ticket {
    c.store
        .list_tickets(&TicketFilter {
            submitter: Some(submitter.into()),
            ..TicketFilter::default()
        })
        .await
        .unwrap()
        .items
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_opens_no_second_ticket() {
    on_every_store(async |store: Arc<dyn Store>| {
        let c = chat_on(store, &["alice"]).await;
        c.fake.user_says(1, Some("alice"), "only once");
        c.poll().await;
        assert_eq!(c.tickets().await.len(), 1);
        // the acknowledgement is lost (the offset was not stored): Telegram delivers it again
        c.store
            .put_setting("channel:telegram:offset", "0")
            .await
            .unwrap();
        assert_eq!(c.poll().await, 1);
        assert_eq!(c.tickets().await.len(), 1);
        let confirmations = c.fake.sent_to(1);
        assert_eq!(confirmations.len(), 2);
        assert_eq!(confirmations[0].text, confirmations[1].text);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_reaches_the_chat_and_the_reply_requeues_the_ticket_with_the_answer() {
    on_every_store(async |store: Arc<dyn Store>| {
        let c = chat_on(store, &["alice"]).await;
        c.fake
            .user_says(1, Some("alice"), "Export the report\nas a file");
        c.poll().await;
        let t = c.tickets().await.remove(0);
        // the clarifier asks (as `engine/clarify.rs` does: status, then the event)
        let t = c
            .store
            .transition_ticket(
                &t.id,
                TicketStatus::Queued,
                TicketStatus::ClarificationNeeded,
                None,
            )
            .await
            .unwrap();
        c.store
            .append(
                NewEvent::new(
                    EventType::ClarificationRequested,
                    "questions posted to the tracker",
                )
                .ticket(&t.id)
                .details(serde_json::json!({"questions": ["CSV or JSON?", "Which columns?"]})),
            )
            .await
            .unwrap();
        assert_eq!(c.chat.relay_events().await.unwrap(), 1);
        let question = c.fake.sent_to(1).last().cloned().unwrap();
        assert!(
            question.text.contains("- CSV or JSON?"),
            "{}",
            question.text
        );
        assert!(
            question.text.contains("- Which columns?"),
            "{}",
            question.text
        );
        // sent once: a second pass has nothing new
        assert_eq!(c.chat.relay_events().await.unwrap(), 0);

        c.fake
            .user_replies(1, Some("alice"), "CSV, all columns", question.message_id);
        c.poll().await;
        let after = c.store.get_ticket(&t.id).await.unwrap().unwrap();
        assert_eq!(after.status, TicketStatus::Queued);
        assert!(
            after
                .description
                .contains("## Answers to the clarification"),
            "{}",
            after.description
        );
        assert!(
            after.description.contains("CSV, all columns"),
            "{}",
            after.description
        );
        assert!(after.labels.iter().any(|l| l == "foreman-clarified"));
        assert!(c.last_to(1).contains("queued again"), "{}", c.last_to(1));
        let received = c
            .store
            .list_events(&EventFilter {
                types: vec![EventType::ClarificationReceived],
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(received.len(), 1);
        // a reply once the ticket moved on is not an answer
        c.fake
            .user_replies(1, Some("alice"), "more answers", question.message_id);
        c.poll().await;
        assert!(
            c.last_to(1).contains("not waiting for answers"),
            "{}",
            c.last_to(1)
        );
        let same = c.store.get_ticket(&t.id).await.unwrap().unwrap();
        assert_eq!(same.description, after.description);
        // the answer is in the audit trail once (the late reply changed nothing)
        let answers = c
            .store
            .list_audit(&AuditFilter {
                action: Some("ticket.answer".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].actor.as_deref(), Some("telegram:alice"));
        assert_eq!(answers[0].via, "channel");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_changes_and_pull_requests_are_sent_back_and_the_rest_is_not() {
    on_every_store(async |store: Arc<dyn Store>| {
        let c = chat_on(store, &["alice"]).await;
        c.fake.user_says(1, Some("alice"), "Ship it");
        c.poll().await;
        let t = c.tickets().await.remove(0);
        let before = c.fake.sent_to(1).len();
        let status = |from: &str, to: &str| {
            NewEvent::new(EventType::TicketStatusChanged, format!("{from} → {to}"))
                .ticket(&t.id)
                .details(serde_json::json!({"from": from, "to": to}))
        };
        for e in [
            status("queued", "planning"),
            NewEvent::new(EventType::AgentTurn, "turn 1").ticket(&t.id),
            status("planning", "implementing"),
            NewEvent::new(EventType::PrCreated, "pull request #4 opened")
                .ticket(&t.id)
                .details(serde_json::json!({"url": "https://example.invalid/pr/4"})),
            status("awaiting_merge", "merged"),
            // another ticket's news goes nowhere
            NewEvent::new(EventType::PrCreated, "pull request #5 opened")
                .ticket(&foreman_domain::TicketId::new()),
        ] {
            c.store.append(e).await.unwrap();
        }
        assert_eq!(c.chat.relay_events().await.unwrap(), 2);
        let news: Vec<String> = c.fake.sent_to(1)[before..]
            .iter()
            .map(|m| m.text.clone())
            .collect();
        assert_eq!(news.len(), 2, "{news:?}");
        assert!(news[0].contains("https://example.invalid/pr/4"), "{news:?}");
        assert!(news[1].contains("merged"), "{news:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_that_cannot_be_sent_is_sent_later() {
    on_every_store(async |store: Arc<dyn Store>| {
        let c = chat_on(store, &["alice"]).await;
        c.fake.user_says(1, Some("alice"), "Ship it");
        c.poll().await;
        let t = c.tickets().await.remove(0);
        c.store
            .append(
                NewEvent::new(EventType::TicketStatusChanged, "reviewing → failed")
                    .ticket(&t.id)
                    .details(serde_json::json!({"from": "reviewing", "to": "failed"})),
            )
            .await
            .unwrap();
        c.fake.fail_next(TelegramFault::ServerError);
        assert_eq!(c.chat.relay_events().await.unwrap(), 0);
        assert_eq!(c.chat.relay_events().await.unwrap(), 1);
        assert!(c.last_to(1).contains("failed"), "{}", c.last_to(1));
    })
    .await;
}

#[tokio::test]
async fn a_chat_that_blocked_the_bot_does_not_hold_up_the_news_of_others() {
    let c = chat(&["alice", "bob"]).await;
    c.fake.user_says(1, Some("alice"), "Alice's ticket");
    c.fake.user_says(2, Some("bob"), "Bob's ticket");
    c.poll().await;
    let tickets = c.tickets().await;
    assert_eq!(tickets.len(), 2);
    for t in &tickets {
        c.store
            .append(
                NewEvent::new(EventType::TicketStatusChanged, "awaiting_merge → merged")
                    .ticket(&t.id)
                    .details(serde_json::json!({"from": "awaiting_merge", "to": "merged"})),
            )
            .await
            .unwrap();
    }
    // the first chat's news is refused for good (403); the second's still goes out
    c.fake.fail_next(TelegramFault::Blocked);
    assert_eq!(c.chat.relay_events().await.unwrap(), 1);
    let merged: usize = [1, 2]
        .iter()
        .map(|chat| {
            c.fake
                .sent_to(*chat)
                .iter()
                .filter(|m| m.text.contains("merged"))
                .count()
        })
        .sum();
    assert_eq!(merged, 1);
    assert_eq!(c.chat.relay_events().await.unwrap(), 0);
}

#[tokio::test]
async fn a_revoked_token_marks_the_channel_unhealthy() {
    let c = chat(&["alice"]).await;
    c.fake.user_says(1, Some("alice"), "hi");
    c.poll().await;
    let h = c.chat.health();
    assert!(h.snapshot().connected);
    assert!(h.snapshot().last_poll_at.is_some());
    c.fake.revoke_token();
    assert!(c.chat.poll_once().await.is_err());
    let s = h.snapshot();
    assert!(!s.connected);
    assert!(
        s.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("credentials"),
        "{s:?}"
    );
    assert!(!format!("{s:?}").contains("test-token"));
}

#[tokio::test]
async fn the_running_loop_waits_out_flood_control_and_stops_on_cancel() {
    let c = chat(&["alice"]).await;
    let Chat { fake, store, chat } = c;
    fake.fail_next(TelegramFault::FloodWait { retry_after: 1 });
    fake.user_says(1, Some("alice"), "during the flood");
    let stop = CancellationToken::new();
    let run = tokio::spawn(chat.run(stop.clone()));
    for _ in 0..600 {
        if fake.sent_to(1).len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.sent_to(1).len(), 1, "the message was answered");
    // the refused poll, the one after the wait, perhaps the next long poll: no burst of
    // retries (the wait itself is `chat::wait_after`'s, tested in the pipeline)
    let polls = fake.calls("getUpdates");
    assert!((2..=3).contains(&polls), "{polls} polls");
    assert_eq!(
        store
            .list_tickets(&TicketFilter::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    stop.cancel();
    run.await.unwrap();
}
