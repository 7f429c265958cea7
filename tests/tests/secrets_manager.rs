//! cavra-secrets against Secrets Manager on the emulator: `secret-id` and `secret-id#field`
//! names, a missing secret, one GetSecretValue per secret per process, and no secret value in
//! the SDK's and our own logs (captured at TRACE).

use std::io::Write;
use std::sync::{Arc, Mutex};

use cavra_e2e::emulator::{self, RequestCounter};
use cavra_secrets::{SecretResolver, SecretsManagerResolver};

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

async fn create(client: &aws_sdk_secretsmanager::Client, prefix: &str, value: &str) -> String {
    let id = emulator::unique_name(prefix);
    client
        .create_secret()
        .name(&id)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn names_resolve_in_secrets_manager_once_per_secret_and_never_reach_the_logs() {
    // GIVEN a JSON secret and a plain one on the emulator, and a resolver whose client counts
    let admin = emulator::secretsmanager_client();
    let bundle = create(
        &admin,
        "cavra-e2e-providers",
        r#"{"jira_token": "sm-field-secret-1", "port": 443, "blank": ""}"#,
    )
    .await;
    let plain = create(&admin, "cavra-e2e-plain", "sm-plain-secret-2").await;
    let counter = RequestCounter::default();
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .endpoint_url(emulator::ENDPOINT)
            .region(aws_sdk_secretsmanager::config::Region::new(
                emulator::REGION,
            ))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .interceptor(counter.clone())
            .build(),
    );
    let resolver = SecretsManagerResolver::new(client);
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // WHEN names are resolved
    let field = resolver
        .resolve(&format!("{bundle}#jira_token"))
        .await
        .unwrap();
    let port = resolver.resolve(&format!("{bundle}#port")).await.unwrap();
    let blank = resolver.resolve(&format!("{bundle}#blank")).await.unwrap();
    let absent_field = resolver.resolve(&format!("{bundle}#nope")).await.unwrap();
    let whole = resolver.resolve(&plain).await.unwrap();
    let missing = resolver
        .resolve("cavra-e2e-no-such-secret#x")
        .await
        .unwrap();
    let not_json = resolver
        .resolve(&format!("{plain}#field"))
        .await
        .unwrap_err();

    // THEN fields, whole values and "not set" come back as documented
    assert_eq!(field.as_deref(), Some("sm-field-secret-1"));
    assert_eq!(port.as_deref(), Some("443"));
    assert_eq!((blank, absent_field, missing), (None, None, None));
    assert_eq!(whole.as_deref(), Some("sm-plain-secret-2"));
    assert_eq!(not_json.0, format!("secret {plain} is not a JSON object"));
    // AND each secret was fetched once (the missing one too), whatever the number of fields
    assert_eq!(
        counter.counts(),
        [("GetSecretValue".to_owned(), 3)].into(),
        "one request per secret"
    );
    // AND no value reached the logs, though the SDK logged the requests
    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        log_text.contains("GetSecretValue"),
        "TRACE logs were captured"
    );
    for value in ["sm-field-secret-1", "sm-plain-secret-2"] {
        assert!(!log_text.contains(value), "{value} leaked into the logs");
        assert!(!not_json.0.contains(value));
    }
}
