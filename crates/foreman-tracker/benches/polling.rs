//! Polling cost per cycle with 1,000 open ready issues, against the fake GitHub.
//!
//! Run with `cargo bench -p foreman-tracker --bench polling`; prints a Markdown table for
//! `docs/benchmarks.md`.

#![allow(clippy::print_stdout, reason = "a benchmark reports to the terminal")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use foreman_domain::tracker::IntakeSource;
use foreman_fakes::FakeGitHub;
use foreman_pipeline::intake::Intake;
use foreman_rest::github::{GitHubClient, GitHubConfig};
use foreman_testkit::MemoryStore;
use foreman_tracker::{GitHubTracker, StatusLabels};

const ISSUES: usize = 1_000;
const CYCLES: usize = 20;

fn tracker(fake: &FakeGitHub) -> Arc<GitHubTracker> {
    let cfg = GitHubConfig {
        api_url: fake.url().to_owned(),
        owner: fake.owner.clone(),
        repo: fake.repo.clone(),
        token: fake.token.clone(),
    };
    Arc::new(GitHubTracker::new(
        GitHubClient::new(&cfg).unwrap(),
        "",
        StatusLabels::default(),
    ))
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = FakeGitHub::start("acme", "widgets", "ghp_bench").await;
        for i in 0..ISSUES {
            let body = format!("Issue {i}.\n\n## Acceptance criteria\n- [ ] item {i}\n");
            fake.add_issue(&format!("issue {i}"), Some(&body), &["foreman-ready", "P2"], "bench");
        }
        let store = Arc::new(MemoryStore::new());
        let tracker = tracker(&fake);
        let intake = Intake::new("bench", tracker.clone(), store.clone(), store.clone());

        fake.control.clear_requests();
        let t = Instant::now();
        let first = intake.take_in(IntakeSource::Poll).await.unwrap();
        let first_time = t.elapsed();
        let first_requests = fake.control.requests().len();
        assert_eq!(first.created.len(), ISSUES);

        // unchanged: every page answered 304 from the ETag cache, nothing created
        let mut warm = Vec::new();
        fake.control.clear_requests();
        for _ in 0..CYCLES {
            let t = Instant::now();
            let r = intake.take_in(IntakeSource::Poll).await.unwrap();
            warm.push(t.elapsed());
            assert!(r.created.is_empty());
        }
        let warm_requests = fake.control.requests().len() / CYCLES;

        // no cache (a fresh process): full pages every time, tickets already known
        let mut cold = Vec::new();
        for _ in 0..CYCLES {
            let intake = Intake::new("bench", tracker_for_cold(&fake), store.clone(), store.clone());
            let t = Instant::now();
            intake.take_in(IntakeSource::Poll).await.unwrap();
            cold.push(t.elapsed());
        }

        println!("| case | requests per cycle | median | p90 |");
        println!("|---|---|---|---|");
        println!("| first cycle, {ISSUES} new tickets created | {first_requests} | {} | (one run) |", ms(first_time));
        println!("| unchanged, ETag cache warm ({CYCLES} cycles) | {warm_requests} (all 304) | {} | {} |", ms(pct(&warm, 50)), ms(pct(&warm, 90)));
        println!("| unchanged, no cache ({CYCLES} cycles) | {first_requests} | {} | {} |", ms(pct(&cold, 50)), ms(pct(&cold, 90)));
    });
}

fn tracker_for_cold(fake: &FakeGitHub) -> Arc<GitHubTracker> {
    tracker(fake)
}

fn pct(v: &[Duration], p: usize) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[(s.len() - 1) * p / 100]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
