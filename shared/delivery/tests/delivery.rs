//! Live delivery against real HTTP receivers on loopback (201, 500-then-201, 429 with
//! Retry-After, slower than the timeout, connection refused), providers in parallel,
//! Standard Webhooks signatures checked by an independent implementation (Python's `hmac`),
//! and original §13 cases 19–22 with a fake sender as the original's tests use.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cavra_core::notify::Provider;
use cavra_core::time::{ManualClock, SystemClock, Timestamp};
use cavra_delivery::{
    Deliverer, DeliveryOptions, DeliveryResult, EnvSecrets, ProviderConfig, Secrets,
};
use common::{
    FakeTransport, Receiver, RecordingSleeper, Reply, approval, http_deliverer, refused_url,
};
use serde_json::{Value, json};

fn config(value: Value) -> ProviderConfig {
    ProviderConfig::from_value(&value).unwrap()
}

fn no_secrets() -> Secrets {
    Secrets::from_env(EnvSecrets::from_pairs(Vec::<(String, String)>::new()))
}

fn options(retries: u32, timeout_ms: u64) -> DeliveryOptions {
    DeliveryOptions {
        retries,
        timeout: Duration::from_millis(timeout_ms),
    }
}

async fn deliver_webhook(
    url: &str,
    opts: DeliveryOptions,
    deliverer: &Deliverer,
) -> DeliveryResult {
    let cfg = config(json!({"approval_providers": {"webhook": {"url": url}}}));
    deliverer
        .deliver(&cfg, &approval(), "webhook", opts)
        .await
        .unwrap()
}

fn fast_backoff() -> cavra_delivery::Backoff {
    cavra_delivery::Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(2),
        max_retry_after: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn given_a_receiver_answering_201_when_delivering_then_one_attempt_succeeds() {
    let receiver = Receiver::always(201);
    let result = deliver_webhook(
        &receiver.url("/hook"),
        options(2, 2000),
        &http_deliverer(no_secrets()),
    )
    .await;
    assert!(result.success);
    assert_eq!(result.schema_version, "cavra.approval.delivery.v1");
    let entry = &result.deliveries[0];
    assert_eq!(
        (
            entry.status_code,
            entry.attempt_count,
            entry.error.as_deref()
        ),
        (Some(201), 1, None)
    );
    assert_eq!(entry.attempts.len(), 1);
    assert_eq!(entry.attempts[0].wait_ms, None);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/hook");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["schema_version"], "cavra.approval.notification.v1");
    assert_eq!(body["payload"]["approval_id"], "apr_5c0e1d9b2a77");
}

#[tokio::test]
async fn given_500_then_201_when_delivering_then_the_second_attempt_succeeds_after_the_backoff() {
    let receiver = Receiver::start(|n| Reply::status(if n == 0 { 500 } else { 201 }));
    let deliverer = http_deliverer(no_secrets()).with_backoff(fast_backoff());
    let result = deliver_webhook(&receiver.url("/hook"), options(2, 2000), &deliverer).await;
    assert!(result.success);
    let entry = &result.deliveries[0];
    assert_eq!((entry.status_code, entry.attempt_count), (Some(201), 2));
    assert_eq!(entry.error, None);
    assert_eq!(entry.attempts[0].status_code, Some(500));
    assert_eq!(
        entry.attempts[0].error.as_deref(),
        Some("HTTP Error 500: Internal Server Error")
    );
    assert_eq!(entry.attempts[0].wait_ms, Some(100));
    assert_eq!(entry.started_at, entry.attempts[1].started_at);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(100));
}

