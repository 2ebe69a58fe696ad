//! One contract suite for every `GitHost`: GitHub (against the fake) and `local` (a real bare
//! remote plus the in-memory settings store), and one for merging through the host. Then what
//! only GitHub has: checks, rate limits, revoked tokens, malformed answers, merge answers, the
//! GraphQL draft mutations.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::TicketId;
use foreman_domain::git::{
    ChecksStatus, GitHost, GitRepo, HostError, Lease, MergeMethod, NewPullRequest, PrState,
    WorktreeSpec,
};
use foreman_fakes::{FakeGitHub, FakeGitLab, Fault};
use foreman_git::github::{GitHubClient, GitHubConfig};
use foreman_git::gitlab::{GitLabClient, GitLabConfig};
use foreman_git::{GitHubHost, GitLabHost, GitRepository, LocalHost};
use foreman_rest::{Auth, HttpConfig, RemoteError};
use foreman_testkit::MemoryStore;

use crate::support::{Fixture, git};

/// What the contract needs besides the port: making a head branch exist, and acting as a person
/// at the host (merging, closing).
trait Harness {
    fn host(&self) -> Arc<dyn GitHost>;
    async fn push_branch(&self, head: &str);
    async fn merge(&self, number: i64, head: &str);
    async fn close(&self, number: i64);
}

struct GitHub {
    fake: FakeGitHub,
    host: Arc<GitHubHost>,
}

impl GitHub {
    async fn start() -> Self {
        let fake = FakeGitHub::start("acme", "widgets", "ghp_test").await;
        let host = Arc::new(GitHubHost::new(client(&fake, Duration::from_secs(2))));
        Self { fake, host }
    }
}

fn client(fake: &FakeGitHub, max_wait: Duration) -> GitHubClient {
    let cfg = GitHubConfig {
        api_url: fake.url().to_owned(),
        owner: fake.owner.clone(),
        repo: fake.repo.clone(),
        token: fake.token.clone(),
    };
    let mut http = HttpConfig::new("github", fake.url(), Auth::Bearer(fake.token.clone()));
    http.max_retry_wait = max_wait;
    http.max_retries = 2;
    GitHubClient::with_http(http, &cfg).unwrap()
}

impl Harness for GitHub {
    fn host(&self) -> Arc<dyn GitHost> {
        self.host.clone()
    }
    async fn push_branch(&self, _head: &str) {}
    async fn merge(&self, number: i64, _head: &str) {
        self.fake.merge_pull(number);
    }
    async fn close(&self, number: i64) {
        self.fake.close_pull(number);
    }
}

struct Local {
    fixture: Fixture,
    repo: Arc<GitRepository>,
    host: Arc<LocalHost>,
}

impl Local {
    /// Every read looks at the remote (the contract checks what the host sees right after a
    /// change).
    async fn start() -> Self {
        Self::with_view_ttl(Duration::ZERO).await
    }

    async fn with_view_ttl(ttl: Duration) -> Self {
        let fixture = Fixture::new();
        let repo = Arc::new(fixture.repo().await);
        let host =
            Arc::new(LocalHost::new(Arc::new(MemoryStore::new()), repo.clone()).with_view_ttl(ttl));
        Self {
            fixture,
            repo,
            host,
        }
    }
}

impl Harness for Local {
    fn host(&self) -> Arc<dyn GitHost> {
        self.host.clone()
    }
    async fn push_branch(&self, head: &str) {
        let wt = self
            .repo
            .add_worktree(&WorktreeSpec {
                ticket_id: TicketId::new(),
                name: "ticket".into(),
                branch: head.into(),
                start_point: "origin/main".into(),
            })
            .await
            .unwrap();
        std::fs::write(
            wt.path.join(format!("{}.txt", head.replace('/', "_"))),
            "change\n",
        )
        .unwrap();
        self.repo.commit_all(&wt, "change").await.unwrap();
        self.repo.push(head, &Lease::Tracking).await.unwrap();
    }
    async fn merge(&self, _number: i64, head: &str) {
        let seed = &self.fixture.seed;
        git(seed, &["fetch", "--quiet", "origin"]);
        git(seed, &["checkout", "--quiet", "main"]);
        git(seed, &["pull", "--quiet", "--no-rebase", "origin", "main"]);
        git(
            seed,
            &[
                "merge",
                "--quiet",
                "--no-ff",
                "-m",
                "merge",
                &format!("origin/{head}"),
            ],
        );
        git(seed, &["push", "--quiet", "origin", "main"]);
    }
    async fn close(&self, number: i64) {
        self.host.close_pr(number).await.unwrap();
    }
}

fn request(head: &str) -> NewPullRequest {
    NewPullRequest {
        title: format!("Implement {head}"),
        body: "Closes the ticket.\n\n- [x] tests".into(),
        head: head.into(),
        base: "main".into(),
        draft: false,
        labels: vec!["foreman".into()],
        reviewers: vec!["octocat".into()],
    }
}

