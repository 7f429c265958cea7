//! Issue G §6: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `cavra serve` exports its spans over
//! OTLP/HTTP (protobuf) to that collector — here a loopback receiver standing in for one —
//! with the request's service operation and approval id in them.

use std::path::Path;
use std::time::{Duration, Instant};

use cavra_e2e::deployment::{ServeProcess, Setup};
use cavra_test_receiver::Receiver;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_its_spans_to_the_configured_otlp_collector() {
    // GIVEN a collector on loopback and cavra serve pointed at it (short batch delay)
    let collector = Receiver::statuses(&[200]);
    let setup = Setup {
        extra: vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                collector.url("").trim_end_matches('/').to_owned(),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
            ("OTEL_SERVICE_NAME".to_owned(), "cavra-otlp-test".to_owned()),
        ],
        ..Setup::local()
    };
    let serve = ServeProcess::start(Path::new(env!("CARGO_BIN_EXE_cavra")), &setup);

    // WHEN a request is created through the API
    let decision = json!({
        "decision_id": "dec_otlp", "action_type": "write_file", "target": "iam/admin-role.tf",
        "rule_id": "filesystem.write.require_approval", "decision": "require_approval",
        "severity": "high", "reason": "iam change",
    });
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/approvals", serve.base))
        .json(&json!({"decision": decision, "requested_by": "developer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["approval_id"].as_str().unwrap().to_owned();

    // THEN the collector receives OTLP trace exports naming the operation and the request
    let deadline = Instant::now() + Duration::from_secs(20);
    let exported = loop {
        let bodies: Vec<Vec<u8>> = collector
            .seen()
            .into_iter()
            .filter(|s| s.path == "/v1/traces")
            .inspect(|s| {
                assert_eq!(s.header("content-type"), Some("application/x-protobuf"));
            })
            .map(|s| s.body)
            .collect();
        let all = bodies.concat();
        let text = String::from_utf8_lossy(&all);
        if text.contains("approval.create") && text.contains(&id) {
            break text.into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no span export with approval.create and {id} reached the collector: {} requests: {text:?}",
            bodies.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        exported.contains("cavra-otlp-test"),
        "the resource names the service"
    );
    drop(serve);
}