#[tokio::test]
async fn given_429_with_retry_after_when_delivering_then_the_server_wait_is_honoured() {
    let receiver = Receiver::start(|n| {
        if n == 0 {
            Reply::status(429).retry_after("1")
        } else {
            Reply::status(201)
        }
    });
    let deliverer = http_deliverer(no_secrets()).with_backoff(fast_backoff());
    let result = deliver_webhook(&receiver.url("/hook"), options(2, 2000), &deliverer).await;
    let entry = &result.deliveries[0];
    assert!(entry.success);
    assert_eq!(entry.attempt_count, 2);
    assert_eq!(entry.attempts[0].status_code, Some(429));
    assert_eq!(
        entry.attempts[0].error.as_deref(),
        Some("HTTP Error 429: Too Many Requests")
    );
    assert_eq!(entry.attempts[0].retry_after_ms, Some(1000));
    assert_eq!(entry.attempts[0].wait_ms, Some(1000));
    let seen = receiver.seen();
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(1000));
}

#[tokio::test]
async fn given_a_retry_after_beyond_the_limit_when_delivering_then_retries_stop_at_once() {
    let receiver = Receiver::start(|_| Reply::status(503).retry_after("3600"));
    let deliverer = http_deliverer(no_secrets()).with_backoff(fast_backoff());
    let started = Instant::now();
    let result = deliver_webhook(&receiver.url("/hook"), options(2, 2000), &deliverer).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let entry = &result.deliveries[0];
    assert!(!result.success);
    assert_eq!((entry.status_code, entry.attempt_count), (Some(503), 1));
    assert_eq!(
        entry.error.as_deref(),
        Some(
            "HTTP Error 503: Service Unavailable (server asked to retry after 3600 s, longer than the 5 s a delivery waits)"
        )
    );
}

#[tokio::test]
async fn given_a_receiver_slower_than_the_timeout_when_delivering_then_each_attempt_times_out() {
    let receiver = Receiver::start(|_| Reply::status(201).after(Duration::from_secs(3)));
    let deliverer = http_deliverer(no_secrets()).with_backoff(fast_backoff());
    let started = Instant::now();
    let result = deliver_webhook(&receiver.url("/hook"), options(1, 300), &deliverer).await;
    let elapsed = started.elapsed();
    let entry = &result.deliveries[0];
    assert!(!result.success);
    assert_eq!((entry.status_code, entry.attempt_count), (Some(0), 2));
    assert_eq!(entry.error.as_deref(), Some("timed out after 300ms"));
    assert_eq!(entry.attempts[0].wait_ms, Some(100));
    // Two 300 ms attempts and one 100 ms wait, not the receiver's 3 s.
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    assert_eq!(receiver.seen().len(), 2);
}

#[tokio::test]
async fn given_connection_refused_when_delivering_then_every_attempt_fails_with_status_0() {
    let url = refused_url("/hook");
    let sleeper = Arc::new(RecordingSleeper::default());
    let deliverer = http_deliverer(no_secrets()).with_sleeper(sleeper.clone());
    let result = deliver_webhook(&url, options(2, 1000), &deliverer).await;
    let entry = &result.deliveries[0];
    assert!(!result.success);
    assert_eq!((entry.status_code, entry.attempt_count), (Some(0), 3));
    let error = entry.error.as_deref().unwrap();
    assert!(error.to_lowercase().contains("connect"), "{error}");
    // Exponential backoff from the 250 ms default: 250 ms, then 500 ms.
    assert_eq!(
        *sleeper.0.lock().unwrap(),
        vec![Duration::from_millis(250), Duration::from_millis(500)]
    );
    let waits: Vec<Option<u64>> = entry.attempts.iter().map(|a| a.wait_ms).collect();
    assert_eq!(waits, vec![Some(250), Some(500), None]);
}

#[tokio::test]
async fn given_a_4xx_other_than_429_when_delivering_then_it_is_not_retried() {
    let receiver = Receiver::always(400);
    let result = deliver_webhook(
        &receiver.url("/hook"),
        options(3, 1000),
        &http_deliverer(no_secrets()),
    )
    .await;
    let entry = &result.deliveries[0];
    assert_eq!((entry.status_code, entry.attempt_count), (Some(400), 1));
    assert_eq!(entry.error.as_deref(), Some("HTTP Error 400: Bad Request"));
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn the_default_jitter_keeps_each_wait_between_half_and_all_of_the_backoff() {
    let url = refused_url("/hook");
    let sleeper = Arc::new(RecordingSleeper::default());
    let deliverer = Deliverer::new(
        Arc::new(cavra_delivery::ReqwestTransport::new().unwrap()),
        no_secrets(),
        Arc::new(SystemClock),
    )
    .with_sleeper(sleeper.clone());
    deliver_webhook(&url, options(5, 500), &deliverer).await;
    let waits = sleeper.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 5);
    for (n, wait) in waits.iter().enumerate() {
        let nominal = Duration::from_millis(250) * 2u32.pow(n as u32);
        assert!(
            *wait >= nominal / 2 && *wait <= nominal,
            "wait {n}: {wait:?} vs {nominal:?}"
        );
    }
}

