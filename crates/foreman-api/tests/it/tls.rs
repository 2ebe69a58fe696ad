//! HTTPS when certificate and key are configured.

use foreman_api::{ApiConfig, TlsFiles};
use foreman_testkit::MemoryStore;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = ApiConfig {
        tls: Some(TlsFiles {
            cert: fixture("localhost.crt"),
            key: fixture("localhost.key"),
        }),
        ..Default::default()
    };
    let app = foreman_api::app(MemoryStore::new().shared(), Default::default(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(foreman_api::serve(listener, app, async move {
        let _ = rx.await;
    }));
    let cert = reqwest::Certificate::from_pem(&std::fs::read(fixture("ca.crt")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([cert])
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{port}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    // Plain HTTP to the TLS port does not get an answer.
    let plain = reqwest::Client::new()
        .get(format!("http://localhost:{port}/api/health"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn unusable_tls_files_are_a_clear_error() {
    let missing = TlsFiles {
        cert: fixture("nope.crt"),
        key: fixture("localhost.key"),
    };
    let err = foreman_api::tls_config(&missing).unwrap_err();
    assert!(err.to_string().contains("nope.crt"), "{err}");
    let swapped = TlsFiles {
        cert: fixture("localhost.key"),
        key: fixture("localhost.crt"),
    };
    assert!(foreman_api::tls_config(&swapped).is_err());
}