async fn contract<H: Harness>(h: &H) {
    let host = h.host();
    host.check().await.expect("check passes");

    // create, and create again: the same pull request (crash-safe idempotency)
    h.push_branch("foreman/A-1-one").await;
    let pr = host.create_pr(&request("foreman/A-1-one")).await.unwrap();
    assert_eq!(pr.state, PrState::Open);
    assert_eq!(
        (pr.head.as_str(), pr.base.as_str()),
        ("foreman/A-1-one", "main")
    );
    assert_eq!(pr.title, "Implement foreman/A-1-one");
    assert!(!pr.head_sha.is_empty());
    assert!(!pr.url.is_empty());
    let again = host.create_pr(&request("foreman/A-1-one")).await.unwrap();
    assert_eq!(again.number, pr.number);

    // lookups
    assert_eq!(
        host.find_pr("foreman/A-1-one")
            .await
            .unwrap()
            .map(|p| p.number),
        Some(pr.number)
    );
    assert!(host.find_pr("foreman/none").await.unwrap().is_none());
    assert_eq!(host.get_pr(pr.number).await.unwrap().number, pr.number);
    let missing = host.get_pr(9999).await.unwrap_err();
    assert!(
        matches!(missing, HostError::Remote(RemoteError::NotFound { .. })),
        "{missing:?}"
    );

    // a draft is reported as one
    h.push_branch("foreman/A-2-two").await;
    let mut draft = request("foreman/A-2-two");
    draft.draft = true;
    let draft = host.create_pr(&draft).await.unwrap();
    assert!(draft.draft);
    assert_ne!(draft.number, pr.number);

    // comments
    host.comment_pr(pr.number, "All tasks done.").await.unwrap();
    assert!(matches!(
        host.comment_pr(pr.number, " ").await,
        Err(HostError::Invalid(_))
    ));
    assert!(matches!(
        host.comment_pr(9999, "x").await,
        Err(HostError::Remote(RemoteError::NotFound { .. }))
    ));

    // merged and closed are seen
    h.merge(pr.number, "foreman/A-1-one").await;
    assert_eq!(host.get_pr(pr.number).await.unwrap().state, PrState::Merged);
    h.close(draft.number).await;
    assert_eq!(
        host.get_pr(draft.number).await.unwrap().state,
        PrState::Closed
    );
    assert_eq!(
        host.find_pr("foreman/A-2-two")
            .await
            .unwrap()
            .unwrap()
            .state,
        PrState::Closed
    );

    // a partial draft made ready in place: new title and body, no longer a draft
    h.push_branch("foreman/A-4-partial").await;
    let mut partial = request("foreman/A-4-partial");
    partial.title = "[PARTIAL] Implement A-4".into();
    partial.draft = true;
    let partial = host.create_pr(&partial).await.unwrap();
    assert!(partial.draft);
    let ready = host
        .update_pr(partial.number, "Implement A-4", "All tasks done.", false)
        .await
        .unwrap();
    assert_eq!(ready.number, partial.number);
    assert_eq!(ready.state, PrState::Open);
    assert!(!ready.draft);
    assert_eq!(ready.title, "Implement A-4");
    let read = host.get_pr(partial.number).await.unwrap();
    assert_eq!((read.title.as_str(), read.draft), ("Implement A-4", false));
    // and back to a draft (GitLab spells it as a title prefix)
    let again = host
        .update_pr(partial.number, "Implement A-4", "Half done.", true)
        .await
        .unwrap();
    assert!(again.draft);
    assert!(again.title.ends_with("Implement A-4"), "{}", again.title);
    assert!(host.get_pr(partial.number).await.unwrap().draft);
    host.update_pr(partial.number, "Implement A-4", "All tasks done.", false)
        .await
        .unwrap();
    // merged and closed ones are refused and left alone
    for (number, title) in [
        (pr.number, "Implement foreman/A-1-one"),
        (draft.number, "Implement foreman/A-2-two"),
    ] {
        let err = host
            .update_pr(number, "Changed", "x", false)
            .await
            .unwrap_err();
        assert!(
            matches!(err, HostError::Remote(RemoteError::Conflict { .. })),
            "{err:?}"
        );
        assert!(host.get_pr(number).await.unwrap().title.ends_with(title));
    }
    let err = host
        .update_pr(partial.number, " ", "x", false)
        .await
        .unwrap_err();
    assert!(matches!(err, HostError::Invalid(_)), "{err:?}");
    assert_eq!(
        host.get_pr(partial.number).await.unwrap().title,
        "Implement A-4"
    );
    let err = host.update_pr(9999, "Title", "x", false).await.unwrap_err();
    assert!(
        matches!(err, HostError::Remote(RemoteError::NotFound { .. })),
        "{err:?}"
    );

    // bad input
    let mut bad = request("foreman/A-3");
    bad.title = "  ".into();
    assert!(matches!(
        host.create_pr(&bad).await,
        Err(HostError::Invalid(_))
    ));
    let mut bad = request("main");
    bad.base = "main".into();
    assert!(matches!(
        host.create_pr(&bad).await,
        Err(HostError::Invalid(_))
    ));
    let bad = request("../escape");
    assert!(matches!(
        host.create_pr(&bad).await,
        Err(HostError::Invalid(_))
    ));
}