#[tokio::test]
async fn five_providers_are_sent_concurrently_and_one_misconfigured_provider_fails_alone() {
    let fast = Receiver::always(201);
    let hanging = Receiver::start(|_| Reply::status(201).after(Duration::from_secs(5)));
    let cfg = config(json!({"approval_providers": {
        "jira": {"url": fast.url("/rest/api/3/issue")},
        "servicenow": {"url": fast.base.clone(), "token": "sn-token-value", "authorization_scheme": "Basic", "table": "incident"},
        "slack": {"url": fast.url("/slack")},
        "teams": {"url": hanging.url("/teams")},
        "webhook": {"url": fast.url("/webhook"), "headers": {"X-Cavra-Source": "pilot", "x-num": 7}},
        "email": {"url_env": "UNSET_VARIABLE"},
    }}));
    let deliverer = http_deliverer(no_secrets());
    let started = Instant::now();
    let result = deliverer
        .deliver(&cfg, &approval(), "all", options(0, 400))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    let by: Vec<(&str, bool, u32)> = result
        .deliveries
        .iter()
        .map(|d| (d.provider.as_str(), d.success, d.attempt_count))
        .collect();
    assert_eq!(
        by,
        vec![
            ("jira", false, 0),
            ("servicenow", true, 1),
            ("slack", true, 1),
            ("teams", false, 1),
            ("webhook", true, 1)
        ]
    );
    assert!(!result.success);
    assert_eq!(
        result.deliveries[0].error.as_deref(),
        Some(
            "approval provider jira must configure token_env, authorization_env, or authorization header"
        )
    );
    assert_eq!(
        result.deliveries[0].request.url.as_deref(),
        Some(fast.url("/rest/api/3/issue").as_str())
    );
    // ServiceNow: instance URL completed with the table; Basic scheme; header redacted.
    let now = &result.deliveries[1];
    assert_eq!(
        now.request.url.as_deref(),
        Some(format!("{}/api/now/table/incident", fast.base).as_str())
    );
    assert_eq!(now.request.headers["authorization"], "REDACTED");
    let seen = fast.seen();
    let sn = seen
        .iter()
        .find(|s| s.path == "/api/now/table/incident")
        .unwrap();
    assert_eq!(sn.headers["authorization"], "Basic sn-token-value");
    let hook = seen.iter().find(|s| s.path == "/webhook").unwrap();
    assert_eq!(hook.headers["x-cavra-source"], "pilot");
    assert_eq!(hook.headers["x-num"], "7");
    let webhook = &result.deliveries[4];
    assert_eq!(webhook.request.headers["x-cavra-source"], "pilot");
    assert_eq!(result.failed_providers(), vec!["jira", "teams"]);
}

