//! Webhook receivers' pure half: signature verification and payload parsing for GitHub, GitLab,
//! Jira and Linear. The HTTP routes (`POST /api/webhooks/{github,gitlab,jira,linear}`) live in
//! the API crate and hand deliveries to [`crate::WebhookIntake`], which calls `verify_*` first
//! (a failure is a 401 and nothing is stored), then `parse_*`, and runs the intake
//! ([`foreman_domain::tracker::TicketIntake`]) when [`WebhookEvent::may_make_ready`] says so.
//!
//! Schemes: GitHub signs the raw body with HMAC-SHA256 in `X-Hub-Signature-256: sha256=<hex>`;
//! Jira Cloud uses the same construction in `X-Hub-Signature`; Linear sends the bare hex HMAC
//! in `Linear-Signature` and a `webhookTimestamp` (milliseconds) in the body, checked against
//! replay; GitLab echoes the configured secret in `X-Gitlab-Token`. Every comparison is
//! constant-time.

use chrono::{DateTime, Utc};
use foreman_domain::git::PrState;
use foreman_domain::webhook::PullRequestChange;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a Linear `webhookTimestamp` may be from now.
pub const LINEAR_MAX_SKEW_SECS: i64 = 60;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No secret is configured, so nothing can be verified (and nothing is accepted).
    #[error("no webhook secret configured")]
    NoSecret,
    /// The signature header is absent.
    #[error("missing {0} header")]
    MissingSignature(&'static str),
    /// The signature header is not in the expected format.
    #[error("malformed {0} header")]
    MalformedSignature(&'static str),
    /// The signature does not match the body.
    #[error("signature mismatch")]
    BadSignature,
    /// The signed timestamp is too old or in the future (a replay).
    #[error("stale webhook timestamp")]
    Stale,
    /// The body is not the service's payload.
    #[error("malformed payload: {0}")]
    Malformed(String),
}

impl WebhookError {
    /// A transport-neutral code; every variant but `Malformed` is an authentication failure.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSecret => "no_secret",
            Self::MissingSignature(_) => "missing_signature",
            Self::MalformedSignature(_) => "malformed_signature",
            Self::BadSignature => "bad_signature",
            Self::Stale => "stale",
            Self::Malformed(_) => "malformed",
        }
    }

    /// Whether the request should be answered 401 (as opposed to 400).
    #[must_use]
    pub fn is_auth(&self) -> bool {
        !matches!(self, Self::Malformed(_))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookError> {
    headers
        .get(name)
        .ok_or(WebhookError::MissingSignature(name))?
        .to_str()
        .map_err(|_| WebhookError::MalformedSignature(name))
}

fn hmac_hex_matches(
    secret: &str,
    body: &[u8],
    hex_sig: &str,
    name: &'static str,
) -> Result<(), WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let given = hex::decode(hex_sig.trim()).map_err(|_| WebhookError::MalformedSignature(name))?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| WebhookError::NoSecret)?;
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    if expected.as_slice().ct_eq(&given).into() {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// The hex HMAC-SHA256 of `body` under `secret` (what senders put in the headers).
#[must_use]
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac accepts any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies GitHub's `X-Hub-Signature-256: sha256=<hex>`.
///
/// # Errors
/// [`WebhookError`]; every variant means "answer 401, store nothing".
pub fn verify_github_signature(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    const H: &str = "x-hub-signature-256";
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let sig = header(headers, H)?
        .strip_prefix("sha256=")
        .ok_or(WebhookError::MalformedSignature(H))?;
    hmac_hex_matches(secret, body, sig, H)
}

/// Verifies Jira Cloud's `X-Hub-Signature: sha256=<hex>`.
///
/// # Errors
/// As [`verify_github_signature`].
pub fn verify_jira_signature(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    const H: &str = "x-hub-signature";
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let sig = header(headers, H)?
        .strip_prefix("sha256=")
        .ok_or(WebhookError::MalformedSignature(H))?;
    hmac_hex_matches(secret, body, sig, H)
}

/// Verifies GitLab's `X-Gitlab-Token` (the configured secret, echoed).
///
/// # Errors
/// As [`verify_github_signature`].
pub fn verify_gitlab_token(secret: &str, headers: &HeaderMap) -> Result<(), WebhookError> {
    const H: &str = "x-gitlab-token";
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let given = header(headers, H)?;
    if secret.as_bytes().ct_eq(given.as_bytes()).into() {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// Verifies Linear's `Linear-Signature` (hex HMAC-SHA256 of the body), then that the body's
/// `webhookTimestamp` is within [`LINEAR_MAX_SKEW_SECS`] of `now`.
///
/// # Errors
/// As [`verify_github_signature`], plus [`WebhookError::Stale`].
pub fn verify_linear_signature(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    const H: &str = "linear-signature";
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    hmac_hex_matches(secret, body, header(headers, H)?, H)?;
    let v: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let ts = v
        .get("webhookTimestamp")
        .and_then(Value::as_i64)
        .ok_or(WebhookError::Stale)?;
    if (now.timestamp_millis() - ts).abs() > LINEAR_MAX_SKEW_SECS * 1000 {
        return Err(WebhookError::Stale);
    }
    Ok(())
}

/// What a webhook was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// An issue changed.
    Issue,
    /// A comment was added or changed.
    Comment,
    /// A pull or merge request changed.
    PullRequest,
    /// The service testing the hook.
    Ping,
    /// Anything else.
    Other,
}

/// A parsed webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `github`, `gitlab`, `jira` or `linear`.
    pub tracker: &'static str,
    /// What it is about.
    pub kind: WebhookKind,
    /// The service's action (`labeled`, `update`, `jira:issue_updated`, ...).
    pub action: String,
    /// The ticket's external id in Foreman's format (`#42`, `PROJ-1`, `ENG-7`), when there is one.
    pub external_id: Option<String>,
    /// The ticket's labels after the change.
    pub labels: Vec<String>,
    /// Whether the ticket is open after the change, when the payload says.
    pub open: Option<bool>,
}

impl WebhookEvent {
    /// Whether this change may have made a ticket ready (an open issue carrying the pickup
    /// label), so intake should poll now.
    #[must_use]
    pub fn may_make_ready(&self, pickup_label: &str) -> bool {
        self.kind == WebhookKind::Issue
            && self.open != Some(false)
            && self.labels.iter().any(|l| l == pickup_label)
    }
}

fn parse_json(body: &[u8]) -> Result<Value, WebhookError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(WebhookError::Malformed(
            "payload is not a json object".to_owned(),
        ))
    }
}

