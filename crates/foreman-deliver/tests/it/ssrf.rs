//! The SSRF guard at delivery time: each attack first shown to work without the defence (the
//! address allowed, or a client that follows redirects), then refused with it.

use std::sync::Arc;
use std::time::Duration;

use foreman_deliver::Sender;
use foreman_domain::Store;
use foreman_domain::subscription::{DeliveryPage, DeliveryStatus};
use foreman_domain::{EventType, NewEvent};

use crate::receiver::Receiver;
use crate::{on_every_store, settings, subscribe, worker};

/// Delivers one event to `url` with `allow` and returns the delivery's status and error.
async fn deliver(
    store: &Arc<dyn Store>,
    url: &str,
    allow: &[&str],
) -> (DeliveryStatus, Option<String>) {
    let sub = subscribe(store.as_ref(), url, &["daemon_started"]).await;
    store
        .append(NewEvent::new(EventType::DaemonStarted, "go"))
        .await
        .unwrap();
    let mut s = settings(allow);
    s.retry.disable_after = 1;
    s.sender.connect_timeout = Duration::from_millis(300);
    s.sender.timeout = Duration::from_secs(2);
    worker(store, s).tick().await.unwrap();
    let d = store
        .list_deliveries(&sub.id, DeliveryPage::default())
        .await
        .unwrap();
    store.delete_subscription(&sub.id).await.unwrap();
    (d[0].status, d[0].error.clone())
}

fn refused(r: &(DeliveryStatus, Option<String>), kind: &str) -> bool {
    r.0 != DeliveryStatus::Delivered
        && r.1
            .as_deref()
            .is_some_and(|e| e.starts_with("refused to connect") && e.contains(kind))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loopback_is_refused_unless_allowed() {
    on_every_store(async |store: Arc<dyn Store>| {
        let rx = Receiver::start().await;
        let port = rx.addr.port();
        // control: allowed, it arrives
        let ok = deliver(&store, &rx.url(), &["127.0.0.1"]).await;
        assert_eq!(ok.0, DeliveryStatus::Delivered, "{ok:?}");
        assert_eq!(rx.got().len(), 1);
        rx.clear();
        // by address, by name (resolved, then checked) and IPv4-mapped IPv6
        for url in [
            rx.url(),
            format!("http://localhost:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        ] {
            let r = deliver(&store, &url, &[]).await;
            assert!(refused(&r, "loopback"), "{url}: {r:?}");
        }
        assert!(rx.got().is_empty(), "nothing reached the receiver");
        // control for the name and the mapped address: allowed, they arrive
        for url in [
            format!("http://localhost:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        ] {
            let r = deliver(&store, &url, &["127.0.0.0/8", "::1"]).await;
            assert_eq!(r.0, DeliveryStatus::Delivered, "{url}: {r:?}");
        }
        assert_eq!(rx.got().len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipv6_loopback_is_refused_unless_allowed() {
    let Ok(probe) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("skipped: no IPv6 loopback");
        return;
    };
    drop(probe);
    on_every_store(async |store: Arc<dyn Store>| {
        let rx = Receiver::start_on("[::1]:0").await;
        let url = format!("http://[::1]:{}/hook", rx.addr.port());
        let ok = deliver(&store, &url, &["::1"]).await;
        assert_eq!(ok.0, DeliveryStatus::Delivered, "{ok:?}");
        rx.clear();
        let r = deliver(&store, &url, &[]).await;
        assert!(refused(&r, "loopback"), "{r:?}");
        assert!(rx.got().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_and_metadata_addresses_are_refused_before_connecting() {
    on_every_store(async |store: Arc<dyn Store>| {
        for (url, net, kind) in [
            ("http://10.255.255.1:9/hook", "10.0.0.0/8", "private"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
                "link-local",
            ),
            (
                "http://[::ffff:169.254.169.254]/latest/",
                "169.254.0.0/16",
                "link-local",
            ),
            ("http://100.64.0.1:9/hook", "100.64.0.0/10", "CGNAT"),
        ] {
            let r = deliver(&store, url, &[]).await;
            assert!(refused(&r, kind), "{url}: {r:?}");
            // control: allowed, a connection is attempted (nothing listens there)
            let r = deliver(&store, url, &[net]).await;
            assert!(
                r.1.as_deref()
                    .is_some_and(|e| !e.starts_with("refused to connect")),
                "{url} allowed: {r:?}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redirect_from_an_allowed_server_is_not_followed() {
    // the target: loopback, not allowed (only 127.0.0.1 is)
    let inner = Receiver::start_on("127.0.0.2:0").await;
    let to = format!("http://127.0.0.2:{}/hook", inner.addr.port());
    let outer = Receiver::redirecting(to).await;
    let url = format!("http://{outer}/hook");
    // control: a client that follows redirects reaches the internal receiver (the sender
    // installs the TLS crypto provider reqwest needs)
    drop(Sender::new(settings(&[]).sender).unwrap());
    let follows = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = follows.post(&url).body("{}").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(inner.got().len(), 1);
    inner.clear();
    on_every_store(async |store: Arc<dyn Store>| {
        let r = deliver(&store, &url, &["127.0.0.1"]).await;
        assert_eq!(r.0, DeliveryStatus::Failed);
        assert_eq!(
            r.1.as_deref(),
            Some("status 307: redirects are not followed")
        );
        assert!(inner.got().is_empty(), "the redirect was not followed");
    })
    .await;
}