#[tokio::test]
async fn a_signed_webhook_verifies_with_an_independent_implementation_and_keeps_its_id_on_retry() {
    let receiver = Receiver::start(|n| Reply::status(if n == 0 { 502 } else { 204 }));
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let cfg = config(json!({"approval_providers": {"webhook": {
        "url": receiver.url("/hook"), "signing_secret_env": "CAVRA_WEBHOOK_SECRET"
    }}}));
    let deliverer = http_deliverer(Secrets::from_env(EnvSecrets::from_pairs([(
        "CAVRA_WEBHOOK_SECRET",
        secret,
    )])))
    .with_backoff(fast_backoff());
    let result = deliverer
        .deliver(&cfg, &approval(), "webhook", options(2, 2000))
        .await
        .unwrap();
    assert!(result.success, "{result:#?}");
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        let id = &request.headers["webhook-id"];
        let timestamp = &request.headers["webhook-timestamp"];
        let signature = &request.headers["webhook-signature"];
        assert!(id.starts_with("msg_"));
        assert!(signature.starts_with("v1,"));
        assert_eq!(
            python_verify(secret, id, timestamp, signature, &request.body),
            "valid"
        );
        // A tampered body fails the same check.
        let mut tampered = request.body.clone();
        tampered.push(b' ');
        assert_eq!(
            python_verify(secret, id, timestamp, signature, &tampered),
            "invalid"
        );
    }
    assert_eq!(seen[0].headers["webhook-id"], seen[1].headers["webhook-id"]);
    let evidence = &result.deliveries[0].request.headers;
    assert!(evidence.contains_key("webhook-id"));
    assert!(
        !serde_json::to_string(&result)
            .unwrap()
            .contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    );
}

/// Verifies a Standard Webhooks signature with Python's standard library.
fn python_verify(secret: &str, id: &str, timestamp: &str, signature: &str, body: &[u8]) -> String {
    use std::io::Write as _;
    let script = r#"
import base64, hashlib, hmac, sys
secret, msg_id, timestamp, header = sys.argv[1:5]
body = sys.stdin.buffer.read()
key = base64.b64decode(secret.split("_", 1)[1])
signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
print("valid" if any(hmac.compare_digest(expected, s) for s in header.split(" ")) else "invalid")
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret, id, timestamp, signature])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn a_malformed_signing_secret_fails_only_its_provider_without_echoing_it() {
    let receiver = Receiver::always(201);
    let cfg = config(json!({"approval_providers": {
        "webhook": {"url": receiver.url("/hook"), "signing_secret": "not-a-whsec-value"},
        "slack": {"url": receiver.url("/slack")},
    }}));
    let result = http_deliverer(no_secrets())
        .deliver(&cfg, &approval(), "all", options(0, 1000))
        .await
        .unwrap();
    assert!(result.deliveries[0].success);
    let webhook = &result.deliveries[1];
    assert_eq!(
        webhook.error.as_deref(),
        Some("approval provider webhook signing secret must be whsec_ followed by a base64 key")
    );
    assert!(
        !serde_json::to_string(&result)
            .unwrap()
            .contains("not-a-whsec-value")
    );
}

// ---- original §13 cases 19–22 -----------------------------------------------------------

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        "2026-05-18T13:00:00+00:00".parse::<Timestamp>().unwrap(),
    ))
}

#[tokio::test]
async fn case_19_jira_with_a_token_from_env_is_sent_with_bearer_and_evidence_is_redacted() {
    let fake = FakeTransport::answering(201, None);
    let deliverer = Deliverer::new(
        fake.clone(),
        Secrets::from_env(EnvSecrets::from_pairs([("JIRA_TOKEN", "secret-token")])),
        manual_clock(),
    );
    let cfg = config(json!({"approval_providers": {"jira": {
        "enabled": true, "url": "https://jira.example/rest/api/3/issue", "token_env": "JIRA_TOKEN"
    }}}));
    let result = deliverer
        .deliver(&cfg, &approval(), "jira", DeliveryOptions::new(2, 2.5))
        .await
        .unwrap();
    assert!(result.success);
    let entry = &result.deliveries[0];
    assert_eq!(entry.status_code, Some(201));
    assert_eq!(entry.request.headers["authorization"], "REDACTED");
    assert_eq!(
        entry.request.url.as_deref(),
        Some("https://jira.example/rest/api/3/issue")
    );
    let calls = fake.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    let (request, timeout) = &calls[0];
    assert!(
        request
            .headers
            .contains(&("authorization".to_owned(), "Bearer secret-token".to_owned()))
    );
    assert_eq!(*timeout, Duration::from_millis(2500));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["fields"]["project"]["key"], "CAVRA");
    assert_eq!(body["fields"]["issuetype"]["name"], "Task");
    assert_eq!(body["fields"]["description"]["type"], "doc");
}