fn names(v: Option<&Value>, key: &str) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| l.get(key).and_then(Value::as_str).or_else(|| l.as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Parses a GitHub webhook; `event` is the `X-GitHub-Event` header.
///
/// # Errors
/// [`WebhookError::Malformed`].
pub fn parse_github_webhook(event: &str, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let v = parse_json(body)?;
    let action = v
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let issue = v.get("issue");
    let is_pr = issue
        .and_then(|i| i.get("pull_request"))
        .is_some_and(|p| !p.is_null());
    let kind = match event {
        "ping" => WebhookKind::Ping,
        "issues" if !is_pr => WebhookKind::Issue,
        "issue_comment" => WebhookKind::Comment,
        "pull_request" | "pull_request_review" | "check_suite" | "status" => {
            WebhookKind::PullRequest
        }
        _ => WebhookKind::Other,
    };
    if kind == WebhookKind::Issue && issue.is_none() {
        return Err(WebhookError::Malformed(
            "issues event without an issue".to_owned(),
        ));
    }
    let number = issue
        .and_then(|i| i.get("number"))
        .or_else(|| v.get("pull_request").and_then(|p| p.get("number")))
        .and_then(Value::as_i64);
    Ok(WebhookEvent {
        tracker: "github",
        kind,
        action,
        external_id: number.map(|n| format!("#{n}")),
        labels: names(issue.and_then(|i| i.get("labels")), "name"),
        open: issue
            .and_then(|i| i.get("state"))
            .and_then(Value::as_str)
            .map(|s| s == "open"),
    })
}

/// Parses a GitLab webhook (`object_kind` decides the kind).
///
/// # Errors
/// [`WebhookError::Malformed`].
pub fn parse_gitlab_webhook(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let v = parse_json(body)?;
    let object_kind = v
        .get("object_kind")
        .and_then(Value::as_str)
        .ok_or_else(|| WebhookError::Malformed("no object_kind".to_owned()))?;
    let attrs = v.get("object_attributes");
    let kind = match object_kind {
        "issue" | "work_item" => WebhookKind::Issue,
        "note" => WebhookKind::Comment,
        "merge_request" | "pipeline" => WebhookKind::PullRequest,
        _ => WebhookKind::Other,
    };
    let iid = match kind {
        WebhookKind::Comment => v.get("issue").and_then(|i| i.get("iid")),
        _ => attrs.and_then(|a| a.get("iid")),
    }
    .and_then(Value::as_i64);
    Ok(WebhookEvent {
        tracker: "gitlab",
        kind,
        action: attrs
            .and_then(|a| a.get("action"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        external_id: iid.map(|n| format!("#{n}")),
        labels: names(v.get("labels"), "title"),
        open: attrs
            .and_then(|a| a.get("state"))
            .and_then(Value::as_str)
            .map(|s| s == "opened"),
    })
}

/// Parses a Jira Cloud webhook (`webhookEvent` decides the kind).
///
/// # Errors
/// [`WebhookError::Malformed`].
pub fn parse_jira_webhook(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let v = parse_json(body)?;
    let event = v
        .get("webhookEvent")
        .and_then(Value::as_str)
        .ok_or_else(|| WebhookError::Malformed("no webhookEvent".to_owned()))?;
    let kind = if event.starts_with("jira:issue_") {
        WebhookKind::Issue
    } else if event.starts_with("comment_") {
        WebhookKind::Comment
    } else {
        WebhookKind::Other
    };
    let fields = v.get("issue").and_then(|i| i.get("fields"));
    let category = fields.and_then(|f| str_at(f, &["status", "statusCategory", "key"]));
    Ok(WebhookEvent {
        tracker: "jira",
        kind,
        action: event.to_owned(),
        external_id: str_at(&v, &["issue", "key"]).map(str::to_owned),
        labels: fields
            .and_then(|f| f.get("labels"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        open: category
            .map(|c| c != "done")
            .or_else(|| (event == "jira:issue_deleted").then_some(false)),
    })
}

/// Parses a Linear webhook (`type` and `action` decide the kind).
///
/// # Errors
/// [`WebhookError::Malformed`].
pub fn parse_linear_webhook(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let v = parse_json(body)?;
    let ty = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| WebhookError::Malformed("no type".to_owned()))?;
    let action = v
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let data = v.get("data");
    let kind = match ty {
        "Issue" => WebhookKind::Issue,
        "Comment" => WebhookKind::Comment,
        _ => WebhookKind::Other,
    };
    let external_id = match kind {
        WebhookKind::Comment => data.and_then(|d| str_at(d, &["issue", "identifier"])),
        _ => data
            .and_then(|d| d.get("identifier"))
            .and_then(Value::as_str),
    }
    .map(str::to_owned);
    let state_type = data.and_then(|d| str_at(d, &["state", "type"]));
    Ok(WebhookEvent {
        tracker: "linear",
        kind,
        open: if action == "remove" {
            Some(false)
        } else {
            state_type.map(|t| t != "completed" && t != "canceled")
        },
        action,
        external_id,
        labels: names(data.and_then(|d| d.get("labels")), "name"),
    })
}

/// A merged or closed pull request from a GitHub `pull_request` webhook (`event` is the
/// `X-GitHub-Event` header); `None` for every other event or action.
///
/// # Errors
/// [`WebhookError::Malformed`] when the body is not a JSON object.
pub fn github_pull_request_change(
    event: &str,
    body: &[u8],
) -> Result<Option<PullRequestChange>, WebhookError> {
    let v = parse_json(body)?;
    if event != "pull_request" || v.get("action").and_then(Value::as_str) != Some("closed") {
        return Ok(None);
    }
    let pr = v.get("pull_request");
    let Some(number) = pr
        .and_then(|p| p.get("number"))
        .or_else(|| v.get("number"))
        .and_then(Value::as_i64)
    else {
        return Err(WebhookError::Malformed(
            "pull_request event without a number".to_owned(),
        ));
    };
    let merged = pr
        .and_then(|p| p.get("merged"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(Some(PullRequestChange {
        number,
        state: if merged {
            PrState::Merged
        } else {
            PrState::Closed
        },
    }))
}

/// A merged or closed merge request from a GitLab `merge_request` webhook; `None` for every
/// other kind or action.
///
/// # Errors
/// [`WebhookError::Malformed`] when the body is not a JSON object.
pub fn gitlab_merge_request_change(body: &[u8]) -> Result<Option<PullRequestChange>, WebhookError> {
    let v = parse_json(body)?;
    if v.get("object_kind").and_then(Value::as_str) != Some("merge_request") {
        return Ok(None);
    }
    let attrs = v.get("object_attributes");
    let state = match attrs.and_then(|a| a.get("action")).and_then(Value::as_str) {
        Some("merge") => PrState::Merged,
        Some("close") => PrState::Closed,
        _ => return Ok(None),
    };
    let Some(number) = attrs.and_then(|a| a.get("iid")).and_then(Value::as_i64) else {
        return Err(WebhookError::Malformed(
            "merge_request event without an iid".to_owned(),
        ));
    };
    Ok(Some(PullRequestChange { number, state }))
}

/// The pull or merge request a git host event is about, for every action (opened, pushed to,
/// reviewed, checks finished, merged, closed): GitHub `pull_request` and
/// `pull_request_review` (`pull_request.number`) and `check_suite` (its first
/// `pull_requests[].number`); GitLab `merge_request` (`object_attributes.iid`) and `pipeline`
/// (`merge_request.iid`). `None` for other events (GitHub `status` names only a commit) and for
/// bodies that are not JSON.
#[must_use]
pub fn pull_request_number(provider: &str, event: &str, body: &[u8]) -> Option<i64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let number = match (provider, event) {
        ("github", "pull_request" | "pull_request_review") => v
            .get("pull_request")
            .and_then(|p| p.get("number"))
            .or_else(|| v.get("number")),
        ("github", "check_suite") => v
            .get("check_suite")
            .and_then(|c| c.get("pull_requests"))
            .and_then(Value::as_array)
            .and_then(|prs| prs.first())
            .and_then(|p| p.get("number")),
        ("gitlab", _) => match v.get("object_kind").and_then(Value::as_str) {
            Some("merge_request") => v.get("object_attributes").and_then(|a| a.get("iid")),
            Some("pipeline") => v.get("merge_request").and_then(|m| m.get("iid")),
            _ => None,
        },
        _ => None,
    };
    number.and_then(Value::as_i64)
}

/// The repository, project or team a payload belongs to, in the form the tracker's `project`
/// setting uses (`owner/name` for GitHub, the path for GitLab, the project key for Jira, the
/// team key for Linear), when the payload says.
#[must_use]
pub fn payload_scope(provider: &str, body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let s = match provider {
        "github" => str_at(&v, &["repository", "full_name"]),
        "gitlab" => str_at(&v, &["project", "path_with_namespace"]),
        "jira" => str_at(&v, &["issue", "fields", "project", "key"]),
        "linear" => str_at(&v, &["data", "team", "key"])
            .or_else(|| str_at(&v, &["data", "issue", "team", "key"])),
        _ => None,
    };
    s.map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn github_signature_matches_the_documented_example() {
        // the example from GitHub's webhook documentation
        let body = b"Hello, World!";
        let h = headers(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        );
        verify_github_signature("It's a Secret to Everybody", &h, body).unwrap();
        assert_eq!(
            verify_github_signature("wrong", &h, body),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify_github_signature("It's a Secret to Everybody", &h, b"Hello, World?"),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn missing_malformed_and_unconfigured_are_refused() {
        let body = b"{}";
        assert_eq!(
            verify_github_signature("s", &HeaderMap::new(), body),
            Err(WebhookError::MissingSignature("x-hub-signature-256"))
        );
        assert_eq!(
            verify_github_signature("s", &headers("x-hub-signature-256", "sha1=abcd"), body),
            Err(WebhookError::MalformedSignature("x-hub-signature-256"))
        );
        assert_eq!(
            verify_github_signature("s", &headers("x-hub-signature-256", "sha256=zz"), body),
            Err(WebhookError::MalformedSignature("x-hub-signature-256"))
        );
        let good = headers("x-hub-signature-256", &format!("sha256={}", sign("", body)));
        assert_eq!(
            verify_github_signature("", &good, body),
            Err(WebhookError::NoSecret)
        );
        assert!(WebhookError::NoSecret.is_auth());
        assert!(!WebhookError::Malformed(String::new()).is_auth());
    }

    #[test]
    fn jira_and_gitlab_schemes() {
        let body = br#"{"webhookEvent":"jira:issue_created"}"#;
        let h = headers(
            "x-hub-signature",
            &format!("sha256={}", sign("jira-secret", body)),
        );
        verify_jira_signature("jira-secret", &h, body).unwrap();
        assert_eq!(
            verify_jira_signature("other", &h, body),
            Err(WebhookError::BadSignature)
        );
        verify_gitlab_token("tok", &headers("x-gitlab-token", "tok")).unwrap();
        assert_eq!(
            verify_gitlab_token("tok", &headers("x-gitlab-token", "toK")),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn linear_checks_signature_then_freshness() {
        let now = Utc::now();
        let body = format!(
            r#"{{"type":"Issue","action":"update","webhookTimestamp":{}}}"#,
            now.timestamp_millis()
        );
        let h = headers("linear-signature", &sign("lin", body.as_bytes()));
        verify_linear_signature("lin", &h, body.as_bytes(), now).unwrap();
        let later = now + chrono::Duration::seconds(LINEAR_MAX_SKEW_SECS + 5);
        assert_eq!(
            verify_linear_signature("lin", &h, body.as_bytes(), later),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            verify_linear_signature("nope", &h, body.as_bytes(), now),
            Err(WebhookError::BadSignature)
        );
    }

    proptest::proptest! {
        #[test]
        fn signatures_verify_only_the_signed_body(
            secret in "[ -~]{1,40}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            flip in 0usize..300,
        ) {
            let h = headers("x-hub-signature-256", &format!("sha256={}", sign(&secret, &body)));
            proptest::prop_assert!(verify_github_signature(&secret, &h, &body).is_ok());
            if !body.is_empty() {
                let mut tampered = body.clone();
                let i = flip % tampered.len();
                tampered[i] ^= 0x01;
                proptest::prop_assert_eq!(
                    verify_github_signature(&secret, &h, &tampered),
                    Err(WebhookError::BadSignature)
                );
            }
            let other = format!("{secret}x");
            proptest::prop_assert_eq!(verify_github_signature(&other, &h, &body), Err(WebhookError::BadSignature));
        }
    }

    #[test]
    fn github_payloads() {
        let body = br#"{"action":"labeled","label":{"name":"foreman-ready"},
            "issue":{"number":42,"state":"open","labels":[{"name":"bug"},{"name":"foreman-ready"}]}}"#;
        let e = parse_github_webhook("issues", body).unwrap();
        assert_eq!(e.external_id.as_deref(), Some("#42"));
        assert_eq!(e.kind, WebhookKind::Issue);
        assert!(e.may_make_ready("foreman-ready"));
        assert!(!e.may_make_ready("other"));
        // a pull request's labels never make a ticket
        let pr = br#"{"action":"labeled","issue":{"number":7,"state":"open","pull_request":{"url":"x"},"labels":[{"name":"foreman-ready"}]}}"#;
        assert!(
            !parse_github_webhook("issues", pr)
                .unwrap()
                .may_make_ready("foreman-ready")
        );
        assert_eq!(
            parse_github_webhook("ping", br#"{"zen":"hi"}"#)
                .unwrap()
                .kind,
            WebhookKind::Ping
        );
        assert!(matches!(
            parse_github_webhook("issues", b"not json"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse_github_webhook("issues", b"[1,2]"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse_github_webhook("issues", b"{\"action\":\"opened\"}"),
            Err(WebhookError::Malformed(_))
        ));
    }

    #[test]
    fn pull_request_numbers_for_every_action() {
        let sync = br#"{"action":"synchronize","number":5,"pull_request":{"number":5}}"#;
        assert_eq!(pull_request_number("github", "pull_request", sync), Some(5));
        let review = br#"{"action":"submitted","pull_request":{"number":6}}"#;
        assert_eq!(
            pull_request_number("github", "pull_request_review", review),
            Some(6)
        );
        let suite = br#"{"action":"completed","check_suite":{"pull_requests":[{"number":7}]}}"#;
        assert_eq!(pull_request_number("github", "check_suite", suite), Some(7));
        let no_pr = br#"{"action":"completed","check_suite":{"pull_requests":[]}}"#;
        assert_eq!(pull_request_number("github", "check_suite", no_pr), None);
        assert_eq!(
            pull_request_number("github", "status", br#"{"sha":"abc"}"#),
            None
        );
        assert_eq!(pull_request_number("github", "issues", sync), None);
        let mr =
            br#"{"object_kind":"merge_request","object_attributes":{"iid":8,"action":"update"}}"#;
        assert_eq!(pull_request_number("gitlab", "", mr), Some(8));
        let pipeline = br#"{"object_kind":"pipeline","merge_request":{"iid":9}}"#;
        assert_eq!(pull_request_number("gitlab", "", pipeline), Some(9));
        let push = br#"{"object_kind":"push"}"#;
        assert_eq!(pull_request_number("gitlab", "", push), None);
        assert_eq!(
            pull_request_number("github", "pull_request", b"not json"),
            None
        );
    }

    #[test]
    fn pull_request_changes() {
        let merged =
            br#"{"action":"closed","number":12,"pull_request":{"number":12,"merged":true}}"#;
        assert_eq!(
            github_pull_request_change("pull_request", merged).unwrap(),
            Some(PullRequestChange {
                number: 12,
                state: PrState::Merged
            })
        );
        let closed = br#"{"action":"closed","pull_request":{"number":3,"merged":false}}"#;
        assert_eq!(
            github_pull_request_change("pull_request", closed)
                .unwrap()
                .map(|c| c.state),
            Some(PrState::Closed)
        );
        let opened = br#"{"action":"opened","pull_request":{"number":3}}"#;
        assert_eq!(
            github_pull_request_change("pull_request", opened).unwrap(),
            None
        );
        assert_eq!(github_pull_request_change("issues", merged).unwrap(), None);
        assert!(github_pull_request_change("pull_request", br#"{"action":"closed"}"#).is_err());

        let mr = br#"{"object_kind":"merge_request","object_attributes":{"iid":4,"action":"merge","state":"merged"}}"#;
        assert_eq!(
            gitlab_merge_request_change(mr).unwrap(),
            Some(PullRequestChange {
                number: 4,
                state: PrState::Merged
            })
        );
        let update =
            br#"{"object_kind":"merge_request","object_attributes":{"iid":4,"action":"update"}}"#;
        assert_eq!(gitlab_merge_request_change(update).unwrap(), None);
        assert!(gitlab_merge_request_change(b"nope").is_err());
    }

    #[test]
    fn scopes_from_payloads() {
        assert_eq!(
            payload_scope("github", br#"{"repository":{"full_name":"acme/widgets"}}"#).as_deref(),
            Some("acme/widgets")
        );
        assert_eq!(
            payload_scope("gitlab", br#"{"project":{"path_with_namespace":"g/p"}}"#).as_deref(),
            Some("g/p")
        );
        assert_eq!(
            payload_scope(
                "jira",
                br#"{"issue":{"fields":{"project":{"key":"PROJ"}}}}"#
            )
            .as_deref(),
            Some("PROJ")
        );
        assert_eq!(
            payload_scope("linear", br#"{"data":{"team":{"key":"ENG"}}}"#).as_deref(),
            Some("ENG")
        );
        assert_eq!(payload_scope("github", b"{}"), None);
        assert_eq!(
            payload_scope("other", br#"{"repository":{"full_name":"a/b"}}"#),
            None
        );
    }

    #[test]
    fn gitlab_jira_linear_payloads() {
        let gl = br#"{"object_kind":"issue","object_attributes":{"iid":5,"state":"opened","action":"update"},
            "labels":[{"title":"foreman-ready"}]}"#;
        let e = parse_gitlab_webhook(gl).unwrap();
        assert_eq!((e.external_id.as_deref(), e.open), (Some("#5"), Some(true)));
        assert!(e.may_make_ready("foreman-ready"));

        let jira = br#"{"webhookEvent":"jira:issue_updated","issue":{"key":"PROJ-9",
            "fields":{"labels":["foreman-ready"],"status":{"name":"To Do","statusCategory":{"key":"new"}}}}}"#;
        let e = parse_jira_webhook(jira).unwrap();
        assert_eq!(e.external_id.as_deref(), Some("PROJ-9"));
        assert!(e.may_make_ready("foreman-ready"));

        let lin = br#"{"type":"Issue","action":"update","data":{"identifier":"ENG-3",
            "labels":[{"id":"l1","name":"foreman-ready"}],"state":{"name":"Done","type":"completed"}}}"#;
        let e = parse_linear_webhook(lin).unwrap();
        assert_eq!(e.external_id.as_deref(), Some("ENG-3"));
        assert_eq!(e.open, Some(false));
        assert!(
            !e.may_make_ready("foreman-ready"),
            "done issues are not ready"
        );
        assert!(matches!(
            parse_linear_webhook(b"{}"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse_jira_webhook(b"{}"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse_gitlab_webhook(b"{}"),
            Err(WebhookError::Malformed(_))
        ));
    }
}
