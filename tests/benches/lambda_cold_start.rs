//! The function binaries as they ship: each one's stripped size in the `lambda` profile, and
//! the time from process start to first response of a function under the Lambda runtime
//! emulator (`cargo lambda watch --only-lambda-apis`) with its table on the AWS emulator.
//! Prints figures, asserts nothing.
//!
//! `cargo bench -p cavra-e2e --bench lambda_cold_start` (`BENCH_ROUNDS`, default 10, cold
//! starts per function). It builds the functions with `--profile lambda` for the host's
//! target first (full LTO: several minutes cold). The explicit `--target` puts them under
//! `target/<host>/lambda/`, so they never collide with `cargo lambda build`'s
//! `target/lambda/<function>/bootstrap` directories, which the SAM template deploys.
//!
//! A cold start here is: spawn the binary (which reads its configuration files, builds the
//! SDK client, the OIDC verifier and the RBAC policy, then polls the runtime API), and the
//! first function-URL request, sent right after the spawn, answered, including its DynamoDB
//! calls and the RS256 token check. Every round starts a fresh runtime emulator, so no warm
//! instance or queued poll of an earlier round can answer it.

use std::process::Child;
use std::time::{Duration, Instant};

use cavra_e2e::deployment::Setup;
use cavra_e2e::emulator;
use cavra_e2e::http_suite::{self, developer};
use cavra_e2e::lambda::{LambdaFunctions, function_names, spawn_function};
use cavra_e2e::workspace::build_binaries;
use serde_json::{Value, json};

fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// The host's target triple, as `rustc -vV` reports it.
fn host_target() -> String {
    let output = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn summary(times: &mut [Duration]) -> String {
    times.sort_unstable();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    format!(
        "min {:>8.1?}  p50 {:>8.1?}  max {:>8.1?}  ({} requests)",
        pick(0.0),
        pick(0.5),
        pick(1.0),
        times.len()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let host = host_target();
    let mut args = vec!["--locked", "--profile", "lambda", "--target", &host];
    let names = function_names();
    for name in &names {
        args.extend(["-p", name]);
    }
    let binaries = build_binaries(&args);

    println!(
        "function binaries (profile lambda: opt-level z, aws-lc at s, fat LTO, panic abort, stripped):"
    );
    let mut total = 0;
    for name in &names {
        let size = std::fs::metadata(&binaries[*name])
            .expect("built binary")
            .len();
        total += size;
        println!("  {name:<18} {:>6.2} MiB", size as f64 / 1_048_576.0);
    }
    println!(
        "  {:<18} {:>6.2} MiB",
        "all ten",
        total as f64 / 1_048_576.0
    );

    let dynamodb = emulator::dynamodb_client();
    let table = emulator::fresh_table(&dynamodb, "coldstart").await;
    let store_env = emulator::table_env(&table);
    let setup = Setup::suite();
    let http = reqwest::Client::new();
    let token = developer();

    // create-approval first: its first answer gives the id get-approval then reads.
    let mut created: Option<String> = None;
    println!("process start to first response under cargo lambda watch (OIDC on, DynamoDB):");
    for function in ["create-approval", "get-approval"] {
        let mut times = Vec::new();
        let mut warm_times = Vec::new();
        for round in 0..rounds() {
            let functions = LambdaFunctions::emulator(&setup);
            let started = Instant::now();
            let _instance = Killed(spawn_function(
                &binaries[function],
                function,
                functions.port,
                &functions.config,
                &store_env,
            ));
            let base = format!("{}/lambda-url/{function}", functions.base);
            // One request, answered with success; its body.
            let answer = |attempt: &str| {
                let request = match &created {
                    Some(id) if function == "get-approval" => {
                        http.get(format!("{base}/approvals/{id}"))
                    }
                    _ => http.post(format!("{base}/approvals")).json(&json!({
                        "decision": http_suite::decision(&format!("cold-{round}-{attempt}-{}", emulator::unique_name("d"))),
                        "approver_group": "Platform Security",
                    })),
                };
                let token = &token;
                async move {
                    let response = request
                        .bearer_auth(token)
                        .send()
                        .await
                        .expect("the function answers");
                    let status = response.status();
                    let body: Value = response.json().await.expect("a JSON body");
                    assert!(status.is_success(), "{function}: {status} {body}");
                    body
                }
            };
            answer("first").await;
            times.push(started.elapsed());
            // The same request again on the now warm instance: what the function's own
            // calls (the emulator's DynamoDB, the token check) cost without the start.
            let warm = Instant::now();
            let body = answer("warm").await;
            warm_times.push(warm.elapsed());
            if created.is_none() {
                created = body["approval_id"].as_str().map(str::to_owned);
            }
        }
        println!("  {function:<18} {}", summary(&mut times));
        println!("  {:<18} {}", "  then warm", summary(&mut warm_times));
    }
    emulator::delete_table(&dynamodb, &table).await;
}