#[tokio::test]
async fn case_20_a_sender_always_answering_503_is_tried_retries_plus_one_times() {
    let fake = FakeTransport::answering(503, Some("service unavailable"));
    let sleeper = Arc::new(RecordingSleeper::default());
    let deliverer =
        Deliverer::new(fake.clone(), no_secrets(), manual_clock()).with_sleeper(sleeper.clone());
    let cfg = config(
        json!({"approval_providers": {"webhook": {"url": "https://approval-webhook.example/cavra"}}}),
    );
    let result = deliverer
        .deliver(&cfg, &approval(), "webhook", DeliveryOptions::new(1, 10.0))
        .await
        .unwrap();
    assert!(!result.success);
    let entry = &result.deliveries[0];
    assert_eq!(entry.attempt_count, 2);
    assert_eq!(entry.error.as_deref(), Some("service unavailable"));
    assert_eq!(entry.status_code, Some(503));
    assert_eq!(fake.calls.lock().unwrap().len(), 2);
    assert_eq!(sleeper.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn case_21_jira_without_credentials_fails_with_must_configure_token_env() {
    let fake = FakeTransport::answering(201, None);
    let deliverer = Deliverer::new(fake.clone(), no_secrets(), manual_clock());
    let cfg = config(
        json!({"approval_providers": {"jira": {"url": "https://jira.example/rest/api/3/issue"}}}),
    );
    let result = deliverer
        .deliver(&cfg, &approval(), "jira", DeliveryOptions::default())
        .await
        .unwrap();
    assert!(!result.success);
    let entry = &result.deliveries[0];
    assert!(
        entry
            .error
            .as_deref()
            .unwrap()
            .contains("must configure token_env")
    );
    assert_eq!((entry.attempt_count, entry.status_code), (0, None));
    assert!(fake.calls.lock().unwrap().is_empty());
}

#[test]
fn case_22_a_providers_json_file_loads_and_its_webhook_url_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("providers.json");
    std::fs::write(
        &path,
        r#"{"approval_providers": {"webhook": {"url": "https://approval-webhook.example/cavra"}}}"#,
    )
    .unwrap();
    let cfg = ProviderConfig::load(&path).unwrap();
    assert_eq!(
        cfg.enabled(Provider::Webhook).unwrap().settings["url"],
        "https://approval-webhook.example/cavra"
    );
    let yaml = dir.path().join("providers.yaml");
    std::fs::write(
        &yaml,
        "approval_providers:\n  slack: {enabled: true, url_env: CAVRA_SLACK_WEBHOOK_URL}\n  servicenow: {url: https://instance.service-now.com/api/now/table/change_request,\n               token_env: SERVICENOW_TOKEN, authorization_scheme: Basic}\n",
    )
    .unwrap();
    assert_eq!(
        ProviderConfig::load(&yaml).unwrap().enabled_providers(),
        vec![Provider::Servicenow, Provider::Slack]
    );
}

#[tokio::test]
async fn an_unset_env_variable_names_itself_in_the_originals_words() {
    let deliverer = Deliverer::new(
        FakeTransport::answering(201, None),
        no_secrets(),
        manual_clock(),
    );
    let cfg = config(json!({"slack": {"url_env": "CAVRA_SLACK_WEBHOOK_URL"}}));
    let result = deliverer
        .deliver(&cfg, &approval(), "all", DeliveryOptions::default())
        .await
        .unwrap();
    assert_eq!(
        result.deliveries[0].error.as_deref(),
        Some("environment variable CAVRA_SLACK_WEBHOOK_URL is required for approval provider url")
    );
}

#[tokio::test]
async fn a_secret_name_without_a_store_fails_its_provider_clearly() {
    let deliverer = Deliverer::new(
        FakeTransport::answering(201, None),
        no_secrets(),
        manual_clock(),
    );
    let cfg = config(json!({"slack": {"url_secret": "cavra/slack#url"}}));
    let result = deliverer
        .deliver(&cfg, &approval(), "all", DeliveryOptions::default())
        .await
        .unwrap();
    assert_eq!(
        result.deliveries[0].error.as_deref(),
        Some("approval provider slack sets url_secret but no secret store is configured")
    );
}

#[tokio::test]
async fn naming_an_unconfigured_provider_is_an_error_before_anything_is_sent() {
    let fake = FakeTransport::answering(201, None);
    let deliverer = Deliverer::new(fake.clone(), no_secrets(), manual_clock());
    let cfg = config(json!({"webhook": {"url": "https://x.example"}}));
    let error = deliverer
        .deliver(&cfg, &approval(), "slack", DeliveryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "approval provider is not configured: slack"
    );
    let empty = deliverer
        .deliver(
            &config(json!({})),
            &approval(),
            "all",
            DeliveryOptions::default(),
        )
        .await
        .unwrap();
    assert!(empty.success && empty.deliveries.is_empty());
}

/// Issue G §6: a webhook with `format: cloudevents` receives a CloudEvents 1.0 event in
/// structured mode, typed by the change it announces, under the same Standard Webhooks
/// signature; an unknown format fails only that provider, clearly.
#[tokio::test]
async fn a_cloudevents_webhook_gets_a_structured_event_under_the_same_signature() {
    use cavra_core::notify::{Notifier as _, NotifyEvent};
    use cavra_delivery::Notifications;

    let receiver = Receiver::always(200);
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let cfg = config(
        json!({"notify_on": ["requested", "escalated"], "approval_providers": {
            "webhook": {"url": receiver.url("/events"), "format": "cloudevents",
                        "signing_secret_env": "CAVRA_WEBHOOK_SECRET"},
        }}),
    );
    let deliverer = http_deliverer(Secrets::from_env(EnvSecrets::from_pairs([(
        "CAVRA_WEBHOOK_SECRET",
        secret,
    )])));
    let notifications = Notifications::new(cfg, deliverer.clone());
    let record = approval();
    for event in [NotifyEvent::Requested, NotifyEvent::Escalated] {
        let evidence = notifications.notify(&record, event).await.unwrap();
        assert_eq!(evidence["success"], true, "{evidence}");
    }
    assert!(
        notifications
            .notify(&record, NotifyEvent::Denied)
            .await
            .is_none()
    );

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    let mut ids = Vec::new();
    for (request, event) in seen.iter().zip(["requested", "escalated"]) {
        assert_eq!(
            request.header("content-type"),
            Some("application/cloudevents+json")
        );
        let body = request.json();
        assert_eq!(body["specversion"], "1.0");
        assert_eq!(body["type"], format!("dev.cavra.approval.{event}"));
        assert_eq!(body["source"], "/cavra/approvals");
        assert_eq!(body["subject"], record.approval_id.as_str());
        assert_eq!(body["datacontenttype"], "application/json");
        assert_eq!(body["data"]["approval_id"], record.approval_id.as_str());
        assert!(body["time"].as_str().is_some_and(|t| t.contains('T')));
        ids.push(body["id"].as_str().unwrap().to_owned());
        assert_eq!(
            python_verify(
                secret,
                &request.headers["webhook-id"],
                &request.headers["webhook-timestamp"],
                &request.headers["webhook-signature"],
                &request.body
            ),
            "valid"
        );
    }
    assert_ne!(ids[0], ids[1], "each change is its own event");

    let bad = config(json!({"approval_providers": {
        "webhook": {"url": receiver.url("/events"), "format": "xml"},
    }}));
    let result = deliverer
        .deliver(&bad, &record, "webhook", options(0, 1000))
        .await
        .unwrap();
    assert!(!result.success);
    assert_eq!(
        result.deliveries[0].error.as_deref(),
        Some("approval provider webhook format must be notification or cloudevents")
    );
    assert_eq!(
        receiver.seen().len(),
        2,
        "nothing sent for an unknown format"
    );
}
