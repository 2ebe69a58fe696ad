//! The adapter speaks the Bot API: long polls with offsets, replies, and maps refusals.

use foreman_channel::Channel;
use foreman_domain::remote::RemoteError;
use foreman_fakes::FakeTelegram;
use foreman_fakes::telegram::TelegramFault;

use crate::{TOKEN, channel};

#[tokio::test]
async fn messages_are_received_in_order_and_acknowledged_by_the_offset() {
    let fake = FakeTelegram::start(TOKEN).await;
    let bot = channel(&fake);
    fake.user_says(42, Some("alice"), "first");
    fake.user_says(43, None, "second\nwith a body");
    let inbox = bot.receive(None).await.unwrap();
    assert_eq!(inbox.messages.len(), 2);
    let m = &inbox.messages[0];
    assert_eq!((m.chat_id.as_str(), m.sender_id.as_str()), ("42", "42"));
    assert_eq!(m.sender_username.as_deref(), Some("alice"));
    assert_eq!(m.text, "first");
    assert_eq!(inbox.messages[1].sender_username, None);
    let next = inbox.next_offset.expect("an offset");
    assert_eq!(next, inbox.messages[1].update_id + 1);
    // nothing new: the long poll returns empty, and the offset confirmed both
    let again = bot.receive(Some(next)).await.unwrap();
    assert!(again.messages.is_empty() && again.next_offset.is_none());
    assert_eq!(fake.unconfirmed(), 0);
    assert_eq!(fake.offsets(), vec![None, Some(next)]);
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_message_comes() {
    let fake = std::sync::Arc::new(FakeTelegram::start(TOKEN).await);
    let bot = channel(&fake);
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.receive(None).await }
    });
    // the poll waits (timeout 1 s) until the user writes
    while fake.calls("getUpdates") == 0 {
        tokio::task::yield_now().await;
    }
    fake.user_says(7, Some("bob"), "hello");
    let inbox = poll.await.unwrap().unwrap();
    assert_eq!(inbox.messages.len(), 1);
    assert_eq!(inbox.messages[0].text, "hello");
}

#[tokio::test]
async fn replies_name_the_message_and_are_read_back() {
    let fake = FakeTelegram::start(TOKEN).await;
    let bot = channel(&fake);
    let asked = fake.user_says(42, Some("alice"), "question?");
    let sent = bot
        .send("42", "an answer", Some(&asked.to_string()))
        .await
        .unwrap();
    let out = fake.sent_to(42);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "an answer");
    assert_eq!(out[0].reply_to, Some(asked));
    assert_eq!(sent.message_id, out[0].message_id.to_string());
    fake.user_replies(42, Some("alice"), "thanks", out[0].message_id);
    let inbox = bot.receive(None).await.unwrap();
    let reply = inbox.messages.last().unwrap();
    assert_eq!(
        reply.reply_to_message_id.as_deref(),
        Some(sent.message_id.as_str())
    );
}

#[tokio::test]
async fn a_revoked_token_is_unauthorized_and_never_in_the_error() {
    let fake = FakeTelegram::start(TOKEN).await;
    let bot = channel(&fake);
    fake.revoke_token();
    let e = bot.receive(None).await.unwrap_err();
    assert!(matches!(e, RemoteError::Unauthorized { .. }), "{e:?}");
    let e = bot.send("1", "x", None).await.unwrap_err();
    assert!(matches!(e, RemoteError::Unauthorized { .. }), "{e:?}");
    assert!(!e.to_string().contains("test-token"));
    // a transport failure names no URL either (the token is in it)
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let offline = foreman_channel::TelegramChannel::new(foreman_channel::TelegramSettings {
        name: "telegram".into(),
        token: TOKEN.into(),
        base_url: format!("http://{closed}"),
        poll_timeout: std::time::Duration::from_secs(1),
    })
    .unwrap();
    let e = offline.receive(None).await.unwrap_err();
    assert!(matches!(e, RemoteError::Transport { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("test-token"), "{e}");
}

#[tokio::test]
async fn flood_control_on_send_is_waited_out_then_sent_once() {
    let fake = FakeTelegram::start(TOKEN).await;
    let bot = channel(&fake);
    fake.fail_next(TelegramFault::FloodWait { retry_after: 1 });
    bot.send("42", "after the wait", None).await.unwrap();
    // one refused call, one that went through; the message exists once
    assert_eq!(fake.calls("sendMessage"), 2);
    assert_eq!(fake.sent_to(42).len(), 1);
}

#[tokio::test]
async fn flood_control_on_receive_reports_the_wait() {
    let fake = FakeTelegram::start(TOKEN).await;
    let bot = channel(&fake);
    fake.fail_next(TelegramFault::FloodWait { retry_after: 9 });
    let e = bot.receive(None).await.unwrap_err();
    assert_eq!(
        e,
        RemoteError::RateLimited {
            service: "telegram",
            retry_after: Some(std::time::Duration::from_secs(9))
        }
    );
    fake.fail_next(TelegramFault::ServerError);
    let e = bot.receive(None).await.unwrap_err();
    assert!(
        matches!(e, RemoteError::Status { status: 500, .. }),
        "{e:?}"
    );
}