/// Merging through the host: merged, idempotent, closed and draft refused, unknown not found.
async fn merge_contract<H: Harness>(h: &H) {
    let host = h.host();
    h.push_branch("foreman/M-1-merge").await;
    let pr = host.create_pr(&request("foreman/M-1-merge")).await.unwrap();
    let merged = host.merge_pr(pr.number, MergeMethod::Merge).await.unwrap();
    assert_eq!(merged.state, PrState::Merged);
    assert_eq!(merged.number, pr.number);
    assert_eq!(merged.head, "foreman/M-1-merge");
    assert_eq!(host.get_pr(pr.number).await.unwrap().state, PrState::Merged);
    // a retry after a crash or a lost answer is a no-op that reports the merge
    let again = host.merge_pr(pr.number, MergeMethod::Merge).await.unwrap();
    assert_eq!((again.number, again.state), (pr.number, PrState::Merged));

    // closed without merging: refused, and stays closed
    h.push_branch("foreman/M-2-closed").await;
    let closed = host
        .create_pr(&request("foreman/M-2-closed"))
        .await
        .unwrap();
    h.close(closed.number).await;
    let err = host
        .merge_pr(closed.number, MergeMethod::Merge)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HostError::Remote(RemoteError::Status { status: 405, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("closed without merging"), "{err}");
    assert_eq!(
        host.get_pr(closed.number).await.unwrap().state,
        PrState::Closed
    );

    // a draft is never merged
    h.push_branch("foreman/M-3-draft").await;
    let mut draft = request("foreman/M-3-draft");
    draft.draft = true;
    let draft = host.create_pr(&draft).await.unwrap();
    let err = host
        .merge_pr(draft.number, MergeMethod::Squash)
        .await
        .unwrap_err();
    assert!(matches!(err, HostError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("is a draft"), "{err}");
    assert_eq!(
        host.get_pr(draft.number).await.unwrap().state,
        PrState::Open
    );

    let err = host.merge_pr(9999, MergeMethod::Merge).await.unwrap_err();
    assert!(
        matches!(err, HostError::Remote(RemoteError::NotFound { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn github_host_merges_by_the_contract() {
    let gh = GitHub::start().await;
    merge_contract(&gh).await;
    let number = gh
        .host
        .find_pr("foreman/M-1-merge")
        .await
        .unwrap()
        .unwrap()
        .number;
    let pull = gh.fake.pull(number).unwrap();
    assert!(pull.merged);
    assert_eq!(pull.merge_method.as_deref(), Some("merge"));
    // the idempotent retry and the refused ones never reached the merge endpoint
    let calls = gh.fake.merge_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].1["sha"], pull.head_sha.as_str());
}

#[tokio::test]
async fn gitlab_host_merges_by_the_contract() {
    let gl = GitLab::start().await;
    merge_contract(&gl).await;
    let mr = gl.fake.merge_request(1).unwrap();
    assert_eq!(mr.state, "merged");
    assert!(!mr.squash);
    let calls = gl.fake.merge_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].1["sha"], mr.sha.as_str());
}

#[tokio::test]
async fn local_host_merges_by_the_contract() {
    let local = Local::start().await;
    merge_contract(&local).await;
    // merged for real: the change is on the remote's main
    let content = git(
        &local.fixture.origin,
        &["show", "main:foreman_M-1-merge.txt"],
    );
    assert_eq!(content, "change");
    // the closed and draft branches were not merged
    let tree = git(&local.fixture.origin, &["ls-tree", "--name-only", "main"]);
    assert!(!tree.contains("foreman_M-2-closed.txt"), "{tree}");
    assert!(!tree.contains("foreman_M-3-draft.txt"), "{tree}");
}

#[tokio::test]
async fn github_merge_sends_the_method_and_the_head_it_saw() {
    let gh = GitHub::start().await;
    let pr = gh.host.create_pr(&request("foreman/S-1")).await.unwrap();
    gh.fake.add_status(&pr.head_sha, "ci/build", "success");
    let merged = gh
        .host
        .merge_pr(pr.number, MergeMethod::Squash)
        .await
        .unwrap();
    assert_eq!(merged.state, PrState::Merged);
    assert_eq!(merged.checks, ChecksStatus::Success, "a full read follows");
    let calls = gh.fake.merge_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, pr.number);
    assert_eq!(calls[0].1["merge_method"], "squash");
    assert_eq!(calls[0].1["sha"], pr.head_sha.as_str());
    let pull = gh.fake.pull(pr.number).unwrap();
    assert_eq!(pull.merge_method.as_deref(), Some("squash"));
    assert!(pull.merge_commit_sha.is_some());

    let pr = gh.host.create_pr(&request("foreman/S-2")).await.unwrap();
    gh.host
        .merge_pr(pr.number, MergeMethod::Rebase)
        .await
        .unwrap();
    assert_eq!(
        gh.fake.pull(pr.number).unwrap().merge_method.as_deref(),
        Some("rebase")
    );
}

#[tokio::test]
async fn github_merge_conflicts_and_moved_heads_are_rejected() {
    let gh = GitHub::start().await;
    let pr = gh.host.create_pr(&request("foreman/X-1")).await.unwrap();
    gh.fake.set_mergeable(pr.number, false);
    let err = gh
        .host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap_err();
    let HostError::Remote(RemoteError::Status {
        status: 405,
        message,
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("merge conflict"), "{message}");
    assert!(message.contains("main"), "{message}");
    assert!(
        message.contains("Pull Request is not mergeable"),
        "{message}"
    );
    assert!(!gh.fake.pull(pr.number).unwrap().merged);

    // resolved: it merges
    gh.fake.set_mergeable(pr.number, true);
    gh.host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap();

    // a push lands between the read and the merge: refused, never merged unseen
    let pr = gh.host.create_pr(&request("foreman/X-2")).await.unwrap();
    let newer = "1111111111111111111111111111111111111111";
    gh.fake.push_before_next_merge(pr.number, newer);
    let err = gh
        .host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap_err();
    let HostError::Remote(RemoteError::Conflict { message, .. }) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains(&pr.head_sha), "{message}");
    assert!(message.contains(newer), "{message}");
    assert!(!gh.fake.pull(pr.number).unwrap().merged);
    // the next attempt merges the new head it reads
    let merged = gh
        .host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap();
    assert_eq!(merged.head_sha, newer);
    assert_eq!(gh.fake.merge_calls().last().unwrap().1["sha"], newer);

    // other refusals carry GitHub's message
    let pr = gh.host.create_pr(&request("foreman/X-3")).await.unwrap();
    gh.fake.control.fail_next_on("/merge", Fault::Status(422));
    let err = gh
        .host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HostError::Remote(RemoteError::Status { status: 422, .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn github_concurrent_merges_of_one_pull_request_both_succeed() {
    let gh = GitHub::start().await;
    let pr = gh.host.create_pr(&request("foreman/Y-1")).await.unwrap();
    let (a, b) = tokio::join!(
        gh.host.merge_pr(pr.number, MergeMethod::Merge),
        gh.host.merge_pr(pr.number, MergeMethod::Merge)
    );
    assert_eq!(a.unwrap().state, PrState::Merged);
    assert_eq!(b.unwrap().state, PrState::Merged);
    // whichever lost the race got a 405 and found the pull request merged
    assert!(gh.fake.pull(pr.number).unwrap().merged);
}

#[tokio::test]
async fn github_fake_merge_endpoint_speaks_githubs_answers() {
    let gh = GitHub::start().await;
    let n = gh.fake.add_pull("Fake", "foreman/F-1", "main", &[]);
    let c = client(&gh.fake, Duration::from_secs(1));
    let path = format!("/repos/acme/widgets/pulls/{n}/merge");
    let put = |body: serde_json::Value| {
        let c = c.clone();
        let path = path.clone();
        async move {
            c.http()
                .send_json::<serde_json::Value>(foreman_rest::Method::PUT, &path, &body)
                .await
        }
    };
    let status = |r: Result<serde_json::Value, RemoteError>| match r {
        Err(e) if e.refusal().is_some() => e.refusal().unwrap().0,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        status(put(serde_json::json!({"merge_method": "octopus"})).await),
        422
    );
    assert_eq!(
        status(put(serde_json::json!({"sha": "0000000000000000000000000000000000000000"})).await),
        409
    );
    let head = gh.fake.pull(n).unwrap().head_sha;
    let ok = put(serde_json::json!({"sha": head, "merge_method": "merge"}))
        .await
        .unwrap();
    assert_eq!(ok["merged"], true);
    assert_eq!(status(put(serde_json::json!({})).await), 405);
    let missing = c
        .http()
        .send_json::<serde_json::Value>(
            foreman_rest::Method::PUT,
            "/repos/acme/widgets/pulls/999/merge",
            &serde_json::json!({}),
        )
        .await;
    assert!(matches!(missing, Err(RemoteError::NotFound { .. })));
}

#[tokio::test]
async fn github_update_pr_calls_graphql_only_when_the_draft_flag_changes() {
    let gh = GitHub::start().await;
    let mut req = request("foreman/D-1");
    req.title = "[PARTIAL] Add auth".into();
    req.draft = true;
    let pr = gh.host.create_pr(&req).await.unwrap();
    let graphql_posts = |gh: &GitHub| {
        gh.fake
            .control
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/graphql")
            .count()
    };

    // still a draft: the title and body change over REST, GraphQL is not asked
    let same = gh
        .host
        .update_pr(pr.number, "[PARTIAL] Add auth (2/3)", "two of three", true)
        .await
        .unwrap();
    assert!(same.draft);
    assert_eq!(same.title, "[PARTIAL] Add auth (2/3)");
    assert_eq!(graphql_posts(&gh), 0);
    assert!(gh.fake.pull(pr.number).unwrap().draft);
    let patches = gh
        .fake
        .control
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 1);

    // ready: one mutation, with the node id as a variable
    let ready = gh
        .host
        .update_pr(pr.number, "Add auth", "all done", false)
        .await
        .unwrap();
    assert!(!ready.draft);
    assert_eq!(ready.title, "Add auth");
    assert!(!gh.fake.pull(pr.number).unwrap().draft);
    assert_eq!(
        gh.fake.issue(pr.number).unwrap().body.as_deref(),
        Some("all done")
    );
    let calls = gh.fake.graphql_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let query = calls[0]["query"].as_str().unwrap();
    assert!(query.contains("markPullRequestReadyForReview"), "{query}");
    assert_eq!(calls[0]["variables"]["id"], gh.fake.node_id(pr.number));
    assert!(!query.contains(&gh.fake.node_id(pr.number)), "{query}");

    // ready again: nothing to flip
    gh.host
        .update_pr(pr.number, "Add auth", "all done", false)
        .await
        .unwrap();
    assert_eq!(graphql_posts(&gh), 1);

    // back to a draft: the other mutation
    let back = gh
        .host
        .update_pr(pr.number, "Add auth", "reopened", true)
        .await
        .unwrap();
    assert!(back.draft);
    let calls = gh.fake.graphql_calls();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1]["query"]
            .as_str()
            .unwrap()
            .contains("convertPullRequestToDraft")
    );
    assert!(gh.host.get_pr(pr.number).await.unwrap().draft);
}

#[tokio::test]
async fn github_update_pr_surfaces_graphql_errors() {
    let gh = GitHub::start().await;
    let pr = gh.host.create_pr(&request("foreman/D-2")).await.unwrap();
    gh.fake.set_drafts_supported(false);
    let err = gh
        .host
        .update_pr(pr.number, "Add auth", "back to work", true)
        .await
        .unwrap_err();
    let HostError::Remote(RemoteError::Status {
        status: 422,
        message,
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("not supported"), "{message}");
    assert_eq!(gh.fake.graphql_calls().len(), 1);
    // the answer was HTTP 200; the pull request stayed ready
    assert!(!gh.fake.pull(pr.number).unwrap().draft);
    assert!(!gh.host.get_pr(pr.number).await.unwrap().draft);

    // a transport failure of the GraphQL endpoint is typed as one
    gh.fake.set_drafts_supported(true);
    gh.fake.control.fail_next_on("/graphql", Fault::Status(502));
    let err = gh
        .host
        .update_pr(pr.number, "Add auth", "x", true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HostError::Remote(RemoteError::Status { .. } | RemoteError::Transport { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn github_fake_graphql_speaks_githubs_answers() {
    let gh = GitHub::start().await;
    let n = gh.fake.add_pull("Fake", "foreman/F-2", "main", &[]);
    let c = client(&gh.fake, Duration::from_secs(1));
    let post = |body: serde_json::Value| {
        let c = c.clone();
        async move {
            c.http()
                .send_json::<serde_json::Value>(foreman_rest::Method::POST, "/graphql", &body)
                .await
                .unwrap()
        }
    };
    // an inline id works as well as a variable
    let id = gh.fake.node_id(n);
    let answer = post(serde_json::json!({"query": format!(
        "mutation {{ convertPullRequestToDraft(input: {{pullRequestId: \"{id}\"}}) {{ pullRequest {{ isDraft }} }} }}"
    )}))
    .await;
    assert_eq!(
        answer["data"]["convertPullRequestToDraft"]["pullRequest"]["isDraft"],
        true
    );
    assert!(gh.fake.pull(n).unwrap().draft);
    let unknown = post(serde_json::json!({
        "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }",
        "variables": {"id": "PR_nope"},
    }))
    .await;
    assert_eq!(unknown["errors"][0]["type"], "NOT_FOUND");
    assert!(unknown["data"]["markPullRequestReadyForReview"].is_null());
    let other = post(serde_json::json!({"query": "query { viewer { login } }"})).await;
    assert!(other["errors"][0]["message"].is_string());
    // PATCH: unknown is 404, a blank title 422, the draft field is ignored
    let patch = |path: String, body: serde_json::Value| {
        let c = c.clone();
        async move {
            c.http()
                .send_json::<serde_json::Value>(foreman_rest::Method::PATCH, &path, &body)
                .await
        }
    };
    let missing = patch(
        "/repos/acme/widgets/pulls/999".into(),
        serde_json::json!({"title": "x"}),
    )
    .await;
    assert!(matches!(missing, Err(RemoteError::NotFound { .. })));
    let path = format!("/repos/acme/widgets/pulls/{n}");
    let blank = patch(path.clone(), serde_json::json!({"title": " "})).await;
    assert!(matches!(
        blank,
        Err(RemoteError::Status { status: 422, .. })
    ));
    let ok = patch(path, serde_json::json!({"title": "New", "draft": false}))
        .await
        .unwrap();
    assert_eq!(
        (ok["title"].as_str(), ok["draft"].as_bool()),
        (Some("New"), Some(true))
    );
}

#[tokio::test]
async fn github_host_passes_the_contract() {
    let gh = GitHub::start().await;
    contract(&gh).await;
    // labels and reviewers landed at GitHub
    let number = gh
        .host
        .find_pr("foreman/A-1-one")
        .await
        .unwrap()
        .unwrap()
        .number;
    assert_eq!(gh.fake.issue(number).unwrap().labels, ["foreman"]);
    assert_eq!(gh.fake.pull(number).unwrap().reviewers, ["octocat"]);
    assert_eq!(
        gh.fake.issue(number).unwrap().comments[0].body,
        "All tasks done."
    );
    // the updated body landed
    let partial = gh
        .host
        .find_pr("foreman/A-4-partial")
        .await
        .unwrap()
        .unwrap()
        .number;
    assert_eq!(
        gh.fake.issue(partial).unwrap().body.as_deref(),
        Some("All tasks done.")
    );
}

#[tokio::test]
async fn local_host_passes_the_contract() {
    let local = Local::start().await;
    contract(&local).await;
    let number = local
        .host
        .find_pr("foreman/A-1-one")
        .await
        .unwrap()
        .unwrap()
        .number;
    assert_eq!(
        local.host.comments(number).await.unwrap()[0].body,
        "All tasks done."
    );
    assert!(
        local
            .host
            .get_pr(number)
            .await
            .unwrap()
            .url
            .starts_with("foreman://demo/pulls/")
    );
    let partial = local
        .host
        .find_pr("foreman/A-4-partial")
        .await
        .unwrap()
        .unwrap()
        .number;
    let record = local.host.record(partial).await.unwrap();
    assert_eq!(record.request.body, "All tasks done.");
    assert!(!record.request.draft);
}

/// Reads share one view of the remote for its time to live; merging reads afresh; a pair of
/// head and base commits found unmerged is remembered rather than checked again.
#[tokio::test]
async fn local_host_reads_share_one_view_of_the_remote() {
    let local = Local::with_view_ttl(Duration::from_secs(3600)).await;
    let host = &local.host;
    local.push_branch("foreman/V-1").await;
    local.push_branch("foreman/V-2").await;
    let one = host.create_pr(&request("foreman/V-1")).await.unwrap();
    let two = host.create_pr(&request("foreman/V-2")).await.unwrap();
    assert_eq!(host.get_pr(one.number).await.unwrap().state, PrState::Open);
    let base = git(
        local.repo.repo_dir(),
        &["rev-parse", "refs/remotes/origin/main"],
    );
    let record = host.record(one.number).await.unwrap();
    assert_eq!(record.unmerged_base.as_deref(), Some(base.as_str()));

    // merged outside Foreman: not seen while the view lasts…
    local.merge(one.number, "foreman/V-1").await;
    assert_eq!(host.get_pr(one.number).await.unwrap().state, PrState::Open);
    assert_eq!(host.get_pr(two.number).await.unwrap().state, PrState::Open);
    // …but merging looks at the remote itself, finds it merged and does not merge again
    let merged = host.merge_pr(one.number, MergeMethod::Merge).await.unwrap();
    assert_eq!(merged.state, PrState::Merged);
    assert_eq!(host.record(one.number).await.unwrap().merge_commit, None);
    // and the next read sees the base branch's new commit
    assert_eq!(host.get_pr(two.number).await.unwrap().state, PrState::Open);
    let moved = git(
        local.repo.repo_dir(),
        &["rev-parse", "refs/remotes/origin/main"],
    );
    assert_ne!(moved, base);
    assert_eq!(
        host.record(two.number)
            .await
            .unwrap()
            .unmerged_base
            .as_deref(),
        Some(moved.as_str())
    );
}

/// A cached view read before a branch was pushed does not make that branch's new pull request
/// look closed: the host that opens it adds the branch to its view, and a host that did not
/// (another node sharing the database) checks what its cached view suggests on a fresh read.
#[tokio::test]
async fn local_host_confirms_what_a_cached_view_suggests() {
    let local = Local::with_view_ttl(Duration::from_secs(3600)).await;
    let store = Arc::new(MemoryStore::new());
    let hour = Duration::from_secs(3600);
    let a = LocalHost::new(store.clone(), local.repo.clone()).with_view_ttl(hour);
    let b = LocalHost::new(store, local.repo.clone()).with_view_ttl(hour);
    local.push_branch("foreman/W-1").await;
    let one = a.create_pr(&request("foreman/W-1")).await.unwrap();
    // both views are read now, before W-2 exists on the remote
    assert_eq!(a.get_pr(one.number).await.unwrap().state, PrState::Open);
    assert_eq!(b.get_pr(one.number).await.unwrap().state, PrState::Open);
    local.push_branch("foreman/W-2").await;
    let two = a.create_pr(&request("foreman/W-2")).await.unwrap();
    for host in [&a, &b] {
        let read = host.get_pr(two.number).await.unwrap();
        assert_eq!(read.state, PrState::Open, "{read:?}");
        assert_eq!(read.head_sha, two.head_sha);
    }
    assert_eq!(a.record(two.number).await.unwrap().state, PrState::Open);
}

#[tokio::test]
async fn local_host_needs_the_branch_on_the_remote() {
    let local = Local::start().await;
    let err = local
        .host
        .create_pr(&request("foreman/not-pushed"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HostError::Remote(RemoteError::NotFound { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("push it first"));
}

#[tokio::test]
async fn github_checks_combine_statuses_and_check_runs() {
    let gh = GitHub::start().await;
    let pr = gh.host.create_pr(&request("foreman/C-1")).await.unwrap();
    assert_eq!(pr.checks, ChecksStatus::None);
    gh.fake.add_status(&pr.head_sha, "ci/build", "success");
    assert_eq!(
        gh.host.get_pr(pr.number).await.unwrap().checks,
        ChecksStatus::Success
    );
    gh.fake
        .add_check_run(&pr.head_sha, "tests", "in_progress", None);
    assert_eq!(
        gh.host.get_pr(pr.number).await.unwrap().checks,
        ChecksStatus::Pending
    );
    gh.fake
        .add_check_run(&pr.head_sha, "lint", "completed", Some("failure"));
    assert_eq!(
        gh.host.get_pr(pr.number).await.unwrap().checks,
        ChecksStatus::Failure
    );
    gh.fake
        .push_to_pull(pr.number, "0123456789abcdef0123456789abcdef01234567");
    let moved = gh.host.get_pr(pr.number).await.unwrap();
    assert_eq!(moved.head_sha, "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(moved.checks, ChecksStatus::None);
}

#[tokio::test]
async fn github_waits_out_short_rate_limits_and_reports_long_ones() {
    let gh = GitHub::start().await;
    gh.fake
        .control
        .fail_next(Fault::SecondaryRateLimit { retry_after: 1 });
    gh.host
        .check()
        .await
        .expect("a one second secondary limit is waited out");
    assert_eq!(gh.fake.control.requests().len(), 2);

    gh.fake
        .control
        .fail_next(Fault::PrimaryRateLimit { reset_in: 3600 });
    let err = gh.host.check().await.unwrap_err();
    let HostError::Remote(RemoteError::RateLimited {
        retry_after: Some(wait),
        ..
    }) = err
    else {
        panic!("expected a rate limit, got {err:?}")
    };
    assert!(wait > Duration::from_secs(3500));
    assert_eq!(
        err_code(gh.host.check().await),
        None,
        "the limit was one response"
    );

    gh.fake
        .control
        .fail_next(Fault::RateLimit { retry_after: 120 });
    assert!(matches!(
        gh.host.check().await,
        Err(HostError::Remote(RemoteError::RateLimited { .. }))
    ));
}

fn err_code(r: Result<(), HostError>) -> Option<&'static str> {
    r.err().map(|e| e.code())
}

#[tokio::test]
async fn github_failures_are_typed() {
    let gh = GitHub::start().await;
    gh.fake.control.set_revoked(true);
    assert_eq!(err_code(gh.host.check().await), Some("unauthorized"));
    gh.fake.control.set_revoked(false);

    gh.fake.control.fail_next(Fault::Malformed);
    assert_eq!(err_code(gh.host.check().await), Some("bad_response"));

    // a 500 on a read is retried
    gh.fake.control.fail_next(Fault::Status(502));
    gh.host.check().await.unwrap();
    // but not forever
    for _ in 0..3 {
        gh.fake.control.fail_next(Fault::Status(500));
    }
    assert_eq!(err_code(gh.host.check().await), Some("unavailable"));

    // a wrong repository name is a 404 at check time
    let cfg = GitHubConfig {
        api_url: gh.fake.url().to_owned(),
        owner: "acme".into(),
        repo: "nope".into(),
        token: "ghp_test".into(),
    };
    let host = GitHubHost::new(GitHubClient::new(&cfg).unwrap());
    assert_eq!(err_code(host.check().await), Some("not_found"));
    // and nothing at all listens
    let cfg = GitHubConfig {
        api_url: "http://127.0.0.1:9".into(),
        ..cfg
    };
    let host = GitHubHost::new(GitHubClient::new(&cfg).unwrap());
    assert_eq!(err_code(host.check().await), Some("unavailable"));
    let bad = GitHubConfig {
        token: String::new(),
        ..cfg.clone()
    };
    assert!(GitHubClient::new(&bad).is_err());
    let bad = GitHubConfig {
        owner: "a/b".into(),
        ..cfg
    };
    assert!(GitHubClient::new(&bad).is_err());
}

#[tokio::test]
async fn github_rejections_carry_the_hosts_message() {
    let gh = GitHub::start().await;
    let mut req = request("foreman/R-1");
    req.reviewers = vec!["ghost".into()];
    let err = gh.host.create_pr(&req).await.unwrap_err();
    let HostError::Remote(RemoteError::Status {
        status: 422,
        message,
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("collaborator"), "{message}");
    // the pull request itself exists; retrying without the bad reviewer returns it
    req.reviewers.clear();
    let pr = gh.host.create_pr(&req).await.unwrap();
    assert_eq!(gh.fake.pull(pr.number).unwrap().head, "foreman/R-1");
}

struct GitLab {
    fake: FakeGitLab,
    host: Arc<GitLabHost>,
}

impl GitLab {
    async fn start() -> Self {
        let fake = FakeGitLab::start("acme/widgets", "glpat-test").await;
        let cfg = GitLabConfig {
            api_url: fake.api_url(),
            project: fake.project.clone(),
            token: fake.token.clone(),
        };
        let host = Arc::new(GitLabHost::new(GitLabClient::new(&cfg).unwrap()));
        Self { fake, host }
    }
}

impl Harness for GitLab {
    fn host(&self) -> Arc<dyn GitHost> {
        self.host.clone()
    }
    async fn push_branch(&self, _head: &str) {}
    async fn merge(&self, number: i64, _head: &str) {
        self.fake.set_mr_state(number, "merged");
    }
    async fn close(&self, number: i64) {
        self.fake.set_mr_state(number, "closed");
    }
}

#[tokio::test]
async fn gitlab_host_passes_the_contract() {
    let gl = GitLab::start().await;
    contract(&gl).await;
    let mr = gl.fake.merge_request(1).unwrap();
    assert_eq!(mr.labels, ["foreman"]);
    assert_eq!(mr.reviewer_ids, [7], "reviewers are resolved to user ids");
    assert_eq!(mr.notes, ["All tasks done."]);
    let draft = gl.fake.merge_request(2).unwrap();
    assert!(draft.title.starts_with("Draft: "), "{}", draft.title);
    // the partial draft was made ready by dropping the title's prefix
    let partial = gl.fake.merge_request(3).unwrap();
    assert_eq!(partial.title, "Implement A-4");
    assert!(!partial.draft);
    assert_eq!(partial.description.as_deref(), Some("All tasks done."));
}

#[tokio::test]
async fn gitlab_update_pr_writes_the_draft_prefix() {
    let gl = GitLab::start().await;
    let mut req = request("foreman/GD-1");
    req.title = "[PARTIAL] Add auth".into();
    req.draft = true;
    let pr = gl.host.create_pr(&req).await.unwrap();
    assert_eq!(pr.title, "Draft: [PARTIAL] Add auth");
    // a prefix the caller wrote is replaced, not doubled; the description follows
    let again = gl
        .host
        .update_pr(
            pr.number,
            "[Draft] [PARTIAL] Add auth",
            "two of three",
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        (again.title.as_str(), again.draft),
        ("Draft: [PARTIAL] Add auth", true)
    );
    let ready = gl
        .host
        .update_pr(pr.number, "Draft: Add auth", "all done", false)
        .await
        .unwrap();
    assert_eq!((ready.title.as_str(), ready.draft), ("Add auth", false));
    let mr = gl.fake.merge_request(pr.number).unwrap();
    assert_eq!(mr.description.as_deref(), Some("all done"));
    let puts: Vec<_> = gl
        .fake
        .control
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert!(
        puts[0]
            .path
            .ends_with(&format!("/merge_requests/{}", pr.number))
    );
    // a title that is nothing but a prefix is empty
    let err = gl
        .host
        .update_pr(pr.number, "Draft: ", "x", true)
        .await
        .unwrap_err();
    assert!(matches!(err, HostError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn gitlab_pipelines_are_checks() {
    let gl = GitLab::start().await;
    let pr = gl.host.create_pr(&request("foreman/P-1")).await.unwrap();
    for (status, want) in [
        (None, ChecksStatus::None),
        (Some("running"), ChecksStatus::Pending),
        (Some("success"), ChecksStatus::Success),
        (Some("failed"), ChecksStatus::Failure),
    ] {
        gl.fake.set_pipeline(pr.number, status);
        assert_eq!(
            gl.host.get_pr(pr.number).await.unwrap().checks,
            want,
            "{status:?}"
        );
    }
}

#[tokio::test]
async fn gitlab_failures_are_typed() {
    let gl = GitLab::start().await;
    let mut req = request("foreman/U-1");
    req.reviewers = vec!["nobody".into()];
    assert!(matches!(
        gl.host.create_pr(&req).await,
        Err(HostError::Invalid(_))
    ));
    gl.fake.control.set_revoked(true);
    assert_eq!(err_code(gl.host.check().await), Some("unauthorized"));
    gl.fake.control.set_revoked(false);
    gl.fake
        .control
        .fail_next(Fault::RateLimit { retry_after: 1 });
    gl.host.check().await.unwrap();
    let cfg = GitLabConfig {
        api_url: gl.fake.api_url(),
        project: "acme/other".into(),
        token: gl.fake.token.clone(),
    };
    let other = GitLabHost::new(GitLabClient::new(&cfg).unwrap());
    assert_eq!(err_code(other.check().await), Some("not_found"));
}

#[tokio::test]
async fn gitlab_merge_squashes_and_sends_the_head_it_saw() {
    let gl = GitLab::start().await;
    let pr = gl.host.create_pr(&request("foreman/GS-1")).await.unwrap();
    gl.fake.set_pipeline(pr.number, Some("success"));
    let merged = gl
        .host
        .merge_pr(pr.number, MergeMethod::Squash)
        .await
        .unwrap();
    assert_eq!(merged.state, PrState::Merged);
    assert_eq!(merged.checks, ChecksStatus::Success);
    let mr = gl.fake.merge_request(pr.number).unwrap();
    assert!(mr.squash);
    assert!(mr.merge_commit_sha.is_some());
    let calls = gl.fake.merge_calls();
    assert_eq!(calls[0].1["sha"], pr.head_sha.as_str());
    assert_eq!(calls[0].1["squash"], true);
}

#[tokio::test]
async fn gitlab_refuses_rebase_merges_without_calling_gitlab() {
    let gl = GitLab::start().await;
    let pr = gl.host.create_pr(&request("foreman/GR-1")).await.unwrap();
    let err = gl
        .host
        .merge_pr(pr.number, MergeMethod::Rebase)
        .await
        .unwrap_err();
    assert!(matches!(err, HostError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("fast-forward"), "{err}");
    assert!(gl.fake.merge_calls().is_empty());
    assert_eq!(gl.fake.merge_request(pr.number).unwrap().state, "opened");
}

#[tokio::test]
async fn gitlab_merge_conflicts_and_moved_heads_are_rejected() {
    let gl = GitLab::start().await;
    let pr = gl.host.create_pr(&request("foreman/GX-1")).await.unwrap();
    gl.fake.set_conflicts(pr.number, true);
    let err = gl
        .host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap_err();
    let HostError::Remote(RemoteError::Status {
        status: 406,
        message,
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("merge conflict"), "{message}");
    assert!(message.contains("Branch cannot be merged"), "{message}");
    assert_eq!(gl.fake.merge_request(pr.number).unwrap().state, "opened");

    let pr = gl.host.create_pr(&request("foreman/GX-2")).await.unwrap();
    let newer = "2222222222222222222222222222222222222222";
    gl.fake.push_before_next_merge(pr.number, newer);
    let err = gl
        .host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap_err();
    let HostError::Remote(RemoteError::Conflict { message, .. }) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains(newer), "{message}");
    assert_eq!(gl.fake.merge_request(pr.number).unwrap().state, "opened");
}
