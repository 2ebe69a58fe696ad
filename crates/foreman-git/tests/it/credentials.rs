//! The HTTPS token reaches the remote through the per-command credential helper, and nowhere
//! else: not the repository's config, not the remote URL.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use foreman_domain::git::{GitError, GitRepo};
use foreman_git::{Credentials, GitRepository};

use crate::support::Fixture;

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A git smart-HTTP endpoint that demands Basic auth, records what it was given, and then
/// refuses (it serves no repository; the point is what git sent).
async fn serve(seen: Arc<Mutex<Vec<String>>>, accept: Option<String>) -> String {
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        let accept = accept.clone();
        async move {
            match headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
            {
                None => (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Basic realm=\"git\"")],
                    "auth required",
                )
                    .into_response(),
                Some(v) => {
                    seen.lock().unwrap().push(v.to_owned());
                    if accept.as_deref() == Some(v) {
                        (StatusCode::NOT_FOUND, "no such repository").into_response()
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            [(header::WWW_AUTHENTICATE, "Basic realm=\"git\"")],
                            "bad credentials",
                        )
                            .into_response()
                    }
                }
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/org/repo.git")
}

#[tokio::test]
async fn token_goes_through_the_helper_and_is_never_stored() {
    let f = Fixture::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let expected = format!("Basic {}", base64(b"x-access-token:s3cr3t-token"));
    let url = serve(seen.clone(), Some(expected.clone())).await;

    let mut cfg = f.config();
    cfg.clone_url = url.clone();
    cfg.credentials = Credentials::github_token("s3cr3t-token");
    let repo = GitRepository::new(cfg).unwrap();
    let err = repo.sync().await.unwrap_err();
    assert!(matches!(err, GitError::RemoteUnreachable { .. }), "{err:?}");
    assert_eq!(seen.lock().unwrap().as_slice(), [expected]);

    let config = std::fs::read_to_string(repo.repo_dir().join("config")).unwrap();
    assert!(!config.contains("s3cr3t"), "{config}");
    assert!(
        config.contains(&url),
        "the url is stored as given: {config}"
    );
    for entry in walk(repo.project_dir()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t-token"),
            "token found in {}",
            entry.display()
        );
    }
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_failure() {
    let f = Fixture::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = serve(seen.clone(), None).await;
    let mut cfg = f.config();
    cfg.clone_url = url;
    cfg.credentials = Credentials::gitlab_token("revoked");
    let repo = GitRepository::new(cfg).unwrap();
    let err = repo.sync().await.unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert_eq!(err.code(), "auth_failed");
    assert_eq!(
        seen.lock().unwrap().first().map(String::as_str),
        Some(format!("Basic {}", base64(b"oauth2:revoked")).as_str())
    );

    // without credentials git cannot prompt, so it fails instead of hanging
    let f = Fixture::new();
    let url = serve(Arc::new(Mutex::new(Vec::new())), None).await;
    let mut cfg = f.config();
    cfg.clone_url = url;
    let repo = GitRepository::new(cfg).unwrap();
    assert!(matches!(
        repo.sync().await,
        Err(GitError::AuthFailed { .. })
    ));
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn ssh_keys_are_passed_to_ssh_per_command() {
    if std::process::Command::new("ssh")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("notice: no ssh client on this machine; skipping the ssh credential test");
        return;
    }
    let f = Fixture::new();
    let key = f.dir.path().join("id_foreman_test");
    let mut cfg = f.config();
    // nothing listens on port 1: ssh starts (reading its options), then fails to connect
    cfg.clone_url = "ssh://git@127.0.0.1:1/org/repo.git".into();
    cfg.credentials = Credentials::SshKey {
        key_path: key.clone(),
        accept_new_host_keys: true,
    };
    let repo = GitRepository::new(cfg).unwrap();
    let err = repo.sync().await.unwrap_err();
    let GitError::RemoteUnreachable { stderr, .. } = &err else {
        panic!("expected an unreachable remote, got {err:?}")
    };
    assert!(
        stderr.contains(&format!("Identity file {} not accessible", key.display())),
        "ssh was not given the key: {stderr}"
    );
    let config = std::fs::read_to_string(repo.repo_dir().join("config")).unwrap();
    assert!(
        !config.contains("id_foreman_test"),
        "the key is not configured in the repo: {config}"
    );
}
