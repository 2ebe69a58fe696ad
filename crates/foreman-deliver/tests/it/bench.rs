//! The fan-out benchmark (ignored by default; `cargo nextest run -p foreman-deliver --run-ignored
//! only bench`): 10,000 events to 10 local endpoints on SQLite, deliveries per second, the p99
//! from an event's append to its receipt, and nothing lost when the worker is killed halfway.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use foreman_deliver::Worker;
use foreman_domain::{EventType, NewEvent, Store};
use foreman_store::SqlStore;
use tokio_util::sync::CancellationToken;

use crate::{settings, subscribe};

#[derive(Debug, Default)]
struct Log {
    /// (seq, delivery id, latency in ms)
    got: Vec<(i64, String, i64)>,
}

async fn hook(State(log): State<Arc<Mutex<Log>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = Utc::now();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let created: DateTime<Utc> = v["created_at"].as_str().unwrap().parse().unwrap();
    let id = headers["x-foreman-delivery"].to_str().unwrap().to_owned();
    log.lock().unwrap().got.push((
        v["seq"].as_i64().unwrap(),
        id,
        (now - created).num_milliseconds(),
    ));
    StatusCode::NO_CONTENT
}

async fn endpoint() -> (String, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(log.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}/hook"), log)
}

fn p(sorted: &[i64], q: f64) -> i64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn received(logs: &[Arc<Mutex<Log>>]) -> usize {
    logs.iter().map(|l| l.lock().unwrap().got.len()).sum()
}

fn worker(store: &Arc<dyn Store>) -> Worker {
    let mut s = settings(&["127.0.0.1/32"]);
    s.batch = 50;
    s.concurrency = 16;
    s.poll_interval = Duration::from_millis(20);
    s.sender.timeout = Duration::from_millis(100);
    Worker::new(store.clone(), store.clone(), s).unwrap()
}

async fn wait_for(logs: &[Arc<Mutex<Log>>], n: usize) {
    while received(logs) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
#[ignore = "benchmark"]
async fn bench_fan_out_10k_events_to_10_endpoints() {
    const EVENTS: usize = 10_000;
    const ENDPOINTS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let sql = SqlStore::open_sqlite(&dir.path().join("foreman.db"))
        .await
        .unwrap();
    sql.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(sql);
    let mut logs = Vec::new();
    for _ in 0..ENDPOINTS {
        let (url, log) = endpoint().await;
        subscribe(store.as_ref(), &url, &["*"]).await;
        logs.push(log);
    }

    // 1. latency with healthy endpoints: 2,000 events at about 200 a second, the worker woken
    //    by each append as the server's hub does
    let w = worker(&store);
    let wake = w.waker();
    let stop = CancellationToken::new();
    let run = tokio::spawn(w.run(stop.clone()));
    let steady = 2_000;
    for i in 0..steady {
        store
            .append(NewEvent::new(EventType::DaemonStarted, format!("e{i}")))
            .await
            .unwrap();
        wake.notify_one();
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    wait_for(&logs, steady * ENDPOINTS).await;
    let mut lat: Vec<i64> = logs
        .iter()
        .flat_map(|l| {
            l.lock()
                .unwrap()
                .got
                .iter()
                .map(|g| g.2)
                .collect::<Vec<_>>()
        })
        .collect();
    lat.sort_unstable();
    println!(
        "steady: {} deliveries, latency event->receipt p50 {} ms, p99 {} ms, max {} ms",
        lat.len(),
        p(&lat, 0.5),
        p(&lat, 0.99),
        lat[lat.len() - 1]
    );
    stop.cancel();
    run.await.unwrap();
    for l in &logs {
        l.lock().unwrap().got.clear();
    }

    // 2. throughput: 10,000 events appended at once, the worker killed (aborted, leases held)
    //    halfway and a new one started
    let mut first_seq = None;
    for chunk in 0..(EVENTS / 500) {
        let batch: Vec<NewEvent> = (0..500)
            .map(|i| NewEvent::new(EventType::DaemonPaused, format!("b{chunk}-{i}")))
            .collect();
        let stored = store.append_batch(batch).await.unwrap();
        first_seq.get_or_insert(stored[0].seq);
    }
    let first_seq = first_seq.unwrap();
    let total = EVENTS * ENDPOINTS;
    let started = Instant::now();
    let killed = tokio::spawn(worker(&store).run(CancellationToken::new()));
    wait_for(&logs, total / 2).await;
    killed.abort();
    let _ = killed.await;
    let at_kill = received(&logs);
    let killed_after = started.elapsed();
    let restarted = Instant::now();
    let stop = CancellationToken::new();
    let run = tokio::spawn(worker(&store).run(stop.clone()));
    // the leases of the killed worker's runs expire first (timeout x batch + 5 s)
    loop {
        let complete = logs.iter().all(|l| {
            let seqs: HashSet<i64> = l.lock().unwrap().got.iter().map(|g| g.0).collect();
            seqs.len() == EVENTS
        });
        if complete {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    stop.cancel();
    run.await.unwrap();
    let mut duplicates = 0;
    for l in &logs {
        let got = &l.lock().unwrap().got;
        let mut ids: HashMap<i64, &str> = HashMap::new();
        for (seq, id, _) in got {
            assert!(*seq >= first_seq);
            if let Some(prev) = ids.insert(*seq, id) {
                assert_eq!(prev, id, "a repeat carries the same delivery id");
                duplicates += 1;
            }
        }
        assert_eq!(ids.len(), EVENTS, "none lost");
    }
    let before_kill = at_kill as f64 / killed_after.as_secs_f64();
    println!(
        "burst: {total} deliveries in {:.1} s ({:.0}/s before the kill: {at_kill} in {:.1} s); \
         after the restart {:.1} s to complete (lease expiry included); lost 0; repeats {duplicates} \
         (same delivery id)",
        elapsed.as_secs_f64(),
        before_kill,
        killed_after.as_secs_f64(),
        restarted.elapsed().as_secs_f64(),
    );
}
