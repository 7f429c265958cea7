//! Secret-leak suite: deliveries whose URLs, tokens, authorization headers and signing secret
//! come from a secret source, to receivers that succeed, fail, hang and refuse. The receivers
//! get the secrets; the result, the approval's history and every log line (captured at TRACE,
//! including the HTTP client's own) never contain them.
//!
//! The suite runs once per [`Source`]. `Env` resolves `*_env` keys from an environment;
//! `Store` resolves `*_secret` keys from an in-memory secret store. A Secrets Manager source
//! (the emulator) is one more variant: add it to [`Source`] and to [`Source::secrets`].

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::service::ApprovalService;
use cavra_core::time::SystemClock;
use cavra_delivery::{
    Deliverer, DeliveryOptions, EnvSecrets, Notifications, ProviderConfig, ReqwestTransport,
    Secrets,
};
use common::{MapStore, Receiver, Reply, iam_decision, refused_url};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy)]
enum Source {
    Env,
    Store,
}

impl Source {
    /// The config key suffix that names a secret in this source.
    fn suffix(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::Store => "secret",
        }
    }

    /// The name a secret is kept under in this source.
    fn name(self, base: &str) -> String {
        match self {
            Self::Env => base.to_owned(),
            Self::Store => format!("cavra/{}", base.to_lowercase()),
        }
    }

    fn secrets(self, values: &[(String, String)]) -> Secrets {
        match self {
            Self::Env => Secrets::from_env(EnvSecrets::from_pairs(values.to_vec())),
            Self::Store => {
                Secrets::from_env(EnvSecrets::from_pairs(Vec::<(String, String)>::new()))
                    .with_store(Arc::new(MapStore(values.iter().cloned().collect())))
            }
        }
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Planted {
    /// Every secret value, and the distinctive fragments of the secret URLs.
    needles: Vec<String>,
}

async fn run(source: Source) {
    let ok = Receiver::always(201);
    let failing = Receiver::start(|_| Reply::status(500));
    let hanging = Receiver::start(|_| Reply::status(201).after(Duration::from_secs(5)));
    let refused = refused_url("/hook/webhookpathsecret000?token=webhookquerysecret111");
    let signing_key =
        base64::engine::general_purpose::STANDARD.encode(b"signing-key-bytes-0123456789");
    let signing = format!("whsec_{signing_key}");
    let values: Vec<(String, String)> = vec![
        (
            "SLACK_URL",
            ok.url("/services/T0SECRET1/B0SECRET2/slackpathsecret123"),
        ),
        (
            "TEAMS_URL",
            failing.url("/workflows/teamspathsecret456/triggers?sig=teamsquerysecret789"),
        ),
        ("JIRA_TOKEN", "jira-token-secret-abc".to_owned()),
        (
            "SERVICENOW_AUTH",
            "Basic c25vd3VzZXI6c25vd3Bhc3M=".to_owned(),
        ),
        ("WEBHOOK_URL", refused.clone()),
        ("WEBHOOK_SIGNING", signing.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (source.name(k), v))
    .collect();
    let planted = Planted {
        needles: vec![
            "slackpathsecret123".into(),
            "teamspathsecret456".into(),
            "teamsquerysecret789".into(),
            "jira-token-secret-abc".into(),
            "c25vd3VzZXI6c25vd3Bhc3M=".into(),
            "webhookpathsecret000".into(),
            "webhookquerysecret111".into(),
            signing.clone(),
            signing_key.clone(),
        ],
    };
    let key = |k: &str| format!("{k}_{}", source.suffix());
    let config = ProviderConfig::from_value(&json!({"approval_providers": {
        "slack": {key("url"): source.name("SLACK_URL")},
        "teams": {key("url"): source.name("TEAMS_URL")},
        "jira": {"url": ok.url("/rest/api/3/issue"), key("token"): source.name("JIRA_TOKEN")},
        "servicenow": {"url": hanging.base.clone(), key("authorization"): source.name("SERVICENOW_AUTH")},
        "webhook": {key("url"): source.name("WEBHOOK_URL"), key("signing_secret"): source.name("WEBHOOK_SIGNING")},
    }}))
    .unwrap();

    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let service = ApprovalService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(SequentialIds::default()),
    );
    let created = service
        .create(cavra_core::workflow::NewRequest {
            rationale: None,
            requested_by: Some("developer".into()),
            ..cavra_core::workflow::NewRequest::new(iam_decision("dec_leak"))
        })
        .await
        .unwrap();
    let deliverer = Deliverer::new(
        Arc::new(ReqwestTransport::new().unwrap()),
        source.secrets(&values),
        Arc::new(SystemClock),
    )
    .with_backoff(cavra_delivery::Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(1),
    });
    let notifications = Notifications::new(config, deliverer);
    let (result, record) = notifications
        .deliver_and_record(
            &service,
            &created.approval.approval_id,
            "all",
            DeliveryOptions {
                retries: 1,
                timeout: Duration::from_millis(300),
            },
            "system",
        )
        .await
        .unwrap();

    // The secrets were really used…
    let outcome: Vec<(&str, bool)> = result
        .deliveries
        .iter()
        .map(|d| (d.provider.as_str(), d.success))
        .collect();
    assert_eq!(
        outcome,
        vec![
            ("jira", true),
            ("servicenow", false),
            ("slack", true),
            ("teams", false),
            ("webhook", false)
        ],
        "{source:?}"
    );
    let seen = ok.seen();
    assert!(seen.iter().any(|s| s.path.contains("slackpathsecret123")));
    assert!(
        seen.iter()
            .any(|s| s.headers.get("authorization").map(String::as_str)
                == Some("Bearer jira-token-secret-abc"))
    );
    assert!(failing.seen()[0].path.contains("teamsquerysecret789"));
    assert_eq!(
        hanging.seen()[0].headers["authorization"],
        "Basic c25vd3VzZXI6c25vd3Bhc3M="
    );

    // …and appear nowhere we keep or print.
    let result_text = serde_json::to_string(&result).unwrap();
    let history_text = serde_json::to_string(&record.to_sorted_value()).unwrap();
    let stored = service.get(&record.approval_id).await.unwrap();
    let stored_text = serde_json::to_string(&stored.to_sorted_value()).unwrap();
    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        log_text.contains("approval delivery attempt"),
        "logs were captured"
    );
    for needle in &planted.needles {
        for (what, text) in [
            ("result", &result_text),
            ("history", &history_text),
            ("stored record", &stored_text),
            ("logs", &log_text),
        ] {
            assert!(
                !text.contains(needle.as_str()),
                "{source:?}: secret {needle} leaked into the {what}"
            );
        }
    }
    let delivered = record.history.last().unwrap();
    assert_eq!(delivered.event, "delivered");
    let evidence: &Value = delivered.evidence.as_ref().unwrap();
    assert_eq!(evidence["schema_version"], "cavra.approval.delivery.v1");
    assert_eq!(
        evidence["deliveries"][2]["request"]["url"],
        format!("{}/REDACTED", ok.base)
    );
    assert!(cavra_core::history::verify(&record.history).valid);
}

#[tokio::test]
async fn secrets_from_the_environment_never_leak() {
    run(Source::Env).await;
}

#[tokio::test]
async fn secrets_from_a_secret_store_never_leak() {
    run(Source::Store).await;
}
