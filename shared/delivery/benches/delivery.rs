//! Delivery figures, printed, never asserted.
//!
//! `cargo bench -p cavra-delivery --bench delivery`
//!
//! 1. Deliveries per second to a loopback receiver (answering 201 at once) with all five
//!    providers enabled: `deliver("all")` calls one after another, then 32 in flight.
//!    Each call builds five payloads, resolves settings and sends five requests concurrently.
//! 2. The wall time of one `deliver("all")` call when one provider (Teams) never answers,
//!    with `BENCH_TIMEOUT_SECONDS` (default 2) and `BENCH_RETRIES` (default 1): the other four
//!    finish in milliseconds; the call ends when the hanging one's attempts time out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cavra_core::approval::Approval;
use cavra_core::decision::Decision;
use cavra_core::ids::ApprovalId;
use cavra_core::routing::RoutingTable;
use cavra_core::time::{SystemClock, Timestamp};
use cavra_core::workflow::{NewRequest, create_request};
use cavra_delivery::{
    Deliverer, DeliveryOptions, EnvSecrets, ProviderConfig, ReqwestTransport, Secrets,
};
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn approval() -> Approval {
    let decision = Decision::from_value(json!({
        "decision_id": "dec_bench", "session_id": "local", "action_type": "write_file",
        "target": "iam/admin-role.tf", "rule_id": "filesystem.write.require_approval",
        "decision": "require_approval", "severity": "high",
        "reason": "Matched approval-required path policy: iam/**", "approver_group": "Platform Security"
    }))
    .expect("an object");
    let now: Timestamp = "2026-05-18T12:00:00+00:00".parse().expect("timestamp");
    create_request(
        NewRequest::new(decision),
        &RoutingTable::default(),
        &ApprovalId::from_hex12("0000000be4c4").expect("id"),
        now,
    )
    .expect("request")
}

async fn receiver(hang: bool) -> String {
    let app = axum::Router::new().fallback(move || async move {
        if hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        (axum::http::StatusCode::CREATED, "{}")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    base
}

fn config(base: &str, teams: &str) -> ProviderConfig {
    ProviderConfig::from_value(&json!({"approval_providers": {
        "jira": {"url": format!("{base}/rest/api/3/issue"), "token_env": "BENCH_JIRA_TOKEN", "project_key": "OPS"},
        "servicenow": {"url": base, "token_env": "BENCH_SN_TOKEN", "authorization_scheme": "Basic"},
        "slack": {"url": format!("{base}/services/T0/B0/x")},
        "teams": {"url": format!("{teams}/workflows/x")},
        "webhook": {"url": format!("{base}/hook"), "signing_secret": "whsec_c2lnbmluZy1rZXktYnl0ZXMtMDEyMw=="},
    }}))
    .expect("config")
}

fn deliverer() -> Deliverer {
    Deliverer::new(
        Arc::new(ReqwestTransport::new().expect("client")),
        Secrets::from_env(EnvSecrets::from_pairs([
            ("BENCH_JIRA_TOKEN", "bench-jira-token"),
            ("BENCH_SN_TOKEN", "bench-sn-token"),
        ])),
        Arc::new(SystemClock),
    )
}

async fn throughput(calls: usize) {
    let base = receiver(false).await;
    let cfg = Arc::new(config(&base, &base));
    let deliverer = Arc::new(deliverer());
    let record = Arc::new(approval());
    let options = DeliveryOptions::default();
    for _ in 0..50 {
        let r = deliverer
            .deliver(&cfg, &record, "all", options)
            .await
            .expect("configured");
        assert!(r.success, "warm-up delivery failed: {r:?}");
    }
    let started = Instant::now();
    for _ in 0..calls {
        let r = deliverer
            .deliver(&cfg, &record, "all", options)
            .await
            .expect("configured");
        assert!(r.success);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sequential: {calls} deliver(all) calls in {elapsed:.2} s = {:.0} calls/s = {:.0} provider deliveries/s ({:.2} ms per call)",
        calls as f64 / elapsed,
        5.0 * calls as f64 / elapsed,
        1000.0 * elapsed / calls as f64
    );
    let in_flight = 32;
    let per_task = calls / in_flight;
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let (d, c, r) = (deliverer.clone(), cfg.clone(), record.clone());
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let result = d.deliver(&c, &r, "all", options).await.expect("configured");
                    assert!(result.success);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = per_task * in_flight;
    println!(
        "{in_flight} in flight: {total} deliver(all) calls in {elapsed:.2} s = {:.0} calls/s = {:.0} provider deliveries/s",
        total as f64 / elapsed,
        5.0 * total as f64 / elapsed
    );
}

async fn one_hanging(timeout_seconds: f64, retries: i64) {
    let base = receiver(false).await;
    let hanging = receiver(true).await;
    let cfg = config(&base, &hanging);
    let deliverer = deliverer();
    let options = DeliveryOptions::new(retries, timeout_seconds);
    let started = Instant::now();
    let result = deliverer
        .deliver(&cfg, &approval(), "all", options)
        .await
        .expect("configured");
    let wall = started.elapsed();
    println!(
        "one provider hanging (timeout {timeout_seconds} s, retries {retries}): deliver(all) took {:.3} s",
        wall.as_secs_f64()
    );
    for entry in &result.deliveries {
        let spent: u64 = entry
            .attempts
            .iter()
            .map(|a| a.duration_ms + a.wait_ms.unwrap_or(0))
            .sum();
        println!(
            "  {:<10} success={:<5} attempts={} status={:?} time={} ms{}",
            entry.provider,
            entry.success,
            entry.attempt_count,
            entry.status_code,
            spent,
            entry
                .error
                .as_deref()
                .map(|e| format!(" error={e}"))
                .unwrap_or_default()
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        throughput(env_or("BENCH_DELIVERIES", 2000)).await;
        one_hanging(
            env_or("BENCH_TIMEOUT_SECONDS", 2.0),
            env_or("BENCH_RETRIES", 1),
        )
        .await;
    });
}
