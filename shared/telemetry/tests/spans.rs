//! Issue G §6: the service's operations become OpenTelemetry spans carrying the approval id
//! and the transition, checked with the SDK's in-process exporter.

use std::sync::Arc;

use cavra_core::approval::ApprovalState;
use cavra_core::decision::Decision;
use cavra_core::ids::SequentialIds;
use cavra_core::memory::MemoryStore;
use cavra_core::service::ApprovalService;
use cavra_core::time::{ManualClock, Timestamp};
use cavra_core::workflow::{DecideInput, NewRequest};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

#[tokio::test]
async fn create_and_decide_are_exported_as_spans_with_the_approval_id_and_transition() {
    // GIVEN a tracer provider exporting to memory, and a service on a memory store
    let exporter = InMemorySpanExporter::default();
    let provider = cavra_telemetry::provider_with(exporter.clone(), "cavra-test", false);
    let subscriber =
        tracing_subscriber::registry().with(cavra_telemetry::otel_layer(&provider, "cavra-test"));
    let _guard = tracing::subscriber::set_default(subscriber);
    let clock = Arc::new(ManualClock::new(
        "2026-05-18T12:00:00+00:00".parse::<Timestamp>().unwrap(),
    ));
    let service = ApprovalService::new(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(SequentialIds::default()),
    );
    let decision = Decision::from_value(json!({
        "decision_id": "dec_otel", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
        "severity": "high", "reason": "iam change",
    }))
    .unwrap();

    // WHEN a request is created and approved
    let created = service.create(NewRequest::new(decision)).await.unwrap();
    let id = created.approval.approval_id.clone();
    let input = DecideInput {
        target: ApprovalState::Approved,
        actor: "platform-security".to_owned(),
        reason: "reviewed".to_owned(),
        external_ref: None,
        context: None,
    };
    service.decide(&id, &input).await.unwrap();
    provider.force_flush().unwrap();

    // THEN both operations are spans, the decision naming the request and the transition
    let spans = exporter.get_finished_spans().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert!(names.contains(&"approval.create"), "{names:?}");
    let decide = spans
        .iter()
        .find(|s| s.name == "approval.decide")
        .unwrap_or_else(|| panic!("no approval.decide span in {names:?}"));
    assert_eq!(
        attribute(decide, "approval_id").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(attribute(decide, "transition").as_deref(), Some("approved"));
}

#[test]
fn without_an_endpoint_nothing_is_exported() {
    // GIVEN no OTLP endpoint in this test's environment (the test command sets none)
    if cavra_telemetry::otlp_configured() {
        return;
    }
    // WHEN telemetry is initialised THEN logging is installed and no exporter exists
    let telemetry = cavra_telemetry::init(cavra_telemetry::Settings {
        service: "cavra-test",
        format: cavra_telemetry::LogFormat::Text,
        default_level: "warn",
    })
    .unwrap();
    assert!(!telemetry.exports());
    telemetry.flush();
}
